//! The kit every ecomctl service is built on.
//!
//! - [`settings`]: typed settings from the environment, with errors that name the variable.
//! - [`telemetry`]: JSON logs with a request id per request; access metrics.
//! - [`app`]: the [`app::Kit`], `/healthz` `/readyz` `/metrics` `/openapi.json`, graceful shutdown.
//! - [`service`]: a service's process from start to stop (`run()` and its [`RunError`]).
//! - [`problem`]: `application/problem+json` errors; [`edge`]: every error answered as one,
//!   `nosniff` on every answer.
//! - [`auth`]: JWT verification against a JWKS, Ed25519 signing keys, the user extractor.
//! - [`identity`]: per-service identities: the service-caller extractors and the scopes;
//!   [`credentials`]: the calling side (this service's tokens from login).
//! - [`ratelimit`]: per-route token buckets.
//! - [`client`]: authenticated service-to-service calls; [`webhook`]: HMAC signatures.
//! - [`testing`]: a fresh database per test and request helpers.

pub mod app;
pub mod auth;
pub mod client;
pub mod credentials;
pub mod edge;
pub mod identity;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod ratelimit;
pub mod service;
pub mod settings;
pub mod telemetry;
pub mod testing;
pub mod webhook;

pub use app::{HasKit, Kit, KitError};
pub use problem::Problem;
pub use service::RunError;

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
