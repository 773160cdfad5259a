use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use ecom_login::accounts::HashCost;
use ecom_login::{openapi, router, state, AppState, LoginConfig, Mode, MIGRATOR};
use ecom_shared::auth::Verifier;
use ecom_shared::settings::{AuthSettings, CommonSettings, Env, JwksSource, Secret};
use ecom_shared::testing::{assert_documented_routes_exist, call, TestAuth, TestDb};
use serde_json::{json, Value};

#[path = "login/keys.rs"]
mod keys;

const CHEAP: HashCost = HashCost {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};
const PASSWORD: &str = "correct horse battery";

fn config(mode: Mode) -> LoginConfig {
    LoginConfig {
        mode,
        issuer: "ecom-login".into(),
        audience: None,
        access_ttl_seconds: 600,
        refresh_ttl_seconds: 3600,
        cost: CHEAP,
        lockout_threshold: 3,
        lockout_seconds: 600,
        admin_emails: vec!["admin@example.com".into()],
        kek: None,
        dummy_hash: ecom_login::accounts::hash_password(CHEAP, "dummy-password").expect("hash"),
    }
}

struct App {
    db: TestDb,
    state: AppState,
    router: Router,
}

async fn app_with(cfg: LoginConfig, tweak: impl FnOnce(&mut CommonSettings)) -> App {
    let db = TestDb::new().await.expect("PostgreSQL");
    MIGRATOR.run(&db.pool).await.expect("migrate");
    let mut common = CommonSettings::for_tests("login", &db.url);
    tweak(&mut common);
    let state = state(common, db.pool.clone(), cfg, Default::default())
        .await
        .expect("state");
    let router = router(state.clone());
    App { db, state, router }
}

async fn app() -> App {
    app_with(config(Mode::Local), |_| {}).await
}

async fn post(app: &App, uri: &str, body: Value) -> (StatusCode, Value) {
    let (s, _, b) = call(&app.router, Method::POST, uri, None, Some(body), &[]).await;
    (s, b)
}

