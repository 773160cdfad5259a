//! Stock and reservations in PostgreSQL. Every change of `reserved` is a single conditional
//! `UPDATE`, so concurrent reservations can never take stock below zero.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::error::InventoryError;

mod batch;
pub use batch::{reserve_many, ReserveRequest, ReservedBatch};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stock {
    pub sku: String,
    pub on_hand: i32,
    pub reserved: i32,
    pub available: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Line {
    pub sku: String,
    pub quantity: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reservation {
    pub id: Uuid,
    pub status: String,
    pub expires_at: DateTime<Utc>,
    pub lines: Vec<Line>,
}

pub fn validate_sku(sku: &str) -> Result<(), InventoryError> {
    let ok = !sku.is_empty()
        && sku.len() <= 64
        && sku
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(InventoryError::Invalid(
            "SKU must be 1-64 characters of A-Z, a-z, 0-9, '-', '_' or '.'".into(),
        ))
    }
}

pub async fn get_stock(pool: &PgPool, sku: &str) -> Result<Stock, InventoryError> {
    let row = sqlx::query("SELECT sku, on_hand, reserved FROM stock WHERE sku = $1")
        .bind(sku)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| InventoryError::UnknownSku(sku.to_string()))?;
    let (on_hand, reserved): (i32, i32) = (row.try_get("on_hand")?, row.try_get("reserved")?);
    Ok(Stock {
        sku: row.try_get("sku")?,
        on_hand,
        reserved,
        available: on_hand - reserved,
    })
}

/// Sets the quantity on hand. It may not drop below what is currently reserved.
pub async fn set_stock(pool: &PgPool, sku: &str, on_hand: i32) -> Result<Stock, InventoryError> {
    validate_sku(sku)?;
    if !(0..=MAX_ON_HAND).contains(&on_hand) {
        return Err(InventoryError::Invalid(format!(
            "on_hand must be 0..={MAX_ON_HAND}"
        )));
    }
    sqlx::query(
        "INSERT INTO stock (sku, on_hand) VALUES ($1, $2)
         ON CONFLICT (sku) DO UPDATE SET on_hand = EXCLUDED.on_hand, updated_at = now()",
    )
    .bind(sku)
    .bind(on_hand)
    .execute(pool)
    .await?;
    get_stock(pool, sku).await
}

