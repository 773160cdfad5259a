//! Where an image has been: `ecomctl deploy` records each successful rollout as an OCI referrer
//! of the image (artifact type [`DEPLOYMENT_TYPE`], a small JSON naming the environment), and
//! `promote` copies referrers along, so the prod registry holds the proof that a digest ran in
//! nonprod. The cluster stage of prod reads it back ([`deployed_in`]) with the signatures
//! (`sign::verify`) before it deploys anything.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::reference::Repo;
use super::registry::Client;
use super::transfer::TransferError;
use super::{referrers, Descriptor, Manifest};

/// The artifact type of a deployment record.
pub const DEPLOYMENT_TYPE: &str = "application/vnd.ecomctl.deployment.v1+json";
/// The annotation naming the environment on the referrer (so a reader need not fetch the blob).
pub const ENVIRONMENT_ANNOTATION: &str = "dev.ecomctl.environment";

/// The record's content. Deterministic (no time): recording the same rollout twice stores the
/// same referrer once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    pub environment: String,
    /// `REGISTRY/REPOSITORY@sha256:...` as the environment pulled it.
    pub image: String,
}

fn invalid(what: String, why: impl ToString) -> TransferError {
    TransferError::Invalid {
        what,
        why: why.to_string(),
    }
}

/// The image manifest's descriptor, or `NotInSource`.
async fn subject(client: &Client, repo: &Repo, digest: &str) -> Result<Descriptor, TransferError> {
    let Some(m) = client.get_manifest(repo, digest).await? else {
        return Err(TransferError::NotInSource {
            repo: repo.to_string(),
            digest: digest.to_string(),
        });
    };
    Ok(Descriptor {
        media_type: m.media_type,
        digest: m.digest,
        size: m.bytes.len() as u64,
        artifact_type: None,
        platform: None,
        annotations: Map::new(),
    })
}

/// Records that `environment` runs `repo@digest`; returns the referrer's digest.
pub async fn record_deployment(
    client: &Client,
    repo: &Repo,
    digest: &str,
    environment: &str,
) -> Result<String, TransferError> {
    let subject = subject(client, repo, digest).await?;
    let body = Deployment {
        environment: environment.to_string(),
        image: format!("{repo}@{digest}"),
    };
    let bytes = serde_json::to_vec(&body).map_err(|e| invalid("deployment record".into(), e))?;
    let mut annotations = Map::new();
    annotations.insert(ENVIRONMENT_ANNOTATION.into(), Value::from(environment));
    referrers::attach(client, repo, &subject, DEPLOYMENT_TYPE, bytes, annotations).await
}

/// The environments whose deployment of `repo@digest` is recorded in `repo` (sorted, once
/// each). A record is believed only when its blob names this very digest.
pub async fn deployed_in(
    client: &Client,
    repo: &Repo,
    digest: &str,
) -> Result<Vec<String>, TransferError> {
    let mut envs = Vec::new();
    for d in referrers::list(client, repo, digest)
        .await?
        .iter()
        .filter(|d| d.artifact_type.as_deref() == Some(DEPLOYMENT_TYPE))
    {
        let Some(m) = client.get_manifest(repo, &d.digest).await? else {
            continue;
        };
        let m: Manifest = serde_json::from_slice(&m.bytes)
            .map_err(|e| invalid(format!("{repo}@{}", d.digest), e))?;
        let names_it = m.subject.as_ref().is_some_and(|s| s.digest == digest);
        let Some(layer) = m.layers.first().filter(|_| names_it) else {
            continue;
        };
        let blob = client.get_blob(repo, &layer.digest).await?;
        if let Ok(rec) = serde_json::from_slice::<Deployment>(&blob) {
            if rec.image.ends_with(&format!("@{digest}")) {
                envs.push(rec.environment);
            }
        }
    }
    envs.sort();
    envs.dedup();
    Ok(envs)
}
