//! orders against the real catalog's prices, and its batched calls to inventory and payments
//! (and their fallback to single calls when a service has no batch routes).

mod support;

use std::net::SocketAddr;

use axum::http::{Method, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use ecom_orders::{calls, router, AppState};
use ecom_shared::settings::CommonSettings;
use ecom_shared::testing::{call, TestDb};
use ecom_shared::{Kit, Problem};
use serde_json::json;
use support::{platform, Platform, CARD_OK};

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
            Some(std::sync::Arc::new(
                ecom_shared::credentials::TokenSource::fixed(
                    name,
                    &p.auth.orders_token(name),
                    std::time::Duration::from_secs(600),
                ),
            )),
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
