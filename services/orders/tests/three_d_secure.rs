//! 3-D Secure checkouts: the payment asks for a challenge, the order waits for the customer's
//! answer (202 with the action), and the saga goes on from it: confirmed after a passed
//! challenge, compensated after a failed one or when nobody answers in time.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum::Router;
use ecom_orders::{router, saga};
use ecom_shared::testing::call;
use serde_json::{json, Value};
use support::{platform, Platform, CARD_OK};

const CARD_3DS: &str = "4000000000003220";

impl Platform {
    /// `user` answers their order's challenge.
    async fn answer(
        &self,
        router: &Router,
        user: &str,
        order: &str,
        challenge: &str,
        result: &str,
    ) -> (StatusCode, Value) {
        let jwt = self.auth.token(user, &["customer"]);
        let (s, _, b) = call(
            router,
            Method::POST,
            &format!("/v1/orders/{order}/3ds"),
            Some(&jwt),
            Some(json!({"challenge_id": challenge, "result": result})),
            &[],
        )
        .await;
        (s, b)
    }

    async fn payments_in(&self, status: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM payments WHERE status = $1")
            .bind(status)
            .fetch_one(&self.payments_db.pool)
            .await
            .expect("count")
    }

    async fn order_row(&self) -> (String, Option<String>) {
        sqlx::query_as("SELECT status, failure_code FROM orders")
            .fetch_one(&self.orders_db.pool)
            .await
            .expect("order")
    }
}

/// The checkout's 202: the order awaiting the customer, and its challenge.
fn awaiting(s: StatusCode, b: &Value) -> (String, String) {
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    assert_eq!(b["status"], "awaiting_action", "{b}");
    assert_eq!(b["payment"]["status"], "requires_action", "{b}");
    let action = &b["action"];
    assert_eq!(action["type"], "3ds_challenge", "{b}");
    let id = b["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(action["complete"], format!("/v1/orders/{id}/3ds"));
    assert!(action["expires_at"].is_string(), "{b}");
    let challenge = action["challenge_id"].as_str().unwrap_or_default();
    assert!(challenge.starts_with("ch_"), "{b}");
    (id, challenge.to_string())
}

fn items() -> Value {
    json!([{"sku": "A", "quantity": 1}])
}

#[tokio::test]
async fn a_challenged_checkout_is_confirmed_after_the_answer_once() {
    let p = Arc::new(platform(&[("A", 3, 1000)]).await);
    let token = p.token(CARD_3DS).await;
    let (s, first) = p.checkout(&p.orders, "u", "k", &token, items()).await;
    let (id, challenge) = awaiting(s, &first);
    assert_eq!(
        p.stock("A").await,
        (3, 1),
        "held while the customer answers"
    );
    assert_eq!(p.payments_in("requires_action").await, 1);
    // The order shows what is awaited; a retried checkout gets the same answer.
    let jwt = p.auth.token("u", &["customer"]);
    let path = format!("/v1/orders/{id}");
    let (s, _, got) = call(&p.orders, Method::GET, &path, Some(&jwt), None, &[]).await;
    assert_eq!((s, &got["action"]), (StatusCode::OK, &first["action"]));
    let (s, again) = p.checkout(&p.orders, "u", "k", &token, items()).await;
    assert_eq!((s, &again), (StatusCode::ACCEPTED, &first));

    // Two answers at once: one outcome, one charge.
    let answers = (0..2).map(|_| {
        let (p, id, challenge) = (p.clone(), id.clone(), challenge.clone());
        tokio::spawn(async move { p.answer(&p.orders, "u", &id, &challenge, "succeeded").await })
    });
    let mut bodies = Vec::new();
    for a in answers {
        let (s, b) = a.await.expect("task");
        assert_eq!(s, StatusCode::OK, "{b}");
        bodies.push(b);
    }
    assert_eq!(bodies[0], bodies[1]);
    let confirmed = &bodies[0];
    assert_eq!(confirmed["status"], "confirmed", "{confirmed}");
    assert_eq!(confirmed["payment"]["status"], "captured");
    assert!(confirmed.get("action").is_none(), "{confirmed}");
    assert_eq!(p.stock("A").await, (2, 0), "stock committed");
    assert_eq!(p.payments_in("captured").await, 1);

    // Answered again, even the other way: the same outcome; the checkout's key too.
    let (s, b) = p.answer(&p.orders, "u", &id, &challenge, "failed").await;
    assert_eq!((s, &b), (StatusCode::OK, confirmed));
    let (s, b) = p.checkout(&p.orders, "u", "k", &token, items()).await;
    assert_eq!((s, &b), (StatusCode::CREATED, confirmed));
    let captures: i64 =
        sqlx::query_scalar("SELECT count(*) FROM payment_events WHERE kind = 'captured'")
            .fetch_one(&p.payments_db.pool)
            .await
            .expect("count");
    assert_eq!(captures, 1, "charged once");
    assert_eq!(
        Platform::count(&p.payments_db, "SELECT count(*) FROM payments").await,
        1
    );
}

#[tokio::test]
async fn a_failed_challenge_is_declined_and_compensated() {
    let p = platform(&[("A", 3, 1000)]).await;
    let token = p.token(CARD_3DS).await;
    let (s, b) = p.checkout(&p.orders, "u", "k", &token, items()).await;
    let (id, challenge) = awaiting(s, &b);
    let (s, declined) = p.answer(&p.orders, "u", &id, &challenge, "failed").await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED, "{declined}");
    assert_eq!(declined["code"], "payment-declined");
    assert!(
        declined["detail"]
            .as_str()
            .is_some_and(|d| d.contains("authentication_failed")),
        "{declined}"
    );
    assert_eq!(p.stock("A").await, (3, 0), "reservation released");
    assert_eq!(p.payments_in("declined").await, 1);
    assert_eq!(p.payments_in("captured").await, 0);
    assert_eq!(
        p.order_row().await,
        ("failed".into(), Some("payment-declined".into()))
    );
    // The same outcome for the answer given again and the checkout retried.
    let (s, b) = p.answer(&p.orders, "u", &id, &challenge, "succeeded").await;
    assert_eq!((s, &b), (StatusCode::PAYMENT_REQUIRED, &declined));
    let (s, b) = p.checkout(&p.orders, "u", "k", &token, items()).await;
    assert_eq!((s, &b), (StatusCode::PAYMENT_REQUIRED, &declined));
    assert_eq!(p.payments_in("captured").await, 0);
}

