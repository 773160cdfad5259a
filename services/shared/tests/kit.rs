use axum::http::{Method, StatusCode};
use axum::routing::get;
use axum::Router;
use ecom_shared::app::{finish, Kit};
use ecom_shared::openapi::{ApiDoc, Security};
use ecom_shared::settings::CommonSettings;
use ecom_shared::testing::{assert_documented_routes_exist, call, TestDb};

async fn kit_with_limit(db: &TestDb, per_second: f64, burst: f64) -> (Kit, Router, ApiDoc) {
    let kit =
        Kit::from_pool(CommonSettings::for_tests("demo", &db.url), db.pool.clone()).expect("kit");
    let limiter = kit.limiter_with("/v1/hello", per_second, burst);
    let api = Router::new()
        .route("/v1/hello", get(|| async { "hi" }))
        .route_layer(axum::middleware::from_fn_with_state(
            limiter,
            ecom_shared::ratelimit::enforce,
        ));
    let doc =
        ApiDoc::new("demo", "1").route("get", "/v1/hello", "Hello", Security::Public, &[200, 429]);
    let router = finish(api, &kit, &doc);
    (kit, router, doc)
}

#[tokio::test]
async fn ops_routes_answer() {
    let db = TestDb::new().await.expect("database");
    let (_kit, router, doc) = kit_with_limit(&db, 1000.0, 1000.0).await;
    let (s, _, body) = call(&router, Method::GET, "/healthz", None, None, &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    let (s, _, body) = call(&router, Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, _, body) = call(&router, Method::GET, "/openapi.json", None, None, &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["openapi"], "3.1.0");
    assert!(body["paths"]["/v1/hello"]["get"].is_object());
    assert_documented_routes_exist(&router, &doc).await;
    let (s, headers, body) = call(&router, Method::GET, "/nope", None, None, &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(body["code"], "not-found");
}

#[tokio::test]
async fn request_id_is_echoed_or_made() {
    let db = TestDb::new().await.expect("database");
    let (_kit, router, _) = kit_with_limit(&db, 1000.0, 1000.0).await;
    let (_, h, _) = call(
        &router,
        Method::GET,
        "/v1/hello",
        None,
        None,
        &[("x-request-id", "abc-123")],
    )
    .await;
    assert_eq!(h["x-request-id"], "abc-123");
    let (_, h, _) = call(
        &router,
        Method::GET,
        "/v1/hello",
        None,
        None,
        &[("x-request-id", "bad id; DROP")],
    )
    .await;
    assert_eq!(
        h["x-request-id"].len(),
        36,
        "a bad id is replaced by a fresh uuid"
    );
}

#[tokio::test]
async fn rate_limit_answers_429_and_is_counted() {
    let db = TestDb::new().await.expect("database");
    let (_kit, router, _) = kit_with_limit(&db, 0.5, 2.0).await;
    for _ in 0..2 {
        let (s, _, _) = call(&router, Method::GET, "/v1/hello", None, None, &[]).await;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, h, body) = call(&router, Method::GET, "/v1/hello", None, None, &[]).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["code"], "rate-limited");
    assert!(h.contains_key("retry-after"));
    let (_, _, metrics) = call(&router, Method::GET, "/metrics", None, None, &[]).await;
    let text = metrics.as_str().expect("text").to_string();
    assert!(
        text.contains("http_requests_throttled_per_second{service=\"demo\"} 0.1"),
        "{text}"
    );
    assert!(
        text.contains("route=\"/v1/hello\",status=\"429\""),
        "{text}"
    );
}

#[tokio::test]
async fn readyz_fails_when_database_is_gone() {
    let db = TestDb::new().await.expect("database");
    let (kit, router, _) = kit_with_limit(&db, 1000.0, 1000.0).await;
    kit.pool.close().await;
    let (s, h, body) = call(&router, Method::GET, "/readyz", None, None, &[]).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(h["content-type"], "application/problem+json");
    assert_eq!(body["code"], "unavailable");
}

#[tokio::test]
async fn serve_stops_gracefully_on_signal() {
    let db = TestDb::new().await.expect("database");
    let mut settings = CommonSettings::for_tests("demo", &db.url);
    settings.bind = "127.0.0.1:0".parse().expect("addr");
    let kit = Kit::from_pool(settings, db.pool.clone()).expect("kit");
    let router = finish(Router::new(), &kit, &ApiDoc::new("demo", "1"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn({
        let kit = kit.clone();
        async move {
            ecom_shared::app::serve(router, &kit, async {
                let _ = rx.await;
            })
            .await
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let _ = tx.send(());
    let r = tokio::time::timeout(std::time::Duration::from_secs(5), server)
        .await
        .expect("stops in time")
        .expect("task");
    assert!(r.is_ok(), "{r:?}");
    assert!(kit.pool.is_closed());
}

#[tokio::test]
async fn generic_plans_are_a_session_setting_of_the_pool() {
    let db = TestDb::new().await.expect("database");
    for (on, want, seqscan) in [(true, "force_generic_plan", "off"), (false, "auto", "on")] {
        let jit = if on { "off" } else { "on" };
        let mut settings = CommonSettings::for_tests("demo", &db.url);
        settings.db_generic_plans = on;
        let pool = ecom_shared::app::connect(&settings).await.expect("connect");
        let mode: String = sqlx::query_scalar("SHOW plan_cache_mode")
            .fetch_one(&pool)
            .await
            .expect("show");
        assert_eq!(mode, want);
        let scan: String = sqlx::query_scalar("SHOW enable_seqscan")
            .fetch_one(&pool)
            .await
            .expect("show");
        assert_eq!(scan, seqscan);
        let compiled: String = sqlx::query_scalar("SHOW jit")
            .fetch_one(&pool)
            .await
            .expect("show");
        assert_eq!(compiled, jit);
        pool.close().await;
    }
}

/// With scans priced out, a statement that can only scan costs more than `jit_above_cost`:
/// it must not be compiled at every execution (a 1 ms count took 135 ms with JIT).
#[tokio::test]
async fn a_statement_that_can_only_scan_is_not_jit_compiled() {
    let db = TestDb::new().await.expect("database");
    let mut settings = CommonSettings::for_tests("demo", &db.url);
    settings.db_generic_plans = true;
    let pool = ecom_shared::app::connect(&settings).await.expect("connect");
    sqlx::raw_sql(
        "CREATE TABLE unindexed (n bigint NOT NULL);
         INSERT INTO unindexed SELECT g FROM generate_series(1, 5000) g;
         ANALYZE unindexed",
    )
    .execute(&pool)
    .await
    .expect("table");
    let plan: serde_json::Value = sqlx::query_scalar(
        "EXPLAIN (ANALYZE, FORMAT JSON) SELECT count(*) FROM unindexed WHERE n > 10",
    )
    .fetch_one(&pool)
    .await
    .expect("explain");
    let top = &plan[0];
    let cost = top["Plan"]["Total Cost"].as_f64().expect("cost");
    assert!(cost > 100_000.0, "the scan is priced out: {cost}");
    assert!(top.get("JIT").is_none(), "compiled: {}", top["JIT"]);
    pool.close().await;
}

/// A batched keyed write first planned while its table is nearly empty still uses the index
/// after the table has grown (with generic plans, the plan made at first use is kept).
#[tokio::test]
async fn generic_plan_made_on_a_new_table_keeps_using_the_index() {
    let db = TestDb::new().await.expect("database");
    let mut settings = CommonSettings::for_tests("demo", &db.url);
    settings.db_generic_plans = true;
    settings.db_max_connections = 1;
    let pool = ecom_shared::app::connect(&settings).await.expect("connect");
    let mut conn = pool.acquire().await.expect("connection");
    // The shape of the services' batched writes: a join with the batch's arrays.
    for sql in [
        "CREATE TABLE keyed (id bigint PRIMARY KEY, state text NOT NULL, body jsonb)",
        "INSERT INTO keyed SELECT g, 'a' FROM generate_series(1, 30) g",
        "PREPARE bump(bigint[], text[]) AS
             UPDATE keyed k SET state = 'b'
             FROM unnest($1::bigint[], $2::text[]) AS i(id, from_state)
             WHERE k.id = i.id AND k.state = i.from_state",
        "EXECUTE bump('{1,2}', '{a,a}')",
        "INSERT INTO keyed SELECT g, 'a' FROM generate_series(31, 20000) g",
    ] {
        sqlx::raw_sql(sql).execute(&mut *conn).await.expect(sql);
    }
    let plan: String =
        sqlx::query_scalar::<_, String>("EXPLAIN (FORMAT TEXT) EXECUTE bump('{5,6}', '{a,a}')")
            .fetch_all(&mut *conn)
            .await
            .expect("explain")
            .join("\n");
    assert!(!plan.contains("Seq Scan"), "{plan}");
    assert!(plan.contains("keyed_pkey"), "{plan}");
    drop(conn);
    pool.close().await;
}

/// Over a real connection from 127.0.0.1: behind a trusted proxy each forwarded client has its
/// own bucket; without trust, a made-up X-Forwarded-For does not buy a fresh one.
#[tokio::test]
async fn rate_limits_key_on_the_forwarded_client_only_behind_trusted_proxies() {
    let db = TestDb::new().await.expect("database");
    for (trusted, separate) in [
        (vec!["127.0.0.0/8".parse().unwrap()], true),
        (vec![], false),
    ] {
        let mut settings = CommonSettings::for_tests("demo", &db.url);
        settings.trusted_proxies = trusted;
        let kit = Kit::from_pool(settings, db.pool.clone()).expect("kit");
        let limiter = kit.limiter_with("/v1/hello", 0.001, 1.0);
        let api = Router::new()
            .route("/v1/hello", get(|| async { "hi" }))
            .route_layer(axum::middleware::from_fn_with_state(
                limiter,
                ecom_shared::ratelimit::enforce,
            ));
        let doc = ApiDoc::new("demo", "1").route(
            "get",
            "/v1/hello",
            "Hello",
            Security::Public,
            &[200, 429],
        );
        let addr = ecom_shared::testing::spawn(finish(api, &kit, &doc))
            .await
            .expect("spawn");
        let http = reqwest::Client::new();
        let get = |client: &'static str| {
            let http = http.clone();
            async move {
                http.get(format!("http://{addr}/v1/hello"))
                    .header("x-forwarded-for", client)
                    .send()
                    .await
                    .expect("request")
                    .status()
                    .as_u16()
            }
        };
        assert_eq!(get("203.0.113.1").await, 200);
        assert_eq!(get("203.0.113.1").await, 429, "same client, burst of one");
        let other = get("203.0.113.2").await;
        assert_eq!(other, if separate { 200 } else { 429 });
    }
}
