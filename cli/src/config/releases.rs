//! Third-party releases the cluster stage installs (the Calico operator, the AWS Load Balancer
//! Controller chart) and the network-policy engine of each environment. Releases are never
//! copied into this repository: the config pins each by version and SHA-256 and names where to
//! get it (upstream, or the team's mirror for air-gapped clusters); ecomctl fetches, verifies
//! and caches it (`crate::cluster::fetch`).

use super::model::{Config, NetworkPolicyEngine};
use super::validate::Finding;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Pinned third-party releases.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Releases {
    /// The Tigera operator manifest (`tigera-operator.yaml` of a Calico release). Required when
    /// an environment sets `eks.network_policy: calico`.
    #[serde(default)]
    pub calico: Option<ReleasePin>,
    /// The AWS Load Balancer Controller Helm chart (`aws-load-balancer-controller-<v>.tgz`),
    /// which binds the ALB's target groups to the services (TargetGroupBinding). Without a pin
    /// ecomctl does not manage the controller and its CRDs must already be installed.
    #[serde(default)]
    pub aws_load_balancer_controller: Option<ReleasePin>,
}

/// One release: what it is, where it comes from, and the digest it must have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleasePin {
    /// The release's version (`v3.30.3`, `1.13.4`), shown in plans.
    pub version: String,
    /// Where to fetch it: an `https://` URL (upstream or the team's mirror). Plain `http://` is
    /// accepted only for a loopback address.
    pub url: String,
    /// SHA-256 of the file, 64 lowercase hex digits (`sha256sum` of the file you vetted).
    pub sha256: String,
}

impl Releases {
    /// (config field, pin) of every pinned release.
    pub fn pinned(&self) -> Vec<(&'static str, &ReleasePin)> {
        let mut out = Vec::new();
        if let Some(p) = &self.calico {
            out.push(("releases.calico", p));
        }
        if let Some(p) = &self.aws_load_balancer_controller {
            out.push(("releases.aws_load_balancer_controller", p));
        }
        out
    }
}

/// Whether `url` may be fetched: https anywhere, http only on loopback.
pub fn url_allowed(url: &str) -> bool {
    if url.starts_with("https://") {
        return url.len() > "https://".len();
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host_port = rest.split('/').next().unwrap_or_default();
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

fn check_pin(field: &str, pin: &ReleasePin, out: &mut Vec<Finding>) {
    let push = |out: &mut Vec<Finding>, f: &str, m: String, h: &str| {
        out.push(Finding {
            field: format!("{field}.{f}"),
            message: m,
            hint: Some(h.into()),
        })
    };
    if pin.version.trim().is_empty() || pin.version.len() > 64 {
        push(
            out,
            "version",
            "must name the release's version".into(),
            "e.g. v3.30.3",
        );
    }
    let hex = pin.sha256.len() == 64
        && pin
            .sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !hex {
        push(
            out,
            "sha256",
            format!("\"{}\" is not a SHA-256 digest", pin.sha256),
            "64 lowercase hex digits: `sha256sum <file>` of the release you vetted",
        );
    }
    if !url_allowed(&pin.url) {
        push(
            out,
            "url",
            format!("\"{}\" is not an https URL", pin.url),
            "fetch from https (upstream or your mirror); http is accepted only on loopback",
        );
    }
}

/// Findings about the pins and the engines that need them.
pub fn check(c: &Config) -> Vec<Finding> {
    let mut out = Vec::new();
    for (field, pin) in c.releases.pinned() {
        check_pin(field, pin, &mut out);
    }
    if c.releases.calico.is_none() {
        for (name, env) in &c.environments {
            if env.eks.network_policy == NetworkPolicyEngine::Calico {
                out.push(Finding {
                    field: format!("environments.{name}.eks.network_policy"),
                    message: "is calico, but releases.calico pins no Calico release".into(),
                    hint: Some(
                        "add releases.calico (version, url, sha256 of tigera-operator.yaml), or \
                         use vpc-cni (the EKS add-on enforces NetworkPolicies itself)"
                            .into(),
                    ),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http_is_fetched() {
        assert!(url_allowed("https://github.com/x/y.yaml"));
        assert!(url_allowed("http://127.0.0.1:8080/x.tgz"));
        assert!(url_allowed("http://localhost/x.tgz"));
        assert!(url_allowed("http://[::1]:9/x"));
        assert!(!url_allowed("http://example.com/x.tgz"));
        assert!(!url_allowed("http://127.0.0.1.evil.example/x"));
        assert!(!url_allowed("file:///etc/passwd"));
        assert!(!url_allowed("https://"));
    }

    #[test]
    fn calico_needs_its_pin_and_validate_names_the_environment() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/full.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        let calico = text.replacen("network_policy: vpc-cni", "network_policy: calico", 1);
        assert_ne!(calico, text);
        let Err(err) = crate::config::parse(&calico, &path) else {
            panic!("network_policy: calico without releases.calico was accepted");
        };
        let msg = format!("{err:?}");
        assert!(
            msg.contains("environments.nonprod.eks.network_policy")
                && msg.contains("releases.calico"),
            "{msg}"
        );
        let pinned = format!(
            "{calico}\nreleases:\n  calico:\n    version: v3.30.3\n    url: https://mirror.example.com/t.yaml\n    sha256: {}\n",
            "a".repeat(64)
        );
        let loaded = crate::config::parse(&pinned, &path).unwrap();
        assert_eq!(
            loaded.config.environments["nonprod"].eks.network_policy,
            NetworkPolicyEngine::Calico
        );
    }

    #[test]
    fn a_bad_pin_names_each_field() {
        let pin = ReleasePin {
            version: "".into(),
            url: "ftp://x".into(),
            sha256: "ABC".into(),
        };
        let mut out = Vec::new();
        check_pin("releases.calico", &pin, &mut out);
        let fields: Vec<&str> = out.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "releases.calico.version",
                "releases.calico.sha256",
                "releases.calico.url"
            ]
        );
    }
}
