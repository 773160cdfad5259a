-- 3-D Secure. An authorization of a card that asks for it is `requires_action` with a
-- challenge (`challenge_id`); the customer's answer moves it on to `authorized` (or `captured`
-- when the request was a sale: `capture_requested`) or `declined` (`authentication_failed`).
-- A challenge nobody answers is voided by the caller (orders, after its timeout).
ALTER TABLE payments ADD COLUMN challenge_id text;
ALTER TABLE payments ADD COLUMN capture_requested boolean NOT NULL DEFAULT false;
