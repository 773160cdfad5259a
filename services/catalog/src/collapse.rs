//! Identical reads that wait together are answered by one statement (request collapsing).
//!
//! Lists and searches hold at most as many statements at once as the pool has connections (no
//! tighter limit: a slow search must not hold up the lists behind it any more than the pool
//! already does). A read that finds every slot taken waits for one; an identical read (same
//! filters, sort, cursor, page size, facets) arriving meanwhile joins it instead of queueing
//! a statement of its own, and both get the answer of the one statement run once a slot frees.
//!
//! Nothing is kept: a read only ever joins a statement that has not started yet, so every
//! answer comes from a statement that began after the read arrived and sees every write that
//! committed before it, as an uncollapsed read would. Once a statement starts, later reads
//! with the same key form a new group.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use tokio::sync::{oneshot, Semaphore};

use crate::error::CatalogError;

/// Waiters of a group not started yet; `None` tells a waiter to compute its own answer (the
/// statement failed: the error is the caller's to report, with its own request).
type Waiters = Vec<oneshot::Sender<Option<Bytes>>>;

pub struct Collapser {
    slots: Arc<Semaphore>,
    pending: Mutex<HashMap<String, Waiters>>,
}

impl Collapser {
    /// At most `in_flight` statements at once (at least one).
    pub fn new(in_flight: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(in_flight.max(1))),
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// `compute`'s answer, or that of an identical read's statement that had not started when
    /// this read arrived.
    pub async fn run<F>(&self, key: String, compute: F) -> Result<Bytes, CatalogError>
    where
        F: Future<Output = Result<Bytes, CatalogError>>,
    {
        let joined = {
            let Ok(mut pending) = self.pending.lock() else {
                return compute.await;
            };
            match pending.get_mut(&key) {
                Some(waiters) => {
                    let (tx, rx) = oneshot::channel();
                    waiters.push(tx);
                    Some(rx)
                }
                None => {
                    pending.insert(key.clone(), Vec::new());
                    None
                }
            }
        };
        if let Some(rx) = joined {
            if let Ok(Some(body)) = rx.await {
                return Ok(body);
            }
            return compute.await;
        }
        // Should this read be dropped while it waits (its client gone), its group goes with it:
        // the waiters are told to compute their own answers.
        let mut group = Group {
            pending: &self.pending,
            key: Some(key),
        };
        let slot = self.slots.acquire().await;
        // Started: whoever arrives from now on waits for a statement of its own.
        let waiters = group.start();
        let answer = compute.await;
        drop(slot);
        let shared = answer.as_ref().ok().cloned();
        for w in waiters {
            let _ = w.send(shared.clone());
        }
        answer
    }
}

/// The group a read leads until its statement starts.
struct Group<'a> {
    pending: &'a Mutex<HashMap<String, Waiters>>,
    key: Option<String>,
}

impl Group<'_> {
    fn start(&mut self) -> Waiters {
        let key = self.key.take();
        key.and_then(|k| self.pending.lock().ok()?.remove(&k))
            .unwrap_or_default()
    }
}

impl Drop for Group<'_> {
    fn drop(&mut self) {
        self.start();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::Notify;

    /// Lets every spawned task run up to its next wait.
    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn identical_reads_waiting_together_share_one_statement() {
        const IN_FLIGHT: usize = 4;
        let c = Arc::new(Collapser::new(IN_FLIGHT));
        let gate = Arc::new(Notify::new());
        let runs = Arc::new(AtomicUsize::new(0));
        // Every slot taken by a read that waits for the gate.
        let mut tasks = Vec::new();
        for i in 0..IN_FLIGHT {
            let (c, gate) = (c.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                c.run(format!("busy {i}"), async move {
                    gate.notified().await;
                    Ok(Bytes::from("busy"))
                })
                .await
            }));
        }
        settle().await;
        let mut same = Vec::new();
        for _ in 0..5 {
            let (c, runs) = (c.clone(), runs.clone());
            same.push(tokio::spawn(async move {
                c.run("k".into(), async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok(Bytes::from("page"))
                })
                .await
            }));
        }
        settle().await;
        gate.notify_waiters();
        for t in same {
            assert_eq!(t.await.expect("task").expect("page"), "page");
        }
        for t in tasks {
            t.await.expect("task").expect("busy");
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // Started: a read arriving now runs its own statement.
        let again = c.run("k".into(), async { Ok(Bytes::from("new")) }).await;
        assert_eq!(again.expect("page"), "new");
    }
}
