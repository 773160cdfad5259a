CREATE TABLE accounts (
    id              uuid PRIMARY KEY,
    -- Stored lower-cased.
    email           text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    password_hash   text NOT NULL,
    roles           text[] NOT NULL DEFAULT ARRAY['customer'],
    failed_attempts integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_email_unique UNIQUE (email)
);

-- Refresh tokens are stored as SHA-256 hashes; a family is one sign-in's chain of rotations.
CREATE TABLE refresh_tokens (
    token_hash text PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    family     uuid NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);

-- Token signing keys (Ed25519). The private key is encrypted when LOGIN_KEY_ENCRYPTION_KEY is set.
CREATE TABLE signing_keys (
    kid         text PRIMARY KEY,
    private_key bytea NOT NULL,
    encrypted   boolean NOT NULL,
    public_jwk  jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- Published in the JWKS until then, so tokens it signed stay verifiable; signs nothing new.
    retire_at   timestamptz
);
