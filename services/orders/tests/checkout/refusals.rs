//! Checkouts refused: invalid input or no sign-in, another customer's payment token, totals past the cap.

use super::*;

#[tokio::test]
async fn checkout_validates_and_requires_auth() {
    let p = platform(&[("A", 4, 1000)]).await;
    let token = p.token(CARD_OK).await;
    let body = json!({"payment_token": token, "items": [{"sku": "A", "quantity": 1}]});
    let (s, _, _) = call(
        &p.orders,
        Method::POST,
        "/v1/checkout",
        None,
        Some(body.clone()),
        &[("idempotency-key", "k")],
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let jwt = p.auth.token("u", &[]);
    let (s, _, b) = call(
        &p.orders,
        Method::POST,
        "/v1/checkout",
        Some(&jwt),
        Some(body.clone()),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "missing key: {b}");
    let (s, b) = p
        .checkout(
            &p.orders,
            "u",
            "k1",
            &token,
            json!([{"sku": "NOPE", "quantity": 1}]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, _) = p
        .checkout(
            &p.orders,
            "u",
            "k2",
            &token,
            json!([{"sku": "A", "quantity": 0}]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = p
        .checkout(
            &p.orders,
            "u",
            "k3",
            "not-a-token",
            json!([{"sku": "A", "quantity": 1}]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = p.checkout(&p.orders, "u", "k4", &token, json!([])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p.stock("A").await, (4, 0));
}

#[tokio::test]
async fn someone_elses_payment_token_pays_for_nothing() {
    let p = platform(&[("A", 4, 1000)]).await;
    let stolen = p.token_for("mallory-victim", CARD_OK).await;
    let (s, b) = p
        .checkout(
            &p.orders,
            "u",
            "k",
            &stolen,
            json!([{"sku": "A", "quantity": 1}]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(p.stock("A").await, (4, 0), "the reservation is released");
    assert_eq!(
        Platform::count(&p.payments_db, "SELECT count(*) FROM payments").await,
        0
    );
    // The owner's own checkout with it works.
    let (s, b) = p
        .checkout(
            &p.orders,
            "mallory-victim",
            "k2",
            &stolen,
            json!([{"sku": "A", "quantity": 1}]),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
}

#[tokio::test]
async fn totals_that_overflow_or_pass_the_cap_are_422() {
    let p = platform(&[
        ("BIG", 10, i64::MAX / 2),
        ("DEAR", 10, 4_000_000_000),
        ("A", 300, 10),
    ])
    .await;
    let token = p.token(CARD_OK).await;
    // i64::MAX / 2 x 3 overflows: refused with a clear answer, never a panic or a wrap.
    for (key, items) in [
        ("k1", json!([{"sku": "BIG", "quantity": 3}])),
        // Fits in i64, but more than one payment may carry.
        ("k2", json!([{"sku": "DEAR", "quantity": 3}])),
    ] {
        let (s, b) = p.checkout(&p.orders, "u", key, &token, items).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert_eq!(b["code"], "order-too-large", "{b}");
    }
    // Lines of one SKU are added up and the sum keeps the per-line cap.
    let (s, b) = p
        .checkout(
            &p.orders,
            "u",
            "k3",
            &token,
            json!([{"sku": "A", "quantity": 60}, {"sku": "A", "quantity": 60}]),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(
        (p.stock("BIG").await, p.stock("A").await),
        ((10, 0), (300, 0))
    );
    assert_eq!(
        Platform::count(&p.orders_db, "SELECT count(*) FROM orders").await,
        0
    );
    assert_eq!(
        Platform::count(&p.payments_db, "SELECT count(*) FROM payments").await,
        0
    );
}
