use std::collections::HashSet;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum::Router;
use ecom_catalog::{openapi, router, seed, AppState, MIGRATOR};
use ecom_shared::settings::CommonSettings;
use ecom_shared::testing::{assert_documented_routes_exist, call, TestAuth, TestDb};
use ecom_shared::Kit;
use serde_json::{json, Value};

struct App {
    db: TestDb,
    router: Router,
    auth: TestAuth,
}

async fn app(products: i32) -> App {
    let db = TestDb::new().await.expect("PostgreSQL");
    MIGRATOR.run(&db.pool).await.expect("migrate");
    if products > 0 {
        seed::seed_demo(&db.pool, products).await.expect("seed");
    }
    let auth = TestAuth::new();
    let mut settings = CommonSettings::for_tests("catalog", &db.url);
    auth.trust(&mut settings);
    // Sessions as the service runs them (generic plans, scans priced out, no JIT).
    settings.db_generic_plans = true;
    let pool = ecom_shared::app::connect(&settings).await.expect("pool");
    let kit = Kit::from_pool(settings, pool).expect("kit");
    let state = AppState::new(kit, 1_000);
    state.start_change_feed(Duration::from_secs(10)).await;
    assert!(state.cache.is_coherent(), "the change feed did not start");
    let router = router(state);
    App { db, router, auth }
}

async fn get(app: &App, uri: &str) -> (StatusCode, Value) {
    let (s, _, b) = call(&app.router, Method::GET, uri, None, None, &[]).await;
    (s, b)
}

/// Follows next_cursor to the end; returns every item.
async fn all_pages(app: &App, base: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut uri = base.to_string();
    for _ in 0..100 {
        let (s, b) = get(app, &uri).await;
        assert_eq!(s, StatusCode::OK, "{uri}: {b}");
        out.extend(b["items"].as_array().cloned().unwrap_or_default());
        match b["next_cursor"].as_str() {
            Some(c) => uri = format!("{base}&cursor={c}"),
            None => return out,
        }
    }
    panic!("pagination did not end");
}

