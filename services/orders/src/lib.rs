//! orders: cart, checkout saga with `Idempotency-Key`, order history, payment webhooks.

pub mod action;
pub mod api;
pub mod batch;
pub mod calls;
pub mod error;
pub mod saga;
pub mod status;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post, put};
use axum::Router;
use ecom_shared::client::ServiceClient;
use ecom_shared::credentials::TokenSource;
use ecom_shared::openapi::{idempotency_key, ApiDoc, Security};
use ecom_shared::service::Service;
use ecom_shared::settings::{CommonSettings, Env, Secret, SettingsError};
use ecom_shared::{HasKit, Kit};
use serde_json::json;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
pub const DEFAULT_PORT: u16 = 8084;

#[derive(Clone)]
pub struct AppState {
    pub kit: Kit,
    pub deps: saga::Deps,
    /// Seconds a worker owns a running saga before another may resume it.
    pub lease_seconds: f64,
    pub reservation_ttl_seconds: i64,
    /// How long a checkout waits for the customer's 3-D Secure answer before the payment is
    /// voided and the order compensated.
    pub action_timeout: Duration,
    /// How long a repeated Idempotency-Key waits for the first request to finish.
    pub replay_wait: Duration,
    pub webhook_secret: Option<Secret>,
    /// Fault injection (tests only; off by default).
    pub faults: Faults,
    /// The saga's own writes, batched across concurrent checkouts (see [`batch`]).
    pub writes: Arc<Writes>,
}

/// Fault injection for tests, off by default: nothing here changes what a checkout does,
/// only when (or whether) its saga goes on.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Stop the saga right after persisting this status, as a crash would (in-process tests).
    pub fail_after: Option<String>,
    /// A pause before each saga step and between payment and confirmation, so a test can kill
    /// the process while sagas are in flight (`ORDERS_FAULT_STEP_DELAY_MS`).
    pub step_delay: Duration,
}

/// Largest number of checkouts one batched statement serves.
const MAX_BATCH: usize = 64;

/// Group-committed writes: the order insert, the move to `reserved` and the confirmation,
/// inventory's reservations and commits, and payments' sales (one call and one transaction
/// for many).
pub struct Writes {
    pub reserve: batch::Batcher<serde_json::Value, ()>,
    pub commit: batch::Batcher<uuid::Uuid, ()>,
    pub insert: batch::Batcher<store::NewOrder, Option<store::OrderRow>>,
    pub reserved: batch::Batcher<uuid::Uuid, bool>,
    pub confirm: batch::Batcher<store::Confirmation, bool>,
    pub pay: batch::Batcher<calls::PaymentRequest, calls::PaymentReply>,
}

impl Writes {
    pub fn new(deps: &saga::Deps) -> Self {
        let inventory = deps.inventory.clone();
        let inventory2 = deps.inventory.clone();
        let payments = deps.payments.clone();
        Self {
            reserve: batch::Batcher::new(MAX_BATCH, move |_pool, v| {
                let inventory = inventory.clone();
                Box::pin(async move { calls::reserve_many(&inventory, v).await })
            }),
            commit: batch::Batcher::new(MAX_BATCH, move |_pool, v| {
                let inventory = inventory2.clone();
                Box::pin(async move { calls::commit_many(&inventory, v).await })
            }),
            insert: batch::Batcher::new(MAX_BATCH, |pool, v| Box::pin(store::insert_many(pool, v))),
            reserved: batch::Batcher::new(MAX_BATCH, |pool, v| {
                Box::pin(store::mark_reserved_many(pool, v))
            }),
            confirm: batch::Batcher::new(MAX_BATCH, |pool, v| {
                Box::pin(store::confirm_many(pool, v))
            }),
            pay: batch::Batcher::new(MAX_BATCH, move |_pool, v| {
                let payments = payments.clone();
                Box::pin(async move { calls::pay_many(&payments, v).await })
            }),
        }
    }
}

