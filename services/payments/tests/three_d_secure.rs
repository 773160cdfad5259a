//! 3-D Secure: a card that asks for it is `requires_action` with a challenge; the answer
//! authorizes (or, for a sale, captures) or declines it, once; an unanswered one is voided.

use axum::http::{Method, StatusCode};
use ecom_payments::{router, AppState, MIGRATOR};
use ecom_shared::testing::{call, orders_token, TestApp, TestAuth};
use serde_json::{json, Value};

const CARD_3DS: &str = "4000000000003220";
const CUSTOMER: &str = "cust-1";

ecom_shared::test_app_type!(App);

async fn app() -> App {
    App(
        TestApp::start("payments", &MIGRATOR, TestAuth::shared(), |kit| {
            router(AppState::new(kit))
        })
        .await,
    )
}

impl App {
    async fn token(&self, card: &str) -> String {
        let user = self.auth.token(CUSTOMER, &["customer"]);
        let (s, _, b) = call(
            &self.router,
            Method::POST,
            "/v1/tokens",
            Some(&user),
            Some(json!({"number": card, "exp_month": 12, "exp_year": 2040, "cvc": "123"})),
            &[],
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        b["token"].as_str().unwrap_or_default().to_string()
    }

    async fn pay(&self, key: &str, token: &str, capture: bool) -> (StatusCode, Value) {
        let (s, _, b) = call(
            &self.router,
            Method::POST,
            "/v1/payments",
            Some(&orders_token("payments")),
            Some(
                json!({"customer": CUSTOMER, "token": token, "amount_minor": 700,
                        "currency": "EUR", "order_ref": "o-1", "capture": capture}),
            ),
            &[("idempotency-key", key)],
        )
        .await;
        (s, b)
    }

    async fn post(&self, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (s, _, b) = call(
            &self.router,
            Method::POST,
            path,
            Some(&orders_token("payments")),
            body,
            &[],
        )
        .await;
        (s, b)
    }

    async fn events(&self, kind: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM payment_events WHERE kind = $1")
            .bind(kind)
            .fetch_one(&self.db.pool)
            .await
            .expect("count")
    }
}

fn challenge(p: &Value) -> String {
    assert_eq!(p["status"], "requires_action", "{p}");
    assert_eq!(p["action"]["type"], "3ds_challenge", "{p}");
    p["action"]["challenge_id"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_passed_challenge_captures_a_sale_once() {
    let app = app().await;
    let token = app.token(CARD_3DS).await;
    let (s, p) = app.pay("k1", &token, true).await;
    assert_eq!(s, StatusCode::CREATED, "{p}");
    let ch = challenge(&p);
    assert!(ch.starts_with("ch_") && ch.len() > 20, "{ch}");
    let id = p["id"].as_str().unwrap_or_default();
    // The same key answers with the same challenge.
    let (s, again) = app.pay("k1", &token, true).await;
    assert_eq!((s, challenge(&again)), (StatusCode::OK, ch.clone()));

    let path = format!("/v1/payments/{id}/3ds");
    // Someone else's challenge id moves nothing.
    let (s, b) = app
        .post(
            &path,
            Some(json!({"challenge_id": "ch_guess", "result": "succeeded"})),
        )
        .await;
    assert_eq!(
        (s, b["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("validation"))
    );
    let (s, b) = app
        .post(
            &path,
            Some(json!({"challenge_id": ch, "result": "succeeded"})),
        )
        .await;
    assert_eq!(
        (s, b["status"].clone()),
        (StatusCode::OK, json!("captured")),
        "{b}"
    );
    assert!(b.get("action").is_none(), "{b}");
    assert_eq!(b["decline_code"], Value::Null);
    // Answered twice (even the other way): the payment as it is, nothing recorded again.
    let (s, b) = app
        .post(&path, Some(json!({"challenge_id": ch, "result": "failed"})))
        .await;
    assert_eq!(
        (s, b["status"].clone()),
        (StatusCode::OK, json!("captured"))
    );
    assert_eq!(
        (app.events("authorized").await, app.events("captured").await),
        (1, 1)
    );
    // A captured payment cannot be voided; its challenge is over.
    let (s, _) = app.post(&format!("/v1/payments/{id}/void"), None).await;
    assert_eq!(s, StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_failed_challenge_declines_and_an_authorization_stays_uncaptured() {
    let app = app().await;
    let token = app.token(CARD_3DS).await;
    let (_, p) = app.pay("k1", &token, false).await;
    let ch = challenge(&p);
    let id = p["id"].as_str().unwrap_or_default();
    let (s, b) = app
        .post(
            &format!("/v1/payments/{id}/3ds"),
            Some(json!({"challenge_id": ch, "result": "failed"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["status"].clone(), b["decline_code"].clone()),
        (json!("declined"), json!("authentication_failed"))
    );
    assert_eq!(app.events("declined").await, 1);

    // Not a sale: a passed challenge authorizes, and capture is a separate step.
    let (_, p) = app.pay("k2", &token, false).await;
    let ch = challenge(&p);
    let id = p["id"].as_str().unwrap_or_default();
    let (_, b) = app
        .post(
            &format!("/v1/payments/{id}/3ds"),
            Some(json!({"challenge_id": ch, "result": "succeeded"})),
        )
        .await;
    assert_eq!(b["status"], "authorized", "{b}");
    assert_eq!(app.events("captured").await, 0);
}

#[tokio::test]
async fn an_unanswered_challenge_is_voided_and_cannot_be_answered_after() {
    let app = app().await;
    let token = app.token(CARD_3DS).await;
    let (_, p) = app.pay("k1", &token, true).await;
    let ch = challenge(&p);
    let id = p["id"].as_str().unwrap_or_default();
    let (s, b) = app.post(&format!("/v1/payments/{id}/void"), None).await;
    assert_eq!(
        (s, b["status"].clone()),
        (StatusCode::OK, json!("voided")),
        "{b}"
    );
    let (s, b) = app
        .post(
            &format!("/v1/payments/{id}/3ds"),
            Some(json!({"challenge_id": ch, "result": "succeeded"})),
        )
        .await;
    assert_eq!(
        (s, b["status"].clone()),
        (StatusCode::OK, json!("voided")),
        "{b}"
    );
    assert_eq!(app.events("captured").await, 0);

    // A payment that never asked for a challenge has none to answer.
    let token = app.token("4242424242424242").await;
    let (_, p) = app.pay("k2", &token, false).await;
    let id = p["id"].as_str().unwrap_or_default();
    let (s, b) = app
        .post(
            &format!("/v1/payments/{id}/3ds"),
            Some(json!({"challenge_id": ch, "result": "succeeded"})),
        )
        .await;
    assert_eq!(
        (s, b["code"].clone()),
        (StatusCode::CONFLICT, json!("wrong-state")),
        "{b}"
    );
    // Unknown payments and bodies that are not an answer.
    let (s, _) = app
        .post(
            &format!("/v1/payments/{}/3ds", uuid::Uuid::new_v4()),
            Some(json!({"challenge_id": ch, "result": "succeeded"})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .post(
            &format!("/v1/payments/{id}/3ds"),
            Some(json!({"challenge_id": ch, "result": "maybe"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Service callers only.
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        &format!("/v1/payments/{id}/3ds"),
        None,
        Some(json!({"challenge_id": ch, "result": "succeeded"})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[test]
fn the_document_lists_the_challenge_route() {
    let doc = ecom_payments::openapi().to_json();
    let answer = &doc["paths"]["/v1/payments/{id}/3ds"]["post"];
    for code in ["200", "404", "409", "422"] {
        assert!(answer["responses"][code].is_object(), "{code}: {answer}");
    }
    assert_eq!(
        answer["requestBody"]["content"]["application/json"]["schema"]["additionalProperties"],
        json!(false)
    );
}
