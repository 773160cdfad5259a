//! JWT verification against a JWKS (login's or Cognito's), Ed25519 signing keys for login,
//! and the user extractor [`AuthUser`]. Service identities (the [`crate::identity`]
//! extractors) are verified by the same [`Verifier`].

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::signature::KeyPair as _;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::problem::Problem;
use crate::settings::{AuthSettings, JwksSource};

const REFETCH_AFTER: Duration = Duration::from_secs(1);

/// The issuer tokens must name when `JWT_ISSUER` is not set: login's.
pub const DEFAULT_ISSUER: &str = "ecom-login";

/// `token_use` of a user's access token.
pub const ACCESS_USE: &str = "access";
/// `token_use` of a platform service's token (login's client-credentials grant): never
/// accepted where a user's token is, and the other way round.
pub const SERVICE_USE: &str = "service";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    MissingToken,
    #[error("token verification is not configured")]
    NotConfigured,
    #[error("token has no key id or an unknown one")]
    UnknownKey,
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("could not fetch the JWKS: {0}")]
    Fetch(String),
    #[error("invalid JWKS: {0}")]
    BadJwks(String),
    #[error("could not make a signing key")]
    KeyGen,
    #[error("missing role {0}")]
    MissingRole(String),
    #[error("not an access token (token_use must be \"access\")")]
    NotAccess,
    #[error("not a service token (token_use must be \"service\")")]
    NotService,
    #[error("the token is for another audience")]
    WrongAudience,
    #[error("the token lacks the scope {0}")]
    MissingScope(String),
}

impl From<AuthError> for Problem {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::MissingRole(_) | AuthError::MissingScope(_) => {
                Problem::forbidden(e.to_string())
            }
            AuthError::NotService => Problem::forbidden("this route is for platform services"),
            AuthError::Fetch(_) | AuthError::BadJwks(_) => {
                tracing::error!(error = %e, "jwks unavailable");
                Problem::unavailable("token keys are unavailable")
            }
            // Which check failed (and the JWT library's words for it) is logged, not sent.
            _ => {
                tracing::debug!(error = %e, "token refused");
                Problem::unauthorized("the bearer token is missing, invalid or expired")
            }
        }
    }
}

/// Claims the services read. Cognito's `cognito:groups` is read as `roles`. Service tokens
/// carry `scope` (space-separated) and `client_id`, and `token_use` is `service`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    #[serde(default)]
    pub iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, alias = "cognito:groups")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_use: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// A service token's own id (each issued token is distinct, and can be named in logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl Claims {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The token's scopes (`scope`, space-separated).
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.as_deref().unwrap_or("").split_whitespace()
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }

    fn is_use(&self, token_use: &str) -> bool {
        self.token_use.as_deref() == Some(token_use)
    }
}

/// A verified token: a user's access token or a platform service's token.
#[derive(Debug, Clone)]
pub enum Verified {
    User(Claims),
    Service(Claims),
}

struct Cache {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    fetched: Option<Instant>,
}

/// Verifies bearer tokens against a key set that is refreshed when an unknown `kid` shows up.
pub struct Verifier {
    source: JwksSource,
    issuer: Option<String>,
    audience: Option<String>,
    http: reqwest::Client,
    cache: RwLock<Cache>,
    fetch_lock: tokio::sync::Mutex<()>,
    /// Tokens that passed verification, by the SHA-256 of the token: presented again (a
    /// client's next request) before they expire, they skip the signature check, which is
    /// most of the cost of verifying (Ed25519: about a tenth of orders' CPU per checkout).
    /// Emptied whenever the key set changes, so a key taken out of the set takes its tokens
    /// with it.
    verified: std::sync::Mutex<HashMap<[u8; 32], Claims>>,
}

/// Most verified tokens remembered; the memory is emptied when it is full.
const VERIFIED_MAX: usize = 10_000;

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn decode_set(set: &JwkSet) -> Result<HashMap<String, (DecodingKey, Algorithm)>, AuthError> {
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        let alg = match &jwk.algorithm {
            AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            _ => continue,
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|e| AuthError::BadJwks(e.to_string()))?;
        keys.insert(kid, (key, alg));
    }
    Ok(keys)
}