async fn signup(app: &App, email: &str) {
    let (s, b) = post(
        app,
        "/v1/signup",
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

/// A sign-in's whole answer: status, headers and body.
async fn signin_answer(
    app: &App,
    email: &str,
    password: &str,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let body = json!({"email": email, "password": password});
    call(
        &app.router,
        Method::POST,
        "/v1/signin",
        None,
        Some(body),
        &[],
    )
    .await
}

async fn signin(app: &App, email: &str, password: &str) -> (StatusCode, Value) {
    post(
        app,
        "/v1/signin",
        json!({"email": email, "password": password}),
    )
    .await
}

#[tokio::test]
async fn openapi_is_served_and_every_route_is_mounted() {
    let app = app().await;
    let (s, _, doc) = call(&app.router, Method::GET, "/openapi.json", None, None, &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["paths"]["/.well-known/jwks.json"]["get"].is_object());
    assert_documented_routes_exist(&app.router, &openapi()).await;
}

#[tokio::test]
async fn signup_signin_me() {
    let app = app().await;
    signup(&app, "Ann@Example.com").await;
    let (s, b) = post(
        &app,
        "/v1/signup",
        json!({"email": "bob@example.com", "password": "short"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, _) = post(
        &app,
        "/v1/signup",
        json!({"email": "not-an-email", "password": PASSWORD}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    let (s, h, t) = signin_answer(&app, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::OK, "{t}");
    assert_eq!(
        h["cache-control"], "no-store",
        "token answers are never cached"
    );
    assert_eq!(t["token_type"], "Bearer");
    let access = t["access_token"].as_str().unwrap_or_default();
    let (s, _, me) = call(&app.router, Method::GET, "/v1/me", Some(access), None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["email"], "ann@example.com");
    assert_eq!(me["roles"], json!(["customer"]));
    let (s, _, _) = call(&app.router, Method::GET, "/v1/me", None, None, &[]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The stored hash is argon2id.
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM accounts")
        .fetch_one(&app.db.pool)
        .await
        .expect("hash");
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert!(!hash.contains(PASSWORD));
}

#[tokio::test]
async fn wrong_and_unknown_look_the_same_and_repeated_failures_lock() {
    let app = app().await;
    signup(&app, "ann@example.com").await;
    let (s1, b1) = signin(&app, "ann@example.com", "wrong password!!").await;
    let (s2, b2) = signin(&app, "nobody@example.com", "wrong password!!").await;
    assert_eq!(
        (s1, s2),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        b1, b2,
        "no way to tell an unknown email from a wrong password"
    );
    signin(&app, "ann@example.com", "wrong password!!").await;
    signin(&app, "ann@example.com", "wrong password!!").await;
    // Locked now: even the right password is refused.
    let (s, _, b) = signin_answer(&app, "ann@example.com", PASSWORD).await;
    assert_eq!(
        (s, b["code"].clone()),
        (StatusCode::LOCKED, json!("account-locked"))
    );
    let (_, headers, _) = signin_answer(&app, "ann@example.com", PASSWORD).await;
    assert!(headers.contains_key("retry-after"));
    // When the lock has passed, the right password works and resets the count.
    sqlx::query("UPDATE signin_throttle SET locked_until = now() - interval '1 second'")
        .execute(&app.db.pool)
        .await
        .expect("unlock");
    let (s, _) = signin(&app, "ann@example.com", PASSWORD).await;
    assert_eq!(s, StatusCode::OK);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM signin_throttle")
        .fetch_one(&app.db.pool)
        .await
        .expect("n");
    assert_eq!(
        n, 1,
        "a right password forgets ann's failures (nobody@'s one attempt stays)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_passwords_check_at_most_the_threshold() {
    let app = app().await;
    signup(&app, "ann@example.com").await;
    let tries = (0..15).map(|_| {
        let router = app.router.clone();
        tokio::spawn(async move {
            let body = json!({"email": "ann@example.com", "password": "wrong password!!"});
            call(&router, Method::POST, "/v1/signin", None, Some(body), &[]).await
        })
    });
    let mut checked = 0;
    for t in tries.collect::<Vec<_>>() {
        let (s, _, b) = t.await.expect("task");
        match s {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::LOCKED => assert_eq!(b["code"], "account-locked"),
            other => panic!("unexpected {other}: {b}"),
        }
    }
    // The test config locks after 3: fifteen at once still check at most 3 passwords.
    assert!(checked <= 3, "{checked} passwords checked");
    assert!(checked >= 1);
    let (s, _) = signin(&app, "ann@example.com", PASSWORD).await;
    assert_eq!(
        s,
        StatusCode::LOCKED,
        "the right password waits out the lock"
    );
}

#[tokio::test]
async fn unknown_emails_lock_like_accounts() {
    let app = app().await;
    signup(&app, "ann@example.com").await;
    let mut seen = Vec::new();
    for email in ["ann@example.com", "nobody@example.com"] {
        let mut answers = Vec::new();
        for _ in 0..5 {
            let (s, b) = signin(&app, email, "wrong password!!").await;
            answers.push((s, b["code"].clone(), b["detail"].clone()));
        }
        seen.push(answers);
    }
    assert_eq!(
        seen[0], seen[1],
        "a locked account looks like a locked unknown email"
    );
    assert_eq!(seen[0][3].0, StatusCode::LOCKED);
    // The email itself is never stored for unknown addresses, only its hash.
    let rows = ecom_shared::testing::tables_containing(&app.db.pool, "nobody@example.com").await;
    assert!(rows.is_empty(), "{rows:?}");
}

#[tokio::test]
async fn signup_of_a_taken_email_answers_like_a_new_one() {
    let app = app().await;
    let body = |p: &str| json!({"email": "ann@example.com", "password": p});
    let (s1, first) = post(&app, "/v1/signup", body(PASSWORD)).await;
    let (s2, second) = post(&app, "/v1/signup", body("another long password")).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&first), keys(&second));
    assert_eq!(
        (&first["email"], &first["roles"]),
        (&second["email"], &second["roles"])
    );
    assert_ne!(first["id"], second["id"]);
    // The account and its password are unchanged.
    assert_eq!(
        signin(&app, "ann@example.com", PASSWORD).await.0,
        StatusCode::OK
    );
    assert_eq!(
        signin(&app, "ann@example.com", "another long password")
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts")
        .fetch_one(&app.db.pool)
        .await
        .expect("n");
    assert_eq!(n, 1);
}

#[tokio::test]
async fn signin_is_rate_limited() {
    let app = app_with(config(Mode::Local), |s| {
        s.rate_limit_per_second = 0.1;
        s.rate_limit_burst = 3.0;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            signin(&app, "x@example.com", "whatever pass").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (s, b) = signin(&app, "x@example.com", "whatever pass").await;
    assert_eq!(
        (s, b["code"].clone()),
        (StatusCode::TOO_MANY_REQUESTS, json!("rate-limited"))
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = app().await;
    signup(&app, "ann@example.com").await;
    let (_, t1) = signin(&app, "ann@example.com", PASSWORD).await;
    let r1 = t1["refresh_token"].clone();
    let (s, t2) = post(&app, "/v1/refresh", json!({"refresh_token": r1})).await;
    assert_eq!(s, StatusCode::OK, "{t2}");
    assert_ne!(t2["refresh_token"], r1);
    // r1 again: stolen. Its family, including t2's token, is revoked.
    let (s, b) = post(&app, "/v1/refresh", json!({"refresh_token": r1})).await;
    assert_eq!(
        (s, b["code"].clone()),
        (StatusCode::UNAUTHORIZED, json!("invalid-refresh-token"))
    );
    let (s, _) = post(
        &app,
        "/v1/refresh",
        json!({"refresh_token": t2["refresh_token"]}),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Sign-out revokes the session.
    let (_, t3) = signin(&app, "ann@example.com", PASSWORD).await;
    let (s, _) = post(
        &app,
        "/v1/signout",
        json!({"refresh_token": t3["refresh_token"]}),
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = post(
        &app,
        "/v1/refresh",
        json!({"refresh_token": t3["refresh_token"]}),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = post(&app, "/v1/refresh", json!({"refresh_token": "rt_garbage"})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Refresh tokens are stored hashed.
    let raw = t3["refresh_token"].as_str().unwrap_or_default();
    assert!(ecom_shared::testing::tables_containing(&app.db.pool, raw)
        .await
        .is_empty());
}
