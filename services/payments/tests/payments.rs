use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::post;
use axum::Router;
use ecom_payments::{openapi, router, store, AppState, MIGRATOR};
use ecom_shared::testing::{
    assert_documented_routes_exist, call, orders_token, tables_containing, TestApp, TestAuth,
};
use serde_json::{json, Value};

#[path = "payments/refunds.rs"]
mod refunds;
#[path = "payments/sale_and_batch.rs"]
mod sale_and_batch;
#[path = "payments/webhooks.rs"]
mod webhooks;

/// The customer the tests' tokens are made by and their payments made for.
const CUSTOMER: &str = "cust-1";

type App = TestApp;

async fn app() -> App {
    TestApp::start("payments", &MIGRATOR, TestAuth::shared(), |kit| {
        router(AppState::new(kit))
    })
    .await
}

async fn tokenize(app: &App, number: &str) -> Value {
    tokenize_as(app, CUSTOMER, number).await
}

async fn tokenize_as(app: &App, customer: &str, number: &str) -> Value {
    let user = app.auth.token(customer, &["customer"]);
    let (s, _, b) = call(
        &app.router,
        Method::POST,
        "/v1/tokens",
        Some(&user),
        Some(json!({"number": number, "exp_month": 12, "exp_year": 2040, "cvc": "123"})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    b
}

async fn authorize(app: &App, key: &str, token: &str, amount: i64) -> (StatusCode, Value) {
    let (s, _, b) = call(
        &app.router,
        Method::POST,
        "/v1/payments",
        Some(&orders_token("payments")),
        Some(
            json!({"customer": CUSTOMER, "token": token, "amount_minor": amount, "currency": "EUR", "order_ref": "o-1"}),
        ),
        &[("idempotency-key", key)],
    )
    .await;
    (s, b)
}

/// Captures payment `id`; the answer's status.
async fn capture(app: &App, id: &str) -> StatusCode {
    let path = format!("/v1/payments/{id}/capture");
    call(
        &app.router,
        Method::POST,
        &path,
        Some(&orders_token("payments")),
        None,
        &[],
    )
    .await
    .0
}

/// Refunds payment `id`: what is left of it (`amount: None`), or part of it under `key`.
async fn refund_payment(
    router: Router,
    id: String,
    amount: Option<i64>,
    key: Option<&'static str>,
) -> (StatusCode, HeaderMap, Value) {
    let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
    let body = amount.map(|a| json!({ "amount_minor": a }));
    let path = format!("/v1/payments/{id}/refund");
    call(
        &router,
        Method::POST,
        &path,
        Some(&orders_token("payments")),
        body,
        &headers,
    )
    .await
}

#[tokio::test]
async fn openapi_is_served_and_every_route_is_mounted() {
    let app = app().await;
    let (s, _, doc) = call(&app.router, Method::GET, "/openapi.json", None, None, &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["paths"]["/v1/payments/{id}/refund"]["post"].is_object());
    assert_documented_routes_exist(&app.router, &openapi()).await;
    let (s, _, cards) = call(&app.router, Method::GET, "/v1/test-cards", None, None, &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(cards["test_cards"].as_array().map(Vec::len), Some(5));
}

#[tokio::test]
async fn a_token_pays_for_its_owner_only() {
    let app = app().await;
    let card =
        json!({"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"});
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        "/v1/tokens",
        None,
        Some(card),
        &[],
    )
    .await;
    assert_eq!(
        s,
        StatusCode::UNAUTHORIZED,
        "tokens are made by a signed-in customer"
    );
    let mallory = tokenize_as(&app, "mallory", "4242424242424242").await;
    let own = tokenize(&app, "4242424242424242").await;
    let pay = |token: &Value, key: &'static str| {
        let body = json!({"customer": CUSTOMER, "token": token["token"], "amount_minor": 500, "currency": "EUR"});
        let router = app.router.clone();
        async move {
            call(
                &router,
                Method::POST,
                "/v1/payments",
                Some(&orders_token("payments")),
                Some(body),
                &[("idempotency-key", key)],
            )
            .await
        }
    };
    // Someone else's token is refused exactly as an unknown one, and nothing is written.
    let (s, _, foreign) = pay(&mallory, "k-foreign").await;
    let (_, _, unknown) = pay(&json!({"token": "pm_nothing"}), "k-unknown").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{foreign}");
    assert_eq!(foreign, unknown);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM payments")
        .fetch_one(&app.db.pool)
        .await
        .expect("count");
    assert_eq!(n, 0);
    let (s, _, b) = pay(&own, "k-own").await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    // The batch route keeps the same rule, item by item.
    let batch = json!({"payments": [
        {"idempotency_key": "b-1", "request": {"customer": CUSTOMER, "token": mallory["token"], "amount_minor": 5, "currency": "EUR"}},
        {"idempotency_key": "b-2", "request": {"customer": CUSTOMER, "token": own["token"], "amount_minor": 5, "currency": "EUR"}}]});
    let (s, _, b) = call(
        &app.router,
        Method::POST,
        "/v1/batch/payments",
        Some(&orders_token("payments")),
        Some(batch),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["results"][0]["status"], 422, "{b}");
    assert_eq!(b["results"][1]["status"], 201, "{b}");
}

#[tokio::test]
async fn tokenizing_keeps_brand_and_last4_only() {
    let app = app().await;
    let t = tokenize(&app, "4242 4242 4242 4242").await;
    assert_eq!(t["brand"], "visa");
    assert_eq!(t["last4"], "4242");
    assert!(t["token"].as_str().unwrap_or("").starts_with("pm_"));
    assert!(!t.to_string().contains("4242424242424242"));
    let user = app.auth.token(CUSTOMER, &["customer"]);
    let (s, _, b) = call(
        &app.router,
        Method::POST,
        "/v1/tokens",
        Some(&user),
        Some(
            json!({"number": "4242424242424241", "exp_month": 12, "exp_year": 2040, "cvc": "123"}),
        ),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["code"], "invalid-card");
    assert!(
        !b.to_string().contains("4242424242424241"),
        "errors never echo the number"
    );
    let (s, _, _) = call(&app.router, Method::POST, "/v1/tokens", Some(&user),
        Some(json!({"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123", "x": 1})), &[]).await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown fields are refused"
    );
}

