use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ecom_shared::auth::AuthUser;
use ecom_shared::problem::CONTENT_TYPE as PROBLEM;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::action::{self, ChallengeAnswer};
use crate::error::OrdersError;
use crate::saga::{self, Outcome};
use crate::status::OrderStatus;
use crate::store::{self, CartItem, Line, NewOrder};
use crate::AppState;

fn validate_sku(sku: &str) -> Result<(), OrdersError> {
    let ok = !sku.is_empty()
        && sku.len() <= 64
        && sku
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(OrdersError::Invalid(
            "a SKU is 1-64 characters of A-Z, a-z, 0-9, '-', '_' or '.'".into(),
        ))
    }
}

pub async fn get_cart(
    State(st): State<AppState>,
    user: AuthUser,
) -> Result<Json<Value>, OrdersError> {
    let items = store::cart(&st.kit.pool, &user.0.sub).await?;
    Ok(Json(json!({"items": items})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetQuantity {
    pub quantity: i32,
}

pub async fn put_cart_item(
    State(st): State<AppState>,
    user: AuthUser,
    Path(sku): Path<String>,
    Json(body): Json<SetQuantity>,
) -> Result<Json<Value>, OrdersError> {
    validate_sku(&sku)?;
    if !(0..=100).contains(&body.quantity) {
        return Err(OrdersError::Invalid(
            "quantity must be 0..=100 (0 removes)".into(),
        ));
    }
    store::set_cart_item(&st.kit.pool, &user.0.sub, &sku, body.quantity).await?;
    get_cart(State(st), user).await
}

pub async fn clear_cart(
    State(st): State<AppState>,
    user: AuthUser,
) -> Result<StatusCode, OrdersError> {
    store::clear_cart(&st.kit.pool, &user.0.sub).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkout {
    pub payment_token: String,
    /// The items to buy; the cart's when absent.
    #[serde(default, deserialize_with = "ecom_shared::openapi::not_null")]
    pub items: Option<Vec<CartItem>>,
}

#[derive(Debug, Deserialize)]
struct Price {
    name: String,
    price_minor: i64,
    currency: String,
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, OrdersError> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| ecom_shared::openapi::is_idempotency_key(k))
        .map(str::to_string)
        .ok_or(OrdersError::MissingKey)
}

/// The most of one SKU an order (or a cart) may hold.
const MAX_LINE_QUANTITY: i32 = 100;

fn normalise(items: &[CartItem]) -> Result<Vec<CartItem>, OrdersError> {
    if items.is_empty() || items.len() > 50 {
        return Err(OrdersError::Invalid("an order has 1 to 50 items".into()));
    }
    let mut merged: BTreeMap<&str, i32> = BTreeMap::new();
    for i in items {
        validate_sku(&i.sku)?;
        if !(1..=MAX_LINE_QUANTITY).contains(&i.quantity) {
            return Err(OrdersError::Invalid(format!(
                "quantity of {} must be 1..={MAX_LINE_QUANTITY}",
                i.sku
            )));
        }
        *merged.entry(&i.sku).or_default() += i.quantity;
    }
    // Lines of one SKU are merged; the merged line keeps the per-line cap.
    if let Some((sku, _)) = merged.iter().find(|(_, q)| **q > MAX_LINE_QUANTITY) {
        return Err(OrdersError::Invalid(format!(
            "quantity of {sku} must be 1..={MAX_LINE_QUANTITY} in all (its lines are added up)"
        )));
    }
    Ok(merged
        .into_iter()
        .map(|(sku, quantity)| CartItem {
            sku: sku.to_string(),
            quantity,
        })
        .collect())
}

fn request_hash(token: &str, items: &[CartItem]) -> String {
    let mut h = Sha256::new();
    h.update(token.as_bytes());
    for i in items {
        h.update([0]);
        h.update(i.sku.as_bytes());
        h.update(i.quantity.to_be_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn respond(o: Outcome) -> Response {
    let mut res = (o.status, Json(o.body)).into_response();
    if o.status.is_client_error() || o.status.is_server_error() {
        res.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static(PROBLEM),
        );
    }
    res
}

/// Answers a repeated key with the first request's outcome, waiting for it if needed.
async fn replay(st: &AppState, user: &str, key: &str, hash: &str) -> Result<Response, OrdersError> {
    let started = Instant::now();
    loop {
        let o = store::find_by_key(&st.kit.pool, user, key)
            .await?
            .ok_or(OrdersError::NotFound)?;
        if o.request_hash != hash {
            return Err(OrdersError::KeyReused);
        }
        // Over, or waiting for the customer's 3-D Secure answer: the answer so far.
        if saga::answerable(&o) {
            st.kit.metrics.incr("orders_checkout_replays_total", 1);
            return Ok(respond(saga::run(st, o.id).await?));
        }
        // The wait for the answer is over and the sweep has not come by: time it out now.
        if o.status == OrderStatus::AwaitingAction
            && store::claim_expired_action(&st.kit.pool, o.id, st.lease_seconds).await?
        {
            return Ok(respond(saga::run(st, o.id).await?));
        }
        if started.elapsed() > st.replay_wait {
            return Err(OrdersError::InProgress);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn checkout(
    State(st): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    Json(body): Json<Checkout>,
) -> Result<Response, OrdersError> {
    let key = idempotency_key(&headers)?;
    let uid = user.0.sub.as_str();
    if !body.payment_token.starts_with("pm_") || body.payment_token.len() > 100 {
        return Err(OrdersError::Invalid(
            "payment_token must be a token from payments' /v1/tokens".into(),
        ));
    }
    let items = match &body.items {
        Some(items) => normalise(items)?,
        None => normalise(&store::cart(&st.kit.pool, uid).await?)?,
    };
    let hash = request_hash(&body.payment_token, &items);
    // A repeated key is found by the insert below, which it loses; the price lookup is not
    // wasted on a lookup first. Should pricing fail, a stored outcome for the key still wins.
    let lines = match price_lines(&st, &items).await {
        Ok(lines) => lines,
        Err(e) => {
            if store::find_by_key(&st.kit.pool, uid, &key).await?.is_some() {
                return replay(&st, uid, &key, &hash).await;
            }
            return Err(e);
        }
    };
    let currency = lines.first().map(|l| l.1.clone());
    let lines: Vec<Line> = lines.into_iter().map(|(l, _)| l).collect();
    let total_minor = store::order_total(&lines).ok_or(OrdersError::TooLarge {
        max: store::MAX_ORDER_TOTAL_MINOR,
    })?;
    let id = Uuid::new_v4();
    let inserted = st
        .writes
        .insert
        .submit(
            &st.kit.pool,
            NewOrder {
                id,
                user_id: uid.to_string(),
                key: key.clone(),
                request_hash: hash.clone(),
                payment_token: body.payment_token.clone(),
                currency: currency.unwrap_or_else(|| "EUR".into()),
                lines: lines.clone(),
                total_minor,
                lease_seconds: st.lease_seconds,
            },
        )
        .await?;
    let Some(order) = inserted else {
        return replay(&st, uid, &key, &hash).await;
    };
    st.kit.metrics.incr("orders_checkouts_total", 1);
    Ok(respond(saga::run_new(&st, order, lines).await?))
}

/// Each item with its catalog name and price (prices come from the catalog, never from the
/// client), and its currency; all must share one.
async fn price_lines(
    st: &AppState,
    items: &[CartItem],
) -> Result<Vec<(Line, String)>, OrdersError> {
    let mut lines: Vec<(Line, String)> = Vec::with_capacity(items.len());
    for i in items {
        let p: Price = st
            .deps
            .catalog
            .call::<Value, Price>(Method::GET, &format!("/v1/skus/{}", i.sku), None, None)
            .await
            .map_err(|e| match e.status() {
                Some(404) => OrdersError::UnknownSku(i.sku.clone()),
                _ => OrdersError::Dependency(e),
            })?;
        if !(0..=store::MAX_ORDER_TOTAL_MINOR).contains(&p.price_minor) {
            return Err(OrdersError::TooLarge {
                max: store::MAX_ORDER_TOTAL_MINOR,
            });
        }
        if lines.first().is_some_and(|(_, c)| *c != p.currency) {
            return Err(OrdersError::Invalid(
                "all items of an order must share one currency".into(),
            ));
        }
        lines.push((
            Line {
                sku: i.sku.clone(),
                name: p.name,
                quantity: i.quantity,
                unit_price_minor: p.price_minor,
            },
            p.currency,
        ));
    }
    Ok(lines)
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    pub before: Option<chrono::DateTime<chrono::Utc>>,
    pub limit: Option<i64>,
}

pub async fn list_orders(
    State(st): State<AppState>,
    user: AuthUser,
    Query(q): Query<HistoryQuery>,
) -> Result<Json<Value>, OrdersError> {
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(OrdersError::Invalid("limit must be 1..=100".into()));
    }
    let orders = store::history(&st.kit.pool, &user.0.sub, q.before, limit).await?;
    let next = (orders.len() as i64 == limit)
        .then(|| orders.last().map(|o| o.created_at))
        .flatten();
    Ok(Json(json!({"orders": orders, "next_before": next})))
}

pub async fn get_order(
    State(st): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, OrdersError> {
    let id =
        Uuid::parse_str(&id).map_err(|_| OrdersError::Invalid("order id must be a UUID".into()))?;
    let o = store::get(&st.kit.pool, id).await?;
    // Someone else's order does not exist, as far as this caller can tell.
    if o.user_id != user.0.sub && !user.0.has_role("admin") {
        return Err(OrdersError::NotFound);
    }
    let mut body = saga::order_json(&st, &o).await?;
    if let Some(code) = &o.failure_code {
        body["failure"] = json!({"code": code, "detail": o.failure_detail});
    }
    Ok(Json(body))
}

/// The customer's answer to their order's 3-D Secure challenge.
pub async fn answer_challenge(
    State(st): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Json(answer): Json<ChallengeAnswer>,
) -> Result<Response, OrdersError> {
    let id =
        Uuid::parse_str(&id).map_err(|_| OrdersError::Invalid("order id must be a UUID".into()))?;
    Ok(respond(
        action::answer(&st, &user.0.sub, id, &answer).await?,
    ))
}

#[derive(Debug, Deserialize)]
struct PaymentEvent {
    id: Uuid,
    #[serde(rename = "type")]
    kind: String,
    payment_id: Uuid,
    status: String,
}

pub async fn payment_webhook(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, OrdersError> {
    let secret = st
        .webhook_secret
        .as_ref()
        .ok_or(OrdersError::WebhookNotConfigured)?;
    let sig = headers
        .get(ecom_shared::webhook::HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| OrdersError::Webhook("missing signature".into()))?;
    ecom_shared::webhook::verify(
        secret.expose().as_bytes(),
        sig,
        &body,
        ecom_shared::unix_now(),
        300,
    )
    .map_err(|e| OrdersError::Webhook(e.to_string()))?;
    let event: PaymentEvent = serde_json::from_slice(&body)
        .map_err(|_| OrdersError::Invalid("the body is not a payment event".into()))?;
    store::record_payment_event(
        &st.kit.pool,
        event.id,
        event.payment_id,
        &event.kind,
        &event.status,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
