//! Every call the storefront makes to the other services, in one place.
//!
//! APIs used (today's shapes):
//! - catalog: `GET /v1/featured`, `GET /v1/categories`, `GET /v1/products` (category, q,
//!   min_price, max_price, sort, limit, cursor, facets), `GET /v1/products/{slug}`,
//!   `GET /v1/skus/{sku}`.
//! - inventory: `GET /v1/stock/{sku}` (public).
//! - login: `POST /v1/signup`, `POST /v1/signin`, `POST /v1/refresh`, `POST /v1/signout`.
//! - orders (bearer = the visitor's access token): `GET /v1/cart`, `PUT /v1/cart/items/{sku}`,
//!   `POST /v1/checkout` (`Idempotency-Key`; 202 with an `action` for a 3-D Secure card),
//!   `POST /v1/orders/{id}/3ds`, `GET /v1/orders`, `GET /v1/orders/{id}`.
//! - payments: `POST /v1/tokens` (card -> token), `GET /v1/test-cards`.
//!
//! The visitor's address travels as `X-Forwarded-For`, so login's rate limit and lockout count
//! people, not the storefront (login must list the storefront in `TRUSTED_PROXIES`).

use std::net::IpAddr;
use std::sync::Arc;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::memo::{self, Ttl};

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{service} is unreachable: {reason}")]
    Unreachable {
        service: &'static str,
        reason: String,
    },
    #[error("{service} answered {status}: {detail}")]
    Status {
        service: &'static str,
        status: u16,
        code: String,
        detail: String,
    },
    #[error("{service} answered with an unreadable body: {reason}")]
    Decode {
        service: &'static str,
        reason: String,
    },
}

