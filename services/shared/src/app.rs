//! The kit a service is built on: settings, pool, metrics, verifier and HTTP client; the
//! operational routes; and serving with graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::auth::{AuthError, HasAuth, Verifier};
use crate::metrics::Metrics;
use crate::openapi::ApiDoc;
use crate::problem::Problem;
use crate::ratelimit::RateLimiter;
use crate::settings::CommonSettings;

#[derive(Debug, thiserror::Error)]
pub enum KitError {
    #[error("could not connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("could not run migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("could not set up token verification: {0}")]
    Auth(#[from] AuthError),
    #[error("could not build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error("could not bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server error: {0}")]
    Serve(#[source] std::io::Error),
}

/// Everything a service shares with the kit. Cheap to clone.
#[derive(Clone)]
pub struct Kit {
    pub settings: Arc<CommonSettings>,
    pub pool: PgPool,
    pub metrics: Arc<Metrics>,
    pub verifier: Arc<Verifier>,
    pub http: reqwest::Client,
}

pub trait HasKit {
    fn kit(&self) -> &Kit;
}

impl HasKit for Kit {
    fn kit(&self) -> &Kit {
        self
    }
}

impl<T: HasKit> HasAuth for T {
    fn verifier(&self) -> &Verifier {
        &self.kit().verifier
    }
    fn audience(&self) -> &str {
        &self.kit().settings.service
    }
}

pub fn http_client() -> Result<reqwest::Client, KitError> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(3))
        .pool_max_idle_per_host(64)
        .build()?)
}

/// Opens a pool.
///
/// Connections are not pinged each time they are taken from the pool (sqlx's default): that
/// is a round trip before every statement, about as many round trips as the statements
/// themselves. A connection the server has dropped fails the one statement that finds out,
/// and is then replaced; idle connections are recycled after 10 minutes anyway.
pub async fn connect(settings: &CommonSettings) -> Result<PgPool, KitError> {
    let mut options: PgConnectOptions = settings
        .database_url
        .expose()
        .parse()
        .map_err(KitError::Connect)?;
    if settings.db_generic_plans {
        // A generic plan is made once, at a statement's first use on the connection, and kept
        // until the table's statistics change. Made while a table is new and nearly empty, it
        // would scan the whole table for every keyed lookup until autoanalyze comes round
        // (measured: checkout fell by a third within 20 s of a fresh start). These services'
        // statements each have an index to walk, so a sequential scan is priced out (not
        // forbidden: a statement with no usable index still runs).
        //
        // JIT off: pricing a scan out adds a huge constant to the plan's cost, far over
        // `jit_above_cost`, so a statement with no better path than a scan was compiled at
        // every execution (measured: 135 ms to count 5,000 rows that take 1 ms to read).
        options = options.options([
            ("plan_cache_mode", "force_generic_plan"),
            ("enable_seqscan", "off"),
            ("jit", "off"),
        ]);
    }
    PgPoolOptions::new()
        .max_connections(settings.db_max_connections)
        .test_before_acquire(false)
        .idle_timeout(Duration::from_secs(600))
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(KitError::Connect)
}

impl Kit {
    /// Connects, runs the service's embedded migrations and sets up verification.
    pub async fn start(settings: CommonSettings, migrator: &Migrator) -> Result<Self, KitError> {
        let pool = connect(&settings).await?;
        migrator.run(&pool).await?;
        Self::from_pool(settings, pool)
    }

    /// A kit over an existing pool (migrations are the caller's business).
    pub fn from_pool(settings: CommonSettings, pool: PgPool) -> Result<Self, KitError> {
        let http = http_client()?;
        let verifier = Verifier::new(&settings.auth, http.clone())?;
        Ok(Self {
            metrics: Arc::new(Metrics::new(&settings.service)),
            settings: Arc::new(settings),
            pool,
            verifier: Arc::new(verifier),
            http,
        })
    }

    /// A rate limiter for one route using the configured rate.
    pub fn limiter(&self, route: &str) -> Arc<RateLimiter> {
        self.limiter_with(
            route,
            self.settings.rate_limit_per_second,
            self.settings.rate_limit_burst,
        )
    }

    pub fn limiter_with(&self, route: &str, per_second: f64, burst: f64) -> Arc<RateLimiter> {
        RateLimiter::new(route, per_second, burst, self.metrics.clone())
            .trusting(self.settings.trusted_proxies.clone())
    }
}

#[derive(Clone)]
struct Ops {
    pool: PgPool,
    metrics: Arc<Metrics>,
    openapi: Arc<serde_json::Value>,
    service: String,
}

async fn healthz(State(ops): State<Ops>) -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok", "service": ops.service}))
}

async fn readyz(State(ops): State<Ops>) -> Response {
    let ping = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query("SELECT 1").execute(&ops.pool),
    )
    .await;
    match ping {
        Ok(Ok(_)) => Json(serde_json::json!({"status": "ready", "database": "ok"})).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database error");
            Problem::unavailable("database is not reachable").into_response()
        }
        Err(_) => Problem::unavailable("database did not answer in time").into_response(),
    }
}

async fn metrics(State(ops): State<Ops>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        ops.metrics.render(),
    )
        .into_response()
}

async fn openapi(State(ops): State<Ops>) -> Json<serde_json::Value> {
    Json((*ops.openapi).clone())
}

async fn not_found() -> Problem {
    Problem::not_found("no such route")
}

/// Adds `/healthz`, `/readyz`, `/metrics`, `/openapi.json`, the 404 problem fallback, request
/// ids, logs and metrics to a service's API router.
pub fn finish(api: Router, kit: &Kit, doc: &ApiDoc) -> Router {
    let ops = Ops {
        pool: kit.pool.clone(),
        metrics: kit.metrics.clone(),
        openapi: Arc::new(doc.to_json()),
        service: kit.settings.service.clone(),
    };
    let ops_routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .with_state(ops);
    api.merge(ops_routes)
        .fallback(not_found)
        .layer(axum::middleware::from_fn(crate::edge::errors_as_problems))
        .layer(axum::middleware::from_fn_with_state(
            kit.metrics.clone(),
            crate::telemetry::observe,
        ))
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received, draining");
}

/// Binds the configured address and serves until `shutdown` resolves; in-flight requests get
/// `shutdown_grace` to finish.
pub async fn serve<F>(router: Router, kit: &Kit, shutdown: F) -> Result<(), KitError>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let addr = kit.settings.bind;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| KitError::Bind { addr, source })?;
    // The bound address: with port 0 the system picks it, and this line is how callers learn it.
    let addr = listener.local_addr().unwrap_or(addr);
    tracing::info!(service = %kit.settings.service, %addr, "listening");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let grace = kit.settings.shutdown_grace;
    let signal = async move {
        shutdown.await;
        let _ = tx.send(());
    };
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal);
    let deadline = async move {
        if rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        r = server => r.map_err(KitError::Serve)?,
        _ = deadline => tracing::warn!("grace period over, closing remaining connections"),
    }
    kit.pool.close().await;
    tracing::info!("stopped");
    Ok(())
}
