//! Per-service identities (issue 13, point 4): payments' service routes take a calling
//! service's own token for payments, within its expiry and with the route's scope; capture and
//! refund are orders' alone. A user's token is not a service's, nor the other way round.

use axum::http::{Method, StatusCode};
use ecom_payments::{router, AppState, MIGRATOR};
use ecom_shared::identity::scopes;
use ecom_shared::testing::{call, TestApp, TestAuth};
use serde_json::{json, Value};

const CUSTOMER: &str = "cust-1";

ecom_shared::test_app_type!(App);

async fn app() -> App {
    App(
        TestApp::start("payments", &MIGRATOR, TestAuth::new(), |kit| {
            router(AppState::new(kit))
        })
        .await,
    )
}

impl App {
    async fn post(&self, path: &str, bearer: &str, body: Option<Value>, key: &str) -> StatusCode {
        let headers = [("idempotency-key", key)];
        call(
            &self.router,
            Method::POST,
            path,
            Some(bearer),
            body,
            &headers,
        )
        .await
        .0
    }

    /// An authorized payment of 1000, made with orders' token; its id.
    async fn authorized(&self, key: &str) -> String {
        let user = self.auth.token(CUSTOMER, &["customer"]);
        let (s, _, card) = call(
            &self.router,
            Method::POST,
            "/v1/tokens",
            Some(&user),
            Some(json!({"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"})),
            &[],
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{card}");
        let (s, _, p) = call(
            &self.router,
            Method::POST,
            "/v1/payments",
            Some(&self.auth.orders_token("payments")),
            Some(json!({"customer": CUSTOMER, "token": card["token"], "amount_minor": 1000, "currency": "EUR"})),
            &[("idempotency-key", key)],
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
        p["id"].as_str().unwrap_or_default().to_string()
    }
}

fn authorize_body() -> Value {
    json!({"customer": CUSTOMER, "token": "pm_x", "amount_minor": 100, "currency": "EUR"})
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let app = app().await;
    let id = app.authorized("a").await;
    // orders' own token, but for inventory: every scope orders has, none of them here.
    let for_inventory = app.auth.service_token(
        "orders",
        "inventory",
        &[
            scopes::PAYMENTS_AUTHORIZE,
            scopes::PAYMENTS_CAPTURE,
            scopes::PAYMENTS_REFUND,
        ],
    );
    for path in [
        format!("/v1/payments/{id}/capture"),
        format!("/v1/payments/{id}/refund"),
        format!("/v1/payments/{id}/void"),
    ] {
        assert_eq!(
            app.post(&path, &for_inventory, None, "k1").await,
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }
    assert_eq!(
        app.post("/v1/payments", &for_inventory, Some(authorize_body()), "k2")
            .await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn capture_and_refund_need_their_scopes_which_only_orders_has() {
    let app = app().await;
    let id = app.authorized("a").await;
    // The storefront (or any client other than orders) may at most authorize.
    let frontend = app
        .auth
        .service_token("frontend", "payments", &[scopes::PAYMENTS_AUTHORIZE]);
    let capture = format!("/v1/payments/{id}/capture");
    let refund = format!("/v1/payments/{id}/refund");
    assert_eq!(
        app.post(&capture, &frontend, None, "k").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post(&refund, &frontend, None, "k").await,
        StatusCode::FORBIDDEN
    );
    // A token with capture but not refund captures and cannot refund.
    let capture_only = app
        .auth
        .service_token("orders", "payments", &[scopes::PAYMENTS_CAPTURE]);
    assert_eq!(
        app.post(&capture, &capture_only, None, "k").await,
        StatusCode::OK
    );
    assert_eq!(
        app.post(&refund, &capture_only, None, "k").await,
        StatusCode::FORBIDDEN
    );
    // Reading needs its own scope too.
    let (s, _, _) = call(
        &app.router,
        Method::GET,
        &format!("/v1/payments/{id}"),
        Some(&frontend),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // orders' token refunds.
    assert_eq!(
        app.post(&refund, &app.auth.orders_token("payments"), None, "k")
            .await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_expired_service_token_is_refused() {
    let app = app().await;
    let id = app.authorized("a").await;
    let all = [
        scopes::PAYMENTS_AUTHORIZE,
        scopes::PAYMENTS_CAPTURE,
        scopes::PAYMENTS_REFUND,
    ];
    // Expired two minutes ago (beyond the 30 s allowed for clock skew).
    let expired =
        app.auth
            .service_token_until("orders", "payments", &all, ecom_shared::unix_now() - 120);
    assert_eq!(
        app.post(&format!("/v1/payments/{id}/capture"), &expired, None, "k")
            .await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.post("/v1/payments", &expired, Some(authorize_body()), "k2")
            .await,
        StatusCode::UNAUTHORIZED
    );
    // The same claims, not yet expired, capture.
    let fresh = app.auth.service_token("orders", "payments", &all);
    assert_eq!(
        app.post(&format!("/v1/payments/{id}/capture"), &fresh, None, "k")
            .await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_user_token_is_not_a_service_token_nor_the_other_way_round() {
    let app = app().await;
    let id = app.authorized("a").await;
    // Even an admin's access token cannot capture.
    let admin = app.auth.token("root", &["admin", "customer"]);
    assert_eq!(
        app.post(&format!("/v1/payments/{id}/capture"), &admin, None, "k")
            .await,
        StatusCode::FORBIDDEN
    );
    // A service token cannot make card tokens as a customer.
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        "/v1/tokens",
        Some(&app.auth.orders_token("payments")),
        Some(
            json!({"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}),
        ),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
