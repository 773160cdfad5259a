//! Identical reads that wait together are answered by one statement (request collapsing).
//!
//! A list or search with the same key (filters, sort, cursor, page size, facets) runs at most
//! one statement at a time. A read that arrives while its key's statement runs waits for that
//! statement to end and then shares the next one with every identical read that arrived
//! meanwhile: under load, a popular page costs one statement per statement time, however many
//! ask for it. Different keys do not wait for each other beyond the pool: at most as many
//! statements run at once as the pool has connections for them.
//!
//! A group whose leader goes away before answering (its client gone) forms again around one
//! of its members, in the same order: it never falls back to a statement per read. A
//! statement's error is the answer of every read it was for.
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

use ecom_shared::Problem;

use crate::error::CatalogError;

/// Waiters of a group not started yet, told the statement's answer: the page, or the problem
/// its request met (the same for every identical read).
type Waiters = Vec<oneshot::Sender<Result<Bytes, Problem>>>;

/// One key's state: the group waiting for its turn (if any), the turn, held by the leader
/// whose statement runs (or is about to), and how many leaders there are (one running and one
/// waiting, and briefly a third while a leader that gave up is leaving).
struct Key {
    waiting: Option<Waiters>,
    turn: Arc<tokio::sync::Mutex<()>>,
    leaders: usize,
}

type Keys = Mutex<HashMap<String, Key>>;

