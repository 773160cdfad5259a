//! Orders, lines and carts in PostgreSQL.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::error::OrdersError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Line {
    pub sku: String,
    pub name: String,
    pub quantity: i32,
    pub unit_price_minor: i64,
}

/// The saga's persisted state for one order.
#[derive(Debug, Clone)]
pub struct OrderRow {
    pub id: Uuid,
    pub user_id: String,
    pub request_hash: String,
    pub status: String,
    pub payment_token: String,
    pub total_minor: i64,
    pub currency: String,
    pub authorize_attempted: bool,
    pub payment_id: Option<Uuid>,
    pub payment_status: Option<String>,
    pub failure_code: Option<String>,
    pub failure_detail: Option<String>,
    pub response_status: Option<i16>,
    pub response_body: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

const SELECT_ORDER: &str = "SELECT id, user_id, request_hash, status, payment_token, total_minor,
    currency, authorize_attempted, payment_id, payment_status, failure_code, failure_detail,
    response_status, response_body, created_at FROM orders";

fn order_from_row(r: &sqlx::postgres::PgRow) -> Result<OrderRow, sqlx::Error> {
    Ok(OrderRow {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        request_hash: r.try_get("request_hash")?,
        status: r.try_get("status")?,
        payment_token: r.try_get("payment_token")?,
        total_minor: r.try_get("total_minor")?,
        currency: r.try_get("currency")?,
        authorize_attempted: r.try_get("authorize_attempted")?,
        payment_id: r.try_get("payment_id")?,
        payment_status: r.try_get("payment_status")?,
        failure_code: r.try_get("failure_code")?,
        failure_detail: r.try_get("failure_detail")?,
        response_status: r.try_get("response_status")?,
        response_body: r.try_get("response_body")?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<OrderRow, OrdersError> {
    let row = sqlx::query(&format!("{SELECT_ORDER} WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or(OrdersError::NotFound)?;
    Ok(order_from_row(&row)?)
}

pub async fn find_by_key(
    pool: &PgPool,
    user: &str,
    key: &str,
) -> Result<Option<OrderRow>, OrdersError> {
    let row = sqlx::query(&format!(
        "{SELECT_ORDER} WHERE user_id = $1 AND idempotency_key = $2"
    ))
    .bind(user)
    .bind(key)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(order_from_row).transpose()?)
}

pub async fn lines(pool: &PgPool, id: Uuid) -> Result<Vec<Line>, OrdersError> {
    let rows = sqlx::query(
        "SELECT sku, name, quantity, unit_price_minor FROM order_lines WHERE order_id = $1 ORDER BY sku",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Line {
                sku: r.try_get("sku")?,
                name: r.try_get("name")?,
                quantity: r.try_get("quantity")?,
                unit_price_minor: r.try_get("unit_price_minor")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(OrdersError::from)
}

pub struct NewOrder<'a> {
    pub id: Uuid,
    pub user_id: &'a str,
    pub key: &'a str,
    pub request_hash: &'a str,
    pub payment_token: &'a str,
    pub currency: &'a str,
    pub lines: &'a [Line],
    pub lease_seconds: f64,
}

/// Inserts the order in `pending` with a lease held by this process and returns it as stored;
/// `None` if the user's key is already taken.
pub async fn insert(pool: &PgPool, o: &NewOrder<'_>) -> Result<Option<OrderRow>, OrdersError> {
    let total: i64 = o
        .lines
        .iter()
        .map(|l| l.unit_price_minor * i64::from(l.quantity))
        .sum();
    let skus: Vec<&str> = o.lines.iter().map(|l| l.sku.as_str()).collect();
    let names: Vec<&str> = o.lines.iter().map(|l| l.name.as_str()).collect();
    let qtys: Vec<i32> = o.lines.iter().map(|l| l.quantity).collect();
    let prices: Vec<i64> = o.lines.iter().map(|l| l.unit_price_minor).collect();
    // The order and its lines in one statement (one round trip, one transaction): the lines
    // are inserted only if the order was.
    let created: Option<DateTime<Utc>> = sqlx::query_scalar(
        "WITH o AS (
             INSERT INTO orders (id, user_id, idempotency_key, request_hash, status, payment_token,
                                 total_minor, currency, lease_until)
             VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, now() + make_interval(secs => $8))
             ON CONFLICT (user_id, idempotency_key) DO NOTHING
             RETURNING id, created_at),
         l AS (
             INSERT INTO order_lines (order_id, sku, name, quantity, unit_price_minor)
             SELECT o.id, l.sku, l.name, l.quantity, l.unit_price_minor
             FROM o, unnest($9::text[], $10::text[], $11::int[], $12::bigint[])
                  AS l(sku, name, quantity, unit_price_minor))
         SELECT created_at FROM o",
    )
    .bind(o.id)
    .bind(o.user_id)
    .bind(o.key)
    .bind(o.request_hash)
    .bind(o.payment_token)
    .bind(total)
    .bind(o.currency)
    .bind(o.lease_seconds)
    .bind(&skus)
    .bind(&names)
    .bind(&qtys)
    .bind(&prices)
    .fetch_optional(pool)
    .await?;
    Ok(created.map(|created_at| OrderRow {
        id: o.id,
        user_id: o.user_id.to_string(),
        request_hash: o.request_hash.to_string(),
        status: "pending".into(),
        payment_token: o.payment_token.to_string(),
        total_minor: total,
        currency: o.currency.to_string(),
        authorize_attempted: false,
        payment_id: None,
        payment_status: None,
        failure_code: None,
        failure_detail: None,
        response_status: None,
        response_body: None,
        created_at,
    }))
}

/// Claims unfinished orders whose lease ran out (their process died), for `lease_seconds`.
pub async fn claim_stale(
    pool: &PgPool,
    lease_seconds: f64,
    limit: i64,
) -> Result<Vec<Uuid>, OrdersError> {
    let ids = sqlx::query_scalar(
        "UPDATE orders SET lease_until = now() + make_interval(secs => $1), attempts = attempts + 1
         WHERE id IN (SELECT id FROM orders
                      WHERE status NOT IN ('confirmed', 'failed') AND lease_until < now()
                      ORDER BY lease_until LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING id",
    )
    .bind(lease_seconds)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(ids)
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub id: Uuid,
    pub status: String,
    pub total_minor: i64,
    pub currency: String,
    pub created_at: DateTime<Utc>,
}

pub async fn history(
    pool: &PgPool,
    user: &str,
    before: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Vec<Summary>, OrdersError> {
    let rows = sqlx::query(
        "SELECT id, status, total_minor, currency, created_at FROM orders
         WHERE user_id = $1 AND ($2::timestamptz IS NULL OR created_at < $2)
         ORDER BY created_at DESC LIMIT $3",
    )
    .bind(user)
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Summary {
                id: r.try_get("id")?,
                status: r.try_get("status")?,
                total_minor: r.try_get("total_minor")?,
                currency: r.try_get("currency")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(OrdersError::from)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CartItem {
    pub sku: String,
    pub quantity: i32,
}

pub async fn cart(pool: &PgPool, user: &str) -> Result<Vec<CartItem>, OrdersError> {
    let rows = sqlx::query("SELECT sku, quantity FROM cart_items WHERE user_id = $1 ORDER BY sku")
        .bind(user)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(CartItem {
                sku: r.try_get("sku")?,
                quantity: r.try_get("quantity")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(OrdersError::from)
}

pub async fn set_cart_item(
    pool: &PgPool,
    user: &str,
    sku: &str,
    quantity: i32,
) -> Result<(), OrdersError> {
    if quantity == 0 {
        sqlx::query("DELETE FROM cart_items WHERE user_id = $1 AND sku = $2")
            .bind(user)
            .bind(sku)
            .execute(pool)
            .await?;
        return Ok(());
    }
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM cart_items WHERE user_id = $1 AND sku <> $2")
            .bind(user)
            .bind(sku)
            .fetch_one(pool)
            .await?;
    if count >= 50 {
        return Err(OrdersError::Invalid(
            "a cart holds at most 50 different items".into(),
        ));
    }
    sqlx::query(
        "INSERT INTO cart_items (user_id, sku, quantity) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, sku) DO UPDATE SET quantity = EXCLUDED.quantity, updated_at = now()",
    )
    .bind(user)
    .bind(sku)
    .bind(quantity)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn clear_cart(pool: &PgPool, user: &str) -> Result<(), OrdersError> {
    sqlx::query("DELETE FROM cart_items WHERE user_id = $1")
        .bind(user)
        .execute(pool)
        .await?;
    Ok(())
}

/// Records a payment webhook once; returns false for a duplicate delivery.
pub async fn record_payment_event(
    pool: &PgPool,
    event_id: Uuid,
    payment_id: Uuid,
    kind: &str,
    status: &str,
) -> Result<bool, OrdersError> {
    // One statement: the order is updated only if the event is new.
    // Webhooks may arrive out of order: never move a payment's status backwards.
    let n: i64 = sqlx::query_scalar(
        "WITH e AS (
             INSERT INTO payment_webhook_events (event_id, payment_id, type) VALUES ($1, $2, $3)
             ON CONFLICT (event_id) DO NOTHING
             RETURNING event_id),
         u AS (
             UPDATE orders SET payment_status = $4, updated_at = now()
             WHERE payment_id = $2 AND EXISTS (SELECT 1 FROM e)
               AND NOT (payment_status IN ('captured', 'voided', 'refunded') AND $4 = 'authorized')
               AND NOT (payment_status = 'refunded' AND $4 = 'captured'))
         SELECT count(*) FROM e",
    )
    .bind(event_id)
    .bind(payment_id)
    .bind(kind)
    .bind(status)
    .fetch_one(pool)
    .await?;
    Ok(n == 1)
}
