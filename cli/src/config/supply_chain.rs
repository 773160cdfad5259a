//! The supply chain's settings: the third-party images `ecomctl mirror` copies into the
//! platform's registry (each pinned by digest, so the cluster never pulls from the internet and
//! never gets other bytes than the ones vetted), and the severity at which `ecomctl scan` fails.

use super::model::Config;
use super::validate::Finding;
use crate::oci::reference::Reference;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where the mirrored images live in every registry (stacks/app creates `mirrors/<name>`).
pub const MIRROR_PREFIX: &str = "mirrors/";

/// Mirrored images and the image scan gate.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SupplyChain {
    /// Base and add-on images (the network-policy engine, the load balancer controller,
    /// collectors) that `ecomctl mirror` copies by digest into `<registry>/mirrors/...`, the
    /// repositories the app stage creates (its `ecr_mirror_repositories`).
    #[serde(default)]
    pub mirror: Vec<MirrorImage>,
    #[serde(default)]
    pub scan: ScanSettings,
}

/// One image to mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MirrorImage {
    /// The upstream image, pinned: `REGISTRY/PATH[:TAG]@sha256:DIGEST`, e.g.
    /// `quay.io/tigera/operator:v1.38.6@sha256:...`. The digest is what is copied (for a
    /// multi-platform image, the index with every platform's manifest); the tag, when given, is
    /// set on the copy too. Docker Hub images are named `docker.io/...`.
    pub source: String,
    /// The repository in the platform's registry. Default: `mirrors/` and the source's path
    /// (`mirrors/tigera/operator`; Docker Hub's `library/` left out, so `docker.io/library/debian`
    /// goes to `mirrors/debian`).
    #[serde(default)]
    pub target: Option<String>,
}

impl MirrorImage {
    /// The source parsed, and the target repository (the default filled in); `None` when the
    /// source does not parse (validation reports it).
    pub fn resolve(&self) -> Option<(Reference, String)> {
        let source = Reference::parse(&self.source).ok()?;
        let target = match &self.target {
            Some(t) => t.clone(),
            None => default_target(&source),
        };
        Some((source, target))
    }
}

/// `mirrors/<path>` for a source, Docker Hub's `library/` namespace left out.
pub fn default_target(source: &Reference) -> String {
    let hub = matches!(
        source.repo.registry.as_str(),
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    );
    let path = source.repo.path.as_str();
    let path = match path.strip_prefix("library/") {
        Some(rest) if hub => rest,
        _ => path,
    };
    format!("{MIRROR_PREFIX}{path}")
}

/// The image scan gate.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanSettings {
    /// `ecomctl scan` fails (exit 1) when an image has a finding of this severity or above.
    #[serde(default)]
    pub fail_on: Severity,
}

/// Vulnerability severities, lowest first (Grype's and Trivy's names map onto these).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    #[default]
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

fn valid_repository(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && c.as_bytes()[0].is_ascii_alphanumeric()
        })
}

/// Findings about the mirror list.
pub fn check(c: &Config) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut seen: Vec<(String, usize)> = Vec::new();
    for (i, image) in c.supply_chain.mirror.iter().enumerate() {
        let field = format!("supply_chain.mirror[{i}]");
        let mut push = |f: &str, message: String, hint: &str| {
            out.push(Finding {
                field: format!("{field}.{f}"),
                message,
                hint: Some(hint.into()),
            })
        };
        let source = match Reference::parse(&image.source) {
            Ok(r) => r,
            Err(e) => {
                push(
                    "source",
                    e.to_string(),
                    "name the image in full: REGISTRY/PATH[:TAG]@sha256:DIGEST",
                );
                continue;
            }
        };
        if source.digest.is_none() {
            push(
                "source",
                format!("\"{}\" is not pinned by digest", image.source),
                "append @sha256:<digest> of the image you vetted (`skopeo inspect --raw docker://IMAGE | sha256sum`, or `crane digest IMAGE`)",
            );
        }
        if let Some(t) = &image.target {
            let under = t.strip_prefix(MIRROR_PREFIX).unwrap_or_default();
            if !valid_repository(under) {
                push(
                    "target",
                    format!("\"{t}\" is not a repository under {MIRROR_PREFIX}"),
                    "mirrors/ and lowercase path parts (letters, digits, '.', '_', '-'), e.g. mirrors/calico/node",
                );
            }
        }
        if let Some((_, j)) = seen.iter().find(|(s, _)| *s == image.source) {
            push(
                "source",
                format!("\"{}\" is listed twice", image.source),
                &format!("remove it here or at supply_chain.mirror[{j}]"),
            );
        }
        seen.push((image.source.clone(), i));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn targets_default_to_the_source_path_under_mirrors() {
        let r = |s: &str| Reference::parse(s).unwrap();
        assert_eq!(
            default_target(&r(&format!("quay.io/tigera/operator:v1.38.6@{D}"))),
            "mirrors/tigera/operator"
        );
        assert_eq!(
            default_target(&r(&format!("docker.io/library/debian:12@{D}"))),
            "mirrors/debian"
        );
        assert_eq!(
            default_target(&r(&format!("docker.io/calico/node@{D}"))),
            "mirrors/calico/node"
        );
        assert_eq!(
            default_target(&r(&format!("ghcr.io/library/x@{D}"))),
            "mirrors/library/x"
        );
    }

    #[test]
    fn unpinned_sources_and_bad_targets_are_refused_by_validate() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/full.yaml");
        let text = std::fs::read_to_string(&path).unwrap();
        let bad = format!(
            "{text}\nsupply_chain:\n  mirror:\n    - source: quay.io/tigera/operator:v1.38.6\n    - source: quay.io/calico/node@{D}\n      target: calico/node\n    - source: quay.io/calico/node@{D}\n  scan:\n    fail_on: critical\n"
        );
        let Err(err) = crate::config::parse(&bad, &path) else {
            panic!("an unpinned mirror source was accepted");
        };
        let fields: Vec<&str> = err.diagnostics().iter().map(|d| d.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "supply_chain.mirror[0].source",
                "supply_chain.mirror[1].target",
                "supply_chain.mirror[2].source"
            ]
        );
        let first = &err.diagnostics()[0];
        assert!(first.message.contains("not pinned by digest"), "{first:?}");
        assert!(
            first.line > 1,
            "the finding points into the file: {first:?}"
        );
        let good = format!(
            "{text}\nsupply_chain:\n  mirror:\n    - source: quay.io/tigera/operator:v1.38.6@{D}\n  scan:\n    fail_on: critical\n"
        );
        let loaded = crate::config::parse(&good, &path).unwrap();
        assert_eq!(loaded.config.supply_chain.scan.fail_on, Severity::Critical);
        let (src, target) = loaded.config.supply_chain.mirror[0].resolve().unwrap();
        assert_eq!(target, "mirrors/tigera/operator");
        assert_eq!(src.tag.as_deref(), Some("v1.38.6"));
    }

    #[test]
    fn severities_are_ordered() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::Medium > Severity::Low);
        assert_eq!(Severity::default(), Severity::High);
    }
}
