//! The checkout saga against real inventory and payments services (each on its own fresh
//! database, served on loopback) and a catalog stub that serves prices (`support`).

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use ecom_orders::{calls, openapi, router, saga, AppState};
use ecom_shared::settings::{CommonSettings, Secret};
use ecom_shared::testing::{
    assert_documented_routes_exist, call, tables_containing, TestDb, SERVICE_TOKEN,
};
use ecom_shared::{Kit, Problem};
use serde_json::{json, Value};
use support::{platform, Platform, CARD_DECLINED, CARD_OK};

#[tokio::test]
async fn two_hundred_concurrent_checkouts_of_ten_in_stock() {
    let p = Arc::new(platform(&[("HOT", 10, 2500)]).await);
    // Each buyer pays with a token of their own, made before the rush.
    let mut tokens = Vec::with_capacity(200);
    for i in 0..200 {
        tokens.push(p.token_for(&format!("user-{i}"), CARD_OK).await);
    }
    let mut set = tokio::task::JoinSet::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let p = p.clone();
        set.spawn(async move {
            p.checkout(
                &p.orders,
                &format!("user-{i}"),
                &format!("key-{i}"),
                &token,
                json!([{"sku": "HOT", "quantity": 1}]),
            )
            .await
        });
    }
    let (mut confirmed, mut out_of_stock) = (0, 0);
    while let Some(r) = set.join_next().await {
        let (s, b) = r.expect("task");
        match s {
            StatusCode::CREATED => {
                assert_eq!(b["status"], "confirmed");
                assert_eq!(b["payment"]["status"], "captured");
                assert_eq!(b["total_minor"], 2500);
                confirmed += 1;
            }
            StatusCode::CONFLICT => {
                assert_eq!(b["code"], "out-of-stock", "{b}");
                out_of_stock += 1;
            }
            other => panic!("unexpected {other}: {b}"),
        }
    }
    assert_eq!((confirmed, out_of_stock), (10, 190));
    assert_eq!(
        p.stock("HOT").await,
        (0, 0),
        "all stock sold, nothing left reserved"
    );
    assert_eq!(
        Platform::count(
            &p.orders_db,
            "SELECT count(*) FROM orders WHERE status = 'confirmed'"
        )
        .await,
        10
    );
    assert_eq!(
        Platform::count(
            &p.orders_db,
            "SELECT count(*) FROM orders WHERE status = 'failed'"
        )
        .await,
        190
    );
    assert_eq!(
        Platform::count(&p.payments_db, "SELECT count(*) FROM payments").await,
        10,
        "no authorization for a failed order"
    );
    assert_eq!(
        Platform::count(
            &p.payments_db,
            "SELECT count(*) FROM payments WHERE status = 'captured'"
        )
        .await,
        10
    );
    // Every captured payment belongs to a confirmed order.
    let refs: Vec<String> =
        sqlx::query_scalar("SELECT order_ref FROM payments WHERE status = 'captured'")
            .fetch_all(&p.payments_db.pool)
            .await
            .expect("refs");
    for r in refs {
        let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = $1::uuid")
            .bind(&r)
            .fetch_one(&p.orders_db.pool)
            .await
            .expect("order");
        assert_eq!(status, "confirmed");
    }
}

