//! The calling side of per-service identities: a [`TokenSource`] gets this service's token
//! for one audience from login (`POST /v1/service-tokens`, the client-credentials grant, with
//! this service's own client secret), keeps it, and gets the next one before it expires.
//!
//! - One fetch at a time: concurrent callers that need a token wait for the same fetch.
//! - Ahead of time: a token is refreshed once two thirds of its lifetime are over; while a
//!   refresh is under way, or if it fails, callers keep using the current token until it
//!   expires, so no request fails across a refresh (or a brief outage of login).
//! - A call answered 401 drops the token it used (see [`TokenSource::invalidate`]) so the
//!   retry gets a fresh one.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::settings::{ClientSettings, Secret};

/// The token is not used during its last seconds (it could expire on its way).
const EXPIRY_MARGIN: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("login is unreachable for a service token: {0}")]
    Transport(String),
    #[error("login refused a service token for {audience}: status {status}")]
    Refused { audience: String, status: u16 },
    #[error("login's service token answer is unreadable: {0}")]
    Decode(String),
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    expires_in: u64,
}

#[derive(Clone)]
struct Cached {
    token: Secret,
    refresh_at: Instant,
    expires_at: Instant,
}

enum Origin {
    Login {
        http: reqwest::Client,
        url: String,
        client_id: String,
        secret: Secret,
    },
    /// A token given as is (tests): used until it expires, never refreshed.
    Fixed,
}

/// This service's token for one audience.
pub struct TokenSource {
    audience: String,
    origin: Origin,
    cached: Mutex<Option<Cached>>,
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// Tokens for `audience` from login, with this service's client credentials.
    pub fn new(http: reqwest::Client, client: &ClientSettings, audience: &str) -> Self {
        Self {
            audience: audience.to_string(),
            origin: Origin::Login {
                http,
                url: format!(
                    "{}/v1/service-tokens",
                    client.login_url.trim_end_matches('/')
                ),
                client_id: client.id.clone(),
                secret: client.secret.clone(),
            },
            cached: Mutex::new(None),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// One token, used for `ttl` and never refreshed (tests).
    pub fn fixed(audience: &str, token: &str, ttl: Duration) -> Self {
        let now = Instant::now();
        Self {
            audience: audience.to_string(),
            origin: Origin::Fixed,
            cached: Mutex::new(Some(Cached {
                token: Secret::new(token),
                refresh_at: now + ttl,
                expires_at: now + ttl,
            })),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    fn current(&self) -> Option<Cached> {
        self.cached.lock().ok().and_then(|c| c.clone())
    }

    /// A token for the audience: the kept one, or a fresh one from login.
    pub async fn token(&self) -> Result<Secret, CredentialError> {
        let usable = |c: &Cached, now: Instant| now + EXPIRY_MARGIN < c.expires_at;
        if let Some(c) = self.current() {
            let now = Instant::now();
            if now < c.refresh_at {
                return Ok(c.token);
            }
            // Due for refresh but still valid: if another caller is already refreshing, use
            // this one rather than wait.
            if usable(&c, now) {
                if let Ok(guard) = self.fetching.try_lock() {
                    return Ok(self.refresh_holding(guard, c).await);
                }
                return Ok(c.token);
            }
        }
        let guard = self.fetching.lock().await;
        // Someone else may have fetched one while this caller waited.
        if let Some(c) = self.current() {
            if Instant::now() < c.refresh_at {
                return Ok(c.token);
            }
        }
        let fetched = self.fetch().await;
        drop(guard);
        fetched
    }

    /// Refreshes while `c` is still valid: a failure keeps `c` (and is logged).
    async fn refresh_holding(&self, guard: tokio::sync::MutexGuard<'_, ()>, c: Cached) -> Secret {
        let fetched = self.fetch().await;
        drop(guard);
        fetched.unwrap_or_else(|e| {
            tracing::warn!(error = %e, audience = %self.audience, "service token refresh failed; the current one is used until it expires");
            c.token
        })
    }

    async fn fetch(&self) -> Result<Secret, CredentialError> {
        let Origin::Login {
            http,
            url,
            client_id,
            secret,
        } = &self.origin
        else {
            return self
                .current()
                .filter(|c| Instant::now() < c.expires_at)
                .map(|c| c.token)
                .ok_or_else(|| CredentialError::Refused {
                    audience: self.audience.clone(),
                    status: 401,
                });
        };
        let asked = Instant::now();
        let body = serde_json::json!({
            "client_id": client_id, "client_secret": secret.expose(), "audience": self.audience,
        });
        let res = http
            .post(url)
            .json(&body)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| CredentialError::Transport(e.without_url().to_string()))?;
        if !res.status().is_success() {
            return Err(CredentialError::Refused {
                audience: self.audience.clone(),
                status: res.status().as_u16(),
            });
        }
        let reply: TokenReply = res
            .json()
            .await
            .map_err(|e| CredentialError::Decode(e.without_url().to_string()))?;
        let life = Duration::from_secs(reply.expires_in);
        let cached = Cached {
            token: Secret::new(reply.access_token),
            refresh_at: asked + life * 2 / 3,
            expires_at: asked + life,
        };
        if let Ok(mut c) = self.cached.lock() {
            *c = Some(cached.clone());
        }
        tracing::debug!(audience = %self.audience, expires_in = reply.expires_in, "service token fetched");
        Ok(cached.token)
    }

    /// Drops `used` if it is still the kept token (the called service refused it), so the
    /// next [`Self::token`] fetches a fresh one.
    pub fn invalidate(&self, used: &Secret) {
        if matches!(self.origin, Origin::Fixed) {
            return;
        }
        if let Ok(mut c) = self.cached.lock() {
            if c.as_ref().is_some_and(|c| c.token == *used) {
                *c = None;
            }
        }
    }
}
