//! The whole shop in one test process: login, catalog (demo seed), inventory (stock for the
//! demo SKUs), payments and orders, each on its own fresh database and served on loopback,
//! with the storefront in front of them; and a small cookie-keeping HTTP client.

#![allow(dead_code)]

use std::net::SocketAddr;

use ecom_frontend::backend::Urls;
use ecom_shared::settings::{ClientSettings, CommonSettings, Env, JwksSource, Secret};
use ecom_shared::testing::{spawn, TestDb};
use ecom_shared::Kit;
use reqwest::redirect::Policy;

pub struct Shop {
    pub dbs: Vec<TestDb>,
    pub catalog_db: sqlx::PgPool,
    pub frontend: SocketAddr,
    pub urls: Urls,
}

/// orders' client secret, which login knows by its hash.
const ORDERS_SECRET: &str = "orders-client-secret-for-tests-0123456789";

fn url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

async fn db() -> TestDb {
    TestDb::new().await.expect("PostgreSQL is required")
}

pub async fn shop() -> Shop {
    shop_with(|_| {}).await
}

/// The shop, with a chance to change the storefront's settings (e.g. a backend's URL).
pub async fn shop_with(tweak: impl FnOnce(&mut ecom_frontend::Settings)) -> Shop {
    let (login_db, catalog_db, inventory_db, payments_db, orders_db, frontend_db) =
        tokio::join!(db(), db(), db(), db(), db(), db());

    ecom_login::MIGRATOR
        .run(&login_db.pool)
        .await
        .expect("migrate login");
    let common = CommonSettings::for_tests("login", &login_db.url);
    let env = Env::from_pairs([
        ("ARGON2_MEMORY_KIB", "64"),
        ("ARGON2_ITERATIONS", "1"),
        ("LOGIN_LOCKOUT_THRESHOLD", "5"),
    ]);
    let cfg = ecom_login::LoginConfig::from_env(&env, &common).expect("login config");
    // orders is the one service that calls others' protected routes: its own client.
    let clients = ecom_login::clients::Clients {
        by_id: ecom_login::clients::Clients::parse(
            &serde_json::json!({"orders": {
                "secret_sha256": [ecom_login::clients::secret_sha256(ORDERS_SECRET)],
                "scopes": ecom_shared::identity::scopes::ORDERS}})
            .to_string(),
        )
        .expect("clients"),
        ttl_seconds: 300,
    };
    let login = ecom_login::state(common, login_db.pool.clone(), cfg, clients)
        .await
        .expect("login state");
    let login = spawn(ecom_login::router(login)).await.expect("spawn login");
    let jwks = JwksSource::Url(format!("{}/.well-known/jwks.json", url(login)));

    ecom_catalog::MIGRATOR
        .run(&catalog_db.pool)
        .await
        .expect("migrate catalog");
    ecom_catalog::seed::seed_demo(&catalog_db.pool, 40)
        .await
        .expect("seed");
    let kit = Kit::from_pool(
        CommonSettings::for_tests("catalog", &catalog_db.url),
        catalog_db.pool.clone(),
    )
    .expect("kit");
    // No read cache: tests change products by SQL and read them back at once.
    let catalog = spawn(ecom_catalog::router(ecom_catalog::AppState::new(kit, 0)))
        .await
        .expect("spawn catalog");

    ecom_inventory::MIGRATOR
        .run(&inventory_db.pool)
        .await
        .expect("migrate inventory");
    sqlx::query(
        "INSERT INTO stock (sku, on_hand, reserved)
         SELECT 'DEMO-' || lpad(i::text, 4, '0'), 50, 0 FROM generate_series(1, 40) AS i",
    )
    .execute(&inventory_db.pool)
    .await
    .expect("stock");
    // Inventory verifies orders' token for it with login's keys.
    let mut common = CommonSettings::for_tests("inventory", &inventory_db.url);
    common.auth.jwks = jwks.clone();
    let kit = Kit::from_pool(common, inventory_db.pool.clone()).expect("kit");
    let inventory = spawn(ecom_inventory::router(ecom_inventory::AppState {
        kit,
        reservation_ttl_seconds: 900,
    }))
    .await
    .expect("spawn inventory");

    ecom_payments::MIGRATOR
        .run(&payments_db.pool)
        .await
        .expect("migrate payments");
    // Card tokens belong to the signed-in customer: payments verifies their token with login.
    let mut common = CommonSettings::for_tests("payments", &payments_db.url);
    common.auth.jwks = jwks.clone();
    let kit = Kit::from_pool(common, payments_db.pool.clone()).expect("kit");
    let payments = spawn(ecom_payments::router(ecom_payments::AppState::new(kit)))
        .await
        .expect("spawn payments");

    ecom_orders::MIGRATOR
        .run(&orders_db.pool)
        .await
        .expect("migrate orders");
    let mut common = CommonSettings::for_tests("orders", &orders_db.url);
    common.auth.jwks = jwks.clone();
    common.client = Some(ClientSettings {
        id: "orders".into(),
        secret: Secret::new(ORDERS_SECRET),
        login_url: url(login),
    });
    let (catalog_url, inventory_url, payments_url) = (url(catalog), url(inventory), url(payments));
    let settings = ecom_orders::Settings::read(
        common,
        &Env::from_pairs([
            ("CATALOG_URL", catalog_url.as_str()),
            ("INVENTORY_URL", inventory_url.as_str()),
            ("PAYMENTS_URL", payments_url.as_str()),
        ]),
    )
    .expect("orders settings");
    let kit = Kit::from_pool(settings.common.clone(), orders_db.pool.clone()).expect("kit");
    let orders = ecom_orders::AppState::from_settings(kit, &settings);
    let orders = spawn(ecom_orders::router(orders))
        .await
        .expect("spawn orders");

    let urls = Urls {
        login: url(login),
        catalog: url(catalog),
        inventory: url(inventory),
        orders: url(orders),
        payments: url(payments),
    };
    ecom_frontend::MIGRATOR
        .run(&frontend_db.pool)
        .await
        .expect("migrate frontend");
    let mut common = CommonSettings::for_tests("frontend", &frontend_db.url);
    common.auth.jwks = jwks;
    let mut settings = ecom_frontend::Settings {
        common: common.clone(),
        urls: urls.clone(),
        secure_cookies: true,
    };
    tweak(&mut settings);
    let kit = Kit::from_pool(settings.common.clone(), frontend_db.pool.clone()).expect("kit");
    let state = ecom_frontend::AppState::new(kit, settings);
    let frontend = spawn(ecom_frontend::router(state))
        .await
        .expect("spawn frontend");
    Shop {
        catalog_db: catalog_db.pool.clone(),
        dbs: vec![
            login_db,
            catalog_db,
            inventory_db,
            payments_db,
            orders_db,
            frontend_db,
        ],
        frontend,
        urls,
    }
}

