//! frontend: the server-rendered storefront. Browse, search, product, cart, sign-up/in/out,
//! checkout with the sandbox cards, order history. No JavaScript: every page works with
//! plain links and forms. It calls the other services server-side (see [`backend`]).

pub mod backend;
pub mod error;
pub mod images;
pub mod memo;
pub mod money;
pub mod routes;
pub mod security;
pub mod session;
pub mod views;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use ecom_shared::openapi::{ApiDoc, Security};
use ecom_shared::settings::{CommonSettings, Env, SettingsError};
use ecom_shared::{HasKit, Kit};
use serde_json::{json, Value};

use crate::backend::{Backend, Urls};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
pub const DEFAULT_PORT: u16 = 8080;

#[derive(Debug, Clone)]
pub struct Settings {
    pub common: CommonSettings,
    pub urls: Urls,
    /// Cookies carry `Secure` (and the `__Host-` prefix); HSTS is sent. Off only for plain
    /// HTTP on a machine of one's own (`FRONTEND_SECURE_COOKIES=false`).
    pub secure_cookies: bool,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        let url = |name: &str, example: &str| -> Result<String, SettingsError> {
            let u = env.required(name, example)?;
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(SettingsError::Invalid {
                    name: name.into(),
                    reason: format!("expected an http(s) URL, got {u:?}"),
                });
            }
            Ok(u)
        };
        Ok(Self {
            common: CommonSettings::from_env("frontend", DEFAULT_PORT, env)?,
            urls: Urls {
                login: url("LOGIN_URL", "e.g. http://login:8081")?,
                catalog: url("CATALOG_URL", "e.g. http://catalog:8082")?,
                inventory: url("INVENTORY_URL", "e.g. http://inventory:8083")?,
                orders: url("ORDERS_URL", "e.g. http://orders:8084")?,
                payments: url("PAYMENTS_URL", "e.g. http://payments:8085")?,
            },
            secure_cookies: env.bool_or("FRONTEND_SECURE_COOKIES", true)?,
        })
    }
}

#[derive(Clone)]
pub struct AppState {
    pub kit: Kit,
    pub backend: Backend,
    pub settings: Arc<Settings>,
    /// Tells the visitor's address from the proxies' (its buckets are not used).
    pub clients: Arc<ecom_shared::ratelimit::RateLimiter>,
}

impl HasKit for AppState {
    fn kit(&self) -> &Kit {
        &self.kit
    }
}

impl AppState {
    pub fn new(kit: Kit, settings: Settings) -> Self {
        Self {
            backend: Backend::new(kit.http.clone(), settings.urls.clone()),
            clients: kit.limiter("visitor address"),
            kit,
            settings: Arc::new(settings),
        }
    }
}

