use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ecom_shared::Problem;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("{0}")]
    Invalid(String),
    #[error("email or password is wrong")]
    BadCredentials,
    #[error("too many failed sign-ins; the account is locked for a while")]
    Locked { retry_after: u64 },
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("refresh token is invalid, expired or revoked")]
    BadRefresh,
    #[error("this login runs in Cognito mode: accounts and sign-in are Cognito's")]
    CognitoMode,
    #[error("this needs the admin role")]
    Forbidden,
    #[error("unknown client or wrong client secret")]
    BadClient,
    #[error("{0}")]
    ScopeRefused(String),
    #[error("key error: {0}")]
    Keys(String),
    #[error("password hashing failed")]
    Hash,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<&LoginError> for Problem {
    fn from(e: &LoginError) -> Self {
        match e {
            LoginError::Invalid(_) => Problem::validation(e.to_string()),
            LoginError::BadCredentials => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-credentials",
                "Sign-in failed",
            )
            .detail(e.to_string()),
            LoginError::Locked { retry_after } => {
                let mut p = Problem::new(StatusCode::LOCKED, "account-locked", "Account locked")
                    .detail(e.to_string());
                p.retry_after_seconds = Some(*retry_after);
                p
            }
            LoginError::EmailTaken => Problem::conflict("email-taken", e.to_string()),
            LoginError::BadRefresh => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-refresh-token",
                "Refresh failed",
            )
            .detail(e.to_string()),
            LoginError::CognitoMode => Problem::new(
                StatusCode::NOT_IMPLEMENTED,
                "cognito-mode",
                "Not available in Cognito mode",
            )
            .detail(e.to_string()),
            LoginError::Forbidden => Problem::forbidden(e.to_string()),
            LoginError::BadClient => {
                Problem::new(StatusCode::UNAUTHORIZED, "invalid-client", "Client refused")
                    .detail(e.to_string())
            }
            LoginError::ScopeRefused(_) => {
                Problem::new(StatusCode::FORBIDDEN, "invalid-scope", "Scope refused")
                    .detail(e.to_string())
            }
            LoginError::Keys(_) | LoginError::Hash => {
                tracing::error!(error = %e, "login internal error");
                Problem::internal()
            }
            LoginError::Db(db) => ecom_shared::problem::from_db_error(db),
        }
    }
}

impl IntoResponse for LoginError {
    fn into_response(self) -> Response {
        Problem::from(&self).into_response()
    }
}
