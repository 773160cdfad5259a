use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Datelike;
use ecom_shared::auth::AuthUser;
use ecom_shared::identity::{scopes, Scoped};
use ecom_shared::Problem;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::PaymentsError;
use crate::store::{self, Announce, AuthorizeRequest};
use crate::{cards, challenge, AppState};

// What each route needs of the calling service's token (issue 13, point 4): capture and refund
// are scopes only orders' client is given.
ecom_shared::scope_type! {
    Authorize = scopes::PAYMENTS_AUTHORIZE;
    Read = scopes::PAYMENTS_READ;
    Capture = scopes::PAYMENTS_CAPTURE;
    Refund = scopes::PAYMENTS_REFUND;
}

/// Card data as the storefront sends it. It is checked, summarised and dropped here.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardInput {
    pub number: String,
    pub exp_month: i16,
    pub exp_year: i16,
    pub cvc: String,
}

// Never print card data, even by accident.
impl std::fmt::Debug for CardInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CardInput(***)")
    }
}

/// Tokens belong to the signed-in customer who made them: they pay for that customer only.
pub async fn tokenize(
    State(st): State<AppState>,
    user: AuthUser,
    Json(card): Json<CardInput>,
) -> Result<Response, PaymentsError> {
    let now = chrono::Utc::now();
    let summary = cards::check(
        &card.number,
        card.exp_month,
        card.exp_year,
        &card.cvc,
        now.year() as i16,
        now.month() as i16,
    )?;
    let (exp_month, exp_year) = (card.exp_month, card.exp_year);
    drop(card);
    let method =
        store::save_method(&st.kit.pool, &user.0.sub, &summary, exp_month, exp_year).await?;
    st.kit.metrics.incr("payments_tokens_total", 1);
    Ok((
        StatusCode::CREATED,
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(method),
    )
        .into_response())
}

pub fn idempotency_key(headers: &HeaderMap) -> Result<String, PaymentsError> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| ecom_shared::openapi::is_idempotency_key(k))
        .ok_or(PaymentsError::MissingKey)?;
    Ok(key.to_string())
}

/// `?webhook=false`: the caller takes the outcome from the response, so the change is not
/// announced by webhook (it is still recorded in `payment_events`).
#[derive(Debug, Deserialize)]
pub struct AnnounceQuery {
    #[serde(default)]
    pub webhook: Option<bool>,
}

impl AnnounceQuery {
    fn announce(&self) -> Announce {
        if self.webhook == Some(false) {
            Announce::CallerOnly
        } else {
            Announce::Webhook
        }
    }
}

pub async fn authorize(
    State(st): State<AppState>,
    _caller: Scoped<Authorize>,
    headers: HeaderMap,
    Query(q): Query<AnnounceQuery>,
    Json(req): Json<AuthorizeRequest>,
) -> Result<Response, PaymentsError> {
    let key = idempotency_key(&headers)?;
    let announce = q.announce();
    let (payment, created) = store::authorize(&st.kit.pool, &key, &req, announce).await?;
    let status = answered(&st, &payment, created);
    if created && announce == Announce::Webhook {
        st.wake_webhooks();
    }
    Ok((status, Json(payment)).into_response())
}

