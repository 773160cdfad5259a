//! Per-service identities (issue 13, point 4): login's client-credentials grant gives each
//! calling service a short-lived token for one audience with the scopes its client is allowed
//! there, and nothing else; secrets rotate with no downtime.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum::Router;
use ecom_login::accounts::HashCost;
use ecom_login::clients::{secret_sha256, Clients};
use ecom_login::{router, state, AppState, LoginConfig, Mode, MIGRATOR};
use ecom_shared::auth::{AuthError, Verifier};
use ecom_shared::credentials::TokenSource;
use ecom_shared::identity::scopes;
use ecom_shared::settings::{AuthSettings, ClientSettings, CommonSettings, JwksSource, Secret};
use ecom_shared::testing::{call, TestDb};
use serde_json::{json, Value};

const CHEAP: HashCost = HashCost {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};
const ORDERS_OLD: &str = "orders-secret-old-0123456789abcdef";
const ORDERS_NEW: &str = "orders-secret-new-0123456789abcdef";
const FRONTEND: &str = "frontend-secret-0123456789abcdef";

fn config() -> LoginConfig {
    LoginConfig {
        mode: Mode::Local,
        issuer: "ecom-login".into(),
        audience: None,
        access_ttl_seconds: 600,
        refresh_ttl_seconds: 3600,
        cost: CHEAP,
        lockout_threshold: 3,
        lockout_seconds: 600,
        admin_emails: vec![],
        kek: None,
        dummy_hash: ecom_login::accounts::hash_password(CHEAP, "dummy-password").expect("hash"),
    }
}

/// orders with the given secrets and all its scopes; frontend allowed to authorize only.
fn clients(orders_secrets: &[&str], ttl_seconds: u64) -> Clients {
    let hashes: Vec<String> = orders_secrets.iter().map(|s| secret_sha256(s)).collect();
    let raw = json!({
        "orders": {"secret_sha256": hashes, "scopes": scopes::ORDERS},
        "frontend": {"secret_sha256": [secret_sha256(FRONTEND)], "scopes": [scopes::PAYMENTS_AUTHORIZE]},
    });
    Clients {
        by_id: Clients::parse(&raw.to_string()).expect("clients"),
        ttl_seconds,
    }
}

/// login over `db` (a fresh process each call: the way a rolling restart changes config).
async fn login(db: &TestDb, clients: Clients) -> (AppState, Router) {
    let common = CommonSettings::for_tests("login", &db.url);
    let st = state(common, db.pool.clone(), config(), clients)
        .await
        .expect("state");
    let r = router(st.clone());
    (st, r)
}

async fn db() -> TestDb {
    let db = TestDb::new().await.expect("PostgreSQL");
    MIGRATOR.run(&db.pool).await.expect("migrate");
    db
}

async fn ask(
    r: &Router,
    client: &str,
    secret: &str,
    audience: &str,
    scope: Option<&str>,
) -> (StatusCode, Value) {
    let mut body = json!({"client_id": client, "client_secret": secret, "audience": audience});
    if let Some(s) = scope {
        body["scope"] = json!(s);
    }
    let (s, h, b) = call(r, Method::POST, "/v1/service-tokens", None, Some(body), &[]).await;
    if s == StatusCode::OK {
        assert_eq!(h["cache-control"], "no-store");
    }
    (s, b)
}

/// A verifier as payments has one: login's published keys.
fn payments_verifier(st: &AppState) -> Verifier {
    let keys = st.keys.as_ref().expect("keys").published();
    let settings = AuthSettings {
        jwks: JwksSource::Inline(ecom_shared::auth::jwks_document(&keys).to_string()),
        issuer: Some("ecom-login".into()),
        audience: None,
    };
    Verifier::new(&settings, reqwest::Client::new()).expect("verifier")
}

