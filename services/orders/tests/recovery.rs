//! A saga cut short (a fail point stops it right after a step, as a crash would) is resumed
//! by a fresh process's recovery: forward to confirmed, or compensated with stock and money
//! given back.

mod support;

use axum::http::StatusCode;
use ecom_orders::{router, saga};
use serde_json::json;
use support::{platform, Platform, CARD_OK};

#[tokio::test]
async fn crash_after_reserve_is_resumed_to_confirmed() {
    let p = platform(&[("A", 4, 1000)]).await;
    let token = p.token(CARD_OK).await;
    let mut crashing = p.state.clone();
    crashing.faults.fail_after = Some("reserved".into());
    let (s, _) = p
        .checkout(
            &router(crashing),
            "u",
            "k",
            &token,
            json!([{"sku": "A", "quantity": 1}]),
        )
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(p.stock("A").await, (4, 1), "held by the dead saga");
    // Until its lease runs out, nobody else touches it.
    let fresh = p.restart();
    assert_eq!(saga::recover(&fresh).await.expect("recover"), 0);
    p.expire_leases().await;
    assert_eq!(saga::recover(&fresh).await.expect("recover"), 1);
    assert_eq!(p.stock("A").await, (3, 0));
    assert_eq!(
        Platform::count(
            &p.payments_db,
            "SELECT count(*) FROM payments WHERE status = 'captured'"
        )
        .await,
        1
    );
    // The client's retry with the same key gets the confirmed order.
    let (s, b) = p
        .checkout(
            &router(fresh),
            "u",
            "k",
            &token,
            json!([{"sku": "A", "quantity": 1}]),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(b["status"], "confirmed");
}

#[tokio::test]
async fn crash_after_authorize_is_resumed_to_confirmed() {
    let p = platform(&[("A", 4, 1000)]).await;
    let token = p.token(CARD_OK).await;
    let mut crashing = p.state.clone();
    crashing.faults.fail_after = Some("authorized".into());
    let (s, _) = p
        .checkout(
            &router(crashing),
            "u",
            "k",
            &token,
            json!([{"sku": "A", "quantity": 2}]),
        )
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    // Paid by a sale (authorize and capture in one call) before the crash.
    assert_eq!(
        Platform::count(
            &p.payments_db,
            "SELECT count(*) FROM payments WHERE status = 'captured'"
        )
        .await,
        1
    );
    p.expire_leases().await;
    assert_eq!(saga::recover(&p.restart()).await.expect("recover"), 1);
    assert_eq!(p.stock("A").await, (2, 0));
    assert_eq!(
        Platform::count(
            &p.payments_db,
            "SELECT count(*) FROM payments WHERE status = 'captured'"
        )
        .await,
        1
    );
    assert_eq!(
        Platform::count(&p.payments_db, "SELECT count(*) FROM payments").await,
        1,
        "no second charge"
    );
}

#[tokio::test]
async fn crash_then_expired_reservation_is_compensated() {
    let p = platform(&[("A", 4, 1000)]).await;
    let token = p.token(CARD_OK).await;
    let mut crashing = p.state.clone();
    crashing.faults.fail_after = Some("authorized".into());
    let (s, _) = p
        .checkout(
            &router(crashing),
            "u",
            "k",
            &token,
            json!([{"sku": "A", "quantity": 1}]),
        )
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    // While the orders process is down, inventory's expiry releases the reservation.
    sqlx::query("UPDATE reservations SET expires_at = now() - interval '1 second'")
        .execute(&p.inventory_db.pool)
        .await
        .expect("age");
    assert_eq!(
        ecom_inventory::store::release_expired(&p.inventory_db.pool)
            .await
            .expect("sweep"),
        1
    );
    p.expire_leases().await;
    assert_eq!(saga::recover(&p.restart()).await.expect("recover"), 1);
    // Stock and payments agree: nothing sold, and the sale made before the crash refunded.
    assert_eq!(p.stock("A").await, (4, 0));
    assert_eq!(
        Platform::count(
            &p.payments_db,
            "SELECT count(*) FROM payments WHERE status = 'refunded'"
        )
        .await,
        1
    );
    assert_eq!(
        Platform::count(
            &p.payments_db,
            "SELECT count(*) FROM payment_events WHERE kind = 'captured'"
        )
        .await,
        Platform::count(
            &p.payments_db,
            "SELECT count(*) FROM payment_events WHERE kind = 'refunded'"
        )
        .await,
        "every capture refunded"
    );
    let (code, status): (String, String) =
        sqlx::query_as("SELECT failure_code, status FROM orders")
            .fetch_one(&p.orders_db.pool)
            .await
            .expect("order");
    assert_eq!(
        (code.as_str(), status.as_str()),
        ("reservation-expired", "failed")
    );
}

#[tokio::test]
async fn crash_before_payment_answer_is_refunded_on_compensation() {
    // The payment call went through but the process died before recording the payment id:
    // compensation finds the payment by its idempotency key and gives the money back.
    let p = platform(&[("A", 4, 1000)]).await;
    let token = p.token(CARD_OK).await;
    let mut crashing = p.state.clone();
    crashing.faults.fail_after = Some("authorized".into());
    p.checkout(
        &router(crashing),
        "u",
        "k",
        &token,
        json!([{"sku": "A", "quantity": 1}]),
    )
    .await;
    // As a later failure leaves it: compensating, a payment attempted, its id never recorded.
    sqlx::query("UPDATE orders SET status = 'compensating', payment_id = NULL, authorize_attempted = true, failure_code = 'test', response_status = 503, response_body = '{}'")
        .execute(&p.orders_db.pool).await.expect("rewind");
    p.expire_leases().await;
    assert_eq!(saga::recover(&p.restart()).await.expect("recover"), 1);
    assert_eq!(p.stock("A").await, (4, 0));
    assert_eq!(
        Platform::count(
            &p.payments_db,
            "SELECT count(*) FROM payments WHERE status = 'refunded'"
        )
        .await,
        1
    );
    assert_eq!(
        Platform::count(&p.payments_db, "SELECT count(*) FROM payments").await,
        1
    );
}
