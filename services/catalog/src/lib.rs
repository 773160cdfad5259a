//! catalog: products, categories, prices in minor units, filters, sorting, cursor pagination,
//! PostgreSQL full-text search, featured lists, admin writes behind the `admin` role, demo seed.

pub mod api;
pub mod cache;
pub mod error;
pub mod seed;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use ecom_shared::openapi::{ApiDoc, Security};
use ecom_shared::settings::{CommonSettings, Env, SettingsError};
use ecom_shared::{HasKit, Kit};
use serde_json::json;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
pub const DEFAULT_PORT: u16 = 8082;

#[derive(Clone)]
pub struct AppState {
    pub kit: Kit,
    pub cache: Arc<cache::ReadCache>,
    /// Public reads answered from the read cache, and computed (`/metrics`: the hit rate).
    pub read_hits: Arc<std::sync::atomic::AtomicU64>,
    pub read_misses: Arc<std::sync::atomic::AtomicU64>,
}

impl AppState {
    /// State with a read cache of at most `cache_entries` responses (0: none). The cache
    /// serves nothing until [`AppState::start_change_feed`] is listening.
    pub fn new(kit: Kit, cache_entries: usize) -> Self {
        Self {
            read_hits: kit.metrics.shared_counter("catalog_read_cache_hits_total"),
            read_misses: kit
                .metrics
                .shared_counter("catalog_read_cache_misses_total"),
            kit,
            cache: Arc::new(cache::ReadCache::new(cache_entries)),
        }
    }

    /// Starts the change feed that keeps the read cache coherent with the database (see
    /// [`cache`]); the returned future resolves once it is listening, or after `wait` at most.
    pub async fn start_change_feed(&self, wait: Duration) -> tokio::task::JoinHandle<()> {
        let task = cache::spawn_change_feed(
            self.kit.pool.clone(),
            self.cache.clone(),
            self.kit.metrics.clone(),
        );
        let started = tokio::time::Instant::now();
        while !self.cache.is_coherent() && started.elapsed() < wait && !task.is_finished() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        task
    }
}

impl HasKit for AppState {
    fn kit(&self) -> &Kit {
        &self.kit
    }
}

pub struct Settings {
    pub common: CommonSettings,
    /// Most responses the read cache holds (0: no cache).
    pub cache_entries: usize,
    /// Seed this many demo products at start (0: none).
    pub seed_demo: i32,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            common: CommonSettings::from_env("catalog", DEFAULT_PORT, env)?,
            cache_entries: env.parse_or("CATALOG_READ_CACHE_ENTRIES", 20_000)?,
            seed_demo: env.parse_or("CATALOG_SEED_DEMO", 0)?,
        })
    }
}

pub fn openapi() -> ApiDoc {
    let product = json!({"type": "object", "properties": {
        "sku": {"type": "string"}, "slug": {"type": "string"}, "name": {"type": "string"},
        "description": {"type": "string"}, "category": {"type": "string"},
        "price_minor": {"type": "integer"}, "currency": {"type": "string"},
        "featured_rank": {"type": "integer"}, "attributes": {"type": "object"}, "active": {"type": "boolean"}}});
    ApiDoc::new("catalog", env!("CARGO_PKG_VERSION"))
        .route(
            "get",
            "/v1/products",
            "List products",
            Security::Public,
            &[200, 422, 429],
        )
        .query("category", "category slug (includes its children)")
        .query("min_price", "minor units")
        .query("max_price", "minor units")
        .query("q", "full-text query")
        .query("sort", "newest | price_asc | price_desc | name | relevance")
        .query("limit", "1..=100, default 20")
        .query("cursor", "next_cursor of the previous page")
        .query("featured", "only featured products")
        .query("facets", "include counts per category")
        .route(
            "get",
            "/v1/search",
            "Full-text search",
            Security::Public,
            &[200, 422, 429],
        )
        .query("q", "websearch syntax: words, \"phrases\", -excluded, or")
        .route(
            "get",
            "/v1/featured",
            "Featured products, in merchandising order",
            Security::Public,
            &[200],
        )
        .route(
            "get",
            "/v1/products/{id}",
            "One product by id or slug",
            Security::Public,
            &[200, 404],
        )
        .route(
            "get",
            "/v1/skus/{sku}",
            "Current price of a SKU",
            Security::Public,
            &[200, 404],
        )
        .route(
            "get",
            "/v1/categories",
            "All categories",
            Security::Public,
            &[200],
        )
        .route(
            "post",
            "/v1/categories",
            "Create a category",
            Security::Admin,
            &[201, 401, 403, 409, 422],
        )
        .body(
            json!({"type": "object", "required": ["slug", "name"], "properties": {
            "slug": {"type": "string"}, "name": {"type": "string"}, "parent": {"type": "string"}}}),
        )
        .route(
            "post",
            "/v1/products",
            "Create a product",
            Security::Admin,
            &[201, 401, 403, 409, 422],
        )
        .body(product.clone())
        .route(
            "patch",
            "/v1/products/{id}",
            "Update a product",
            Security::Admin,
            &[200, 401, 403, 404, 422],
        )
        .body(product)
        .route(
            "delete",
            "/v1/products/{id}",
            "Deactivate a product",
            Security::Admin,
            &[204, 401, 403, 404],
        )
        .route(
            "post",
            "/v1/admin/seed",
            "Seed the demo catalog",
            Security::Admin,
            &[200, 401, 403],
        )
        .body(json!({"type": "object", "properties": {"products": {"type": "integer"}}}))
}

pub fn router(state: AppState) -> Router {
    let doc = openapi();
    let kit = state.kit.clone();
    let limit = |route: &str| {
        axum::middleware::from_fn_with_state(kit.limiter(route), ecom_shared::ratelimit::enforce)
    };
    let api = Router::new()
        .route(
            "/v1/products",
            get(api::list)
                .route_layer(limit("GET /v1/products"))
                .post(api::create_product),
        )
        .route(
            "/v1/search",
            get(api::search).route_layer(limit("/v1/search")),
        )
        .route("/v1/featured", get(api::featured))
        .route(
            "/v1/products/{id}",
            get(api::get_product)
                .patch(api::update_product)
                .delete(api::delete_product),
        )
        .route("/v1/skus/{sku}", get(api::get_sku))
        .route(
            "/v1/categories",
            get(api::categories).post(api::create_category),
        )
        .route("/v1/admin/seed", post(api::seed))
        .with_state(state);
    ecom_shared::app::finish(api, &kit, &doc)
}

pub use ecom_shared::RunError;

pub async fn run() -> Result<(), RunError> {
    ecom_shared::service::run(|env| async move {
        let settings = Settings::from_env(&env)?;
        let kit = Kit::start(settings.common, &MIGRATOR).await?;
        if settings.seed_demo > 0 {
            let n = seed::seed_demo(&kit.pool, settings.seed_demo)
                .await
                .map_err(|e| RunError::start("demo seed failed", e))?;
            tracing::info!(inserted = n, "seeded the demo catalog");
        }
        let state = AppState::new(kit.clone(), settings.cache_entries);
        let feed = state.start_change_feed(Duration::from_secs(2)).await;
        Ok(ecom_shared::service::Service::new(router(state), kit).task(feed))
    })
    .await
}
