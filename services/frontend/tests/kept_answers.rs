//! The answers the storefront keeps a few seconds (`memo`): availability and the category
//! list are served again from memory, a failed lookup is asked again.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Json;

/// Inventory and catalog stand-ins on loopback that count the requests they answer.
async fn fake_services(hits: Arc<AtomicUsize>) -> String {
    async fn stock(
        State(hits): State<Arc<AtomicUsize>>,
        Path(sku): Path<String>,
    ) -> Result<Json<serde_json::Value>, StatusCode> {
        hits.fetch_add(1, Ordering::SeqCst);
        match sku.as_str() {
            "GONE" => Err(StatusCode::NOT_FOUND),
            "DOWN" => Err(StatusCode::SERVICE_UNAVAILABLE),
            _ => Ok(Json(serde_json::json!({"sku": sku, "available": 3}))),
        }
    }
    async fn categories(State(hits): State<Arc<AtomicUsize>>) -> Json<serde_json::Value> {
        hits.fetch_add(1, Ordering::SeqCst);
        Json(serde_json::json!({"items": [{"slug": "home", "name": "Home"}]}))
    }
    let app = axum::Router::new()
        .route("/v1/stock/{sku}", get(stock))
        .route("/v1/categories", get(categories))
        .with_state(hits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn backend(base: &str) -> ecom_frontend::backend::Backend {
    let urls = ecom_frontend::backend::Urls {
        login: "http://127.0.0.1:9".into(),
        catalog: base.into(),
        inventory: base.into(),
        orders: "http://127.0.0.1:9".into(),
        payments: "http://127.0.0.1:9".into(),
    };
    ecom_frontend::backend::Backend::new(reqwest::Client::new(), urls)
}

#[tokio::test]
async fn availability_and_categories_are_kept_but_failures_are_not() {
    let hits = Arc::new(AtomicUsize::new(0));
    let b = backend(&fake_services(hits.clone()).await);
    let count = || hits.load(Ordering::SeqCst);

    assert_eq!(b.availability("DEMO-0001").await, Some(3));
    assert_eq!(b.availability("DEMO-0001").await, Some(3));
    assert_eq!(count(), 1, "the second page uses the kept answer");
    assert_eq!(
        b.availability("GONE").await,
        Some(0),
        "an unknown SKU has none"
    );
    assert_eq!(count(), 2);
    assert_eq!(b.availability("DOWN").await, None);
    assert_eq!(b.availability("DOWN").await, None);
    assert_eq!(count(), 4, "a failed lookup is asked again");

    let first = b.categories().await.expect("categories");
    let again = b.categories().await.expect("categories");
    assert_eq!(first[0].slug, "home");
    assert!(Arc::ptr_eq(&first, &again));
    assert_eq!(count(), 5, "the category list is fetched once");
}
