-- Failed sign-ins are counted per email, whether or not an account has it, so a locked answer
-- says nothing about which emails exist. The key is the SHA-256 (hex) of the normalised email.
-- An attempt is recorded, and the lock decided, by one statement before the password is checked.
CREATE TABLE signin_throttle (
    email_key       text PRIMARY KEY,
    failed_attempts integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    locked_until    timestamptz,
    last_attempt_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO signin_throttle (email_key, failed_attempts, locked_until)
SELECT encode(sha256(convert_to(email, 'UTF8')), 'hex'), failed_attempts, locked_until
FROM accounts
WHERE failed_attempts > 0 OR locked_until IS NOT NULL;

ALTER TABLE accounts DROP COLUMN failed_attempts, DROP COLUMN locked_until;
