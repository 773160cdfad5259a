//! catalog: products, categories, prices in minor units, filters, sorting, cursor pagination,
//! PostgreSQL full-text search, featured lists, admin writes behind the `admin` role, demo seed.

pub mod api;
pub mod cache;
pub mod collapse;
pub mod error;
pub mod list;
pub mod lookup;
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
    /// Point reads (SKU, product by id or slug), batched under load.
    pub lookups: Arc<lookup::Lookups>,
    /// Identical list and search reads waiting together share one statement.
    pub collapse: Arc<collapse::Collapser>,
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
            lookups: Arc::new(lookup::Lookups::new(&kit.pool)),
            // The change feed's listener keeps one of the pool's connections.
            collapse: Arc::new(collapse::Collapser::new(
                (kit.pool.options().get_max_connections() as usize).saturating_sub(1),
            )),
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
        let mut common = CommonSettings::from_env("catalog", DEFAULT_PORT, env)?;
        // Every list and search walks an index whatever its filters' values (the sorts'
        // covering indexes, the narrow table's sort indexes for a filtered list, its GIN index
        // for a search), so a plan made once per connection is as good as one made per
        // request, and planning was a third of the database's CPU on a list. On unless
        // `DB_GENERIC_PLANS=false`.
        common.db_generic_plans = env.parse_or("DB_GENERIC_PLANS", true)?;
        Ok(Self {
            common,
            cache_entries: env.parse_or("CATALOG_READ_CACHE_ENTRIES", 20_000)?,
            seed_demo: env.parse_or("CATALOG_SEED_DEMO", 0)?,
        })
    }
}

pub fn openapi() -> ApiDoc {
    // Text without control characters (the filters refuse them; PostgreSQL cannot hold NUL).
    let text = |max: u32| json!({"type": "string", "maxLength": max, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"});
    let product_fields = json!({
        "sku": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
        "slug": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,127}$"},
        "name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\u0000]*$"},
        "description": {"type": "string", "maxLength": 10000, "pattern": "^[^\\u0000]*$"},
        "category": {"type": "string", "description": "an existing category's slug"},
        "price_minor": {"type": "integer", "minimum": 0, "maximum": store::MAX_PRICE_MINOR},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "featured_rank": {"type": "integer", "minimum": 1, "maximum": i32::MAX},
        "attributes": {"type": "object"},
        "active": {"type": "boolean"}});
    let mut patch_fields = product_fields.clone();
    if let Some(m) = patch_fields.as_object_mut() {
        m.remove("sku");
    }
    let new_product = json!({"type": "object", "additionalProperties": false,
        "required": ["sku", "slug", "name", "price_minor", "currency"], "properties": product_fields});
    let patch =
        json!({"type": "object", "additionalProperties": false, "properties": patch_fields});
    let uuid = json!({"type": "string", "format": "uuid"});
    let limit = json!({"type": "integer", "minimum": 1, "maximum": 100});
    let price = json!({"type": "integer", "minimum": 0, "maximum": i64::MAX});
    let sort = json!({"type": "string", "enum": ["newest", "price_asc", "price_desc", "name", "relevance"]});
    ApiDoc::new("catalog", env!("CARGO_PKG_VERSION"))
        .route(
            "get",
            "/v1/products",
            "List products",
            Security::Public,
            &[200, 422, 429],
        )
        .query_schema("category", "category slug (includes its children)", text(200), false)
        .query_schema("min_price", "minor units", price.clone(), false)
        .query_schema("max_price", "minor units", price, false)
        .query_schema("q", "full-text query", text(200), false)
        .query_schema("sort", "default newest (relevance with q)", sort.clone(), false)
        .query_schema("limit", "default 20", limit.clone(), false)
        .query("cursor", "next_cursor of the previous page (422 for any other)")
        .query_schema("featured", "only featured products", json!({"type": "boolean"}), false)
        .query_schema("facets", "include counts per category", json!({"type": "boolean"}), false)
        .route(
            "get",
            "/v1/search",
            "Full-text search",
            Security::Public,
            &[200, 422, 429],
        )
        .query_schema(
            "q",
            "websearch syntax: words, \"phrases\", -excluded, or",
            json!({"type": "string", "maxLength": 200, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"}),
            true,
        )
        .query_schema("sort", "default relevance", sort, false)
        .query_schema("limit", "default 20", limit, false)
        .query("cursor", "next_cursor of the previous page (422 for any other)")
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
        .body(json!({"type": "object", "additionalProperties": false, "required": ["slug", "name"], "properties": {
            "slug": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"},
            "name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[^\\u0000]*$"},
            "parent": {"type": "string", "description": "an existing category's slug"}}}))
        .route(
            "post",
            "/v1/products",
            "Create a product",
            Security::Admin,
            &[201, 401, 403, 409, 422],
        )
        .body(new_product)
        .route(
            "patch",
            "/v1/products/{id}",
            "Update a product",
            Security::Admin,
            &[200, 401, 403, 404, 409, 422],
        )
        .path_schema("id", uuid.clone())
        .body(patch)
        .route(
            "delete",
            "/v1/products/{id}",
            "Deactivate a product",
            Security::Admin,
            &[204, 401, 403, 404],
        )
        .path_schema("id", uuid)
        .route(
            "post",
            "/v1/admin/seed",
            "Seed the demo catalog",
            Security::Admin,
            &[200, 401, 403],
        )
        .body(json!({"type": "object", "additionalProperties": false, "properties": {
            "products": {"type": "integer", "minimum": 1, "maximum": 100000, "description": "default 200"}}}))
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
