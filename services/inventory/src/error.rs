use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ecom_shared::Problem;

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("not enough stock for {sku}: {available} available, {requested} requested")]
    OutOfStock {
        sku: String,
        available: i64,
        requested: i64,
    },
    #[error("unknown SKU {0}")]
    UnknownSku(String),
    #[error("reservation {0} not found")]
    ReservationNotFound(uuid::Uuid),
    #[error("reservation {id} is already {status}")]
    WrongState { id: uuid::Uuid, status: String },
    #[error("{0}")]
    Invalid(String),
    #[error("this needs the service token or the admin role")]
    Forbidden,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<&InventoryError> for Problem {
    fn from(e: &InventoryError) -> Self {
        match e {
            InventoryError::OutOfStock { .. } => {
                Problem::new(StatusCode::CONFLICT, "out-of-stock", "Out of stock")
                    .detail(e.to_string())
            }
            InventoryError::UnknownSku(_) | InventoryError::ReservationNotFound(_) => {
                Problem::not_found(e.to_string())
            }
            InventoryError::WrongState { status, .. } => {
                Problem::conflict(&format!("reservation-{status}"), e.to_string())
            }
            InventoryError::Invalid(msg) => Problem::validation(msg.clone()),
            InventoryError::Forbidden => Problem::forbidden(e.to_string()),
            InventoryError::Db(db) => ecom_shared::problem::from_db_error(db),
        }
    }
}

impl IntoResponse for InventoryError {
    fn into_response(self) -> Response {
        Problem::from(&self).into_response()
    }
}
