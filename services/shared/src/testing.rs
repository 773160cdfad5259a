//! Test support: a fresh PostgreSQL database per test, and request helpers.
//!
//! PostgreSQL is required: when it is unreachable [`TestDb::new`] returns an error and the
//! test fails; it never skips.

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Connection, PgConnection};

use crate::openapi::ApiDoc;

#[derive(Debug, thiserror::Error)]
pub enum TestDbError {
    #[error("PostgreSQL is required for this test and is unreachable at {url}: {source}")]
    Unreachable { url: String, source: sqlx::Error },
    #[error("could not create the test database: {0}")]
    Create(sqlx::Error),
}

pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A database made for one test and dropped (with `FORCE`) when this value is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

impl TestDb {
    pub async fn new() -> Result<Self, TestDbError> {
        let admin = admin_url();
        let mut conn =
            PgConnection::connect(&admin)
                .await
                .map_err(|source| TestDbError::Unreachable {
                    url: admin.clone(),
                    source,
                })?;
        // The name is made here from a UUID, never from input, so it is safe to format.
        let name = format!("test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .map_err(TestDbError::Create)?;
        let _ = conn.close().await;
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        let url = format!("{base}/{name}");
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect(&url)
            .await
            .map_err(TestDbError::Create)?;
        Ok(Self { name, url, pool })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let pool = self.pool.clone();
        // Best effort, on its own thread so it works from inside or outside a runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                drop(pool);
                if let Ok(mut conn) = PgConnection::connect(&admin_url()).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// Serves `router` on an ephemeral loopback port; returns its address.
pub async fn spawn(router: Router) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    Ok(addr)
}

/// One in-process request with a raw body and an optional content type: (status, headers,
/// body text).
pub async fn call_raw(
    router: &Router,
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, HeaderMap, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let req = req
        .body(Body::from(body))
        .unwrap_or_else(|e| panic!("bad test request: {e}"));
    let (status, headers, bytes) = send(router, req).await;
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// Sends one request through `router`: (status, headers, body bytes).
async fn send(router: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, axum::body::Bytes) {
    use tower::ServiceExt as _;
    let res = router
        .clone()
        .oneshot(req)
        .await
        .unwrap_or_else(|e| match e {});
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 16 * 1024 * 1024)
        .await
        .unwrap_or_default();
    (status, headers, bytes)
}

/// One in-process request through `router`: (status, headers, JSON body or Null).
pub async fn call(
    router: &Router,
    method: Method,
    uri: &str,
    bearer: Option<&str>,
    body: Option<serde_json::Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, serde_json::Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = bearer {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap_or_else(|e| panic!("bad test request: {e}"));
    let (status, headers, bytes) = send(router, req).await;
    let json = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    (status, headers, json)
}

/// Asserts every route in the OpenAPI document is mounted: each answers with something other
/// than the router's own "no such route" 404 or a 405.
pub async fn assert_documented_routes_exist(router: &Router, doc: &ApiDoc) {
    for op in doc.operations() {
        let path: String = op
            .path
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') {
                    "00000000-0000-0000-0000-000000000000"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(op.method.to_uppercase().as_bytes())
            .unwrap_or_else(|e| panic!("bad method {}: {e}", op.method));
        let body = (method != Method::GET).then(|| serde_json::json!({}));
        let (status, _, json) = call(router, method.clone(), &path, None, body, &[]).await;
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {} is not mounted",
            op.path
        );
        let unmounted = status == StatusCode::NOT_FOUND && json["detail"] == "no such route";
        assert!(
            !unmounted,
            "{method} {} is documented but not mounted",
            op.path
        );
    }
}

/// A service under test: its router over a fresh, migrated database of its own, trusting the
/// tokens `auth` mints.
pub struct TestApp {
    pub db: TestDb,
    pub router: Router,
    pub auth: TestAuth,
}

impl TestApp {
    /// `make` builds the service's router from a kit set up for `service` by
    /// `CommonSettings::for_tests`.
    pub async fn start(
        service: &str,
        migrator: &sqlx::migrate::Migrator,
        auth: TestAuth,
        make: impl FnOnce(crate::Kit) -> Router,
    ) -> Self {
        let db = TestDb::new()
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
        migrator
            .run(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("migrate: {e}"));
        let mut settings = crate::settings::CommonSettings::for_tests(service, &db.url);
        auth.trust(&mut settings);
        let kit =
            crate::Kit::from_pool(settings, db.pool.clone()).unwrap_or_else(|e| panic!("kit: {e}"));
        let router = make(kit);
        Self { db, router, auth }
    }
}

/// Declares `struct $name(TestApp)`, dereferencing to [`TestApp`], for a test file that adds
/// helper methods of its own to the service under test.
#[macro_export]
macro_rules! test_app_type {
    ($name:ident) => {
        /// The service under test, with this file's helpers.
        struct $name($crate::testing::TestApp);

        impl std::ops::Deref for $name {
            type Target = $crate::testing::TestApp;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }
    };
}

/// A signing key whose JWKS a service under test trusts, to mint user tokens.
pub struct TestAuth {
    pub key: crate::auth::SigningKey,
}

impl TestAuth {
    pub fn new() -> Self {
        Self {
            key: crate::auth::SigningKey::generate("test-key")
                .unwrap_or_else(|e| panic!("test key: {e}")),
        }
    }

    /// Points `settings` at this key.
    pub fn trust(&self, settings: &mut crate::settings::CommonSettings) {
        settings.auth.jwks = crate::settings::JwksSource::Inline(
            crate::auth::jwks_document(&[self.key.jwk()]).to_string(),
        );
    }

    pub fn token(&self, sub: &str, roles: &[&str]) -> String {
        let claims = crate::auth::Claims {
            sub: sub.to_string(),
            exp: crate::unix_now() + 600,
            iat: crate::unix_now(),
            iss: Some(crate::auth::DEFAULT_ISSUER.into()),
            aud: None,
            email: None,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            token_use: Some(crate::auth::ACCESS_USE.into()),
            ..Default::default()
        };
        self.key
            .sign(&claims)
            .unwrap_or_else(|e| panic!("sign test token: {e}"))
    }

    /// A service token as login issues them: `client`'s, for `audience`, with `scopes`,
    /// valid for 10 minutes.
    pub fn service_token(&self, client: &str, audience: &str, scopes: &[&str]) -> String {
        self.service_token_until(client, audience, scopes, crate::unix_now() + 600)
    }

    /// A service token that expires at `exp` (seconds since the epoch; in the past for an
    /// expired one).
    pub fn service_token_until(
        &self,
        client: &str,
        audience: &str,
        scopes: &[&str],
        exp: u64,
    ) -> String {
        let claims = crate::auth::Claims {
            sub: format!("svc:{client}"),
            exp,
            iat: exp.saturating_sub(300),
            iss: Some(crate::auth::DEFAULT_ISSUER.into()),
            aud: Some(audience.to_string()),
            token_use: Some(crate::auth::SERVICE_USE.into()),
            scope: Some(scopes.join(" ")),
            client_id: Some(client.to_string()),
            jti: Some(uuid::Uuid::new_v4().simple().to_string()),
            ..Default::default()
        };
        self.key
            .sign(&claims)
            .unwrap_or_else(|e| panic!("sign test service token: {e}"))
    }

    /// orders' token for `audience` with every scope orders is given (what its callers' tests
    /// present).
    pub fn orders_token(&self, audience: &str) -> String {
        let scopes: Vec<&str> = crate::identity::scopes::ORDERS
            .iter()
            .copied()
            .filter(|s| crate::identity::scopes::audience(s) == audience)
            .collect();
        self.service_token("orders", audience, &scopes)
    }

    /// A stand-in for login's `POST /v1/service-tokens`: client `client` with secret
    /// `secret` gets tokens for any audience with the scopes of [`Self::orders_token`],
    /// valid `ttl` seconds; anything else is answered 401. Counts the tokens it issues.
    pub fn token_endpoint(
        &self,
        client: &str,
        secret: &str,
        ttl: u64,
    ) -> (Router, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let key = std::sync::Arc::new(
            crate::auth::SigningKey::from_pkcs8(&self.key.kid, self.key.pkcs8())
                .unwrap_or_else(|e| panic!("copy test key: {e}")),
        );
        let issued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = issued.clone();
        let (client, secret) = (client.to_string(), secret.to_string());
        let router = Router::new().route(
            "/v1/service-tokens",
            axum::routing::post(move |axum::Json(b): axum::Json<serde_json::Value>| {
                let me = TestAuth {
                    key: crate::auth::SigningKey::from_pkcs8(&key.kid, key.pkcs8())
                        .unwrap_or_else(|e| panic!("copy test key: {e}")),
                };
                let ok = b["client_id"] == client.as_str() && b["client_secret"] == secret.as_str();
                let count = count.clone();
                async move {
                    if !ok {
                        return Err(crate::Problem::unauthorized("bad client"));
                    }
                    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let aud = b["audience"].as_str().unwrap_or_default().to_string();
                    let scopes: Vec<&str> = crate::identity::scopes::ORDERS
                        .iter()
                        .copied()
                        .filter(|s| crate::identity::scopes::audience(s) == aud)
                        .collect();
                    let token =
                        me.service_token_until("orders", &aud, &scopes, crate::unix_now() + ttl);
                    Ok(axum::Json(serde_json::json!({
                        "access_token": token, "token_type": "Bearer", "expires_in": ttl,
                    })))
                }
            }),
        );
        (router, issued)
    }
}

/// The key [`TestAuth::shared`] uses: made once per test process.
static SHARED_KEY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();

impl TestAuth {
    /// A test key that is the same for every call in this process, so a test can mint tokens
    /// (e.g. [`orders_token`]) without a reference to the app's `TestAuth`.
    pub fn shared() -> Self {
        let der = SHARED_KEY.get_or_init(|| {
            crate::auth::SigningKey::generate("test-shared-key")
                .unwrap_or_else(|e| panic!("test key: {e}"))
                .pkcs8()
                .to_vec()
        });
        Self {
            key: crate::auth::SigningKey::from_pkcs8("test-shared-key", der)
                .unwrap_or_else(|e| panic!("test key: {e}")),
        }
    }
}

/// orders' service token for `audience`, signed with [`TestAuth::shared`]'s key.
pub fn orders_token(audience: &str) -> String {
    TestAuth::shared().orders_token(audience)
}

impl Default for TestAuth {
    fn default() -> Self {
        Self::new()
    }
}

/// Every `schema.table` in `pool`'s database (outside the system schemas) whose rows, cast to
/// text with all their columns, contain `needle`.
pub async fn tables_containing(pool: &PgPool, needle: &str) -> Vec<String> {
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_schema::text, table_name::text FROM information_schema.tables
         WHERE table_type = 'BASE TABLE'
           AND table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_else(|e| panic!("list tables: {e}"));
    assert!(!tables.is_empty(), "no tables to scan");
    let mut hits = Vec::new();
    for (schema, table) in tables {
        let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let sql = format!(
            "SELECT count(*) FROM {}.{} t WHERE strpos(t::text, $1) > 0",
            q(&schema),
            q(&table)
        );
        let n: i64 = sqlx::query_scalar(&sql)
            .bind(needle)
            .fetch_one(pool)
            .await
            .unwrap_or_else(|e| panic!("scan {schema}.{table}: {e}"));
        if n > 0 {
            hits.push(format!("{schema}.{table}"));
        }
    }
    hits
}
