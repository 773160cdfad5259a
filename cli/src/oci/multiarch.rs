//! One image index from per-platform layouts: the layouts of a service built on different
//! runners (linux/amd64, linux/arm64) are pushed by digest, untagged, then an OCI image index
//! naming each manifest with its `platform` is stored by digest and tagged last.

use serde_json::{Map, Value};

use super::layout::Layout;
use super::reference::Repo;
use super::registry::Client;
use super::transfer::{self, Report, TransferError};
use super::{Descriptor, Manifest, OciPlatform, MEDIA_INDEX};

/// One platform's image, read from its layout.
#[derive(Debug, Clone)]
pub struct PlatformImage {
    pub layout: Layout,
    /// The manifest's descriptor with `platform` set from the image's config.
    pub descriptor: Descriptor,
    pub manifest: Manifest,
}

fn invalid(layout: &Layout, why: String) -> TransferError {
    TransferError::Invalid {
        what: layout.dir.display().to_string(),
        why,
    }
}

impl PlatformImage {
    pub fn read(layout: Layout) -> Result<PlatformImage, TransferError> {
        let (mut descriptor, _, manifest) = layout.image()?;
        let config: Value = serde_json::from_slice(&layout.blob(&manifest.config.digest)?)
            .map_err(|e| invalid(&layout, format!("the image config: {e}")))?;
        let field = |k: &str| config[k].as_str().map(str::to_string);
        let (Some(architecture), Some(os)) = (field("architecture"), field("os")) else {
            return Err(invalid(
                &layout,
                "the image config names no architecture and os".into(),
            ));
        };
        descriptor.annotations.clear();
        descriptor.platform = Some(OciPlatform {
            architecture,
            os,
            variant: field("variant"),
        });
        Ok(PlatformImage {
            layout,
            descriptor,
            manifest,
        })
    }

    /// `linux/arm64/v8`.
    pub fn platform(&self) -> String {
        let p = self.descriptor.platform.as_ref();
        let mut s = p
            .map(|p| format!("{}/{}", p.os, p.architecture))
            .unwrap_or_default();
        if let Some(v) = p.and_then(|p| p.variant.as_deref()) {
            s = format!("{s}/{v}");
        }
        s
    }

    /// The image's `org.opencontainers.image.title` (the service it was built for).
    pub fn title(&self) -> Option<&str> {
        self.manifest.annotations["org.opencontainers.image.title"].as_str()
    }
}

/// The index's bytes: entries in platform order, the annotations every image shares. The same
/// images give the same bytes, so the same index digest.
pub fn index_bytes(images: &[PlatformImage]) -> Result<Vec<u8>, String> {
    let mut sorted: Vec<&PlatformImage> = images.iter().collect();
    sorted.sort_by_key(|i| i.platform());
    if let Some(w) = sorted
        .windows(2)
        .find(|w| w[0].platform() == w[1].platform())
    {
        return Err(format!(
            "{} and {} are both {}: one layout per platform",
            w[0].layout.dir.display(),
            w[1].layout.dir.display(),
            w[0].platform()
        ));
    }
    let mut annotations: Map<String, Value> = Map::new();
    if let Some(first) = sorted.first() {
        for (k, v) in &first.manifest.annotations {
            if sorted
                .iter()
                .all(|i| i.manifest.annotations.get(k) == Some(v))
            {
                annotations.insert(k.clone(), v.clone());
            }
        }
    }
    let index = IndexDoc {
        schema_version: 2,
        media_type: MEDIA_INDEX,
        manifests: sorted.iter().map(|i| i.descriptor.clone()).collect(),
        annotations,
    };
    Ok(serde_json::to_vec(&index).unwrap_or_default())
}

/// An image index with annotations (the layout's `Index` has none).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct IndexDoc {
    schema_version: u32,
    media_type: &'static str,
    manifests: Vec<Descriptor>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    annotations: Map<String, Value>,
}

