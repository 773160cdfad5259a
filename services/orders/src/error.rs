use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ecom_shared::client::CallError;
use ecom_shared::Problem;

#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    #[error("{0}")]
    Invalid(String),
    #[error("Idempotency-Key header is required (1-200 printable ASCII characters, no spaces)")]
    MissingKey,
    #[error("Idempotency-Key was already used with a different request")]
    KeyReused,
    #[error("a checkout with this Idempotency-Key is still in progress")]
    InProgress,
    #[error("order not found")]
    NotFound,
    #[error("this order has no 3-D Secure challenge to answer")]
    NoAction,
    #[error("unknown SKU {0}")]
    UnknownSku(String),
    #[error("the order comes to more than one payment may carry (at most {max} minor units)")]
    TooLarge { max: i64 },
    #[error("{0}")]
    Dependency(#[from] CallError),
    #[error("webhook rejected: {0}")]
    Webhook(String),
    #[error("webhooks are not configured (PAYMENTS_WEBHOOK_SECRET)")]
    WebhookNotConfigured,
    #[error("saga stopped by a fail point after {0} (tests only)")]
    Crashed(&'static str),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// What a client is told about a failed call to another service: who and how it answered,
/// never the transport's text (it names internal addresses) or the other side's body. The
/// whole error is logged.
pub fn public_call_error(e: &CallError) -> String {
    tracing::warn!(error = %e, "dependency call failed");
    match e {
        CallError::Status {
            service,
            status,
            problem,
        } => match problem.as_deref() {
            Some(p) if is_code(&p.code) => format!("{service} answered {status} ({})", p.code),
            _ => format!("{service} answered {status}"),
        },
        CallError::Transport { service, .. } | CallError::Decode { service, .. } => {
            format!("{service} is unavailable")
        }
    }
}

fn is_code(c: &str) -> bool {
    !c.is_empty() && c.len() <= 64 && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
}

impl From<&OrdersError> for Problem {
    fn from(e: &OrdersError) -> Self {
        match e {
            OrdersError::Invalid(_) | OrdersError::MissingKey | OrdersError::UnknownSku(_) => {
                Problem::validation(e.to_string())
            }
            OrdersError::TooLarge { .. } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "order-too-large",
                "The order is too large",
            )
            .detail(e.to_string()),
            OrdersError::KeyReused => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused",
            )
            .detail(e.to_string()),
            OrdersError::InProgress => Problem::conflict("in-progress", e.to_string()),
            OrdersError::NotFound => Problem::not_found(e.to_string()),
            OrdersError::NoAction => Problem::conflict("no-action", e.to_string()),
            OrdersError::Dependency(c) => Problem::unavailable(public_call_error(c)),
            OrdersError::Webhook(_) => Problem::unauthorized(e.to_string()),
            OrdersError::WebhookNotConfigured => Problem::unavailable(e.to_string()),
            OrdersError::Crashed(_) => Problem::internal(),
            OrdersError::Db(db) => ecom_shared::problem::from_db_error(db),
        }
    }
}

impl IntoResponse for OrdersError {
    fn into_response(self) -> Response {
        Problem::from(&self).into_response()
    }
}
