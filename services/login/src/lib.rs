//! login: accounts with argon2id hashes, sign-in with lockout and rate limiting, EdDSA access
//! tokens with a `kid`, a JWKS that supports rotation, rotating refresh tokens, and the
//! platform services' own short-lived scoped tokens (client-credentials grant, [`clients`]).
//! In Cognito mode it only verifies Cognito's tokens (`/v1/me`).

pub mod accounts;
pub mod api;
pub mod clients;
pub mod error;
pub mod keys;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use ecom_shared::openapi::{ApiDoc, Security};
use ecom_shared::settings::{CommonSettings, Env, JwksSource, Secret, SettingsError};
use ecom_shared::{HasKit, Kit};
use serde_json::json;

use crate::accounts::HashCost;
use crate::error::LoginError;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
pub const DEFAULT_PORT: u16 = 8081;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Accounts and tokens are ours.
    Local,
    /// Accounts live in Cognito; we only verify its tokens (JWKS_URL, JWT_ISSUER).
    Cognito,
}

#[derive(Debug, Clone)]
pub struct LoginConfig {
    pub mode: Mode,
    pub issuer: String,
    pub audience: Option<String>,
    pub access_ttl_seconds: i64,
    pub refresh_ttl_seconds: i64,
    pub cost: HashCost,
    pub lockout_threshold: i32,
    pub lockout_seconds: i64,
    pub admin_emails: Vec<String>,
    pub kek: Option<Secret>,
    /// Hash of a random password, checked for unknown emails so timing reveals nothing.
    pub dummy_hash: String,
}

