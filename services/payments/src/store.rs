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
pub use crate::refunds::{refund, PartialRefund};

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
    /// What has been refunded so far (all of `amount_minor` once `refunded`).
    pub refunded_minor: i64,
    pub currency: String,
    pub order_ref: Option<String>,
    pub decline_code: Option<String>,
    pub brand: String,
    pub last4: String,
    pub created_at: DateTime<Utc>,
    /// What the customer must do before the payment can go on: present while it is
    /// `requires_action` (a 3-D Secure challenge to answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<PaymentAction>,
}

/// A payment's pending customer action: the 3-D Secure challenge to answer at
/// `POST /v1/payments/{id}/3ds`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PaymentAction {
    #[serde(rename = "type")]
    pub kind: String,
    pub challenge_id: String,
}

impl PaymentAction {
    fn of(status: &str, challenge: Option<String>) -> Option<Self> {
        (status == "requires_action")
            .then_some(challenge)
            .flatten()
            .map(|challenge_id| Self {
                kind: "3ds_challenge".into(),
                challenge_id,
            })
    }
}

/// A fresh, unguessable challenge id.
fn new_challenge() -> String {
    format!("ch_{}", Uuid::new_v4().simple())
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
    customer: &str,
    card: &CardSummary,
    exp_month: i16,
    exp_year: i16,
) -> Result<PaymentMethod, PaymentsError> {
    let token = new_token()?;
    sqlx::query(
        "INSERT INTO payment_methods (token, brand, last4, exp_month, exp_year, outcome, customer)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&token)
    .bind(card.brand)
    .bind(&card.last4)
    .bind(exp_month)
    .bind(exp_year)
    .bind(card.outcome)
    .bind(customer)
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

const SELECT_PAYMENT: &str =
    "SELECT p.id, p.status, p.amount_minor, p.refunded_minor, p.currency, p.order_ref,
        p.decline_code, p.created_at, m.brand, m.last4, p.request_hash, p.challenge_id
    FROM payments p JOIN payment_methods m ON m.token = p.token";

pub(crate) fn payment_from_row(r: &sqlx::postgres::PgRow) -> Result<Payment, sqlx::Error> {
    let status: String = r.try_get("status")?;
    Ok(Payment {
        id: r.try_get("id")?,
        action: PaymentAction::of(&status, r.try_get("challenge_id")?),
        status,
        amount_minor: r.try_get("amount_minor")?,
        refunded_minor: r.try_get("refunded_minor")?,
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
    /// The customer the payment is for: the method must be theirs (an unknown token and
    /// someone else's are refused alike).
    pub customer: String,
    pub amount_minor: i64,
    pub currency: String,
    #[serde(default, deserialize_with = "ecom_shared::openapi::not_null")]
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
        if self.token.chars().count() > 100 || !self.token.starts_with("pm_") {
            return Err(PaymentsError::UnknownToken);
        }
        if self.customer.is_empty() || self.customer.chars().count() > 200 {
            return Err(PaymentsError::Invalid(
                "customer must be 1 to 200 characters".into(),
            ));
        }
        if self
            .order_ref
            .as_ref()
            .is_some_and(|r| r.chars().count() > 100)
        {
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
        // The customer is not hashed: a token pays for its owner only, so the token names them.
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
    authorize_many(pool, &[(key, req)], announce)
        .await
        .results
        .pop()
        .unwrap_or_else(|| Err(PaymentsError::Invalid("no answer for the request".into())))
}

/// Authorizes many, each once per idempotency key and answered as [`authorize`] would answer
/// it alone, in one statement (one round trip, one durable commit) for the whole batch. A key
/// that repeats within the batch is answered after it, as a second call would be; should the
/// batch's statement fail, each request is made on its own.
pub async fn authorize_many(
    pool: &PgPool,
    items: &[(&str, &AuthorizeRequest)],
    announce: Announce,
) -> AuthorizedBatch {
    let mut run_alone = 0;
    let mut out: Vec<Option<Result<(Payment, bool), PaymentsError>>> =
        (0..items.len()).map(|_| None).collect();
    let (mut first, mut repeats) = (Vec::new(), Vec::new());
    let mut keys = std::collections::HashSet::new();
    for (i, (key, req)) in items.iter().enumerate() {
        if key.trim().is_empty() || key.len() > 200 {
            out[i] = Some(Err(PaymentsError::MissingKey));
        } else if let Err(e) = req.validate() {
            out[i] = Some(Err(e));
        } else if keys.insert(*key) {
            first.push(i);
        } else {
            repeats.push(i);
        }
    }
    let mut alone = repeats;
    if first.len() == 1 {
        alone.insert(0, first[0]);
    } else if !first.is_empty() {
        let batch: Vec<(&str, &AuthorizeRequest)> = first.iter().map(|&i| items[i]).collect();
        match authorize_statement(pool, &batch, announce).await {
            Ok(results) => {
                for (i, r) in first.iter().zip(results) {
                    out[*i] = Some(r);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "payment batch failed; its requests run one by one");
                run_alone = first.len();
                alone.extend(first);
                alone.sort_unstable();
            }
        }
    }
    for i in alone {
        out[i] = Some(
            match authorize_statement(pool, &[items[i]], announce).await {
                Ok(mut r) => r.pop().unwrap_or(Err(PaymentsError::UnknownToken)),
                Err(e) => Err(e.into()),
            },
        );
    }
    let results = out
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| Err(PaymentsError::Invalid("no answer for the request".into())))
        })
        .collect();
    AuthorizedBatch { results, run_alone }
}

/// A batch of authorizations' answers.
#[derive(Debug)]
pub struct AuthorizedBatch {
    /// One per request, in order.
    pub results: Vec<Result<(Payment, bool), PaymentsError>>,
    /// How many requests were made one by one because the batch's statement failed.
    pub run_alone: usize,
}

/// The card's outcome, the payments, their events and webhooks in one statement; nothing is
/// written for an unknown token or a key that is taken (that key's payment is then read and
/// answered if its request is the same). Keys must be distinct and requests valid.
async fn authorize_statement(
    pool: &PgPool,
    items: &[(&str, &AuthorizeRequest)],
    announce: Announce,
) -> Result<Vec<Result<(Payment, bool), PaymentsError>>, sqlx::Error> {
    let ids: Vec<Uuid> = items.iter().map(|_| Uuid::new_v4()).collect();
    let keys: Vec<&str> = items.iter().map(|(k, _)| *k).collect();
    let hashes: Vec<String> = items.iter().map(|(_, r)| r.hash()).collect();
    let tokens: Vec<&str> = items.iter().map(|(_, r)| r.token.as_str()).collect();
    let amounts: Vec<i64> = items.iter().map(|(_, r)| r.amount_minor).collect();
    let currencies: Vec<&str> = items.iter().map(|(_, r)| r.currency.as_str()).collect();
    let refs: Vec<Option<&str>> = items.iter().map(|(_, r)| r.order_ref.as_deref()).collect();
    let captures: Vec<bool> = items.iter().map(|(_, r)| r.capture).collect();
    let customers: Vec<&str> = items.iter().map(|(_, r)| r.customer.as_str()).collect();
    let events: Vec<Uuid> = items.iter().map(|_| Uuid::new_v4()).collect();
    let challenges: Vec<String> = items.iter().map(|_| new_challenge()).collect();
    let outcomes: Vec<&str> = OUTCOMES.iter().map(|o| o.0).collect();
    let statuses: Vec<&str> = OUTCOMES.iter().map(|o| o.1).collect();
    let declines: Vec<Option<&str>> = OUTCOMES.iter().map(|o| o.2).collect();
    let rows = sqlx::query(
        "WITH i AS (
             SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[],
                                  $6::text[], $7::text[], $8::bool[], $9::uuid[], $14::text[],
                                  $15::text[])
                 AS i(id, idempotency_key, request_hash, token, amount_minor, currency,
                      order_ref, capture, event_id, customer, challenge)),
         d AS (
             SELECT i.*, o.decline_code, m.brand, m.last4,
                    -- A sale: captured at once when approved.
                    CASE WHEN o.status = 'authorized' AND i.capture THEN 'captured'
                         ELSE o.status END AS status
             FROM i
             -- Only the owner's method pays: anyone else's is an unknown token.
             JOIN payment_methods m ON m.token = i.token AND m.customer = i.customer
             JOIN unnest($10::text[], $11::text[], $12::text[])
                 AS o(outcome, status, decline_code) ON o.outcome = m.outcome),
         p AS (
             INSERT INTO payments (id, idempotency_key, request_hash, token, amount_minor,
                                   currency, order_ref, status, decline_code, challenge_id,
                                   capture_requested)
             SELECT id, idempotency_key, request_hash, token, amount_minor, currency,
                    order_ref, status, decline_code,
                    -- 3-D Secure: the challenge the customer is to answer.
                    CASE WHEN status = 'requires_action' THEN challenge END, capture
             FROM d ORDER BY idempotency_key
             ON CONFLICT (idempotency_key) DO NOTHING
             RETURNING id, status, amount_minor, created_at),
         -- A sale records both movements: authorized, then captured.
         e AS (INSERT INTO payment_events (payment_id, kind, amount_minor)
               SELECT p.id, k.kind, p.amount_minor FROM p,
                   unnest(CASE WHEN p.status = 'captured' THEN ARRAY['authorized', 'captured']
                               ELSE ARRAY[p.status] END) WITH ORDINALITY AS k(kind, n)
               ORDER BY p.id, k.n),
         w AS (INSERT INTO webhook_outbox (payload)
               SELECT jsonb_build_object('id', d.event_id, 'type', 'payment.' || p.status,
                          'payment_id', p.id, 'order_ref', d.order_ref, 'status', p.status,
                          'amount_minor', p.amount_minor, 'currency', d.currency)
               FROM p JOIN d ON d.id = p.id WHERE $13)
         SELECT d.id, d.status, d.decline_code, d.brand, d.last4, p.created_at
         FROM d LEFT JOIN p ON p.id = d.id",
    )
    .bind(&ids)
    .bind(&keys)
    .bind(&hashes)
    .bind(&tokens)
    .bind(&amounts)
    .bind(&currencies)
    .bind(&refs)
    .bind(&captures)
    .bind(&events)
    .bind(&outcomes)
    .bind(&statuses)
    .bind(&declines)
    .bind(announce == Announce::Webhook)
    .bind(&customers)
    .bind(&challenges)
    .fetch_all(pool)
    .await?;
    let mut by_id: std::collections::HashMap<Uuid, &sqlx::postgres::PgRow> =
        std::collections::HashMap::with_capacity(rows.len());
    for row in &rows {
        by_id.insert(row.try_get("id")?, row);
    }
    let mut out = Vec::with_capacity(items.len());
    for (n, (key, req)) in items.iter().enumerate() {
        let Some(row) = by_id.get(&ids[n]) else {
            out.push(Err(PaymentsError::UnknownToken));
            continue;
        };
        let created: Option<DateTime<Utc>> = row.try_get("created_at")?;
        let Some(created_at) = created else {
            // The key was taken: the same request gets the payment as it is now.
            out.push(replay(pool, key, &hashes[n]).await);
            continue;
        };
        let status: String = row.try_get("status")?;
        out.push(Ok((
            Payment {
                id: ids[n],
                action: PaymentAction::of(&status, Some(challenges[n].clone())),
                status,
                amount_minor: req.amount_minor,
                refunded_minor: 0,
                currency: req.currency.clone(),
                order_ref: req.order_ref.clone(),
                decline_code: row.try_get("decline_code")?,
                brand: row.try_get("brand")?,
                last4: row.try_get("last4")?,
                created_at,
            },
            true,
        )));
    }
    Ok(out)
}

