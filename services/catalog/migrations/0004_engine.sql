-- The read engine's precomputed data, kept by triggers so reads do no joins and no JSON
-- building:
-- - `doc`: the product exactly as the API answers it, rendered once per write;
--   `price_doc`: the SKU price answer orders asks for.
-- - `category_counts`: active products per category, the facet counts of an unfiltered list.
-- - The full-text index without a pending list (`fastupdate = off`): with one, rows written
--   since the last vacuum are matched by scanning the list, and the planner, pricing that in,
--   preferred reading the whole table for every search.

ALTER TABLE products ADD COLUMN doc text, ADD COLUMN price_doc text;

CREATE FUNCTION products_render() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.doc := json_build_object(
        'id', NEW.id, 'sku', NEW.sku, 'slug', NEW.slug, 'name', NEW.name,
        'description', NEW.description,
        'category', (SELECT slug FROM categories WHERE id = NEW.category_id),
        'price_minor', NEW.price_minor, 'currency', NEW.currency,
        'featured_rank', NEW.featured_rank, 'attributes', NEW.attributes,
        'created_at', to_char(NEW.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    )::text;
    NEW.price_doc := json_build_object(
        'sku', NEW.sku, 'name', NEW.name, 'price_minor', NEW.price_minor, 'currency', NEW.currency
    )::text;
    RETURN NEW;
END
$$;

CREATE TRIGGER products_render BEFORE INSERT OR UPDATE ON products
    FOR EACH ROW EXECUTE FUNCTION products_render();

-- A category's new slug reaches its products' documents.
CREATE FUNCTION categories_rerender() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE products SET doc = NULL WHERE category_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER categories_rerender AFTER UPDATE OF slug ON categories
    FOR EACH ROW EXECUTE FUNCTION categories_rerender();

UPDATE products SET doc = NULL;
ALTER TABLE products ALTER COLUMN doc SET NOT NULL, ALTER COLUMN price_doc SET NOT NULL;

-- Products without a category are counted under the nil UUID.
CREATE TABLE category_counts (
    category_id uuid PRIMARY KEY,
    n           bigint NOT NULL CHECK (n >= 0)
);

CREATE FUNCTION category_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.active THEN
        UPDATE category_counts SET n = n - 1
        WHERE category_id = coalesce(OLD.category_id, '00000000-0000-0000-0000-000000000000');
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.active THEN
        INSERT INTO category_counts AS c (category_id, n)
        VALUES (coalesce(NEW.category_id, '00000000-0000-0000-0000-000000000000'), 1)
        ON CONFLICT (category_id) DO UPDATE SET n = c.n + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER products_counted AFTER INSERT OR DELETE OR UPDATE OF active, category_id ON products
    FOR EACH ROW EXECUTE FUNCTION category_counts_apply();

INSERT INTO category_counts (category_id, n)
SELECT coalesce(category_id, '00000000-0000-0000-0000-000000000000'), count(*)
FROM products WHERE active GROUP BY 1;

ALTER INDEX products_search SET (fastupdate = off);
-- Lists walk these backwards or forwards and stop after a page; only active rows are shown.
CREATE INDEX products_sku_active ON products (sku) INCLUDE (price_doc) WHERE active;
