-- 3-D Secure: a checkout whose payment asks for a challenge waits in `awaiting_action` until the
-- customer answers it (POST /v1/orders/{id}/3ds) or `action_expires_at` passes (the recovery
-- sweep then voids the payment and compensates). `challenge_id` stays after the wait is over,
-- so an answer given twice gets the first one's outcome.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN (
    'pending', 'reserved', 'awaiting_action', 'authorized', 'confirmed', 'compensating', 'failed'));
ALTER TABLE orders ADD COLUMN challenge_id text;
ALTER TABLE orders ADD COLUMN action_expires_at timestamptz;
