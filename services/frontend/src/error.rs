//! What goes wrong while serving a page, and the friendly page each answer shows.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::backend::BackendError;
use crate::views;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("not found")]
    NotFound,
    #[error("the form had expired or did not come from this shop")]
    Csrf,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("session store: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

impl PageError {
    /// A 404 from the service behind is a 404 here too.
    pub fn from_lookup(e: BackendError) -> Self {
        if e.status() == Some(404) {
            PageError::NotFound
        } else {
            PageError::Backend(e)
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, text) = match &self {
            PageError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "We could not find that page. It may have moved, or the product may no longer be sold.",
            ),
            PageError::Csrf => (
                StatusCode::FORBIDDEN,
                "Please try again",
                "That form had expired or did not come from this shop, so nothing was changed. Go back, reload the page and send it again.",
            ),
            PageError::BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                "Something in that request was not right",
                "Nothing was changed. Go back and check what you entered.",
            ),
            PageError::Backend(BackendError::Status { status: 429, .. }) => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests",
                "You are going a little fast for us. Wait a few seconds and try again.",
            ),
            PageError::Backend(_) | PageError::Database(_) | PageError::Internal(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "We are having trouble right now",
                "Part of the shop is not answering. Nothing was charged. Please try again in a moment.",
            ),
        };
        if status.is_server_error() {
            tracing::error!(error = %self, "page failed");
        } else {
            tracing::info!(error = %self, status = status.as_u16(), "page refused");
        }
        let mut res = views::error_page(status, title, text).into_response();
        *res.status_mut() = status;
        res
    }
}
