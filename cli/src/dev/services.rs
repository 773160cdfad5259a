//! The six services as `ecomctl dev` runs them: binary, port (from the base), database, and
//! the environment each needs to find the others.

use std::collections::BTreeMap;

/// One of the bundled services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Service {
    Login,
    Catalog,
    Inventory,
    Payments,
    Orders,
    Frontend,
}

impl Service {
    /// In start order: every service starts after the ones it calls at start-up.
    pub const ALL: [Service; 6] = [
        Service::Login,
        Service::Catalog,
        Service::Inventory,
        Service::Payments,
        Service::Orders,
        Service::Frontend,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::Login => "login",
            Service::Catalog => "catalog",
            Service::Inventory => "inventory",
            Service::Payments => "payments",
            Service::Orders => "orders",
            Service::Frontend => "frontend",
        }
    }

    pub fn crate_name(self) -> String {
        format!("ecom-{}", self.name())
    }

    /// Offset from the base port: the storefront on the base, the others as in the chart
    /// (8081 login ... 8085 payments with the default base 8080).
    pub fn port_offset(self) -> u16 {
        match self {
            Service::Frontend => 0,
            Service::Login => 1,
            Service::Catalog => 2,
            Service::Inventory => 3,
            Service::Orders => 4,
            Service::Payments => 5,
        }
    }

    /// The service's database for the dev instance `instance` (`ecom_dev_login`, ...).
    pub fn database(self, instance: &str) -> String {
        format!("ecom_{instance}_{}", self.name())
    }
}

/// Secrets of the dev services, made once per workspace (see `secrets`): each calling client
/// has its own (orders; `ecomctl dev` itself, which stocks the demo catalog), login knows them
/// by their SHA-256.
#[derive(Debug, Clone)]
pub struct DevSecrets {
    pub orders_client_secret: String,
    pub tools_client_secret: String,
    pub webhook_secret: String,
    pub login_kek: String,
}

/// The client id `ecomctl dev` calls as (it stocks the demo catalog: `inventory:write` only).
pub const TOOLS_CLIENT: &str = "ecomctl-dev";

/// The scopes orders' client is given (what its checkout saga does; the same list as
/// `ecom_shared::identity::scopes::ORDERS`).
pub const ORDERS_SCOPES: &[&str] = &[
    "payments:authorize",
    "payments:read",
    "payments:capture",
    "payments:refund",
    "inventory:write",
    "inventory:read",
];

