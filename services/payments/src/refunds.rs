//! Refunds of a capture, in full or in part: each once (a partial one once per key), never
//! more than was captured.

use sqlx::PgPool;
use uuid::Uuid;

use crate::error::PaymentsError;
use crate::store::{get, payment_from_row, Announce, Payment};

/// A refund of part of a capture: its amount and the caller's idempotency key.
#[derive(Debug, Clone, Copy)]
pub struct PartialRefund<'a> {
    pub amount_minor: i64,
    pub key: &'a str,
}

/// Refunds a captured payment: what is left of it (`part: None`), or part of it; returns the
/// payment and whether this call refunded anything. A partial
/// refund is made once per (payment, key): asked again with the same amount it answers with
/// the payment as it is; with another amount it is refused. The payment row is locked while
/// the refund is decided, so concurrent refunds never add up to more than the capture (the
/// table's check would refuse it anyway). The refund, the payment's new totals, its event and
/// its webhook are one statement.
pub async fn refund(
    pool: &PgPool,
    id: Uuid,
    part: Option<PartialRefund<'_>>,
    announce: Announce,
) -> Result<(Payment, bool), PaymentsError> {
    if let Some(p) = part {
        if p.amount_minor <= 0 {
            return Err(PaymentsError::Invalid(
                "amount_minor must be at least 1".into(),
            ));
        }
    }
    let moved = sqlx::query(
        "WITH p AS (
             SELECT id, amount_minor - refunded_minor AS left_minor FROM payments
             WHERE id = $1 AND status IN ('captured', 'partially_refunded') FOR UPDATE),
         r AS (
             INSERT INTO refunds (id, payment_id, idempotency_key, amount_minor)
             SELECT $2, p.id, $3, COALESCE($4, p.left_minor) FROM p
             WHERE COALESCE($4, p.left_minor) BETWEEN 1 AND p.left_minor
             ON CONFLICT (payment_id, idempotency_key) DO NOTHING
             RETURNING payment_id, amount_minor),
         u AS (
             UPDATE payments x SET refunded_minor = x.refunded_minor + r.amount_minor,
                 status = CASE WHEN x.refunded_minor + r.amount_minor = x.amount_minor
                               THEN 'refunded' ELSE 'partially_refunded' END,
                 updated_at = now()
             FROM r WHERE x.id = r.payment_id
             RETURNING x.id, x.status, x.amount_minor, x.refunded_minor, x.currency,
                       x.order_ref, x.decline_code, x.created_at, x.token, x.challenge_id,
                       r.amount_minor AS refund_minor),
         e AS (INSERT INTO payment_events (payment_id, kind, amount_minor)
               SELECT id, 'refunded', refund_minor FROM u),
         w AS (INSERT INTO webhook_outbox (payload)
               SELECT jsonb_build_object('id', $5::uuid, 'type', 'payment.' || status,
                          'payment_id', id, 'order_ref', order_ref, 'status', status,
                          'amount_minor', amount_minor, 'refunded_minor', refunded_minor,
                          'currency', currency)
               FROM u WHERE $6)
         SELECT u.id, u.status, u.amount_minor, u.refunded_minor, u.currency, u.order_ref,
                u.decline_code, u.created_at, m.brand, m.last4, u.challenge_id
         FROM u JOIN payment_methods m ON m.token = u.token",
    )
    .bind(id)
    .bind(Uuid::new_v4())
    .bind(part.map(|p| p.key))
    .bind(part.map(|p| p.amount_minor))
    .bind(Uuid::new_v4())
    .bind(announce == Announce::Webhook)
    .fetch_optional(pool)
    .await?;
    if let Some(row) = moved {
        return Ok((payment_from_row(&row)?, true));
    }
    // Nothing moved: a repeat, the wrong state, or more than is left.
    let p = get(pool, id).await?;
    if let Some(part) = part {
        let earlier: Option<i64> = sqlx::query_scalar(
            "SELECT amount_minor FROM refunds WHERE payment_id = $1 AND idempotency_key = $2",
        )
        .bind(id)
        .bind(part.key)
        .fetch_optional(pool)
        .await?;
        match earlier {
            Some(a) if a == part.amount_minor => return Ok((p, false)),
            Some(_) => return Err(PaymentsError::KeyReused),
            None => {}
        }
    }
    match p.status.as_str() {
        "captured" | "partially_refunded" => Err(PaymentsError::RefundTooLarge {
            left: p.amount_minor - p.refunded_minor,
        }),
        // Refunding what is left of a refunded payment again: nothing left, nothing to do.
        "refunded" if part.is_none() => Ok((p, false)),
        _ => Err(PaymentsError::WrongState {
            status: p.status,
            action: "refund".into(),
        }),
    }
}
