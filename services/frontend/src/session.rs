//! Sessions: a random id in an HttpOnly, Secure, SameSite=Lax cookie; the row (keyed by the
//! id's SHA-256) holds the visitor's tokens and anonymous cart. CSRF tokens are derived from
//! the session id, so every form of a session carries the same token and a page needs no
//! database write to show one.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use ring::rand::SecureRandom as _;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};
use subtle::ConstantTimeEq as _;

use crate::backend::{CartItem, Tokens};
use crate::error::PageError;
use crate::AppState;

/// How long a session lives (sign-in or not).
pub const LIFETIME_SECONDS: i64 = 7 * 24 * 3600;

/// The id of the request's session, put in the request by [`layer`].
#[derive(Clone, Debug)]
pub struct SessionId {
    pub id: String,
    /// Made for this request: the response sets the cookie.
    pub fresh: bool,
}

pub fn cookie_name(secure: bool) -> &'static str {
    // `__Host-` makes the browser refuse the cookie unless it is Secure, host-only and on `/`.
    if secure {
        "__Host-session"
    } else {
        "session"
    }
}

pub fn new_id() -> String {
    let mut bytes = [0u8; 32];
    // The system's CSPRNG; it does not fail on any platform we run on.
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    B64.encode(bytes)
}

fn well_formed(id: &str) -> bool {
    id.len() == 43
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn id_hash(id: &str) -> Vec<u8> {
    Sha256::digest(id.as_bytes()).to_vec()
}

/// The CSRF token of a session: derived from its secret id, so only a page served to the
/// holder of the cookie can carry it.
pub fn csrf_token(id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"ecom-frontend csrf\0");
    h.update(id.as_bytes());
    B64.encode(h.finalize())
}

pub fn csrf_ok(id: &str, presented: &str) -> bool {
    let want = csrf_token(id);
    want.len() == presented.len() && bool::from(want.as_bytes().ct_eq(presented.as_bytes()))
}

pub fn set_cookie(secure: bool, id: &str, max_age: i64) -> HeaderValue {
    let secure_attr = if secure { "; Secure" } else { "" };
    let v = format!(
        "{}={id}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure_attr}",
        cookie_name(secure)
    );
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn cookie_value<'a>(parts: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    parts
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Gives every request a session id: the cookie's, or a new one the response then sets.
pub async fn layer(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let secure = st.settings.secure_cookies;
    let existing = cookie_value(req.headers(), cookie_name(secure))
        .filter(|v| well_formed(v))
        .map(str::to_string);
    let sid = match existing {
        Some(id) => SessionId { id, fresh: false },
        None => SessionId {
            id: new_id(),
            fresh: true,
        },
    };
    req.extensions_mut().insert(sid.clone());
    let mut res = next.run(req).await;
    // A handler that set the cookie itself (sign-in, sign-out) has the last word.
    if sid.fresh && !res.headers().contains_key(header::SET_COOKIE) {
        res.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(secure, &sid.id, LIFETIME_SECONDS),
        );
    }
    res
}

/// A signed-in visitor's account and tokens.
#[derive(Debug, Clone)]
pub struct Account {
    pub user_id: String,
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
    pub access_expires_at: chrono::DateTime<chrono::Utc>,
}

/// The request's visitor: session id, and what the session row holds (if there is one).
#[derive(Debug, Clone)]
pub struct Visitor {
    pub sid: String,
    pub account: Option<Account>,
    pub cart: Vec<CartItem>,
    pub cart_count: i32,
    pub ip: Option<IpAddr>,
}

impl Visitor {
    pub fn csrf(&self) -> String {
        csrf_token(&self.sid)
    }
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, PageError> {
        let sid = parts
            .extensions
            .get::<SessionId>()
            .cloned()
            .ok_or_else(|| PageError::Internal("the session layer is not installed".into()))?;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        // Behind the load balancer the peer is the balancer: the visitor is read from
        // X-Forwarded-For as the rate limits read it (TRUSTED_PROXIES).
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let ip = st.clients.client(peer, &forwarded);
        let mut v = Visitor {
            sid: sid.id,
            account: None,
            cart: Vec::new(),
            cart_count: 0,
            ip,
        };
        if !sid.fresh {
            load(&st.kit.pool, &mut v).await?;
        }
        Ok(v)
    }
}