#[tokio::test]
async fn authorize_needs_service_token_and_key() {
    let app = app().await;
    let t = tokenize(&app, "4242424242424242").await;
    let body =
        json!({"customer": CUSTOMER, "token": t["token"], "amount_minor": 100, "currency": "EUR"});
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        "/v1/payments",
        None,
        Some(body.clone()),
        &[("idempotency-key", "k")],
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        "/v1/payments",
        Some("nope"),
        Some(body.clone()),
        &[("idempotency-key", "k")],
    )
    .await;
    // Not a token at all: 401 (a valid token of the wrong kind or scope is 403).
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, b) = call(
        &app.router,
        Method::POST,
        "/v1/payments",
        Some(&orders_token("payments")),
        Some(body.clone()),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        "/v1/payments",
        Some(&orders_token("payments")),
        Some(json!({"customer": CUSTOMER, "token": t["token"], "amount_minor": 0, "currency": "EUR"})),
        &[("idempotency-key", "k")],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        "/v1/payments",
        Some(&orders_token("payments")),
        Some(json!({"customer": CUSTOMER, "token": t["token"], "amount_minor": 5, "currency": "eur"})),
        &[("idempotency-key", "k")],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        "/v1/payments",
        Some(&orders_token("payments")),
        Some(json!({"customer": CUSTOMER, "token": "pm_missing", "amount_minor": 5, "currency": "EUR"})),
        &[("idempotency-key", "k")],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn test_cards_behave_as_documented() {
    let app = app().await;
    for (card, status, code) in [
        ("4242424242424242", "authorized", Value::Null),
        ("5555555555554444", "authorized", Value::Null),
        ("4000000000000002", "declined", json!("card_declined")),
        ("4000000000009995", "declined", json!("insufficient_funds")),
        (
            "4000000000003220",
            "requires_action",
            json!("authentication_required"),
        ),
    ] {
        let t = tokenize(&app, card).await;
        let (s, p) = authorize(&app, &card[8..], t["token"].as_str().unwrap_or(""), 500).await;
        assert_eq!(s, StatusCode::CREATED);
        assert_eq!(p["status"], status, "{card}");
        assert_eq!(p["decline_code"], code, "{card}");
    }
}

#[tokio::test]
async fn capture_void_refund_transitions() {
    let app = app().await;
    let t = tokenize(&app, "4242424242424242").await;
    let tok = t["token"].as_str().unwrap_or("").to_string();
    let (_, p) = authorize(&app, "a", &tok, 1000).await;
    let id = p["id"].as_str().unwrap_or("").to_string();
    let post = |path: String| {
        let r = app.router.clone();
        async move {
            call(
                &r,
                Method::POST,
                &path,
                Some(&orders_token("payments")),
                None,
                &[],
            )
            .await
        }
    };
    let (s, _, b) = post(format!("/v1/payments/{id}/refund")).await;
    assert_eq!(
        (s, b["code"].clone()),
        (StatusCode::CONFLICT, json!("wrong-state"))
    );
    let (s, _, b) = post(format!("/v1/payments/{id}/capture")).await;
    assert_eq!(
        (s, b["status"].clone()),
        (StatusCode::OK, json!("captured"))
    );
    let (s, _, _) = post(format!("/v1/payments/{id}/capture")).await;
    assert_eq!(s, StatusCode::OK, "capture is idempotent");
    let (s, _, _) = post(format!("/v1/payments/{id}/void")).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _, b) = post(format!("/v1/payments/{id}/refund")).await;
    assert_eq!(
        (s, b["status"].clone()),
        (StatusCode::OK, json!("refunded"))
    );
    let (_, p2) = authorize(&app, "b", &tok, 1000).await;
    let id2 = p2["id"].as_str().unwrap_or("").to_string();
    let (s, _, b) = post(format!("/v1/payments/{id2}/void")).await;
    assert_eq!((s, b["status"].clone()), (StatusCode::OK, json!("voided")));
    let (s, _, b) = call(
        &app.router,
        Method::GET,
        &format!("/v1/payments/{id2}"),
        Some(&orders_token("payments")),
        None,
        &[],
    )
    .await;
    assert_eq!((s, b["status"].clone()), (StatusCode::OK, json!("voided")));
    let (s, _, _) = post(format!("/v1/payments/{}/capture", uuid::Uuid::new_v4())).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM payment_events")
        .fetch_one(&app.db.pool)
        .await
        .expect("count");
    assert_eq!(
        events, 5,
        "authorized, captured, refunded, authorized, voided"
    );
}

