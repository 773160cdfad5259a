use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ecom_shared::identity::{scopes, Caller, Scoped};
use ecom_shared::Problem;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use crate::error::InventoryError;
use crate::store::{self, Line};
use crate::AppState;

// What each route needs of the calling service's token (issue 13, point 4): stock moves only
// for orders' client (inventory:write) or an admin.
ecom_shared::scope_type! {
    Write = scopes::INVENTORY_WRITE;
    Read = scopes::INVENTORY_READ;
}

pub async fn get_stock(
    State(st): State<AppState>,
    Path(sku): Path<String>,
) -> Result<Json<store::Stock>, InventoryError> {
    store::validate_sku(&sku)?;
    Ok(Json(store::get_stock(&st.kit.pool, &sku).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetStock {
    pub on_hand: i32,
}

pub async fn put_stock(
    State(st): State<AppState>,
    caller: Caller,
    Path(sku): Path<String>,
    Json(body): Json<SetStock>,
) -> Result<Json<store::Stock>, InventoryError> {
    if caller
        .require_scope_or_role(scopes::INVENTORY_WRITE, "admin")
        .is_err()
    {
        return Err(InventoryError::Forbidden);
    }
    Ok(Json(
        store::set_stock(&st.kit.pool, &sku, body.on_hand).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reserve {
    pub id: Uuid,
    pub lines: Vec<Line>,
    #[serde(default, deserialize_with = "ecom_shared::openapi::not_null")]
    pub ttl_seconds: Option<i64>,
}

pub async fn reserve(
    State(st): State<AppState>,
    _caller: Scoped<Write>,
    Json(body): Json<Reserve>,
) -> Result<Response, InventoryError> {
    let ttl = body.ttl_seconds.unwrap_or(st.reservation_ttl_seconds);
    if !(1..=86_400).contains(&ttl) {
        return Err(InventoryError::Invalid(
            "ttl_seconds must be 1..=86400".into(),
        ));
    }
    let (r, created) = store::reserve(&st.kit.pool, body.id, &body.lines, ttl).await?;
    if created {
        st.kit.metrics.incr("inventory_reservations_total", 1);
    }
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(r)).into_response())
}

pub async fn get_reservation(
    State(st): State<AppState>,
    _caller: Scoped<Read>,
    Path(id): Path<String>,
) -> Result<Json<store::Reservation>, InventoryError> {
    let id = parse_id(&id)?;
    store::get_reservation(&st.kit.pool, id).await.map(Json)
}

pub async fn commit(
    State(st): State<AppState>,
    _caller: Scoped<Write>,
    Path(id): Path<String>,
) -> Result<Json<store::Reservation>, InventoryError> {
    let id = parse_id(&id)?;
    store::finish(&st.kit.pool, id, "committed").await.map(Json)
}

pub async fn release(
    State(st): State<AppState>,
    _caller: Scoped<Write>,
    Path(id): Path<String>,
) -> Result<Json<store::Reservation>, InventoryError> {
    let id = parse_id(&id)?;
    store::finish(&st.kit.pool, id, "released").await.map(Json)
}

fn parse_id(raw: &str) -> Result<Uuid, InventoryError> {
    Uuid::parse_str(raw)
        .map_err(|_| InventoryError::Invalid("reservation id must be a UUID".into()))
}

/// A batch of reservations: each is made all-or-nothing and answered on its own, as
/// `POST /v1/reservations` would answer it; the batch shares one transaction.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReserveBatch {
    pub reservations: Vec<Reserve>,
}

/// Commits a batch of reservations by id.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitBatch {
    pub ids: Vec<Uuid>,
}

/// One item's answer in a batch: the status and body its single call would have had.
#[derive(Debug, Serialize)]
pub struct ItemResult {
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservation: Option<store::Reservation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

impl ItemResult {
    fn ok(status: StatusCode, r: store::Reservation) -> Self {
        Self {
            status: status.as_u16(),
            reservation: Some(r),
            problem: None,
        }
    }
    fn err(e: &InventoryError) -> Self {
        let p = Problem::from(e);
        Self {
            status: p.status,
            reservation: None,
            problem: Some(p),
        }
    }
}

/// Most items one batch may carry.
const MAX_BATCH_ITEMS: usize = 200;

pub async fn reserve_batch(
    State(st): State<AppState>,
    _caller: Scoped<Write>,
    Json(body): Json<ReserveBatch>,
) -> Result<Json<serde_json::Value>, InventoryError> {
    if body.reservations.is_empty() || body.reservations.len() > MAX_BATCH_ITEMS {
        return Err(InventoryError::Invalid(format!(
            "a batch has 1 to {MAX_BATCH_ITEMS} reservations"
        )));
    }
    let mut results: Vec<Option<ItemResult>> = Vec::with_capacity(body.reservations.len());
    let mut requests = Vec::with_capacity(body.reservations.len());
    let mut slots = Vec::with_capacity(body.reservations.len());
    for (i, r) in body.reservations.into_iter().enumerate() {
        let ttl = r.ttl_seconds.unwrap_or(st.reservation_ttl_seconds);
        if !(1..=86_400).contains(&ttl) {
            results.push(Some(ItemResult::err(&InventoryError::Invalid(
                "ttl_seconds must be 1..=86400".into(),
            ))));
            continue;
        }
        results.push(None);
        slots.push(i);
        requests.push(store::ReserveRequest {
            id: r.id,
            lines: r.lines,
            ttl_seconds: ttl,
        });
    }
    let made = store::reserve_many(&st.kit.pool, &requests).await;
    st.kit.metrics.incr(
        "inventory_batch_reservations_run_alone_total",
        made.run_alone as u64,
    );
    for (slot, m) in slots.into_iter().zip(made.results) {
        results[slot] = Some(match m {
            Ok((r, true)) => {
                st.kit.metrics.incr("inventory_reservations_total", 1);
                ItemResult::ok(StatusCode::CREATED, r)
            }
            Ok((r, false)) => ItemResult::ok(StatusCode::OK, r),
            Err(e) => ItemResult::err(&e),
        });
    }
    Ok(Json(json!({ "results": results })))
}

pub async fn commit_batch(
    State(st): State<AppState>,
    _caller: Scoped<Write>,
    Json(body): Json<CommitBatch>,
) -> Result<Json<serde_json::Value>, InventoryError> {
    if body.ids.is_empty() || body.ids.len() > MAX_BATCH_ITEMS {
        return Err(InventoryError::Invalid(format!(
            "a batch has 1 to {MAX_BATCH_ITEMS} ids"
        )));
    }
    let results: Vec<ItemResult> = store::commit_many(&st.kit.pool, &body.ids)
        .await
        .into_iter()
        .map(|r| match r {
            Ok(r) => ItemResult::ok(StatusCode::OK, r),
            Err(e) => ItemResult::err(&e),
        })
        .collect();
    Ok(Json(json!({ "results": results })))
}
