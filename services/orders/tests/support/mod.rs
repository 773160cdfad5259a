//! The test platform shared by orders' test files: real inventory and payments services (each
//! on its own fresh database, served on loopback), a catalog stub that serves prices, and
//! orders over its own database.
#![allow(dead_code)] // each test file uses its own part of it

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Path;
use axum::http::{Method, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use ecom_orders::{router, AppState, MIGRATOR};
use ecom_shared::settings::{CommonSettings, Secret};
use ecom_shared::testing::{call, TestAuth, TestDb, SERVICE_TOKEN};
use ecom_shared::{Kit, Problem};
use serde_json::{json, Value};

pub const CARD_OK: &str = "4242424242424242";
pub const CARD_DECLINED: &str = "4000000000000002";

pub struct Platform {
    pub orders_db: TestDb,
    pub inventory_db: TestDb,
    pub payments_db: TestDb,
    pub state: AppState,
    pub orders: Router,
    pub inventory: Router,
    pub payments: Router,
    pub auth: TestAuth,
    pub urls: (String, String, String),
}

pub fn catalog_stub(prices: HashMap<String, i64>) -> Router {
    let prices = Arc::new(prices);
    Router::new().route(
        "/v1/skus/{sku}",
        get(move |Path(sku): Path<String>| {
            let prices = prices.clone();
            async move {
                match prices.get(&sku) {
                    Some(p) => Ok(Json(json!({"sku": sku, "name": format!("Item {sku}"), "price_minor": p, "currency": "EUR"}))),
                    None => Err(Problem::not_found("no such sku")),
                }
            }
        }),
    )
}

pub async fn platform(stock: &[(&str, i32, i64)]) -> Platform {
    let inventory_db = TestDb::new().await.expect("PostgreSQL");
    ecom_inventory::MIGRATOR
        .run(&inventory_db.pool)
        .await
        .expect("migrate inventory");
    let inv_kit = Kit::from_pool(
        CommonSettings::for_tests("inventory", &inventory_db.url),
        inventory_db.pool.clone(),
    )
    .expect("kit");
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
    let auth = TestAuth::new();
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

    let orders_db = TestDb::new().await.expect("PostgreSQL");
    MIGRATOR.run(&orders_db.pool).await.expect("migrate orders");
    let mut settings = CommonSettings::for_tests("orders", &orders_db.url);
    auth.trust(&mut settings);
    let kit = Kit::from_pool(settings, orders_db.pool.clone()).expect("kit");
    let urls = (
        format!("http://{cat_addr}"),
        format!("http://{inv_addr}"),
        format!("http://{pay_addr}"),
    );
    let mut state = AppState::new(kit, &urls.0, &urls.1, &urls.2);
    state.webhook_secret = Some(Secret::new("whsec-test"));
    let orders = router(state.clone());
    let p = Platform {
        orders_db,
        inventory_db,
        payments_db,
        state,
        orders,
        inventory,
        payments,
        auth,
        urls,
    };
    for (sku, n, _) in stock {
        let (s, _, b) = call(
            &p.inventory,
            Method::PUT,
            &format!("/v1/stock/{sku}"),
            Some(SERVICE_TOKEN),
            Some(json!({"on_hand": n})),
            &[],
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    p
}

impl Platform {
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

    pub async fn count(db: &TestDb, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// A fresh orders process over the same database: same state, no fail point.
    pub fn restart(&self) -> AppState {
        let kit = Kit::from_pool(
            self.state.kit.settings.as_ref().clone(),
            self.orders_db.pool.clone(),
        )
        .expect("kit");
        AppState::new(kit, &self.urls.0, &self.urls.1, &self.urls.2)
    }

    pub async fn expire_leases(&self) {
        sqlx::query("UPDATE orders SET lease_until = now() - interval '1 second'")
            .execute(&self.orders_db.pool)
            .await
            .expect("expire leases");
    }
}
