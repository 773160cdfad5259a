//! payments: a sandbox processor. Card numbers are exchanged for tokens at the edge; payments
//! are authorized (idempotent by key), captured, voided and refunded; webhooks go to orders,
//! signed with HMAC.

pub mod api;
pub mod cards;
pub mod challenge;
pub mod error;
pub mod refunds;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use ecom_shared::openapi::{idempotency_key, ApiDoc, Security};
use ecom_shared::service::Service;
use ecom_shared::settings::{CommonSettings, Env, Secret, SettingsError};
use ecom_shared::{HasKit, Kit};
use serde_json::json;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
pub const DEFAULT_PORT: u16 = 8085;

#[derive(Clone)]
pub struct AppState {
    pub kit: Kit,
    /// Woken after each change so webhooks go out promptly.
    pub webhook_wake: Arc<tokio::sync::Notify>,
}

impl AppState {
    pub fn new(kit: Kit) -> Self {
        Self {
            kit,
            webhook_wake: Arc::new(tokio::sync::Notify::new()),
        }
    }
    fn wake_webhooks(&self) {
        self.webhook_wake.notify_one();
    }
}

impl HasKit for AppState {
    fn kit(&self) -> &Kit {
        &self.kit
    }
}

pub struct Settings {
    pub common: CommonSettings,
    /// Where payment events are posted (orders' `/v1/webhooks/payments`).
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<Secret>,
}

/// Every statement of this service is a keyed lookup or a small keyed write, so generic plans
/// (planned once per connection) are as good as custom ones: on unless `DB_GENERIC_PLANS=false`.
fn keyed_lookups(mut common: CommonSettings, env: &Env) -> Result<CommonSettings, SettingsError> {
    common.db_generic_plans = env.parse_or("DB_GENERIC_PLANS", true)?;
    Ok(common)
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        let webhook_url = env.get("PAYMENTS_WEBHOOK_URL");
        let webhook_secret = env.secret("PAYMENTS_WEBHOOK_SECRET");
        if webhook_url.is_some() && webhook_secret.is_none() {
            return Err(SettingsError::Missing {
                name: "PAYMENTS_WEBHOOK_SECRET".into(),
                hint: " (required when PAYMENTS_WEBHOOK_URL is set)".into(),
            });
        }
        Ok(Self {
            common: keyed_lookups(
                CommonSettings::from_env("payments", DEFAULT_PORT, env)?,
                env,
            )?,
            webhook_url,
            webhook_secret,
        })
    }
}