/// The payment made earlier with `key`, if it was made for the same request.
async fn replay(pool: &PgPool, key: &str, hash: &str) -> Result<(Payment, bool), PaymentsError> {
    let row = sqlx::query(&format!("{SELECT_PAYMENT} WHERE p.idempotency_key = $1"))
        .bind(key)
        .fetch_one(pool)
        .await?;
    let stored_hash: String = row.try_get("request_hash")?;
    if stored_hash != hash {
        return Err(PaymentsError::KeyReused);
    }
    Ok((payment_from_row(&row)?, false))
}

/// Moves a payment `from` one status `to` another. Repeating a transition that is done is a
/// no-op; any other state is an error.
pub async fn transition(
    pool: &PgPool,
    id: Uuid,
    from: &[&str],
    to: &str,
    action: &str,
    announce: Announce,
) -> Result<Payment, PaymentsError> {
    // The transition, its event and its webhook in one statement (one round trip, one
    // transaction); the event and webhook are written only if the payment moved.
    let moved = sqlx::query(
        "WITH u AS (
             UPDATE payments SET status = $3, updated_at = now()
             WHERE id = $1 AND status = ANY($2)
             RETURNING id, status, amount_minor, refunded_minor, currency, order_ref,
                       decline_code, created_at, token, challenge_id),
         e AS (INSERT INTO payment_events (payment_id, kind, amount_minor)
               SELECT id, $3, amount_minor FROM u),
         w AS (INSERT INTO webhook_outbox (payload)
               SELECT jsonb_build_object('id', $4::uuid, 'type', $5::text, 'payment_id', id,
                          'order_ref', order_ref, 'status', status,
                          'amount_minor', amount_minor, 'currency', currency)
               FROM u WHERE $6)
         SELECT u.id, u.status, u.amount_minor, u.refunded_minor, u.currency, u.order_ref,
                u.decline_code, u.created_at, m.brand, m.last4, u.challenge_id
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