impl Verifier {
    pub fn new(settings: &AuthSettings, http: reqwest::Client) -> Result<Self, AuthError> {
        let keys = match &settings.jwks {
            JwksSource::Inline(json) => {
                let set: JwkSet =
                    serde_json::from_str(json).map_err(|e| AuthError::BadJwks(e.to_string()))?;
                decode_set(&set)?
            }
            _ => HashMap::new(),
        };
        Ok(Self {
            source: settings.jwks.clone(),
            // Every token is checked for its issuer: login's own unless another is configured.
            issuer: Some(
                settings
                    .issuer
                    .clone()
                    .unwrap_or_else(|| DEFAULT_ISSUER.to_string()),
            ),
            audience: settings.audience.clone(),
            http,
            cache: RwLock::new(Cache {
                keys,
                fetched: None,
            }),
            fetch_lock: tokio::sync::Mutex::new(()),
            verified: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// Replaces the key set (login, which owns the keys, calls this after a rotation).
    pub fn set_jwks(&self, set: &JwkSet) -> Result<(), AuthError> {
        let keys = decode_set(set)?;
        if let Ok(mut c) = self.cache.write() {
            c.keys = keys;
            c.fetched = Some(Instant::now());
        }
        if let Ok(mut v) = self.verified.lock() {
            v.clear();
        }
        Ok(())
    }

    fn lookup(&self, kid: &str) -> Option<(DecodingKey, Algorithm)> {
        self.cache.read().ok()?.keys.get(kid).cloned()
    }

    async fn refresh(&self, url: &str) -> Result<(), AuthError> {
        let _guard = self.fetch_lock.lock().await;
        let recent = self
            .cache
            .read()
            .ok()
            .and_then(|c| c.fetched)
            .is_some_and(|t| t.elapsed() < REFETCH_AFTER);
        if recent {
            return Ok(());
        }
        let set: JwkSet = self
            .http
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| AuthError::Fetch(e.to_string()))?
            .json()
            .await
            .map_err(|e| AuthError::BadJwks(e.to_string()))?;
        self.set_jwks(&set)
    }

    /// A user's access token (never a service token), for this service's audience when one
    /// is configured (`JWT_AUDIENCE`).
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let claims = self.decode(token).await?;
        self.check_user(claims)
    }

    /// A platform service's token whose audience is `audience` (the service's own name).
    pub async fn verify_service(&self, token: &str, audience: &str) -> Result<Claims, AuthError> {
        let claims = self.decode(token).await?;
        check_service(claims, audience)
    }

    /// Either kind of token, each checked as its own kind is.
    pub async fn verify_any(&self, token: &str, audience: &str) -> Result<Verified, AuthError> {
        let claims = self.decode(token).await?;
        if claims.is_use(SERVICE_USE) {
            return check_service(claims, audience).map(Verified::Service);
        }
        self.check_user(claims).map(Verified::User)
    }

    fn check_user(&self, claims: Claims) -> Result<Claims, AuthError> {
        // Only access tokens authorise calls (not Cognito's id tokens, not service tokens).
        if !claims.is_use(ACCESS_USE) {
            return Err(AuthError::NotAccess);
        }
        // A token that names an audience must name this one (Cognito's access tokens name
        // none: their client is `client_id`).
        if let (Some(want), Some(aud)) = (&self.audience, &claims.aud) {
            if aud != want {
                return Err(AuthError::WrongAudience);
            }
        }
        Ok(claims)
    }

    /// Signature, expiry and issuer; verified tokens are remembered until they expire.
    async fn decode(&self, token: &str) -> Result<Claims, AuthError> {
        if self.source == JwksSource::None {
            return Err(AuthError::NotConfigured);
        }
        let digest: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        if let Some(c) = self
            .verified
            .lock()
            .ok()
            .and_then(|v| v.get(&digest).cloned())
        {
            if c.exp > unix_now() {
                return Ok(c);
            }
        }
        let header = jsonwebtoken::decode_header(token)?;
        let kid = header.kid.ok_or(AuthError::UnknownKey)?;
        let found = match self.lookup(&kid) {
            Some(k) => Some(k),
            None => {
                if let JwksSource::Url(url) = &self.source {
                    self.refresh(url).await?;
                }
                self.lookup(&kid)
            }
        };
        let (key, alg) = found.ok_or(AuthError::UnknownKey)?;
        let mut validation = Validation::new(alg);
        validation.leeway = 30;
        // The audience is checked by kind (a user's against JWT_AUDIENCE, a service's against
        // the service's own name), after the signature.
        validation.validate_aud = false;
        if let Some(iss) = &self.issuer {
            validation.set_issuer(&[iss]);
        }
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)?;
        if let Ok(mut v) = self.verified.lock() {
            if v.len() >= VERIFIED_MAX {
                v.clear();
            }
            v.insert(digest, data.claims.clone());
        }
        Ok(data.claims)
    }
}

fn check_service(claims: Claims, audience: &str) -> Result<Claims, AuthError> {
    if !claims.is_use(SERVICE_USE) {
        return Err(AuthError::NotService);
    }
    if claims.aud.as_deref() != Some(audience) {
        return Err(AuthError::WrongAudience);
    }
    Ok(claims)
}

/// An Ed25519 signing key with its key id (login's token keys; tests mint tokens with it).
pub struct SigningKey {
    pub kid: String,
    pkcs8: Vec<u8>,
    public: Vec<u8>,
    encoding: EncodingKey,
}

