//! 3-D Secure in the sandbox. A card that asks for it makes an authorization
//! `requires_action` with a challenge; the customer's answer (relayed by the caller, orders)
//! moves the payment on: to `authorized`, or `captured` when the request was a sale, if the
//! customer passed; to `declined` (`authentication_failed`) if not. Answering again changes
//! nothing and answers with the payment as it is. A challenge nobody answers is voided by the
//! caller (`POST /v1/payments/{id}/void` takes `requires_action` payments too).

use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::PaymentsError;
use crate::store::{get, payment_from_row, Announce, Payment};

/// The customer's answer to a challenge (the sandbox's stand-in for the issuer's page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChallengeResult {
    Succeeded,
    Failed,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeAnswer {
    pub challenge_id: String,
    pub result: ChallengeResult,
}

/// Answers payment `id`'s challenge. Returns the payment and whether this call moved it.
pub async fn answer(
    pool: &PgPool,
    id: Uuid,
    answer: &ChallengeAnswer,
    announce: Announce,
) -> Result<(Payment, bool), PaymentsError> {
    let passed = answer.result == ChallengeResult::Succeeded;
    // The move, its events (a sale records authorized, then captured) and its webhook in one
    // statement; nothing is written unless the payment moved.
    let moved = sqlx::query(
        "WITH u AS (
             UPDATE payments SET
                 status = CASE WHEN NOT $3 THEN 'declined'
                               WHEN capture_requested THEN 'captured' ELSE 'authorized' END,
                 decline_code = CASE WHEN $3 THEN NULL ELSE 'authentication_failed' END,
                 updated_at = now()
             WHERE id = $1 AND status = 'requires_action' AND challenge_id = $2
             RETURNING id, status, amount_minor, refunded_minor, currency, order_ref,
                       decline_code, created_at, token, challenge_id),
         e AS (INSERT INTO payment_events (payment_id, kind, amount_minor)
               SELECT u.id, k.kind, u.amount_minor FROM u,
                   unnest(CASE WHEN u.status = 'captured' THEN ARRAY['authorized', 'captured']
                               ELSE ARRAY[u.status] END) WITH ORDINALITY AS k(kind, n)
               ORDER BY k.n),
         w AS (INSERT INTO webhook_outbox (payload)
               SELECT jsonb_build_object('id', $4::uuid, 'type', 'payment.' || status,
                          'payment_id', id, 'order_ref', order_ref, 'status', status,
                          'amount_minor', amount_minor, 'currency', currency)
               FROM u WHERE $5)
         SELECT u.id, u.status, u.amount_minor, u.refunded_minor, u.currency, u.order_ref,
                u.decline_code, u.created_at, m.brand, m.last4, u.challenge_id
         FROM u JOIN payment_methods m ON m.token = u.token",
    )
    .bind(id)
    .bind(&answer.challenge_id)
    .bind(passed)
    .bind(Uuid::new_v4())
    .bind(announce == Announce::Webhook)
    .fetch_optional(pool)
    .await?;
    if let Some(row) = moved {
        return Ok((payment_from_row(&row)?, true));
    }
    // Nothing moved: answered before, voided, no challenge, or not this challenge.
    let challenge: Option<Option<String>> =
        sqlx::query_scalar("SELECT challenge_id FROM payments WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    match challenge {
        None => Err(PaymentsError::NotFound(id)),
        Some(None) => {
            let p = get(pool, id).await?;
            Err(PaymentsError::WrongState {
                status: p.status,
                action: "answer a 3-D Secure challenge".into(),
            })
        }
        Some(Some(c)) if c != answer.challenge_id => Err(PaymentsError::ChallengeMismatch),
        // Answered (or voided) already: the payment as it is now.
        Some(Some(_)) => Ok((get(pool, id).await?, false)),
    }
}
