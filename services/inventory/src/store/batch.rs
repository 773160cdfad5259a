//! Many reservations in one transaction (the batch route).

use super::*;

/// One reservation request of a batch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReserveRequest {
    pub id: Uuid,
    pub lines: Vec<Line>,
    pub ttl_seconds: i64,
}

/// Reserves each request all-or-nothing, as [`reserve`] does, but in one transaction (one
/// durable commit) of four round trips for the whole batch, however many it holds: `BEGIN`;
/// one statement that locks the stock rows of every SKU in the batch (in SKU order, as a
/// single reservation does, so nothing waits in a cycle) and finds the ids that exist; the
/// requests decided in order against those locked rows (a request short of stock or naming
/// an unknown SKU takes nothing, and the next ones see the stock it left); one statement
/// that writes the reservations, their lines and each stock row once; `COMMIT`. Should the
/// transaction fail anyway (a deadlock, an id made meanwhile by a single call), every request
/// is made on its own instead.
pub async fn reserve_many(pool: &PgPool, requests: &[ReserveRequest]) -> ReservedBatch {
    let normalised: Vec<Result<Vec<Line>, InventoryError>> =
        requests.iter().map(|r| normalise(&r.lines)).collect();
    let mut run_alone = 0;
    let decided = match reserve_in_one_transaction(pool, requests, &normalised).await {
        Ok(d) => d.into_iter().map(Some).collect::<Vec<_>>(),
        Err(e) => {
            tracing::warn!(error = %e, "reservation batch failed; its requests run one by one");
            run_alone = normalised.iter().filter(|l| l.is_ok()).count();
            (0..requests.len()).map(|_| None).collect()
        }
    };
    let mut out = Vec::with_capacity(requests.len());
    for ((r, lines), decided) in requests.iter().zip(normalised).zip(decided) {
        let lines = match lines {
            Ok(l) => l,
            Err(e) => {
                out.push(Err(e));
                continue;
            }
        };
        out.push(match decided {
            Some(Decision::Made(expires_at)) => Ok((
                Reservation {
                    id: r.id,
                    status: "held".into(),
                    expires_at,
                    lines,
                },
                true,
            )),
            Some(Decision::Exists) => get_reservation(pool, r.id).await.map(|r| (r, false)),
            Some(Decision::Refused(e)) => Err(e),
            // Invalid (answered above) or the batch's transaction failed: on its own.
            Some(Decision::NotRun) | None => reserve(pool, r.id, &lines, r.ttl_seconds).await,
        });
    }
    ReservedBatch {
        results: out,
        run_alone,
    }
}

/// A reservation batch's answers.
#[derive(Debug)]
pub struct ReservedBatch {
    /// One per request, in order.
    pub results: Vec<Result<(Reservation, bool), InventoryError>>,
    /// How many requests were made one by one because the batch's transaction failed.
    pub run_alone: usize,
}

/// What the batch's transaction did with one request.
#[derive(Debug)]
enum Decision {
    /// Reserved; it expires then.
    Made(DateTime<Utc>),
    /// The id was reserved before: answered with the reservation as it is.
    Exists,
    /// Out of stock or an unknown SKU: nothing taken.
    Refused(InventoryError),
    /// Not valid: answered with its validation error.
    NotRun,
}

