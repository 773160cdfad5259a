//! Per-route token-bucket rate limiting, keyed by client address.
//!
//! Behind a load balancer every connection comes from the balancer, so the client is read from
//! `X-Forwarded-For`, but only for connections from a trusted proxy (`TRUSTED_PROXIES`), and
//! only as far as the proxies vouch for it: the right-most address that is not a trusted proxy.
//! Addresses left of that are whatever the client sent, and a client could pick a fresh one per
//! request to dodge its limit.
//!
//! A limited route answers `429` with a problem body and `Retry-After`, and every refusal is
//! counted in `http_requests_throttled_per_second`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
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
    trusted: Vec<ipnet::IpNet>,
}

impl RateLimiter {
    pub fn new(route: &str, per_second: f64, burst: f64, metrics: Arc<Metrics>) -> Self {
        Self {
            route: route.to_string(),
            per_second,
            burst,
            buckets: Mutex::new(HashMap::new()),
            metrics,
            trusted: Vec::new(),
        }
    }

    /// Believes `X-Forwarded-For` from these proxies (see the module's documentation).
    pub fn trusting(mut self, proxies: Vec<ipnet::IpNet>) -> Arc<Self> {
        self.trusted = proxies;
        Arc::new(self)
    }

    /// The client a request is counted against.
    pub fn client(&self, peer: Option<IpAddr>, forwarded_for: &[&str]) -> Option<IpAddr> {
        let trusted = |ip: &IpAddr| self.trusted.iter().any(|n| n.contains(ip));
        let mut client = peer?;
        if !trusted(&client) {
            return Some(client);
        }
        // Right to left: each hop was added by the proxy before it, trusted so far.
        for hop in forwarded_for
            .iter()
            .rev()
            .flat_map(|h| h.rsplit(','))
            .map(str::trim)
        {
            let Ok(ip) = hop.parse::<IpAddr>() else {
                // Not an address: nothing left of it can be believed.
                break;
            };
            client = ip;
            if !trusted(&ip) {
                break;
            }
        }
        Some(client)
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

fn client_key(limiter: &RateLimiter, req: &Request) -> String {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip());
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    limiter
        .client(peer, &forwarded)
        .map_or_else(|| "-".to_string(), |ip| ip.to_string())
}

/// Middleware for `route_layer(from_fn_with_state(limiter, ratelimit::enforce))`.
pub async fn enforce(
    State(limiter): State<Arc<RateLimiter>>,
    req: Request,
    next: Next,
) -> Response {
    match limiter.check(&client_key(&limiter, &req)) {
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
        let l = RateLimiter::new("/x", 1.0, 3.0, Arc::new(Metrics::new("t"))).trusting(vec![]);
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_ok());
        assert_eq!(l.check("a"), Err(1));
        assert!(l.check("b").is_ok(), "keys are independent");
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("address"))
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = vec!["10.0.0.0/16".parse().unwrap(), "fd00::/8".parse().unwrap()];
        let l = RateLimiter::new("/x", 1.0, 1.0, Arc::new(Metrics::new("t"))).trusting(trusted);
        // From the balancer: the address it saw.
        assert_eq!(
            l.client(ip("10.0.1.5"), &["203.0.113.9"]),
            ip("203.0.113.9")
        );
        // A client that sends its own header gets it kept on the left, not believed.
        assert_eq!(
            l.client(ip("10.0.1.5"), &["1.2.3.4, 203.0.113.9"]),
            ip("203.0.113.9")
        );
        // Through two trusted hops, and a header split over two lines.
        assert_eq!(
            l.client(ip("10.0.1.5"), &["198.51.100.7", "10.0.2.2"]),
            ip("198.51.100.7")
        );
        assert_eq!(l.client(ip("fd00::1"), &["2001:db8::7"]), ip("2001:db8::7"));
        // From anywhere else, the header is ignored.
        assert_eq!(
            l.client(ip("203.0.113.50"), &["1.2.3.4"]),
            ip("203.0.113.50")
        );
        // A trusted proxy with no header, or one that is all proxies: the last hop seen.
        assert_eq!(l.client(ip("10.0.1.5"), &[]), ip("10.0.1.5"));
        assert_eq!(l.client(ip("10.0.1.5"), &["10.0.3.3"]), ip("10.0.3.3"));
        // Garbage stops the walk at the last address that could be believed.
        assert_eq!(
            l.client(ip("10.0.1.5"), &["203.0.113.9, junk, 10.0.3.3"]),
            ip("10.0.3.3")
        );
        // No proxies trusted (the default): the header never counts.
        let plain = RateLimiter::new("/x", 1.0, 1.0, Arc::new(Metrics::new("t"))).trusting(vec![]);
        assert_eq!(plain.client(ip("10.0.1.5"), &["1.2.3.4"]), ip("10.0.1.5"));
    }
}
