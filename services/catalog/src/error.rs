use axum::response::{IntoResponse, Response};
use ecom_shared::Problem;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("this needs the admin role")]
    Forbidden,
    #[error("invalid cursor")]
    BadCursor,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Lookup(#[from] crate::lookup::LookupError),
    /// What an identical read's statement met, shared with the reads it answered.
    #[error("{}", .0.title)]
    Shared(Problem),
}

impl From<&CatalogError> for Problem {
    fn from(e: &CatalogError) -> Self {
        match e {
            CatalogError::Invalid(_) | CatalogError::BadCursor => {
                Problem::validation(e.to_string())
            }
            CatalogError::Forbidden => Problem::forbidden(e.to_string()),
            CatalogError::NotFound(_) => Problem::not_found(e.to_string()),
            CatalogError::Db(db) => ecom_shared::problem::from_db_error(db),
            CatalogError::Lookup(_) => Problem::internal(),
            CatalogError::Shared(p) => p.clone(),
        }
    }
}

impl IntoResponse for CatalogError {
    fn into_response(self) -> Response {
        Problem::from(&self).into_response()
    }
}
