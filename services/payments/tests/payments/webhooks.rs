//! Webhooks: signed, delivered once.

use super::*;

#[tokio::test]
async fn webhooks_are_signed_and_delivered_once() {
    let app = app().await;
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let secret = b"whsec-test";
    let sink = {
        let got = got.clone();
        Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: String| {
                let got = got.clone();
                async move {
                    let sig = headers
                        .get("x-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    if ecom_shared::webhook::verify(
                        secret,
                        sig,
                        body.as_bytes(),
                        ecom_shared::unix_now(),
                        300,
                    )
                    .is_err()
                    {
                        return StatusCode::UNAUTHORIZED;
                    }
                    got.lock()
                        .expect("lock")
                        .push(serde_json::from_str(&body).expect("json"));
                    StatusCode::NO_CONTENT
                }
            }),
        )
    };
    let addr = ecom_shared::testing::spawn(sink).await.expect("sink");
    let url = format!("http://{addr}/hook");
    let t = tokenize(&app, "4242424242424242").await;
    let (_, p) = authorize(&app, "w", t["token"].as_str().unwrap_or(""), 100).await;
    let http = reqwest::Client::new();
    // A wrong secret is refused by the receiver: nothing counts as delivered.
    assert_eq!(
        store::deliver_webhooks(&app.db.pool, &http, &url, b"wrong")
            .await
            .expect("deliver"),
        0
    );
    assert_eq!(
        store::deliver_webhooks(&app.db.pool, &http, &url, secret)
            .await
            .expect("deliver"),
        1
    );
    assert_eq!(
        store::deliver_webhooks(&app.db.pool, &http, &url, secret)
            .await
            .expect("deliver"),
        0
    );
    // `?webhook=false`: the caller has the answer, nothing is announced (but the events are
    // recorded); a later change the caller did not ask to keep quiet is announced.
    let (s, _, quiet) = call(
        &app.router,
        Method::POST,
        "/v1/payments?webhook=false",
        Some(&orders_token("payments")),
        Some(json!({"customer": CUSTOMER, "token": t["token"], "amount_minor": 200, "currency": "EUR"})),
        &[("idempotency-key", "quiet")],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{quiet}");
    let qid = quiet["id"].as_str().unwrap_or_default().to_string();
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        &format!("/v1/payments/{qid}/capture?webhook=false"),
        Some(&orders_token("payments")),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        store::deliver_webhooks(&app.db.pool, &http, &url, secret)
            .await
            .expect("deliver"),
        0
    );
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        &format!("/v1/payments/{qid}/refund"),
        Some(&orders_token("payments")),
        None,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        store::deliver_webhooks(&app.db.pool, &http, &url, secret)
            .await
            .expect("deliver"),
        1
    );
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM payment_events WHERE payment_id = $1::uuid")
            .bind(&qid)
            .fetch_one(&app.db.pool)
            .await
            .expect("events");
    assert_eq!(events, 3, "authorized, captured, refunded");
    let got = got.lock().expect("lock").clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["type"], "payment.authorized");
    assert_eq!(got[0]["payment_id"], p["id"]);
    assert_eq!(got[1]["type"], "payment.refunded");
    assert_eq!(got[1]["payment_id"], json!(qid));
}