#[tokio::test]
async fn same_idempotency_key_fifty_times_is_one_order_one_charge() {
    let p = Arc::new(platform(&[("A", 5, 1000)]).await);
    let token = p.token_for("alice", CARD_OK).await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let p = p.clone();
        let token = token.clone();
        set.spawn(async move {
            p.checkout(
                &p.orders,
                "alice",
                "same-key",
                &token,
                json!([{"sku": "A", "quantity": 2}]),
            )
            .await
        });
    }
    let mut answers = Vec::new();
    while let Some(r) = set.join_next().await {
        answers.push(r.expect("task"));
    }
    assert_eq!(answers[0].0, StatusCode::CREATED, "{}", answers[0].1);
    assert!(
        answers.iter().all(|a| *a == answers[0]),
        "all 50 answers are identical"
    );
    assert_eq!(
        Platform::count(&p.orders_db, "SELECT count(*) FROM orders").await,
        1
    );
    assert_eq!(
        Platform::count(&p.payments_db, "SELECT count(*) FROM payments").await,
        1
    );
    assert_eq!(
        Platform::count(
            &p.payments_db,
            "SELECT count(*) FROM payment_events WHERE kind = 'captured'"
        )
        .await,
        1
    );
    assert_eq!(p.stock("A").await, (3, 0));
    // The same key for a different request is refused, not replayed.
    let (s, b) = p
        .checkout(
            &p.orders,
            "alice",
            "same-key",
            &token,
            json!([{"sku": "A", "quantity": 1}]),
        )
        .await;
    assert_eq!(
        (s, b["code"].clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("idempotency-key-reused")
        )
    );
    // Keys are per user: bob's "same-key" is a new order.
    let bobs = p.token_for("bob", CARD_OK).await;
    let (s, _) = p
        .checkout(
            &p.orders,
            "bob",
            "same-key",
            &bobs,
            json!([{"sku": "A", "quantity": 1}]),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
}

#[tokio::test]
async fn declined_card_compensates() {
    let p = platform(&[("A", 3, 1000)]).await;
    let token = p.token(CARD_DECLINED).await;
    let (s, b) = p
        .checkout(
            &p.orders,
            "u",
            "k1",
            &token,
            json!([{"sku": "A", "quantity": 2}]),
        )
        .await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED, "{b}");
    assert_eq!(b["code"], "payment-declined");
    assert_eq!(p.stock("A").await, (3, 0), "reservation released");
    assert_eq!(
        Platform::count(
            &p.payments_db,
            "SELECT count(*) FROM payments WHERE status = 'declined'"
        )
        .await,
        1
    );
    assert_eq!(
        Platform::count(
            &p.payments_db,
            "SELECT count(*) FROM payments WHERE status = 'captured'"
        )
        .await,
        0
    );
    let status: String = sqlx::query_scalar("SELECT status FROM orders")
        .fetch_one(&p.orders_db.pool)
        .await
        .expect("order");
    assert_eq!(status, "failed");
}

#[tokio::test]
async fn crash_after_reserve_is_resumed_to_confirmed() {
    let p = platform(&[("A", 4, 1000)]).await;
    let token = p.token(CARD_OK).await;
    let mut crashing = p.state.clone();
    crashing.faults.fail_after = Some("reserved".into());
    let (s, _) = p
        .checkout(
            &router(crashing),
            "u",
            "k",
            &token,
            json!([{"sku": "A", "quantity": 1}]),
        )
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(p.stock("A").await, (4, 1), "held by the dead saga");
    // Until its lease runs out, nobody else touches it.
    let fresh = p.restart();
    assert_eq!(saga::recover(&fresh).await.expect("recover"), 0);
    p.expire_leases().await;
    assert_eq!(saga::recover(&fresh).await.expect("recover"), 1);
    assert_eq!(p.stock("A").await, (3, 0));
    assert_eq!(
        Platform::count(
            &p.payments_db,
            "SELECT count(*) FROM payments WHERE status = 'captured'"
        )
        .await,
        1
    );
    // The client's retry with the same key gets the confirmed order.
    let (s, b) = p
        .checkout(
            &router(fresh),
            "u",
            "k",
            &token,
            json!([{"sku": "A", "quantity": 1}]),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["status"], "confirmed");
}

#[tokio::test]
async fn crash_after_authorize_is_resumed_to_confirmed() {
    let p = platform(&[("A", 4, 1000)]).await;
    let token = p.token(CARD_OK).await;
    let mut crashing = p.state.clone();
    crashing.faults.fail_after = Some("authorized".into());
    let (s, _) = p
        .checkout(
            &router(crashing),
            "u",
            "k",
            &token,
            json!([{"sku": "A", "quantity": 2}]),
        )
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    // Paid by a sale (authorize and capture in one call) before the crash.
    assert_eq!(
        Platform::count(
            &p.payments_db,
            "SELECT count(*) FROM payments WHERE status = 'captured'"
        )
        .await,
        1
    );
    p.expire_leases().await;
    assert_eq!(saga::recover(&p.restart()).await.expect("recover"), 1);
    assert_eq!(p.stock("A").await, (2, 0));
    assert_eq!(
        Platform::count(
            &p.payments_db,
            "SELECT count(*) FROM payments WHERE status = 'captured'"
        )
        .await,
        1
    );
    assert_eq!(
        Platform::count(&p.payments_db, "SELECT count(*) FROM payments").await,
        1,
        "no second charge"
    );
}

