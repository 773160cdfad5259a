//! 3-D Secure in the checkout saga. When the payment asks for a challenge, the order waits in
//! `awaiting_action` (the stock stays reserved) and the checkout answers 202 with the action;
//! the customer answers it at `POST /v1/orders/{id}/3ds`, which relays the answer to payments
//! and resumes the saga from the payment's outcome: captured → confirmed, declined →
//! compensated. The order's lease runs until the deadline (`ORDERS_ACTION_TIMEOUT_SECONDS`),
//! so once it passes the recovery sweep claims the order, voids the payment (it can no longer
//! be answered) and compensates; should the customer's answer have reached payments but not
//! the order (a crash), the void finds the payment captured and the saga confirms instead.
//!
//! Every move out of `awaiting_action` is conditional on the order still being there, and
//! payments answers a challenge once, so two answers, or an answer racing the timeout, end
//! in one outcome and at most one charge; an answer given again gets that outcome.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use ecom_shared::Problem;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::calls::PaymentReply;
use crate::error::OrdersError;
use crate::saga::{self, Outcome};
use crate::status::OrderStatus;
use crate::store::{self, Line, OrderRow};
use crate::AppState;

/// The customer's answer to the challenge (the sandbox's stand-in for the issuer's page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// How an order left `awaiting_action`.
pub enum Resumed {
    /// Moved to `authorized` by this call: go on to confirm from this row.
    Row(Box<OrderRow>),
    /// Moved to `compensating` by this call: go on from the stored row.
    Reread,
    /// Someone else moved it first (another answer, or the timeout).
    Elsewhere,
}

/// Whether the customer may still answer the order's challenge.
pub fn open(o: &OrderRow) -> bool {
    o.status == OrderStatus::AwaitingAction && o.action_expires_at.is_some_and(|t| t > Utc::now())
}

/// The payment asks for a challenge: the order waits for the customer until the deadline (its
/// lease runs until then, so the recovery sweep takes it up after), answering 202 with the
/// action.
pub(crate) async fn wait_for_customer(
    st: &AppState,
    mut o: OrderRow,
    p: PaymentReply,
    lines: &[Line],
) -> Result<Option<OrderRow>, OrdersError> {
    let Some(action) = p.action else {
        return Err(OrdersError::Invalid(
            "payments asked for an action without naming it".into(),
        ));
    };
    let expires_at = Utc::now() + st.action_timeout;
    let from = o.status;
    o.status = OrderStatus::AwaitingAction;
    o.payment_id = Some(p.id);
    o.payment_status = Some(p.status);
    o.authorize_attempted = true;
    o.challenge_id = Some(action.challenge_id.clone());
    o.action_expires_at = Some(expires_at);
    o.response_body =
        Some(json!({ "action": action_json(o.id, &action.challenge_id, expires_at) }));
    let body = saga::order_body(&o, lines);
    let moved = sqlx::query(
        "UPDATE orders SET status = 'awaiting_action', payment_id = $3, payment_status = $4,
             authorize_attempted = true, challenge_id = $5, action_expires_at = $6,
             lease_until = $6, response_status = 202, response_body = $7, updated_at = now()
         WHERE id = $1 AND status = $2",
    )
    .bind(o.id)
    .bind(from)
    .bind(p.id)
    .bind(&o.payment_status)
    .bind(&action.challenge_id)
    .bind(expires_at)
    .bind(&body)
    .execute(&st.kit.pool)
    .await?
    .rows_affected();
    if moved == 0 {
        return Ok(None);
    }
    st.kit.metrics.incr("orders_awaiting_action_total", 1);
    o.response_status = Some(202);
    o.response_body = Some(body);
    Ok(Some(o))
}

fn action_json(id: Uuid, challenge_id: &str, expires_at: DateTime<Utc>) -> Value {
    json!({
        "type": "3ds_challenge",
        "challenge_id": challenge_id,
        "complete": format!("/v1/orders/{id}/3ds"),
        "expires_at": expires_at,
    })
}

/// The deadline passed and the caller holds the order's lease: void the payment so its
/// challenge can no longer be answered, and go on from what the payment then is.
pub(crate) async fn expire(st: &AppState, o: OrderRow) -> Result<Resumed, OrdersError> {
    let pid = payment_of(&o)?;
    let p = match saga::payment_move(st, pid, "void").await? {
        Some(p) => p,
        // No longer requires_action: answered before the void.
        None => payment(st, pid).await?,
    };
    after_payment(st, o, p).await
}

fn payment_of(o: &OrderRow) -> Result<Uuid, OrdersError> {
    o.payment_id
        .ok_or_else(|| OrdersError::Invalid("an order awaiting action without a payment".into()))
}

