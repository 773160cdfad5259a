//! Every answer is problem+json when it is an error, never repeats what was sent, never shows
//! PostgreSQL's or a library's text, and carries `X-Content-Type-Options: nosniff`.

use axum::extract::{Query, State};
use axum::http::{Method, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use ecom_shared::app::{finish, Kit};
use ecom_shared::auth::{AuthUser, Claims};
use ecom_shared::openapi::ApiDoc;
use ecom_shared::problem::from_db_error;
use ecom_shared::settings::CommonSettings;
use ecom_shared::testing::{call, call_raw, TestAuth, TestDb};
use serde::Deserialize;

const CARD: &str = "4242424242424242";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Card {
    number: String,
    exp_month: i16,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Page {
    limit: i64,
}

async fn app(db: &TestDb, auth: &TestAuth) -> Router {
    let mut settings = CommonSettings::for_tests("demo", &db.url);
    auth.trust(&mut settings);
    let kit = Kit::from_pool(settings, db.pool.clone()).expect("kit");
    let api = Router::new()
        .route("/v1/cards", post(|Json(_c): Json<Card>| async { "ok" }))
        .route("/v1/page", get(|Query(_p): Query<Page>| async { "ok" }))
        .route(
            "/v1/echo",
            get(
                |State(kit): State<Kit>,
                 Query(p): Query<std::collections::HashMap<String, String>>| async move {
                    let text = p.get("text").cloned().unwrap_or_default();
                    sqlx::query_scalar::<_, String>("SELECT $1::text")
                        .bind(text)
                        .fetch_one(&kit.pool)
                        .await
                        .map_err(|e| from_db_error(&e))
                },
            ),
        )
        .route("/v1/me", get(|u: AuthUser| async move { u.0.sub }))
        .with_state(kit.clone());
    finish(api, &kit, &ApiDoc::new("demo", "1"))
}

fn problem(headers: &axum::http::HeaderMap, body: &str) -> serde_json::Value {
    assert_eq!(
        headers["content-type"], "application/problem+json",
        "{body}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test]
async fn body_errors_are_problems_that_never_echo_the_input() {
    let db = TestDb::new().await.expect("database");
    let router = app(&db, &TestAuth::new()).await;
    let json = Some("application/json");
    let cases: [(&[u8], Option<&str>, u16, &str); 5] = [
        // A card number sent as a JSON number: today's text named it.
        (
            br#"{"number": 4242424242424242, "exp_month": 1}"#,
            json,
            422,
            "validation",
        ),
        (
            br#"{"number": "4242424242424242", "exp_month": "x"}"#,
            json,
            422,
            "validation",
        ),
        (
            br#"{"number": "4242424242424242", "exp_month": 1, "4242424242424242": 1}"#,
            json,
            422,
            "validation",
        ),
        (
            br#"{"number": "4242424242424242""#,
            json,
            400,
            "malformed-json",
        ),
        (
            br#"{"number": "4242424242424242", "exp_month": 1}"#,
            None,
            415,
            "unsupported-media-type",
        ),
    ];
    for (body, ct, status, code) in cases {
        let (s, h, text) = call_raw(&router, Method::POST, "/v1/cards", ct, body.to_vec()).await;
        assert_eq!(s.as_u16(), status, "{text}");
        let p = problem(&h, &text);
        assert_eq!(p["code"], code, "{text}");
        assert!(!text.contains(CARD), "the input is echoed: {text}");
    }
    let (s, h, text) = call_raw(
        &router,
        Method::POST,
        "/v1/cards",
        json,
        vec![b' '; 3 << 20],
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(problem(&h, &text)["code"], "too-large");
    // A method the route does not answer, and a query that does not parse.
    let (s, h, text) = call_raw(&router, Method::DELETE, "/v1/cards", None, Vec::new()).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(problem(&h, &text)["code"], "method-not-allowed");
    assert!(h.contains_key("allow"));
    let (s, h, text) = call_raw(
        &router,
        Method::GET,
        "/v1/page?limit=4242424242424242x",
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(!problem(&h, &text).to_string().contains(CARD), "{text}");
    // Successes carry the header too.
    let (s, h, _) = call_raw(&router, Method::GET, "/v1/page?limit=5", None, Vec::new()).await;
    assert_eq!(
        (s, &h["x-content-type-options"]),
        (StatusCode::OK, &"nosniff".parse().expect("hv"))
    );
}

#[tokio::test]
async fn database_errors_never_show_postgresql_text() {
    let db = TestDb::new().await.expect("database");
    let router = app(&db, &TestAuth::new()).await;
    // A NUL byte is refused by PostgreSQL with a message naming the encoding and the byte.
    let (s, h, text) = call_raw(
        &router,
        Method::GET,
        "/v1/echo?text=a%00b",
        None,
        Vec::new(),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{text}");
    let p = problem(&h, &text);
    for leak in ["UTF8", "0x00", "byte sequence", "invalid input"] {
        assert!(!text.contains(leak), "{leak} in {p}");
    }
}

#[tokio::test]
async fn tokens_need_the_issuer_and_access_use_and_errors_stay_generic() {
    let db = TestDb::new().await.expect("database");
    let auth = TestAuth::new();
    let router = app(&db, &auth).await;
    let (s, _, _) = call(
        &router,
        Method::GET,
        "/v1/me",
        Some(&auth.token("u", &[])),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let mint = |iss: Option<&str>, token_use: Option<&str>| {
        let now = ecom_shared::unix_now();
        auth.key
            .sign(&Claims {
                sub: "u".into(),
                exp: now + 600,
                iat: now,
                iss: iss.map(str::to_string),
                aud: None,
                email: None,
                roles: vec![],
                token_use: token_use.map(str::to_string),
                ..Claims::default()
            })
            .expect("sign")
    };
    for (iss, token_use) in [
        (Some("someone-else"), Some("access")),
        (None, Some("access")),
        (Some("ecom-login"), Some("id")),
        (Some("ecom-login"), Some("refresh")),
        (Some("ecom-login"), None),
    ] {
        let (s, _, b) = call(
            &router,
            Method::GET,
            "/v1/me",
            Some(&mint(iss, token_use)),
            None,
            &[],
        )
        .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{iss:?} {token_use:?}: {b}");
    }
    let (s, h, text) = call_raw(&router, Method::GET, "/v1/me", None, Vec::new()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    problem(&h, &text);
    for garbage in ["not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
        let (s, _, b) = call(&router, Method::GET, "/v1/me", Some(garbage), None, &[]).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let detail = b["detail"].as_str().unwrap_or_default();
        assert_eq!(
            detail, "the bearer token is missing, invalid or expired",
            "{b}"
        );
    }
}