#[tokio::test]
async fn crash_then_expired_reservation_is_compensated() {
    let p = platform(&[("A", 4, 1000)]).await;
    let token = p.token(CARD_OK).await;
    let mut crashing = p.state.clone();
    crashing.faults.fail_after = Some("authorized".into());
    let (s, _) = p
        .checkout(
            &router(crashing),
            "u",
            "k",
            &token,
            json!([{"sku": "A", "quantity": 1}]),
        )
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    // While the orders process is down, inventory's expiry releases the reservation.
    sqlx::query("UPDATE reservations SET expires_at = now() - interval '1 second'")
        .execute(&p.inventory_db.pool)
        .await
        .expect("age");
    assert_eq!(
        ecom_inventory::store::release_expired(&p.inventory_db.pool)
            .await
            .expect("sweep"),
        1
    );
    p.expire_leases().await;
    assert_eq!(saga::recover(&p.restart()).await.expect("recover"), 1);
    // Stock and payments agree: nothing sold, and the sale made before the crash refunded.
    assert_eq!(p.stock("A").await, (4, 0));
    assert_eq!(
        Platform::count(
            &p.payments_db,
            "SELECT count(*) FROM payments WHERE status = 'refunded'"
        )
        .await,
        1
    );
    assert_eq!(
        Platform::count(
            &p.payments_db,
            "SELECT count(*) FROM payment_events WHERE kind = 'captured'"
        )
        .await,
        Platform::count(
            &p.payments_db,
            "SELECT count(*) FROM payment_events WHERE kind = 'refunded'"
        )
        .await,
        "every capture refunded"
    );
    let (code, status): (String, String) =
        sqlx::query_as("SELECT failure_code, status FROM orders")
            .fetch_one(&p.orders_db.pool)
            .await
            .expect("order");
    assert_eq!(
        (code.as_str(), status.as_str()),
        ("reservation-expired", "failed")
    );
}

#[tokio::test]
async fn crash_before_payment_answer_is_refunded_on_compensation() {
    // The payment call went through but the process died before recording the payment id:
    // compensation finds the payment by its idempotency key and gives the money back.
    let p = platform(&[("A", 4, 1000)]).await;
    let token = p.token(CARD_OK).await;
    let mut crashing = p.state.clone();
    crashing.faults.fail_after = Some("authorized".into());
    p.checkout(
        &router(crashing),
        "u",
        "k",
        &token,
        json!([{"sku": "A", "quantity": 1}]),
    )
    .await;
    // As a later failure leaves it: compensating, a payment attempted, its id never recorded.
    sqlx::query("UPDATE orders SET status = 'compensating', payment_id = NULL, authorize_attempted = true, failure_code = 'test', response_status = 503, response_body = '{}'")
        .execute(&p.orders_db.pool).await.expect("rewind");
    p.expire_leases().await;
    assert_eq!(saga::recover(&p.restart()).await.expect("recover"), 1);
    assert_eq!(p.stock("A").await, (4, 0));
    assert_eq!(
        Platform::count(
            &p.payments_db,
            "SELECT count(*) FROM payments WHERE status = 'refunded'"
        )
        .await,
        1
    );
    assert_eq!(
        Platform::count(&p.payments_db, "SELECT count(*) FROM payments").await,
        1
    );
}

#[tokio::test]
async fn no_column_of_any_table_contains_the_card_number() {
    let p = platform(&[("A", 4, 1000)]).await;
    for (i, card) in [CARD_OK, CARD_DECLINED].iter().enumerate() {
        let token = p.token(card).await;
        p.checkout(
            &p.orders,
            "u",
            &format!("k{i}"),
            &token,
            json!([{"sku": "A", "quantity": 1}]),
        )
        .await;
    }
    for db in [&p.orders_db, &p.inventory_db, &p.payments_db] {
        for card in [CARD_OK, CARD_DECLINED] {
            let hits = tables_containing(&db.pool, card).await;
            assert!(hits.is_empty(), "card number found in {hits:?}");
        }
    }
}

