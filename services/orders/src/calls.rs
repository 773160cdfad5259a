//! Calls to inventory and payments, batched across concurrent checkouts: many reservations,
//! commits or sales in one call (one transaction there), each answered as its single call
//! would be; a lone request, or a service without the batch route, uses the single route.

use ecom_shared::client::{CallError, ServiceClient};
use ecom_shared::Problem;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::OrdersError;

/// What orders reads of a payment.
#[derive(Debug, Deserialize)]
pub struct PaymentReply {
    pub id: Uuid,
    pub status: String,
    #[serde(default)]
    pub decline_code: Option<String>,
    /// What the customer must do first (a 3-D Secure challenge), while `requires_action`.
    #[serde(default)]
    pub action: Option<PaymentAction>,
}

/// A payment's pending customer action, as payments names it.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentAction {
    #[serde(rename = "type")]
    pub kind: String,
    pub challenge_id: String,
}

/// A payment request: its idempotency key and body.
pub type PaymentRequest = (String, Value);

/// A batched call's result as the single call's would be.
pub fn as_call<T>(service: &str, r: Result<T, OrdersError>) -> Result<T, CallError> {
    match r {
        Ok(v) => Ok(v),
        Err(OrdersError::Dependency(e)) => Err(e),
        Err(e) => Err(CallError::Transport {
            service: service.into(),
            reason: e.to_string(),
        }),
    }
}

#[derive(Debug, Deserialize)]
struct BatchReply {
    results: Vec<BatchItem>,
}

/// One item of a batch answer (inventory's or payments'): its status, and its problem or
/// payment.
#[derive(Debug, Deserialize)]
struct BatchItem {
    status: u16,
    #[serde(default)]
    problem: Option<Problem>,
    #[serde(default)]
    payment: Option<PaymentReply>,
}

fn copy_error(e: &CallError) -> CallError {
    match e {
        CallError::Transport { service, reason } => CallError::Transport {
            service: service.clone(),
            reason: reason.clone(),
        },
        CallError::Status {
            service,
            status,
            problem,
        } => CallError::Status {
            service: service.clone(),
            status: *status,
            problem: problem.clone(),
        },
        CallError::Decode { service, reason } => CallError::Decode {
            service: service.clone(),
            reason: reason.clone(),
        },
    }
}

/// Each item's result from `service`'s batch answer: 2xx is success (what `ok` takes of the
/// item), anything else the error its single call would have had.
fn batch_results<T>(
    service: &str,
    n: usize,
    reply: Result<BatchReply, CallError>,
    ok: impl Fn(BatchItem) -> Result<T, CallError>,
) -> Vec<Result<T, OrdersError>> {
    let reply = match reply {
        Ok(b) if b.results.len() == n => b,
        Ok(_) => {
            let e = CallError::Decode {
                service: service.into(),
                reason: "batch answer with the wrong number of results".into(),
            };
            return (0..n).map(|_| Err(copy_error(&e).into())).collect();
        }
        Err(e) => return (0..n).map(|_| Err(copy_error(&e).into())).collect(),
    };
    reply
        .results
        .into_iter()
        .map(|item| {
            if (200..300).contains(&item.status) {
                ok(item).map_err(OrdersError::from)
            } else {
                Err(CallError::Status {
                    service: service.into(),
                    status: item.status,
                    problem: item.problem.map(Box::new),
                }
                .into())
            }
        })
        .collect()
}

/// Whether a batch route is missing (an inventory from before batches, during a rollout).
fn no_batch_route(r: &Result<BatchReply, CallError>) -> bool {
    matches!(
        r.as_ref().err().and_then(CallError::status),
        Some(404 | 405)
    )
}

/// Reserves for many checkouts in one call to inventory (one transaction there); a lone
/// request uses the single route.
pub async fn reserve_many(
    inventory: &ServiceClient,
    bodies: Vec<Value>,
) -> Vec<Result<(), OrdersError>> {
    if bodies.len() > 1 {
        let n = bodies.len();
        let batch = json!({ "reservations": bodies });
        let r = inventory
            .call::<Value, BatchReply>(Method::POST, "/v1/batch/reservations", Some(&batch), None)
            .await;
        if !no_batch_route(&r) {
            return batch_results("inventory", n, r, |_| Ok(()));
        }
    }
    let mut out = Vec::with_capacity(bodies.len());
    for body in &bodies {
        let r: Result<Value, CallError> = inventory
            .call(Method::POST, "/v1/reservations", Some(body), None)
            .await;
        out.push(r.map(|_| ()).map_err(OrdersError::from));
    }
    out
}

/// Commits many checkouts' reservations in one call to inventory (one statement there); a
/// lone request uses the single route.
pub async fn commit_many(
    inventory: &ServiceClient,
    ids: Vec<Uuid>,
) -> Vec<Result<(), OrdersError>> {
    if ids.len() > 1 {
        let batch = json!({ "ids": ids });
        let r = inventory
            .call::<Value, BatchReply>(
                Method::POST,
                "/v1/batch/reservations/commit",
                Some(&batch),
                None,
            )
            .await;
        if !no_batch_route(&r) {
            return batch_results("inventory", ids.len(), r, |_| Ok(()));
        }
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in &ids {
        let r: Result<Value, CallError> = inventory
            .call::<Value, Value>(
                Method::POST,
                &format!("/v1/reservations/{id}/commit"),
                None,
                None,
            )
            .await;
        out.push(r.map(|_| ()).map_err(OrdersError::from));
    }
    out
}

/// Pays for many checkouts in one call to payments (one statement there); a lone request uses
/// the single route. Each is asked with `?webhook=false`: orders takes the outcome from the
/// answer.
pub async fn pay_many(
    payments: &ServiceClient,
    requests: Vec<PaymentRequest>,
) -> Vec<Result<PaymentReply, OrdersError>> {
    if requests.len() > 1 {
        let n = requests.len();
        let items: Vec<Value> = requests
            .iter()
            .map(|(key, body)| json!({"idempotency_key": key, "request": body}))
            .collect();
        let batch = json!({ "payments": items });
        let r = payments
            .call::<Value, BatchReply>(
                Method::POST,
                "/v1/batch/payments?webhook=false",
                Some(&batch),
                None,
            )
            .await;
        if !no_batch_route(&r) {
            return batch_results("payments", n, r, |item| {
                item.payment.ok_or_else(|| CallError::Decode {
                    service: "payments".into(),
                    reason: "a batch item without its payment".into(),
                })
            });
        }
    }
    let mut out = Vec::with_capacity(requests.len());
    for (key, body) in &requests {
        let r: Result<PaymentReply, CallError> = payments
            .call(
                Method::POST,
                "/v1/payments?webhook=false",
                Some(body),
                Some(key),
            )
            .await;
        out.push(r.map_err(OrdersError::from));
    }
    out
}
