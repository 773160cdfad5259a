-- Payment webhooks find their order by payment id.
CREATE INDEX orders_by_payment ON orders (payment_id) WHERE payment_id IS NOT NULL;
