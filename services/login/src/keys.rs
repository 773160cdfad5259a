//! Token signing keys: Ed25519, stored in PostgreSQL (AES-256-GCM encrypted when a key
//! encryption key is configured), published as a JWKS, rotated on request.

use std::sync::{Arc, RwLock};

use ecom_shared::auth::{jwk_set, SigningKey};
use ecom_shared::settings::Secret;
use ring::aead;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::Value;
use sqlx::{PgPool, Row};

use crate::error::LoginError;

/// The current signer and the published keys, shared by all requests.
#[derive(Clone)]
pub struct Keys {
    inner: Arc<RwLock<(Arc<SigningKey>, Vec<Value>)>>,
}

fn kek(secret: &Secret) -> Result<aead::LessSafeKey, LoginError> {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(secret.expose().trim())
        .map_err(|_| {
            LoginError::Keys("LOGIN_KEY_ENCRYPTION_KEY must be base64 of 32 bytes".into())
        })?;
    let key = aead::UnboundKey::new(&aead::AES_256_GCM, &raw)
        .map_err(|_| LoginError::Keys("LOGIN_KEY_ENCRYPTION_KEY must be 32 bytes".into()))?;
    Ok(aead::LessSafeKey::new(key))
}

fn seal(
    kek_secret: Option<&Secret>,
    kid: &str,
    plain: &[u8],
) -> Result<(Vec<u8>, bool), LoginError> {
    let Some(secret) = kek_secret else {
        return Ok((plain.to_vec(), false));
    };
    let key = kek(secret)?;
    let mut nonce = [0u8; 12];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| LoginError::Keys("no randomness".into()))?;
    let mut buf = plain.to_vec();
    key.seal_in_place_append_tag(
        aead::Nonce::assume_unique_for_key(nonce),
        aead::Aad::from(kid.as_bytes()),
        &mut buf,
    )
    .map_err(|_| LoginError::Keys("encryption failed".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    Ok((out, true))
}

fn open(
    kek_secret: Option<&Secret>,
    kid: &str,
    stored: &[u8],
    encrypted: bool,
) -> Result<Vec<u8>, LoginError> {
    if !encrypted {
        return Ok(stored.to_vec());
    }
    let secret = kek_secret.ok_or_else(|| {
        LoginError::Keys(format!(
            "key {kid} is encrypted but LOGIN_KEY_ENCRYPTION_KEY is not set"
        ))
    })?;
    if stored.len() < 12 {
        return Err(LoginError::Keys("stored key is truncated".into()));
    }
    let key = kek(secret)?;
    let (nonce, sealed) = stored.split_at(12);
    let nonce = aead::Nonce::try_assume_unique_for_key(nonce)
        .map_err(|_| LoginError::Keys("bad nonce".into()))?;
    let mut buf = sealed.to_vec();
    let plain = key
        .open_in_place(nonce, aead::Aad::from(kid.as_bytes()), &mut buf)
        .map_err(|_| {
            LoginError::Keys(format!(
                "cannot decrypt key {kid}: wrong LOGIN_KEY_ENCRYPTION_KEY?"
            ))
        })?;
    Ok(plain.to_vec())
}

async fn insert_new(pool: &PgPool, kek_secret: Option<&Secret>) -> Result<String, LoginError> {
    let kid = format!("k-{}", uuid::Uuid::new_v4().simple());
    let key = SigningKey::generate(&kid).map_err(|e| LoginError::Keys(e.to_string()))?;
    let (stored, encrypted) = seal(kek_secret, &kid, key.pkcs8())?;
    sqlx::query("INSERT INTO signing_keys (kid, private_key, encrypted, public_jwk) VALUES ($1, $2, $3, $4)")
        .bind(&kid)
        .bind(stored)
        .bind(encrypted)
        .bind(key.jwk())
        .execute(pool)
        .await?;
    Ok(kid)
}

/// Loads the signer (newest unretired key) and the published keys.
async fn load(
    pool: &PgPool,
    kek_secret: Option<&Secret>,
) -> Result<Option<(Arc<SigningKey>, Vec<Value>)>, LoginError> {
    let published: Vec<Value> = sqlx::query_scalar(
        "SELECT public_jwk FROM signing_keys WHERE retire_at IS NULL OR retire_at > now() ORDER BY created_at DESC",
    )
    .fetch_all(pool)
    .await?;
    let row = sqlx::query(
        "SELECT kid, private_key, encrypted FROM signing_keys WHERE retire_at IS NULL ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let kid: String = row.try_get("kid")?;
    let stored: Vec<u8> = row.try_get("private_key")?;
    let der = open(kek_secret, &kid, &stored, row.try_get("encrypted")?)?;
    let key = SigningKey::from_pkcs8(&kid, &der).map_err(|e| LoginError::Keys(e.to_string()))?;
    Ok(Some((Arc::new(key), published)))
}

/// Checks a key encryption key's form (base64 of 32 bytes) without using it.
pub fn check_kek(secret: &Secret) -> Result<(), LoginError> {
    kek(secret).map(|_| ())
}

/// With a key encryption key configured, encrypts the keys a run without one stored in the
/// clear (each row on its own, guarded by `NOT encrypted`, so replicas starting together do
/// it once). Returns how many were encrypted.
pub async fn seal_clear_keys(pool: &PgPool, kek_secret: &Secret) -> Result<u64, LoginError> {
    let rows = sqlx::query("SELECT kid, private_key FROM signing_keys WHERE NOT encrypted")
        .fetch_all(pool)
        .await?;
    let mut sealed = 0;
    for row in rows {
        let kid: String = row.try_get("kid")?;
        let plain: Vec<u8> = row.try_get("private_key")?;
        let (stored, _) = seal(Some(kek_secret), &kid, &plain)?;
        sealed += sqlx::query(
            "UPDATE signing_keys SET private_key = $2, encrypted = true
             WHERE kid = $1 AND NOT encrypted",
        )
        .bind(&kid)
        .bind(stored)
        .execute(pool)
        .await?
        .rows_affected();
    }
    Ok(sealed)
}

impl Keys {
    /// Loads the keys, making the first one if there is none. With a key encryption key, keys
    /// found in the clear are encrypted first.
    pub async fn start(pool: &PgPool, kek_secret: Option<&Secret>) -> Result<Self, LoginError> {
        match kek_secret {
            Some(secret) => {
                let n = seal_clear_keys(pool, secret).await?;
                if n > 0 {
                    tracing::warn!(keys = n, "signing keys found in the clear were encrypted");
                }
            }
            None => tracing::warn!(
                "LOGIN_KEY_ENCRYPTION_KEY is not set: signing keys are stored unencrypted \
                 (allowed only with ENVIRONMENT=dev)"
            ),
        }
        if let Some(loaded) = load(pool, kek_secret).await? {
            return Ok(Self {
                inner: Arc::new(RwLock::new(loaded)),
            });
        }
        // Two replicas starting together may both make one; the newest simply wins.
        insert_new(pool, kek_secret).await?;
        let loaded = load(pool, kek_secret)
            .await?
            .ok_or_else(|| LoginError::Keys("no signing key".into()))?;
        Ok(Self {
            inner: Arc::new(RwLock::new(loaded)),
        })
    }

    pub fn signer(&self) -> Result<Arc<SigningKey>, LoginError> {
        self.inner
            .read()
            .map(|g| g.0.clone())
            .map_err(|_| LoginError::Keys("key lock poisoned".into()))
    }

    pub fn published(&self) -> Vec<Value> {
        self.inner.read().map(|g| g.1.clone()).unwrap_or_default()
    }

    /// Re-reads keys from the database (another replica may have rotated).
    pub async fn reload(
        &self,
        pool: &PgPool,
        kek_secret: Option<&Secret>,
        verifier: &ecom_shared::auth::Verifier,
    ) -> Result<(), LoginError> {
        if let Some(loaded) = load(pool, kek_secret).await? {
            let set = jwk_set(&loaded.1).map_err(|e| LoginError::Keys(e.to_string()))?;
            verifier
                .set_jwks(&set)
                .map_err(|e| LoginError::Keys(e.to_string()))?;
            if let Ok(mut g) = self.inner.write() {
                *g = loaded;
            }
        }
        Ok(())
    }

    /// Makes a new signer. Older keys stay published for `overlap_seconds` (the access token
    /// lifetime), so tokens they signed verify until they expire.
    pub async fn rotate(
        &self,
        pool: &PgPool,
        kek_secret: Option<&Secret>,
        overlap_seconds: i64,
        verifier: &ecom_shared::auth::Verifier,
    ) -> Result<(), LoginError> {
        let kid = insert_new(pool, kek_secret).await?;
        sqlx::query(
            "UPDATE signing_keys SET retire_at = now() + make_interval(secs => $1)
             WHERE retire_at IS NULL AND kid <> $2",
        )
        .bind(overlap_seconds as f64)
        .bind(&kid)
        .execute(pool)
        .await?;
        self.reload(pool, kek_secret, verifier).await
    }
}
