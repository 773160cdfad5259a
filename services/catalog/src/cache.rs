//! The read cache: rendered public read responses, kept coherent with the database instead of
//! expiring on a timer.
//!
//! - A write through this instance invalidates the cache as soon as it has committed, so the
//!   next read here sees it.
//! - Every change to `products` or `categories`, by any replica or by hand, fires a statement
//!   trigger that `NOTIFY`s `catalog_changed` when its transaction commits; [`spawn_change_feed`]
//!   listens on a dedicated connection and invalidates on each notification. Other replicas
//!   therefore serve a stale body only for the time a notification takes to arrive (a few
//!   milliseconds on a healthy connection).
//! - While the listening connection is down (or before it first comes up) notifications could
//!   be missed, so the cache is bypassed entirely: every read goes to the database until the
//!   feed is listening again, and it starts from an empty cache.
//! - Each invalidation bumps a generation. A response computed from a read that started
//!   before an invalidation is not stored, so a slow read can never put pre-write data back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use ecom_shared::metrics::Metrics;
use sqlx::postgres::PgListener;
use sqlx::PgPool;

/// The channel the migration's triggers notify.
pub const CHANNEL: &str = "catalog_changed";

pub struct ReadCache {
    capacity: usize,
    entries: RwLock<HashMap<String, Bytes>>,
    generation: AtomicU64,
    /// True while the change feed is listening; the cache is bypassed otherwise.
    coherent: AtomicBool,
    hits: AtomicU64,
}

/// Taken before computing a response; the response is stored only if no invalidation happened
/// since.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl ReadCache {
    /// A cache of at most `capacity` responses (0: no caching).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            coherent: AtomicBool::new(false),
            hits: AtomicU64::new(0),
        }
    }

    fn enabled(&self) -> bool {
        self.capacity > 0 && self.coherent.load(Ordering::Acquire)
    }

    pub fn get(&self, key: &str) -> Option<Bytes> {
        if !self.enabled() {
            return None;
        }
        let body = self.entries.read().ok()?.get(key).cloned();
        if body.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        body
    }

    /// Reads answered from the cache so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::Acquire))
    }

    pub fn put(&self, key: String, body: Bytes, ticket: Ticket) {
        if !self.enabled() {
            return;
        }
        let Ok(mut map) = self.entries.write() else {
            return;
        };
        // Checked under the lock that invalidation takes: no store can slip in after it.
        if self.generation.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        if map.len() >= self.capacity {
            // Full (many distinct queries): drop an arbitrary tenth rather than everything.
            let drop: Vec<String> = map.keys().take(self.capacity / 10 + 1).cloned().collect();
            for k in drop {
                map.remove(&k);
            }
        }
        map.insert(key, body);
    }

    /// Forgets every stored response and refuses responses computed before now.
    pub fn invalidate(&self) {
        if let Ok(mut map) = self.entries.write() {
            self.generation.fetch_add(1, Ordering::AcqRel);
            map.clear();
        } else {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn set_coherent(&self, on: bool) {
        if on {
            // Whatever changed while nobody was listening is dropped before serving again.
            self.invalidate();
            self.coherent.store(true, Ordering::Release);
        } else {
            self.coherent.store(false, Ordering::Release);
            self.invalidate();
        }
    }

    /// Whether reads are being served from the cache (the change feed is up).
    pub fn is_coherent(&self) -> bool {
        self.coherent.load(Ordering::Acquire)
    }
}

/// Listens for `catalog_changed` and invalidates `cache` on every notification, reconnecting
/// (with the cache bypassed meanwhile) when the connection drops. Holds one pool connection.
pub fn spawn_change_feed(
    pool: PgPool,
    cache: Arc<ReadCache>,
    metrics: Arc<Metrics>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if cache.capacity == 0 {
            return;
        }
        loop {
            match listen(&pool, &cache, &metrics).await {
                Ok(()) => tracing::warn!("catalog change feed lost its connection; reconnecting"),
                Err(sqlx::Error::PoolClosed) => return,
                Err(e) => tracing::warn!(error = %e, "catalog change feed failed; retrying"),
            }
            cache.set_coherent(false);
            if pool.is_closed() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })
}

/// Runs until the listening connection is lost (`Ok`) or fails (`Err`).
async fn listen(pool: &PgPool, cache: &ReadCache, metrics: &Metrics) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    cache.set_coherent(true);
    tracing::info!("catalog change feed listening");
    while listener.try_recv().await?.is_some() {
        cache.invalidate();
        metrics.incr("catalog_read_cache_invalidations_total", 1);
    }
    Ok(())
}
