-- Prices are capped (the service checks the same bound first, so the answer is a clear 422):
-- order totals of price x quantity then stay far inside bigint. NOT VALID: rows written before
-- are left as they are; new writes are checked.
ALTER TABLE products ADD CONSTRAINT products_price_cap CHECK (price_minor <= 1000000000) NOT VALID;
