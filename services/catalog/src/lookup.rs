//! Point reads (a SKU's price answer, a product's document by id or by slug), batched.
//!
//! Each read is one indexed lookup of a document rendered at write time, so what a single
//! read costs is mostly the statement itself: a round trip, a wake-up of a PostgreSQL backend,
//! the executor's start and end. Reads of one kind that arrive while that kind's statements
//! are all in flight wait and then go together, as one `= ANY($1)` statement: under load one
//! statement answers tens of reads, and an idle service sends each read at once.
//!
//! Nothing is kept: every read is answered by a statement that started after the read
//! arrived, so a read sees every write that committed before it (no cache, no staleness).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, Semaphore};
use uuid::Uuid;

/// Statements of one kind in flight at once (each on its own pool connection).
const IN_FLIGHT: usize = 4;
/// Most reads one statement answers.
const MAX_BATCH: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    /// The statement failed (logged with PostgreSQL's words where it happened).
    #[error("the catalog could not be read")]
    Failed,
}

type Reply = Result<Option<String>, LookupError>;

struct Waiter {
    key: String,
    reply: oneshot::Sender<Reply>,
}

/// One kind of point read: a statement taking an array of keys and answering `(k, doc)` rows.
struct Batcher {
    sql: &'static str,
    pool: PgPool,
    queue: OnceLock<mpsc::UnboundedSender<Waiter>>,
}

impl Batcher {
    fn new(pool: PgPool, sql: &'static str) -> Self {
        Self {
            sql,
            pool,
            queue: OnceLock::new(),
        }
    }

    /// The document for `key`, or `None` when no active product has it.
    async fn get(&self, key: String) -> Reply {
        let queue = self.queue.get_or_init(|| {
            // Started at the first read, on the runtime that serves it.
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(dispatch(self.pool.clone(), self.sql, rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        queue
            .send(Waiter { key, reply })
            .map_err(|_| LookupError::Failed)?;
        answer.await.map_err(|_| LookupError::Failed)?
    }
}

/// Takes the reads waiting whenever a statement slot is free, and answers them together.
async fn dispatch(pool: PgPool, sql: &'static str, mut rx: mpsc::UnboundedReceiver<Waiter>) {
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            answer(&pool, sql, batch).await;
            drop(slot);
        });
    }
}

async fn answer(pool: &PgPool, sql: &'static str, batch: Vec<Waiter>) {
    let mut waiting: HashMap<String, Vec<oneshot::Sender<Reply>>> = HashMap::new();
    for w in batch {
        waiting.entry(w.key).or_default().push(w.reply);
    }
    let keys: Vec<&str> = waiting.keys().map(String::as_str).collect();
    let rows: Result<Vec<(String, String)>, _> =
        sqlx::query_as(sql).bind(&keys).fetch_all(pool).await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "catalog point read failed");
            for reply in waiting.into_values().flatten() {
                let _ = reply.send(Err(LookupError::Failed));
            }
            return;
        }
    };
    for (key, doc) in rows {
        for reply in waiting.remove(&key).unwrap_or_default() {
            let _ = reply.send(Ok(Some(doc.clone())));
        }
    }
    for reply in waiting.into_values().flatten() {
        let _ = reply.send(Ok(None));
    }
}

/// The catalog's point reads.
pub struct Lookups {
    sku: Batcher,
    id: Batcher,
    slug: Batcher,
}

impl Lookups {
    pub fn new(pool: &PgPool) -> Self {
        Self {
            sku: Batcher::new(
                pool.clone(),
                "SELECT sku, price_doc FROM products WHERE sku = ANY($1) AND active",
            ),
            id: Batcher::new(
                pool.clone(),
                "SELECT id::text, doc FROM products WHERE id = ANY($1::text[]::uuid[]) AND active",
            ),
            slug: Batcher::new(
                pool.clone(),
                "SELECT slug, doc FROM products WHERE slug = ANY($1) AND active",
            ),
        }
    }

    /// An active SKU's price answer (sku, name, price_minor, currency).
    pub async fn price_doc(&self, sku: &str) -> Reply {
        // A key no row can hold (the table's CHECK) is answered without a statement: one
        // read's bad key (a NUL byte, say) must not fail the statement it shares.
        if !key_shape(sku, 64, |b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
        }) {
            return Ok(None);
        }
        self.sku.get(sku.to_string()).await
    }

    /// An active product's document, by id or by slug.
    pub async fn doc(&self, id_or_slug: &str) -> Reply {
        match Uuid::parse_str(id_or_slug) {
            // As PostgreSQL writes a uuid as text, to match the rows' keys.
            Ok(id) => self.id.get(id.to_string()).await,
            Err(_) if key_shape(id_or_slug, 128, slug_byte) => {
                self.slug.get(id_or_slug.to_string()).await
            }
            Err(_) => Ok(None),
        }
    }
}

fn slug_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
}

/// `^[A-Za-z0-9]x{0,max-1}$` where x are the bytes `rest` allows (the tables' CHECKs).
fn key_shape(key: &str, max: usize, rest: impl Fn(u8) -> bool) -> bool {
    let b = key.as_bytes();
    !b.is_empty() && b.len() <= max && b[0].is_ascii_alphanumeric() && b.iter().all(|&c| rest(c))
}