impl HasKit for AppState {
    fn kit(&self) -> &Kit {
        &self.kit
    }
}

pub struct Settings {
    pub common: CommonSettings,
    pub catalog_url: String,
    pub inventory_url: String,
    pub payments_url: String,
    pub lease_seconds: f64,
    pub reservation_ttl_seconds: i64,
    pub action_timeout: Duration,
    pub recovery_interval: Duration,
    pub webhook_secret: Option<Secret>,
    pub faults: Faults,
}

/// Every statement of this service is a keyed lookup or a small keyed write, so generic plans
/// (planned once per connection) are as good as custom ones: on unless `DB_GENERIC_PLANS=false`.
fn keyed_lookups(mut common: CommonSettings, env: &Env) -> Result<CommonSettings, SettingsError> {
    common.db_generic_plans = env.parse_or("DB_GENERIC_PLANS", true)?;
    Ok(common)
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        let common = CommonSettings::from_env("orders", DEFAULT_PORT, env)?;
        Self::read(common, env)
    }

    /// orders' own settings from `env`, over `common` (tests pass
    /// `CommonSettings::for_tests` and an `Env` naming the three service URLs).
    pub fn read(common: CommonSettings, env: &Env) -> Result<Self, SettingsError> {
        // orders reserves stock and takes payments: it calls as itself, with its own client.
        if common.client.is_none() {
            return Err(SettingsError::Missing {
                name: "SERVICE_CLIENT_SECRET".into(),
                hint: " (orders' own client secret: login issues it short-lived tokens for \
                       inventory and payments; LOGIN_URL says where login is)"
                    .into(),
            });
        }
        let reservation_ttl_seconds = env.parse_or("ORDERS_RESERVATION_TTL_SECONDS", 900)?;
        let action_timeout: f64 = env.parse_or("ORDERS_ACTION_TIMEOUT_SECONDS", 600.0)?;
        // The stock stays reserved while the customer answers: the wait must end first.
        if !(action_timeout > 0.0 && action_timeout < reservation_ttl_seconds as f64) {
            return Err(SettingsError::Invalid {
                name: "ORDERS_ACTION_TIMEOUT_SECONDS".into(),
                reason: format!(
                    "must be more than 0 and less than ORDERS_RESERVATION_TTL_SECONDS \
                     ({reservation_ttl_seconds}) (got {action_timeout})"
                ),
            });
        }
        Ok(Self {
            common: keyed_lookups(common, env)?,
            catalog_url: env.required("CATALOG_URL", "e.g. http://catalog:8082")?,
            inventory_url: env.required("INVENTORY_URL", "e.g. http://inventory:8083")?,
            payments_url: env.required("PAYMENTS_URL", "e.g. http://payments:8085")?,
            lease_seconds: env.parse_or("ORDERS_SAGA_LEASE_SECONDS", 30.0)?,
            reservation_ttl_seconds,
            action_timeout: Duration::from_secs_f64(action_timeout),
            recovery_interval: Duration::from_secs(
                env.parse_or("ORDERS_RECOVERY_INTERVAL_SECONDS", 10)?,
            ),
            webhook_secret: env.secret("PAYMENTS_WEBHOOK_SECRET"),
            faults: Faults {
                fail_after: None,
                step_delay: Duration::from_millis(env.parse_or("ORDERS_FAULT_STEP_DELAY_MS", 0)?),
            },
        })
    }
}

