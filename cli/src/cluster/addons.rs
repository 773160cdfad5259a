//! The third-party releases of the cluster stage: the network-policy engine (the Tigera operator
//! when an environment chooses Calico; the EKS VPC CNI add-on needs nothing here) and the AWS
//! Load Balancer Controller. Both are fetched by pin (`super::fetch`); what we write ourselves,
//! the Calico `Installation` and the controller's values, is rendered from the config into
//! `addons/` (cluster/addons/*.tera).

use super::fetch::{FetchError, ReleaseCache};
use super::manifest::{self, Manifest};
use super::source::SourceError;
use super::ClusterError;
use crate::config::model::{Config, NetworkPolicyEngine};
use crate::render::RenderedFile;
use crate::tools::helm;
use serde_json::Value;
use std::path::Path;

pub const LB_CONTROLLER_RELEASE: &str = "aws-load-balancer-controller";
pub const LB_CONTROLLER_NAMESPACE: &str = "kube-system";
/// The rendered values of the controller chart (under the stage's `addons/`).
pub const LB_CONTROLLER_VALUES: &str = "aws-load-balancer-controller.values.yaml";
/// The rendered Calico `Installation` (under the stage's `addons/`).
pub const CALICO_INSTALLATION: &str = "calico-installation.yaml";
/// Where mirrored images live in the registry (stacks/app's `mirrors/<name>` repositories).
pub const MIRROR_PREFIX: &str = "mirrors/";

/// The verified bytes of the releases one environment installs.
#[derive(Debug, Default)]
pub struct Fetched {
    /// (version, tigera-operator.yaml)
    pub calico: Option<(String, Vec<u8>)>,
    /// (version, chart archive)
    pub lb_controller: Option<(String, Vec<u8>)>,
}

/// Fetches (or takes from the cache) what `env` needs.
pub async fn fetch(
    config: &Config,
    env: &str,
    cache: &ReleaseCache,
) -> Result<Fetched, FetchError> {
    let mut out = Fetched::default();
    let calico = config
        .environments
        .get(env)
        .is_some_and(|e| e.eks.network_policy == NetworkPolicyEngine::Calico);
    if let (true, Some(pin)) = (calico, &config.releases.calico) {
        let bytes = cache.get("releases.calico", pin).await?;
        out.calico = Some((pin.version.clone(), bytes));
    }
    if let Some(pin) = &config.releases.aws_load_balancer_controller {
        let bytes = cache
            .get("releases.aws_load_balancer_controller", pin)
            .await?;
        out.lb_controller = Some((pin.version.clone(), bytes));
    }
    Ok(out)
}

fn addon_file<'a>(files: &'a [RenderedFile], name: &str) -> Option<&'a RenderedFile> {
    files.iter().find(|f| {
        f.path.ends_with(name)
            && f.path
                .parent()
                .is_some_and(|p| p.file_name().is_some_and(|n| n == "addons"))
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), SourceError> {
    std::fs::write(path, bytes).map_err(|source| SourceError::Write {
        path: path.display().to_string(),
        source,
    })
}

/// `quay.io/tigera/operator:v1.36.2` -> `<registry>mirrors/tigera/operator:v1.36.2`: the
/// image's path without its registry host, under the mirror.
pub fn relocate(image: &str, registry: &str) -> String {
    let path = match image.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            rest
        }
        _ => image,
    };
    let registry = registry.trim_end_matches('/');
    format!("{registry}/{MIRROR_PREFIX}{path}")
}

fn relocate_containers(m: &mut Manifest, registry: &str) {
    let spec = if m.id.kind == "Pod" {
        &mut m.value["spec"]
    } else {
        &mut m.value["spec"]["template"]["spec"]
    };
    for list in ["initContainers", "containers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs {
                if let Some(image) = c["image"].as_str() {
                    c["image"] = Value::String(relocate(image, registry));
                }
            }
        }
    }
}

