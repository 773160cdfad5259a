//! Orders, lines and carts in PostgreSQL.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::error::OrdersError;
use crate::status::OrderStatus;

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
    pub status: OrderStatus,
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
    /// 3-D Secure: the payment's challenge, once one was asked for (kept afterwards).
    pub challenge_id: Option<String>,
    /// Until when the customer may answer it (`awaiting_action`).
    pub action_expires_at: Option<DateTime<Utc>>,
}

const SELECT_ORDER: &str = "SELECT id, user_id, request_hash, status, payment_token, total_minor,
    currency, authorize_attempted, payment_id, payment_status, failure_code, failure_detail,
    response_status, response_body, created_at, challenge_id, action_expires_at FROM orders";

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
        challenge_id: r.try_get("challenge_id")?,
        action_expires_at: r.try_get("action_expires_at")?,
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

/// A checkout's order as it is to be inserted.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub id: Uuid,
    pub user_id: String,
    pub key: String,
    pub request_hash: String,
    pub payment_token: String,
    pub currency: String,
    pub lines: Vec<Line>,
    /// The lines' sum, from [`order_total`].
    pub total_minor: i64,
    pub lease_seconds: f64,
}

/// The most one order may come to, in minor units: what payments accepts for one payment.
pub const MAX_ORDER_TOTAL_MINOR: i64 = 10_000_000_000;

/// The sum of the lines' prices times quantities, in checked arithmetic: `None` when it
/// overflows or passes [`MAX_ORDER_TOTAL_MINOR`].
pub fn order_total(lines: &[Line]) -> Option<i64> {
    lines
        .iter()
        .try_fold(0i64, |sum, l| {
            l.unit_price_minor
                .checked_mul(i64::from(l.quantity))
                .and_then(|line| sum.checked_add(line))
        })
        .filter(|t| (0..=MAX_ORDER_TOTAL_MINOR).contains(t))
}

