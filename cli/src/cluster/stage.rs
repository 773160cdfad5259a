//! The cluster stage as the engine runs it (and `ecomctl rollback`): where the cluster is, what
//! is applied to it, with which options. Resolved once from flags, environment and the stored
//! outputs of the upstream stages.

use super::addons::{self, Fetched};
use super::connect::{self, EksCluster, Target};
use super::manifest::Manifest;
use super::source::{self, SourceError};
use super::ClusterError;
use crate::config::Loaded;
use crate::render::{RenderOptions, Renderer, Stage};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// How to reach the cluster: `--kubeconfig`/`KUBECONFIG` and `--context` win; otherwise the EKS
/// cluster in the foundation outputs, with the ambient AWS credentials.
#[derive(Debug, Clone, Default)]
pub struct ConnectFlags {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// `AWS_ENDPOINT_URL` (moto in tests): where the EKS token's STS call goes.
    pub aws_endpoint: Option<String>,
}

/// The stored `terraform output -json` of an env's stage, if applied.
fn outputs(state_dir: &Path, env: &str, stage: Stage) -> Option<Value> {
    let path = state_dir.join(env).join(stage.name()).join("outputs.json");
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Where the cluster of `env` is.
pub async fn target(
    flags: &ConnectFlags,
    state_dir: &Path,
    env: &str,
    region: &str,
) -> Result<Target, ClusterError> {
    if flags.kubeconfig.is_some() || flags.context.is_some() {
        return Ok(Target::Kubeconfig {
            path: flags.kubeconfig.clone(),
            context: flags.context.clone(),
        });
    }
    let found = outputs(state_dir, env, Stage::Foundation);
    let Some((name, endpoint, ca_data)) = found.as_ref().and_then(connect::eks_from_outputs) else {
        return Err(ClusterError::Connect(format!(
            "no kubeconfig given and the {env} foundation stage has no cluster outputs yet \
             (apply it first, or pass --kubeconfig)"
        )));
    };
    let sts_endpoint = flags.aws_endpoint.clone().filter(|s| !s.is_empty());
    let sdk = sdk_config(region, sts_endpoint.as_deref()).await;
    let provider = sdk
        .credentials_provider()
        .ok_or_else(|| ClusterError::Connect("no AWS credentials for the EKS token".into()))?;
    use aws_credential_types::provider::ProvideCredentials;
    let credentials = provider
        .provide_credentials()
        .await
        .map_err(|e| ClusterError::Connect(format!("AWS credentials for the EKS token: {e}")))?;
    Ok(Target::Eks(EksCluster {
        name,
        endpoint,
        ca_data,
        region: region.to_string(),
        credentials,
        sts_endpoint,
    }))
}

/// The ambient AWS configuration for `region` (`endpoint`: moto in tests), rustls on ring.
pub async fn sdk_config(region: &str, endpoint: Option<&str>) -> aws_config::SdkConfig {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .http_client(http);
    if let Some(e) = endpoint {
        loader = loader.endpoint_url(e);
    }
    loader.load().await
}

/// Renders the env's cluster stage and builds its manifests (real Helm for the chart and the
/// controller chart; `fetched` holds the verified third-party releases), in apply order.
pub fn manifests(
    loaded: &Loaded,
    renderer: &Renderer,
    opts: &RenderOptions,
    helm: &Path,
    work: &Path,
    fetched: &Fetched,
) -> Result<Vec<Manifest>, SourceError> {
    let files = renderer
        .render(loaded, opts)
        .map_err(|e| SourceError::Render(e.to_string()))?;
    let env = opts.env.as_deref().unwrap_or_default();
    let kube_version = loaded
        .config
        .environments
        .get(env)
        .map(|e| format!("{}.0", e.eks.version));
    let mut out = source::manifests(
        &files,
        &renderer.root().join("charts/platform"),
        helm,
        kube_version.as_deref(),
        work,
    )?;
    out.extend(addons::manifests(
        fetched,
        &files,
        helm,
        kube_version.as_deref(),
        work,
    )?);
    super::manifest::sort(&mut out);
    Ok(out)
}