impl SigningKey {
    pub fn generate(kid: &str) -> Result<Self, AuthError> {
        let rng = ring::rand::SystemRandom::new();
        let doc =
            ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| AuthError::KeyGen)?;
        Self::from_pkcs8(kid, doc.as_ref())
    }

    pub fn from_pkcs8(kid: &str, der: &[u8]) -> Result<Self, AuthError> {
        let pair =
            ring::signature::Ed25519KeyPair::from_pkcs8(der).map_err(|_| AuthError::KeyGen)?;
        Ok(Self {
            kid: kid.to_string(),
            pkcs8: der.to_vec(),
            public: pair.public_key().as_ref().to_vec(),
            encoding: EncodingKey::from_ed_der(der),
        })
    }

    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public half as a JWK.
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA",
            "kid": self.kid, "x": URL_SAFE_NO_PAD.encode(&self.public),
        })
    }

    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, AuthError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }
}

/// A JWKS document for the given public keys.
pub fn jwks_document(jwks: &[serde_json::Value]) -> serde_json::Value {
    serde_json::json!({ "keys": jwks })
}

pub fn jwk_set(jwks: &[serde_json::Value]) -> Result<JwkSet, AuthError> {
    serde_json::from_value(jwks_document(jwks)).map_err(|e| AuthError::BadJwks(e.to_string()))
}

/// What the extractors need from a service's state.
pub trait HasAuth {
    fn verifier(&self) -> &Verifier;
    /// The audience service tokens must name to be accepted here: the service's own name.
    fn audience(&self) -> &str;
}

pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    let v = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A signed-in user (verified bearer JWT).
#[derive(Debug, Clone)]
pub struct AuthUser(pub Claims);

impl AuthUser {
    pub fn require_role(&self, role: &str) -> Result<(), Problem> {
        if self.0.has_role(role) {
            Ok(())
        } else {
            Err(AuthError::MissingRole(role.to_string()).into())
        }
    }
}

impl<S: HasAuth + Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(AuthError::MissingToken)?;
        Ok(AuthUser(state.verifier().verify(token).await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    fn claims(exp: u64) -> Claims {
        Claims {
            sub: "u1".into(),
            exp,
            iat: now(),
            iss: Some("ecom-login".into()),
            aud: None,
            email: None,
            roles: vec!["admin".into()],
            token_use: Some("access".into()),
            ..Claims::default()
        }
    }

    fn verifier(keys: &[&SigningKey]) -> Verifier {
        let jwks: Vec<_> = keys.iter().map(|k| k.jwk()).collect();
        let settings = AuthSettings {
            jwks: JwksSource::Inline(jwks_document(&jwks).to_string()),
            issuer: Some("ecom-login".into()),
            audience: None,
        };
        Verifier::new(&settings, reqwest::Client::new()).expect("verifier")
    }

    #[tokio::test]
    async fn verifies_eddsa_tokens_by_kid() {
        let k1 = SigningKey::generate("k1").expect("key");
        let k2 = SigningKey::generate("k2").expect("key");
        let v = verifier(&[&k1, &k2]);
        let t = k2.sign(&claims(now() + 60)).expect("sign");
        let c = v.verify(&t).await.expect("valid");
        assert_eq!(c.sub, "u1");
        assert!(c.has_role("admin"));
    }

    #[tokio::test]
    async fn rejects_expired_unknown_and_forged_tokens() {
        let k1 = SigningKey::generate("k1").expect("key");
        let v = verifier(&[&k1]);
        let expired = k1.sign(&claims(now() - 3600)).expect("sign");
        assert!(matches!(
            v.verify(&expired).await,
            Err(AuthError::Invalid(_))
        ));
        let other = SigningKey::generate("k9").expect("key");
        let unknown = other.sign(&claims(now() + 60)).expect("sign");
        assert!(matches!(
            v.verify(&unknown).await,
            Err(AuthError::UnknownKey)
        ));
        // Same kid, different key: the signature fails.
        let forger = SigningKey::generate("k1").expect("key");
        let forged = forger.sign(&claims(now() + 60)).expect("sign");
        assert!(matches!(
            v.verify(&forged).await,
            Err(AuthError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn a_verified_token_is_refused_once_its_key_leaves_the_set() {
        let k1 = SigningKey::generate("k1").expect("key");
        let k2 = SigningKey::generate("k2").expect("key");
        let v = verifier(&[&k1, &k2]);
        let t = k1.sign(&claims(now() + 600)).expect("sign");
        for _ in 0..2 {
            assert_eq!(v.verify(&t).await.expect("valid").sub, "u1");
        }
        // k1 is rotated out: its tokens, verified before or not, are refused from now on.
        let set: JwkSet = serde_json::from_value(jwks_document(&[k2.jwk()])).expect("jwks");
        v.set_jwks(&set).expect("set");
        assert!(matches!(v.verify(&t).await, Err(AuthError::UnknownKey)));
        let t2 = k2.sign(&claims(now() + 600)).expect("sign");
        assert!(v.verify(&t2).await.is_ok());
    }

    #[test]
    fn cognito_groups_are_roles() {
        let c: Claims = serde_json::from_value(serde_json::json!({
            "sub": "abc", "exp": 1, "cognito:groups": ["admin"], "token_use": "access"
        }))
        .expect("claims");
        assert!(c.has_role("admin"));
    }
}