/// Counts a payment an authorization made; the answer's status: 201 if made, 200 if found.
fn answered(st: &AppState, payment: &store::Payment, created: bool) -> StatusCode {
    if created {
        st.kit
            .metrics
            .incr(&format!("payments_{}_total", payment.status), 1);
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// A batch of authorizations, each with its own idempotency key: answered item by item as
/// `POST /v1/payments` would answer each, sharing one statement and one commit.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeBatch {
    pub payments: Vec<KeyedAuthorize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyedAuthorize {
    pub idempotency_key: String,
    pub request: AuthorizeRequest,
}

/// One item's answer in a batch: the status and body its single call would have had.
#[derive(Debug, Serialize)]
pub struct ItemResult {
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<store::Payment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

/// Most items one batch may carry.
const MAX_BATCH_ITEMS: usize = 200;

pub async fn authorize_batch(
    State(st): State<AppState>,
    _caller: Scoped<Authorize>,
    Query(q): Query<AnnounceQuery>,
    Json(body): Json<AuthorizeBatch>,
) -> Result<Json<serde_json::Value>, PaymentsError> {
    if body.payments.is_empty() || body.payments.len() > MAX_BATCH_ITEMS {
        return Err(PaymentsError::Invalid(format!(
            "a batch has 1 to {MAX_BATCH_ITEMS} payments"
        )));
    }
    let announce = q.announce();
    let items: Vec<(&str, &AuthorizeRequest)> = body
        .payments
        .iter()
        .map(|p| (p.idempotency_key.trim(), &p.request))
        .collect();
    let batch = store::authorize_many(&st.kit.pool, &items, announce).await;
    st.kit
        .metrics
        .incr("payments_batch_run_alone_total", batch.run_alone as u64);
    let mut woken = false;
    let results: Vec<ItemResult> = batch
        .results
        .into_iter()
        .map(|r| match r {
            Ok((payment, created)) => {
                let status = answered(&st, &payment, created);
                woken |= created && announce == Announce::Webhook;
                ItemResult {
                    status: status.as_u16(),
                    payment: Some(payment),
                    problem: None,
                }
            }
            Err(e) => {
                let p = Problem::from(&e);
                ItemResult {
                    status: p.status,
                    payment: None,
                    problem: Some(p),
                }
            }
        })
        .collect();
    if woken {
        st.wake_webhooks();
    }
    Ok(Json(serde_json::json!({ "results": results })))
}

fn parse_id(raw: &str) -> Result<Uuid, PaymentsError> {
    Uuid::parse_str(raw).map_err(|_| PaymentsError::Invalid("payment id must be a UUID".into()))
}

pub async fn get_payment(
    State(st): State<AppState>,
    _caller: Scoped<Read>,
    Path(id): Path<String>,
) -> Result<Json<store::Payment>, PaymentsError> {
    Ok(Json(store::get(&st.kit.pool, parse_id(&id)?).await?))
}

async fn move_to(
    st: &AppState,
    id: &str,
    from: &[&str],
    to: &str,
    action: &str,
    announce: Announce,
) -> Result<Json<store::Payment>, PaymentsError> {
    let p = store::transition(&st.kit.pool, parse_id(id)?, from, to, action, announce).await?;
    st.kit.metrics.incr(&format!("payments_{to}_total"), 1);
    if announce == Announce::Webhook {
        st.wake_webhooks();
    }
    Ok(Json(p))
}

pub async fn capture(
    State(st): State<AppState>,
    _c: Scoped<Capture>,
    Path(id): Path<String>,
    Query(q): Query<AnnounceQuery>,
) -> Result<Json<store::Payment>, PaymentsError> {
    move_to(
        &st,
        &id,
        &["authorized"],
        "captured",
        "capture",
        q.announce(),
    )
    .await
}

pub async fn void(
    State(st): State<AppState>,
    _c: Scoped<Authorize>,
    Path(id): Path<String>,
    Query(q): Query<AnnounceQuery>,
) -> Result<Json<store::Payment>, PaymentsError> {
    // A 3-D Secure challenge nobody answered is voided too: it can no longer be answered.
    move_to(
        &st,
        &id,
        &["authorized", "requires_action"],
        "voided",
        "void",
        q.announce(),
    )
    .await
}

/// The customer's answer to a payment's 3-D Secure challenge, relayed by the caller (orders
/// checks that the customer is the order's). Answered again, it changes nothing.
pub async fn answer_challenge(
    State(st): State<AppState>,
    _c: Scoped<Authorize>,
    Path(id): Path<String>,
    Query(q): Query<AnnounceQuery>,
    Json(answer): Json<challenge::ChallengeAnswer>,
) -> Result<Json<store::Payment>, PaymentsError> {
    let announce = q.announce();
    let (p, moved) = challenge::answer(&st.kit.pool, parse_id(&id)?, &answer, announce).await?;
    if moved {
        st.kit
            .metrics
            .incr(&format!("payments_{}_total", p.status), 1);
        if announce == Announce::Webhook {
            st.wake_webhooks();
        }
    }
    Ok(Json(p))
}

/// A partial refund's body; no body refunds what is left.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    pub amount_minor: i64,
}

pub async fn refund(
    State(st): State<AppState>,
    _c: Scoped<Refund>,
    Path(id): Path<String>,
    Query(q): Query<AnnounceQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<store::Payment>, PaymentsError> {
    let id = parse_id(&id)?;
    let part: Option<RefundRequest> = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(serde_json::from_slice(&body).map_err(|_| {
            PaymentsError::Invalid(
                "a refund's body is {\"amount_minor\": <integer>} or nothing".into(),
            )
        })?)
    };
    let key = match &part {
        // A partial refund is made once per key; without one, a retry would refund twice.
        Some(_) => Some(idempotency_key(&headers)?),
        None => None,
    };
    let part = part
        .zip(key.as_deref())
        .map(|(r, key)| store::PartialRefund {
            amount_minor: r.amount_minor,
            key,
        });
    let announce = q.announce();
    let (p, refunded) = store::refund(&st.kit.pool, id, part, announce).await?;
    if refunded {
        st.kit
            .metrics
            .incr(&format!("payments_{}_total", p.status), 1);
        if announce == Announce::Webhook {
            st.wake_webhooks();
        }
    }
    Ok(Json(p))
}

pub async fn cards_doc() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "test_cards": cards::TEST_CARDS.iter().map(|(n, b, o)| serde_json::json!({"number": n, "brand": b, "outcome": o})).collect::<Vec<_>>(),
        "note": "any other Luhn-valid number with a future expiry is approved"
    }))
}