/// The Tigera operator's manifests, its images taken from the mirror registry the rendered
/// `Installation` names (so the operator and the Calico it installs pull from the same place).
fn calico(bytes: &[u8], installation: &[Manifest]) -> Result<Vec<Manifest>, SourceError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| SourceError::Render("releases.calico is not a YAML manifest".into()))?;
    let mut out = manifest::parse("releases.calico", text, None).map_err(ClusterError::from)?;
    let registry = installation
        .iter()
        .find(|m| m.id.kind == "Installation")
        .and_then(|m| m.value["spec"]["registry"].as_str())
        .filter(|r| !r.is_empty());
    if let Some(registry) = registry {
        for m in &mut out {
            if matches!(m.id.kind.as_str(), "Deployment" | "DaemonSet" | "Pod") {
                relocate_containers(m, registry);
            }
        }
    }
    Ok(out)
}

/// The manifests of the fetched releases plus what is rendered for them, unsorted.
pub fn manifests(
    fetched: &Fetched,
    files: &[RenderedFile],
    helm_bin: &Path,
    kube_version: Option<&str>,
    work: &Path,
) -> Result<Vec<Manifest>, SourceError> {
    let mut out = Vec::new();
    if let Some((_, bytes)) = &fetched.calico {
        let installation = match addon_file(files, CALICO_INSTALLATION) {
            Some(f) => manifest::parse(&f.path.display().to_string(), &f.contents, None)
                .map_err(ClusterError::from)?,
            None => Vec::new(),
        };
        out.extend(calico(bytes, &installation)?);
        out.extend(installation);
    }
    if let Some((version, bytes)) = &fetched.lb_controller {
        let values = addon_file(files, LB_CONTROLLER_VALUES).ok_or_else(|| {
            SourceError::Render(format!(
                "the rendered files have no addons/{LB_CONTROLLER_VALUES}"
            ))
        })?;
        let chart = work.join(format!("{LB_CONTROLLER_RELEASE}-{version}.tgz"));
        write(&chart, bytes)?;
        let values_path = work.join(LB_CONTROLLER_VALUES);
        write(&values_path, values.contents.as_bytes())?;
        let text = helm::template(
            helm_bin,
            &helm::Template {
                release: LB_CONTROLLER_RELEASE,
                namespace: LB_CONTROLLER_NAMESPACE,
                chart: &chart,
                values: &values_path,
                kube_version,
                include_crds: true,
            },
        )?;
        out.extend(
            manifest::parse(
                "releases.aws_load_balancer_controller",
                &text,
                Some(LB_CONTROLLER_NAMESPACE),
            )
            .map_err(ClusterError::from)?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_move_under_the_mirror_with_their_path_and_tag() {
        let reg = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/";
        assert_eq!(
            relocate("quay.io/tigera/operator:v1.36.2", reg),
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirrors/tigera/operator:v1.36.2"
        );
        assert_eq!(
            relocate("calico/node:v3.30.3", reg.trim_end_matches('/')),
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirrors/calico/node:v3.30.3"
        );
        assert_eq!(
            relocate("localhost:5000/a/b@sha256:00", "r.example"),
            "r.example/mirrors/a/b@sha256:00"
        );
    }

    #[test]
    fn the_operator_pulls_from_the_installation_registry() {
        let op = b"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: tigera-operator, namespace: tigera-operator}\nspec:\n  template:\n    spec:\n      containers:\n      - name: op\n        image: quay.io/tigera/operator:v1.36.2\n";
        let inst = manifest::parse(
            "i",
            "apiVersion: operator.tigera.io/v1\nkind: Installation\nmetadata: {name: default}\nspec: {registry: reg.example/}\n",
            None,
        )
        .unwrap();
        let out = calico(op, &inst).unwrap();
        assert_eq!(
            out[0].value["spec"]["template"]["spec"]["containers"][0]["image"],
            "reg.example/mirrors/tigera/operator:v1.36.2"
        );
        // No mirror named: the manifest's own images.
        let out = calico(op, &[]).unwrap();
        assert_eq!(
            out[0].value["spec"]["template"]["spec"]["containers"][0]["image"],
            "quay.io/tigera/operator:v1.36.2"
        );
    }
}
