//! A service's process from start to stop, the same for every service: JSON logs at
//! `LOG_LEVEL`, the service's own start-up (its settings from the environment, the kit, its
//! state and background tasks), serving until SIGTERM/SIGINT with the drain, then its
//! background tasks stopped. A service's `run()` is [`run`] with its start-up.

use std::future::Future;

use axum::Router;
use tokio::task::JoinHandle;

use crate::app::{serve, shutdown_signal, Kit, KitError};
use crate::settings::{Env, SettingsError};

/// Why a service stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Kit(#[from] KitError),
    /// The service's own start-up failed (its signing keys, its demo seed, ...).
    #[error("{context}: {source}")]
    Start {
        context: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl RunError {
    pub fn start(context: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Start {
            context,
            source: Box::new(e),
        }
    }
}

/// What a service's start-up hands over: the router to serve, its kit, and the background
/// tasks to stop once serving is over.
pub struct Service {
    pub router: Router,
    pub kit: Kit,
    pub tasks: Vec<JoinHandle<()>>,
}

impl Service {
    pub fn new(router: Router, kit: Kit) -> Self {
        Self {
            router,
            kit,
            tasks: Vec::new(),
        }
    }

    /// A background task, stopped after the drain.
    pub fn task(mut self, task: JoinHandle<()>) -> Self {
        self.tasks.push(task);
        self
    }
}

/// Runs a service: logs, `start` with the process's environment, serve until a signal.
pub async fn run<F, Fut>(start: F) -> Result<(), RunError>
where
    F: FnOnce(Env) -> Fut,
    Fut: Future<Output = Result<Service, RunError>>,
{
    let env = Env::process();
    crate::telemetry::init_logs(&env.get("LOG_LEVEL").unwrap_or_else(|| "info".into()));
    let service = start(env).await?;
    let served = serve(service.router, &service.kit, shutdown_signal()).await;
    for task in service.tasks {
        task.abort();
    }
    Ok(served?)
}