impl LoginConfig {
    pub fn from_env(env: &Env, common: &CommonSettings) -> Result<Self, SettingsError> {
        let mode = match env.get("LOGIN_MODE").as_deref() {
            None | Some("local") => Mode::Local,
            Some("cognito") => Mode::Cognito,
            Some(other) => {
                return Err(SettingsError::Invalid {
                    name: "LOGIN_MODE".into(),
                    reason: format!("expected local or cognito, got {other:?}"),
                })
            }
        };
        if mode == Mode::Cognito && !matches!(common.auth.jwks, JwksSource::Url(_)) {
            return Err(SettingsError::Missing {
                name: "JWKS_URL".into(),
                hint: " (Cognito mode: https://cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json)".into(),
            });
        }
        let cost = HashCost {
            memory_kib: env.parse_or("ARGON2_MEMORY_KIB", 19_456)?,
            iterations: env.parse_or("ARGON2_ITERATIONS", 2)?,
            parallelism: env.parse_or("ARGON2_PARALLELISM", 1)?,
        };
        let kek = key_encryption_key(env, &mode)?;
        let mut cfg = Self {
            mode,
            issuer: common
                .auth
                .issuer
                .clone()
                .unwrap_or_else(|| "ecom-login".into()),
            audience: common.auth.audience.clone(),
            access_ttl_seconds: env.parse_or("ACCESS_TOKEN_TTL_SECONDS", 900)?,
            refresh_ttl_seconds: env.parse_or("REFRESH_TOKEN_TTL_SECONDS", 30 * 86_400)?,
            cost,
            lockout_threshold: env.parse_or("LOGIN_LOCKOUT_THRESHOLD", 5)?,
            lockout_seconds: env.parse_or("LOGIN_LOCKOUT_SECONDS", 900)?,
            admin_emails: env
                .get("LOGIN_ADMIN_EMAILS")
                .map(|s| {
                    s.split(',')
                        .map(|e| e.trim().to_lowercase())
                        .filter(|e| !e.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            kek,
            dummy_hash: String::new(),
        };
        cfg.dummy_hash =
            accounts::hash_password(cost, &uuid::Uuid::new_v4().to_string()).map_err(|e| {
                SettingsError::Invalid {
                    name: "ARGON2_MEMORY_KIB".into(),
                    reason: e.to_string(),
                }
            })?;
        Ok(cfg)
    }
}

/// `LOGIN_KEY_ENCRYPTION_KEY`: base64 of 32 bytes. Required in local mode unless
/// `ENVIRONMENT` is `dev` (or unset, as on a laptop; the chart always sets it): anyone who can
/// read a signing key in the clear can mint admin tokens.
fn key_encryption_key(env: &Env, mode: &Mode) -> Result<Option<Secret>, SettingsError> {
    let name = "LOGIN_KEY_ENCRYPTION_KEY";
    let environment = env.get("ENVIRONMENT").unwrap_or_else(|| "dev".into());
    match env.secret(name) {
        Some(secret) => {
            keys::check_kek(&secret).map_err(|_| SettingsError::Invalid {
                name: name.into(),
                reason: "expected base64 of 32 random bytes (e.g. `openssl rand -base64 32`)"
                    .into(),
            })?;
            Ok(Some(secret))
        }
        None if *mode == Mode::Local && environment != "dev" => Err(SettingsError::Missing {
            name: name.into(),
            hint: format!(
                " (required with ENVIRONMENT={environment}: signing keys are stored encrypted \
                 with it; base64 of 32 random bytes, e.g. `openssl rand -base64 32`; only \
                 ENVIRONMENT=dev may run without one)"
            ),
        }),
        None => Ok(None),
    }
}

#[derive(Clone)]
pub struct AppState {
    pub kit: Kit,
    pub keys: Option<keys::Keys>,
    pub cfg: Arc<LoginConfig>,
    /// The calling services and their scopes.
    pub clients: Arc<clients::Clients>,
}

impl HasKit for AppState {
    fn kit(&self) -> &Kit {
        &self.kit
    }
}

pub use ecom_shared::RunError;

/// Signing keys that cannot be loaded or made stop the start.
impl From<LoginError> for RunError {
    fn from(e: LoginError) -> Self {
        RunError::start("signing keys", e)
    }
}

/// Builds the state over a migrated pool: loads (or makes) the signing keys and trusts them.
pub async fn state(
    mut common: CommonSettings,
    pool: sqlx::PgPool,
    cfg: LoginConfig,
    clients: clients::Clients,
) -> Result<AppState, RunError> {
    if cfg.mode == Mode::Local {
        // Our own tokens are verified against our own keys, loaded below.
        common.auth.jwks = JwksSource::Inline(r#"{"keys":[]}"#.into());
        common.auth.issuer = Some(cfg.issuer.clone());
    }
    let kit = Kit::from_pool(common, pool)?;
    let keys = match cfg.mode {
        Mode::Local => {
            let k = keys::Keys::start(&kit.pool, cfg.kek.as_ref()).await?;
            k.reload(&kit.pool, cfg.kek.as_ref(), &kit.verifier).await?;
            Some(k)
        }
        Mode::Cognito => None,
    };
    Ok(AppState {
        kit,
        keys,
        cfg: Arc::new(cfg),
        clients: Arc::new(clients),
    })
}

pub fn openapi() -> ApiDoc {
    // An address: something, '@', a domain with a dot inside it; no spaces or control
    // characters (what login's own check accepts).
    let email = json!({"type": "string", "maxLength": 254,
        "pattern": "^[^@\\s\\u0000-\\u001f\\u007f-\\u009f]+@[^\\s.\\u0000-\\u001f\\u007f-\\u009f][^\\s\\u0000-\\u001f\\u007f-\\u009f]*\\.[^\\s\\u0000-\\u001f\\u007f-\\u009f]*[^\\s.\\u0000-\\u001f\\u007f-\\u009f]$"});
    let creds = json!({"type": "object", "additionalProperties": false, "required": ["email", "password"], "properties": {
        "email": email, "password": {"type": "string", "minLength": 12, "maxLength": 128}}});
    let refresh = json!({"type": "object", "additionalProperties": false, "required": ["refresh_token"], "properties": {"refresh_token": {"type": "string"}}});
    ApiDoc::new("login", env!("CARGO_PKG_VERSION"))
        .route(
            "post",
            "/v1/signup",
            "Create an account (a taken email gets the same answer as a new one)",
            Security::Public,
            &[201, 422, 429, 501],
        )
        .body(creds.clone())
        .route(
            "post",
            "/v1/signin",
            "Sign in: access and refresh tokens",
            Security::Public,
            &[200, 401, 423, 429, 501],
        )
        .body(creds)
        .route(
            "post",
            "/v1/refresh",
            "Exchange a refresh token (rotated; reuse revokes the family)",
            Security::Public,
            &[200, 401, 501],
        )
        .body(refresh.clone())
        .route(
            "post",
            "/v1/signout",
            "Revoke the session's refresh tokens",
            Security::Public,
            &[204, 501],
        )
        .body(refresh)
        .route(
            "get",
            "/v1/me",
            "The verified claims of the caller's token",
            Security::User,
            &[200, 401],
        )
        .route(
            "post",
            "/v1/service-tokens",
            "A platform service's own token for one audience (client-credentials grant): short-lived, with the scopes its client is allowed there (all of them, or those asked for in scope). 401 invalid-client for an unknown client or a wrong secret, 403 invalid-scope for a scope or an audience the client is not allowed",
            Security::Public,
            &[200, 401, 403, 429, 501],
        )
        .body(json!({"type": "object", "additionalProperties": false, "required": ["client_id", "client_secret", "audience"], "properties": {
            "client_id": {"type": "string"},
            "client_secret": {"type": "string"},
            "audience": {"type": "string", "description": "the service the token is for: payments, inventory"},
            "scope": {"type": "string", "description": "space-separated scopes wanted, each <audience>:<action>"}}}))
        .route(
            "get",
            "/.well-known/jwks.json",
            "Public keys for token verification",
            Security::Public,
            &[200, 501],
        )
        .route(
            "post",
            "/v1/keys/rotate",
            "Make a new signing key; old ones stay published for the token lifetime",
            Security::Admin,
            &[200, 401, 403, 501],
        )
}

pub fn router(state: AppState) -> Router {
    let doc = openapi();
    let kit = state.kit.clone();
    let limit = |route: &str| {
        axum::middleware::from_fn_with_state(kit.limiter(route), ecom_shared::ratelimit::enforce)
    };
    let api = Router::new()
        .route(
            "/v1/signup",
            post(api::signup).route_layer(limit("/v1/signup")),
        )
        .route(
            "/v1/signin",
            post(api::signin).route_layer(limit("/v1/signin")),
        )
        .route(
            "/v1/refresh",
            post(api::refresh).route_layer(limit("/v1/refresh")),
        )
        .route("/v1/signout", post(api::signout))
        .route(
            "/v1/service-tokens",
            post(clients::issue).route_layer(limit("/v1/service-tokens")),
        )
        .route("/v1/me", get(api::me))
        .route("/.well-known/jwks.json", get(api::jwks))
        .route("/v1/keys/rotate", post(api::rotate))
        .with_state(state);
    ecom_shared::app::finish(api, &kit, &doc)
}

/// Picks up rotations made by other replicas.
pub fn spawn_key_reload(state: AppState, every: Duration) -> Option<tokio::task::JoinHandle<()>> {
    let keys = state.keys.clone()?;
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = keys
                .reload(&state.kit.pool, state.cfg.kek.as_ref(), &state.kit.verifier)
                .await
            {
                tracing::warn!(error = %e, "key reload failed");
            }
        }
    }))
}

