//! inventory: stock per SKU, and reservations (reserve -> commit | release) with expiry.

pub mod api;
pub mod error;
pub mod store;

use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use ecom_shared::openapi::{ApiDoc, Security};
use ecom_shared::settings::{CommonSettings, Env, SettingsError};
use ecom_shared::{HasKit, Kit};
use serde_json::json;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
pub const DEFAULT_PORT: u16 = 8083;

#[derive(Clone)]
pub struct AppState {
    pub kit: Kit,
    pub reservation_ttl_seconds: i64,
}

impl HasKit for AppState {
    fn kit(&self) -> &Kit {
        &self.kit
    }
}

pub struct Settings {
    pub common: CommonSettings,
    pub reservation_ttl_seconds: i64,
    pub expiry_interval: Duration,
}

/// Every statement of this service is a keyed lookup or a small keyed write, so generic plans
/// (planned once per connection) are as good as custom ones: on unless `DB_GENERIC_PLANS=false`.
fn keyed_lookups(mut common: CommonSettings, env: &Env) -> Result<CommonSettings, SettingsError> {
    common.db_generic_plans = env.parse_or("DB_GENERIC_PLANS", true)?;
    Ok(common)
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            common: keyed_lookups(
                CommonSettings::from_env("inventory", DEFAULT_PORT, env)?,
                env,
            )?,
            reservation_ttl_seconds: env.parse_or("INVENTORY_RESERVATION_TTL_SECONDS", 900)?,
            expiry_interval: Duration::from_secs(
                env.parse_or("INVENTORY_EXPIRY_INTERVAL_SECONDS", 15)?,
            ),
        })
    }
}

pub fn openapi() -> ApiDoc {
    let sku = json!({"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"});
    let uuid = json!({"type": "string", "format": "uuid"});
    // A line's SKU and quantity (lines of one SKU are added up, and the sum has the same cap).
    let line = json!({"type": "object", "required": ["sku", "quantity"],
        "properties": {"sku": sku, "quantity": {"type": "integer", "minimum": 1, "maximum": store::MAX_LINE_QUANTITY}}});
    let reservation = json!({"type": "object", "additionalProperties": false, "required": ["id", "lines"], "properties": {
        "id": uuid, "lines": {"type": "array", "minItems": 1, "maxItems": 100, "items": line},
        "ttl_seconds": {"type": "integer", "minimum": 1, "maximum": 86400}}});
    // A batch's item has only the shape of a reservation: one that breaks a single
    // reservation's rules is answered in its place in the batch (as its single call would
    // be), not by refusing the batch.
    let i32_range = json!({"type": "integer", "minimum": i32::MIN, "maximum": i32::MAX});
    let batch_item = json!({"type": "object", "additionalProperties": false, "required": ["id", "lines"],
        "description": "as the body of POST /v1/reservations; an item that breaks its rules is answered 422 in its place",
        "properties": {"id": uuid, "lines": {"type": "array", "items": {"type": "object", "required": ["sku", "quantity"],
            "properties": {"sku": {"type": "string"}, "quantity": i32_range}}},
        "ttl_seconds": {"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX}}});
    ApiDoc::new("inventory", env!("CARGO_PKG_VERSION"))
        .route("get", "/v1/stock/{sku}", "Stock of one SKU", Security::Public, &[200, 404])
        .path_schema("sku", sku.clone())
        .route("put", "/v1/stock/{sku}", "Set the quantity on hand (409 below what is reserved)", Security::ServiceOrAdmin, &[200, 401, 403, 409, 422])
        .path_schema("sku", sku)
        .body(json!({"type": "object", "additionalProperties": false, "required": ["on_hand"], "properties": {
            "on_hand": {"type": "integer", "minimum": 0, "maximum": store::MAX_ON_HAND}}}))
        .route("post", "/v1/reservations", "Reserve all lines or none (idempotent by id)", Security::Service, &[200, 201, 401, 404, 409, 422])
        .body(reservation.clone())
        .route("get", "/v1/reservations/{id}", "One reservation", Security::Service, &[200, 404])
        .path_schema("id", uuid.clone())
        .route("post", "/v1/reservations/{id}/commit", "Commit: the stock leaves", Security::Service, &[200, 404, 409])
        .path_schema("id", uuid.clone())
        .route("post", "/v1/reservations/{id}/release", "Release: the stock returns", Security::Service, &[200, 404, 409])
        .path_schema("id", uuid.clone())
        .route("post", "/v1/batch/reservations", "Reserve many in one transaction: each all lines or none, answered as POST /v1/reservations would answer it; decided in the order sent", Security::Service, &[200, 401, 422])
        .body(json!({"type": "object", "additionalProperties": false, "required": ["reservations"], "properties": {
            "reservations": {"type": "array", "minItems": 1, "maxItems": 200, "items": batch_item}}}))
        .route("post", "/v1/batch/reservations/commit", "Commit many by id (one statement; each answered as its commit would be)", Security::Service, &[200, 401, 422])
        .body(json!({"type": "object", "additionalProperties": false, "required": ["ids"], "properties": {
            "ids": {"type": "array", "minItems": 1, "maxItems": 200, "items": uuid}}}))
}

pub fn router(state: AppState) -> Router {
    let doc = openapi();
    let kit = state.kit.clone();
    let reserve_limit = kit.limiter("/v1/reservations");
    let api = Router::new()
        .route("/v1/stock/{sku}", get(api::get_stock).put(api::put_stock))
        .route(
            "/v1/reservations",
            post(api::reserve).route_layer(axum::middleware::from_fn_with_state(
                reserve_limit,
                ecom_shared::ratelimit::enforce,
            )),
        )
        .route("/v1/reservations/{id}", get(api::get_reservation))
        .route("/v1/reservations/{id}/commit", post(api::commit))
        .route("/v1/reservations/{id}/release", post(api::release))
        .route("/v1/batch/reservations", post(api::reserve_batch))
        .route("/v1/batch/reservations/commit", post(api::commit_batch))
        .with_state(state);
    ecom_shared::app::finish(api, &kit, &doc)
}

/// Releases expired reservations every `interval` until the process stops.
pub fn spawn_expiry(kit: Kit, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            match store::release_expired(&kit.pool).await {
                Ok(0) => {}
                Ok(n) => {
                    kit.metrics.incr("inventory_reservations_expired_total", n);
                    tracing::info!(released = n, "released expired reservations");
                }
                Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
            }
        }
    })
}

pub use ecom_shared::RunError;

pub async fn run() -> Result<(), RunError> {
    ecom_shared::service::run(|env| async move {
        let settings = Settings::from_env(&env)?;
        let kit = Kit::start(settings.common, &MIGRATOR).await?;
        let expiry = spawn_expiry(kit.clone(), settings.expiry_interval);
        let state = AppState {
            kit: kit.clone(),
            reservation_ttl_seconds: settings.reservation_ttl_seconds,
        };
        Ok(ecom_shared::service::Service::new(router(state), kit).task(expiry))
    })
    .await
}