pub fn openapi() -> ApiDoc {
    let authorize = json!({"type": "object", "additionalProperties": false, "required": ["token", "customer", "amount_minor", "currency"], "properties": {
        "token": {"type": "string", "maxLength": 100, "description": "a pm_ token the customer made at /v1/tokens (any other is refused, 422)"},
        "amount_minor": {"type": "integer", "minimum": 1, "maximum": 10_000_000_000_i64},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "customer": {"type": "string", "minLength": 1, "maxLength": 200, "description": "the customer paying: the token's owner (the sub of the token that made it)"},
        "order_ref": {"type": "string", "maxLength": 100},
        "capture": {"type": "boolean", "description": "capture at once when approved (a sale)"}}});
    // A batch's request has only the shape of one (see its description).
    let batch_request = json!({"type": "object", "additionalProperties": false, "required": ["token", "customer", "amount_minor", "currency"], "properties": {
        "token": {"type": "string"}, "customer": {"type": "string"}, "currency": {"type": "string"},
        "amount_minor": {"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX},
        "order_ref": {"type": "string"}, "capture": {"type": "boolean"}}});
    let uuid = json!({"type": "string", "format": "uuid"});
    let no_webhook = "false: no webhook for this change";
    let flag = json!({"type": "boolean"});
    ApiDoc::new("payments", env!("CARGO_PKG_VERSION"))
        .route("post", "/v1/tokens", "Exchange card data for a token bound to the signed-in customer (the number is never stored; 422 invalid-card for a number that fails the Luhn check, an expired card or a CVC of the wrong length for the brand)", Security::User, &[201, 401, 422, 429])
        .body(json!({"type": "object", "additionalProperties": false, "required": ["number", "exp_month", "exp_year", "cvc"], "properties": {
            "number": {"type": "string", "pattern": "^[0-9 -]{12,}$", "description": "12 to 19 digits (spaces and dashes are ignored) that pass the Luhn check"},
            "exp_month": {"type": "integer", "minimum": 1, "maximum": 12},
            "exp_year": {"type": "integer", "minimum": 2000, "maximum": 2200, "description": "this year to 25 years on"},
            "cvc": {"type": "string", "pattern": "^[0-9]{3,4}$", "description": "4 digits for amex, else 3"}}}))
        .route("get", "/v1/test-cards", "The sandbox's test cards", Security::Public, &[200])
        .route("post", "/v1/payments", "Authorize (Idempotency-Key header required). A card that asks for 3-D Secure answers status requires_action with action {type: 3ds_challenge, challenge_id}, answered at /v1/payments/{id}/3ds", Security::Service, &[200, 201, 401, 403, 422])
        .body(authorize.clone())
        .header("Idempotency-Key", "one payment per key", idempotency_key(true).schema, true)
        .query_schema("webhook", "false: the caller takes the outcome from the response; no webhook is sent", flag.clone(), false)
        .route("post", "/v1/batch/payments", "Authorize many (1 to 200), each with its own idempotency key, in one statement; each item answered as its single call", Security::Service, &[200, 401, 403, 422])
        .body(json!({"type": "object", "additionalProperties": false, "required": ["payments"], "properties": {
            "payments": {"type": "array", "minItems": 1, "maxItems": 200, "items": {
                "type": "object", "additionalProperties": false, "required": ["idempotency_key", "request"],
                "description": "an item that breaks the rules of POST /v1/payments (its key, its request) is answered 422 in its place",
                "properties": {
                    "idempotency_key": {"type": "string"},
                    "request": batch_request}}}}}))
        .query_schema("webhook", "false: the caller takes the outcomes from the response; no webhooks are sent", flag.clone(), false)
        .route("get", "/v1/payments/{id}", "One payment", Security::Service, &[200, 404])
        .path_schema("id", uuid.clone())
        .route("post", "/v1/payments/{id}/capture", "Capture an authorization", Security::Service, &[200, 404, 409])
        .path_schema("id", uuid.clone())
        .query_schema("webhook", no_webhook, flag.clone(), false)
        .route("post", "/v1/payments/{id}/void", "Void an authorization, or a payment whose 3-D Secure challenge was never answered (requires_action)", Security::Service, &[200, 404, 409])
        .path_schema("id", uuid.clone())
        .query_schema("webhook", no_webhook, flag.clone(), false)
        .route("post", "/v1/payments/{id}/3ds", "Answer a requires_action payment's 3-D Secure challenge (the sandbox's issuer page): succeeded authorizes it (captures it when the request was a sale), failed declines it (authentication_failed); answered again, the payment as it is", Security::Service, &[200, 404, 409, 422])
        .path_schema("id", uuid.clone())
        .body(json!({"type": "object", "required": ["challenge_id", "result"], "additionalProperties": false, "properties": {
            "challenge_id": {"type": "string", "description": "action.challenge_id of the payment"},
            "result": {"type": "string", "enum": ["succeeded", "failed"]}}}))
        .query_schema("webhook", no_webhook, flag.clone(), false)
        .route("post", "/v1/payments/{id}/refund", "Refund a capture: what is left of it (no body), or part of it (amount_minor; Idempotency-Key header required, one refund per key)", Security::Service, &[200, 404, 409, 422])
        .path_schema("id", uuid)
        .optional_body(json!({"type": "object", "additionalProperties": false, "required": ["amount_minor"], "properties": {
            "amount_minor": {"type": "integer", "minimum": 1}}}))
        .header("Idempotency-Key", "required with a body: one partial refund per key", idempotency_key(false).schema, false)
        .query_schema("webhook", no_webhook, flag, false)
}

pub fn router(state: AppState) -> Router {
    let doc = openapi();
    let kit = state.kit.clone();
    let token_limit = kit.limiter("/v1/tokens");
    let api = Router::new()
        .route(
            "/v1/tokens",
            post(api::tokenize).route_layer(axum::middleware::from_fn_with_state(
                token_limit,
                ecom_shared::ratelimit::enforce,
            )),
        )
        .route("/v1/test-cards", get(api::cards_doc))
        .route("/v1/payments", post(api::authorize))
        .route("/v1/batch/payments", post(api::authorize_batch))
        .route("/v1/payments/{id}", get(api::get_payment))
        .route("/v1/payments/{id}/capture", post(api::capture))
        .route("/v1/payments/{id}/void", post(api::void))
        .route("/v1/payments/{id}/3ds", post(api::answer_challenge))
        .route("/v1/payments/{id}/refund", post(api::refund))
        .with_state(state);
    ecom_shared::app::finish(api, &kit, &doc)
}

/// Delivers webhooks when woken, and every few seconds to retry failures.
pub fn spawn_webhooks(state: AppState, url: String, secret: Secret) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match store::deliver_webhooks(
                &state.kit.pool,
                &state.kit.http,
                &url,
                secret.expose().as_bytes(),
            )
            .await
            {
                Ok(n) if n > 0 => state
                    .kit
                    .metrics
                    .incr("payments_webhooks_delivered_total", n),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "webhook delivery failed"),
            }
            let _ =
                tokio::time::timeout(Duration::from_secs(5), state.webhook_wake.notified()).await;
        }
    })
}

pub use ecom_shared::RunError;

pub async fn run() -> Result<(), RunError> {
    ecom_shared::service::run(|env| async move {
        let settings = Settings::from_env(&env)?;
        let kit = Kit::start(settings.common, &MIGRATOR).await?;
        let state = AppState::new(kit.clone());
        let mut service = Service::new(router(state.clone()), kit);
        if let (Some(url), Some(secret)) = (settings.webhook_url, settings.webhook_secret) {
            service = service.task(spawn_webhooks(state, url, secret));
        }
        Ok(service)
    })
    .await
}
