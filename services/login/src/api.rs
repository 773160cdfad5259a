use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ecom_shared::auth::{AuthUser, Claims};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::accounts::{self, Account};
use crate::error::LoginError;
use crate::{AppState, Mode};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

// Passwords never reach a log line.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

pub(crate) fn local_only(st: &AppState) -> Result<&crate::keys::Keys, LoginError> {
    match (&st.cfg.mode, &st.keys) {
        (Mode::Local, Some(k)) => Ok(k),
        _ => Err(LoginError::CognitoMode),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, LoginError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| LoginError::Hash)
}

pub async fn signup(
    State(st): State<AppState>,
    Json(c): Json<Credentials>,
) -> Result<Response, LoginError> {
    local_only(&st)?;
    let email = accounts::normalise_email(&c.email)?;
    accounts::check_password_policy(&c.password)?;
    let cost = st.cfg.cost;
    let hash = blocking(move || accounts::hash_password(cost, &c.password)).await??;
    let mut roles = vec!["customer".to_string()];
    if st.cfg.admin_emails.contains(&email) {
        roles.push("admin".into());
    }
    let a = match accounts::create(&st.kit.pool, &email, &hash, &roles).await {
        Ok(a) => {
            st.kit.metrics.incr("login_signups_total", 1);
            a
        }
        // A taken email gets the answer a new one gets (a fresh id that names nothing), after
        // the same hashing work, so sign-up cannot be used to learn which emails have accounts.
        Err(LoginError::EmailTaken) => {
            st.kit.metrics.incr("login_signups_existing_total", 1);
            tracing::info!(
                email_sha256 = %short_key(&accounts::email_key(&email)),
                "sign-up for an email that already has an account: answered as a new one"
            );
            Account {
                id: Uuid::new_v4(),
                email,
                roles: vec!["customer".to_string()],
            }
        }
        Err(e) => return Err(e),
    };
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": a.id, "email": a.email, "roles": a.roles})),
    )
        .into_response())
}

/// The first 12 hex digits of an email's key: enough to follow one email through the logs
/// without writing the address down.
fn short_key(key: &str) -> &str {
    key.get(..12).unwrap_or(key)
}

fn access_token(
    st: &AppState,
    keys: &crate::keys::Keys,
    a: &Account,
) -> Result<String, LoginError> {
    let now = ecom_shared::unix_now();
    let claims = Claims {
        sub: a.id.to_string(),
        exp: now + st.cfg.access_ttl_seconds as u64,
        iat: now,
        iss: Some(st.cfg.issuer.clone()),
        aud: st.cfg.audience.clone(),
        email: Some(a.email.clone()),
        roles: a.roles.clone(),
        token_use: Some(ecom_shared::auth::ACCESS_USE.into()),
        ..Claims::default()
    };
    keys.signer()?
        .sign(&claims)
        .map_err(|e| LoginError::Keys(e.to_string()))
}

async fn tokens(
    st: &AppState,
    keys: &crate::keys::Keys,
    a: &Account,
    family: Uuid,
) -> Result<Value, LoginError> {
    let access = access_token(st, keys, a)?;
    let refresh =
        accounts::issue_refresh(&st.kit.pool, a.id, family, st.cfg.refresh_ttl_seconds).await?;
    Ok(json!({
        "access_token": access, "token_type": "Bearer", "expires_in": st.cfg.access_ttl_seconds,
        "refresh_token": refresh,
    }))
}

