//! Service clients: the client-credentials grant that gives each calling service its own
//! short-lived token for one audience, with the scopes its client is allowed there.
//!
//! Clients come from `LOGIN_SERVICE_CLIENTS`, a JSON object by client id:
//! `{"orders": {"secret_sha256": ["<hex>", ...], "scopes": ["payments:capture", ...]}}`.
//! Login keeps only the SHA-256 of each secret (the secrets are random, 32 bytes or more);
//! more than one hash per client is accepted at once, which is how a secret is rotated with
//! no downtime (add the new hash, move the service to the new secret, remove the old hash).
//! Every scope must be one a service checks ([`scopes::ALL`]); the audience of a scope is
//! what comes before its `:`.
//!
//! A client's secrets may also be given to login as themselves, from the same Kubernetes
//! Secret the client reads (the chart does this, so no hash has to be written into values):
//! `LOGIN_CLIENT_SECRET_<ID>` and, during a rotation, `LOGIN_CLIENT_SECRET_<ID>_PREVIOUS`
//! (the id upper-cased, `-` as `_`). Login hashes them at start. A listed client with no
//! secret at all is kept but can never authenticate: it gets no token.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ecom_shared::auth::{Claims, SERVICE_USE};
use ecom_shared::identity::scopes;
use ecom_shared::settings::{Env, SettingsError};
use serde::Deserialize;
use serde_json::json;
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;

use crate::error::LoginError;
use crate::AppState;

/// One calling service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Client {
    /// SHA-256 (hex) of each secret the client may present.
    pub secret_sha256: Vec<String>,
    pub scopes: Vec<String>,
}

/// The clients by id, and the lifetime of the tokens they get.
#[derive(Debug, Clone, Default)]
pub struct Clients {
    pub by_id: BTreeMap<String, Client>,
    pub ttl_seconds: u64,
}

fn invalid(reason: String) -> SettingsError {
    SettingsError::Invalid {
        name: "LOGIN_SERVICE_CLIENTS".into(),
        reason,
    }
}

/// The variable that gives login client `id`'s secret itself.
pub fn secret_var(id: &str) -> String {
    format!(
        "LOGIN_CLIENT_SECRET_{}",
        id.to_ascii_uppercase().replace('-', "_")
    )
}

/// SHA-256 of a client secret, in hex (what `LOGIN_SERVICE_CLIENTS` lists).
pub fn secret_sha256(secret: &str) -> String {
    sha2::Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Clients {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        let ttl_seconds: u64 = env.parse_or("LOGIN_SERVICE_TOKEN_TTL_SECONDS", 300)?;
        if !(10..=3600).contains(&ttl_seconds) {
            return Err(SettingsError::Invalid {
                name: "LOGIN_SERVICE_TOKEN_TTL_SECONDS".into(),
                reason: format!("must be 10 to 3600 (got {ttl_seconds})"),
            });
        }
        let mut by_id = match env.get("LOGIN_SERVICE_CLIENTS") {
            None => BTreeMap::new(),
            Some(raw) => Self::parse(&raw)?,
        };
        for (id, client) in &mut by_id {
            let var = secret_var(id);
            for name in [var.clone(), format!("{var}_PREVIOUS")] {
                if let Some(secret) = env.secret(&name) {
                    if secret.expose().len() < 32 {
                        return Err(SettingsError::Invalid {
                            name,
                            reason: "a client secret is at least 32 characters".into(),
                        });
                    }
                    client.secret_sha256.push(secret_sha256(secret.expose()));
                }
            }
        }
        Ok(Self { by_id, ttl_seconds })
    }

    pub fn parse(raw: &str) -> Result<BTreeMap<String, Client>, SettingsError> {
        let by_id: BTreeMap<String, Client> = serde_json::from_str(raw).map_err(|e| {
            invalid(format!(
                "expected {{\"<client id>\": {{\"secret_sha256\": [\"<64 hex>\"], \"scopes\": \
                 [\"<audience>:<action>\"]}}}}: {e}"
            ))
        })?;
        for (id, c) in &by_id {
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(invalid(format!("client id {id:?}: letters, digits and -")));
            }
            if let Some(h) = c
                .secret_sha256
                .iter()
                .find(|h| h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Err(invalid(format!(
                    "client {id}: {h:?} is not a SHA-256 in hex (64 digits)"
                )));
            }
            if let Some(s) = c.scopes.iter().find(|s| !scopes::ALL.contains(&s.as_str())) {
                return Err(invalid(format!(
                    "client {id}: unknown scope {s:?} (known: {})",
                    scopes::ALL.join(", ")
                )));
            }
        }
        Ok(by_id)
    }

    /// The client if `secret` is one of its secrets (compared in constant time).
    fn authenticate(&self, id: &str, secret: &str) -> Option<&Client> {
        let presented = secret_sha256(secret);
        let client = self.by_id.get(id)?;
        let mut ok = false;
        for h in &client.secret_sha256 {
            ok |= bool::from(
                h.to_ascii_lowercase()
                    .as_bytes()
                    .ct_eq(presented.as_bytes()),
            );
        }
        ok.then_some(client)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub client_id: String,
    pub client_secret: String,
    /// The service the token is for (`payments`, `inventory`).
    pub audience: String,
    /// Space-separated scopes wanted (all the client's scopes for the audience when left out).
    #[serde(default, deserialize_with = "ecom_shared::openapi::not_null")]
    pub scope: Option<String>,
}

