//! Settings read once from the environment, up front, into typed values.
//!
//! Every service calls [`CommonSettings::from_env`] and then reads its own extra variables
//! through an [`Env`], so every error names the variable and says what was wrong with it.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("{name} is not set{hint}")]
    Missing { name: String, hint: String },
    #[error("{name} is invalid: {reason}")]
    Invalid { name: String, reason: String },
}

/// A string that never appears in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A source of variables: the process environment, or a map in tests.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: Option<HashMap<String, String>>,
}

impl Env {
    /// Reads the process environment.
    pub fn process() -> Self {
        Self { vars: None }
    }

    /// Reads only the given pairs (tests).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: Some(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
        }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        let value = match &self.vars {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        value.filter(|v| !v.trim().is_empty())
    }

    pub fn required(&self, name: &str, hint: &str) -> Result<String, SettingsError> {
        self.get(name).ok_or_else(|| SettingsError::Missing {
            name: name.to_string(),
            hint: if hint.is_empty() {
                String::new()
            } else {
                format!(" ({hint})")
            },
        })
    }

    pub fn parse_or<T>(&self, name: &str, default: T) -> Result<T, SettingsError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|e: T::Err| SettingsError::Invalid {
                    name: name.to_string(),
                    reason: format!("{e} (got {raw:?})"),
                }),
        }
    }

    pub fn bool_or(&self, name: &str, default: bool) -> Result<bool, SettingsError> {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
            Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(false),
            Some(v) => Err(SettingsError::Invalid {
                name: name.to_string(),
                reason: format!("expected true or false, got {v:?}"),
            }),
        }
    }

    pub fn millis_or(&self, name: &str, default: Duration) -> Result<Duration, SettingsError> {
        let ms: u64 = self.parse_or(name, default.as_millis() as u64)?;
        Ok(Duration::from_millis(ms))
    }

    pub fn secret(&self, name: &str) -> Option<Secret> {
        self.get(name).map(Secret)
    }
}

/// Where JWT verification keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// No verification configured: every authenticated route answers 401.
    None,
    /// A JWKS document fetched over HTTP(S) (login's `/.well-known/jwks.json`, or Cognito's).
    Url(String),
    /// An inline JWKS document (tests, or a pinned set).
    Inline(String),
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub jwks: JwksSource,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

/// This service's own client credentials for login's client-credentials grant
/// (`SERVICE_CLIENT_ID`, default the service's name; `SERVICE_CLIENT_SECRET`; `LOGIN_URL`).
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub id: String,
    pub secret: Secret,
    pub login_url: String,
}

/// Settings every service reads.
#[derive(Debug, Clone)]
pub struct CommonSettings {
    pub service: String,
    pub bind: SocketAddr,
    pub database_url: Secret,
    pub db_max_connections: u32,
    /// Sessions run with `plan_cache_mode = force_generic_plan`: prepared statements are
    /// planned once per connection instead of at every execution (`DB_GENERIC_PLANS`), with
    /// `enable_seqscan = off`, so a plan made while a table is still empty uses its index
    /// once the table has grown, and with `jit = off`. Right for services whose statements
    /// each have an index to walk whatever their parameters' values (keyed lookups, the
    /// catalog's lists and searches); the services set the default.
    pub db_generic_plans: bool,
    pub log_filter: String,
    pub auth: AuthSettings,
    /// This service's client credentials, when it calls other services' protected routes.
    pub client: Option<ClientSettings>,
    /// Requests per second and burst for rate-limited routes.
    pub rate_limit_per_second: f64,
    pub rate_limit_burst: f64,
    /// Proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`: the load balancer's
    /// subnets). For a request from one of them, the client is the right-most address of the
    /// header that is not one of them; from anywhere else, the header is ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub shutdown_grace: Duration,
}

/// `TRUSTED_PROXIES`: addresses or CIDRs, separated by commas or spaces.
fn parse_proxies(raw: Option<String>) -> Result<Vec<ipnet::IpNet>, SettingsError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| SettingsError::Invalid {
                    name: "TRUSTED_PROXIES".into(),
                    reason: format!(
                        "{item:?} is not an address or a CIDR (e.g. 10.0.0.0/16, 10.0.1.7)"
                    ),
                })
        })
        .collect()
}