pub fn openapi() -> ApiDoc {
    // Every form carries the session's CSRF token (403 without the right one).
    let form = |required: &[&str], fields: &[(&str, Value)]| {
        let mut props = serde_json::Map::new();
        props.insert("csrf".into(), json!({"type": "string"}));
        for (name, schema) in fields {
            props.insert((*name).into(), schema.clone());
        }
        json!({"type": "object", "required": required, "properties": props})
    };
    let text = || json!({"type": "string"});
    let quantity = json!({"type": "integer", "minimum": i32::MIN, "maximum": i32::MAX});
    let mut doc = ApiDoc::new("frontend", env!("CARGO_PKG_VERSION"));
    for (method, path, summary, codes) in [
        (
            "get",
            "/",
            "Home: featured products and categories",
            &[200, 503][..],
        ),
        (
            "get",
            "/c/{slug}",
            "A category's products",
            &[200, 400, 404, 503],
        ),
        (
            "get",
            "/search",
            "Search with filters, sorting and pages",
            &[200, 400, 503],
        ),
        ("get", "/p/{slug}", "A product", &[200, 404, 503]),
        (
            "get",
            "/images/{file}",
            "A product's generated image",
            &[200, 404],
        ),
        ("get", "/cart", "The cart", &[200, 503]),
        ("get", "/signin", "Sign-in form", &[200]),
        ("get", "/signup", "Sign-up form", &[200]),
        (
            "get",
            "/checkout",
            "Checkout form (a visitor not signed in is sent to sign in)",
            &[200, 303, 503],
        ),
        (
            "get",
            "/orders",
            "Order history (a visitor not signed in is sent to sign in)",
            &[200, 303, 503],
        ),
        (
            "get",
            "/orders/{id}",
            "One order (with the 3-D Secure verification form while it awaits one)",
            &[200, 303, 404, 503],
        ),
        ("get", "/static/{file}", "Stylesheet and icon", &[200, 404]),
    ] {
        doc = doc
            .route(method, path, summary, Security::Public, codes)
            .page();
    }
    let forms: [(&str, &str, &[u16], Value); 7] = [
        (
            "/cart/items",
            "Add to the cart",
            &[303, 400, 403, 404, 422, 503],
            form(
                &["sku", "quantity"],
                &[("sku", text()), ("quantity", quantity.clone())],
            ),
        ),
        (
            "/cart/items/{sku}",
            "Set a quantity",
            &[303, 400, 403, 422, 503],
            form(&["quantity"], &[("quantity", quantity)]),
        ),
        (
            "/signin",
            "Sign in",
            &[303, 403, 422, 429, 503],
            form(
                &[],
                &[("email", text()), ("password", text()), ("next", text())],
            ),
        ),
        (
            "/signup",
            "Create an account",
            &[303, 403, 422, 429, 503],
            form(
                &[],
                &[("email", text()), ("password", text()), ("next", text())],
            ),
        ),
        ("/signout", "Sign out", &[303, 403], form(&[], &[])),
        (
            "/checkout",
            "Pay and place the order",
            &[303, 403, 422, 429, 503],
            form(
                &[],
                &[
                    ("key", text()),
                    ("number", text()),
                    ("exp_month", text()),
                    ("exp_year", text()),
                    ("cvc", text()),
                ],
            ),
        ),
        (
            "/orders/{id}/3ds",
            "Answer the order's 3-D Secure challenge",
            &[303, 400, 403, 404, 422, 503],
            form(&[], &[("challenge_id", text()), ("result", text())]),
        ),
    ];
    for (path, summary, codes, body) in forms {
        doc = doc
            .route("post", path, summary, Security::Public, codes)
            .page()
            .consumes("application/x-www-form-urlencoded")
            .body(body);
    }
    doc
}

pub fn router(state: AppState) -> Router {
    let doc = openapi();
    let kit = state.kit.clone();
    let limit = |route: &str| {
        axum::middleware::from_fn_with_state(kit.limiter(route), ecom_shared::ratelimit::enforce)
    };
    let pages = Router::new()
        .route("/", get(routes::catalog::home))
        .route("/c/{slug}", get(routes::catalog::category))
        .route("/search", get(routes::catalog::search))
        .route("/p/{slug}", get(routes::catalog::product))
        .route("/cart", get(routes::cart::show))
        .route("/cart/items", post(routes::cart::add))
        .route("/cart/items/{sku}", post(routes::cart::set))
        .route(
            "/signin",
            get(routes::account::signin_page)
                .post(routes::account::signin)
                .route_layer(limit("/signin")),
        )
        .route(
            "/signup",
            get(routes::account::signup_page)
                .post(routes::account::signup)
                .route_layer(limit("/signup")),
        )
        .route("/signout", post(routes::account::signout))
        .route(
            "/checkout",
            get(routes::checkout::show)
                .post(routes::checkout::pay)
                .route_layer(limit("/checkout")),
        )
        .route("/orders", get(routes::checkout::orders))
        .route("/orders/{id}", get(routes::checkout::order))
        .route("/orders/{id}/3ds", post(routes::checkout::verify))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::layer,
        ))
        .with_state(state.clone());
    let assets = Router::new()
        .route("/images/{file}", get(images::image))
        .route("/static/{file}", get(security::asset));
    let api = pages.merge(assets);
    // The kit's problem+json 404 is for APIs; people get a page.
    ecom_shared::app::finish(api, &kit, &doc)
        .fallback(security::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.settings.secure_cookies,
            security::headers,
        ))
}

pub use ecom_shared::RunError;

pub async fn run() -> Result<(), RunError> {
    ecom_shared::service::run(|env| async move {
        let settings = Settings::from_env(&env)?;
        let kit = Kit::start(settings.common.clone(), &MIGRATOR).await?;
        let sweeper = session::spawn_sweeper(kit.pool.clone());
        let state = AppState::new(kit.clone(), settings);
        Ok(ecom_shared::service::Service::new(router(state), kit).task(sweeper))
    })
    .await
}