// The secret never reaches a log line.
impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("client_id", &self.client_id)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// The scopes granted: those asked for (every one allowed), or all the allowed ones.
fn grant(client: &Client, audience: &str, asked: Option<&str>) -> Result<Vec<String>, LoginError> {
    let allowed: Vec<&str> = client
        .scopes
        .iter()
        .map(String::as_str)
        .filter(|s| scopes::audience(s) == audience)
        .collect();
    let granted: Vec<String> = match asked {
        Some(asked) => {
            let asked: Vec<&str> = asked.split_whitespace().collect();
            if let Some(s) = asked.iter().find(|s| !allowed.contains(s)) {
                return Err(LoginError::ScopeRefused(format!(
                    "this client may not have {s} for {audience}"
                )));
            }
            asked.into_iter().map(str::to_string).collect()
        }
        None => allowed.into_iter().map(str::to_string).collect(),
    };
    if granted.is_empty() {
        return Err(LoginError::ScopeRefused(format!(
            "this client has no scope for {audience}"
        )));
    }
    Ok(granted)
}

/// `POST /v1/service-tokens`: a calling service's token for one audience.
pub async fn issue(
    State(st): State<AppState>,
    Json(req): Json<TokenRequest>,
) -> Result<Response, LoginError> {
    let keys = crate::api::local_only(&st)?;
    let Some(client) = st.clients.authenticate(&req.client_id, &req.client_secret) else {
        st.kit.metrics.incr("login_service_token_refusals_total", 1);
        tracing::warn!(client = %req.client_id, "service token refused: unknown client or wrong secret");
        return Err(LoginError::BadClient);
    };
    let granted = grant(client, &req.audience, req.scope.as_deref()).inspect_err(|_| {
        st.kit.metrics.incr("login_service_token_refusals_total", 1);
        tracing::warn!(client = %req.client_id, audience = %req.audience, "service token refused: scope");
    })?;
    let now = ecom_shared::unix_now();
    let ttl = st.clients.ttl_seconds;
    let scope = granted.join(" ");
    let claims = Claims {
        sub: format!("svc:{}", req.client_id),
        exp: now + ttl,
        iat: now,
        iss: Some(st.cfg.issuer.clone()),
        aud: Some(req.audience.clone()),
        token_use: Some(SERVICE_USE.into()),
        scope: Some(scope.clone()),
        client_id: Some(req.client_id.clone()),
        jti: Some(uuid::Uuid::new_v4().simple().to_string()),
        ..Claims::default()
    };
    let token = keys
        .signer()?
        .sign(&claims)
        .map_err(|e| LoginError::Keys(e.to_string()))?;
    st.kit.metrics.incr("login_service_tokens_total", 1);
    tracing::info!(client = %req.client_id, audience = %req.audience, %scope, jti = claims.jti.as_deref().unwrap_or(""), "service token issued");
    Ok(crate::api::no_store(json!({
        "access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": scope,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clients(json: &str) -> Clients {
        Clients {
            by_id: Clients::parse(json).expect("clients"),
            ttl_seconds: 300,
        }
    }

    #[test]
    fn a_client_has_several_secrets_and_only_its_own_scopes() {
        let (a, b) = (secret_sha256("old-secret"), secret_sha256("new-secret"));
        let c = clients(&format!(
            r#"{{"orders": {{"secret_sha256": ["{a}", "{}"], "scopes": ["payments:capture", "inventory:write"]}}}}"#,
            b.to_uppercase()
        ));
        assert!(c.authenticate("orders", "old-secret").is_some());
        assert!(c.authenticate("orders", "new-secret").is_some());
        assert!(c.authenticate("orders", "other").is_none());
        assert!(c.authenticate("frontend", "old-secret").is_none());
        let orders = c.authenticate("orders", "new-secret").expect("client");
        assert_eq!(
            grant(orders, "payments", None).expect("granted"),
            ["payments:capture"]
        );
        assert!(grant(orders, "payments", Some("payments:refund")).is_err());
        assert!(grant(orders, "catalog", None).is_err());
    }

    #[test]
    fn bad_configuration_is_named() {
        for bad in [
            "[]",
            r#"{"orders": {"secret_sha256": ["abc"], "scopes": []}}"#,
            &format!(
                r#"{{"orders": {{"secret_sha256": ["{}"], "scopes": ["payments:everything"]}}}}"#,
                secret_sha256("x")
            ),
        ] {
            let err = Clients::parse(bad).expect_err(bad);
            assert!(err.to_string().contains("LOGIN_SERVICE_CLIENTS"), "{err}");
        }
    }

    #[test]
    fn secrets_given_as_themselves_are_hashed_and_a_client_without_one_gets_nothing() {
        let (new, old) = ("n".repeat(40), "o".repeat(40));
        let listed = r#"{"orders": {"secret_sha256": [], "scopes": ["payments:capture"]},
                         "admin-tool": {"secret_sha256": [], "scopes": ["inventory:write"]}}"#;
        let c = Clients::from_env(&Env::from_pairs([
            ("LOGIN_SERVICE_CLIENTS", listed),
            ("LOGIN_CLIENT_SECRET_ORDERS", new.as_str()),
            ("LOGIN_CLIENT_SECRET_ORDERS_PREVIOUS", old.as_str()),
        ]))
        .expect("clients");
        assert!(c.authenticate("orders", &new).is_some());
        assert!(c.authenticate("orders", &old).is_some(), "rotation: both");
        assert!(c.authenticate("orders", "").is_none());
        assert!(
            c.authenticate("admin-tool", &new).is_none(),
            "no secret, no token"
        );
        assert_eq!(secret_var("admin-tool"), "LOGIN_CLIENT_SECRET_ADMIN_TOOL");

        let err = Clients::from_env(&Env::from_pairs([
            ("LOGIN_SERVICE_CLIENTS", listed),
            ("LOGIN_CLIENT_SECRET_ORDERS", "short"),
        ]))
        .expect_err("a short secret");
        assert!(
            err.to_string().contains("LOGIN_CLIENT_SECRET_ORDERS"),
            "{err}"
        );
        assert!(
            !err.to_string().contains("short"),
            "the value is never shown: {err}"
        );
    }
}
