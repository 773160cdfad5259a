use axum::http::{Method, StatusCode};
use ecom_inventory::{openapi, router, store, AppState, MIGRATOR};
use ecom_shared::testing::{assert_documented_routes_exist, call, orders_token, TestApp, TestAuth};
use serde_json::json;

type App = TestApp;

async fn app() -> App {
    TestApp::start("inventory", &MIGRATOR, TestAuth::shared(), |kit| {
        router(AppState {
            kit,
            reservation_ttl_seconds: 900,
        })
    })
    .await
}

async fn set_stock(app: &App, sku: &str, n: i32) {
    let (s, _, body) = call(
        &app.router,
        Method::PUT,
        &format!("/v1/stock/{sku}"),
        Some(&orders_token("inventory")),
        Some(json!({"on_hand": n})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

async fn reserve(
    app: &App,
    id: uuid::Uuid,
    lines: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let (s, _, b) = call(
        &app.router,
        Method::POST,
        "/v1/reservations",
        Some(&orders_token("inventory")),
        Some(json!({"id": id, "lines": lines})),
        &[],
    )
    .await;
    (s, b)
}

#[tokio::test]
async fn openapi_is_served_and_every_route_is_mounted() {
    let app = app().await;
    let (s, _, doc) = call(&app.router, Method::GET, "/openapi.json", None, None, &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["paths"]["/v1/reservations/{id}/commit"]["post"].is_object());
    assert_documented_routes_exist(&app.router, &openapi()).await;
}

#[tokio::test]
async fn setting_stock_needs_service_or_admin() {
    let app = app().await;
    let put = |tok: Option<String>| {
        let r = app.router.clone();
        async move {
            call(
                &r,
                Method::PUT,
                "/v1/stock/SKU-1",
                tok.as_deref(),
                Some(json!({"on_hand": 5})),
                &[],
            )
            .await
            .0
        }
    };
    assert_eq!(put(None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(put(Some("garbage".into())).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        put(Some(app.auth.token("u1", &["customer"]))).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        put(Some(app.auth.token("u2", &["admin"]))).await,
        StatusCode::OK
    );
    assert_eq!(put(Some(orders_token("inventory"))).await, StatusCode::OK);
    let (s, _, b) = call(&app.router, Method::GET, "/v1/stock/SKU-1", None, None, &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b,
        json!({"sku": "SKU-1", "on_hand": 5, "reserved": 0, "available": 5})
    );
}

#[tokio::test]
async fn input_is_validated() {
    let app = app().await;
    let (s, _, b) = call(
        &app.router,
        Method::GET,
        "/v1/stock/bad%20sku",
        None,
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, _, _) = call(&app.router, Method::GET, "/v1/stock/NOPE", None, None, &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = call(
        &app.router,
        Method::PUT,
        "/v1/stock/A",
        Some(&orders_token("inventory")),
        Some(json!({"on_hand": -1})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    set_stock(&app, "A", 3).await;
    let (s, _) = reserve(
        &app,
        uuid::Uuid::new_v4(),
        json!([{"sku": "A", "quantity": 0}]),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = reserve(&app, uuid::Uuid::new_v4(), json!([])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, b) = reserve(
        &app,
        uuid::Uuid::new_v4(),
        json!([{"sku": "ZZZ", "quantity": 1}]),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        "/v1/reservations/not-a-uuid/commit",
        Some(&orders_token("inventory")),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Users cannot reserve: only services can.
    let user = app.auth.token("u1", &["admin"]);
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        "/v1/reservations",
        Some(&user),
        Some(json!({"id": uuid::Uuid::new_v4(), "lines": [{"sku": "A", "quantity": 1}]})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Stock cannot be set below what is reserved.
    let (s, _) = reserve(
        &app,
        uuid::Uuid::new_v4(),
        json!([{"sku": "A", "quantity": 2}]),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, b) = call(
        &app.router,
        Method::PUT,
        "/v1/stock/A",
        Some(&orders_token("inventory")),
        Some(json!({"on_hand": 1})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(
        b["detail"]
            .as_str()
            .unwrap_or("")
            .contains("stock_reserved_within_on_hand"),
        "{b}"
    );
}

#[tokio::test]
async fn reserve_commit_release_lifecycle() {
    let app = app().await;
    set_stock(&app, "A", 5).await;
    set_stock(&app, "B", 1).await;
    let id = uuid::Uuid::new_v4();
    let (s, r) = reserve(
        &app,
        id,
        json!([{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}]),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["status"], "held");
    // Same id again: idempotent, same reservation, nothing more taken.
    let (s, again) = reserve(
        &app,
        id,
        json!([{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}]),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again, r);
    let a = store::get_stock(&app.db.pool, "A").await.expect("stock");
    assert_eq!((a.on_hand, a.reserved), (5, 2));
    // All or nothing: B has none left, so A is not taken either.
    let (s, b) = reserve(
        &app,
        uuid::Uuid::new_v4(),
        json!([{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 1}]),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(b["code"], "out-of-stock");
    assert_eq!(
        store::get_stock(&app.db.pool, "A")
            .await
            .expect("stock")
            .reserved,
        2
    );

    let path = format!("/v1/reservations/{id}");
    let (s, _, got) = call(
        &app.router,
        Method::GET,
        &path,
        Some(&orders_token("inventory")),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["lines"].as_array().map(Vec::len), Some(2));
    let (s, _, c) = call(
        &app.router,
        Method::POST,
        &format!("{path}/commit"),
        Some(&orders_token("inventory")),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(c["status"], "committed");
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        &format!("{path}/commit"),
        Some(&orders_token("inventory")),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "commit is idempotent");
    let (s, _, p) = call(
        &app.router,
        Method::POST,
        &format!("{path}/release"),
        Some(&orders_token("inventory")),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(p["code"], "reservation-committed");
    let a = store::get_stock(&app.db.pool, "A").await.expect("stock");
    assert_eq!((a.on_hand, a.reserved), (3, 0));
    let b = store::get_stock(&app.db.pool, "B").await.expect("stock");
    assert_eq!((b.on_hand, b.reserved), (0, 0));

    let id2 = uuid::Uuid::new_v4();
    let (s, _) = reserve(&app, id2, json!([{"sku": "A", "quantity": 3}])).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, r) = call(
        &app.router,
        Method::POST,
        &format!("/v1/reservations/{id2}/release"),
        Some(&orders_token("inventory")),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["status"], "released");
    let a = store::get_stock(&app.db.pool, "A").await.expect("stock");
    assert_eq!((a.on_hand, a.reserved), (3, 0));
}

#[tokio::test]
async fn expired_reservations_are_released() {
    let app = app().await;
    set_stock(&app, "A", 2).await;
    let id = uuid::Uuid::new_v4();
    let (s, _) = reserve(&app, id, json!([{"sku": "A", "quantity": 2}])).await;
    assert_eq!(s, StatusCode::CREATED);
    let keep = uuid::Uuid::new_v4();
    set_stock(&app, "B", 1).await;
    reserve(&app, keep, json!([{"sku": "B", "quantity": 1}])).await;
    sqlx::query("UPDATE reservations SET expires_at = now() - interval '1 second' WHERE id = $1")
        .bind(id)
        .execute(&app.db.pool)
        .await
        .expect("age");
    assert_eq!(
        store::release_expired(&app.db.pool).await.expect("sweep"),
        1
    );
    assert_eq!(
        store::get_stock(&app.db.pool, "A")
            .await
            .expect("stock")
            .reserved,
        0
    );
    assert_eq!(
        store::get_reservation(&app.db.pool, id)
            .await
            .expect("r")
            .status,
        "released"
    );
    assert_eq!(
        store::get_reservation(&app.db.pool, keep)
            .await
            .expect("r")
            .status,
        "held"
    );
    // A late commit of the expired reservation is refused.
    let r = store::finish(&app.db.pool, id, "committed").await;
    assert!(r.is_err());
}

#[tokio::test]
async fn concurrent_reservations_never_oversell() {
    let app = app().await;
    set_stock(&app, "HOT", 10).await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let pool = app.db.pool.clone();
        set.spawn(async move {
            store::reserve(
                &pool,
                uuid::Uuid::new_v4(),
                &[store::Line {
                    sku: "HOT".into(),
                    quantity: 1,
                }],
                60,
            )
            .await
        });
    }
    let (mut ok, mut out) = (0, 0);
    while let Some(r) = set.join_next().await {
        match r.expect("task") {
            Ok(_) => ok += 1,
            Err(ecom_inventory::error::InventoryError::OutOfStock { .. }) => out += 1,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!((ok, out), (10, 190));
    let s = store::get_stock(&app.db.pool, "HOT").await.expect("stock");
    assert_eq!((s.on_hand, s.reserved, s.available), (10, 10, 0));
}

#[tokio::test]
async fn batch_reserve_and_commit_answer_each_item_as_its_single_call() {
    let app = app().await;
    set_stock(&app, "A-1", 5).await;
    set_stock(&app, "B-1", 2).await;
    set_stock(&app, "C-1", 5).await;
    let (a, b, short, dup, taken) = (
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    );
    // An existing reservation, to be asked for again in the batch.
    let (s, _) = reserve(&app, taken, json!([{"sku": "A-1", "quantity": 1}])).await;
    assert_eq!(s, StatusCode::CREATED);
    let batch = json!({"reservations": [
        {"id": b, "lines": [{"sku": "B-1", "quantity": 2}]},
        {"id": a, "lines": [{"sku": "A-1", "quantity": 2}, {"sku": "B-1", "quantity": 0}]},
        {"id": short, "lines": [{"sku": "C-1", "quantity": 1}, {"sku": "B-1", "quantity": 1}]},
        {"id": dup, "lines": [{"sku": "A-1", "quantity": 2}]},
        {"id": taken, "lines": [{"sku": "A-1", "quantity": 1}]},
        {"id": uuid::Uuid::new_v4(), "lines": [{"sku": "NOPE", "quantity": 1}]},
        {"id": uuid::Uuid::new_v4(), "lines": [{"sku": "A-1", "quantity": 1}], "ttl_seconds": 0},
        {"id": dup, "lines": [{"sku": "A-1", "quantity": 2}]},
    ]});
    let (s, _, body) = call(
        &app.router,
        Method::POST,
        "/v1/batch/reservations",
        Some(&orders_token("inventory")),
        Some(batch.clone()),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let r = body["results"].as_array().expect("results");
    let statuses: Vec<u64> = r.iter().map(|i| i["status"].as_u64().unwrap()).collect();
    // In the order sent: b takes all of B-1; a's zero quantity is invalid; short finds B-1
    // empty (all or nothing: its C-1 line is not taken); dup is made, then found again;
    // taken exists.
    assert_eq!(
        statuses,
        vec![201, 422, 409, 201, 200, 404, 422, 200],
        "{body}"
    );
    assert_eq!(r[2]["problem"]["code"], "out-of-stock", "{body}");
    assert_eq!(r[0]["reservation"]["status"], "held");
    assert_eq!(r[7]["reservation"]["id"], json!(dup));
    let stock = |sku: &'static str| {
        let pool = app.db.pool.clone();
        async move { store::get_stock(&pool, sku).await.expect("stock") }
    };
    assert_eq!(stock("A-1").await.reserved, 3);
    assert_eq!(stock("B-1").await.reserved, 2);
    assert_eq!(stock("C-1").await.reserved, 0);
    // All of it was decided in the batch's one transaction, none of it one by one.
    let (_, _, metrics) = call(&app.router, Method::GET, "/metrics", None, None, &[]).await;
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    assert!(
        metrics.contains("inventory_batch_reservations_run_alone_total{service=\"inventory\"} 0"),
        "{metrics}"
    );

    // Commit many: held ones move, a repeat is fine, the unknown and the released are not.
    let released = uuid::Uuid::new_v4();
    let (s, _) = reserve(&app, released, json!([{"sku": "A-1", "quantity": 1}])).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        &format!("/v1/reservations/{released}/release"),
        Some(&orders_token("inventory")),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let commit = |ids: serde_json::Value| {
        let r = app.router.clone();
        async move {
            call(
                &r,
                Method::POST,
                "/v1/batch/reservations/commit",
                Some(&orders_token("inventory")),
                Some(json!({ "ids": ids })),
                &[],
            )
            .await
        }
    };
    let (s, _, body) = commit(json!([b, dup, taken, uuid::Uuid::new_v4(), released, b])).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let r = body["results"].as_array().expect("results");
    let statuses: Vec<u64> = r.iter().map(|i| i["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, vec![200, 200, 200, 404, 409, 200], "{body}");
    assert_eq!(r[0]["reservation"]["status"], "committed");
    assert_eq!(
        r[0]["reservation"]["lines"],
        json!([{"sku": "B-1", "quantity": 2}])
    );
    assert_eq!(r[4]["problem"]["code"], "reservation-released", "{body}");
    let (a1, b1) = (stock("A-1").await, stock("B-1").await);
    assert_eq!((a1.on_hand, a1.reserved), (2, 0));
    assert_eq!((b1.on_hand, b1.reserved), (0, 0));
    // Committing again changes nothing.
    let (s, _, body) = commit(json!([b, dup])).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["results"][1]["status"], 200);
    assert_eq!(stock("A-1").await.on_hand, 2);

    // Batches need the service token and 1 to 200 items.
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        "/v1/batch/reservations",
        None,
        Some(batch),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = commit(json!([])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn concurrent_batches_never_oversell() {
    let app = app().await;
    set_stock(&app, "HOT", 10).await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let pool = app.db.pool.clone();
        set.spawn(async move {
            let requests: Vec<store::ReserveRequest> = (0..10)
                .map(|_| store::ReserveRequest {
                    id: uuid::Uuid::new_v4(),
                    lines: vec![store::Line {
                        sku: "HOT".into(),
                        quantity: 1,
                    }],
                    ttl_seconds: 60,
                })
                .collect();
            store::reserve_many(&pool, &requests).await
        });
    }
    let (mut ok, mut out) = (0, 0);
    while let Some(r) = set.join_next().await {
        let batch = r.expect("task");
        assert_eq!(batch.run_alone, 0, "decided in the batch's transaction");
        for item in batch.results {
            match item {
                Ok(_) => ok += 1,
                Err(ecom_inventory::error::InventoryError::OutOfStock { .. }) => out += 1,
                Err(e) => panic!("unexpected error: {e}"),
            }
        }
    }
    assert_eq!((ok, out), (10, 190));
    let s = store::get_stock(&app.db.pool, "HOT").await.expect("stock");
    assert_eq!((s.on_hand, s.reserved, s.available), (10, 10, 0));
}

#[tokio::test]
async fn merged_quantities_and_stock_are_capped() {
    let app = app().await;
    set_stock(&app, "A", 50_000).await;
    // Two lines of one SKU are one line of their sum, which keeps the per-line cap.
    let (s, b) = reserve(
        &app,
        uuid::Uuid::new_v4(),
        json!([{"sku": "A", "quantity": 6000}, {"sku": "A", "quantity": 6000}]),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b["detail"].as_str().unwrap_or("").contains("in all"), "{b}");
    // The same in a batch: that item is refused, the other one is made.
    let batch = json!({"reservations": [
        {"id": uuid::Uuid::new_v4(), "lines": [{"sku": "A", "quantity": 10_000}, {"sku": "A", "quantity": 1}]},
        {"id": uuid::Uuid::new_v4(), "lines": [{"sku": "A", "quantity": 10_000}]}]});
    let (s, _, b) = call(
        &app.router,
        Method::POST,
        "/v1/batch/reservations",
        Some(&orders_token("inventory")),
        Some(batch),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (
            b["results"][0]["status"].clone(),
            b["results"][1]["status"].clone()
        ),
        (json!(422), json!(201)),
        "{b}"
    );
    // Stock stays far enough below i32::MAX that reserved + quantity cannot overflow.
    let (s, _, b) = call(
        &app.router,
        Method::PUT,
        "/v1/stock/B",
        Some(&orders_token("inventory")),
        Some(json!({"on_hand": 2_000_000_000})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    set_stock(&app, "B", store::MAX_ON_HAND).await;
}
