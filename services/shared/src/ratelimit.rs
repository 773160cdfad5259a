//! Per-route token-bucket rate limiting, keyed by client address.
//!
//! A limited route answers `429` with a problem body and `Retry-After`, and every refusal is
//! counted in `http_requests_throttled_per_second`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::metrics::Metrics;
use crate::problem::Problem;

const MAX_KEYS: usize = 100_000;

struct Bucket {
    tokens: f64,
    last: Instant,
}

pub struct RateLimiter {
    route: String,
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
    metrics: Arc<Metrics>,
}

impl RateLimiter {
    pub fn new(route: &str, per_second: f64, burst: f64, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            route: route.to_string(),
            per_second,
            burst,
            buckets: Mutex::new(HashMap::new()),
            metrics,
        })
    }

    /// Takes one token for `key`; `Err(seconds)` says how long until one is available.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() >= MAX_KEYS && !buckets.contains_key(key) {
            // Forget idle clients rather than grow without bound.
            buckets.retain(|_, b| {
                now.duration_since(b.last).as_secs_f64() * self.per_second < self.burst
            });
        }
        let b = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let refill = now.duration_since(b.last).as_secs_f64() * self.per_second;
        b.tokens = (b.tokens + refill).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

fn client_key(req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip().to_string())
        .unwrap_or_else(|| "-".to_string())
}

/// Middleware for `route_layer(from_fn_with_state(limiter, ratelimit::enforce))`.
pub async fn enforce(
    State(limiter): State<Arc<RateLimiter>>,
    req: Request,
    next: Next,
) -> Response {
    match limiter.check(&client_key(&req)) {
        Ok(()) => next.run(req).await,
        Err(secs) => {
            limiter.metrics.throttled();
            tracing::warn!(route = %limiter.route, "rate limited");
            let mut p = Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            )
            .detail(format!(
                "{} allows {} requests per second",
                limiter.route, limiter.per_second
            ));
            p.retry_after_seconds = Some(secs);
            p.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refuses() {
        let l = RateLimiter::new("/x", 1.0, 3.0, Arc::new(Metrics::new("t")));
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_ok());
        assert_eq!(l.check("a"), Err(1));
        assert!(l.check("b").is_ok(), "keys are independent");
    }
}
