//! Sign-up, sign-in and sign-out.

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use crate::backend::Call;
use crate::error::PageError;
use crate::routes::{check_csrf, local_path, see_other, with_cookie};
use crate::session::{self, Visitor};
use crate::views::account::{self as view, AuthForm};
use crate::views::{page, Chrome};
use crate::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct Next {
    #[serde(default)]
    next: String,
}

fn form_page(v: &Visitor, f: &AuthForm<'_>) -> Html<String> {
    let title = if f.signup {
        "Create account"
    } else {
        "Sign in"
    };
    page(&Chrome::of(v), title, view::auth_form(f))
}

fn render(v: &Visitor, signup: bool, email: &str, next: &str, errors: Vec<String>) -> Response {
    let csrf = v.csrf();
    let status = if errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    let html = form_page(
        v,
        &AuthForm {
            signup,
            email,
            next: local_path(next),
            csrf: &csrf,
            errors,
        },
    );
    (status, html).into_response()
}

pub async fn signin_page(v: Visitor, Query(n): Query<Next>) -> Response {
    render(&v, false, "", &n.next, Vec::new())
}

pub async fn signup_page(v: Visitor, Query(n): Query<Next>) -> Response {
    render(&v, true, "", &n.next, Vec::new())
}

#[derive(Deserialize)]
pub struct Credentials {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// Signs in with login, moves the anonymous cart into the account's, and starts a new session.
async fn sign_in(
    st: &AppState,
    v: &Visitor,
    email: &str,
    password: &str,
    next: &str,
) -> Result<Response, PageError> {
    let call = Call {
        client: v.ip,
        ..Call::default()
    };
    let tokens = match st.backend.signin(&call, email, password).await {
        Ok(t) => t,
        Err(e) => {
            let msg = match e.status() {
                Some(401) | Some(422) => {
                    "That email and password do not match an account.".to_string()
                }
                Some(423) => {
                    "This account is locked for a while after too many attempts. Try again later."
                        .to_string()
                }
                Some(429) => "Too many attempts. Wait a minute and try again.".to_string(),
                _ => return Err(e.into()),
            };
            return Ok(render(v, false, email, next, vec![msg]));
        }
    };
    let claims = st
        .kit
        .verifier
        .verify(&tokens.access_token)
        .await
        .map_err(|e| PageError::Internal(format!("login's token did not verify: {e}")))?;
    let bearer = Call {
        bearer: Some(&tokens.access_token),
        client: v.ip,
        ..Call::default()
    };
    let mut cart = st.backend.cart(&bearer).await?;
    for item in &v.cart {
        let have = cart
            .iter()
            .find(|i| i.sku == item.sku)
            .map_or(0, |i| i.quantity);
        let want = (have + item.quantity).min(100);
        match st.backend.set_cart_item(&bearer, &item.sku, want).await {
            Ok(c) => cart = c,
            // An item orders refuses (gone from sale, cart full) is dropped, not fatal.
            Err(e) if e.status() == Some(422) => {
                tracing::info!(error = %e, "anonymous cart item not merged")
            }
            Err(e) => return Err(e.into()),
        }
    }
    let email = claims.email.clone().unwrap_or_else(|| email.to_string());
    let sid =
        session::start_signed_in(&st.kit.pool, &v.sid, &claims.sub, &email, &tokens, &cart).await?;
    let cookie = session::set_cookie(st.settings.secure_cookies, &sid, session::LIFETIME_SECONDS);
    Ok(with_cookie(see_other(local_path(next)), cookie))
}

pub async fn signin(
    State(st): State<AppState>,
    v: Visitor,
    Form(f): Form<Credentials>,
) -> Result<Response, PageError> {
    check_csrf(&v, &f.csrf)?;
    if f.email.trim().is_empty() || f.password.is_empty() {
        return Ok(render(
            &v,
            false,
            &f.email,
            &f.next,
            vec!["Enter your email and password.".into()],
        ));
    }
    sign_in(&st, &v, f.email.trim(), &f.password, &f.next).await
}

pub async fn signup(
    State(st): State<AppState>,
    v: Visitor,
    Form(f): Form<Credentials>,
) -> Result<Response, PageError> {
    check_csrf(&v, &f.csrf)?;
    let email = f.email.trim();
    let mut errors = Vec::new();
    if !email.contains('@') || email.len() > 254 {
        errors.push("Enter an email address like name@example.com.".to_string());
    }
    if f.password.chars().count() < 12 {
        errors.push("Choose a password of at least 12 characters.".to_string());
    }
    if !errors.is_empty() {
        return Ok(render(&v, true, email, &f.next, errors));
    }
    let call = Call {
        client: v.ip,
        ..Call::default()
    };
    if let Err(e) = st.backend.signup(&call, email, &f.password).await {
        let msg = match e.status() {
            Some(409) => "An account with this email already exists. Sign in instead.".to_string(),
            Some(422) => format!("That did not work: {}.", e.detail()),
            Some(429) => "Too many attempts. Wait a minute and try again.".to_string(),
            _ => return Err(e.into()),
        };
        return Ok(render(&v, true, email, &f.next, vec![msg]));
    }
    sign_in(&st, &v, email, &f.password, &f.next).await
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn signout(
    State(st): State<AppState>,
    v: Visitor,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    check_csrf(&v, &f.csrf)?;
    if let Some(acct) = &v.account {
        let call = Call {
            client: v.ip,
            ..Call::default()
        };
        if let Err(e) = st.backend.signout(&call, &acct.refresh_token).await {
            // The session ends here either way; the refresh token then just expires.
            tracing::warn!(error = %e, "login did not revoke the refresh token");
        }
    }
    session::end(&st.kit.pool, &v.sid).await?;
    let cookie = session::set_cookie(st.settings.secure_cookies, &session::new_id(), 0);
    Ok(with_cookie(see_other("/"), cookie))
}