impl AppState {
    /// The state `run()` serves, and tests alike: dependency clients at the settings' URLs
    /// (inventory and payments with orders' own tokens for each, the catalog's public routes
    /// with none), the saga's timings, the webhook secret and the faults.
    pub fn from_settings(kit: Kit, settings: &Settings) -> Self {
        let tokens = |audience: &str| {
            kit.settings
                .client
                .as_ref()
                .map(|c| Arc::new(TokenSource::new(kit.http.clone(), c, audience)))
        };
        let client =
            |name: &str, url: &str, tokens| ServiceClient::new(name, kit.http.clone(), url, tokens);
        let deps = saga::Deps {
            catalog: client("catalog", &settings.catalog_url, None),
            inventory: client("inventory", &settings.inventory_url, tokens("inventory")),
            payments: client("payments", &settings.payments_url, tokens("payments")),
        };
        let writes = Arc::new(Writes::new(&deps));
        Self {
            kit,
            deps,
            lease_seconds: settings.lease_seconds,
            reservation_ttl_seconds: settings.reservation_ttl_seconds,
            action_timeout: settings.action_timeout,
            replay_wait: REPLAY_WAIT,
            webhook_secret: settings.webhook_secret.clone(),
            faults: settings.faults.clone(),
            writes,
        }
    }
}

/// How long a repeated Idempotency-Key waits for the first request to finish.
const REPLAY_WAIT: Duration = Duration::from_secs(10);

pub fn openapi() -> ApiDoc {
    let sku = json!({"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"});
    let uuid = json!({"type": "string", "format": "uuid"});
    ApiDoc::new("orders", env!("CARGO_PKG_VERSION"))
        .route("get", "/v1/cart", "The caller's cart", Security::User, &[200, 401])
        .route("put", "/v1/cart/items/{sku}", "Set an item's quantity (0 removes it)", Security::User, &[200, 401, 422])
        .path_schema("sku", sku.clone())
        .body(json!({"type": "object", "additionalProperties": false, "required": ["quantity"], "properties": {"quantity": {"type": "integer", "minimum": 0, "maximum": 100}}}))
        .route("delete", "/v1/cart", "Empty the cart", Security::User, &[204, 401])
        .route("post", "/v1/checkout", "Check out (Idempotency-Key header required): 201 with the confirmed order; 202 with the order awaiting_action and its action (a 3-D Secure challenge to answer at action.complete before action.expires_at) when the card asks for one; a problem otherwise (422 for a SKU the catalog does not have or a payment token that is not the caller's)", Security::User, &[201, 202, 401, 402, 409, 422, 429, 503])
        .header("Idempotency-Key", "one order per key: a repeat gets the first answer", idempotency_key(true).schema, true)
        .body(json!({"type": "object", "additionalProperties": false, "required": ["payment_token"], "properties": {
            "payment_token": {"type": "string"},
            "items": {"type": "array", "minItems": 1, "maxItems": 50, "description": "the cart's items when left out; lines of one SKU are added up (at most 100 in all)",
                "items": {"type": "object", "required": ["sku", "quantity"],
                "properties": {"sku": sku, "quantity": {"type": "integer", "minimum": 1, "maximum": 100}}}}}}))
        .route("get", "/v1/orders", "The caller's orders, newest first", Security::User, &[200, 401, 422])
        .query_schema("before", "created_at cursor from next_before", json!({"type": "string", "format": "date-time"}), false)
        .query_schema("limit", "default 20", json!({"type": "integer", "minimum": 1, "maximum": 100}), false)
        .route("get", "/v1/orders/{id}", "One order with its status (and its action while awaiting_action)", Security::User, &[200, 401, 404])
        .path_schema("id", uuid.clone())
        .route("post", "/v1/orders/{id}/3ds", "Answer the order's 3-D Secure challenge (sandbox: the result the issuer's page would give). Answers with the checkout's outcome: 200 and the confirmed order, or the problem (402 payment-declined when failed, 402 action-expired after the deadline); answered again, the same outcome", Security::User, &[200, 401, 402, 404, 409, 422, 503])
        .path_schema("id", uuid)
        .body(json!({"type": "object", "required": ["challenge_id", "result"], "additionalProperties": false, "properties": {
            "challenge_id": {"type": "string", "description": "action.challenge_id from the checkout's 202"},
            "result": {"type": "string", "enum": ["succeeded", "failed"]}}}))
        .route("post", "/v1/webhooks/payments", "Payment events from payments (HMAC signed)", Security::Signature, &[204, 401, 503])
}

