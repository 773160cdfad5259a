//! JSON logs through `tracing`, a request id on every request, access logs and metrics.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::metrics::Metrics;

pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Installs the JSON log subscriber once; later calls (tests) are ignored.
pub fn init_logs(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .try_init();
}

/// The request id of the current request, available as an extension to handlers.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn valid_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    (!s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'))
    .then(|| s.to_string())
}

/// Middleware: takes or makes a request id, logs the request in its span, records metrics and
/// echoes the id in the response.
pub async fn observe(
    State(metrics): State<Arc<Metrics>>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(valid_request_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = req.method().as_str().to_string();
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let mut res = next.run(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = res.status().as_u16();
    metrics.observe(&method, &route, status, elapsed);
    let quiet = matches!(route.as_str(), "/healthz" | "/readyz" | "/metrics");
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(
                status,
                elapsed_ms = elapsed.as_secs_f64() * 1e3,
                "request failed"
            );
        } else if !quiet {
            tracing::debug!(status, elapsed_ms = elapsed.as_secs_f64() * 1e3, "request");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    res
}
