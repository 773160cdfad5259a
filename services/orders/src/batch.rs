//! Group commit for the saga's own writes and inventory calls: concurrent checkouts hand
//! their request to a [`Batcher`]; whatever is queued (up to a limit) runs as one statement
//! (one round trip, one transaction, one commit) or one call, and each waiter gets its own
//! result.
//!
//! There is no waiting window: when no batch is running, a request starts one at once, so a
//! lone checkout pays a task spawn and nothing else. Requests that arrive while a batch runs
//! queue up and share the next one. Each batch function falls back to one statement per
//! request when the batched statement fails, so a request's error is its own.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::PgPool;
use tokio::sync::{oneshot, Notify};

use crate::error::OrdersError;

pub type BatchFuture<R> = Pin<Box<dyn Future<Output = Vec<Result<R, OrdersError>>> + Send>>;
type RunFn<T, R> = dyn Fn(PgPool, Vec<T>) -> BatchFuture<R> + Send + Sync;
type Job<T, R> = (T, oneshot::Sender<Result<R, OrdersError>>);

/// Coalesces concurrent requests of one kind into batches, one batch in flight at a time.
///
/// Leader and followers: a request queues itself; if no batch is running, it starts one with
/// everything queued (its own request included) in a task of its own, so a request that goes
/// away (client disconnected) does not cut the batch short. Requests that queue while a batch
/// runs wait for it to end, and one of them starts the next.
pub struct Batcher<T, R> {
    inner: Arc<Inner<T, R>>,
}

struct Inner<T, R> {
    run: Box<RunFn<T, R>>,
    max_batch: usize,
    queue: Mutex<VecDeque<Job<T, R>>>,
    busy: AtomicBool,
    finished: Notify,
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    /// `run` must return exactly one result per request, in order.
    pub fn new(
        max_batch: usize,
        run: impl Fn(PgPool, Vec<T>) -> BatchFuture<R> + Send + Sync + 'static,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                run: Box::new(run),
                max_batch: max_batch.max(1),
                queue: Mutex::new(VecDeque::new()),
                busy: AtomicBool::new(false),
                finished: Notify::new(),
            }),
        }
    }

    /// Queues `item` and waits for its result.
    pub async fn submit(&self, pool: &PgPool, item: T) -> Result<R, OrdersError> {
        let (tx, mut rx) = oneshot::channel();
        self.inner
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back((item, tx));
        loop {
            // Registered before looking, so the end of a batch cannot be missed.
            let finished = self.inner.finished.notified();
            tokio::pin!(finished);
            finished.as_mut().enable();
            match rx.try_recv() {
                Ok(r) => return r,
                Err(oneshot::error::TryRecvError::Closed) => {
                    return Err(OrdersError::Invalid(
                        "write batcher dropped a request".into(),
                    ))
                }
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            if !self.inner.busy.swap(true, Ordering::AcqRel) {
                let inner = self.inner.clone();
                let pool = pool.clone();
                // A panic in the batch is seen by its waiters as a dropped request.
                let _ = tokio::spawn(async move { inner.lead(pool).await }).await;
                continue;
            }
            tokio::select! {
                r = &mut rx => {
                    return r.unwrap_or_else(|_| {
                        Err(OrdersError::Invalid("write batcher dropped a request".into()))
                    });
                }
                () = &mut finished => {}
            }
        }
    }
}

/// Marks the batcher idle and wakes the waiters when the leading task ends, even by panic.
struct Release<'a, T, R>(&'a Inner<T, R>);

impl<T, R> Drop for Release<'_, T, R> {
    fn drop(&mut self) {
        self.0.busy.store(false, Ordering::Release);
        self.0.finished.notify_waiters();
    }
}

impl<T, R> Inner<T, R> {
    async fn lead(&self, pool: PgPool) {
        let _release = Release(self);
        let jobs: Vec<Job<T, R>> = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            // A request whose caller went away is dropped unrun, as if it had been cancelled
            // before it was queued: the saga's state says what is left to do, for recovery.
            q.retain(|(_, tx)| !tx.is_closed());
            let n = q.len().min(self.max_batch);
            q.drain(..n).collect()
        };
        if jobs.is_empty() {
            return;
        }
        let (items, waiters): (Vec<T>, Vec<_>) = jobs.into_iter().unzip();
        let n = waiters.len();
        let mut results = (self.run)(pool, items).await;
        if results.len() != n {
            results = (0..n)
                .map(|_| {
                    Err(OrdersError::Invalid(
                        "write batch returned the wrong number of results".into(),
                    ))
                })
                .collect();
        }
        for (w, r) in waiters.into_iter().zip(results) {
            // A waiter that went away (client disconnected) is fine: the write is done, and
            // recovery or a replay finds the order as it is.
            let _ = w.send(r);
        }
    }
}