async fn load(pool: &PgPool, v: &mut Visitor) -> Result<(), sqlx::Error> {
    let row = sqlx::query(
        "SELECT user_id, email, access_token, refresh_token, access_expires_at, cart, cart_count
         FROM sessions WHERE id_hash = $1 AND expires_at > now()",
    )
    .bind(id_hash(&v.sid))
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(()) };
    let user_id: Option<String> = row.try_get("user_id")?;
    v.account = match user_id {
        Some(user_id) => Some(Account {
            user_id,
            email: row
                .try_get::<Option<String>, _>("email")?
                .unwrap_or_default(),
            access_token: row
                .try_get::<Option<String>, _>("access_token")?
                .unwrap_or_default(),
            refresh_token: row
                .try_get::<Option<String>, _>("refresh_token")?
                .unwrap_or_default(),
            access_expires_at: row
                .try_get::<Option<chrono::DateTime<chrono::Utc>>, _>("access_expires_at")?
                .unwrap_or_default(),
        }),
        None => None,
    };
    let cart: serde_json::Value = row.try_get("cart")?;
    v.cart = serde_json::from_value(cart).unwrap_or_default();
    v.cart_count = row.try_get("cart_count")?;
    Ok(())
}

fn count(cart: &[CartItem]) -> i32 {
    cart.iter().map(|i| i.quantity.max(0)).sum()
}

/// Stores an anonymous visitor's cart (making the row on first use).
pub async fn save_anonymous_cart(
    pool: &PgPool,
    sid: &str,
    cart: &[CartItem],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (id_hash, cart, cart_count, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))
         ON CONFLICT (id_hash) DO UPDATE SET cart = EXCLUDED.cart, cart_count = EXCLUDED.cart_count",
    )
    .bind(id_hash(sid))
    .bind(serde_json::to_value(cart).unwrap_or_default())
    .bind(count(cart))
    .bind(LIFETIME_SECONDS as f64)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records how many items a signed-in visitor's cart (kept by orders) holds, for the header.
pub async fn save_cart_count(
    pool: &PgPool,
    sid: &str,
    cart: &[CartItem],
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET cart_count = $2 WHERE id_hash = $1")
        .bind(id_hash(sid))
        .bind(count(cart))
        .execute(pool)
        .await?;
    Ok(())
}

fn expiry(tokens: &Tokens) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() + chrono::Duration::seconds(tokens.expires_in.clamp(0, 86_400))
}

/// A new session for a visitor who just signed in (the old one is deleted: a session id
/// known before sign-in is never the one used after it).
pub async fn start_signed_in(
    pool: &PgPool,
    old_sid: &str,
    user_id: &str,
    email: &str,
    tokens: &Tokens,
    cart: &[CartItem],
) -> Result<String, sqlx::Error> {
    let sid = new_id();
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash(old_sid))
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, email, access_token, refresh_token,
                               access_expires_at, cart_count, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))",
    )
    .bind(id_hash(&sid))
    .bind(user_id)
    .bind(email)
    .bind(&tokens.access_token)
    .bind(&tokens.refresh_token)
    .bind(expiry(tokens))
    .bind(count(cart))
    .bind(LIFETIME_SECONDS as f64)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(sid)
}

pub async fn save_tokens(pool: &PgPool, sid: &str, tokens: &Tokens) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE sessions SET access_token = $2, refresh_token = $3, access_expires_at = $4
         WHERE id_hash = $1",
    )
    .bind(id_hash(sid))
    .bind(&tokens.access_token)
    .bind(&tokens.refresh_token)
    .bind(expiry(tokens))
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn end(pool: &PgPool, sid: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash(sid))
        .execute(pool)
        .await?;
    Ok(())
}

/// Deletes expired sessions now and then.
pub fn spawn_sweeper(pool: PgPool) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(300));
        loop {
            tick.tick().await;
            if let Err(e) = sqlx::query("DELETE FROM sessions WHERE expires_at < now()")
                .execute(&pool)
                .await
            {
                tracing::warn!(error = %e, "session sweep failed");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_csrf_tokens_belong_to_them() {
        let (a, b) = (new_id(), new_id());
        assert_ne!(a, b);
        assert!(well_formed(&a), "{a}");
        assert!(csrf_ok(&a, &csrf_token(&a)));
        assert!(!csrf_ok(&a, &csrf_token(&b)));
        assert!(!csrf_ok(&a, ""));
    }

    #[test]
    fn cookies_are_httponly_samesite_and_secure_when_asked() {
        let c = set_cookie(true, "abc", 60);
        let c = c.to_str().expect("ascii");
        assert!(c.starts_with("__Host-session=abc; Path=/;"), "{c}");
        for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Max-Age=60"] {
            assert!(c.contains(attr), "{attr} missing from {c}");
        }
        let c = set_cookie(false, "abc", 60);
        assert!(!c.to_str().expect("ascii").contains("Secure"));
    }

    #[test]
    fn only_well_formed_ids_are_read() {
        assert!(!well_formed("short"));
        assert!(!well_formed(
            &"a".repeat(42).chars().chain(['!']).collect::<String>()
        ));
    }
}