/// Decides every valid request against the locked stock and writes the ones that fit; the
/// decision at index `i` belongs to request `i`.
async fn reserve_in_one_transaction(
    pool: &PgPool,
    requests: &[ReserveRequest],
    normalised: &[Result<Vec<Line>, InventoryError>],
) -> Result<Vec<Decision>, sqlx::Error> {
    let valid: Vec<usize> = (0..requests.len())
        .filter(|&i| normalised[i].is_ok())
        .collect();
    let mut decisions: Vec<Decision> = (0..requests.len()).map(|_| Decision::NotRun).collect();
    if valid.is_empty() {
        return Ok(decisions);
    }
    let mut ids: Vec<Uuid> = valid.iter().map(|&i| requests[i].id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut skus: Vec<&str> = valid
        .iter()
        .filter_map(|&i| normalised[i].as_ref().ok())
        .flatten()
        .map(|l| l.sku.as_str())
        .collect();
    skus.sort_unstable();
    skus.dedup();

    let mut tx = pool.begin().await?;
    let rows = sqlx::query(
        "WITH locked AS (
             SELECT sku, on_hand - reserved AS available FROM stock
             WHERE sku = ANY($1) ORDER BY sku FOR UPDATE)
         SELECT sku, available, NULL::uuid AS id FROM locked
         UNION ALL
         SELECT NULL, NULL, id FROM reservations WHERE id = ANY($2)",
    )
    .bind(&skus)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut available: std::collections::HashMap<String, i32> = Default::default();
    let mut existing: std::collections::HashSet<Uuid> = Default::default();
    for row in &rows {
        match row.try_get::<Option<Uuid>, _>("id")? {
            Some(id) => {
                existing.insert(id);
            }
            None => {
                let sku: String = row.try_get("sku")?;
                available.insert(sku, row.try_get("available")?);
            }
        }
    }

    // In the order the requests came: each takes all its lines or nothing.
    // An id made earlier in this batch is answered as existing, as a second call would be;
    // one refused earlier is decided again, as a second call would be.
    let mut made: Vec<usize> = Vec::new();
    for &i in &valid {
        let Ok(lines) = &normalised[i] else { continue };
        if existing.contains(&requests[i].id) {
            decisions[i] = Decision::Exists;
            continue;
        }
        if let Some(l) = lines.iter().find(|l| !available.contains_key(&l.sku)) {
            decisions[i] = Decision::Refused(InventoryError::UnknownSku(l.sku.clone()));
            continue;
        }
        if let Some(l) = lines.iter().find(|l| available[&l.sku] < l.quantity) {
            decisions[i] = Decision::Refused(InventoryError::OutOfStock {
                sku: l.sku.clone(),
                available: i64::from(available[&l.sku].max(0)),
                requested: i64::from(l.quantity),
            });
            continue;
        }
        for l in lines {
            if let Some(a) = available.get_mut(&l.sku) {
                *a -= l.quantity;
            }
        }
        existing.insert(requests[i].id);
        made.push(i);
    }
    if made.is_empty() {
        tx.commit().await?;
        return Ok(decisions);
    }

    let (mut r_ids, mut r_ttls) = (Vec::new(), Vec::new());
    let (mut l_ids, mut l_skus, mut l_qtys) = (Vec::new(), Vec::new(), Vec::new());
    let mut taken: std::collections::BTreeMap<&str, i32> = Default::default();
    for &i in &made {
        let r = &requests[i];
        r_ids.push(r.id);
        r_ttls.push(r.ttl_seconds as f64);
        for l in normalised[i].as_ref().into_iter().flatten() {
            l_ids.push(r.id);
            l_skus.push(l.sku.as_str());
            l_qtys.push(l.quantity);
            *taken.entry(l.sku.as_str()).or_default() += l.quantity;
        }
    }
    let (t_skus, t_qtys): (Vec<&str>, Vec<i32>) = taken.into_iter().unzip();
    let inserted = sqlx::query(
        "WITH r AS (
             INSERT INTO reservations (id, status, expires_at)
             SELECT id, 'held', now() + make_interval(secs => ttl)
             FROM unnest($1::uuid[], $2::float8[]) AS r(id, ttl)
             ON CONFLICT (id) DO NOTHING
             RETURNING id, expires_at),
         l AS (
             INSERT INTO reservation_lines (reservation_id, sku, quantity)
             SELECT * FROM unnest($3::uuid[], $4::text[], $5::int[])),
         s AS (
             UPDATE stock s SET reserved = s.reserved + t.quantity, updated_at = now()
             FROM unnest($6::text[], $7::int[]) AS t(sku, quantity)
             WHERE s.sku = t.sku)
         SELECT id, expires_at FROM r",
    )
    .bind(&r_ids)
    .bind(&r_ttls)
    .bind(&l_ids)
    .bind(&l_skus)
    .bind(&l_qtys)
    .bind(&t_skus)
    .bind(&t_qtys)
    .fetch_all(&mut *tx)
    .await?;
    let mut expiry: std::collections::HashMap<Uuid, DateTime<Utc>> = Default::default();
    for row in &inserted {
        expiry.insert(row.try_get("id")?, row.try_get("expires_at")?);
    }
    if expiry.len() != made.len() {
        // An id was reserved by a single call since the lock statement looked: its lines are
        // now doubled, so none of this is kept.
        tx.rollback().await?;
        return Err(sqlx::Error::Protocol("an id was reserved meanwhile".into()));
    }
    tx.commit().await?;
    for i in made {
        decisions[i] = Decision::Made(expiry[&requests[i].id]);
    }
    Ok(decisions)
}
