//! Pushing a layout and copying an image between repositories, always by digest: blobs the
//! destination has are skipped, the manifest is stored by digest, and only then is a tag set;
//! a tag that already names another digest is never moved. Copies take the image's cosign
//! signature (`sha256-<hex>.sig`) and its referrers (listed by the referrers API or the
//! `sha256-<hex>` fallback index) along; an image index (multi-platform) is copied whole, each
//! platform's manifest before the index.

use std::collections::BTreeSet;

use super::layout::Layout;
use super::reference::Repo;
use super::referrers;
use super::registry::{Client, Fetched, RegistryError};
use super::{digest_hex, Index, Manifest, MEDIA_DOCKER_LIST, MEDIA_INDEX};

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Layout(#[from] super::layout::LayoutError),
    #[error(
        "{repo}:{tag} already names {existing}; tags are immutable, so it is not moved to {wanted}"
    )]
    TagMoved {
        repo: String,
        tag: String,
        existing: String,
        wanted: String,
    },
    #[error("{repo} has no manifest {digest}")]
    NotInSource { repo: String, digest: String },
    #[error("{what}: {why}")]
    Invalid { what: String, why: String },
}

/// What a push or a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub digest: String,
    pub uploaded: usize,
    pub skipped: usize,
    /// Blobs the destination took from the source without an upload (same registry).
    pub mounted: usize,
    /// Signature and referrer manifests copied along.
    pub attached: usize,
    /// Manifests stored by digest (an index counts with each of its children).
    pub manifests: usize,
}

/// Refuses when `tag` names another digest; `true` when it already names `digest`.
pub async fn check_tag(
    client: &Client,
    repo: &Repo,
    tag: &str,
    digest: &str,
) -> Result<bool, TransferError> {
    match client.get_manifest(repo, tag).await? {
        Some(f) if f.digest == digest => Ok(true),
        Some(f) => Err(TransferError::TagMoved {
            repo: repo.to_string(),
            tag: tag.to_string(),
            existing: f.digest,
            wanted: digest.to_string(),
        }),
        None => Ok(false),
    }
}

fn parse_manifest(what: &str, bytes: &[u8]) -> Result<Manifest, TransferError> {
    serde_json::from_slice(bytes).map_err(|e| TransferError::Invalid {
        what: what.to_string(),
        why: e.to_string(),
    })
}

/// Pushes the image of a layout: blobs, the manifest by digest, and the tag `tag` last.
pub async fn push_layout(
    client: &Client,
    layout: &Layout,
    repo: &Repo,
    tag: &str,
) -> Result<Report, TransferError> {
    let (desc, bytes, _) = layout.image()?;
    client.ping(repo).await?;
    let tagged = check_tag(client, repo, tag, &desc.digest).await?;
    let report = push_image(client, layout, repo).await?;
    if !tagged {
        client
            .put_manifest(repo, tag, &desc.media_type, &bytes)
            .await?;
    }
    Ok(report)
}

/// Pushes the image of a layout by digest, untagged: the blobs the registry lacks, then the
/// manifest.
pub async fn push_image(
    client: &Client,
    layout: &Layout,
    repo: &Repo,
) -> Result<Report, TransferError> {
    let (desc, bytes, manifest) = layout.image()?;
    let mut report = Report {
        digest: desc.digest.clone(),
        ..Report::default()
    };
    for blob in std::iter::once(&manifest.config).chain(&manifest.layers) {
        if client.blob_exists(repo, &blob.digest).await? {
            report.skipped += 1;
        } else {
            client
                .upload_blob(repo, &blob.digest, layout.blob(&blob.digest)?)
                .await?;
            report.uploaded += 1;
        }
    }
    client
        .put_manifest(repo, &desc.digest, &desc.media_type, &bytes)
        .await?;
    report.manifests += 1;
    Ok(report)
}

/// Copies the blobs of one manifest from `src` to `dst` (skipping those `dst` has).
async fn copy_blobs(
    client: &Client,
    src: &Repo,
    dst: &Repo,
    manifest: &Manifest,
    report: &mut Report,
) -> Result<(), TransferError> {
    let mut seen = BTreeSet::new();
    for blob in std::iter::once(&manifest.config).chain(&manifest.layers) {
        if !seen.insert(blob.digest.clone()) {
            continue;
        }
        if client.blob_exists(dst, &blob.digest).await? {
            report.skipped += 1;
            continue;
        }
        if src.registry == dst.registry && client.mount_blob(dst, &blob.digest, src).await? {
            report.mounted += 1;
            continue;
        }
        let bytes = client.get_blob(src, &blob.digest).await?;
        client.upload_blob(dst, &blob.digest, bytes).await?;
        report.uploaded += 1;
    }
    Ok(())
}

/// The manifest `digest` of `src`, or `NotInSource`.
async fn fetch(client: &Client, src: &Repo, digest: &str) -> Result<Fetched, TransferError> {
    client
        .get_manifest(src, digest)
        .await?
        .ok_or_else(|| TransferError::NotInSource {
            repo: src.to_string(),
            digest: digest.to_string(),
        })
}

