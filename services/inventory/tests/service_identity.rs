//! Per-service identities (issue 13, point 4): stock is written by orders' token for
//! inventory (scope inventory:write) or by an admin, and by nobody else: not another client,
//! not a token for another audience, not an expired token.

use axum::http::Method;
use ecom_inventory::{router, AppState, MIGRATOR};
use ecom_shared::identity::scopes;
use ecom_shared::testing::{call, TestApp, TestAuth};
use serde_json::{json, Value};
use uuid::Uuid;

ecom_shared::test_app_type!(App);

async fn app() -> App {
    App(
        TestApp::start("inventory", &MIGRATOR, TestAuth::new(), |kit| {
            router(AppState {
                kit,
                reservation_ttl_seconds: 900,
            })
        })
        .await,
    )
}

impl App {
    async fn send(&self, method: Method, path: &str, bearer: &str, body: Option<Value>) -> u16 {
        call(&self.router, method, path, Some(bearer), body, &[])
            .await
            .0
            .as_u16()
    }

    /// Every write, each with `bearer`: their statuses.
    async fn writes(&self, bearer: &str) -> Vec<u16> {
        let id = Uuid::new_v4();
        let lines = json!([{"sku": "SKU-1", "quantity": 1}]);
        vec![
            self.send(
                Method::PUT,
                "/v1/stock/SKU-1",
                bearer,
                Some(json!({"on_hand": 5})),
            )
            .await,
            self.send(
                Method::POST,
                "/v1/reservations",
                bearer,
                Some(json!({"id": id, "lines": lines})),
            )
            .await,
            self.send(
                Method::POST,
                "/v1/batch/reservations",
                bearer,
                Some(json!({"reservations": [{"id": Uuid::new_v4(), "lines": lines}]})),
            )
            .await,
            self.send(
                Method::POST,
                &format!("/v1/reservations/{id}/commit"),
                bearer,
                None,
            )
            .await,
            self.send(
                Method::POST,
                &format!("/v1/reservations/{id}/release"),
                bearer,
                None,
            )
            .await,
            self.send(
                Method::POST,
                "/v1/batch/reservations/commit",
                bearer,
                Some(json!({"ids": [id]})),
            )
            .await,
        ]
    }
}

#[tokio::test]
async fn only_orders_and_admins_write_stock() {
    let app = app().await;
    // Another client, even one allowed to read reservations, writes nothing.
    let reader = app
        .auth
        .service_token("frontend", "inventory", &[scopes::INVENTORY_READ]);
    assert_eq!(app.writes(&reader).await, [403; 6]);
    // A customer writes nothing either.
    assert_eq!(
        app.send(
            Method::PUT,
            "/v1/stock/SKU-1",
            &app.auth.token("u1", &["customer"]),
            Some(json!({"on_hand": 5}))
        )
        .await,
        403
    );
    // An admin sets stock; orders' token does every write.
    assert_eq!(
        app.send(
            Method::PUT,
            "/v1/stock/SKU-1",
            &app.auth.token("root", &["admin"]),
            Some(json!({"on_hand": 5}))
        )
        .await,
        200
    );
    let orders = app.auth.orders_token("inventory");
    let got = app.writes(&orders).await;
    // stock set, reserved, batch reserved, committed, then release of a committed one (409)
    // and a batch commit answered item by item (200).
    assert_eq!(got, [200, 201, 200, 200, 409, 200], "{got:?}");
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let app = app().await;
    // orders' token with its inventory scope, but minted for payments.
    let for_payments = app
        .auth
        .service_token("orders", "payments", &[scopes::INVENTORY_WRITE]);
    assert_eq!(app.writes(&for_payments).await, [401; 6]);
}

#[tokio::test]
async fn an_expired_service_token_is_refused() {
    let app = app().await;
    let expired = app.auth.service_token_until(
        "orders",
        "inventory",
        &[scopes::INVENTORY_WRITE],
        ecom_shared::unix_now() - 120,
    );
    assert_eq!(app.writes(&expired).await, [401; 6]);
}

#[tokio::test]
async fn a_user_token_is_not_a_service_token() {
    let app = app().await;
    // An admin sets stock as an admin, but holds no service identity for reservations.
    let admin = app.auth.token("root", &["admin"]);
    let got = app.writes(&admin).await;
    assert_eq!(got, [200, 403, 403, 403, 403, 403], "{got:?}");
}
