//! The checkout saga against real inventory and payments services (each on its own fresh
//! database, served on loopback) and a catalog stub that serves prices (`support`): concurrency,
//! idempotency, declines, validation, carts and history, webhooks. Crash recovery is in
//! `recovery.rs`, the real catalog and batched calls in `dependencies.rs`, 3-D Secure in
//! `three_d_secure.rs`.

mod support;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use ecom_orders::openapi;
use ecom_shared::testing::{assert_documented_routes_exist, call, tables_containing};
use serde_json::{json, Value};
use support::{platform, Platform, CARD_DECLINED, CARD_OK};

#[path = "checkout/refusals.rs"]
mod refusals;

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
    // A change the saga did not make (a refund, through orders' client) is announced.
    let (s, _, b) = call(
        &p.payments,
        Method::POST,
        &format!("/v1/payments/{}/refund", pid.as_str().unwrap_or_default()),
        Some(&p.auth.orders_token("payments")),
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