async fn payment(st: &AppState, pid: Uuid) -> Result<PaymentReply, OrdersError> {
    Ok(st
        .deps
        .payments
        .call::<Value, PaymentReply>(Method::GET, &format!("/v1/payments/{pid}"), None, None)
        .await?)
}

/// Moves an order out of `awaiting_action` by its payment's state after the challenge.
async fn after_payment(
    st: &AppState,
    mut o: OrderRow,
    p: PaymentReply,
) -> Result<Resumed, OrdersError> {
    let problem = match p.status.as_str() {
        "captured" | "authorized" => {
            // Taken with a fresh lease: this worker confirms it now.
            let moved = sqlx::query(
                "UPDATE orders SET status = 'authorized', payment_id = $2, payment_status = $3,
                     lease_until = now() + make_interval(secs => $4), updated_at = now()
                 WHERE id = $1 AND status = 'awaiting_action'",
            )
            .bind(o.id)
            .bind(p.id)
            .bind(&p.status)
            .bind(st.lease_seconds)
            .execute(&st.kit.pool)
            .await?
            .rows_affected();
            if moved == 0 {
                return Ok(Resumed::Elsewhere);
            }
            o.status = OrderStatus::Authorized;
            o.payment_status = Some(p.status);
            return Ok(Resumed::Row(Box::new(o)));
        }
        "declined" => {
            st.kit.metrics.incr("orders_payment_declined_total", 1);
            let code = p.decline_code.as_deref().unwrap_or("declined");
            Problem::new(
                StatusCode::PAYMENT_REQUIRED,
                "payment-declined",
                "Payment declined",
            )
            .detail(format!("the payment was not authorized ({code})"))
        }
        "voided" => {
            st.kit.metrics.incr("orders_action_expired_total", 1);
            Problem::new(
                StatusCode::PAYMENT_REQUIRED,
                "action-expired",
                "Payment not authenticated in time",
            )
            .detail("the 3-D Secure challenge was not answered in time; nothing was charged")
        }
        other => {
            return Err(OrdersError::Invalid(format!(
                "the payment is {other} after its challenge"
            )))
        }
    };
    // The payment's state is recorded with the move to compensation (which then has nothing
    // to give back).
    if saga::fail_with(st, &o, problem, Some(&p.status)).await? {
        Ok(Resumed::Reread)
    } else {
        Ok(Resumed::Elsewhere)
    }
}

/// The customer's answer to order `id`'s challenge: the checkout's outcome once the saga has
/// gone on from it (200 with the confirmed order, or the problem). Answered again, the same
/// outcome. Someone else's order does not exist.
pub async fn answer(
    st: &AppState,
    user: &str,
    id: Uuid,
    answer: &ChallengeAnswer,
) -> Result<Outcome, OrdersError> {
    let o = store::get(&st.kit.pool, id).await?;
    if o.user_id != user {
        return Err(OrdersError::NotFound);
    }
    let Some(challenge) = o.challenge_id.as_deref() else {
        return Err(OrdersError::NoAction);
    };
    if !bool::from(challenge.as_bytes().ct_eq(answer.challenge_id.as_bytes())) {
        return Err(OrdersError::Invalid(
            "challenge_id is not this order's challenge".into(),
        ));
    }
    if open(&o) {
        let pid = payment_of(&o)?;
        let p: PaymentReply = st
            .deps
            .payments
            .call(
                Method::POST,
                &format!("/v1/payments/{pid}/3ds?webhook=false"),
                Some(&json!({"challenge_id": challenge, "result": answer.result})),
                None,
            )
            .await?;
        match after_payment(st, o, p).await? {
            Resumed::Row(o) => return saga::resume(st, *o).await.map(answered),
            Resumed::Reread => return saga::run(st, id).await.map(answered),
            Resumed::Elsewhere => {}
        }
    } else if o.status == OrderStatus::AwaitingAction
        && store::claim_expired_action(&st.kit.pool, id, st.lease_seconds).await?
    {
        // Too late: the answer is not relayed; the timeout's outcome is the answer.
        return saga::run(st, id).await.map(answered);
    }
    settled(st, id).await.map(answered)
}

/// The answer to a challenge is the order, not a new one: 200 where the checkout said 201.
fn answered(mut o: Outcome) -> Outcome {
    if o.status == StatusCode::CREATED {
        o.status = StatusCode::OK;
    }
    o
}

/// Waits (as a repeated checkout does) for another worker to finish the order's saga.
async fn settled(st: &AppState, id: Uuid) -> Result<Outcome, OrdersError> {
    let started = Instant::now();
    loop {
        let o = store::get(&st.kit.pool, id).await?;
        if saga::terminal(&o) {
            return saga::run(st, id).await;
        }
        if started.elapsed() > st.replay_wait {
            return Err(OrdersError::InProgress);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