#[tokio::test]
async fn same_key_fifty_times_concurrently_is_one_charge() {
    let app = app().await;
    let t = tokenize(&app, "4242424242424242").await;
    let tok = t["token"].as_str().unwrap_or("").to_string();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let router = app.router.clone();
        let tok = tok.clone();
        set.spawn(async move {
            call(&router, Method::POST, "/v1/payments", Some(&orders_token("payments")),
                Some(json!({"customer": CUSTOMER, "token": tok, "amount_minor": 700, "currency": "EUR", "order_ref": "o-1"})),
                &[("idempotency-key", "same-key")]).await
        });
    }
    let mut bodies = Vec::new();
    let mut created = 0;
    while let Some(r) = set.join_next().await {
        let (s, _, b) = r.expect("task");
        assert!(s == StatusCode::CREATED || s == StatusCode::OK, "{s} {b}");
        created += usize::from(s == StatusCode::CREATED);
        bodies.push(b);
    }
    assert_eq!(created, 1);
    assert!(bodies.iter().all(|b| *b == bodies[0]), "identical bodies");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM payments")
        .fetch_one(&app.db.pool)
        .await
        .expect("count");
    assert_eq!(n, 1);
    // The same key with a different request is refused.
    let (s, b) = authorize(&app, "same-key", &tok, 701).await;
    assert_eq!(
        (s, b["code"].clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("idempotency-key-reused")
        )
    );
}

#[tokio::test]
async fn no_column_holds_the_card_number() {
    let app = app().await;
    for card in ["4242424242424242", "4000000000000002"] {
        let t = tokenize(&app, card).await;
        let key = format!("key-{}", &card[12..]);
        let (_, p) = authorize(&app, &key, t["token"].as_str().unwrap_or(""), 100).await;
        let id = p["id"].as_str().unwrap_or("").to_string();
        capture(&app, &id).await;
        assert!(tables_containing(&app.db.pool, card).await.is_empty());
        assert!(
            tables_containing(&app.db.pool, &card[..12])
                .await
                .is_empty(),
            "not even the first twelve digits"
        );
    }
    // The scan does find what is there: the last four digits.
    assert!(tables_containing(&app.db.pool, "4242")
        .await
        .contains(&"public.payment_methods".to_string()));
}

#[tokio::test]
async fn a_card_number_of_the_wrong_type_is_never_echoed() {
    let app = app().await;
    let user = app.auth.token(CUSTOMER, &["customer"]);
    let (s, h, b) = call(
        &app.router,
        Method::POST,
        "/v1/tokens",
        Some(&user),
        Some(
            json!({"number": 4242424242424242u64, "exp_month": 12, "exp_year": 2040, "cvc": "123"}),
        ),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(h["content-type"], "application/problem+json");
    assert!(!b.to_string().contains("4242424242424242"), "{b}");
    // Token answers are never cached.
    let (s, h, _) = call(
        &app.router,
        Method::POST,
        "/v1/tokens",
        Some(&user),
        Some(
            json!({"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}),
        ),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-content-type-options"], "nosniff");
}