/// Forgets emails whose attempts are older than a lock window and that are not locked.
pub fn spawn_attempt_pruning(
    state: AppState,
    every: Duration,
) -> Option<tokio::task::JoinHandle<()>> {
    state.keys.as_ref()?;
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match accounts::prune_attempts(&state.kit.pool, state.cfg.lockout_seconds).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(emails = n, "sign-in attempts forgotten"),
                Err(e) => tracing::warn!(error = %e, "pruning sign-in attempts failed"),
            }
        }
    }))
}

pub async fn run() -> Result<(), RunError> {
    ecom_shared::service::run(|env| async move {
        let common = CommonSettings::from_env("login", DEFAULT_PORT, &env)?;
        let cfg = LoginConfig::from_env(&env, &common)?;
        let clients = clients::Clients::from_env(&env)?;
        let pool = ecom_shared::app::connect(&common).await?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(ecom_shared::KitError::from)?;
        let state = state(common, pool, cfg, clients).await?;
        let mut service =
            ecom_shared::service::Service::new(router(state.clone()), state.kit.clone());
        let tasks = [
            spawn_key_reload(state.clone(), Duration::from_secs(30)),
            spawn_attempt_pruning(state, Duration::from_secs(300)),
        ];
        for task in tasks.into_iter().flatten() {
            service = service.task(task);
        }
        Ok(service)
    })
    .await
}
