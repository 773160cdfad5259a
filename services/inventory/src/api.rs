use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ecom_shared::auth::{Caller, ServiceCaller};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::InventoryError;
use crate::store::{self, Line};
use crate::AppState;

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
    if caller.require_service_or_role("admin").is_err() {
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
    pub ttl_seconds: Option<i64>,
}

pub async fn reserve(
    State(st): State<AppState>,
    _caller: ServiceCaller,
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
    _caller: ServiceCaller,
    Path(id): Path<String>,
) -> Result<Json<store::Reservation>, InventoryError> {
    let id = parse_id(&id)?;
    store::get_reservation(&st.kit.pool, id).await.map(Json)
}

pub async fn commit(
    State(st): State<AppState>,
    _caller: ServiceCaller,
    Path(id): Path<String>,
) -> Result<Json<store::Reservation>, InventoryError> {
    let id = parse_id(&id)?;
    store::finish(&st.kit.pool, id, "committed").await.map(Json)
}

pub async fn release(
    State(st): State<AppState>,
    _caller: ServiceCaller,
    Path(id): Path<String>,
) -> Result<Json<store::Reservation>, InventoryError> {
    let id = parse_id(&id)?;
    store::finish(&st.kit.pool, id, "released").await.map(Json)
}

fn parse_id(raw: &str) -> Result<Uuid, InventoryError> {
    Uuid::parse_str(raw)
        .map_err(|_| InventoryError::Invalid("reservation id must be a UUID".into()))
}