/// What pushing an index did: the index's report, and each platform's.
#[derive(Debug, Clone)]
pub struct IndexReport {
    pub index: Report,
    pub platforms: Vec<(String, Report)>,
}

/// Pushes every platform's image by digest, then the index by digest, then tags the index
/// `tag`. A tag naming another digest fails before anything is uploaded.
pub async fn push_index(
    client: &Client,
    images: &[PlatformImage],
    index: &[u8],
    repo: &Repo,
    tag: &str,
) -> Result<IndexReport, TransferError> {
    let digest = super::sha256_digest(index);
    client.ping(repo).await?;
    let tagged = transfer::check_tag(client, repo, tag, &digest).await?;
    let mut total = Report {
        digest: digest.clone(),
        ..Report::default()
    };
    let mut platforms = Vec::new();
    for image in images {
        let r = transfer::push_image(client, &image.layout, repo).await?;
        total.uploaded += r.uploaded;
        total.skipped += r.skipped;
        total.manifests += r.manifests;
        platforms.push((image.platform(), r));
    }
    client
        .put_manifest(repo, &digest, MEDIA_INDEX, index)
        .await?;
    total.manifests += 1;
    if !tagged {
        client.put_manifest(repo, tag, MEDIA_INDEX, index).await?;
    }
    Ok(IndexReport {
        index: total,
        platforms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::layout::LayoutWriter;
    use crate::oci::{Index, MEDIA_CONFIG, MEDIA_MANIFEST};

    fn layout(dir: &std::path::Path, arch: &str, variant: Option<&str>) -> PlatformImage {
        let w = LayoutWriter::create(&dir.join(arch)).unwrap();
        let mut config = serde_json::json!({"architecture": arch, "os": "linux"});
        if let Some(v) = variant {
            config["variant"] = v.into();
        }
        let config = w.blob(MEDIA_CONFIG, config.to_string().as_bytes()).unwrap();
        let mut annotations = Map::new();
        annotations.insert("org.opencontainers.image.title".into(), "login".into());
        annotations.insert("arch".into(), arch.into());
        let m = Manifest {
            schema_version: 2,
            media_type: Some(MEDIA_MANIFEST.into()),
            artifact_type: None,
            config,
            layers: vec![],
            subject: None,
            annotations,
        };
        let desc = w
            .blob(MEDIA_MANIFEST, &serde_json::to_vec(&m).unwrap())
            .unwrap();
        let dir = w.finish(vec![desc]).unwrap();
        PlatformImage::read(Layout::open(&dir).unwrap()).unwrap()
    }

    #[test]
    fn the_index_lists_platforms_in_order_with_shared_annotations() {
        let dir = tempfile::tempdir().unwrap();
        let arm = layout(dir.path(), "arm64", Some("v8"));
        let amd = layout(dir.path(), "amd64", None);
        assert_eq!(arm.platform(), "linux/arm64/v8");
        assert_eq!(arm.title(), Some("login"));
        let a = index_bytes(&[arm.clone(), amd.clone()]).unwrap();
        assert_eq!(a, index_bytes(&[amd.clone(), arm.clone()]).unwrap());
        let v: Value = serde_json::from_slice(&a).unwrap();
        assert_eq!(v["mediaType"], MEDIA_INDEX);
        assert_eq!(v["manifests"][0]["platform"]["architecture"], "amd64");
        assert_eq!(v["manifests"][1]["platform"]["variant"], "v8");
        assert_eq!(v["annotations"]["org.opencontainers.image.title"], "login");
        assert!(v["annotations"].get("arch").is_none());
        assert_eq!(
            serde_json::from_slice::<Index>(&a).unwrap().manifests.len(),
            2
        );
        let twice = index_bytes(&[amd.clone(), amd]).unwrap_err();
        assert!(twice.contains("both linux/amd64"), "{twice}");
    }
}
