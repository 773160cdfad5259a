//! Accounts, argon2id password hashes, lockout, and refresh tokens.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::error::LoginError;

/// argon2id cost. Production defaults follow OWASP (19 MiB, 2 passes); tests use less.
#[derive(Debug, Clone, Copy)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl HashCost {
    pub fn hasher(&self) -> Result<Argon2<'static>, LoginError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| LoginError::Invalid(format!("argon2 parameters: {e}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

pub fn hash_password(cost: HashCost, password: &str) -> Result<String, LoginError> {
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| LoginError::Hash)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| LoginError::Hash)?;
    Ok(cost
        .hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|_| LoginError::Hash)?
        .to_string())
}

/// Verifies with the parameters stored in the hash itself.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

pub fn normalise_email(raw: &str) -> Result<String, LoginError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(LoginError::Invalid("email is not a valid address".into()))
    }
}

pub fn check_password_policy(password: &str) -> Result<(), LoginError> {
    let n = password.chars().count();
    if !(12..=128).contains(&n) {
        return Err(LoginError::Invalid(
            "password must be 12 to 128 characters".into(),
        ));
    }
    Ok(())
}

pub struct Account {
    pub id: Uuid,
    pub email: String,
    pub roles: Vec<String>,
}

pub async fn create(
    pool: &PgPool,
    email: &str,
    hash: &str,
    roles: &[String],
) -> Result<Account, LoginError> {
    let id = Uuid::new_v4();
    let r = sqlx::query(
        "INSERT INTO accounts (id, email, password_hash, roles) VALUES ($1, $2, $3, $4)",
    )
    .bind(id)
    .bind(email)
    .bind(hash)
    .bind(roles)
    .execute(pool)
    .await;
    match r {
        Ok(_) => Ok(Account {
            id,
            email: email.to_string(),
            roles: roles.to_vec(),
        }),
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Err(LoginError::EmailTaken),
        Err(e) => Err(e.into()),
    }
}

pub struct Stored {
    pub account: Account,
    pub hash: String,
}

pub async fn find(pool: &PgPool, email: &str) -> Result<Option<Stored>, LoginError> {
    let row = sqlx::query("SELECT id, email, roles, password_hash FROM accounts WHERE email = $1")
        .bind(email)
        .fetch_optional(pool)
        .await?;
    row.map(|r| {
        Ok(Stored {
            account: Account {
                id: r.try_get("id")?,
                email: r.try_get("email")?,
                roles: r.try_get("roles")?,
            },
            hash: r.try_get("password_hash")?,
        })
    })
    .transpose()
    .map_err(|e: sqlx::Error| e.into())
}

pub async fn by_id(pool: &PgPool, id: Uuid) -> Result<Option<Account>, LoginError> {
    let row = sqlx::query("SELECT id, email, roles FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.map(|r| {
        Ok(Account {
            id: r.try_get("id")?,
            email: r.try_get("email")?,
            roles: r.try_get("roles")?,
        })
    })
    .transpose()
    .map_err(|e: sqlx::Error| e.into())
}

/// The key sign-in attempts are counted under: the SHA-256 of the normalised email, so
/// attempts on unknown emails are counted (and locked) exactly like attempts on accounts.
pub fn email_key(email: &str) -> String {
    token_hash(email)
}

/// What recording an attempt decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The attempt may check its password; `locks` says it took the last one before the lock
    /// (the lock stands unless the password turns out right).
    Allowed { locks: bool },
    /// Locked: no password is checked; the lock ends in this many seconds.
    Locked { retry_after: u64 },
}

