-- The read engine, second pass.
--
-- - `product_search`: the columns a search filters, ranks and sorts on, one narrow row per
--   product (about a fifth of a `products` row), kept by a trigger. A search ranks every match,
--   so it visits every matching row: on the narrow table that is a few pages instead of one
--   page per match, and the wide documents are read only for the page it answers.
-- - Lists without a search are index-only scans: each sort's index holds the document and the
--   filtered columns, so a page is one walk down one index (once vacuum has marked the pages
--   all-visible).

CREATE TABLE product_search (
    id            uuid PRIMARY KEY REFERENCES products (id) ON DELETE CASCADE,
    active        boolean NOT NULL,
    category_id   uuid,
    price_minor   bigint NOT NULL,
    name          text NOT NULL,
    created_at    timestamptz NOT NULL,
    featured_rank integer,
    search        tsvector NOT NULL
);

CREATE FUNCTION product_search_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO product_search AS s
        (id, active, category_id, price_minor, name, created_at, featured_rank, search)
    VALUES (NEW.id, NEW.active, NEW.category_id, NEW.price_minor, NEW.name, NEW.created_at,
            NEW.featured_rank, NEW.search)
    ON CONFLICT (id) DO UPDATE SET
        active = EXCLUDED.active, category_id = EXCLUDED.category_id,
        price_minor = EXCLUDED.price_minor, name = EXCLUDED.name,
        created_at = EXCLUDED.created_at, featured_rank = EXCLUDED.featured_rank,
        search = EXCLUDED.search;
    RETURN NULL;
END
$$;

-- After the row is written (the generated `search` column is computed by then).
CREATE TRIGGER product_search_kept AFTER INSERT OR UPDATE ON products
    FOR EACH ROW EXECUTE FUNCTION product_search_apply();

INSERT INTO product_search (id, active, category_id, price_minor, name, created_at, featured_rank, search)
SELECT id, active, category_id, price_minor, name, created_at, featured_rank, search FROM products;

CREATE INDEX product_search_text ON product_search USING gin (search) WITH (fastupdate = off);

-- Each holds the columns a list filters on as well (category, price, featured), so a filtered
-- list is index-only too.
CREATE INDEX products_list_newest ON products (created_at DESC, id DESC)
    INCLUDE (category_id, price_minor, featured_rank, doc) WHERE active;
CREATE INDEX products_list_price ON products (price_minor, id)
    INCLUDE (category_id, featured_rank, doc) WHERE active;
CREATE INDEX products_list_name ON products (name, id)
    INCLUDE (category_id, price_minor, featured_rank, doc) WHERE active;