#[tokio::test]
async fn openapi_is_served_and_every_route_is_mounted() {
    let app = app(0).await;
    let (s, doc) = get(&app, "/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["paths"]["/v1/products/{id}"]["patch"].is_object());
    assert_documented_routes_exist(&app.router, &openapi()).await;
}

#[tokio::test]
async fn seed_is_idempotent() {
    let app = app(50).await;
    assert_eq!(seed::seed_demo(&app.db.pool, 50).await.expect("seed"), 0);
    assert_eq!(seed::seed_demo(&app.db.pool, 60).await.expect("seed"), 10);
}

#[tokio::test]
async fn cursor_pagination_covers_every_product_once_in_order() {
    let app = app(95).await;
    for (sort, key, asc) in [
        ("price_asc", "price_minor", true),
        ("price_desc", "price_minor", false),
        ("name", "name", true),
        ("newest", "created_at", false),
    ] {
        let items = all_pages(&app, &format!("/v1/products?sort={sort}&limit=7")).await;
        assert_eq!(items.len(), 95, "{sort}");
        let ids: HashSet<_> = items
            .iter()
            .map(|i| i["id"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(ids.len(), 95, "{sort}: no duplicates");
        for w in items.windows(2) {
            let (a, b) = (&w[0][key], &w[1][key]);
            let ordered = match (a.as_i64(), b.as_i64()) {
                (Some(x), Some(y)) => {
                    if asc {
                        x <= y
                    } else {
                        x >= y
                    }
                }
                _ => {
                    let (x, y) = (
                        a.as_str().unwrap_or_default(),
                        b.as_str().unwrap_or_default(),
                    );
                    if asc {
                        x <= y
                    } else {
                        x >= y
                    }
                }
            };
            assert!(ordered, "{sort}: {a} then {b}");
        }
    }
    let (s, b) = get(&app, "/v1/products?cursor=garbage").await;
    assert_eq!(
        (s, b["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("validation"))
    );
    let (s, _) = get(&app, "/v1/products?limit=1000").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = get(&app, "/v1/products?sort=random").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = get(&app, "/v1/products?unknown=1").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn filters_and_facets() {
    let app = app(80).await;
    let jackets = all_pages(&app, "/v1/products?category=jackets&limit=50").await;
    assert!(!jackets.is_empty());
    assert!(jackets.iter().all(|p| p["category"] == "jackets"));
    // A parent category includes its children.
    let clothing = all_pages(&app, "/v1/products?category=clothing&limit=50").await;
    let shirts = all_pages(&app, "/v1/products?category=shirts&limit=50").await;
    assert_eq!(clothing.len(), jackets.len() + shirts.len());
    let mid = all_pages(
        &app,
        "/v1/products?min_price=10000&max_price=20000&limit=50",
    )
    .await;
    assert!(!mid.is_empty());
    assert!(mid
        .iter()
        .all(|p| (10000..=20000).contains(&p["price_minor"].as_i64().unwrap_or(-1))));
    let (_, f) = get(&app, "/v1/products?featured=true&limit=50").await;
    assert_eq!(f["items"].as_array().map(Vec::len), Some(8));
    let (s, featured) = get(&app, "/v1/featured").await;
    assert_eq!(s, StatusCode::OK);
    let ranks: Vec<i64> = featured["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| p["featured_rank"].as_i64().unwrap_or(0))
        .collect();
    assert_eq!(ranks, (1..=8).collect::<Vec<_>>());
    let (_, facets) = get(&app, "/v1/products?facets=true&limit=1").await;
    let total: i64 = facets["facets"]["categories"]
        .as_object()
        .expect("facets")
        .values()
        .map(|v| v.as_i64().unwrap_or(0))
        .sum();
    assert_eq!(total, 80);
    let (_, cats) = get(&app, "/v1/categories").await;
    assert_eq!(cats["items"].as_array().map(Vec::len), Some(6));
}

/// Filtered lists and searches find their pages in the narrow table (and its own indexes),
/// unfiltered ones walk the wide covering indexes: paged in every sort, a filtered list must
/// be exactly the unfiltered list of that sort with the others left out.
#[tokio::test]
async fn filtered_pages_are_the_unfiltered_order_with_the_rest_left_out() {
    let app = app(95).await;
    let in_range = |p: &Value| (9_000..=30_000).contains(&p["price_minor"].as_i64().unwrap_or(-1));
    let clothing = |p: &Value| p["category"] == "jackets" || p["category"] == "shirts";
    let jacket = |p: &Value| p["name"].as_str().unwrap_or_default().contains("Jacket");
    type Keep = Box<dyn Fn(&Value) -> bool>;
    let filters: Vec<(&str, Keep)> = vec![
        ("category=clothing", Box::new(clothing)),
        ("min_price=9000&max_price=30000", Box::new(in_range)),
        ("q=jacket", Box::new(jacket)),
        (
            "category=clothing&min_price=9000&max_price=30000&q=jacket",
            Box::new(move |p| clothing(p) && in_range(p) && jacket(p)),
        ),
    ];
    let id = |p: &Value| p["id"].as_str().unwrap_or_default().to_string();
    for sort in ["price_asc", "price_desc", "name", "newest"] {
        let all = all_pages(&app, &format!("/v1/products?sort={sort}&limit=100")).await;
        assert_eq!(all.len(), 95, "{sort}");
        for (filter, keep) in &filters {
            let want: Vec<String> = all.iter().filter(|p| keep(p)).map(id).collect();
            assert!(!want.is_empty(), "{filter}: the seed has matches");
            // Pages of one when the matches are few, so that every filter's cursor is used.
            let limit = if want.len() < 8 { 1 } else { 4 };
            let got = all_pages(
                &app,
                &format!("/v1/products?{filter}&sort={sort}&limit={limit}"),
            )
            .await;
            let got: Vec<String> = got.iter().map(id).collect();
            assert_eq!(got, want, "{filter}, {sort}");
        }
    }
    // Relevance pages (by offset) cover every match once too.
    let ranked = all_pages(&app, "/v1/products?q=jacket&limit=4").await;
    let ids: HashSet<String> = ranked.iter().map(id).collect();
    let jackets: HashSet<String> = all_pages(&app, "/v1/products?limit=100")
        .await
        .iter()
        .filter(|p| jacket(p))
        .map(id)
        .collect();
    assert_eq!(ids.len(), ranked.len(), "no duplicates");
    assert_eq!(ids, jackets);
    // Featured within a category, and facet counts with a search or a price range (counted
    // over the narrow table) add up to the matches.
    let (_, b) = get(
        &app,
        "/v1/products?category=clothing&featured=true&limit=50",
    )
    .await;
    let featured = b["items"].as_array().expect("items");
    assert!(
        !featured.is_empty()
            && featured
                .iter()
                .all(|p| clothing(p) && p["featured_rank"].is_i64())
    );
    for (filter, want) in [
        ("q=jacket", jackets.len()),
        (
            "min_price=9000&max_price=30000",
            all_pages(&app, "/v1/products?limit=100")
                .await
                .iter()
                .filter(|p| in_range(p))
                .count(),
        ),
    ] {
        let (_, b) = get(&app, &format!("/v1/products?{filter}&facets=true&limit=1")).await;
        let counted: i64 = b["facets"]["categories"]
            .as_object()
            .expect("facets")
            .values()
            .filter_map(Value::as_i64)
            .sum();
        assert_eq!(counted, want as i64, "{filter}");
    }
}

#[tokio::test]
async fn full_text_search() {
    let app = app(60).await;
    let (s, b) = get(&app, "/v1/search?q=waterproof%20jacket").await;
    assert_eq!(s, StatusCode::OK);
    let items = b["items"].as_array().expect("items");
    assert!(!items.is_empty());
    for p in items {
        let text = format!("{} {}", p["name"], p["description"]).to_lowercase();
        assert!(
            text.contains("waterproof") && text.contains("jacket"),
            "{text}"
        );
    }
    // Relevance first: a name match (weight A) ranks above a description-only match.
    let (_, b) = get(&app, "/v1/search?q=merino").await;
    assert!(b["items"][0]["name"]
        .as_str()
        .unwrap_or_default()
        .contains("Merino"));
    // Stemming: "boots" finds "Boot".
    let (_, b) = get(&app, "/v1/products?q=boots&limit=100").await;
    assert!(!b["items"].as_array().expect("items").is_empty());
    // Excluding words, and relevance paging.
    let with = all_pages(&app, "/v1/search?q=jacket&limit=3").await;
    let without = all_pages(&app, "/v1/search?q=jacket%20-waterproof&limit=3").await;
    assert!(without.len() < with.len() && !without.is_empty());
    // Query text is data, never SQL.
    let (s, b) = get(
        &app,
        "/v1/search?q=%27%3B%20DROP%20TABLE%20products%3B%20--",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _) = get(&app, "/v1/search?q=").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn product_and_sku_reads() {
    let app = app(10).await;
    let (s, sku) = get(&app, "/v1/skus/DEMO-0003").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(sku["currency"], "EUR");
    assert!(sku["price_minor"].as_i64().unwrap_or(0) > 0);
    let (_, list) = get(&app, "/v1/products?limit=1").await;
    let p = &list["items"][0];
    let (s, by_id) = get(
        &app,
        &format!("/v1/products/{}", p["id"].as_str().unwrap_or_default()),
    )
    .await;
    assert_eq!((s, &by_id), (StatusCode::OK, p));
    let (s, by_slug) = get(
        &app,
        &format!("/v1/products/{}", p["slug"].as_str().unwrap_or_default()),
    )
    .await;
    assert_eq!((s, &by_slug), (StatusCode::OK, p));
    assert_eq!(
        get(&app, "/v1/products/nope").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&app, "/v1/skus/NOPE").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn admin_writes_need_the_admin_role() {
    let app = app(0).await;
    let admin = app.auth.token("ops", &["admin"]);
    let customer = app.auth.token("c", &["customer"]);
    let cat = json!({"slug": "bags", "name": "Bags"});
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        "/v1/categories",
        None,
        Some(cat.clone()),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, b) = call(
        &app.router,
        Method::POST,
        "/v1/categories",
        Some(&customer),
        Some(cat.clone()),
        &[],
    )
    .await;
    assert_eq!(
        (s, b["code"].clone()),
        (StatusCode::FORBIDDEN, json!("forbidden"))
    );
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        "/v1/categories",
        Some(&admin),
        Some(cat.clone()),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, b) = call(
        &app.router,
        Method::POST,
        "/v1/categories",
        Some(&admin),
        Some(cat),
        &[],
    )
    .await;
    assert_eq!(
        (s, b["code"].clone()),
        (StatusCode::CONFLICT, json!("already-exists"))
    );

    let product = json!({"sku": "BAG-1", "slug": "tote-bag", "name": "Tote bag", "description": "A canvas tote",
        "category": "bags", "price_minor": 1999, "currency": "EUR", "featured_rank": 1});
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        "/v1/products",
        Some(&customer),
        Some(product.clone()),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, p) = call(
        &app.router,
        Method::POST,
        "/v1/products",
        Some(&admin),
        Some(product.clone()),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    assert_eq!(p["category"], "bags");
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        "/v1/products",
        Some(&admin),
        Some(product),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _, b) = call(&app.router, Method::POST, "/v1/products", Some(&admin),
        Some(json!({"sku": "BAG-2", "slug": "b2", "name": "B", "price_minor": 5, "currency": "euro"})), &[]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, _, _) = call(&app.router, Method::POST, "/v1/products", Some(&admin),
        Some(json!({"sku": "BAG-3", "slug": "b3", "name": "B", "price_minor": -5, "currency": "EUR"})), &[]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Prices are capped, so that price x quantity stays far inside i64 in orders.
    let (s, _, b) = call(&app.router, Method::POST, "/v1/products", Some(&admin),
        Some(json!({"sku": "BAG-4", "slug": "b4", "name": "B", "price_minor": 4_611_686_018_427_387_903i64, "currency": "EUR"})), &[]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(
        b["detail"]
            .as_str()
            .unwrap_or("")
            .contains("price_minor must be"),
        "{b}"
    );
    let id = p["id"].as_str().unwrap_or_default();
    let (s, _, _) = call(
        &app.router,
        Method::PATCH,
        &format!("/v1/products/{id}"),
        Some(&admin),
        Some(json!({"price_minor": ecom_catalog::store::MAX_PRICE_MINOR + 1})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Reads are cached, and writes clear the cache.
    let (_, before) = get(&app, "/v1/skus/BAG-1").await;
    assert_eq!(before["price_minor"], 1999);
    let id = p["id"].as_str().unwrap_or_default();
    let (s, _, u) = call(
        &app.router,
        Method::PATCH,
        &format!("/v1/products/{id}"),
        Some(&admin),
        Some(json!({"price_minor": 2499})),
        &[],
    )
    .await;
    assert_eq!((s, u["price_minor"].clone()), (StatusCode::OK, json!(2499)));
    let (_, after) = get(&app, "/v1/skus/BAG-1").await;
    assert_eq!(after["price_minor"], 2499);
    let (s, _, _) = call(
        &app.router,
        Method::PATCH,
        &format!("/v1/products/{id}"),
        Some(&admin),
        Some(json!({"sku": "X"})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _, _) = call(
        &app.router,
        Method::PATCH,
        &format!("/v1/products/{}", uuid::Uuid::new_v4()),
        Some(&admin),
        Some(json!({"name": "x"})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = call(
        &app.router,
        Method::DELETE,
        &format!("/v1/products/{id}"),
        Some(&customer),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = call(
        &app.router,
        Method::DELETE,
        &format!("/v1/products/{id}"),
        Some(&admin),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(get(&app, "/v1/skus/BAG-1").await.0, StatusCode::NOT_FOUND);
    let (s, _, b) = call(
        &app.router,
        Method::POST,
        "/v1/admin/seed",
        Some(&admin),
        Some(json!({"products": 12})),
        &[],
    )
    .await;
    assert_eq!((s, b["inserted"].clone()), (StatusCode::OK, json!(12)));
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        "/v1/admin/seed",
        Some(&customer),
        Some(json!({})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn odd_input_gets_a_plain_problem_never_postgresql_text() {
    use base64::Engine as _;
    let app = app(20).await;
    let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(br#"{"offset":-5,"id":"00000000-0000-0000-0000-000000000000"}"#);
    for uri in [
        "/v1/search?q=jacket%00x".to_string(),
        "/v1/products?category=a%00b".to_string(),
        format!("/v1/search?q=jacket&cursor={cursor}"),
        "/v1/products/a%00b".to_string(),
    ] {
        let (s, h, b) = call(&app.router, Method::GET, &uri, None, None, &[]).await;
        assert!(
            s == StatusCode::UNPROCESSABLE_ENTITY || s == StatusCode::NOT_FOUND,
            "{uri}: {s} {b}"
        );
        assert_eq!(h["content-type"], "application/problem+json", "{uri}");
        let text = b.to_string();
        for leak in [
            "UTF8",
            "0x00",
            "OFFSET",
            "must not be negative",
            "byte sequence",
        ] {
            assert!(!text.contains(leak), "{uri}: {text}");
        }
    }
}

/// What the document says is valid is read as valid, and what it says is not is refused:
/// `2.0` is an integer, `null` is not a value of an optional field, a hidden product can be
/// made, and an unknown sort is refused without repeating it.
#[tokio::test]
async fn bodies_are_read_as_the_document_describes_them() {
    let app = app(0).await;
    let admin = app.auth.token("admin-1", &["admin"]);
    let post = |body: Value| {
        let (router, admin) = (app.router.clone(), admin.clone());
        async move {
            call(
                &router,
                Method::POST,
                "/v1/products",
                Some(&admin),
                Some(body),
                &[],
            )
            .await
        }
    };
    let (s, _, b) = post(
        json!({"sku": "H-1", "slug": "h1", "name": "Hidden", "price_minor": 250.0,
        "currency": "EUR", "active": false}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["price_minor"], 250);
    let (s, _, b) = post(
        json!({"sku": "H-2", "slug": "h2", "name": "N", "price_minor": 1,
        "currency": "EUR", "description": null}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, _, b) = call(
        &app.router,
        Method::POST,
        "/v1/admin/seed",
        Some(&admin),
        Some(json!({"products": null})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, b) = get(&app, "/v1/products?sort=%3Cscript%3E").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!b.to_string().contains("script"), "{b}");
    let (s, b) = get(&app, "/v1/products?sort=relevance&cursor=").await;
    assert_eq!(s, StatusCode::OK, "{b}");
}