/// What a read does: wait for a group's answer, or lead a group (take the key's turn, then a
/// slot, then run the statement).
enum Role {
    Joined(oneshot::Receiver<Result<Bytes, Problem>>),
    Lead(Arc<tokio::sync::Mutex<()>>),
}

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
    #[cfg(test)]
    fn keys_in_use(&self) -> usize {
        self.keys.lock().map(|k| k.len()).unwrap_or(0)
    }

    /// `compute`'s answer, or that of an identical read's statement that had not started when
    /// this read arrived.
    pub async fn run<F>(&self, key: String, compute: F) -> Result<Bytes, CatalogError>
    where
        F: Future<Output = Result<Bytes, CatalogError>>,
    {
        loop {
            match self.join_or_lead(&key) {
                Some(Role::Joined(rx)) => match rx.await {
                    Ok(Ok(body)) => return Ok(body),
                    Ok(Err(problem)) => return Err(CatalogError::Shared(problem)),
                    // The leader went (its client gone) before its statement ended: the group
                    // is gone with it, so this read joins or leads the next one.
                    Err(_) => continue,
                },
                Some(Role::Lead(turn)) => return self.lead(key, turn, compute).await,
                None => return compute.await,
            }
        }
    }

    /// Joins the key's waiting group, or starts one (`None`: the map is unusable after a
    /// panic elsewhere; the read runs alone).
    fn join_or_lead(&self, key: &str) -> Option<Role> {
        let mut keys = self.keys.lock().ok()?;
        let entry = keys.entry(key.to_string()).or_insert_with(|| Key {
            waiting: None,
            turn: Arc::new(tokio::sync::Mutex::new(())),
            leaders: 0,
        });
        Some(match entry.waiting.as_mut() {
            Some(waiters) => {
                let (tx, rx) = oneshot::channel();
                waiters.push(tx);
                Role::Joined(rx)
            }
            None => {
                entry.waiting = Some(Vec::new());
                entry.leaders += 1;
                Role::Lead(entry.turn.clone())
            }
        })
    }

    /// Runs the group's statement once the key's previous one has ended and a slot is free,
    /// and tells the group its answer.
    async fn lead<F>(
        &self,
        key: String,
        turn: Arc<tokio::sync::Mutex<()>>,
        compute: F,
    ) -> Result<Bytes, CatalogError>
    where
        F: Future<Output = Result<Bytes, CatalogError>>,
    {
        // Should this read be dropped before it answers (its client gone), its waiters are
        // told nothing and form a new group (see `run`).
        let mut group = Group {
            keys: &self.keys,
            key,
            started: false,
            turn: None,
        };
        group.turn = Some(turn.lock_owned().await);
        let slot = self.slots.acquire().await;
        // Started: whoever arrives from now on waits for the next statement.
        let waiters = group.start();
        let answer = compute.await;
        drop(slot);
        if waiters.is_empty() {
            return answer;
        }
        // One problem for all (converting a database error logs it, once).
        let answer = answer.map_err(|e| match e {
            CatalogError::Shared(p) => p,
            e => Problem::from(&e),
        });
        for w in waiters {
            let _ = w.send(answer.clone());
        }
        answer.map_err(CatalogError::Shared)
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
        // Not started (dropped while waiting): the group's waiters are told nothing and form a
        // new group.
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
    use std::time::Duration;
    use tokio::sync::Notify;

    /// Lets every spawned task run up to its next wait.
    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    type Read = tokio::task::JoinHandle<Result<Bytes, CatalogError>>;

    /// A read of `key` whose statement counts itself in `runs`, waits for `gate` if given, and
    /// answers `body` (or a validation error when `body` is empty).
    fn read(
        c: &Arc<Collapser>,
        key: &str,
        runs: &Arc<AtomicUsize>,
        gate: Option<Arc<Notify>>,
        body: &'static str,
    ) -> Read {
        let (c, runs, key) = (c.clone(), runs.clone(), key.to_string());
        tokio::spawn(async move {
            c.run(key, async move {
                runs.fetch_add(1, Ordering::SeqCst);
                if let Some(gate) = gate {
                    gate.notified().await;
                }
                if body.is_empty() {
                    return Err(CatalogError::Invalid("refused".into()));
                }
                Ok(Bytes::from(body))
            })
            .await
        })
    }

    /// The read's answer, failing the test rather than hanging it.
    async fn answer(t: Read) -> Result<Bytes, CatalogError> {
        tokio::time::timeout(Duration::from_secs(5), t)
            .await
            .expect("answered in time")
            .expect("task")
    }

    fn runs(n: &Arc<AtomicUsize>) -> usize {
        n.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn identical_reads_waiting_for_a_slot_share_one_statement() {
        const IN_FLIGHT: usize = 4;
        let c = Arc::new(Collapser::new(IN_FLIGHT));
        let (gate, n) = (Arc::new(Notify::new()), Arc::new(AtomicUsize::new(0)));
        // Every slot taken by a read of another key that waits for the gate.
        let busy: Vec<_> = (0..IN_FLIGHT)
            .map(|i| read(&c, &format!("busy {i}"), &n, Some(gate.clone()), "busy"))
            .collect();
        settle().await;
        let same: Vec<_> = (0..5).map(|_| read(&c, "k", &n, None, "page")).collect();
        settle().await;
        assert_eq!(runs(&n), IN_FLIGHT, "no slot for k yet");
        gate.notify_waiters();
        for t in same {
            assert_eq!(answer(t).await.expect("page"), "page");
        }
        for t in busy {
            answer(t).await.expect("busy");
        }
        assert_eq!(runs(&n), IN_FLIGHT + 1, "one statement for the five");
        assert_eq!(c.keys_in_use(), 0, "nothing is kept");
    }

    #[tokio::test]
    async fn reads_arriving_while_their_statement_runs_share_the_next_one() {
        let c = Arc::new(Collapser::new(4));
        let (gate, n) = (Arc::new(Notify::new()), Arc::new(AtomicUsize::new(0)));
        let first = read(&c, "k", &n, Some(gate.clone()), "first");
        settle().await;
        assert_eq!(runs(&n), 1, "the first statement runs");
        let second_gate = Arc::new(Notify::new());
        let mut second = vec![read(&c, "k", &n, Some(second_gate.clone()), "second")];
        settle().await;
        second.extend((0..2).map(|_| read(&c, "k", &n, None, "second")));
        // Another key does not wait for this one.
        let other = read(&c, "other", &n, None, "other");
        assert_eq!(answer(other).await.expect("page"), "other");
        settle().await;
        assert_eq!(runs(&n), 2, "the later reads wait for their turn");
        gate.notify_waiters();
        assert_eq!(answer(first).await.expect("page"), "first");
        settle().await;
        assert_eq!(runs(&n), 3, "one statement for the three");
        // A read arriving while the second statement runs waits for a third.
        let third = read(&c, "k", &n, None, "third");
        settle().await;
        assert_eq!(runs(&n), 3);
        second_gate.notify_waiters();
        for t in second {
            // Answered by a statement that started after they arrived.
            assert_eq!(answer(t).await.expect("page"), "second");
        }
        assert_eq!(answer(third).await.expect("page"), "third");
        assert_eq!(runs(&n), 4);
        assert_eq!(c.keys_in_use(), 0, "nothing is kept");
    }

    /// A leader gone while it waits for its turn, or while its statement runs: its group forms
    /// again around one of its members, still one statement at a time for the key.
    #[tokio::test]
    async fn a_group_whose_leader_is_gone_forms_again_and_still_waits_its_turn() {
        let c = Arc::new(Collapser::new(4));
        let (gate, n) = (Arc::new(Notify::new()), Arc::new(AtomicUsize::new(0)));
        let first = read(&c, "k", &n, Some(gate.clone()), "first");
        settle().await;
        let leader = read(&c, "k", &n, None, "led");
        settle().await;
        let joined: Vec<_> = (0..2).map(|_| read(&c, "k", &n, None, "own")).collect();
        settle().await;
        leader.abort();
        let _ = leader.await;
        settle().await;
        assert_eq!(runs(&n), 1, "the new group waits for the running statement");
        // Now the running statement's own leader goes too.
        first.abort();
        let _ = first.await;
        settle().await;
        assert_eq!(
            runs(&n),
            2,
            "the turn is free again: one statement for the group"
        );
        for t in joined {
            assert_eq!(answer(t).await.expect("page"), "own");
        }
        assert_eq!(runs(&n), 2);
        gate.notify_waiters();
        assert_eq!(c.keys_in_use(), 0, "nothing is kept");
    }

    #[tokio::test]
    async fn a_statement_s_error_is_every_member_s_answer() {
        let c = Arc::new(Collapser::new(4));
        let (gate, n) = (Arc::new(Notify::new()), Arc::new(AtomicUsize::new(0)));
        let first = read(&c, "k", &n, Some(gate.clone()), "");
        settle().await;
        let group: Vec<_> = (0..3).map(|_| read(&c, "k", &n, None, "")).collect();
        settle().await;
        gate.notify_waiters();
        let e = answer(first).await.expect_err("refused");
        assert!(matches!(e, CatalogError::Invalid(_)), "{e:?}");
        for t in group {
            match answer(t).await {
                Err(CatalogError::Shared(p)) => assert_eq!(p.status, 422),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(runs(&n), 2, "one statement for the group, not one each");
        assert_eq!(c.keys_in_use(), 0, "nothing is kept");
    }
}
