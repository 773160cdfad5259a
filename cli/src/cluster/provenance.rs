//! What prod may run: every container image of the platform release pinned by digest, signed by
//! the key the config names, and recorded as deployed in the environment prod is promoted from
//! (`oci::provenance`). Checked while the cluster stage plans, so a refused image stops the run
//! before anything is applied; the verdicts go into the plan document for the auditors.

use std::collections::BTreeMap;

use serde::Serialize;

use super::manifest::Manifest;
use crate::oci::provenance;
use crate::oci::reference::Reference;
use crate::oci::registry::Client;
use crate::oci::sign::{self, VerifyingKey};
use crate::oci::transfer::TransferError;

/// One image a workload of the release runs, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pinned {
    /// `Deployment/ecommerce/orders (container orders)`.
    pub used_by: Vec<String>,
    pub image: String,
}

/// What was checked of one image (kept in the plan document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub image: String,
    pub used_by: Vec<String>,
    /// Signatures that verify with the key / all signatures found.
    pub signatures_valid: usize,
    pub signatures_found: usize,
    /// Environments a deployment of this digest is recorded in.
    pub deployed_in: Vec<String>,
    /// Why it is refused; empty when it may run.
    pub refused: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("{} image(s) may not run in {env}:\n{}", .refused.len(), .refused.join("\n"))]
    Refused { env: String, refused: Vec<String> },
    #[error("checking {image}: {source}")]
    Registry {
        image: String,
        #[source]
        source: TransferError,
    },
}

impl GateError {
    pub fn hint(&self, from: &str) -> String {
        match self {
            GateError::Refused { .. } => format!(
                "prod runs only digests that are signed (`ecomctl sign`) and were deployed to \
                 {from} first (`ecomctl deploy -e {from}`, then `ecomctl promote`); see \
                 docs/supply-chain.md"
            ),
            GateError::Registry { .. } => {
                "check that the registry is reachable and that the credentials may pull \
                 (Docker config `auths`, or ECR through the ambient AWS credentials)"
                    .to_string()
            }
        }
    }
}

/// The container images (init containers too) of the workloads in `namespace`, once each.
pub fn images(manifests: &[Manifest], namespace: &str) -> Vec<Pinned> {
    let mut found: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in manifests
        .iter()
        .filter(|m| m.id.namespace.as_deref() == Some(namespace))
    {
        let spec = match m.id.kind.as_str() {
            "Deployment" | "StatefulSet" | "DaemonSet" | "Job" => &m.value["spec"]["template"],
            "CronJob" => &m.value["spec"]["jobTemplate"]["spec"]["template"],
            "Pod" => &m.value,
            _ => continue,
        };
        for list in ["initContainers", "containers"] {
            for c in spec["spec"][list].as_array().into_iter().flatten() {
                if let Some(image) = c["image"].as_str() {
                    found.entry(image.to_string()).or_default().push(format!(
                        "{}/{namespace}/{} (container {})",
                        m.id.kind,
                        m.id.name,
                        c["name"].as_str().unwrap_or("?")
                    ));
                }
            }
        }
    }
    found
        .into_iter()
        .map(|(image, used_by)| Pinned { used_by, image })
        .collect()
}

/// The public key of `environments.<env>.images.verify_key` (relative to the config), or why not.
pub fn verify_key(loaded: &crate::config::Loaded, env: &str) -> Result<VerifyingKey, String> {
    let field = format!("environments.{env}.images.verify_key");
    let Some(rel) = loaded
        .config
        .environments
        .get(env)
        .and_then(|e| e.images.verify_key.as_ref())
    else {
        return Err(format!(
            "{field} is not set, and prod runs only signed images"
        ));
    };
    let path = loaded.base_dir().join(rel);
    std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| VerifyingKey::from_pem(&t).map_err(|e| e.to_string()))
        .map_err(|e| format!("{field} ({}): {e}", path.display()))
}