/// Runs `batch` over all `items` in one statement; should that fail, runs it once per item so
/// that each item gets its own outcome (one bad item, or a deadlock between two batches,
/// does not fail the others).
async fn each_on_failure<T, R, F, Fut>(
    pool: &PgPool,
    items: &[T],
    batch: F,
) -> Vec<Result<R, OrdersError>>
where
    F: Fn(PgPool, Vec<T>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<R>, sqlx::Error>>,
    T: Clone,
{
    match batch(pool.clone(), items.to_vec()).await {
        Ok(all) if all.len() == items.len() => return all.into_iter().map(Ok).collect(),
        Ok(_) => {}
        Err(e) if items.len() == 1 => return vec![Err(e.into())],
        Err(_) => {}
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let one = batch(pool.clone(), vec![item.clone()]).await;
        out.push(match one {
            Ok(mut v) if v.len() == 1 => Ok(v.remove(0)),
            Ok(_) => Err(OrdersError::Invalid("batched write lost an item".into())),
            Err(e) => Err(e.into()),
        });
    }
    out
}

/// Inserts orders in `pending` with a lease held by this process and returns each as stored;
/// `None` for one whose user's key is already taken (also by an earlier item of the batch).
///
/// One statement for the whole batch (one round trip, one durable commit): the orders, then
/// the lines of those that were inserted.
pub async fn insert_many(
    pool: PgPool,
    orders: Vec<NewOrder>,
) -> Vec<Result<Option<OrderRow>, OrdersError>> {
    each_on_failure(&pool, &orders, |pool, orders| async move {
        insert_batch(&pool, &orders).await
    })
    .await
}

async fn insert_batch(
    pool: &PgPool,
    orders: &[NewOrder],
) -> Result<Vec<Option<OrderRow>>, sqlx::Error> {
    let ids: Vec<Uuid> = orders.iter().map(|o| o.id).collect();
    let users: Vec<&str> = orders.iter().map(|o| o.user_id.as_str()).collect();
    let keys: Vec<&str> = orders.iter().map(|o| o.key.as_str()).collect();
    let hashes: Vec<&str> = orders.iter().map(|o| o.request_hash.as_str()).collect();
    let tokens: Vec<&str> = orders.iter().map(|o| o.payment_token.as_str()).collect();
    let totals: Vec<i64> = orders.iter().map(|o| o.total_minor).collect();
    let currencies: Vec<&str> = orders.iter().map(|o| o.currency.as_str()).collect();
    let leases: Vec<f64> = orders.iter().map(|o| o.lease_seconds).collect();
    let all_lines = orders
        .iter()
        .flat_map(|o| o.lines.iter().map(move |l| (o.id, l)));
    let (mut l_ids, mut l_skus, mut l_names, mut l_qtys, mut l_prices) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (id, l) in all_lines {
        l_ids.push(id);
        l_skus.push(l.sku.as_str());
        l_names.push(l.name.as_str());
        l_qtys.push(l.quantity);
        l_prices.push(l.unit_price_minor);
    }
    // Rows are inserted in key order, so two batches never wait on each other's keys in
    // opposite orders.
    let rows = sqlx::query(
        "WITH i AS (
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                                  $6::bigint[], $7::text[], $8::float8[])
                 AS i(id, user_id, idempotency_key, request_hash, payment_token, total_minor,
                      currency, lease)),
         o AS (
             INSERT INTO orders (id, user_id, idempotency_key, request_hash, status, payment_token,
                                 total_minor, currency, lease_until)
             SELECT id, user_id, idempotency_key, request_hash, 'pending', payment_token,
                    total_minor, currency, now() + make_interval(secs => lease)
             FROM i ORDER BY user_id, idempotency_key
             ON CONFLICT (user_id, idempotency_key) DO NOTHING
             RETURNING id, created_at),
         l AS (
             INSERT INTO order_lines (order_id, sku, name, quantity, unit_price_minor)
             SELECT l.order_id, l.sku, l.name, l.quantity, l.unit_price_minor
             FROM unnest($9::uuid[], $10::text[], $11::text[], $12::int[], $13::bigint[])
                  AS l(order_id, sku, name, quantity, unit_price_minor)
             JOIN o ON o.id = l.order_id)
         SELECT id, created_at FROM o",
    )
    .bind(&ids)
    .bind(&users)
    .bind(&keys)
    .bind(&hashes)
    .bind(&tokens)
    .bind(&totals)
    .bind(&currencies)
    .bind(&leases)
    .bind(&l_ids)
    .bind(&l_skus)
    .bind(&l_names)
    .bind(&l_qtys)
    .bind(&l_prices)
    .fetch_all(pool)
    .await?;
    let mut created = std::collections::HashMap::with_capacity(rows.len());
    for r in &rows {
        let id: Uuid = r.try_get("id")?;
        let at: DateTime<Utc> = r.try_get("created_at")?;
        created.insert(id, at);
    }
    Ok(orders
        .iter()
        .map(|o| {
            created.get(&o.id).map(|&created_at| OrderRow {
                id: o.id,
                user_id: o.user_id.clone(),
                request_hash: o.request_hash.clone(),
                status: OrderStatus::Pending,
                payment_token: o.payment_token.clone(),
                total_minor: o.total_minor,
                currency: o.currency.clone(),
                authorize_attempted: false,
                payment_id: None,
                payment_status: None,
                failure_code: None,
                failure_detail: None,
                response_status: None,
                response_body: None,
                created_at,
                challenge_id: None,
                action_expires_at: None,
            })
        })
        .collect())
}

