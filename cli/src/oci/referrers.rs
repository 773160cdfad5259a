//! OCI referrers: an artifact (the SBOM) stored as a manifest whose `subject` is the image. A
//! registry with the referrers API indexes it itself (it answers `OCI-Subject`); for one without
//! (distribution 2.8, older ECR) the fallback of the distribution spec 1.1 is kept: an image index
//! tagged `sha256-<hex>` listing the referrers.

use serde_json::{Map, Value};

use super::reference::Repo;
use super::registry::Client;
use super::transfer::TransferError;
use super::{digest_hex, Descriptor, Index, Manifest, MEDIA_EMPTY, MEDIA_INDEX, MEDIA_MANIFEST};

/// The tag of the fallback referrers index for `digest`.
pub fn fallback_tag(digest: &str) -> String {
    format!("sha256-{}", digest_hex(digest).unwrap_or_default())
}

/// Every referrer of `digest` in `repo`: those the referrers API lists (when the registry has
/// it) and those the fallback index `sha256-<hex>` lists, once each.
pub async fn list(
    client: &Client,
    repo: &Repo,
    digest: &str,
) -> Result<Vec<Descriptor>, TransferError> {
    let mut all = client
        .referrers(repo, digest)
        .await?
        .map(|i| i.manifests)
        .unwrap_or_default();
    let tag = fallback_tag(digest);
    if let Some(f) = client.get_manifest(repo, &tag).await? {
        let index: Index =
            serde_json::from_slice(&f.bytes).map_err(|e| TransferError::Invalid {
                what: format!("{repo}:{tag}"),
                why: e.to_string(),
            })?;
        for d in index.manifests {
            if all.iter().all(|m| m.digest != d.digest) {
                all.push(d);
            }
        }
    }
    Ok(all)
}

/// Stores `blob` (of `artifact_type`) as a referrer of `subject` in `repo`; returns the
/// referrer manifest's digest.
pub async fn attach(
    client: &Client,
    repo: &Repo,
    subject: &Descriptor,
    artifact_type: &str,
    blob: Vec<u8>,
    annotations: Map<String, Value>,
) -> Result<String, TransferError> {
    let empty = b"{}".to_vec();
    let config = Descriptor::of(MEDIA_EMPTY, &empty);
    let layer = Descriptor::of(artifact_type, &blob);
    for (d, bytes) in [(&config, empty), (&layer, blob)] {
        if !client.blob_exists(repo, &d.digest).await? {
            client.upload_blob(repo, &d.digest, bytes).await?;
        }
    }
    let mut subject = subject.clone();
    subject.annotations.clear();
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MEDIA_MANIFEST.into()),
        artifact_type: Some(artifact_type.into()),
        config,
        layers: vec![layer],
        subject: Some(subject.clone()),
        annotations: annotations.clone(),
    };
    let bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    let digest = super::sha256_digest(&bytes);
    let (_, indexed) = client
        .put_manifest_subject(repo, &digest, MEDIA_MANIFEST, &bytes)
        .await?;
    if indexed {
        return Ok(digest);
    }
    let tag = fallback_tag(&subject.digest);
    let mut index = match client.get_manifest(repo, &tag).await? {
        Some(f) => {
            serde_json::from_slice::<Index>(&f.bytes).map_err(|e| TransferError::Invalid {
                what: format!("{repo}:{tag}"),
                why: e.to_string(),
            })?
        }
        None => Index {
            schema_version: 2,
            media_type: Some(MEDIA_INDEX.into()),
            manifests: Vec::new(),
        },
    };
    if index.manifests.iter().all(|m| m.digest != digest) {
        let mut d = Descriptor::of(MEDIA_MANIFEST, &bytes);
        d.artifact_type = Some(artifact_type.into());
        d.annotations = annotations;
        index.manifests.push(d);
        let index_bytes = serde_json::to_vec(&index).unwrap_or_default();
        client
            .put_manifest(repo, &tag, MEDIA_INDEX, &index_bytes)
            .await?;
    }
    Ok(digest)
}