pub async fn signin(
    State(st): State<AppState>,
    Json(c): Json<Credentials>,
) -> Result<Response, LoginError> {
    let keys = local_only(&st)?;
    // An address that cannot be valid cannot have an account: nothing to count or lock.
    let email = accounts::normalise_email(&c.email).map_err(|_| LoginError::BadCredentials)?;
    let key = accounts::email_key(&email);
    let attempt = accounts::record_attempt(
        &st.kit.pool,
        &key,
        st.cfg.lockout_threshold,
        st.cfg.lockout_seconds,
    )
    .await?;
    let locks = match attempt {
        accounts::Attempt::Allowed { locks } => locks,
        accounts::Attempt::Locked { retry_after } => {
            st.kit.metrics.incr("login_locked_attempts_total", 1);
            tracing::info!(email_sha256 = %short_key(&key), retry_after, "sign-in refused: locked");
            return Err(LoginError::Locked { retry_after });
        }
    };
    let stored = accounts::find(&st.kit.pool, &email).await?;
    // An unknown email is checked against a dummy hash: the same work, the same answer.
    let (hash, account) = match stored {
        Some(s) => (s.hash, Some(s.account)),
        None => (st.cfg.dummy_hash.clone(), None),
    };
    let ok = blocking(move || accounts::verify_password(&c.password, &hash)).await?;
    let Some(account) = account.filter(|_| ok) else {
        st.kit.metrics.incr("login_failures_total", 1);
        tracing::info!(email_sha256 = %short_key(&key), "sign-in failed");
        if locks {
            st.kit.metrics.incr("login_lockouts_total", 1);
            tracing::warn!(
                email_sha256 = %short_key(&key),
                threshold = st.cfg.lockout_threshold,
                lock_seconds = st.cfg.lockout_seconds,
                "sign-in locked after repeated failures"
            );
        }
        return Err(LoginError::BadCredentials);
    };
    accounts::clear_attempts(&st.kit.pool, &key).await?;
    st.kit.metrics.incr("login_signins_total", 1);
    Ok(no_store(tokens(&st, keys, &account, Uuid::new_v4()).await?))
}

/// Token answers are never stored by a cache or a browser.
pub(crate) fn no_store(body: Value) -> Response {
    (
        [
            (axum::http::header::CACHE_CONTROL, "no-store"),
            (axum::http::header::PRAGMA, "no-cache"),
        ],
        Json(body),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    pub refresh_token: String,
}

pub async fn refresh(
    State(st): State<AppState>,
    Json(b): Json<RefreshBody>,
) -> Result<Response, LoginError> {
    let keys = local_only(&st)?;
    let (account, family) = accounts::use_refresh(&st.kit.pool, &b.refresh_token).await?;
    let a = accounts::by_id(&st.kit.pool, account)
        .await?
        .ok_or(LoginError::BadRefresh)?;
    Ok(no_store(tokens(&st, keys, &a, family).await?))
}

pub async fn signout(
    State(st): State<AppState>,
    Json(b): Json<RefreshBody>,
) -> Result<StatusCode, LoginError> {
    local_only(&st)?;
    if let Some(family) = accounts::family_of(&st.kit.pool, &b.refresh_token).await? {
        accounts::revoke_family(&st.kit.pool, family).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn me(user: AuthUser) -> Json<Value> {
    let c = user.0;
    Json(
        json!({"sub": c.sub, "email": c.email, "roles": c.roles, "issuer": c.iss, "expires_at": c.exp}),
    )
}

pub async fn jwks(State(st): State<AppState>) -> Result<Response, LoginError> {
    let keys = local_only(&st)?;
    Ok((
        [(axum::http::header::CACHE_CONTROL, "public, max-age=60")],
        Json(ecom_shared::auth::jwks_document(&keys.published())),
    )
        .into_response())
}

pub async fn rotate(State(st): State<AppState>, user: AuthUser) -> Result<Json<Value>, LoginError> {
    let keys = local_only(&st)?;
    user.require_role("admin")
        .map_err(|_| LoginError::Forbidden)?;
    keys.rotate(
        &st.kit.pool,
        st.cfg.kek.as_ref(),
        st.cfg.access_ttl_seconds,
        &st.kit.verifier,
    )
    .await?;
    let kid = keys.signer()?.kid.clone();
    tracing::info!(%kid, "signing key rotated");
    Ok(Json(
        json!({"kid": kid, "published": keys.published().len()}),
    ))
}