/// Moves orders from `pending` to `reserved`; for each, false if another worker got there
/// first. One statement for the batch.
///
/// This step need not wait for the disk: if it is lost in a crash, the order is found
/// `pending` and the reservation is asked for again, which is safe because it is idempotent
/// by order id. The final `confirmed` write is synchronous, and it also makes everything
/// written before it durable. `set_config(.., true)` is `SET LOCAL` for the statement's own
/// (implicit) transaction, and is read when that transaction commits.
pub async fn mark_reserved_many(pool: PgPool, ids: Vec<Uuid>) -> Vec<Result<bool, OrdersError>> {
    each_on_failure(&pool, &ids, |pool, ids| async move {
        let mut sorted = ids.clone();
        sorted.sort();
        let moved: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE orders SET status = 'reserved', updated_at = now()
             FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
             WHERE id = ANY($1) AND status = 'pending'
             RETURNING id",
        )
        .bind(&sorted)
        .fetch_all(&pool)
        .await?;
        Ok(ids.iter().map(|id| moved.contains(id)).collect())
    })
    .await
}

/// A paid order's confirmation.
#[derive(Debug, Clone)]
pub struct Confirmation {
    pub id: Uuid,
    /// The status it is confirmed from (`reserved`, or `authorized` when resumed).
    pub from: OrderStatus,
    pub payment_id: Uuid,
    pub payment_status: String,
    pub body: serde_json::Value,
}

/// Confirms orders, records their payments and empties their users' carts; for each, false if
/// it was no longer in its `from` status. One statement and one durable commit for the batch.
pub async fn confirm_many(
    pool: PgPool,
    orders: Vec<Confirmation>,
) -> Vec<Result<bool, OrdersError>> {
    each_on_failure(&pool, &orders, |pool, mut orders| async move {
        let order_of: Vec<Uuid> = orders.iter().map(|c| c.id).collect();
        // Rows are locked in id order, so two batches cannot deadlock on each other's rows.
        orders.sort_by_key(|c| c.id);
        let ids: Vec<Uuid> = orders.iter().map(|c| c.id).collect();
        let froms: Vec<&str> = orders.iter().map(|c| c.from.as_str()).collect();
        let pids: Vec<Uuid> = orders.iter().map(|c| c.payment_id).collect();
        let pstatuses: Vec<&str> = orders.iter().map(|c| c.payment_status.as_str()).collect();
        let bodies: Vec<String> = orders.iter().map(|c| c.body.to_string()).collect();
        let confirmed: Vec<Uuid> = sqlx::query_scalar(
            "WITH i AS (
                 SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[])
                     AS i(id, from_status, payment_id, payment_status, body)),
             confirmed AS (
                 UPDATE orders o SET status = 'confirmed', payment_status = i.payment_status,
                     response_status = 201, response_body = i.body::jsonb,
                     payment_id = i.payment_id, authorize_attempted = true, updated_at = now()
                 FROM i WHERE o.id = i.id AND o.status = i.from_status
                 RETURNING o.id, o.user_id),
             cleared AS (
                 DELETE FROM cart_items WHERE user_id IN (SELECT user_id FROM confirmed))
             SELECT id FROM confirmed",
        )
        .bind(&ids)
        .bind(&froms)
        .bind(&pids)
        .bind(&pstatuses)
        .bind(&bodies)
        .fetch_all(&pool)
        .await?;
        Ok(order_of.iter().map(|id| confirmed.contains(id)).collect())
    })
    .await
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

/// Claims an order whose 3-D Secure wait is over (its lease runs until the deadline), as the
/// recovery sweep would; false if it is not due or someone else has it.
pub async fn claim_expired_action(
    pool: &PgPool,
    id: Uuid,
    lease_seconds: f64,
) -> Result<bool, OrdersError> {
    let n = sqlx::query(
        "UPDATE orders SET lease_until = now() + make_interval(secs => $2), attempts = attempts + 1
         WHERE id = $1 AND status = 'awaiting_action' AND action_expires_at <= now()
           AND lease_until <= now()",
    )
    .bind(id)
    .bind(lease_seconds)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(n == 1)
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub id: Uuid,
    pub status: OrderStatus,
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
               AND NOT (payment_status IN ('captured', 'voided', 'partially_refunded', 'refunded')
                        AND $4 = 'authorized')
               AND NOT (payment_status IN ('partially_refunded', 'refunded') AND $4 = 'captured')
               AND NOT (payment_status = 'refunded' AND $4 = 'partially_refunded'))
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