fn sha256_hex(secret: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// login's `LOGIN_SERVICE_CLIENTS`: each client by the hash of its secret, with its scopes.
pub fn service_clients(secrets: &DevSecrets) -> String {
    serde_json::json!({
        "orders": {"secret_sha256": [sha256_hex(&secrets.orders_client_secret)], "scopes": ORDERS_SCOPES},
        TOOLS_CLIENT: {"secret_sha256": [sha256_hex(&secrets.tools_client_secret)], "scopes": ["inventory:write"]},
    })
    .to_string()
}

/// How one service is started.
#[derive(Debug, Clone)]
pub struct Launch {
    pub service: Service,
    pub port: u16,
    pub env: BTreeMap<String, String>,
}

/// Demo products the catalog seeds (and inventory stocks).
pub const DEMO_PRODUCTS: u32 = 200;

pub fn launch(service: Service, base: u16, database_url: &str, secrets: &DevSecrets) -> Launch {
    let port = |s: Service| base + s.port_offset();
    let url = |s: Service| format!("http://127.0.0.1:{}", port(s));
    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_string(), v);
    };
    set("DATABASE_URL", database_url.to_string());
    set("BIND_ADDR", format!("127.0.0.1:{}", port(service)));
    set("SHUTDOWN_GRACE_MS", "1000".into());
    set("DB_MAX_CONNECTIONS", "5".into());
    set("LOG_LEVEL", "info".into());
    let jwks = format!("{}/.well-known/jwks.json", url(Service::Login));
    match service {
        Service::Login => {
            set("LOGIN_KEY_ENCRYPTION_KEY", secrets.login_kek.clone());
            set("LOGIN_SERVICE_CLIENTS", service_clients(secrets));
            // The storefront signs people in on their behalf and passes their address on.
            set("TRUSTED_PROXIES", "127.0.0.1".into());
        }
        Service::Catalog => set("CATALOG_SEED_DEMO", DEMO_PRODUCTS.to_string()),
        // Orders' token for inventory (and an admin's) is verified with login's keys.
        Service::Inventory => set("JWKS_URL", jwks),
        Service::Payments => {
            // Card tokens belong to the signed-in customer, whose token payments verifies.
            set("JWKS_URL", jwks);
            set(
                "PAYMENTS_WEBHOOK_URL",
                format!("{}/v1/webhooks/payments", url(Service::Orders)),
            );
            set("PAYMENTS_WEBHOOK_SECRET", secrets.webhook_secret.clone());
        }
        Service::Orders => {
            set("JWKS_URL", jwks);
            set("CATALOG_URL", url(Service::Catalog));
            set("INVENTORY_URL", url(Service::Inventory));
            set("PAYMENTS_URL", url(Service::Payments));
            set("PAYMENTS_WEBHOOK_SECRET", secrets.webhook_secret.clone());
            // orders calls inventory and payments as itself: tokens from login.
            set("LOGIN_URL", url(Service::Login));
            set(
                "SERVICE_CLIENT_SECRET",
                secrets.orders_client_secret.clone(),
            );
        }
        Service::Frontend => {
            set("JWKS_URL", jwks);
            set("LOGIN_URL", url(Service::Login));
            set("CATALOG_URL", url(Service::Catalog));
            set("INVENTORY_URL", url(Service::Inventory));
            set("ORDERS_URL", url(Service::Orders));
            set("PAYMENTS_URL", url(Service::Payments));
        }
    }
    Launch {
        service,
        port: port(service),
        env,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> DevSecrets {
        DevSecrets {
            orders_client_secret: "o".into(),
            tools_client_secret: "t".into(),
            webhook_secret: "w".into(),
            login_kek: "k".into(),
        }
    }

    #[test]
    fn ports_follow_the_base_and_everyone_finds_everyone() {
        let ports: Vec<u16> = Service::ALL
            .iter()
            .map(|s| launch(*s, 9000, "postgres://x/y", &secrets()).port)
            .collect();
        assert_eq!(ports, [9001, 9002, 9003, 9005, 9004, 9000]);
        let f = launch(Service::Frontend, 9000, "postgres://x/y", &secrets());
        assert_eq!(f.env["ORDERS_URL"], "http://127.0.0.1:9004");
        assert_eq!(f.env["BIND_ADDR"], "127.0.0.1:9000");
        assert_eq!(
            f.env["JWKS_URL"],
            "http://127.0.0.1:9001/.well-known/jwks.json"
        );
        let o = launch(Service::Orders, 9000, "postgres://x/y", &secrets());
        assert_eq!(o.env["PAYMENTS_URL"], "http://127.0.0.1:9005");
        let p = launch(Service::Payments, 9000, "postgres://x/y", &secrets());
        assert_eq!(
            p.env["PAYMENTS_WEBHOOK_SECRET"],
            o.env["PAYMENTS_WEBHOOK_SECRET"]
        );
    }

    #[test]
    fn each_caller_has_its_own_secret_and_login_knows_only_their_hashes() {
        let all: Vec<Launch> = Service::ALL
            .iter()
            .map(|s| launch(*s, 9000, "postgres://x/y", &secrets()))
            .collect();
        assert!(all.iter().all(|l| !l.env.contains_key("SERVICE_TOKEN")));
        let with_secret: Vec<Service> = all
            .iter()
            .filter(|l| l.env.contains_key("SERVICE_CLIENT_SECRET"))
            .map(|l| l.service)
            .collect();
        assert_eq!(with_secret, [Service::Orders]);
        let o = launch(Service::Orders, 9000, "postgres://x/y", &secrets());
        assert_eq!(o.env["SERVICE_CLIENT_SECRET"], "o");
        assert_eq!(o.env["LOGIN_URL"], "http://127.0.0.1:9001");
        let l = launch(Service::Login, 9000, "postgres://x/y", &secrets());
        let clients: serde_json::Value =
            serde_json::from_str(&l.env["LOGIN_SERVICE_CLIENTS"]).expect("json");
        assert_eq!(clients["orders"]["secret_sha256"][0], sha256_hex("o"));
        assert_eq!(
            clients[TOOLS_CLIENT]["scopes"],
            serde_json::json!(["inventory:write"])
        );
        assert!(!l.env["LOGIN_SERVICE_CLIENTS"].contains("\"o\""));
        let i = launch(Service::Inventory, 9000, "postgres://x/y", &secrets());
        assert!(i.env.contains_key("JWKS_URL"));
    }
}