impl BackendError {
    pub fn status(&self) -> Option<u16> {
        match self {
            BackendError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
    pub fn code(&self) -> &str {
        match self {
            BackendError::Status { code, .. } => code,
            _ => "",
        }
    }
    pub fn detail(&self) -> &str {
        match self {
            BackendError::Status { detail, .. } => detail,
            _ => "",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Urls {
    pub login: String,
    pub catalog: String,
    pub inventory: String,
    pub orders: String,
    pub payments: String,
}

/// Cheap to clone: the state every request clones holds one `Arc`.
#[derive(Clone)]
pub struct Backend {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    urls: Urls,
    categories: Ttl<(), Arc<Vec<Category>>>,
    stock: Ttl<String, i32>,
}

/// One outgoing call: who is asking (their address, their token) and with what.
#[derive(Default)]
pub struct Call<'a> {
    pub bearer: Option<&'a str>,
    pub client: Option<IpAddr>,
    pub idempotency_key: Option<&'a str>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Product {
    pub sku: String,
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub category: Option<String>,
    pub price_minor: i64,
    pub currency: String,
    #[serde(default)]
    pub attributes: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Category {
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub parent: Option<String>,
}

/// What a listing shows of a product (a grid card). The catalog's answers carry more
/// (description, attributes, dates); a listing skips those rather than build them, which was
/// a sixth of a search page's work.
#[derive(Debug, Clone, Deserialize)]
pub struct ProductCard {
    pub sku: String,
    pub slug: String,
    pub name: String,
    pub price_minor: i64,
    pub currency: String,
}

#[derive(Debug, Deserialize)]
pub struct ProductPage {
    pub items: Vec<ProductCard>,
    pub next_cursor: Option<String>,
    #[serde(default)]
    pub facets: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct SkuPrice {
    pub name: String,
    pub price_minor: i64,
    pub currency: String,
}

#[derive(Debug, Deserialize)]
pub struct Stock {
    pub available: i32,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct CartItem {
    pub sku: String,
    pub quantity: i32,
}

#[derive(Debug, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: i64,
}

#[derive(Debug, Deserialize)]
pub struct PaymentMethod {
    pub token: String,
}

#[derive(Debug, Deserialize)]
pub struct TestCard {
    pub number: String,
    pub brand: String,
    pub outcome: String,
}

#[derive(Debug, Deserialize)]
pub struct OrderSummary {
    pub id: String,
    pub status: String,
    pub total_minor: i64,
    pub currency: String,
    pub created_at: String,
}

#[derive(Debug, Deserialize)]
pub struct OrderLine {
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    pub unit_price_minor: i64,
}

#[derive(Debug, Deserialize)]
pub struct Order {
    pub id: String,
    pub status: String,
    pub lines: Vec<OrderLine>,
    pub total_minor: i64,
    pub currency: String,
    pub created_at: String,
    /// While the order is `awaiting_action`: the 3-D Secure challenge to answer.
    #[serde(default)]
    pub action: Option<OrderAction>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderAction {
    pub challenge_id: String,
    pub expires_at: String,
}

/// What the catalog list route is asked.
#[derive(Debug, Default, Serialize)]
pub struct ListQuery<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_price: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_price: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort: Option<&'a str>,
    pub limit: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<&'a str>,
    pub facets: bool,
}

/// A path segment as the other service must see it (SKUs and slugs are checked, but never
/// trusted to be URL-safe).
fn segment(s: &str) -> String {
    if s.is_empty() || s == "." || s == ".." {
        // Never a path step: an empty or dot segment would name another route.
        return "_".into();
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    out
}

impl Backend {
    pub fn new(http: reqwest::Client, urls: Urls) -> Self {
        let trim = |u: &str| u.trim_end_matches('/').to_string();
        let urls = Urls {
            login: trim(&urls.login),
            catalog: trim(&urls.catalog),
            inventory: trim(&urls.inventory),
            orders: trim(&urls.orders),
            payments: trim(&urls.payments),
        };
        Self {
            inner: Arc::new(Inner {
                http,
                urls,
                categories: Ttl::new(memo::CATEGORIES_TTL, 1),
                stock: Ttl::new(memo::STOCK_TTL, memo::STOCK_ENTRIES),
            }),
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        service: &'static str,
        method: Method,
        url: String,
        call: &Call<'_>,
        body: Option<&Value>,
    ) -> Result<T, BackendError> {
        let mut req = self.inner.http.request(method, url);
        if let Some(t) = call.bearer {
            req = req.bearer_auth(t);
        }
        if let Some(ip) = call.client {
            req = req.header("x-forwarded-for", ip.to_string());
        }
        if let Some(k) = call.idempotency_key {
            req = req.header("idempotency-key", k);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let unreachable = |e: reqwest::Error| BackendError::Unreachable {
            service,
            reason: e.to_string(),
        };
        let res = req.send().await.map_err(unreachable)?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            let problem: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let text = |k: &str| problem[k].as_str().unwrap_or_default().to_string();
            return Err(BackendError::Status {
                service,
                status: status.as_u16(),
                code: text("code"),
                detail: text("detail"),
            });
        }
        let bytes = if bytes.is_empty() {
            &b"null"[..]
        } else {
            &bytes[..]
        };
        serde_json::from_slice(bytes).map_err(|e| BackendError::Decode {
            service,
            reason: e.to_string(),
        })
    }

    // --- catalog ---------------------------------------------------------------------------

    pub async fn featured(&self) -> Result<Vec<ProductCard>, BackendError> {
        #[derive(Deserialize)]
        struct Items {
            items: Vec<ProductCard>,
        }
        let url = format!("{}/v1/featured", self.inner.urls.catalog);
        let r: Items = self
            .send("catalog", Method::GET, url, &Call::default(), None)
            .await?;
        Ok(r.items)
    }

    /// All categories, as the catalog listed them at most [`memo::CATEGORIES_TTL`] ago.
    pub async fn categories(&self) -> Result<Arc<Vec<Category>>, BackendError> {
        #[derive(Deserialize)]
        struct Items {
            items: Vec<Category>,
        }
        if let Some(kept) = self.inner.categories.get(&()) {
            return Ok(kept);
        }
        let url = format!("{}/v1/categories", self.inner.urls.catalog);
        let r: Items = self
            .send("catalog", Method::GET, url, &Call::default(), None)
            .await?;
        let items = Arc::new(r.items);
        self.inner.categories.put((), items.clone());
        Ok(items)
    }

    pub async fn products(&self, q: &ListQuery<'_>) -> Result<ProductPage, BackendError> {
        let query = serde_urlencoded::to_string(q).unwrap_or_default();
        let url = format!("{}/v1/products?{query}", self.inner.urls.catalog);
        self.send("catalog", Method::GET, url, &Call::default(), None)
            .await
    }

    pub async fn product(&self, slug: &str) -> Result<Product, BackendError> {
        let url = format!("{}/v1/products/{}", self.inner.urls.catalog, segment(slug));
        self.send("catalog", Method::GET, url, &Call::default(), None)
            .await
    }

    pub async fn price(&self, sku: &str) -> Result<SkuPrice, BackendError> {
        let url = format!("{}/v1/skus/{}", self.inner.urls.catalog, segment(sku));
        self.send("catalog", Method::GET, url, &Call::default(), None)
            .await
    }

    // --- inventory -------------------------------------------------------------------------

    pub async fn stock(&self, sku: &str) -> Result<Stock, BackendError> {
        let url = format!("{}/v1/stock/{}", self.inner.urls.inventory, segment(sku));
        self.send("inventory", Method::GET, url, &Call::default(), None)
            .await
    }

    /// How many of a SKU can be bought, as inventory said at most [`memo::STOCK_TTL`] ago (an
    /// unknown SKU has none); `None` when inventory does not answer.
    pub async fn availability(&self, sku: &str) -> Option<i32> {
        if let Some(n) = self.inner.stock.get(sku) {
            return Some(n);
        }
        let n = match self.stock(sku).await {
            Ok(s) => s.available,
            Err(e) if e.status() == Some(404) => 0,
            Err(e) => {
                tracing::warn!(error = %e, "stock unknown");
                return None;
            }
        };
        self.inner.stock.put(sku.to_string(), n);
        Some(n)
    }

    // --- login -----------------------------------------------------------------------------

    pub async fn signup(
        &self,
        call: &Call<'_>,
        email: &str,
        password: &str,
    ) -> Result<(), BackendError> {
        let url = format!("{}/v1/signup", self.inner.urls.login);
        let body = json!({"email": email, "password": password});
        self.send::<Value>("login", Method::POST, url, call, Some(&body))
            .await
            .map(drop)
    }

    pub async fn signin(
        &self,
        call: &Call<'_>,
        email: &str,
        password: &str,
    ) -> Result<Tokens, BackendError> {
        let url = format!("{}/v1/signin", self.inner.urls.login);
        let body = json!({"email": email, "password": password});
        self.send("login", Method::POST, url, call, Some(&body))
            .await
    }

    pub async fn refresh(
        &self,
        call: &Call<'_>,
        refresh_token: &str,
    ) -> Result<Tokens, BackendError> {
        let url = format!("{}/v1/refresh", self.inner.urls.login);
        let body = json!({"refresh_token": refresh_token});
        self.send("login", Method::POST, url, call, Some(&body))
            .await
    }

    pub async fn signout(&self, call: &Call<'_>, refresh_token: &str) -> Result<(), BackendError> {
        let url = format!("{}/v1/signout", self.inner.urls.login);
        let body = json!({"refresh_token": refresh_token});
        self.send::<Value>("login", Method::POST, url, call, Some(&body))
            .await
            .map(drop)
    }

    // --- orders (as the signed-in visitor) ---------------------------------------------------

    pub async fn cart(&self, call: &Call<'_>) -> Result<Vec<CartItem>, BackendError> {
        #[derive(Deserialize)]
        struct Cart {
            items: Vec<CartItem>,
        }
        let url = format!("{}/v1/cart", self.inner.urls.orders);
        let c: Cart = self.send("orders", Method::GET, url, call, None).await?;
        Ok(c.items)
    }

    pub async fn set_cart_item(
        &self,
        call: &Call<'_>,
        sku: &str,
        quantity: i32,
    ) -> Result<Vec<CartItem>, BackendError> {
        #[derive(Deserialize)]
        struct Cart {
            items: Vec<CartItem>,
        }
        let url = format!("{}/v1/cart/items/{}", self.inner.urls.orders, segment(sku));
        let body = json!({ "quantity": quantity });
        let c: Cart = self
            .send("orders", Method::PUT, url, call, Some(&body))
            .await?;
        Ok(c.items)
    }

    pub async fn checkout(
        &self,
        call: &Call<'_>,
        payment_token: &str,
    ) -> Result<Order, BackendError> {
        let url = format!("{}/v1/checkout", self.inner.urls.orders);
        let body = json!({ "payment_token": payment_token });
        self.send("orders", Method::POST, url, call, Some(&body))
            .await
    }

    /// Answers an order's 3-D Secure challenge (`result`: `succeeded` or `failed`); the order
    /// as the saga left it, or the problem (402 when it was declined or too late).
    pub async fn answer_challenge(
        &self,
        call: &Call<'_>,
        id: &str,
        challenge_id: &str,
        result: &str,
    ) -> Result<Order, BackendError> {
        let url = format!("{}/v1/orders/{}/3ds", self.inner.urls.orders, segment(id));
        let body = json!({ "challenge_id": challenge_id, "result": result });
        self.send("orders", Method::POST, url, call, Some(&body))
            .await
    }

    pub async fn orders(&self, call: &Call<'_>) -> Result<Vec<OrderSummary>, BackendError> {
        #[derive(Deserialize)]
        struct History {
            orders: Vec<OrderSummary>,
        }
        let url = format!("{}/v1/orders?limit=50", self.inner.urls.orders);
        let h: History = self.send("orders", Method::GET, url, call, None).await?;
        Ok(h.orders)
    }

    pub async fn order(&self, call: &Call<'_>, id: &str) -> Result<Order, BackendError> {
        let url = format!("{}/v1/orders/{}", self.inner.urls.orders, segment(id));
        self.send("orders", Method::GET, url, call, None).await
    }

    // --- payments --------------------------------------------------------------------------

    /// Exchanges card data for a token; the card data is in this request body only.
    pub async fn tokenize(
        &self,
        call: &Call<'_>,
        card: &Card,
    ) -> Result<PaymentMethod, BackendError> {
        let url = format!("{}/v1/tokens", self.inner.urls.payments);
        let body = json!({
            "number": card.number, "exp_month": card.exp_month,
            "exp_year": card.exp_year, "cvc": card.cvc,
        });
        self.send("payments", Method::POST, url, call, Some(&body))
            .await
    }

    pub async fn test_cards(&self) -> Result<Vec<TestCard>, BackendError> {
        #[derive(Deserialize)]
        struct Doc {
            test_cards: Vec<TestCard>,
        }
        let url = format!("{}/v1/test-cards", self.inner.urls.payments);
        let d: Doc = self
            .send("payments", Method::GET, url, &Call::default(), None)
            .await?;
        Ok(d.test_cards)
    }
}

/// Card data on its way to payments. Never printed.
pub struct Card {
    pub number: String,
    pub exp_month: i16,
    pub exp_year: i16,
    pub cvc: String,
}

impl std::fmt::Debug for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Card(***)")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(super::segment("DEMO-0001"), "DEMO-0001");
        assert_eq!(super::segment("../admin?x=1"), "..%2Fadmin%3Fx%3D1");
        assert_eq!(super::segment(".."), "_");
        assert_eq!(super::segment("é"), "%C3%A9");
    }
}
