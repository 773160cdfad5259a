//! The checkout saga: reserve stock -> pay (a sale: authorize and capture in one call) -> commit
//! stock -> confirmed. Any failure compensates: the reservation is released, an authorization
//! voided, a capture refunded.
//!
//! Every step is persisted in `orders.status` before the next one starts, and every call to
//! inventory and payments is idempotent (keyed by the order id), so a saga cut short by a crash
//! is resumed from its last persisted step by [`recover`], run at start and periodically.

use axum::http::StatusCode;
use ecom_shared::client::{CallError, ServiceClient};
use ecom_shared::Problem;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::action::{self, Resumed};
use crate::calls::as_call;
pub use crate::calls::{PaymentReply, PaymentRequest};
use crate::error::{public_call_error, OrdersError};
use crate::status::OrderStatus;
use crate::store::{self, OrderRow};
use crate::AppState;

/// Dependencies the saga calls.
#[derive(Clone, Debug)]
pub struct Deps {
    pub catalog: ServiceClient,
    pub inventory: ServiceClient,
    pub payments: ServiceClient,
}

/// A saga's outcome as the client sees it: the stored status and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: StatusCode,
    pub body: Value,
}

/// Enters compensation with the problem the client will get.
pub(crate) async fn fail(st: &AppState, o: &OrderRow, problem: Problem) -> Result<(), OrdersError> {
    fail_with(st, o, problem, None).await.map(|_| ())
}

