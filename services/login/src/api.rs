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

fn local_only(st: &AppState) -> Result<&crate::keys::Keys, LoginError> {
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
    let a = accounts::create(&st.kit.pool, &email, &hash, &roles).await?;
    st.kit.metrics.incr("login_signups_total", 1);
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": a.id, "email": a.email, "roles": a.roles})),
    )
        .into_response())
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
        token_use: Some("access".into()),
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
) -> Result<Json<Value>, LoginError> {
    let keys = local_only(&st)?;
    let email = accounts::normalise_email(&c.email).map_err(|_| LoginError::BadCredentials)?;
    let Some(stored) = accounts::find(&st.kit.pool, &email).await? else {
        // Spend the same time as a real check, so unknown emails cannot be told apart.
        let dummy = st.cfg.dummy_hash.clone();
        blocking(move || accounts::verify_password(&c.password, &dummy)).await?;
        return Err(LoginError::BadCredentials);
    };
    if let Some(secs) = stored.locked_for {
        return Err(LoginError::Locked {
            retry_after: secs.max(1) as u64,
        });
    }
    let hash = stored.hash.clone();
    let ok = blocking(move || accounts::verify_password(&c.password, &hash)).await?;
    if !ok {
        st.kit.metrics.incr("login_failures_total", 1);
        accounts::record_failure(
            &st.kit.pool,
            stored.account.id,
            st.cfg.lockout_threshold,
            st.cfg.lockout_seconds,
        )
        .await?;
        return Err(LoginError::BadCredentials);
    }
    accounts::record_success(&st.kit.pool, stored.account.id).await?;
    st.kit.metrics.incr("login_signins_total", 1);
    Ok(Json(
        tokens(&st, keys, &stored.account, Uuid::new_v4()).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    pub refresh_token: String,
}

pub async fn refresh(
    State(st): State<AppState>,
    Json(b): Json<RefreshBody>,
) -> Result<Json<Value>, LoginError> {
    let keys = local_only(&st)?;
    let (account, family) = accounts::use_refresh(&st.kit.pool, &b.refresh_token).await?;
    let a = accounts::by_id(&st.kit.pool, account)
        .await?
        .ok_or(LoginError::BadRefresh)?;
    Ok(Json(tokens(&st, keys, &a, family).await?))
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
