-- A payment method belongs to the customer who made it (the `sub` of the token that called
-- POST /v1/tokens); an authorization names the customer it charges for, and a method pays only
-- for its owner. Methods made before this migration have no owner and pay for no one.
ALTER TABLE payment_methods ADD COLUMN customer text CHECK (length(customer) BETWEEN 1 AND 200);