/// Enters compensation from the order's current status, recording the payment's status too
/// when given; false if the order was no longer in that status (someone else moved it).
pub(crate) async fn fail_with(
    st: &AppState,
    o: &OrderRow,
    problem: Problem,
    payment_status: Option<&str>,
) -> Result<bool, OrdersError> {
    let n = sqlx::query(
        "UPDATE orders SET status = 'compensating', failure_code = $3, failure_detail = $4,
             response_status = $5, response_body = $6, updated_at = now(),
             payment_status = COALESCE($7, payment_status),
             -- From 'reserved' on, an authorization may exist even if its answer was lost.
             authorize_attempted = authorize_attempted
                 OR status IN ('reserved', 'awaiting_action', 'authorized')
         WHERE id = $1 AND status = $2",
    )
    .bind(o.id)
    .bind(o.status)
    .bind(&problem.code)
    .bind(&problem.detail)
    .bind(problem.status as i16)
    .bind(serde_json::to_value(&problem).unwrap_or(Value::Null))
    .bind(payment_status)
    .execute(&st.kit.pool)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Fault injection (`ORDERS_FAULT_STEP_DELAY_MS`, off by default): a pause between steps.
async fn fault_pause(st: &AppState) {
    if !st.faults.step_delay.is_zero() {
        tokio::time::sleep(st.faults.step_delay).await;
    }
}

fn crash_point(st: &AppState, after: &'static str) -> Result<(), OrdersError> {
    if st.faults.fail_after.as_deref() == Some(after) {
        return Err(OrdersError::Crashed(after));
    }
    Ok(())
}

/// The confirmed order as returned to the client.
pub async fn order_json(st: &AppState, o: &OrderRow) -> Result<Value, OrdersError> {
    let lines = store::lines(&st.kit.pool, o.id).await?;
    Ok(order_body(o, &lines))
}

pub(crate) fn order_body(o: &OrderRow, lines: &[store::Line]) -> Value {
    let mut body = json!({
        "id": o.id, "status": o.status, "lines": lines, "total_minor": o.total_minor,
        "currency": o.currency,
        "payment": {"id": o.payment_id, "status": o.payment_status},
        "created_at": o.created_at,
    });
    // While it waits for the customer, the order carries what they are to do.
    if o.status == OrderStatus::AwaitingAction {
        if let Some(a) = o.response_body.as_ref().and_then(|b| b.get("action")) {
            body["action"] = a.clone();
        }
    }
    body
}

/// Runs the saga of order `id` from its persisted state until it is confirmed or failed.
///
/// A step that moved the order itself returns the row as it now is, so the next step starts
/// without reading it again; otherwise (failure, or another worker got there first) the row is
/// read from the database.
pub async fn run(st: &AppState, id: Uuid) -> Result<Outcome, OrdersError> {
    drive(st, id, None, None).await
}

/// Runs the saga of an order just inserted, from the row and lines the insert wrote (nothing
/// is read back).
pub async fn run_new(
    st: &AppState,
    order: OrderRow,
    lines: Vec<store::Line>,
) -> Result<Outcome, OrdersError> {
    drive(st, order.id, Some(order), Some(lines)).await
}

/// Runs the saga of an order from its row as the caller just moved it.
pub async fn resume(st: &AppState, order: OrderRow) -> Result<Outcome, OrdersError> {
    drive(st, order.id, Some(order), None).await
}

async fn drive(
    st: &AppState,
    id: Uuid,
    mut known: Option<OrderRow>,
    // An order's lines never change once it is inserted.
    mut lines: Option<Vec<store::Line>>,
) -> Result<Outcome, OrdersError> {
    for _ in 0..16 {
        let o = match known.take() {
            Some(o) => o,
            None => store::get(&st.kit.pool, id).await?,
        };
        if o.status.needs_lines() && lines.is_none() {
            lines = Some(store::lines(&st.kit.pool, id).await?);
        }
        let lines = lines.as_deref().unwrap_or_default();
        if !o.status.is_terminal() {
            fault_pause(st).await;
        }
        known = match o.status {
            OrderStatus::Pending => step_reserve(st, o, lines).await?,
            OrderStatus::Reserved => step_authorize(st, o, lines).await?,
            // Waiting for the customer's 3-D Secure answer: the answer so far, until the
            // deadline; after it (recovery claimed the order), the payment is voided.
            OrderStatus::AwaitingAction if action::open(&o) => return finished(st, &o).await,
            OrderStatus::AwaitingAction => match action::expire(st, o).await? {
                Resumed::Row(o) => Some(*o),
                Resumed::Reread => None,
                Resumed::Elsewhere => return Err(OrdersError::InProgress),
            },
            OrderStatus::Authorized => step_confirm(st, o, lines).await?,
            OrderStatus::Compensating => {
                step_compensate(st, &o).await?;
                None
            }
            OrderStatus::Confirmed | OrderStatus::Failed => return finished(st, &o).await,
        };
    }
    Err(OrdersError::InProgress)
}

async fn finished(st: &AppState, o: &OrderRow) -> Result<Outcome, OrdersError> {
    match (o.response_status, &o.response_body) {
        (Some(code), Some(body)) => Ok(Outcome {
            status: StatusCode::from_u16(code as u16).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: body.clone(),
        }),
        _ => {
            // Confirmed by a step that could not store the body (should not happen): rebuild it.
            Ok(Outcome {
                status: StatusCode::CREATED,
                body: order_json(st, o).await?,
            })
        }
    }
}

async fn step_reserve(
    st: &AppState,
    mut o: OrderRow,
    lines: &[store::Line],
) -> Result<Option<OrderRow>, OrdersError> {
    let body = json!({
        "id": o.id,
        "lines": lines.iter().map(|l| json!({"sku": l.sku, "quantity": l.quantity})).collect::<Vec<_>>(),
        "ttl_seconds": st.reservation_ttl_seconds,
    });
    let r = as_call(
        "inventory",
        st.writes.reserve.submit(&st.kit.pool, body).await,
    );
    match r {
        Ok(_) => {
            let moved = st.writes.reserved.submit(&st.kit.pool, o.id).await?;
            crash_point(st, "reserved")?;
            Ok(moved.then(|| {
                o.status = OrderStatus::Reserved;
                o
            }))
        }
        Err(e) if e.code() == Some("out-of-stock") => {
            let detail = match &e {
                CallError::Status {
                    problem: Some(p), ..
                } => p.detail.clone().unwrap_or_default(),
                _ => String::new(),
            };
            st.kit.metrics.incr("orders_out_of_stock_total", 1);
            fail(
                st,
                &o,
                Problem::new(StatusCode::CONFLICT, "out-of-stock", "Out of stock").detail(detail),
            )
            .await
            .map(|()| None)
        }
        Err(e) if e.status().is_some_and(|s| (400..500).contains(&s)) => fail(
            st,
            &o,
            Problem::validation(format!(
                "inventory refused the order: {}",
                public_call_error(&e)
            )),
        )
        .await
        .map(|()| None),
        Err(e) => fail(
            st,
            &o,
            Problem::unavailable(format!(
                "could not reserve stock: {}",
                public_call_error(&e)
            )),
        )
        .await
        .map(|()| None),
    }
}

/// Pays for the order: authorize and capture in one call (a sale), since a checkout that gets
/// this far is confirmed at once. Idempotent by the order id; asking again answers with the
/// payment as it is.
///
/// Compensation asks with `capture: false`: should the first call never have arrived, that
/// makes an authorization (voided right after), never a charge.
async fn authorize(st: &AppState, o: &OrderRow, capture: bool) -> Result<PaymentReply, CallError> {
    let (key, body) = payment_request(o, capture);
    st.deps
        .payments
        .call(
            Method::POST,
            "/v1/payments?webhook=false",
            Some(&body),
            Some(&key),
        )
        .await
}

/// The order's payment request: idempotent by the order id.
fn payment_request(o: &OrderRow, capture: bool) -> PaymentRequest {
    let body = json!({
        "token": o.payment_token, "customer": o.user_id,
        "amount_minor": o.total_minor, "currency": o.currency,
        "order_ref": o.id.to_string(), "capture": capture,
    });
    (format!("order-{}", o.id), body)
}

async fn step_authorize(
    st: &AppState,
    mut o: OrderRow,
    lines: &[store::Line],
) -> Result<Option<OrderRow>, OrdersError> {
    // A sale, shared with the other checkouts paying at the same moment (one call to payments).
    let paid = st
        .writes
        .pay
        .submit(&st.kit.pool, payment_request(&o, true))
        .await;
    match as_call("payments", paid) {
        // "authorized": a payment made before sales were used; step_confirm captures it.
        Ok(p) if p.status == "captured" || p.status == "authorized" => {
            // Not persisted on its own: the confirmation records the payment with the outcome.
            // A process that dies before then leaves the order `reserved`; the payment is
            // asked for again by its key, which answers with this same payment.
            crash_point(st, "authorized")?;
            fault_pause(st).await;
            o.payment_id = Some(p.id);
            o.payment_status = Some(p.status);
            o.authorize_attempted = true;
            step_confirm(st, o, lines).await
        }
        // 3-D Secure: the customer answers a challenge first.
        Ok(p) if p.status == "requires_action" && p.action.is_some() => {
            action::wait_for_customer(st, o, p, lines).await
        }
        Ok(p) => {
            let code = p.decline_code.clone().unwrap_or_else(|| p.status.clone());
            st.kit.metrics.incr("orders_payment_declined_total", 1);
            sqlx::query("UPDATE orders SET payment_id = $2, payment_status = $3 WHERE id = $1")
                .bind(o.id)
                .bind(p.id)
                .bind(&p.status)
                .execute(&st.kit.pool)
                .await?;
            let problem = Problem::new(
                StatusCode::PAYMENT_REQUIRED,
                "payment-declined",
                "Payment declined",
            )
            .detail(format!("the payment was not authorized ({code})"));
            fail(st, &o, problem).await.map(|()| None)
        }
        Err(e) if e.status().is_some_and(|s| (400..500).contains(&s)) => fail(
            st,
            &o,
            Problem::validation(format!(
                "payments refused the order: {}",
                public_call_error(&e)
            )),
        )
        .await
        .map(|()| None),
        Err(e) => fail(
            st,
            &o,
            Problem::unavailable(format!(
                "could not authorize payment: {}",
                public_call_error(&e)
            )),
        )
        .await
        .map(|()| None),
    }
}

async fn step_confirm(
    st: &AppState,
    o: OrderRow,
    lines: &[store::Line],
) -> Result<Option<OrderRow>, OrdersError> {
    let commit = as_call(
        "inventory",
        st.writes.commit.submit(&st.kit.pool, o.id).await,
    );
    match commit {
        Ok(_) => {}
        Err(e) if e.status() == Some(409) => {
            // The reservation expired and was released before we could commit it.
            let problem = Problem::conflict(
                "reservation-expired",
                "the stock reservation expired; please try again",
            );
            return fail(st, &o, problem).await.map(|()| None);
        }
        Err(e) => return Err(e.into()),
    }
    let Some(pid) = o.payment_id else {
        return Err(OrdersError::Invalid(
            "authorized order without a payment".into(),
        ));
    };
    // Paid by a sale: already captured. (An authorization from before sales is captured now.)
    let payment_status = match o.payment_status.as_deref() {
        Some("captured") => "captured".to_string(),
        _ => {
            let captured: PaymentReply = st
                .deps
                .payments
                .call::<Value, PaymentReply>(
                    Method::POST,
                    &format!("/v1/payments/{pid}/capture?webhook=false"),
                    None,
                    None,
                )
                .await?;
            captured.status
        }
    };
    let mut o = o;
    // As stored: `reserved` when the payment was just made, `authorized` when resumed.
    let from = std::mem::replace(&mut o.status, OrderStatus::Confirmed);
    o.payment_status = Some(payment_status.clone());
    let body = order_body(&o, lines);
    // Confirms, records the payment and empties the cart in one statement (a durable commit)
    // shared with the other checkouts confirming at the same moment.
    let confirmed = st
        .writes
        .confirm
        .submit(
            &st.kit.pool,
            store::Confirmation {
                id: o.id,
                from,
                payment_id: pid,
                payment_status: payment_status.clone(),
                body: body.clone(),
            },
        )
        .await?;
    if !confirmed {
        return Ok(None);
    }
    st.kit.metrics.incr("orders_confirmed_total", 1);
    o.response_status = Some(201);
    o.response_body = Some(body);
    Ok(Some(o))
}

async fn step_compensate(st: &AppState, o: &OrderRow) -> Result<(), OrdersError> {
    // Release the reservation; absent (never made) or already released is fine.
    let release: Result<Value, CallError> = st
        .deps
        .inventory
        .call::<Value, Value>(
            Method::POST,
            &format!("/v1/reservations/{}/release", o.id),
            None,
            None,
        )
        .await;
    match release {
        Ok(_) => {}
        Err(e) if e.status() == Some(404) => {}
        Err(e) => return Err(e.into()),
    }
    // Give the money back if any was taken: void an authorization, refund a capture. Asking
    // payments again with the same key tells us whether a lost call went through.
    let mut payment_id = o.payment_id;
    let mut payment_status = o.payment_status.clone();
    if payment_id.is_none() && o.authorize_attempted {
        match authorize(st, o, false).await {
            Ok(p) => {
                payment_id = Some(p.id);
                payment_status = Some(p.status);
            }
            Err(e) if e.status().is_some_and(|s| (400..500).contains(&s)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let settled = matches!(
        payment_status.as_deref(),
        // A challenge nobody answered (`requires_action`) is voided: it cannot be answered after.
        Some("declined" | "voided" | "refunded")
    );
    if let (Some(pid), false) = (payment_id, settled) {
        let first = match payment_status.as_deref() {
            Some("captured" | "partially_refunded") => "refund",
            _ => "void",
        };
        match payment_move(st, pid, first).await? {
            Some(p) => payment_status = Some(p.status),
            // Voiding found it captured (its answer was lost): refund it instead.
            None if first == "void" => {
                if let Some(p) = payment_move(st, pid, "refund").await? {
                    payment_status = Some(p.status);
                }
            }
            // Declined or requiring action: nothing was taken.
            None => {}
        }
    }
    let n = sqlx::query(
        "UPDATE orders SET status = 'failed', payment_id = COALESCE($2, payment_id),
             payment_status = $3, updated_at = now()
         WHERE id = $1 AND status = 'compensating'",
    )
    .bind(o.id)
    .bind(payment_id)
    .bind(payment_status)
    .execute(&st.kit.pool)
    .await?
    .rows_affected();
    if n == 1 {
        st.kit.metrics.incr("orders_failed_total", 1);
    }
    Ok(())
}

/// Voids or refunds payment `pid`; `None` if it is in no state for that (409).
pub(crate) async fn payment_move(
    st: &AppState,
    pid: Uuid,
    action: &str,
) -> Result<Option<PaymentReply>, OrdersError> {
    let r: Result<PaymentReply, CallError> = st
        .deps
        .payments
        .call::<Value, PaymentReply>(
            Method::POST,
            &format!("/v1/payments/{pid}/{action}?webhook=false"),
            None,
            None,
        )
        .await;
    match r {
        Ok(p) => Ok(Some(p)),
        Err(e) if e.status() == Some(409) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Resumes every unfinished saga whose lease ran out. Returns how many were finished.
pub async fn recover(st: &AppState) -> Result<usize, OrdersError> {
    let mut done = 0;
    loop {
        let ids = store::claim_stale(&st.kit.pool, st.lease_seconds, 50).await?;
        if ids.is_empty() {
            return Ok(done);
        }
        for id in ids {
            match run(st, id).await {
                Ok(_) => done += 1,
                Err(e) => {
                    tracing::warn!(order = %id, error = %e, "saga recovery will retry");
                    return Ok(done);
                }
            }
        }
    }
}

/// Whether an order's saga is over.
pub fn terminal(o: &OrderRow) -> bool {
    o.status.is_terminal()
}

/// Whether a repeated checkout is answered now: the saga is over, or it waits for the
/// customer's 3-D Secure answer (202 with the action).
pub fn answerable(o: &OrderRow) -> bool {
    terminal(o) || (o.status == OrderStatus::AwaitingAction && action::open(o))
}