pub fn router(state: AppState) -> Router {
    let doc = openapi();
    let kit = state.kit.clone();
    let checkout_limit = kit.limiter("/v1/checkout");
    let api = Router::new()
        .route("/v1/cart", get(api::get_cart).delete(api::clear_cart))
        .route("/v1/cart/items/{sku}", put(api::put_cart_item))
        .route(
            "/v1/checkout",
            post(api::checkout).route_layer(axum::middleware::from_fn_with_state(
                checkout_limit,
                ecom_shared::ratelimit::enforce,
            )),
        )
        .route("/v1/orders", get(api::list_orders))
        .route("/v1/orders/{id}", get(api::get_order))
        .route("/v1/orders/{id}/3ds", post(api::answer_challenge))
        .route("/v1/webhooks/payments", post(api::payment_webhook))
        .with_state(state);
    ecom_shared::app::finish(api, &kit, &doc)
}

/// Resumes unfinished sagas now and then every `interval`.
pub fn spawn_recovery(state: AppState, interval: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        loop {
            tick.tick().await;
            match saga::recover(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(resumed = n, "resumed unfinished checkouts"),
                Err(e) => tracing::warn!(error = %e, "saga recovery failed"),
            }
        }
    })
}

pub use ecom_shared::RunError;

pub async fn run() -> Result<(), RunError> {
    ecom_shared::service::run(|env| async move {
        let settings = Settings::from_env(&env)?;
        let kit = Kit::start(settings.common.clone(), &MIGRATOR).await?;
        let state = AppState::from_settings(kit.clone(), &settings);
        if !state.faults.step_delay.is_zero() {
            tracing::warn!(
                delay_ms = state.faults.step_delay.as_millis() as u64,
                "fault injection: ORDERS_FAULT_STEP_DELAY_MS pauses every checkout step"
            );
        }
        // Resumes sagas a previous process left unfinished (the first tick is immediate).
        let recovery = spawn_recovery(state.clone(), settings.recovery_interval);
        Ok(Service::new(router(state), kit).task(recovery))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(extra: &[(&'static str, &'static str)]) -> Env {
        let mut pairs = vec![
            ("DATABASE_URL", "postgres://127.0.0.1/orders"),
            ("CATALOG_URL", "http://127.0.0.1:8082"),
            ("INVENTORY_URL", "http://127.0.0.1:8083"),
            ("PAYMENTS_URL", "http://127.0.0.1:8085"),
            ("SERVICE_CLIENT_SECRET", "s"),
            ("LOGIN_URL", "http://127.0.0.1:8081"),
        ];
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn orders_needs_its_own_client() {
        let pairs = [
            ("DATABASE_URL", "postgres://127.0.0.1/orders"),
            ("CATALOG_URL", "http://127.0.0.1:8082"),
            ("INVENTORY_URL", "http://127.0.0.1:8083"),
            ("PAYMENTS_URL", "http://127.0.0.1:8085"),
        ];
        let err = Settings::from_env(&Env::from_pairs(pairs))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("SERVICE_CLIENT_SECRET is not set"), "{err}");
    }

    #[test]
    fn the_3ds_wait_is_read_and_must_end_before_the_reservation() {
        let s = Settings::from_env(&env(&[])).expect("defaults");
        assert_eq!(s.action_timeout, Duration::from_secs(600));
        let s = Settings::from_env(&env(&[("ORDERS_ACTION_TIMEOUT_SECONDS", "2.5")]))
            .expect("settings");
        assert_eq!(s.action_timeout, Duration::from_millis(2500));
        for bad in ["0", "900", "-1", "soon"] {
            let err = Settings::from_env(&env(&[("ORDERS_ACTION_TIMEOUT_SECONDS", bad)]))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.starts_with("ORDERS_ACTION_TIMEOUT_SECONDS is invalid"),
                "{bad}: {err}"
            );
        }
    }
}
