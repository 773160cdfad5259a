//! Payments in PostgreSQL. Authorize is idempotent by key; every other transition is a
//! conditional `UPDATE` so it happens once, and writes its event and webhook in the same
//! transaction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::cards::CardSummary;
use crate::error::PaymentsError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PaymentMethod {
    pub token: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i16,
    pub exp_year: i16,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Payment {
    pub id: Uuid,
    pub status: String,
    pub amount_minor: i64,
    pub currency: String,
    pub order_ref: Option<String>,
    pub decline_code: Option<String>,
    pub brand: String,
    pub last4: String,
    pub created_at: DateTime<Utc>,
}

fn new_token() -> Result<String, PaymentsError> {
    let mut bytes = [0u8; 18];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| PaymentsError::Invalid("no randomness available".into()))?;
    use base64::Engine as _;
    Ok(format!(
        "pm_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

pub async fn save_method(
    pool: &PgPool,
    card: &CardSummary,
    exp_month: i16,
    exp_year: i16,
) -> Result<PaymentMethod, PaymentsError> {
    let token = new_token()?;
    sqlx::query(
        "INSERT INTO payment_methods (token, brand, last4, exp_month, exp_year, outcome)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&token)
    .bind(card.brand)
    .bind(&card.last4)
    .bind(exp_month)
    .bind(exp_year)
    .bind(card.outcome)
    .execute(pool)
    .await?;
    Ok(PaymentMethod {
        token,
        brand: card.brand.to_string(),
        last4: card.last4.clone(),
        exp_month,
        exp_year,
    })
}

const SELECT_PAYMENT: &str = "SELECT p.id, p.status, p.amount_minor, p.currency, p.order_ref,
        p.decline_code, p.created_at, m.brand, m.last4, p.request_hash
    FROM payments p JOIN payment_methods m ON m.token = p.token";

fn payment_from_row(r: &sqlx::postgres::PgRow) -> Result<Payment, sqlx::Error> {
    Ok(Payment {
        id: r.try_get("id")?,
        status: r.try_get("status")?,
        amount_minor: r.try_get("amount_minor")?,
        currency: r.try_get("currency")?,
        order_ref: r.try_get("order_ref")?,
        decline_code: r.try_get("decline_code")?,
        brand: r.try_get("brand")?,
        last4: r.try_get("last4")?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Payment, PaymentsError> {
    let row = sqlx::query(&format!("{SELECT_PAYMENT} WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or(PaymentsError::NotFound(id))?;
    Ok(payment_from_row(&row)?)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    pub token: String,
    pub amount_minor: i64,
    pub currency: String,
    #[serde(default)]
    pub order_ref: Option<String>,
    /// Capture in the same step when approved (a sale): one call and one write instead of
    /// authorize, then capture. Not part of the request's identity: a repeat with the same key
    /// answers with the payment as it is now, whichever way it was made.
    #[serde(default)]
    pub capture: bool,
}

impl AuthorizeRequest {
    fn validate(&self) -> Result<(), PaymentsError> {
        if self.amount_minor <= 0 || self.amount_minor > 10_000_000_000 {
            return Err(PaymentsError::Invalid(
                "amount_minor must be between 1 and 10000000000".into(),
            ));
        }
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(PaymentsError::Invalid(
                "currency must be an ISO 4217 code like EUR".into(),
            ));
        }
        if self.token.len() > 100 || !self.token.starts_with("pm_") {
            return Err(PaymentsError::UnknownToken);
        }
        if self.order_ref.as_ref().is_some_and(|r| r.len() > 100) {
            return Err(PaymentsError::Invalid(
                "order_ref is at most 100 characters".into(),
            ));
        }
        Ok(())
    }

    fn hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.token.as_bytes());
        h.update([0]);
        h.update(self.amount_minor.to_be_bytes());
        h.update(self.currency.as_bytes());
        h.update([0]);
        h.update(self.order_ref.as_deref().unwrap_or("").as_bytes());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What the sandbox does with a card, by the outcome stored with its token: the payment's
/// status and decline code.
const OUTCOMES: [(&str, &str, Option<&str>); 4] = [
    ("approve", "authorized", None),
    ("decline", "declined", Some("card_declined")),
    ("insufficient_funds", "declined", Some("insufficient_funds")),
    (
        "requires_3ds",
        "requires_action",
        Some("authentication_required"),
    ),
];

/// Whether a change is announced by webhook. A caller that takes the outcome from the
/// response (orders, inside its saga) asks for none; changes it did not ask for (a refund by
/// support, say) are still announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announce {
    Webhook,
    CallerOnly,
}

/// Authorizes once per idempotency key. Returns the payment and whether this call made it.
pub async fn authorize(
    pool: &PgPool,
    key: &str,
    req: &AuthorizeRequest,
    announce: Announce,
) -> Result<(Payment, bool), PaymentsError> {
    req.validate()?;
    let hash = req.hash();
    let outcomes: Vec<&str> = OUTCOMES.iter().map(|o| o.0).collect();
    let statuses: Vec<&str> = OUTCOMES
        .iter()
        .map(|o| match o.1 {
            "authorized" if req.capture => "captured",
            status => status,
        })
        .collect();
    let declines: Vec<Option<&str>> = OUTCOMES.iter().map(|o| o.2).collect();
    let id = Uuid::new_v4();
    // The card's outcome, the payment, its events and its webhook in one statement (one round
    // trip, one transaction); nothing is written if the token is unknown or the key is taken.
    let row = sqlx::query(
        "WITH d AS (
             SELECT o.status, o.decline_code, m.brand, m.last4
             FROM payment_methods m
             JOIN unnest($8::text[], $9::text[], $10::text[]) AS o(outcome, status, decline_code)
               ON o.outcome = m.outcome
             WHERE m.token = $4),
         p AS (
             INSERT INTO payments (id, idempotency_key, request_hash, token, amount_minor,
                                   currency, order_ref, status, decline_code)
             SELECT $1, $2, $3, $4, $5, $6, $7, d.status, d.decline_code FROM d
             ON CONFLICT (idempotency_key) DO NOTHING
             RETURNING id, status, created_at),
         -- A sale records both movements: authorized, then captured.
         e AS (INSERT INTO payment_events (payment_id, kind, amount_minor)
               SELECT p.id, k.kind, $5 FROM p,
                   unnest(CASE WHEN p.status = 'captured' THEN ARRAY['authorized', 'captured']
                               ELSE ARRAY[p.status] END) WITH ORDINALITY AS k(kind, n)
               ORDER BY k.n),
         w AS (INSERT INTO webhook_outbox (payload)
               SELECT jsonb_build_object('id', $11::uuid, 'type', 'payment.' || p.status,
                          'payment_id', p.id, 'order_ref', $7::text, 'status', p.status,
                          'amount_minor', $5::bigint, 'currency', $6::text)
               FROM p WHERE $12)
         SELECT d.status, d.decline_code, d.brand, d.last4, p.created_at
         FROM d LEFT JOIN p ON true",
    )
    .bind(id)
    .bind(key)
    .bind(&hash)
    .bind(&req.token)
    .bind(req.amount_minor)
    .bind(&req.currency)
    .bind(&req.order_ref)
    .bind(&outcomes)
    .bind(&statuses)
    .bind(&declines)
    .bind(Uuid::new_v4())
    .bind(announce == Announce::Webhook)
    .fetch_optional(pool)
    .await?
    .ok_or(PaymentsError::UnknownToken)?;
    let created: Option<DateTime<Utc>> = row.try_get("created_at")?;
    let Some(created_at) = created else {
        let row = sqlx::query(&format!("{SELECT_PAYMENT} WHERE p.idempotency_key = $1"))
            .bind(key)
            .fetch_one(pool)
            .await?;
        let stored_hash: String = row.try_get("request_hash")?;
        if stored_hash != hash {
            return Err(PaymentsError::KeyReused);
        }
        return Ok((payment_from_row(&row)?, false));
    };
    let p = Payment {
        id,
        status: row.try_get("status")?,
        amount_minor: req.amount_minor,
        currency: req.currency.clone(),
        order_ref: req.order_ref.clone(),
        decline_code: row.try_get("decline_code")?,
        brand: row.try_get("brand")?,
        last4: row.try_get("last4")?,
        created_at,
    };
    Ok((p, true))
}

/// Moves a payment `from` one status `to` another. Repeating a transition that is done is a
/// no-op; any other state is an error.
pub async fn transition(
    pool: &PgPool,
    id: Uuid,
    from: &str,
    to: &str,
    action: &str,
    announce: Announce,
) -> Result<Payment, PaymentsError> {
    // The transition, its event and its webhook in one statement (one round trip, one
    // transaction); the event and webhook are written only if the payment moved.
    let moved = sqlx::query(
        "WITH u AS (
             UPDATE payments SET status = $3, updated_at = now() WHERE id = $1 AND status = $2
             RETURNING id, status, amount_minor, currency, order_ref, decline_code, created_at,
                       token),
         e AS (INSERT INTO payment_events (payment_id, kind, amount_minor)
               SELECT id, $3, amount_minor FROM u),
         w AS (INSERT INTO webhook_outbox (payload)
               SELECT jsonb_build_object('id', $4::uuid, 'type', $5::text, 'payment_id', id,
                          'order_ref', order_ref, 'status', status,
                          'amount_minor', amount_minor, 'currency', currency)
               FROM u WHERE $6)
         SELECT u.id, u.status, u.amount_minor, u.currency, u.order_ref, u.decline_code,
                u.created_at, m.brand, m.last4
         FROM u JOIN payment_methods m ON m.token = u.token",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(Uuid::new_v4())
    .bind(format!("payment.{to}"))
    .bind(announce == Announce::Webhook)
    .fetch_optional(pool)
    .await?;
    if let Some(row) = moved {
        return Ok(payment_from_row(&row)?);
    }
    let p = get(pool, id).await?;
    if p.status == to {
        Ok(p)
    } else {
        Err(PaymentsError::WrongState {
            status: p.status,
            action: action.to_string(),
        })
    }
}

/// Sends pending webhooks, signed, to `url`, concurrently. Returns how many were delivered.
pub async fn deliver_webhooks(
    pool: &PgPool,
    http: &reqwest::Client,
    url: &str,
    secret: &[u8],
) -> Result<u64, PaymentsError> {
    let rows = sqlx::query(
        "SELECT id, payload FROM webhook_outbox WHERE delivered_at IS NULL AND attempts < 20
         ORDER BY id LIMIT 200",
    )
    .fetch_all(pool)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut sends = tokio::task::JoinSet::new();
    for row in rows {
        let id: i64 = row.try_get("id")?;
        let payload: serde_json::Value = row.try_get("payload")?;
        let body = payload.to_string();
        let sig = ecom_shared::webhook::sign(secret, ecom_shared::unix_now(), body.as_bytes());
        let req = http
            .post(url)
            .header("content-type", "application/json")
            .header(ecom_shared::webhook::HEADER, sig)
            .body(body);
        sends.spawn(async move {
            let ok = req
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            (id, ok)
        });
    }
    let (mut delivered, mut failed) = (Vec::new(), Vec::new());
    while let Some(r) = sends.join_next().await {
        if let Ok((id, ok)) = r {
            if ok {
                delivered.push(id);
            } else {
                failed.push(id);
            }
        }
    }
    // Losing this bookkeeping in a crash only means a repeat delivery, which receivers
    // de-duplicate by event id: no need to wait for the disk. One statement;
    // `set_config(.., true)` is `SET LOCAL` for its own transaction.
    sqlx::query(
        "UPDATE webhook_outbox SET attempts = attempts + 1,
             delivered_at = CASE WHEN id = ANY($1) THEN now() ELSE delivered_at END
         FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
         WHERE id = ANY($1) OR id = ANY($2)",
    )
    .bind(&delivered)
    .bind(&failed)
    .execute(pool)
    .await?;
    Ok(delivered.len() as u64)
}
