//! Connecting to the cluster: a kubeconfig (and context) when one is given; otherwise the EKS
//! cluster the foundation stage made (endpoint, CA and name from its outputs) with a token made
//! in process from the AWS credentials, remade before it expires.

use super::eks_token::{self, EksToken};
use super::{Cluster, ClusterError};
use base64::Engine;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;
use std::path::PathBuf;
use std::time::SystemTime;

/// Where the cluster is.
#[derive(Debug, Clone)]
pub enum Target {
    /// `--kubeconfig`/`KUBECONFIG` (or `~/.kube/config`) and an optional context.
    Kubeconfig {
        path: Option<PathBuf>,
        context: Option<String>,
    },
    /// From the foundation outputs.
    Eks(EksCluster),
}

#[derive(Clone)]
pub struct EksCluster {
    pub name: String,
    pub endpoint: String,
    /// `certificate-authority-data`: base64 of the PEM bundle.
    pub ca_data: String,
    pub region: String,
    pub credentials: aws_credential_types::Credentials,
    /// STS endpoint override (tests).
    pub sts_endpoint: Option<String>,
}

impl std::fmt::Debug for EksCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EksCluster")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// Reads the cluster's name, endpoint and CA from the foundation stage's `outputs.json`
/// (`terraform output -json`). None when any is missing.
pub fn eks_from_outputs(outputs: &Value) -> Option<(String, String, String)> {
    let out = |k: &str| {
        let v = &outputs[k];
        v.get("value").unwrap_or(v).as_str().map(String::from)
    };
    Some((
        out("cluster_name")?,
        out("cluster_endpoint")?,
        out("cluster_certificate_authority_data")?,
    ))
}

/// The DER certificates of a base64-encoded PEM bundle.
pub fn ca_certificates(ca_data: &str) -> Result<Vec<Vec<u8>>, ClusterError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let pem = b64.decode(ca_data.trim()).map_err(|e| {
        ClusterError::Connect(format!(
            "cluster_certificate_authority_data is not base64: {e}"
        ))
    })?;
    let pem = String::from_utf8_lossy(&pem);
    let mut certs = Vec::new();
    let mut body = String::new();
    let mut inside = false;
    for line in pem.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN CERTIFICATE") {
            inside = true;
            body.clear();
        } else if line.starts_with("-----END CERTIFICATE") {
            inside = false;
            certs.push(
                b64.decode(&body).map_err(|e| {
                    ClusterError::Connect(format!("a CA certificate is damaged: {e}"))
                })?,
            );
        } else if inside {
            body.push_str(line);
        }
    }
    if certs.is_empty() {
        return Err(ClusterError::Connect(
            "cluster_certificate_authority_data holds no PEM certificate".into(),
        ));
    }
    Ok(certs)
}

/// A connection that remakes its EKS token before it expires.
pub struct Connection {
    target: Target,
    token: Option<EksToken>,
    cluster: Option<Cluster>,
}

impl Connection {
    pub fn new(target: Target) -> Connection {
        Connection {
            target,
            token: None,
            cluster: None,
        }
    }

    /// The cluster, connecting (again, when the token is about to expire) as needed.
    pub async fn cluster(&mut self) -> Result<&Cluster, ClusterError> {
        let expired = self.token.as_ref().is_some_and(|t| {
            t.expires_at <= SystemTime::now() + std::time::Duration::from_secs(60)
        });
        if self.cluster.is_none() || expired {
            let config = self.config().await?;
            let client =
                kube::Client::try_from(config).map_err(|e| ClusterError::Connect(e.to_string()))?;
            self.cluster = Some(Cluster::new(client));
        }
        self.cluster
            .as_ref()
            .ok_or_else(|| ClusterError::Connect("no connection".into()))
    }

    async fn config(&mut self) -> Result<kube::Config, ClusterError> {
        match &self.target {
            Target::Kubeconfig { path, context } => {
                let opts = KubeConfigOptions {
                    context: context.clone(),
                    ..Default::default()
                };
                let kc = match path {
                    Some(p) => Kubeconfig::read_from(p)
                        .map_err(|e| ClusterError::Connect(format!("{}: {e}", p.display())))?,
                    None => Kubeconfig::read().map_err(|e| ClusterError::Connect(e.to_string()))?,
                };
                kube::Config::from_custom_kubeconfig(kc, &opts)
                    .await
                    .map_err(|e| ClusterError::Connect(e.to_string()))
            }
            Target::Eks(eks) => {
                let url = eks.endpoint.parse().map_err(|e| {
                    ClusterError::Connect(format!("cluster_endpoint {}: {e}", eks.endpoint))
                })?;
                let token = eks_token::token(
                    &eks.name,
                    &eks.region,
                    &eks.credentials,
                    eks.sts_endpoint.as_deref(),
                    SystemTime::now(),
                )
                .map_err(|e| ClusterError::Connect(e.to_string()))?;
                let mut config = kube::Config::new(url);
                config.root_cert = Some(ca_certificates(&eks.ca_data)?);
                config.auth_info.token = Some(token.token.clone().into());
                self.token = Some(token);
                Ok(config)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn eks_details_come_from_terraform_outputs() {
        let outputs = json!({"cluster_name": {"value": "shop-nonprod"},
            "cluster_endpoint": {"value": "https://ABC.gr7.us-east-1.eks.amazonaws.com"},
            "cluster_certificate_authority_data": {"value": "Q0E="}});
        let (name, endpoint, ca) = eks_from_outputs(&outputs).unwrap();
        assert_eq!((name.as_str(), ca.as_str()), ("shop-nonprod", "Q0E="));
        assert!(endpoint.starts_with("https://"));
        assert!(eks_from_outputs(&json!({"cluster_name": {"value": "x"}})).is_none());
    }

    #[test]
    fn ca_bundle_is_decoded_to_der() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            b64.encode(b"der-bytes")
        );
        let certs = ca_certificates(&b64.encode(pem)).unwrap();
        assert_eq!(certs, vec![b"der-bytes".to_vec()]);
        assert!(ca_certificates(&b64.encode("nothing")).is_err());
    }
}
