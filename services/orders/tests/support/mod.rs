//! The test platform shared by orders' test files: the services orders depends on ([`Deps`]:
//! real inventory and payments, each on its own fresh database, and a catalog stub that serves
//! prices, all served in-process on loopback) and, for in-process tests, orders itself over its
//! own database ([`Platform`], built by the same `AppState::from_settings` as `run()`).
#![allow(dead_code)] // each test file uses its own part of it

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use ecom_orders::{router, AppState, Settings, MIGRATOR};
use ecom_shared::settings::{ClientSettings, CommonSettings, Env, Secret};
use ecom_shared::testing::{call, TestAuth, TestDb};
use ecom_shared::{Kit, Problem};
use serde_json::{json, Value};

pub const CARD_OK: &str = "4242424242424242";
pub const CARD_DECLINED: &str = "4000000000000002";

/// orders' client secret, which the stand-in for login's token endpoint knows.
pub const ORDERS_SECRET: &str = "orders-test-client-secret";

/// The services orders calls, up on loopback for the whole test.
pub struct Deps {
    pub inventory_db: TestDb,
    pub payments_db: TestDb,
    pub inventory: Router,
    pub payments: Router,
    /// Mints the customers' tokens; payments and orders trust its key.
    pub auth: TestAuth,
    /// Base URLs: catalog (the stub), inventory, payments.
    pub urls: (String, String, String),
    /// Where orders gets its service tokens: a stand-in for login's `/v1/service-tokens`
    /// that signs with `auth`'s key (inventory and payments trust it).
    pub login_url: String,
    /// How many service tokens it has issued.
    pub tokens_issued: Arc<std::sync::atomic::AtomicUsize>,
}

/// orders in-process over its own database, with its dependencies (reached through `Deref`).
pub struct Platform {
    pub deps: Deps,
    pub orders_db: TestDb,
    /// The settings the state was made from: `restart()` makes a fresh state from them.
    pub settings: Settings,
    pub state: AppState,
    pub orders: Router,
}

impl std::ops::Deref for Platform {
    type Target = Deps;
    fn deref(&self) -> &Deps {
        &self.deps
    }
}

/// The catalog's public price route. orders must call it with no credential at all (issue 13,
/// point 4: no service token goes where none is needed): a request with one is refused, so
/// every checkout test checks it.
pub fn catalog_stub(prices: HashMap<String, i64>) -> Router {
    let prices = Arc::new(prices);
    Router::new().route(
        "/v1/skus/{sku}",
        get(move |Path(sku): Path<String>, headers: axum::http::HeaderMap| {
            let prices = prices.clone();
            async move {
                if headers.contains_key(axum::http::header::AUTHORIZATION) {
                    return Err(Problem::forbidden(
                        "a credential was sent to the catalog's public route",
                    ));
                }
                match prices.get(&sku) {
                    Some(p) => Ok(Json(json!({"sku": sku, "name": format!("Item {sku}"), "price_minor": p, "currency": "EUR"}))),
                    None => Err(Problem::not_found("no such sku")),
                }
            }
        }),
    )
}