#[tokio::test]
async fn an_unanswered_challenge_is_voided_and_compensated_after_the_timeout() {
    let p = platform(&[("A", 3, 1000)]).await;
    let mut st = p.state.clone();
    st.action_timeout = Duration::from_millis(400);
    let orders = router(st.clone());
    let token = p.token(CARD_3DS).await;
    let (s, b) = p.checkout(&orders, "u", "k", &token, items()).await;
    let (id, challenge) = awaiting(s, &b);
    // Before the deadline the sweep leaves it waiting.
    assert_eq!(saga::recover(&st).await.expect("recover"), 0);
    assert_eq!(p.stock("A").await, (3, 1));
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The recovery sweep times it out: payment voided, reservation released, order failed.
    assert_eq!(saga::recover(&st).await.expect("recover"), 1);
    assert_eq!(p.stock("A").await, (3, 0));
    assert_eq!(p.payments_in("voided").await, 1);
    assert_eq!(
        p.order_row().await,
        ("failed".into(), Some("action-expired".into()))
    );
    // An answer after the deadline gets the timeout's outcome and charges nothing.
    let (s, late) = p.answer(&orders, "u", &id, &challenge, "succeeded").await;
    assert_eq!(s, StatusCode::PAYMENT_REQUIRED, "{late}");
    assert_eq!(late["code"], "action-expired");
    let (s, b) = p.checkout(&orders, "u", "k", &token, items()).await;
    assert_eq!((s, &b), (StatusCode::PAYMENT_REQUIRED, &late));
    assert_eq!(p.payments_in("captured").await, 0);
    assert_eq!(p.payments_in("voided").await, 1);

    // Without a sweep, a retried checkout after the deadline times it out itself.
    let (s, b) = p.checkout(&orders, "u", "k2", &token, items()).await;
    awaiting(s, &b);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (s, b) = p.checkout(&orders, "u", "k2", &token, items()).await;
    assert_eq!(
        (s, &b["code"]),
        (StatusCode::PAYMENT_REQUIRED, &json!("action-expired"))
    );
    assert_eq!(p.stock("A").await, (3, 0));
    assert_eq!(p.payments_in("voided").await, 2);
}

