use axum::response::{IntoResponse, Response};
use ecom_shared::Problem;

#[derive(Debug, thiserror::Error)]
pub enum PaymentsError {
    #[error("{0}")]
    InvalidCard(String),
    #[error("{0}")]
    Invalid(String),
    #[error("unknown payment method token")]
    UnknownToken,
    #[error("payment {0} not found")]
    NotFound(uuid::Uuid),
    #[error("payment is {status}; cannot {action}")]
    WrongState { status: String, action: String },
    #[error("Idempotency-Key was already used with a different request")]
    KeyReused,
    #[error("the refund is more than is left to refund ({left} in minor units)")]
    RefundTooLarge { left: i64 },
    #[error("challenge_id is not this payment's challenge")]
    ChallengeMismatch,
    #[error("Idempotency-Key header is required (1-200 printable ASCII characters, no spaces)")]
    MissingKey,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<&PaymentsError> for Problem {
    fn from(e: &PaymentsError) -> Self {
        match e {
            PaymentsError::InvalidCard(_) => Problem::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-card",
                "Invalid card",
            )
            .detail(e.to_string()),
            PaymentsError::Invalid(_)
            | PaymentsError::UnknownToken
            | PaymentsError::MissingKey
            | PaymentsError::ChallengeMismatch => Problem::validation(e.to_string()),
            PaymentsError::NotFound(_) => Problem::not_found(e.to_string()),
            PaymentsError::WrongState { .. } => Problem::conflict("wrong-state", e.to_string()),
            PaymentsError::RefundTooLarge { .. } => {
                Problem::conflict("refund-too-large", e.to_string())
            }
            PaymentsError::KeyReused => Problem::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused",
            )
            .detail(e.to_string()),
            PaymentsError::Db(db) => ecom_shared::problem::from_db_error(db),
        }
    }
}

impl IntoResponse for PaymentsError {
    fn into_response(self) -> Response {
        Problem::from(&self).into_response()
    }
}
