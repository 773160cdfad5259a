//! Identical reads that wait together are answered by one statement (request collapsing).
//!
//! A list or search with the same key (filters, sort, cursor, page size, facets) runs at most
//! one statement at a time. A read that arrives while its key's statement runs waits for that
//! statement to end and then shares the next one with every identical read that arrived
//! meanwhile: under load, a popular page costs one statement per statement time, however many
//! ask for it. Different keys do not wait for each other beyond the pool: at most as many
//! statements run at once as the pool has connections.
//!
//! Nothing is kept: a read only ever joins a statement that has not started yet, so every
//! answer comes from a statement that began after the read arrived and sees every write that
//! committed before it, as an uncollapsed read would. Once a statement starts, later reads
//! with the same key form the next group.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use tokio::sync::{oneshot, OwnedMutexGuard, Semaphore};

use crate::error::CatalogError;

/// Waiters of a group not started yet; `None` tells a waiter to compute its own answer (the
/// statement failed: the error is the caller's to report, with its own request).
type Waiters = Vec<oneshot::Sender<Option<Bytes>>>;

/// One key's state: the group waiting for its turn (if any), the turn, held by the leader
/// whose statement runs (or is about to), and how many leaders there are (at most two: one
/// running, one waiting).
struct Key {
    waiting: Option<Waiters>,
    turn: Arc<tokio::sync::Mutex<()>>,
    leaders: usize,
}

type Keys = Mutex<HashMap<String, Key>>;

pub struct Collapser {
    slots: Arc<Semaphore>,
    keys: Keys,
}

impl Collapser {
    /// At most `in_flight` statements at once (at least one).
    pub fn new(in_flight: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(in_flight.max(1))),
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Keys with a statement running or waiting (none once the reads have been answered).
    pub fn keys_in_use(&self) -> usize {
        self.keys.lock().map(|k| k.len()).unwrap_or(0)
    }

    /// `compute`'s answer, or that of an identical read's statement that had not started when
    /// this read arrived.
    pub async fn run<F>(&self, key: String, compute: F) -> Result<Bytes, CatalogError>
    where
        F: Future<Output = Result<Bytes, CatalogError>>,
    {
        let joined = {
            let Ok(mut keys) = self.keys.lock() else {
                return compute.await;
            };
            let entry = keys.entry(key.clone()).or_insert_with(|| Key {
                waiting: None,
                turn: Arc::new(tokio::sync::Mutex::new(())),
                leaders: 0,
            });
            match entry.waiting.as_mut() {
                Some(waiters) => {
                    let (tx, rx) = oneshot::channel();
                    waiters.push(tx);
                    Err(rx)
                }
                None => {
                    entry.waiting = Some(Vec::new());
                    entry.leaders += 1;
                    Ok(entry.turn.clone())
                }
            }
        };
        let turn = match joined {
            Ok(turn) => turn,
            Err(rx) => {
                if let Ok(Some(body)) = rx.await {
                    return Ok(body);
                }
                return compute.await;
            }
        };
        // Should this read be dropped while it waits (its client gone), its group goes with it:
        // the waiters are told to compute their own answers.
        let mut group = Group {
            keys: &self.keys,
            key,
            started: false,
            turn: None,
        };
        // The key's previous statement has ended.
        group.turn = Some(turn.lock_owned().await);
        let slot = self.slots.acquire().await;
        // Started: whoever arrives from now on waits for the next statement.
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

/// The group a read leads, from its arrival until its statement has ended.
struct Group<'a> {
    keys: &'a Keys,
    key: String,
    started: bool,
    turn: Option<OwnedMutexGuard<()>>,
}

impl Group<'_> {
    fn start(&mut self) -> Waiters {
        if std::mem::replace(&mut self.started, true) {
            return Vec::new();
        }
        self.keys
            .lock()
            .ok()
            .and_then(|mut keys| keys.get_mut(&self.key)?.waiting.take())
            .unwrap_or_default()
    }
}

impl Drop for Group<'_> {
    fn drop(&mut self) {
        // Not started (dropped while waiting): the group's waiters compute their own answers.
        drop(self.start());
        drop(self.turn.take());
        // The key is forgotten once it has no leader left (so no group either).
        if let Ok(mut keys) = self.keys.lock() {
            if let Some(k) = keys.get_mut(&self.key) {
                k.leaders -= 1;
                if k.leaders == 0 {
                    keys.remove(&self.key);
                }
            }
        }
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

    /// A read of `key` whose statement counts itself in `runs` and answers `body`.
    fn read(
        c: &Arc<Collapser>,
        key: &str,
        runs: &Arc<AtomicUsize>,
        gate: Option<Arc<Notify>>,
        body: &'static str,
    ) -> tokio::task::JoinHandle<Result<Bytes, CatalogError>> {
        let (c, runs, key) = (c.clone(), runs.clone(), key.to_string());
        tokio::spawn(async move {
            c.run(key, async move {
                runs.fetch_add(1, Ordering::SeqCst);
                if let Some(gate) = gate {
                    gate.notified().await;
                }
                Ok(Bytes::from(body))
            })
            .await
        })
    }

    #[tokio::test]
    async fn reads_arriving_while_their_statement_runs_share_the_next_one() {
        let c = Arc::new(Collapser::new(4));
        let (gate, runs) = (Arc::new(Notify::new()), Arc::new(AtomicUsize::new(0)));
        let first = read(&c, "k", &runs, Some(gate.clone()), "first");
        settle().await;
        assert_eq!(runs.load(Ordering::SeqCst), 1, "the first statement runs");
        let later: Vec<_> = (0..3)
            .map(|_| read(&c, "k", &runs, None, "second"))
            .collect();
        // Another key does not wait for this one.
        let other = read(&c, "other", &runs, None, "other");
        assert_eq!(other.await.expect("task").expect("page"), "other");
        settle().await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "the later reads wait for their turn"
        );
        gate.notify_waiters();
        assert_eq!(first.await.expect("task").expect("page"), "first");
        for t in later {
            // Answered by a statement that started after they arrived.
            assert_eq!(t.await.expect("task").expect("page"), "second");
        }
        assert_eq!(
            runs.load(Ordering::SeqCst),
            3,
            "one statement for the three"
        );
        assert_eq!(c.keys_in_use(), 0, "nothing is kept");
    }

    #[tokio::test]
    async fn a_group_whose_leader_is_gone_computes_its_own_answers() {
        let c = Arc::new(Collapser::new(4));
        let (gate, runs) = (Arc::new(Notify::new()), Arc::new(AtomicUsize::new(0)));
        let first = read(&c, "k", &runs, Some(gate.clone()), "first");
        settle().await;
        let leader = read(&c, "k", &runs, None, "led");
        settle().await;
        let joined: Vec<_> = (0..2).map(|_| read(&c, "k", &runs, None, "own")).collect();
        settle().await;
        leader.abort();
        let _ = leader.await;
        settle().await;
        for t in joined {
            assert_eq!(t.await.expect("task").expect("page"), "own");
        }
        assert_eq!(
            runs.load(Ordering::SeqCst),
            3,
            "one each, without waiting for the turn"
        );
        gate.notify_waiters();
        assert_eq!(first.await.expect("task").expect("page"), "first");
        assert_eq!(c.keys_in_use(), 0, "nothing is kept");
    }
}
