//! The calling side of per-service identities: a token source fetches once for many callers,
//! refreshes before expiry, and a call refused 401 is retried once with a fresh token.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::routing::get;
use axum::Router;
use ecom_shared::client::ServiceClient;
use ecom_shared::credentials::{CredentialError, TokenSource};
use ecom_shared::settings::{ClientSettings, Secret};
use ecom_shared::testing::{spawn, TestAuth};

const SECRET: &str = "orders-secret-for-the-token-source-tests";

async fn source(ttl: u64, secret: &str) -> (Arc<TokenSource>, Arc<AtomicUsize>) {
    let auth = TestAuth::new();
    let (endpoint, issued) = auth.token_endpoint("orders", SECRET, ttl);
    let addr = spawn(endpoint).await.expect("spawn");
    let client = ClientSettings {
        id: "orders".into(),
        secret: Secret::new(secret),
        login_url: format!("http://{addr}"),
    };
    let source = TokenSource::new(reqwest::Client::new(), &client, "payments");
    (Arc::new(source), issued)
}

#[tokio::test]
async fn many_callers_share_one_fetch() {
    let (source, issued) = source(300, SECRET).await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let s = source.clone();
        set.spawn(async move { s.token().await.map(|t| t.expose().to_string()) });
    }
    let mut tokens = std::collections::HashSet::new();
    while let Some(r) = set.join_next().await {
        tokens.insert(r.expect("task").expect("token"));
    }
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        issued.load(Ordering::SeqCst),
        1,
        "one fetch for fifty callers"
    );
}

#[tokio::test]
async fn the_token_is_refreshed_before_it_expires() {
    // Tokens live 3 s: the source takes a new one after 2 s, while the first is still valid.
    let (source, issued) = source(3, SECRET).await;
    let first = source.token().await.expect("token");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(source.token().await.expect("token"), first, "kept");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let second = source.token().await.expect("token");
    assert_ne!(second, first, "refreshed ahead of expiry");
    assert_eq!(issued.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_wrong_secret_gets_no_token_and_the_error_does_not_show_it() {
    let (source, issued) = source(300, "not-the-secret").await;
    let err = source.token().await.expect_err("refused");
    assert!(
        matches!(err, CredentialError::Refused { status: 401, .. }),
        "{err}"
    );
    assert!(!err.to_string().contains("not-the-secret"), "{err}");
    assert_eq!(issued.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_call_refused_401_is_retried_once_with_a_fresh_token() {
    let (source, issued) = source(300, SECRET).await;
    // The first token it sees is refused (as a token signed by a key since rotated out would
    // be); any other is accepted.
    let seen: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let target = {
        let seen = seen.clone();
        Router::new().route(
            "/x",
            get(move |headers: HeaderMap| {
                let seen = seen.clone();
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    let mut seen = seen.lock().expect("lock");
                    let first = seen.is_empty();
                    seen.push(auth);
                    if first {
                        Err(ecom_shared::Problem::unauthorized("expired"))
                    } else {
                        Ok(axum::Json(serde_json::json!({"ok": true})))
                    }
                }
            }),
        )
    };
    let addr = spawn(target).await.expect("spawn");
    let client = ServiceClient::new(
        "payments",
        reqwest::Client::new(),
        &format!("http://{addr}"),
        Some(source),
    );
    let v: serde_json::Value = client
        .call::<(), _>(reqwest::Method::GET, "/x", None, None)
        .await
        .expect("retried");
    assert_eq!(v["ok"], true);
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2);
    assert_ne!(seen[0], seen[1], "the retry carries a fresh token");
    assert_eq!(issued.load(Ordering::SeqCst), 2);
}
