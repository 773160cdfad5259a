//! Request handlers, one module per part of the shop.

pub mod account;
pub mod cart;
pub mod catalog;
pub mod checkout;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};

use crate::backend::Call;
use crate::error::PageError;
use crate::session::{self, Visitor};
use crate::AppState;

/// Refuses a form whose CSRF token is not the session's.
pub fn check_csrf(v: &Visitor, presented: &str) -> Result<(), PageError> {
    if session::csrf_ok(&v.sid, presented) {
        Ok(())
    } else {
        Err(PageError::Csrf)
    }
}

/// A redirect target from a form or query: only a path on this site.
pub fn local_path(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 512
        && !next.chars().any(|c| c.is_control());
    if ok {
        next
    } else {
        "/"
    }
}

pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

pub fn with_cookie(mut res: Response, cookie: HeaderValue) -> Response {
    res.headers_mut().append(header::SET_COOKIE, cookie);
    res
}

/// The visitor's access token, refreshed when it is about to expire; `None` when the visitor
/// is not signed in (or the sign-in has lapsed: the session is then ended).
pub async fn access_token(st: &AppState, v: &mut Visitor) -> Result<Option<String>, PageError> {
    let Some(acct) = v.account.as_mut() else {
        return Ok(None);
    };
    if acct.access_expires_at > chrono::Utc::now() + chrono::Duration::seconds(30) {
        return Ok(Some(acct.access_token.clone()));
    }
    let call = Call {
        client: v.ip,
        ..Call::default()
    };
    match st.backend.refresh(&call, &acct.refresh_token).await {
        Ok(tokens) => {
            session::save_tokens(&st.kit.pool, &v.sid, &tokens).await?;
            acct.access_token = tokens.access_token.clone();
            acct.refresh_token = tokens.refresh_token;
            Ok(Some(tokens.access_token))
        }
        Err(e) if e.status() == Some(401) => {
            session::end(&st.kit.pool, &v.sid).await?;
            v.account = None;
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Where a visitor who must sign in first is sent.
pub fn to_signin(next: &str) -> Response {
    let next = serde_urlencoded::to_string([("next", local_path(next))]).unwrap_or_default();
    see_other(&format!("/signin?{next}"))
}