impl CommonSettings {
    /// `default_port` is used when `PORT` and `BIND_ADDR` are unset.
    pub fn from_env(service: &str, default_port: u16, env: &Env) -> Result<Self, SettingsError> {
        let bind = match env.get("BIND_ADDR") {
            Some(raw) => raw.parse().map_err(|e| SettingsError::Invalid {
                name: "BIND_ADDR".into(),
                reason: format!("{e} (expected host:port, got {raw:?})"),
            })?,
            None => {
                let port: u16 = env.parse_or("PORT", default_port)?;
                SocketAddr::from(([0, 0, 0, 0], port))
            }
        };
        let database_url = env.required(
            "DATABASE_URL",
            "e.g. postgres://postgres@127.0.0.1:5432/ecom",
        )?;
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(SettingsError::Invalid {
                name: "DATABASE_URL".into(),
                reason: "must start with postgres:// or postgresql://".into(),
            });
        }
        let jwks = match (env.get("JWKS_URL"), env.get("JWKS_JSON")) {
            (Some(_), Some(_)) => {
                return Err(SettingsError::Invalid {
                    name: "JWKS_URL".into(),
                    reason: "set JWKS_URL or JWKS_JSON, not both".into(),
                })
            }
            (Some(url), None) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(SettingsError::Invalid {
                        name: "JWKS_URL".into(),
                        reason: format!("expected an http(s) URL, got {url:?}"),
                    });
                }
                JwksSource::Url(url)
            }
            (None, Some(json)) => JwksSource::Inline(json),
            (None, None) => JwksSource::None,
        };
        if env.get("SERVICE_TOKEN").is_some() {
            return Err(SettingsError::Invalid {
                name: "SERVICE_TOKEN".into(),
                reason: "the shared service token is no longer accepted: each calling service \
                         has its own client (SERVICE_CLIENT_SECRET, LOGIN_URL) and login issues \
                         it short-lived, scoped tokens (see services/README.md); unset it"
                    .into(),
            });
        }
        let client = match env.secret("SERVICE_CLIENT_SECRET") {
            None => None,
            Some(secret) => Some(ClientSettings {
                id: env
                    .get("SERVICE_CLIENT_ID")
                    .unwrap_or_else(|| service.to_string()),
                secret,
                login_url: env.required(
                    "LOGIN_URL",
                    "where login issues service tokens, e.g. http://login:8081 (needed with \
                     SERVICE_CLIENT_SECRET)",
                )?,
            }),
        };
        let rate_limit_per_second: f64 = env.parse_or("RATE_LIMIT_PER_SECOND", 50.0)?;
        let rate_limit_burst: f64 = env.parse_or("RATE_LIMIT_BURST", 100.0)?;
        if rate_limit_per_second <= 0.0 || rate_limit_burst < 1.0 {
            return Err(SettingsError::Invalid {
                name: "RATE_LIMIT_PER_SECOND".into(),
                reason: "rate must be > 0 and burst >= 1".into(),
            });
        }
        Ok(Self {
            service: service.to_string(),
            bind,
            database_url: Secret(database_url),
            db_max_connections: env.parse_or("DB_MAX_CONNECTIONS", 10)?,
            db_generic_plans: env.parse_or("DB_GENERIC_PLANS", false)?,
            log_filter: env.get("LOG_LEVEL").unwrap_or_else(|| "info".into()),
            auth: AuthSettings {
                jwks,
                issuer: env.get("JWT_ISSUER"),
                audience: env.get("JWT_AUDIENCE"),
            },
            client,
            rate_limit_per_second,
            rate_limit_burst,
            trusted_proxies: parse_proxies(env.get("TRUSTED_PROXIES"))?,
            shutdown_grace: env.millis_or("SHUTDOWN_GRACE_MS", Duration::from_secs(20))?,
        })
    }

    /// Settings for tests: a database URL and everything else defaulted.
    pub fn for_tests(service: &str, database_url: &str) -> Self {
        Self {
            service: service.to_string(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: Secret(database_url.to_string()),
            db_max_connections: 10,
            db_generic_plans: false,
            log_filter: "warn".into(),
            auth: AuthSettings {
                jwks: JwksSource::None,
                issuer: None,
                audience: None,
            },
            client: None,
            rate_limit_per_second: 10_000.0,
            rate_limit_burst: 10_000.0,
            trusted_proxies: Vec::new(),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_database_url_names_the_variable() {
        let err = CommonSettings::from_env("x", 8080, &Env::from_pairs([("PORT", "1")]))
            .expect_err("must fail");
        assert!(
            err.to_string().starts_with("DATABASE_URL is not set"),
            "{err}"
        );
    }

    #[test]
    fn bad_port_says_what_was_given() {
        let env = Env::from_pairs([("PORT", "eighty"), ("DATABASE_URL", "postgres://x/y")]);
        let err = CommonSettings::from_env("x", 8080, &env).expect_err("must fail");
        assert!(err.to_string().contains("PORT is invalid"), "{err}");
        assert!(err.to_string().contains("eighty"), "{err}");
    }

    #[test]
    fn reads_defaults_and_hides_secrets() {
        let env = Env::from_pairs([
            ("DATABASE_URL", "postgres://u:pw@h/db"),
            ("SERVICE_CLIENT_SECRET", "s3cret"),
            ("LOGIN_URL", "http://login:8081"),
            ("JWKS_URL", "http://login:8080/.well-known/jwks.json"),
        ]);
        let s = CommonSettings::from_env("catalog", 8081, &env).expect("settings");
        assert_eq!(s.bind.port(), 8081);
        assert_eq!(s.client.as_ref().map(|c| c.id.as_str()), Some("catalog"));
        assert!(matches!(s.auth.jwks, JwksSource::Url(_)));
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("s3cret") && !dbg.contains("pw@"), "{dbg}");
    }

    #[test]
    fn trusted_proxies_are_addresses_or_cidrs() {
        let env = Env::from_pairs([
            ("DATABASE_URL", "postgres://h/db"),
            ("TRUSTED_PROXIES", "10.0.0.0/16, 10.1.2.3 fd00::/8"),
        ]);
        let s = CommonSettings::from_env("x", 1, &env).expect("settings");
        let got: Vec<String> = s.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(got, ["10.0.0.0/16", "10.1.2.3/32", "fd00::/8"]);
        let env = Env::from_pairs([
            ("DATABASE_URL", "postgres://h/db"),
            ("TRUSTED_PROXIES", "10.0.0.0/16,the-alb"),
        ]);
        let err = CommonSettings::from_env("x", 1, &env).expect_err("must fail");
        assert!(
            err.to_string().contains("TRUSTED_PROXIES is invalid"),
            "{err}"
        );
        assert!(err.to_string().contains("\"the-alb\""), "{err}");
    }

    #[test]
    fn the_shared_service_token_is_refused_and_a_client_needs_login() {
        let env = Env::from_pairs([("DATABASE_URL", "postgres://h/db"), ("SERVICE_TOKEN", "x")]);
        let err = CommonSettings::from_env("x", 1, &env).expect_err("must fail");
        assert!(
            err.to_string().contains("SERVICE_TOKEN is invalid"),
            "{err}"
        );
        let env = Env::from_pairs([
            ("DATABASE_URL", "postgres://h/db"),
            ("SERVICE_CLIENT_SECRET", "x"),
        ]);
        let err = CommonSettings::from_env("x", 1, &env).expect_err("must fail");
        assert!(err.to_string().starts_with("LOGIN_URL is not set"), "{err}");
    }

    #[test]
    fn both_jwks_sources_is_an_error() {
        let env = Env::from_pairs([
            ("DATABASE_URL", "postgres://h/db"),
            ("JWKS_URL", "http://x"),
            ("JWKS_JSON", "{}"),
        ]);
        assert!(CommonSettings::from_env("x", 1, &env).is_err());
    }
}
