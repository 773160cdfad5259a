//! Registry credentials from the Docker config (`$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`, `auths` entries) and the two challenge flows registries use: Basic,
//! and Bearer (a token from the realm, asked for with the same credentials).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;

/// A user name and password (or token). Never printed: `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.username)
    }
}

impl Credentials {
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{path}: {why}")]
    Config { path: PathBuf, why: String },
}

/// Credentials per registry host, from the Docker config.
#[derive(Debug, Default, Clone)]
pub struct DockerConfig {
    auths: BTreeMap<String, Credentials>,
}

/// `https://host:5000/v1/` -> `host:5000`.
fn host_key(key: &str) -> String {
    let k = key
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    k.split('/').next().unwrap_or(k).to_string()
}

impl DockerConfig {
    /// The config the environment names; none at all is an empty config (anonymous access).
    pub fn load() -> Result<DockerConfig, AuthError> {
        let path = std::env::var_os("DOCKER_CONFIG")
            .map(|d| PathBuf::from(d).join("config.json"))
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
            });
        match path {
            Some(p) if p.is_file() => DockerConfig::read(&p),
            _ => Ok(DockerConfig::default()),
        }
    }

    pub fn read(path: &Path) -> Result<DockerConfig, AuthError> {
        let err = |why: String| AuthError::Config {
            path: path.to_path_buf(),
            why,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
        let mut auths = BTreeMap::new();
        if let Some(map) = v.get("auths").and_then(|a| a.as_object()) {
            for (key, entry) in map {
                let from_auth = entry.get("auth").and_then(|a| a.as_str()).and_then(|a| {
                    let raw = base64::engine::general_purpose::STANDARD.decode(a).ok()?;
                    let s = String::from_utf8(raw).ok()?;
                    let (u, p) = s.split_once(':')?;
                    Some(Credentials {
                        username: u.to_string(),
                        password: p.to_string(),
                    })
                });
                let fields = || {
                    Some(Credentials {
                        username: entry.get("username")?.as_str()?.to_string(),
                        password: entry.get("password")?.as_str()?.to_string(),
                    })
                };
                let creds = from_auth.or_else(fields).ok_or_else(|| {
                    err(format!(
                        "auths.{key}: no usable `auth` (base64 user:password) or username/password"
                    ))
                })?;
                auths.insert(host_key(key), creds);
            }
        }
        Ok(DockerConfig { auths })
    }

    pub fn with(mut self, host: &str, creds: Credentials) -> DockerConfig {
        self.auths.insert(host_key(host), creds);
        self
    }

    pub fn get(&self, registry: &str) -> Option<&Credentials> {
        self.auths.get(registry)
    }
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses `Bearer realm="...",service="...",scope="..."` or `Basic realm="..."`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let (scheme, params) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut fields = BTreeMap::new();
    let mut rest = params;
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        fields.insert(key, value.to_string());
        rest = next;
    }
    Some(Challenge::Bearer {
        realm: fields.remove("realm")?,
        service: fields.remove("service"),
        scope: fields.remove("scope"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        assert_eq!(
            parse_challenge("Basic realm=\"registry\""),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge("Bearer realm=\"https://auth.example/token\",service=\"reg\",scope=\"repository:shop/login:pull,push\""),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("reg".into()),
                scope: Some("repository:shop/login:pull,push".into()),
            })
        );
        assert_eq!(parse_challenge("Negotiate abc"), None);
    }

    #[test]
    fn docker_config_auths_are_read_by_host_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths":{"https://127.0.0.1:5000/v1/":{"auth":"dXNlcjpzM2NyZXQ6eA=="},"r.example":{"username":"u","password":"p"}}}"#,
        )
        .unwrap();
        let cfg = DockerConfig::read(&path).unwrap();
        let c = cfg.get("127.0.0.1:5000").unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("user", "s3cret:x")
        );
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(cfg.get("r.example").unwrap().username, "u");
        std::fs::write(&path, r#"{"auths":{"r.example":{}}}"#).unwrap();
        assert!(DockerConfig::read(&path).is_err());
    }
}
