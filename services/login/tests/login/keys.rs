//! Signing keys: JWKS rotation, encryption at rest and the key encryption key, Cognito mode.

use super::*;

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
