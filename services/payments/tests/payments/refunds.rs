//! Refunds: partial ones add up to the capture and no further; a full one returns what is left.

use super::*;

#[tokio::test]
async fn partial_refunds_add_up_to_the_capture_and_no_further() {
    let app = app().await;
    let t = tokenize(&app, "4242424242424242").await;
    let tok = t["token"].as_str().unwrap_or("").to_string();
    let (_, p) = authorize(&app, "pr", &tok, 900).await;
    let id = p["id"].as_str().unwrap_or("").to_string();
    let refund = |amount: Option<i64>, key: Option<&'static str>| {
        refund_payment(app.router.clone(), id.clone(), amount, key)
    };
    // Not captured yet: nothing to refund.
    let (s, _, b) = refund(Some(100), Some("r1")).await;
    assert_eq!(
        (s, b["code"].clone()),
        (StatusCode::CONFLICT, json!("wrong-state"))
    );
    assert_eq!(capture(&app, &id).await, StatusCode::OK);

    let (s, _, b) = refund(Some(300), Some("r1")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["status"].clone(), b["refunded_minor"].clone()),
        (json!("partially_refunded"), json!(300))
    );
    // The same key again is the same refund; with another amount it is refused.
    let (s, _, b) = refund(Some(300), Some("r1")).await;
    assert_eq!(
        (s, b["refunded_minor"].clone()),
        (StatusCode::OK, json!(300))
    );
    let (s, _, b) = refund(Some(200), Some("r1")).await;
    assert_eq!(
        (s, b["code"].clone()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!("idempotency-key-reused")
        )
    );
    // A partial refund needs a key, and a positive amount.
    let (s, _, _) = refund(Some(100), None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _, _) = refund(Some(0), Some("r0")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // More than is left is refused, saying what is left.
    let (s, _, b) = refund(Some(601), Some("r2")).await;
    assert_eq!(
        (s, b["code"].clone()),
        (StatusCode::CONFLICT, json!("refund-too-large"))
    );
    assert!(b["detail"].as_str().unwrap_or("").contains("600"), "{b}");

    // Concurrent refunds of 100 each, with their own keys: exactly what is left goes back.
    let keys = ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"];
    let mut set = tokio::task::JoinSet::new();
    for key in keys {
        let f = refund(Some(100), Some(key));
        set.spawn(f);
    }
    let (mut ok, mut too_large) = (0, 0);
    while let Some(r) = set.join_next().await {
        let (s, _, b) = r.expect("task");
        match s {
            StatusCode::OK => ok += 1,
            StatusCode::CONFLICT => {
                assert!(
                    matches!(b["code"].as_str(), Some("refund-too-large" | "wrong-state")),
                    "{b}"
                );
                too_large += 1;
            }
            other => panic!("unexpected {other}: {b}"),
        }
    }
    assert_eq!((ok, too_large), (6, 2));
    let (_, _, b) = call(
        &app.router,
        Method::GET,
        &format!("/v1/payments/{id}"),
        Some(&orders_token("payments")),
        None,
        &[],
    )
    .await;
    assert_eq!(
        (b["status"].clone(), b["refunded_minor"].clone()),
        (json!("refunded"), json!(900))
    );
    // Refunding what is left of a refunded payment is a no-op; a partial one is refused.
    let (s, _, b) = refund(None, None).await;
    assert_eq!(
        (s, b["refunded_minor"].clone()),
        (StatusCode::OK, json!(900))
    );
    let (s, _, _) = refund(Some(1), Some("late")).await;
    assert_eq!(s, StatusCode::CONFLICT);
    // Every refund is on record with its amount, and they add up to the capture.
    let refunded: Vec<i64> = sqlx::query_scalar(
        "SELECT amount_minor FROM payment_events
         WHERE payment_id = $1::uuid AND kind = 'refunded' ORDER BY id",
    )
    .bind(&id)
    .fetch_all(&app.db.pool)
    .await
    .expect("events");
    assert_eq!(refunded.len(), 7);
    assert_eq!(refunded.iter().sum::<i64>(), 900);
}

#[tokio::test]
async fn a_full_refund_after_a_partial_one_returns_what_is_left() {
    let app = app().await;
    let t = tokenize(&app, "4242424242424242").await;
    let tok = t["token"].as_str().unwrap_or("").to_string();
    let (_, p) = authorize(&app, "fr", &tok, 1000).await;
    let id = p["id"].as_str().unwrap_or("").to_string();
    assert_eq!(capture(&app, &id).await, StatusCode::OK);
    let (s, _, _) = refund_payment(app.router.clone(), id.clone(), Some(250), Some("part")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, b) = refund_payment(app.router.clone(), id.clone(), None, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        (b["status"].clone(), b["refunded_minor"].clone()),
        (json!("refunded"), json!(1000))
    );
    let last: i64 = sqlx::query_scalar(
        "SELECT amount_minor FROM payment_events
         WHERE payment_id = $1::uuid AND kind = 'refunded' ORDER BY id DESC LIMIT 1",
    )
    .bind(&id)
    .fetch_one(&app.db.pool)
    .await
    .expect("event");
    assert_eq!(last, 750);
}