#[tokio::test]
async fn only_the_customer_answers_their_challenge() {
    let p = platform(&[("A", 3, 1000)]).await;
    let token = p.token(CARD_3DS).await;
    let (s, b) = p.checkout(&p.orders, "u", "k", &token, items()).await;
    let (id, challenge) = awaiting(s, &b);
    // Someone else's order does not exist for them, challenge id or not.
    let (s, b) = p
        .answer(&p.orders, "mallory", &id, &challenge, "succeeded")
        .await;
    assert_eq!(
        (s, &b["code"]),
        (StatusCode::NOT_FOUND, &json!("not-found")),
        "{b}"
    );
    // The customer with a challenge id that is not the order's.
    let (s, b) = p.answer(&p.orders, "u", &id, "ch_guess", "succeeded").await;
    assert_eq!(
        (s, &b["code"]),
        (StatusCode::UNPROCESSABLE_ENTITY, &json!("validation")),
        "{b}"
    );
    // Not an answer, unauthenticated, or not an order id.
    let (s, _) = p.answer(&p.orders, "u", &id, &challenge, "maybe").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _, _) = call(
        &p.orders,
        Method::POST,
        &format!("/v1/orders/{id}/3ds"),
        None,
        Some(json!({"challenge_id": challenge, "result": "succeeded"})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = p
        .answer(&p.orders, "u", "nope", &challenge, "succeeded")
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p.order_row().await, ("awaiting_action".into(), None));
    assert_eq!(p.payments_in("requires_action").await, 1);

    // An order that never asked for a challenge has none to answer.
    let ok = p.token(CARD_OK).await;
    let (s, b) = p.checkout(&p.orders, "u", "k2", &ok, items()).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let other = b["id"].as_str().unwrap_or_default();
    let (s, b) = p
        .answer(&p.orders, "u", other, &challenge, "succeeded")
        .await;
    assert_eq!(
        (s, &b["code"]),
        (StatusCode::CONFLICT, &json!("no-action")),
        "{b}"
    );

    // The customer's own answer still goes through.
    let (s, b) = p.answer(&p.orders, "u", &id, &challenge, "succeeded").await;
    assert_eq!(
        (s, &b["status"]),
        (StatusCode::OK, &json!("confirmed")),
        "{b}"
    );
}

#[tokio::test]
async fn an_answer_that_reached_payments_but_not_the_order_is_confirmed_by_recovery() {
    // The process died between payments taking the answer and the order recording it: when
    // the wait runs out, the sweep's void finds the payment captured and confirms the order.
    let p = platform(&[("A", 3, 1000)]).await;
    let token = p.token(CARD_3DS).await;
    let (s, b) = p.checkout(&p.orders, "u", "k", &token, items()).await;
    let (_, challenge) = awaiting(s, &b);
    let pid = b["payment"]["id"].as_str().unwrap_or_default();
    let (s, _, paid) = call(
        &p.payments,
        Method::POST,
        &format!("/v1/payments/{pid}/3ds"),
        Some(&p.auth.orders_token("payments")),
        Some(json!({"challenge_id": challenge, "result": "succeeded"})),
        &[],
    )
    .await;
    assert_eq!((s, &paid["status"]), (StatusCode::OK, &json!("captured")));
    sqlx::query(
        "UPDATE orders SET action_expires_at = now() - interval '1 second',
             lease_until = now() - interval '1 second'",
    )
    .execute(&p.orders_db.pool)
    .await
    .expect("age");
    assert_eq!(saga::recover(&p.restart()).await.expect("recover"), 1);
    assert_eq!(p.order_row().await, ("confirmed".into(), None));
    assert_eq!(p.stock("A").await, (2, 0));
    assert_eq!(p.payments_in("captured").await, 1);
    assert_eq!(
        p.payments_in("voided").await + p.payments_in("refunded").await,
        0
    );
    let (s, b) = p.checkout(&p.orders, "u", "k", &token, items()).await;
    assert_eq!(
        (s, &b["status"]),
        (StatusCode::CREATED, &json!("confirmed"))
    );
}

#[test]
fn the_document_lists_the_challenge_route_and_the_202() {
    let doc = ecom_orders::openapi().to_json();
    let checkout = &doc["paths"]["/v1/checkout"]["post"]["responses"];
    assert!(checkout["202"].is_object(), "{checkout}");
    let answer = &doc["paths"]["/v1/orders/{id}/3ds"]["post"];
    for code in ["200", "402", "404", "409", "422"] {
        assert!(answer["responses"][code].is_object(), "{code}: {answer}");
    }
    let body = &answer["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(body["required"], json!(["challenge_id", "result"]));
    assert_eq!(
        body["properties"]["result"]["enum"],
        json!(["succeeded", "failed"])
    );
}
