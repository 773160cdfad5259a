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

#[tokio::test]
async fn jwks_rotation_keeps_old_tokens_valid_for_remote_verifiers() {
    let app = app().await;
    let addr = ecom_shared::testing::spawn(app.router.clone())
        .await
        .expect("spawn");
    // Another service verifying against login's JWKS over HTTP.
    let remote = Verifier::new(
        &AuthSettings {
            jwks: JwksSource::Url(format!("http://{addr}/.well-known/jwks.json")),
            issuer: Some("ecom-login".into()),
            audience: None,
        },
        reqwest::Client::new(),
    )
    .expect("verifier");
    signup(&app, "admin@example.com").await;
    let (_, t) = signin(&app, "admin@example.com", PASSWORD).await;
    let old = t["access_token"].as_str().unwrap_or_default().to_string();
    let claims = remote.verify(&old).await.expect("old token verifies");
    assert!(claims.has_role("admin"));
    let old_kid = jsonwebtoken::decode_header(&old).expect("header").kid;

    let (s, _, r) = call(
        &app.router,
        Method::POST,
        "/v1/keys/rotate",
        Some(&old),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["published"], 2);
    let (_, _, jwks) = call(
        &app.router,
        Method::GET,
        "/.well-known/jwks.json",
        None,
        None,
        &[],
    )
    .await;
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(2));
    assert!(
        jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .all(|k| k["d"].is_null()),
        "no private parts"
    );

    let (_, t) = signin(&app, "admin@example.com", PASSWORD).await;
    let new = t["access_token"].as_str().unwrap_or_default().to_string();
    let new_kid = jsonwebtoken::decode_header(&new).expect("header").kid;
    assert_ne!(old_kid, new_kid);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    remote.verify(&new).await.expect("new kid is fetched");
    remote.verify(&old).await.expect("old kid still published");
    let (s, _, _) = call(&app.router, Method::GET, "/v1/me", Some(&old), None, &[]).await;
    assert_eq!(s, StatusCode::OK);

    // Once retired, the old key is no longer published.
    sqlx::query("UPDATE signing_keys SET retire_at = now() - interval '1 second' WHERE retire_at IS NOT NULL")
        .execute(&app.db.pool).await.expect("retire");
    let keys = app.state.keys.as_ref().expect("keys");
    keys.reload(&app.db.pool, None, &app.state.kit.verifier)
        .await
        .expect("reload");
    let (s, _, _) = call(&app.router, Method::GET, "/v1/me", Some(&old), None, &[]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Customers cannot rotate.
    signup(&app, "cust@example.com").await;
    let (_, t) = signin(&app, "cust@example.com", PASSWORD).await;
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        "/v1/keys/rotate",
        t["access_token"].as_str(),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn signing_keys_are_encrypted_at_rest_when_configured() {
    use base64::Engine as _;
    let kek = Secret::new(base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
    let mut cfg = config(Mode::Local);
    cfg.kek = Some(kek.clone());
    let app = app_with(cfg.clone(), |_| {}).await;
    let (enc, kid): (bool, String) = sqlx::query_as("SELECT encrypted, kid FROM signing_keys")
        .fetch_one(&app.db.pool)
        .await
        .expect("key");
    assert!(enc);
    // A restart with the same key encryption key uses the same signing key.
    let again = state(
        CommonSettings::for_tests("login", &app.db.url),
        app.db.pool.clone(),
        cfg.clone(),
        Default::default(),
    )
    .await
    .expect("state");
    assert_eq!(again.keys.expect("keys").signer().expect("signer").kid, kid);
    // With a different one it refuses to start.
    let mut wrong = cfg;
    wrong.kek = Some(Secret::new(
        base64::engine::general_purpose::STANDARD.encode([8u8; 32]),
    ));
    assert!(state(
        CommonSettings::for_tests("login", &app.db.url),
        app.db.pool.clone(),
        wrong,
        Default::default(),
    )
    .await
    .is_err());
}

#[tokio::test]
async fn cognito_mode_only_verifies_cognito_tokens() {
    // A stand-in for Cognito's JWKS endpoint.
    let cognito = TestAuth::new();
    let jwks = ecom_shared::auth::jwks_document(&[cognito.key.jwk()]);
    let stub = Router::new().route(
        "/jwks.json",
        get(move || {
            let j = jwks.clone();
            async move { Json(j) }
        }),
    );
    let addr = ecom_shared::testing::spawn(stub).await.expect("spawn");
    let url = format!("http://{addr}/jwks.json");
    let app = app_with(config(Mode::Cognito), |s| {
        s.auth.jwks = JwksSource::Url(url.clone());
    })
    .await;
    let token = cognito.token("cognito-user-1", &["admin"]);
    let (s, _, me) = call(&app.router, Method::GET, "/v1/me", Some(&token), None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["sub"], "cognito-user-1");
    assert_eq!(me["roles"], json!(["admin"]));
    for uri in ["/v1/signup", "/v1/signin"] {
        let (s, b) = post(
            &app,
            uri,
            json!({"email": "a@example.com", "password": PASSWORD}),
        )
        .await;
        assert_eq!(
            (s, b["code"].clone()),
            (StatusCode::NOT_IMPLEMENTED, json!("cognito-mode"))
        );
    }
    let forged = TestAuth::new().token("x", &["admin"]);
    let (s, _, _) = call(&app.router, Method::GET, "/v1/me", Some(&forged), None, &[]).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[test]
fn cognito_mode_needs_a_jwks_url() {
    let env = Env::from_pairs([
        ("DATABASE_URL", "postgres://h/db"),
        ("LOGIN_MODE", "cognito"),
        ("ARGON2_MEMORY_KIB", "64"),
        ("ARGON2_ITERATIONS", "1"),
    ]);
    let common = CommonSettings::from_env("login", 8081, &env).expect("common");
    let err = LoginConfig::from_env(&env, &common).expect_err("must fail");
    assert!(err.to_string().contains("JWKS_URL"), "{err}");
    let env = Env::from_pairs([("DATABASE_URL", "postgres://h/db"), ("LOGIN_MODE", "ldap")]);
    let common = CommonSettings::from_env("login", 8081, &env).expect("common");
    assert!(LoginConfig::from_env(&env, &common).is_err());
}

fn env_with(pairs: &[(&str, &str)]) -> Result<LoginConfig, String> {
    let mut all = vec![
        ("DATABASE_URL", "postgres://h/db"),
        ("ARGON2_MEMORY_KIB", "64"),
        ("ARGON2_ITERATIONS", "1"),
    ];
    all.extend_from_slice(pairs);
    let env = Env::from_pairs(all);
    let common = CommonSettings::from_env("login", 8081, &env).map_err(|e| e.to_string())?;
    LoginConfig::from_env(&env, &common).map_err(|e| e.to_string())
}

#[test]
fn a_key_encryption_key_is_required_outside_dev() {
    for environment in ["prod", "nonprod"] {
        let err = env_with(&[("ENVIRONMENT", environment)]).expect_err("must refuse to start");
        assert!(
            err.starts_with("LOGIN_KEY_ENCRYPTION_KEY is not set"),
            "{err}"
        );
        assert!(err.contains(environment), "{err}");
    }
    let err = env_with(&[
        ("ENVIRONMENT", "prod"),
        ("LOGIN_KEY_ENCRYPTION_KEY", "c2hvcnQ="),
    ])
    .expect_err("a short key is refused");
    assert!(
        err.starts_with("LOGIN_KEY_ENCRYPTION_KEY is invalid"),
        "{err}"
    );
    assert!(
        !err.contains("c2hvcnQ="),
        "the value is never printed: {err}"
    );
    use base64::Engine as _;
    let good = base64::engine::general_purpose::STANDARD.encode([3u8; 32]);
    let cfg = env_with(&[("ENVIRONMENT", "prod"), ("LOGIN_KEY_ENCRYPTION_KEY", &good)])
        .expect("prod with a key");
    assert!(cfg.kek.is_some());
    // A laptop (ENVIRONMENT=dev, or unset) may run without one.
    assert!(env_with(&[("ENVIRONMENT", "dev")])
        .expect("dev")
        .kek
        .is_none());
    assert!(env_with(&[]).expect("unset").kek.is_none());
    // Cognito mode stores no signing keys.
    env_with(&[
        ("ENVIRONMENT", "prod"),
        ("LOGIN_MODE", "cognito"),
        ("JWKS_URL", "https://cognito.example/jwks.json"),
    ])
    .expect("cognito in prod needs no key");
}

#[tokio::test]
async fn keys_stored_in_the_clear_are_encrypted_once_a_key_is_set() {
    let app = app().await;
    let (s, t) = {
        signup(&app, "ann@example.com").await;
        signin(&app, "ann@example.com", PASSWORD).await
    };
    assert_eq!(s, StatusCode::OK);
    let (clear, kid): (Vec<u8>, String) =
        sqlx::query_as("SELECT private_key, kid FROM signing_keys")
            .fetch_one(&app.db.pool)
            .await
            .expect("key");
    use base64::Engine as _;
    let mut cfg = config(Mode::Local);
    cfg.kek = Some(Secret::new(
        base64::engine::general_purpose::STANDARD.encode([9u8; 32]),
    ));
    let again = state(
        CommonSettings::for_tests("login", &app.db.url),
        app.db.pool.clone(),
        cfg,
        Default::default(),
    )
    .await
    .expect("state");
    let rows: Vec<(Vec<u8>, bool, String)> =
        sqlx::query_as("SELECT private_key, encrypted, kid FROM signing_keys")
            .fetch_all(&app.db.pool)
            .await
            .expect("keys");
    assert_eq!(rows.len(), 1);
    assert!(rows[0].1, "encrypted now");
    assert_ne!(rows[0].0, clear);
    // The same key still signs, so tokens issued before keep working.
    let keys = again.keys.clone().expect("keys");
    assert_eq!(keys.signer().expect("signer").kid, kid);
    let router = router(again);
    let access = t["access_token"].as_str().unwrap_or_default();
    let (s, _, _) = call(&router, Method::GET, "/v1/me", Some(access), None, &[]).await;
    assert_eq!(s, StatusCode::OK);
}
