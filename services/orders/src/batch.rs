//! Group commit for the saga's own writes: concurrent checkouts hand their write to a
//! [`Batcher`], whose worker takes whatever is queued (up to a limit), runs it as one
//! statement (one round trip, one transaction, one commit) and answers each waiter with its
//! own result.
//!
//! There is no waiting window: a worker starts as soon as one request is queued, so a lone
//! checkout pays one channel hop and nothing else. Requests that arrive while a statement is
//! running queue up and share the next one. Each batch function falls back to one statement
//! per request when the batched statement fails, so a request's error is its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::error::OrdersError;

pub type BatchFuture<R> = Pin<Box<dyn Future<Output = Vec<Result<R, OrdersError>>> + Send>>;
type RunFn<T, R> = dyn Fn(PgPool, Vec<T>) -> BatchFuture<R> + Send + Sync;
type Job<T, R> = (T, oneshot::Sender<Result<R, OrdersError>>);

/// Coalesces concurrent requests of one kind into batches run by `workers` tasks.
pub struct Batcher<T, R> {
    run: Arc<RunFn<T, R>>,
    max_batch: usize,
    workers: usize,
    queue: OnceLock<mpsc::UnboundedSender<Job<T, R>>>,
}

impl<T: Send + 'static, R: Send + 'static> Batcher<T, R> {
    /// `run` must return exactly one result per request, in order.
    pub fn new(
        max_batch: usize,
        workers: usize,
        run: impl Fn(PgPool, Vec<T>) -> BatchFuture<R> + Send + Sync + 'static,
    ) -> Self {
        Self {
            run: Arc::new(run),
            max_batch: max_batch.max(1),
            workers: workers.max(1),
            queue: OnceLock::new(),
        }
    }

    /// Queues `item` and waits for its result. The workers start at the first call (inside
    /// the runtime) and stop when the batcher is dropped.
    pub async fn submit(&self, pool: &PgPool, item: T) -> Result<R, OrdersError> {
        let queue = self.queue.get_or_init(|| self.start(pool.clone()));
        let (tx, rx) = oneshot::channel();
        queue
            .send((item, tx))
            .map_err(|_| OrdersError::Invalid("write batcher stopped".into()))?;
        rx.await
            .map_err(|_| OrdersError::Invalid("write batcher dropped a request".into()))?
    }

    fn start(&self, pool: PgPool) -> mpsc::UnboundedSender<Job<T, R>> {
        let (tx, rx) = mpsc::unbounded_channel::<Job<T, R>>();
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..self.workers {
            let rx = rx.clone();
            let run = self.run.clone();
            let pool = pool.clone();
            let max = self.max_batch;
            tokio::spawn(async move {
                loop {
                    let jobs = {
                        let mut rx = rx.lock().await;
                        let Some(first) = rx.recv().await else {
                            return;
                        };
                        let mut jobs = vec![first];
                        while jobs.len() < max {
                            match rx.try_recv() {
                                Ok(j) => jobs.push(j),
                                Err(_) => break,
                            }
                        }
                        jobs
                    };
                    let (items, waiters): (Vec<T>, Vec<_>) = jobs.into_iter().unzip();
                    let n = waiters.len();
                    let mut results = run(pool.clone(), items).await;
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
                        // A waiter that went away (client disconnected) is fine: the write
                        // is done, and recovery or a replay finds the order as it is.
                        let _ = w.send(r);
                    }
                }
            });
        }
        tx
    }
}