/// Records a sign-in attempt and decides the lock in one statement, before any password is
/// checked: the attempt counts as failed until [`clear_attempts`] says otherwise, and the one
/// that reaches `threshold` sets the lock. Concurrent attempts queue on the row, so at most
/// `threshold` passwords are checked per lock window whatever the concurrency. After a lock
/// ends, the count stays at the threshold: the next attempt is allowed and, if wrong, locks
/// again at once.
pub async fn record_attempt(
    pool: &PgPool,
    key: &str,
    threshold: i32,
    lock_seconds: i64,
) -> Result<Attempt, LoginError> {
    let claimed: Option<bool> = sqlx::query_scalar(
        "INSERT INTO signin_throttle AS t (email_key, failed_attempts, locked_until)
         VALUES ($1, 1, CASE WHEN 1 >= $2 THEN now() + make_interval(secs => $3) END)
         ON CONFLICT (email_key) DO UPDATE SET
             failed_attempts = t.failed_attempts + 1,
             locked_until = CASE WHEN t.failed_attempts + 1 >= $2
                                 THEN now() + make_interval(secs => $3) ELSE t.locked_until END,
             last_attempt_at = now()
         WHERE t.locked_until IS NULL OR t.locked_until <= now()
         RETURNING coalesce(t.locked_until > now(), false)",
    )
    .bind(key)
    .bind(threshold)
    .bind(lock_seconds as f64)
    .fetch_optional(pool)
    .await?;
    if let Some(locks) = claimed {
        return Ok(Attempt::Allowed { locks });
    }
    let left: Option<i64> = sqlx::query_scalar(
        "SELECT ceil(extract(epoch FROM locked_until - now()))::bigint
         FROM signin_throttle WHERE email_key = $1",
    )
    .bind(key)
    .fetch_optional(pool)
    .await?
    .flatten();
    Ok(Attempt::Locked {
        retry_after: left.unwrap_or(1).max(1) as u64,
    })
}

/// A right password: the attempts on this email are forgotten and any lock its own attempt
/// set is lifted.
pub async fn clear_attempts(pool: &PgPool, key: &str) -> Result<(), LoginError> {
    sqlx::query("DELETE FROM signin_throttle WHERE email_key = $1")
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

/// Forgets emails with no attempt for `quiet_seconds` and no lock in force.
pub async fn prune_attempts(pool: &PgPool, quiet_seconds: i64) -> Result<u64, LoginError> {
    let done = sqlx::query(
        "DELETE FROM signin_throttle
         WHERE last_attempt_at < now() - make_interval(secs => $1)
           AND (locked_until IS NULL OR locked_until <= now())",
    )
    .bind(quiet_seconds as f64)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

fn token_hash(token: &str) -> String {
    digest::digest(&digest::SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn new_refresh_token() -> Result<String, LoginError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| LoginError::Hash)?;
    use base64::Engine as _;
    Ok(format!(
        "rt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

pub async fn issue_refresh(
    pool: &PgPool,
    account: Uuid,
    family: Uuid,
    ttl_seconds: i64,
) -> Result<String, LoginError> {
    let token = new_refresh_token()?;
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, account_id, family, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
    )
    .bind(token_hash(&token))
    .bind(account)
    .bind(family)
    .bind(ttl_seconds as f64)
    .execute(pool)
    .await?;
    Ok(token)
}

/// Uses a refresh token once. A token used twice means it was stolen: its whole family is
/// revoked. Returns (account, family).
pub async fn use_refresh(pool: &PgPool, token: &str) -> Result<(Uuid, Uuid), LoginError> {
    let hash = token_hash(token);
    let used = sqlx::query(
        "UPDATE refresh_tokens SET used_at = now()
         WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
         RETURNING account_id, family",
    )
    .bind(&hash)
    .fetch_optional(pool)
    .await?;
    if let Some(r) = used {
        return Ok((r.try_get("account_id")?, r.try_get("family")?));
    }
    let family: Option<Uuid> = sqlx::query_scalar(
        "SELECT family FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NOT NULL",
    )
    .bind(&hash)
    .fetch_optional(pool)
    .await?;
    if let Some(f) = family {
        tracing::warn!(family = %f, "refresh token reused: revoking its family");
        revoke_family(pool, f).await?;
    }
    Err(LoginError::BadRefresh)
}

pub async fn revoke_family(pool: &PgPool, family: Uuid) -> Result<(), LoginError> {
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family = $1 AND revoked_at IS NULL",
    )
    .bind(family)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn family_of(pool: &PgPool, token: &str) -> Result<Option<Uuid>, LoginError> {
    Ok(
        sqlx::query_scalar("SELECT family FROM refresh_tokens WHERE token_hash = $1")
            .bind(token_hash(token))
            .fetch_optional(pool)
            .await?,
    )
}
