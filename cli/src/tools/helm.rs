//! Finding Helm and rendering a chart with it (`helm template`: offline, no cluster).

use super::process::{self, ProcessError, Spec};
use std::path::{Path, PathBuf};

/// The helm binary: the one given (`--helm`/`ECOMCTL_HELM`), else `helm` on PATH.
pub fn find(given: Option<PathBuf>) -> Option<PathBuf> {
    super::program(given, "helm")
}

#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    #[error(
        "helm is not installed (set ECOMCTL_HELM or put helm on PATH; scripts/setup installs it)"
    )]
    Missing,
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error("helm template printed something that is not UTF-8")]
    NotUtf8,
}

/// What to render.
pub struct Template<'a> {
    pub release: &'a str,
    pub namespace: &'a str,
    pub chart: &'a Path,
    pub values: &'a Path,
    /// `--kube-version`: the cluster's Kubernetes version, for `Capabilities` in templates.
    pub kube_version: Option<&'a str>,
    /// `--include-crds`: a third-party chart's `crds/` directory too.
    pub include_crds: bool,
}

/// `helm template RELEASE CHART -n NS -f VALUES`: the manifests, as one multi-document string.
pub fn template(bin: &Path, t: &Template<'_>) -> Result<String, HelmError> {
    let mut spec = Spec::new(format!("helm template {}", t.release), bin)
        .args(["template", t.release])
        .arg(t.chart.as_os_str())
        .args(["--namespace", t.namespace, "--values"])
        .arg(t.values.as_os_str());
    if let Some(v) = t.kube_version {
        spec = spec.args(["--kube-version", v]);
    }
    if t.include_crds {
        spec = spec.arg("--include-crds");
    }
    spec.capture_stdout = true;
    let out = process::run(&spec, &mut |_, _| {})?;
    String::from_utf8(out.stdout).map_err(|_| HelmError::NotUtf8)
}