/// Inventory with `stock` (SKU, on hand, price), payments and a catalog stub with the prices.
pub async fn dependencies(stock: &[(&str, i32, i64)]) -> Deps {
    let auth = TestAuth::new();
    let inventory_db = TestDb::new().await.expect("PostgreSQL");
    ecom_inventory::MIGRATOR
        .run(&inventory_db.pool)
        .await
        .expect("migrate inventory");
    let mut inv_settings = CommonSettings::for_tests("inventory", &inventory_db.url);
    auth.trust(&mut inv_settings);
    let inv_kit = Kit::from_pool(inv_settings, inventory_db.pool.clone()).expect("kit");
    let inventory = ecom_inventory::router(ecom_inventory::AppState {
        kit: inv_kit,
        reservation_ttl_seconds: 900,
    });
    let inv_addr = ecom_shared::testing::spawn(inventory.clone())
        .await
        .expect("spawn");

    let payments_db = TestDb::new().await.expect("PostgreSQL");
    ecom_payments::MIGRATOR
        .run(&payments_db.pool)
        .await
        .expect("migrate payments");
    let mut pay_settings = CommonSettings::for_tests("payments", &payments_db.url);
    auth.trust(&mut pay_settings);
    let pay_kit = Kit::from_pool(pay_settings, payments_db.pool.clone()).expect("kit");
    let payments = ecom_payments::router(ecom_payments::AppState::new(pay_kit));
    let pay_addr = ecom_shared::testing::spawn(payments.clone())
        .await
        .expect("spawn");

    let prices = stock.iter().map(|(s, _, p)| (s.to_string(), *p)).collect();
    let cat_addr: SocketAddr = ecom_shared::testing::spawn(catalog_stub(prices))
        .await
        .expect("spawn");
    let (endpoint, tokens_issued) = auth.token_endpoint("orders", ORDERS_SECRET, 300);
    let login_addr = ecom_shared::testing::spawn(endpoint).await.expect("spawn");
    let deps = Deps {
        login_url: format!("http://{login_addr}"),
        tokens_issued,
        inventory_db,
        payments_db,
        inventory,
        payments,
        auth,
        urls: (
            format!("http://{cat_addr}"),
            format!("http://{inv_addr}"),
            format!("http://{pay_addr}"),
        ),
    };
    for (sku, n, _) in stock {
        let (s, _, b) = call(
            &deps.inventory,
            Method::PUT,
            &format!("/v1/stock/{sku}"),
            Some(&deps.auth.orders_token("inventory")),
            Some(json!({"on_hand": n})),
            &[],
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    deps
}

/// The dependencies with `stock`, and orders in-process in front of them.
pub async fn platform(stock: &[(&str, i32, i64)]) -> Platform {
    let deps = dependencies(stock).await;
    let orders_db = TestDb::new().await.expect("PostgreSQL");
    MIGRATOR.run(&orders_db.pool).await.expect("migrate orders");
    let mut common = CommonSettings::for_tests("orders", &orders_db.url);
    deps.auth.trust(&mut common);
    common.client = Some(deps.orders_client());
    let settings = orders_settings(common, &deps.urls, &[]);
    let kit = Kit::from_pool(settings.common.clone(), orders_db.pool.clone()).expect("kit");
    let state = AppState::from_settings(kit, &settings);
    let orders = router(state.clone());
    Platform {
        deps,
        orders_db,
        settings,
        state,
        orders,
    }
}

/// orders' settings as `run()` reads them, with the services at `urls`, a webhook secret, and
/// any `extra` variables.
pub fn orders_settings(
    common: CommonSettings,
    urls: &(String, String, String),
    extra: &[(&str, &str)],
) -> Settings {
    let mut vars = vec![
        ("CATALOG_URL", urls.0.as_str()),
        ("INVENTORY_URL", urls.1.as_str()),
        ("PAYMENTS_URL", urls.2.as_str()),
        ("PAYMENTS_WEBHOOK_SECRET", "whsec-test"),
    ];
    vars.extend_from_slice(extra);
    Settings::read(common, &Env::from_pairs(vars)).expect("orders settings")
}

pub async fn count(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

impl Deps {
    /// orders' client settings: its secret, and the token endpoint.
    pub fn orders_client(&self) -> ClientSettings {
        ClientSettings {
            id: "orders".into(),
            secret: Secret::new(ORDERS_SECRET),
            login_url: self.login_url.clone(),
        }
    }

    /// A payment token for the tests' usual customer, `u`.
    pub async fn token(&self, card: &str) -> String {
        self.token_for("u", card).await
    }

    /// A payment token made by `user`: it pays for their checkouts only.
    pub async fn token_for(&self, user: &str, card: &str) -> String {
        let jwt = self.auth.token(user, &["customer"]);
        let (s, _, b) = call(
            &self.payments,
            Method::POST,
            "/v1/tokens",
            Some(&jwt),
            Some(json!({"number": card, "exp_month": 12, "exp_year": 2040, "cvc": "123"})),
            &[],
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        b["token"].as_str().unwrap_or_default().to_string()
    }

    pub async fn stock(&self, sku: &str) -> (i32, i32) {
        let (_, _, b) = call(
            &self.inventory,
            Method::GET,
            &format!("/v1/stock/{sku}"),
            None,
            None,
            &[],
        )
        .await;
        (
            b["on_hand"].as_i64().unwrap_or(-1) as i32,
            b["reserved"].as_i64().unwrap_or(-1) as i32,
        )
    }
}

impl Platform {
    pub async fn checkout(
        &self,
        router: &Router,
        user: &str,
        key: &str,
        token: &str,
        items: Value,
    ) -> (StatusCode, Value) {
        let jwt = self.auth.token(user, &["customer"]);
        let (s, _, b) = call(
            router,
            Method::POST,
            "/v1/checkout",
            Some(&jwt),
            Some(json!({"payment_token": token, "items": items})),
            &[("idempotency-key", key)],
        )
        .await;
        (s, b)
    }

    pub async fn count(db: &TestDb, sql: &str) -> i64 {
        count(db, sql).await
    }

    /// A fresh orders process over the same database: same settings, no fail point.
    pub fn restart(&self) -> AppState {
        let kit =
            Kit::from_pool(self.settings.common.clone(), self.orders_db.pool.clone()).expect("kit");
        AppState::from_settings(kit, &self.settings)
    }

    pub async fn expire_leases(&self) {
        sqlx::query("UPDATE orders SET lease_until = now() - interval '1 second'")
            .execute(&self.orders_db.pool)
            .await
            .expect("expire leases");
    }
}