/// The verdict on every image (signatures, deployment records); only a registry that cannot be
/// read is an error.
pub async fn verdicts(
    client: &Client,
    images: &[Pinned],
    key: &VerifyingKey,
    from: &str,
) -> Result<Vec<Verdict>, GateError> {
    let mut verdicts = Vec::new();
    for p in images {
        let mut v = Verdict {
            image: p.image.clone(),
            used_by: p.used_by.clone(),
            signatures_valid: 0,
            signatures_found: 0,
            deployed_in: Vec::new(),
            refused: Vec::new(),
        };
        let pinned = Reference::parse(&p.image)
            .ok()
            .and_then(|r| r.digest.clone().map(|d| (r.repo, d)));
        match pinned {
            None => v.refused.push("not pinned by digest (@sha256:...)".into()),
            Some((repo, digest)) => {
                let fail = |source| GateError::Registry {
                    image: p.image.clone(),
                    source,
                };
                let (good, total) = sign::verify(client, &repo, &digest, key)
                    .await
                    .map_err(fail)?;
                v.signatures_valid = good;
                v.signatures_found = total;
                if good == 0 {
                    v.refused.push(match total {
                        0 => "not signed".to_string(),
                        n => format!("none of its {n} signature(s) verifies with the key"),
                    });
                }
                v.deployed_in = provenance::deployed_in(client, &repo, &digest)
                    .await
                    .map_err(fail)?;
                if !v.deployed_in.iter().any(|e| e == from) {
                    v.refused.push(format!("never deployed to {from}"));
                }
            }
        }
        verdicts.push(v);
    }
    Ok(verdicts)
}

impl Verdict {
    /// `  IMAGE (WHERE): WHY` for a refused image.
    pub fn describe(&self) -> String {
        format!(
            "  {} ({}): {}",
            self.image,
            self.used_by.join(", "),
            self.refused.join("; ")
        )
    }
}

/// Checks every image; `Refused` lists each image that fails and why, all at once.
pub async fn check(
    client: &Client,
    images: &[Pinned],
    key: &VerifyingKey,
    env: &str,
    from: &str,
) -> Result<Vec<Verdict>, GateError> {
    let verdicts = verdicts(client, images, key, from).await?;
    let refused: Vec<String> = verdicts
        .iter()
        .filter(|v| !v.refused.is_empty())
        .map(Verdict::describe)
        .collect();
    if refused.is_empty() {
        Ok(verdicts)
    } else {
        Err(GateError::Refused {
            env: env.to_string(),
            refused,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manifest(kind: &str, ns: &str, name: &str, value: serde_json::Value) -> Manifest {
        Manifest {
            id: serde_json::from_value(json!({"apiVersion": "apps/v1", "kind": kind,
                "namespace": ns, "name": name}))
            .unwrap(),
            value,
        }
    }

    #[test]
    fn images_come_from_every_workload_kind_of_the_namespace_once_each() {
        let pod = |images: &[(&str, &str)]| {
            let cs: Vec<_> = images
                .iter()
                .map(|(n, i)| json!({"name": n, "image": i}))
                .collect();
            json!({"spec": {"template": {"spec": {"containers": cs,
                "initContainers": [{"name": "migrate", "image": "r.example/shop/orders@sha256:aa"}]}}}})
        };
        let ms = vec![
            manifest(
                "Deployment",
                "ecommerce",
                "orders",
                pod(&[("orders", "r.example/shop/orders@sha256:aa")]),
            ),
            manifest(
                "Deployment",
                "kube-system",
                "lbc",
                pod(&[("c", "r.example/mirrors/lbc:v2")]),
            ),
            manifest(
                "CronJob",
                "ecommerce",
                "sweep",
                json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers":
                    [{"name": "s", "image": "r.example/shop/orders:1.0"}]}}}}}}),
            ),
            manifest("ConfigMap", "ecommerce", "c", json!({"data": {}})),
        ];
        let got = images(&ms, "ecommerce");
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].image, "r.example/shop/orders:1.0");
        assert_eq!(got[1].image, "r.example/shop/orders@sha256:aa");
        assert_eq!(
            got[1].used_by,
            [
                "Deployment/ecommerce/orders (container migrate)",
                "Deployment/ecommerce/orders (container orders)"
            ]
        );
    }
}
