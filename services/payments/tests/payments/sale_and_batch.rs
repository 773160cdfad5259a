//! A sale (authorize and capture in one call) and the batch route.

use super::*;

#[tokio::test]
async fn a_sale_authorizes_and_captures_in_one_call() {
    let app = app().await;
    let t = tokenize(&app, "4242424242424242").await;
    let sale = |capture: bool| {
        let body = json!({"customer": CUSTOMER, "token": t["token"], "amount_minor": 900, "currency": "EUR",
                          "order_ref": "o-sale", "capture": capture});
        let r = app.router.clone();
        async move {
            let (s, _, b) = call(
                &r,
                Method::POST,
                "/v1/payments?webhook=false",
                Some(&orders_token("payments")),
                Some(body),
                &[("idempotency-key", "sale-1")],
            )
            .await;
            (s, b)
        }
    };
    let (s, p) = sale(true).await;
    assert_eq!(
        (s, p["status"].clone()),
        (StatusCode::CREATED, json!("captured"))
    );
    // Both movements are on record, in order.
    let kinds: Vec<String> = sqlx::query_scalar(
        "SELECT kind FROM payment_events WHERE payment_id = $1::uuid ORDER BY id",
    )
    .bind(p["id"].as_str().unwrap_or_default())
    .fetch_all(&app.db.pool)
    .await
    .expect("events");
    assert_eq!(kinds, ["authorized", "captured"]);
    // The same key again, with or without capture, is the same payment as it is.
    for capture in [true, false] {
        let (s, again) = sale(capture).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            (again["id"].clone(), again["status"].clone()),
            (p["id"].clone(), json!("captured"))
        );
    }
    // A declined card is declined, not captured.
    let d = tokenize(&app, "4000000000000002").await;
    let (s, _, b) = call(
        &app.router,
        Method::POST,
        "/v1/payments",
        Some(&orders_token("payments")),
        Some(json!({"customer": CUSTOMER, "token": d["token"], "amount_minor": 900, "currency": "EUR", "capture": true})),
        &[("idempotency-key", "sale-2")],
    )
    .await;
    assert_eq!(
        (s, b["status"].clone()),
        (StatusCode::CREATED, json!("declined"))
    );
}

#[tokio::test]
async fn a_batch_answers_each_payment_as_its_single_call() {
    let app = app().await;
    let ok = tokenize(&app, "4242424242424242").await;
    let declined = tokenize(&app, "4000000000000002").await;
    // Made earlier on its own, to be asked for again in the batch.
    let (s, earlier) = authorize(&app, "earlier", ok["token"].as_str().unwrap_or(""), 500).await;
    assert_eq!(s, StatusCode::CREATED);
    let item = |key: &str, token: &Value, amount: i64| {
        json!({"idempotency_key": key, "request": {"customer": CUSTOMER, "token": token, "amount_minor": amount,
               "currency": "EUR", "order_ref": "o-1", "capture": true}})
    };
    let batch = json!({"payments": [
        item("a", &ok["token"], 700),
        item("b", &declined["token"], 700),
        item("a", &ok["token"], 700),
        item("c", &json!("pm_unknown"), 700),
        item("d", &ok["token"], 0),
        item("earlier", &ok["token"], 500),
        item("earlier", &ok["token"], 501),
        item("e", &ok["token"], 800),
    ]});
    let send = |body: Value| {
        let r = app.router.clone();
        async move {
            call(
                &r,
                Method::POST,
                "/v1/batch/payments?webhook=false",
                Some(&orders_token("payments")),
                Some(body),
                &[],
            )
            .await
        }
    };
    let (s, _, body) = send(batch.clone()).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let r = body["results"].as_array().expect("results");
    let statuses: Vec<u64> = r
        .iter()
        .map(|i| i["status"].as_u64().unwrap_or(0))
        .collect();
    // a made; b declined (made); a again is a; c unknown token; d invalid; earlier as it was,
    // and with another amount refused; e made.
    assert_eq!(
        statuses,
        vec![201, 201, 200, 422, 422, 200, 422, 201],
        "{body}"
    );
    assert_eq!(r[0]["payment"]["status"], "captured", "{body}");
    assert_eq!(r[1]["payment"]["status"], "declined", "{body}");
    assert_eq!(r[2]["payment"]["id"], r[0]["payment"]["id"], "{body}");
    assert_eq!(r[5]["payment"]["id"], earlier["id"], "{body}");
    assert_eq!(r[6]["problem"]["code"], "idempotency-key-reused", "{body}");
    assert_eq!(r[7]["payment"]["amount_minor"], 800, "{body}");
    // One charge per key, each sale's two movements on record, and no webhook asked for.
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM payments),
                (SELECT count(*) FROM payment_events),
                (SELECT count(*) FROM webhook_outbox)",
    )
    .fetch_one(&app.db.pool)
    .await
    .expect("counts");
    // earlier (authorized: 1 event, 1 webhook), a and e (sales: 2 events each), b (declined: 1).
    assert_eq!(counts, (4, 6, 1));
    // Decided in the batch's one statement, none of it one by one.
    let (_, _, metrics) = call(&app.router, Method::GET, "/metrics", None, None, &[]).await;
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    assert!(
        metrics.contains("payments_batch_run_alone_total{service=\"payments\"} 0"),
        "{metrics}"
    );
    // The whole batch again changes nothing.
    let (s, _, again) = send(batch).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again["results"][0]["status"], 200, "{again}");
    assert_eq!(again["results"][7]["payment"]["id"], r[7]["payment"]["id"]);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM payments")
        .fetch_one(&app.db.pool)
        .await
        .expect("count");
    assert_eq!(n, 4);
    // Service token, and 1 to 200 items.
    let (s, _, _) = call(
        &app.router,
        Method::POST,
        "/v1/batch/payments",
        None,
        Some(json!({"payments": [item("x", &ok["token"], 1)]})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _, _) = send(json!({"payments": []})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}