#[tokio::test]
async fn each_client_gets_its_own_short_lived_token_for_one_audience_and_its_scopes() {
    let db = db().await;
    let (st, r) = login(&db, clients(&[ORDERS_NEW], 300)).await;
    let (s, b) = ask(&r, "orders", ORDERS_NEW, "payments", None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["expires_in"], 300);
    assert_eq!(
        b["scope"],
        "payments:authorize payments:read payments:capture payments:refund"
    );
    let v = payments_verifier(&st);
    let token = b["access_token"].as_str().expect("token");
    let c = v.verify_service(token, "payments").await.expect("valid");
    assert_eq!(
        (c.sub.as_str(), c.client_id.as_deref()),
        ("svc:orders", Some("orders"))
    );
    assert_eq!(c.exp - c.iat, 300);
    assert!(c.has_scope("payments:capture"));
    // Not a token for inventory, and not a user's token.
    assert!(matches!(
        v.verify_service(token, "inventory").await,
        Err(AuthError::WrongAudience)
    ));
    assert!(matches!(v.verify(token).await, Err(AuthError::NotAccess)));
    // ... so login's own user route refuses it.
    let (s, _, _) = call(&r, Method::GET, "/v1/me", Some(token), None, &[]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Asked-for scopes narrow the token; a scope the client lacks is refused whole.
    let (s, b) = ask(
        &r,
        "orders",
        ORDERS_NEW,
        "inventory",
        Some("inventory:write"),
    )
    .await;
    assert_eq!(
        (s, &b["scope"]),
        (StatusCode::OK, &json!("inventory:write"))
    );
    // frontend may authorize payments, and never capture or refund, nor touch inventory.
    let (s, b) = ask(&r, "frontend", FRONTEND, "payments", None).await;
    assert_eq!(
        (s, &b["scope"]),
        (StatusCode::OK, &json!("payments:authorize"))
    );
    for (aud, scope) in [
        ("payments", Some("payments:capture")),
        ("payments", Some("payments:authorize payments:refund")),
        ("inventory", None),
        ("inventory", Some("inventory:write")),
    ] {
        let (s, b) = ask(&r, "frontend", FRONTEND, aud, scope).await;
        assert_eq!(
            (s, &b["code"]),
            (StatusCode::FORBIDDEN, &json!("invalid-scope")),
            "{aud} {scope:?}"
        );
    }
    // A wrong secret, another client's secret, an unknown client: 401, the secret unsaid.
    for (client, secret) in [
        ("orders", "guess"),
        ("orders", FRONTEND),
        ("admin", ORDERS_NEW),
    ] {
        let (s, b) = ask(&r, client, secret, "payments", None).await;
        assert_eq!(
            (s, &b["code"]),
            (StatusCode::UNAUTHORIZED, &json!("invalid-client"))
        );
        assert!(!b.to_string().contains(secret), "{b}");
    }
}

#[tokio::test]
async fn a_user_access_token_is_not_a_service_token() {
    let db = db().await;
    let (st, r) = login(&db, clients(&[ORDERS_NEW], 300)).await;
    let creds = json!({"email": "admin@example.com", "password": "correct horse battery"});
    let (s, _, _) = call(
        &r,
        Method::POST,
        "/v1/signup",
        None,
        Some(creds.clone()),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, _, t) = call(&r, Method::POST, "/v1/signin", None, Some(creds), &[]).await;
    let access = t["access_token"].as_str().expect("access token");
    let v = payments_verifier(&st);
    assert!(v.verify(access).await.is_ok());
    assert!(matches!(
        v.verify_service(access, "payments").await,
        Err(AuthError::NotService)
    ));
}

#[tokio::test]
async fn a_secret_rotates_without_downtime() {
    let db = db().await;
    // Step 1: login knows the old and the new secret; orders still uses the old one.
    let (st, before) = login(&db, clients(&[ORDERS_OLD, ORDERS_NEW], 300)).await;
    let (s, old_grant) = ask(&before, "orders", ORDERS_OLD, "payments", None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = ask(&before, "orders", ORDERS_NEW, "payments", None).await;
    assert_eq!(s, StatusCode::OK, "both are accepted at once");
    // Step 2: orders moved to the new secret; login drops the old one (a restart with the
    // new configuration, on the same keys).
    let (_, after) = login(&db, clients(&[ORDERS_NEW], 300)).await;
    let (s, b) = ask(&after, "orders", ORDERS_OLD, "payments", None).await;
    assert_eq!(
        (s, &b["code"]),
        (StatusCode::UNAUTHORIZED, &json!("invalid-client"))
    );
    let (s, _) = ask(&after, "orders", ORDERS_NEW, "payments", None).await;
    assert_eq!(s, StatusCode::OK);
    // A token the old secret got before keeps working until it expires.
    let in_flight = old_grant["access_token"].as_str().expect("token");
    let c = payments_verifier(&st)
        .verify_service(in_flight, "payments")
        .await
        .expect("still valid");
    assert!(c.has_scope("payments:capture"));
}

#[tokio::test]
async fn the_token_source_refreshes_from_login_before_expiry() {
    let db = db().await;
    // Tokens live 10 s (the shortest login issues): refreshed after about 6.7 s.
    let (st, r) = login(&db, clients(&[ORDERS_NEW], 10)).await;
    let addr = ecom_shared::testing::spawn(r).await.expect("spawn");
    let client = ClientSettings {
        id: "orders".into(),
        secret: Secret::new(ORDERS_NEW),
        login_url: format!("http://{addr}"),
    };
    let source = TokenSource::new(reqwest::Client::new(), &client, "payments");
    let v = payments_verifier(&st);
    let first = source.token().await.expect("token");
    let mut seen = vec![first.clone()];
    // Every 250 ms for 8 s, a token is asked for and checked as payments would: each is valid
    // (none is ever used expired), and a new one arrives before the first expires.
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(8) {
        let t = source.token().await.expect("token");
        let c = v
            .verify_service(t.expose(), "payments")
            .await
            .expect("valid");
        assert!(c.exp > ecom_shared::unix_now(), "never an expired token");
        if seen.last() != Some(&t) {
            seen.push(t);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(seen.len(), 2, "refreshed once, ahead of expiry");
}

#[test]
fn the_clients_and_the_token_lifetime_are_read_from_the_environment() {
    let raw =
        json!({"orders": {"secret_sha256": [secret_sha256("s")], "scopes": ["inventory:write"]}})
            .to_string();
    let env = ecom_shared::settings::Env::from_pairs([
        ("LOGIN_SERVICE_CLIENTS", raw.as_str()),
        ("LOGIN_SERVICE_TOKEN_TTL_SECONDS", "120"),
    ]);
    let c = Clients::from_env(&env).expect("clients");
    assert_eq!(c.ttl_seconds, 120);
    assert_eq!(c.by_id["orders"].scopes, ["inventory:write"]);
    let env =
        ecom_shared::settings::Env::from_pairs([("LOGIN_SERVICE_TOKEN_TTL_SECONDS", "86400")]);
    let err = Clients::from_env(&env).expect_err("too long");
    assert!(
        err.to_string().contains("LOGIN_SERVICE_TOKEN_TTL_SECONDS"),
        "{err}"
    );
}