#[tokio::test]
async fn checkout_validates_and_requires_auth() {
    let p = platform(&[("A", 4, 1000)]).await;
    let token = p.token(CARD_OK).await;
    let body = json!({"payment_token": token, "items": [{"sku": "A", "quantity": 1}]});
    let (s, _, _) = call(
        &p.orders,
        Method::POST,
        "/v1/checkout",
        None,
        Some(body.clone()),
        &[("idempotency-key", "k")],
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let jwt = p.auth.token("u", &[]);
    let (s, _, b) = call(
        &p.orders,
        Method::POST,
        "/v1/checkout",
        Some(&jwt),
        Some(body.clone()),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "missing key: {b}");
    let (s, b) = p
        .checkout(
            &p.orders,
            "u",
            "k1",
            &token,
            json!([{"sku": "NOPE", "quantity": 1}]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, _) = p
        .checkout(
            &p.orders,
            "u",
            "k2",
            &token,
            json!([{"sku": "A", "quantity": 0}]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = p
        .checkout(
            &p.orders,
            "u",
            "k3",
            "not-a-token",
            json!([{"sku": "A", "quantity": 1}]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = p.checkout(&p.orders, "u", "k4", &token, json!([])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p.stock("A").await, (4, 0));
}

#[tokio::test]
async fn someone_elses_payment_token_pays_for_nothing() {
    let p = platform(&[("A", 4, 1000)]).await;
    let stolen = p.token_for("mallory-victim", CARD_OK).await;
    let (s, b) = p
        .checkout(
            &p.orders,
            "u",
            "k",
            &stolen,
            json!([{"sku": "A", "quantity": 1}]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(p.stock("A").await, (4, 0), "the reservation is released");
    assert_eq!(
        Platform::count(&p.payments_db, "SELECT count(*) FROM payments").await,
        0
    );
    // The owner's own checkout with it works.
    let (s, b) = p
        .checkout(
            &p.orders,
            "mallory-victim",
            "k2",
            &stolen,
            json!([{"sku": "A", "quantity": 1}]),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

#[tokio::test]
async fn totals_that_overflow_or_pass_the_cap_are_422() {
    let p = platform(&[
        ("BIG", 10, i64::MAX / 2),
        ("DEAR", 10, 4_000_000_000),
        ("A", 300, 10),
    ])
    .await;
    let token = p.token(CARD_OK).await;
    // i64::MAX / 2 x 3 overflows: refused with a clear answer, never a panic or a wrap.
    for (key, items) in [
        ("k1", json!([{"sku": "BIG", "quantity": 3}])),
        // Fits in i64, but more than one payment may carry.
        ("k2", json!([{"sku": "DEAR", "quantity": 3}])),
    ] {
        let (s, b) = p.checkout(&p.orders, "u", key, &token, items).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["code"], "order-too-large", "{b}");
    }
    // Lines of one SKU are added up and the sum keeps the per-line cap.
    let (s, b) = p
        .checkout(
            &p.orders,
            "u",
            "k3",
            &token,
            json!([{"sku": "A", "quantity": 60}, {"sku": "A", "quantity": 60}]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(
        (p.stock("BIG").await, p.stock("A").await),
        ((10, 0), (300, 0))
    );
    assert_eq!(
        Platform::count(&p.orders_db, "SELECT count(*) FROM orders").await,
        0
    );
    assert_eq!(
        Platform::count(&p.payments_db, "SELECT count(*) FROM payments").await,
        0
    );
}

#[tokio::test]
async fn cart_checkout_and_history() {
    let p = platform(&[("A", 4, 1000), ("B", 4, 250)]).await;
    let token = p.token_for("carol", CARD_OK).await;
    let jwt = p.auth.token("carol", &[]);
    let (s, _, c) = call(
        &p.orders,
        Method::PUT,
        "/v1/cart/items/A",
        Some(&jwt),
        Some(json!({"quantity": 2})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["items"], json!([{"sku": "A", "quantity": 2}]));
    call(
        &p.orders,
        Method::PUT,
        "/v1/cart/items/B",
        Some(&jwt),
        Some(json!({"quantity": 1})),
        &[],
    )
    .await;
    let (s, _, _) = call(
        &p.orders,
        Method::PUT,
        "/v1/cart/items/B",
        Some(&jwt),
        Some(json!({"quantity": 101})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _, c) = call(&p.orders, Method::GET, "/v1/cart", Some(&jwt), None, &[]).await;
    assert_eq!(
        (s, c["items"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(2))
    );
    // Checkout without items buys the cart, at the catalog's prices, and empties it.
    let (s, _, order) = call(
        &p.orders,
        Method::POST,
        "/v1/checkout",
        Some(&jwt),
        Some(json!({"payment_token": token})),
        &[("idempotency-key", "c1")],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    assert_eq!(order["total_minor"], 2250);
    let (_, _, c) = call(&p.orders, Method::GET, "/v1/cart", Some(&jwt), None, &[]).await;
    assert_eq!(c["items"], json!([]));
    call(
        &p.orders,
        Method::PUT,
        "/v1/cart/items/A",
        Some(&jwt),
        Some(json!({"quantity": 1})),
        &[],
    )
    .await;
    let (s, _, _) = call(&p.orders, Method::DELETE, "/v1/cart", Some(&jwt), None, &[]).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, _, c) = call(&p.orders, Method::GET, "/v1/cart", Some(&jwt), None, &[]).await;
    assert_eq!(c["items"], json!([]));

    let (s, _, h) = call(
        &p.orders,
        Method::GET,
        "/v1/orders?limit=10",
        Some(&jwt),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["orders"].as_array().map(Vec::len), Some(1));
    assert_eq!(h["orders"][0]["status"], "confirmed");
    let id = order["id"].as_str().unwrap_or_default();
    let (s, _, o) = call(
        &p.orders,
        Method::GET,
        &format!("/v1/orders/{id}"),
        Some(&jwt),
        None,
        &[],
    )
    .await;
    assert_eq!(
        (s, o["lines"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(2))
    );
    // Someone else's order is not found; an admin can see it.
    let (s, _, _) = call(
        &p.orders,
        Method::GET,
        &format!("/v1/orders/{id}"),
        Some(&p.auth.token("mallory", &[])),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = call(
        &p.orders,
        Method::GET,
        &format!("/v1/orders/{id}"),
        Some(&p.auth.token("ops", &["admin"])),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, _, h) = call(
        &p.orders,
        Method::GET,
        "/v1/orders",
        Some(&p.auth.token("mallory", &[])),
        None,
        &[],
    )
    .await;
    assert_eq!(h["orders"], json!([]));
}

#[tokio::test]
async fn payment_webhooks_are_verified_and_applied_once() {
    let p = platform(&[("A", 4, 1000)]).await;
    let token = p.token(CARD_OK).await;
    let (_, order) = p
        .checkout(
            &p.orders,
            "u",
            "k",
            &token,
            json!([{"sku": "A", "quantity": 1}]),
        )
        .await;
    let pid = order["payment"]["id"].clone();
    let event = json!({"id": uuid::Uuid::new_v4(), "type": "payment.refunded", "payment_id": pid, "status": "refunded"}).to_string();
    let sig = ecom_shared::webhook::sign(b"whsec-test", ecom_shared::unix_now(), event.as_bytes());
    let bad = ecom_shared::webhook::sign(b"other", ecom_shared::unix_now(), event.as_bytes());
    let post = |sig: String| {
        let r = p.orders.clone();
        let event: Value = serde_json::from_str(&event).expect("json");
        async move {
            call(
                &r,
                Method::POST,
                "/v1/webhooks/payments",
                None,
                Some(event),
                &[("x-signature", sig.as_str())],
            )
            .await
            .0
        }
    };
    assert_eq!(post(bad).await, StatusCode::UNAUTHORIZED);
    assert_eq!(post(sig.clone()).await, StatusCode::NO_CONTENT);
    assert_eq!(
        post(sig).await,
        StatusCode::NO_CONTENT,
        "duplicate delivery is accepted and ignored"
    );
    let status: String = sqlx::query_scalar("SELECT payment_status FROM orders")
        .fetch_one(&p.orders_db.pool)
        .await
        .expect("order");
    assert_eq!(status, "refunded");
    assert_eq!(
        Platform::count(&p.orders_db, "SELECT count(*) FROM payment_webhook_events").await,
        1
    );

    // End to end: payments' dispatcher delivers its queued events to orders, signed. The
    // saga's own calls (authorize, capture) asked for no webhook: orders had the answers.
    let addr = ecom_shared::testing::spawn(p.orders.clone())
        .await
        .expect("spawn");
    let hook_url = format!("http://{addr}/v1/webhooks/payments");
    let deliver = || {
        ecom_payments::store::deliver_webhooks(
            &p.payments_db.pool,
            &p.state.kit.http,
            &hook_url,
            b"whsec-test",
        )
    };
    assert_eq!(
        deliver().await.expect("deliver"),
        0,
        "nothing queued by the saga"
    );
    // A change orders did not make (a refund by support) is announced.
    let (s, _, b) = call(
        &p.payments,
        Method::POST,
        &format!("/v1/payments/{}/refund", pid.as_str().unwrap_or_default()),
        Some(SERVICE_TOKEN),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(deliver().await.expect("deliver"), 1, "the refund");
    assert_eq!(
        Platform::count(&p.orders_db, "SELECT count(*) FROM payment_webhook_events").await,
        2
    );
    let status: String = sqlx::query_scalar("SELECT payment_status FROM orders")
        .fetch_one(&p.orders_db.pool)
        .await
        .expect("order");
    assert_eq!(status, "refunded");
}

#[tokio::test]
async fn openapi_is_served_and_every_route_is_mounted() {
    let p = platform(&[]).await;
    let (s, _, doc) = call(&p.orders, Method::GET, "/openapi.json", None, None, &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["paths"]["/v1/checkout"]["post"].is_object());
    assert_documented_routes_exist(&p.orders, &openapi()).await;
}

#[tokio::test]
async fn checkout_against_the_real_catalog_uses_its_prices() {
    let catalog_db = TestDb::new().await.expect("PostgreSQL");
    ecom_catalog::MIGRATOR
        .run(&catalog_db.pool)
        .await
        .expect("migrate catalog");
    ecom_catalog::seed::seed_demo(&catalog_db.pool, 5)
        .await
        .expect("seed");
    let kit = Kit::from_pool(
        CommonSettings::for_tests("catalog", &catalog_db.url),
        catalog_db.pool.clone(),
    )
    .expect("kit");
    let catalog_state = ecom_catalog::AppState::new(kit, 1_000);
    catalog_state
        .start_change_feed(std::time::Duration::from_secs(10))
        .await;
    let catalog = ecom_catalog::router(catalog_state);
    let cat_addr = ecom_shared::testing::spawn(catalog.clone())
        .await
        .expect("spawn");
    let price: i64 = sqlx::query_scalar("SELECT price_minor FROM products WHERE sku = 'DEMO-0002'")
        .fetch_one(&catalog_db.pool)
        .await
        .expect("price");

    let p = platform(&[("DEMO-0002", 5, 1)]).await;
    let urls = (
        format!("http://{cat_addr}"),
        p.urls.1.clone(),
        p.urls.2.clone(),
    );
    let settings = support::orders_settings(p.settings.common.clone(), &urls, &[]);
    let orders = router(AppState::from_settings(p.state.kit.clone(), &settings));
    let token = p.token(CARD_OK).await;
    let (s, b) = p
        .checkout(
            &orders,
            "u",
            "k",
            &token,
            json!([{"sku": "DEMO-0002", "quantity": 2}]),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(
        b["total_minor"],
        price * 2,
        "the catalog's price, not the stub's"
    );
    assert_eq!(
        b["lines"][0]["name"].as_str().map(|n| !n.is_empty()),
        Some(true)
    );
    let (s, b) = p
        .checkout(
            &orders,
            "u",
            "k2",
            &token,
            json!([{"sku": "DEMO-9999", "quantity": 1}]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
}

/// Answers 404 for the batch routes, as a payments or inventory from before batches would.
async fn without_batch_routes(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if req.uri().path().starts_with("/v1/batch/") {
        return Problem::not_found("no such route").into_response();
    }
    next.run(req).await
}

/// How many times `router` answered `route` with 200, from its metrics.
async fn batch_calls(router: &Router, service: &str, route: &str) -> u64 {
    let (_, _, metrics) = call(router, Method::GET, "/metrics", None, None, &[]).await;
    let want = format!(
        "http_requests_total{{service=\"{service}\",method=\"POST\",route=\"{route}\",status=\"200\"}} "
    );
    metrics
        .as_str()
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(&want))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn batched_calls_answer_each_checkout_and_fall_back_to_single_calls() {
    let p = platform(&[("A-1", 10, 700)]).await;
    let token = p.token(CARD_OK).await;
    let request = |n: u32| {
        (
            format!("order-test-{n}"),
            json!({"token": token, "customer": "u", "amount_minor": 700 + n, "currency": "EUR",
                   "order_ref": format!("ref-{n}"), "capture": true}),
        )
    };
    let reservation = |id: uuid::Uuid| json!({"id": id, "lines": [{"sku": "A-1", "quantity": 1}], "ttl_seconds": 60});

    // Against the real services: one batch call each, every item answered.
    let paid = calls::pay_many(&p.state.deps.payments, vec![request(1), request(2)]).await;
    let paid: Vec<calls::PaymentReply> = paid.into_iter().map(|r| r.expect("paid")).collect();
    assert_eq!(
        (paid[0].status.as_str(), paid[1].status.as_str()),
        ("captured", "captured")
    );
    assert_ne!(paid[0].id, paid[1].id);
    assert_eq!(
        batch_calls(&p.payments, "payments", "/v1/batch/payments").await,
        1
    );
    let ids = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()];
    let reserved = calls::reserve_many(
        &p.state.deps.inventory,
        ids.iter().map(|&id| reservation(id)).collect(),
    )
    .await;
    assert!(reserved.iter().all(Result::is_ok), "{reserved:?}");
    assert_eq!(
        batch_calls(&p.inventory, "inventory", "/v1/batch/reservations").await,
        1
    );

    // Against services without the batch routes: the same answers, one call each.
    let old_payments = ecom_shared::testing::spawn(
        p.payments
            .clone()
            .layer(axum::middleware::from_fn(without_batch_routes)),
    )
    .await
    .expect("spawn");
    let old_inventory = ecom_shared::testing::spawn(
        p.inventory
            .clone()
            .layer(axum::middleware::from_fn(without_batch_routes)),
    )
    .await
    .expect("spawn");
    let client = |name: &str, addr: SocketAddr| {
        ecom_shared::client::ServiceClient::new(
            name,
            reqwest::Client::new(),
            &format!("http://{addr}"),
            Some(Secret::new(SERVICE_TOKEN)),
        )
    };
    let again = calls::pay_many(
        &client("payments", old_payments),
        vec![request(1), request(2), request(3)],
    )
    .await;
    let again: Vec<calls::PaymentReply> = again.into_iter().map(|r| r.expect("paid")).collect();
    // The first two are the same payments (same keys), the third a new one.
    assert_eq!((again[0].id, again[1].id), (paid[0].id, paid[1].id));
    assert_eq!(again[2].status, "captured");
    let more = [uuid::Uuid::new_v4(), uuid::Uuid::new_v4()];
    let reserved = calls::reserve_many(
        &client("inventory", old_inventory),
        more.iter().map(|&id| reservation(id)).collect(),
    )
    .await;
    assert!(reserved.iter().all(Result::is_ok), "{reserved:?}");
    let committed = calls::commit_many(&client("inventory", old_inventory), more.to_vec()).await;
    assert!(committed.iter().all(Result::is_ok), "{committed:?}");
    assert_eq!(
        p.stock("A-1").await,
        (8, 2),
        "two committed, two still held"
    );
    assert_eq!(
        Platform::count(&p.payments_db, "SELECT count(*) FROM payments").await,
        3
    );
}
