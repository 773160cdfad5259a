//! The read cache is coherent: a write is visible on the next read of the instance that made
//! it, on another instance over the same database as soon as the change notification arrives,
//! and after a hand-made SQL change too; while the change feed is down nothing is served from
//! the cache.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use axum::Router;
use ecom_catalog::{router, AppState, MIGRATOR};
use ecom_shared::settings::CommonSettings;
use ecom_shared::testing::{call, TestAuth, TestDb};
use ecom_shared::Kit;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;

/// How long another instance may serve the old body after a commit (the notification's trip).
const REPLICA_BOUND: Duration = Duration::from_secs(2);

/// One catalog instance with its own pool (as a separate replica would have) over `db`.
async fn instance(db: &TestDb, auth: &TestAuth) -> (AppState, Router) {
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(&db.url)
        .await
        .expect("pool");
    let mut settings = CommonSettings::for_tests("catalog", &db.url);
    auth.trust(&mut settings);
    let state = AppState::new(Kit::from_pool(settings, pool).expect("kit"), 1_000);
    state.start_change_feed(Duration::from_secs(10)).await;
    assert!(state.cache.is_coherent(), "the change feed did not start");
    let r = router(state.clone());
    (state, r)
}

async fn price(r: &Router, sku: &str) -> Value {
    let (s, _, b) = call(r, Method::GET, &format!("/v1/skus/{sku}"), None, None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["price_minor"].clone()
}

async fn list_price(r: &Router) -> Value {
    let (s, _, b) = call(r, Method::GET, "/v1/products?limit=5", None, None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["items"][0]["price_minor"].clone()
}

/// Reads `sku` from `r` until it shows `want`; panics after `bound`.
async fn until_price(r: &Router, sku: &str, want: i64, bound: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if price(r, sku).await == json!(want) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < bound,
            "{sku} still not at {want} after {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

struct Setup {
    db: TestDb,
    auth: TestAuth,
    id: String,
}

async fn setup() -> Setup {
    let db = TestDb::new().await.expect("PostgreSQL");
    MIGRATOR.run(&db.pool).await.expect("migrate");
    let auth = TestAuth::new();
    let (_, a) = instance(&db, &auth).await;
    let (s, _, p) = call(
        &a,
        Method::POST,
        "/v1/products",
        Some(&auth.token("admin-1", &["admin"])),
        Some(
            json!({"sku": "RC-1", "slug": "rc-1", "name": "Rain cover", "price_minor": 1000,
                    "currency": "EUR"}),
        ),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let id = p["id"].as_str().expect("id").to_string();
    Setup { db, auth, id }
}

async fn patch_price(r: &Router, auth: &TestAuth, id: &str, price: i64) {
    let (s, _, b) = call(
        r,
        Method::PATCH,
        &format!("/v1/products/{id}"),
        Some(&auth.token("admin-1", &["admin"])),
        Some(json!({"price_minor": price})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

#[tokio::test]
async fn an_admin_write_is_visible_on_the_next_read_of_the_same_instance() {
    let s = setup().await;
    let (state, a) = instance(&s.db, &s.auth).await;
    for want in [1000, 1100, 1200, 1300] {
        if want > 1000 {
            patch_price(&a, &s.auth, &s.id, want).await;
        }
        // The very next reads, with no wait, already show it, and so does every read after
        // it, cached or not. (The write's own notification may still arrive and empty the
        // cache once more, so a hit is awaited rather than expected on the second read.)
        let hits = state.cache.hits();
        let started = Instant::now();
        while state.cache.hits() < hits + 2 {
            assert_eq!(price(&a, "RC-1").await, json!(want));
            assert_eq!(list_price(&a).await, json!(want));
            assert!(
                started.elapsed() < REPLICA_BOUND,
                "the reads were not cached"
            );
        }
    }
    // Deactivation disappears at once as well.
    let (code, _, _) = call(
        &a,
        Method::DELETE,
        &format!("/v1/products/{}", s.id),
        Some(&s.auth.token("admin-1", &["admin"])),
        None,
        &[],
    )
    .await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    let (code, _, _) = call(&a, Method::GET, "/v1/skus/RC-1", None, None, &[]).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_instance_sees_a_write_once_its_notification_arrives() {
    let s = setup().await;
    let (_, a) = instance(&s.db, &s.auth).await;
    let (b_state, b) = instance(&s.db, &s.auth).await;
    for want in [1500, 1600, 1700] {
        // B has the old body cached ...
        let hits = b_state.cache.hits();
        let started = Instant::now();
        while b_state.cache.hits() == hits {
            price(&b, "RC-1").await;
            assert!(
                started.elapsed() < REPLICA_BOUND,
                "B did not cache the read"
            );
        }
        // ... A writes; B drops it when the notification arrives.
        patch_price(&a, &s.auth, &s.id, want).await;
        let took = until_price(&b, "RC-1", want, REPLICA_BOUND).await;
        assert_eq!(list_price(&b).await, json!(want));
        eprintln!("B saw {want} {took:?} after A's write was answered");
    }
}

#[tokio::test]
async fn a_change_made_in_sql_by_hand_is_seen_too() {
    let s = setup().await;
    let (state, a) = instance(&s.db, &s.auth).await;
    let started = Instant::now();
    while state.cache.hits() == 0 {
        assert_eq!(price(&a, "RC-1").await, json!(1000));
        assert!(started.elapsed() < REPLICA_BOUND, "the read was not cached");
    }
    sqlx::query("UPDATE products SET price_minor = 4242 WHERE sku = 'RC-1'")
        .execute(&s.db.pool)
        .await
        .expect("update");
    until_price(&a, "RC-1", 4242, REPLICA_BOUND).await;
}

#[tokio::test]
async fn while_the_change_feed_is_down_reads_bypass_the_cache() {
    let s = setup().await;
    let (state, a) = instance(&s.db, &s.auth).await;
    price(&a, "RC-1").await;
    // Cut the listening connection, as a network blip or a database restart would.
    let cut: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .fetch_one(&s.db.pool)
    .await
    .expect("terminate the listener");
    assert!(cut >= 1, "no listening connection found");
    // A change made while the feed may be down is never hidden by the cache: it is seen
    // within the bound, and the feed comes back by itself.
    sqlx::query("UPDATE products SET price_minor = 777 WHERE sku = 'RC-1'")
        .execute(&s.db.pool)
        .await
        .expect("update");
    until_price(&a, "RC-1", 777, REPLICA_BOUND).await;
    let started = Instant::now();
    while !state.cache.is_coherent() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the change feed did not reconnect"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    patch_price(&a, &s.auth, &s.id, 778).await;
    let hits = state.cache.hits();
    let started = Instant::now();
    while state.cache.hits() == hits {
        assert_eq!(price(&a, "RC-1").await, json!(778));
        assert!(started.elapsed() < REPLICA_BOUND, "caching did not resume");
    }
}