/// An image index (OCI) or a manifest list (Docker): it has `manifests`, not `layers`.
fn as_index(what: &str, fetched: &Fetched) -> Result<Option<Index>, TransferError> {
    let is_index = fetched.media_type == MEDIA_INDEX
        || fetched.media_type == MEDIA_DOCKER_LIST
        || serde_json::from_slice::<serde_json::Value>(&fetched.bytes)
            .is_ok_and(|v| v.get("manifests").is_some());
    if !is_index {
        return Ok(None);
    }
    serde_json::from_slice(&fetched.bytes)
        .map(Some)
        .map_err(|e| TransferError::Invalid {
            what: what.to_string(),
            why: e.to_string(),
        })
}

/// Stores one fetched image manifest in `dst` by digest, after the blobs it names.
async fn copy_image(
    client: &Client,
    src: &Repo,
    dst: &Repo,
    fetched: &Fetched,
    report: &mut Report,
) -> Result<(), TransferError> {
    let manifest = parse_manifest(&format!("{src}@{}", fetched.digest), &fetched.bytes)?;
    copy_blobs(client, src, dst, &manifest, report).await?;
    client
        .put_manifest(dst, &fetched.digest, &fetched.media_type, &fetched.bytes)
        .await?;
    report.manifests += 1;
    Ok(())
}

/// Copies a manifest by digest: an image with its blobs, or an image index (multi-platform)
/// whole, every child manifest first, then the index itself; returns it as fetched.
async fn copy_manifest(
    client: &Client,
    src: &Repo,
    dst: &Repo,
    digest: &str,
    report: &mut Report,
) -> Result<Fetched, TransferError> {
    let fetched = fetch(client, src, digest).await?;
    let Some(index) = as_index(&format!("{src}@{digest}"), &fetched)? else {
        copy_image(client, src, dst, &fetched, report).await?;
        return Ok(fetched);
    };
    for child in &index.manifests {
        let what = format!("{src}@{}", child.digest);
        let image = fetch(client, src, &child.digest).await?;
        if as_index(&what, &image)?.is_some() {
            return Err(TransferError::Invalid {
                what,
                why: "an image index inside an image index is not copied".into(),
            });
        }
        copy_image(client, src, dst, &image, report).await?;
        // Each platform's own referrers (its SBOM) come along.
        Box::pin(copy_referrers(client, src, dst, &child.digest, report)).await?;
    }
    client
        .put_manifest(dst, digest, &fetched.media_type, &fetched.bytes)
        .await?;
    report.manifests += 1;
    Ok(fetched)
}

/// Copies the image `digest` from `src` to `dst`, then its signature and referrers; tags it
/// `tag` in `dst` when given.
pub async fn copy(
    client: &Client,
    src: &Repo,
    dst: &Repo,
    digest: &str,
    tag: Option<&str>,
) -> Result<Report, TransferError> {
    client.ping(src).await?;
    client.ping(dst).await?;
    let tagged = match tag {
        Some(t) => check_tag(client, dst, t, digest).await?,
        None => true,
    };
    let mut report = Report {
        digest: digest.to_string(),
        ..Report::default()
    };
    let image = copy_manifest(client, src, dst, digest, &mut report).await?;
    let hex = digest_hex(digest).unwrap_or_default();
    // The cosign signature: its own manifest under a tag derived from the digest.
    let sig_tag = format!("sha256-{hex}.sig");
    if let Some(sig) = client.get_manifest(src, &sig_tag).await? {
        copy_manifest(client, src, dst, &sig.digest, &mut report).await?;
        client
            .put_manifest(dst, &sig_tag, &sig.media_type, &sig.bytes)
            .await?;
        report.attached += 1;
    }
    copy_referrers(client, src, dst, digest, &mut report).await?;
    if let (Some(t), false) = (tag, tagged) {
        client
            .put_manifest(dst, t, &image.media_type, &image.bytes)
            .await?;
    }
    Ok(report)
}

/// Copies the referrers of `digest` (the SBOM, deployment records): listed by the referrers API
/// or the fallback index, stored in `dst` by digest. A destination with the API indexes them
/// itself; for one without, its fallback index lists them (beside the ones it listed already).
async fn copy_referrers(
    client: &Client,
    src: &Repo,
    dst: &Repo,
    digest: &str,
    report: &mut Report,
) -> Result<(), TransferError> {
    let refs = referrers::list(client, src, digest).await?;
    if !refs.is_empty() {
        for m in &refs {
            copy_manifest(client, src, dst, &m.digest, report).await?;
            report.attached += 1;
        }
        if client.referrers(dst, digest).await?.is_none() {
            let ref_tag = referrers::fallback_tag(digest);
            let mut merged = refs;
            if let Some(existing) = client.get_manifest(dst, &ref_tag).await? {
                if let Ok(theirs) = serde_json::from_slice::<Index>(&existing.bytes) {
                    for m in theirs.manifests {
                        if merged.iter().all(|x| x.digest != m.digest) {
                            merged.push(m);
                        }
                    }
                }
            }
            let index = Index {
                schema_version: 2,
                media_type: Some(MEDIA_INDEX.into()),
                manifests: merged,
            };
            let bytes = serde_json::to_vec(&index).unwrap_or_default();
            client
                .put_manifest(dst, &ref_tag, MEDIA_INDEX, &bytes)
                .await?;
        }
    }
    Ok(())
}
