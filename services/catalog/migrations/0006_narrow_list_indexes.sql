-- Filtered lists find their page in the narrow table.
--
-- A list filtered by category or price walked a sort's covering index on `products`, whose
-- entries hold the whole document, or read the wide rows a price range matched, to keep only
-- the few that pass the filter: measured, about 430 buffers for a page of 20 from a price
-- range in one category. These indexes hold the sort keys and the filtered columns only
-- (a few dozen bytes an entry), so a filtered list walks them index-only, sorts what matches,
-- and reads the documents of the one page it answers (about 80 buffers for the same page).
-- Unfiltered lists keep the covering indexes of 0005: their first entries are the page.

CREATE INDEX product_search_newest ON product_search (created_at DESC, id DESC)
    INCLUDE (category_id, price_minor, featured_rank) WHERE active;
-- Holds the other sorts' keys too: a price range is found here and then sorted by any of them.
CREATE INDEX product_search_price ON product_search (price_minor, id)
    INCLUDE (category_id, featured_rank, created_at, name) WHERE active;
CREATE INDEX product_search_name ON product_search (name, id)
    INCLUDE (category_id, price_minor, featured_rank) WHERE active;