async fn load_reservation(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
) -> Result<Reservation, InventoryError> {
    let row = sqlx::query("SELECT id, status, expires_at FROM reservations WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(InventoryError::ReservationNotFound(id))?;
    let lines = load_lines(conn, id).await?;
    Ok(Reservation {
        id: row.try_get("id")?,
        status: row.try_get("status")?,
        expires_at: row.try_get("expires_at")?,
        lines,
    })
}

async fn load_lines(conn: &mut sqlx::PgConnection, id: Uuid) -> Result<Vec<Line>, InventoryError> {
    let lines = sqlx::query(
        "SELECT sku, quantity FROM reservation_lines WHERE reservation_id = $1 ORDER BY sku",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| {
        Ok(Line {
            sku: r.try_get("sku")?,
            quantity: r.try_get("quantity")?,
        })
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(lines)
}

pub async fn get_reservation(pool: &PgPool, id: Uuid) -> Result<Reservation, InventoryError> {
    let mut conn = pool.acquire().await?;
    load_reservation(&mut conn, id).await
}

/// The most of one SKU a reservation may take.
pub const MAX_LINE_QUANTITY: i32 = 10_000;
/// The most a stock row may hold: far enough below `i32::MAX` that `reserved + quantity`
/// never overflows before the `reserved <= on_hand` check decides.
pub const MAX_ON_HAND: i32 = 1_000_000_000;

/// Merges duplicate SKUs and sorts lines so concurrent reservations lock rows in one order.
fn normalise(lines: &[Line]) -> Result<Vec<Line>, InventoryError> {
    if lines.is_empty() || lines.len() > 100 {
        return Err(InventoryError::Invalid(
            "a reservation has 1 to 100 lines".into(),
        ));
    }
    let mut merged: std::collections::BTreeMap<&str, i64> = Default::default();
    for l in lines {
        validate_sku(&l.sku)?;
        if l.quantity <= 0 || l.quantity > MAX_LINE_QUANTITY {
            return Err(InventoryError::Invalid(format!(
                "quantity for {} must be between 1 and {MAX_LINE_QUANTITY}",
                l.sku
            )));
        }
        *merged.entry(&l.sku).or_default() += i64::from(l.quantity);
    }
    // Lines of one SKU are added up; the sum keeps the per-line cap.
    merged
        .into_iter()
        .map(|(sku, q)| match i32::try_from(q) {
            Ok(quantity) if quantity <= MAX_LINE_QUANTITY => Ok(Line {
                sku: sku.to_string(),
                quantity,
            }),
            _ => Err(InventoryError::Invalid(format!(
                "quantity for {sku} must be between 1 and {MAX_LINE_QUANTITY} in all (its lines are added up)"
            ))),
        })
        .collect()
}

/// Reserves every line or none. Idempotent by reservation id: reserving an id that exists
/// returns that reservation as it is (`Ok((r, false))`).
///
/// One statement (one round trip, one transaction): the reservation, its lines and the stock
/// it takes. Stock rows are locked in SKU order, so concurrent multi-line reservations cannot
/// deadlock, and taking more than is available violates `stock_reserved_within_on_hand`,
/// which aborts the whole statement: all lines or none.
pub async fn reserve(
    pool: &PgPool,
    id: Uuid,
    lines: &[Line],
    ttl_seconds: i64,
) -> Result<(Reservation, bool), InventoryError> {
    let lines = normalise(lines)?;
    let mut conn = pool.acquire().await?;
    let made = reserve_statement(&mut conn, id, &lines, ttl_seconds).await;
    drop(conn);
    reserve_outcome(pool, id, lines, made).await
}

/// The reservation statement itself; `Ok(None)` if the id exists.
async fn reserve_statement(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    lines: &[Line],
    ttl_seconds: i64,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let skus: Vec<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
    let qtys: Vec<i32> = lines.iter().map(|l| l.quantity).collect();
    sqlx::query_scalar::<_, Option<DateTime<Utc>>>(
        "WITH r AS (
             INSERT INTO reservations (id, status, expires_at)
             VALUES ($1, 'held', now() + make_interval(secs => $2))
             ON CONFLICT (id) DO NOTHING RETURNING expires_at),
         want AS (
             SELECT sku, quantity FROM unnest($3::text[], $4::int[]) AS w(sku, quantity)
             WHERE EXISTS (SELECT 1 FROM r)),
         l AS (
             INSERT INTO reservation_lines (reservation_id, sku, quantity)
             SELECT $1, sku, quantity FROM want),
         locked AS (
             SELECT s.sku FROM stock s JOIN want w ON w.sku = s.sku
             ORDER BY s.sku FOR UPDATE OF s),
         taken AS (
             UPDATE stock s SET reserved = s.reserved + w.quantity, updated_at = now()
             FROM want w JOIN locked k ON k.sku = w.sku
             WHERE s.sku = w.sku)
         -- Data-modifying CTEs always run to completion, read or not.
         SELECT (SELECT expires_at FROM r)",
    )
    .bind(id)
    .bind(ttl_seconds as f64)
    .bind(&skus)
    .bind(&qtys)
    .fetch_one(&mut *conn)
    .await
}

/// A reservation statement's outcome as the caller sees it (after its transaction ended).
async fn reserve_outcome(
    pool: &PgPool,
    id: Uuid,
    lines: Vec<Line>,
    made: Result<Option<DateTime<Utc>>, sqlx::Error>,
) -> Result<(Reservation, bool), InventoryError> {
    let expires_at = match made {
        Ok(Some(at)) => at,
        // The id exists: answer with it as it is.
        Ok(None) => return Ok((get_reservation(pool, id).await?, false)),
        Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
            let skus: Vec<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
            return Err(unknown_sku(pool, &skus).await);
        }
        Err(sqlx::Error::Database(db))
            if db.constraint() == Some("stock_reserved_within_on_hand") =>
        {
            return Err(out_of_stock(pool, &lines).await);
        }
        Err(e) => return Err(e.into()),
    };
    Ok((
        Reservation {
            id,
            status: "held".into(),
            expires_at,
            lines,
        },
        true,
    ))
}

/// The error for a reservation naming a SKU that has no stock row.
async fn unknown_sku(pool: &PgPool, skus: &[&str]) -> InventoryError {
    let known: Vec<String> = match sqlx::query_scalar("SELECT sku FROM stock WHERE sku = ANY($1)")
        .bind(skus)
        .fetch_all(pool)
        .await
    {
        Ok(k) => k,
        Err(e) => return e.into(),
    };
    let missing = skus
        .iter()
        .find(|s| !known.iter().any(|k| k == *s))
        .unwrap_or(&"?");
    InventoryError::UnknownSku(missing.to_string())
}

/// The error for a reservation that asked for more than is available: the first line short
/// of stock now (or the first line, if stock came back meanwhile).
async fn out_of_stock(pool: &PgPool, lines: &[Line]) -> InventoryError {
    let skus: Vec<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
    let available: Vec<(String, i32)> =
        match sqlx::query_as("SELECT sku, on_hand - reserved FROM stock WHERE sku = ANY($1)")
            .bind(&skus)
            .fetch_all(pool)
            .await
        {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
    let avail = |sku: &str| {
        available
            .iter()
            .find(|(s, _)| s == sku)
            .map_or(0, |(_, a)| *a)
    };
    let line = lines
        .iter()
        .find(|l| avail(&l.sku) < l.quantity)
        .or(lines.first());
    match line {
        Some(l) => InventoryError::OutOfStock {
            sku: l.sku.clone(),
            available: i64::from(avail(&l.sku).max(0)),
            requested: i64::from(l.quantity),
        },
        None => InventoryError::Invalid("a reservation has 1 to 100 lines".into()),
    }
}

/// Moves a held reservation to `to` ("committed" or "released") and adjusts stock. Repeating
/// the same transition is a no-op; the other transition after one is done is an error.
pub async fn finish(pool: &PgPool, id: Uuid, to: &str) -> Result<Reservation, InventoryError> {
    // One statement (one round trip, one transaction): the reservation moves only if it is
    // held, and stock is adjusted only if it moved. A concurrent finish of the same id waits on
    // the reservation row and then finds it no longer held.
    let stock_change = if to == "committed" {
        "on_hand = s.on_hand - l.quantity, reserved = s.reserved - l.quantity"
    } else {
        "reserved = s.reserved - l.quantity"
    };
    let sql = format!(
        "WITH r AS (
             UPDATE reservations SET status = $2, updated_at = now()
             WHERE id = $1 AND status = 'held'
             RETURNING expires_at),
         l AS (
             SELECT sku, quantity FROM reservation_lines
             WHERE reservation_id = $1 AND EXISTS (SELECT 1 FROM r)),
         s AS (
             UPDATE stock s SET {stock_change}, updated_at = now()
             FROM l WHERE s.sku = l.sku)
         SELECT r.expires_at, l.sku, l.quantity FROM r, l ORDER BY l.sku"
    );
    let rows = sqlx::query(&sql).bind(id).bind(to).fetch_all(pool).await?;
    // A reservation always has lines, so no rows means it did not move.
    let Some(first) = rows.first() else {
        let r = get_reservation(pool, id).await?;
        return if r.status == to {
            Ok(r)
        } else {
            Err(InventoryError::WrongState {
                id,
                status: r.status,
            })
        };
    };
    let expires_at: DateTime<Utc> = first.try_get("expires_at")?;
    let lines = rows
        .iter()
        .map(|r| {
            Ok(Line {
                sku: r.try_get("sku")?,
                quantity: r.try_get("quantity")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Reservation {
        id,
        status: to.to_string(),
        expires_at,
        lines,
    })
}

/// Commits held reservations, as [`finish`] does, in one statement (one durable commit) for
/// the whole batch; stock rows are locked in SKU order and each is changed once by the sum of
/// the batch's lines. Ids that did not move (already committed, released, unknown) and a
/// failed statement are answered one by one by [`finish`].
pub async fn commit_many(pool: &PgPool, ids: &[Uuid]) -> Vec<Result<Reservation, InventoryError>> {
    let mut sorted = ids.to_vec();
    sorted.sort();
    sorted.dedup();
    let rows = sqlx::query(
        "WITH r AS (
             UPDATE reservations SET status = 'committed', updated_at = now()
             WHERE id = ANY($1) AND status = 'held'
             RETURNING id, expires_at),
         l AS (
             SELECT rl.reservation_id, rl.sku, rl.quantity
             FROM reservation_lines rl JOIN r ON r.id = rl.reservation_id),
         total AS (SELECT sku, sum(quantity)::int AS quantity FROM l GROUP BY sku),
         locked AS (
             SELECT s.sku FROM stock s JOIN total t ON t.sku = s.sku
             ORDER BY s.sku FOR UPDATE OF s),
         s AS (
             UPDATE stock s SET on_hand = s.on_hand - t.quantity,
                 reserved = s.reserved - t.quantity, updated_at = now()
             FROM total t JOIN locked k ON k.sku = t.sku
             WHERE s.sku = t.sku)
         SELECT r.id, r.expires_at, l.sku, l.quantity
         FROM r JOIN l ON l.reservation_id = r.id ORDER BY r.id, l.sku",
    )
    .bind(&sorted)
    .fetch_all(pool)
    .await;
    let mut moved: std::collections::HashMap<Uuid, Reservation> = Default::default();
    if let Ok(rows) = rows {
        for row in &rows {
            let (Ok(id), Ok(expires_at), Ok(sku), Ok(quantity)) = (
                row.try_get::<Uuid, _>("id"),
                row.try_get::<DateTime<Utc>, _>("expires_at"),
                row.try_get::<String, _>("sku"),
                row.try_get::<i32, _>("quantity"),
            ) else {
                continue;
            };
            moved
                .entry(id)
                .or_insert_with(|| Reservation {
                    id,
                    status: "committed".into(),
                    expires_at,
                    lines: vec![],
                })
                .lines
                .push(Line { sku, quantity });
        }
    }
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(match moved.get(id) {
            Some(r) => Ok(r.clone()),
            None => finish(pool, *id, "committed").await,
        });
    }
    out
}

/// Releases held reservations whose time is up. Returns how many were released.
pub async fn release_expired(pool: &PgPool) -> Result<u64, InventoryError> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM reservations WHERE status = 'held' AND expires_at < now()
         ORDER BY expires_at LIMIT 500",
    )
    .fetch_all(pool)
    .await?;
    let mut released = 0;
    for id in ids {
        match finish(pool, id, "released").await {
            Ok(_) => released += 1,
            // Committed or released meanwhile by someone else: nothing to do.
            Err(InventoryError::WrongState { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(released)
}