/// What a browser would keep: the session cookie. Redirects are followed by hand so every
/// `Set-Cookie` is seen.
pub struct Browser {
    base: String,
    http: reqwest::Client,
    pub cookie: Option<String>,
}

pub struct Page {
    pub status: u16,
    pub url: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The value of the first hidden `csrf` input.
    pub fn csrf(&self) -> String {
        field(&self.body, "csrf").unwrap_or_else(|| panic!("no csrf field on {}", self.url))
    }
}

/// The value of the first input named `name` (the markup is ours, so this is enough).
pub fn field(body: &str, name: &str) -> Option<String> {
    let at = body.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &body[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_string())
}

impl Browser {
    pub fn new(shop: &Shop) -> Self {
        Self {
            base: url(shop.frontend),
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .expect("client"),
            cookie: None,
        }
    }

    fn keep_cookie(&mut self, res: &reqwest::Response) {
        for v in res.headers().get_all("set-cookie") {
            let v = v.to_str().expect("ascii cookie");
            let pair = v.split(';').next().unwrap_or_default().to_string();
            if v.contains("Max-Age=0") {
                self.cookie = None;
            } else {
                self.cookie = Some(pair);
            }
        }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let req = match &self.cookie {
            Some(c) => req.header("cookie", c),
            None => req,
        };
        let res = req.send().await.expect("request");
        self.keep_cookie(&res);
        let status = res.status().as_u16();
        let url = res.url().path().to_string();
        let headers = res.headers().clone();
        if (300..400).contains(&status) {
            let to = headers["location"].to_str().expect("location").to_string();
            return Box::pin(self.get(&to)).await;
        }
        let body = res.text().await.expect("body");
        Page {
            status,
            url,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.http.post(format!("{}{path}", self.base)).form(form);
        self.send(req).await
    }
}
