CREATE TABLE categories (
    id         uuid PRIMARY KEY,
    slug       text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,63}$'),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    parent_id  uuid REFERENCES categories (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT categories_slug_unique UNIQUE (slug)
);

CREATE TABLE products (
    id            uuid PRIMARY KEY,
    sku           text NOT NULL CHECK (sku ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    slug          text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,127}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description   text NOT NULL DEFAULT '' CHECK (length(description) <= 10000),
    category_id   uuid REFERENCES categories (id),
    -- Prices in minor units (cents) with their ISO 4217 currency; never floating point.
    price_minor   bigint NOT NULL CHECK (price_minor >= 0),
    currency      char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    featured_rank integer CHECK (featured_rank > 0),
    active        boolean NOT NULL DEFAULT true,
    attributes    jsonb NOT NULL DEFAULT '{}',
    search        tsvector GENERATED ALWAYS AS (
                      setweight(to_tsvector('english', name), 'A') ||
                      setweight(to_tsvector('english', description), 'B')) STORED,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT products_sku_unique UNIQUE (sku),
    CONSTRAINT products_slug_unique UNIQUE (slug)
);

CREATE INDEX products_search ON products USING gin (search);
CREATE INDEX products_category ON products (category_id, id);
CREATE INDEX products_price ON products (price_minor, id);
CREATE INDEX products_newest ON products (created_at, id);
CREATE INDEX products_name ON products (name, id);
CREATE INDEX products_featured ON products (featured_rank) WHERE featured_rank IS NOT NULL;
