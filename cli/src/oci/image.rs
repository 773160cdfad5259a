//! One service's image: the base layer, a layer with the binary, the config (non-root user,
//! entrypoint, labels), the manifest with the OCI annotations, written as an image layout.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::layer::{Layer, LayerFiles};
use super::layout::{LayoutError, LayoutWriter};
use super::{rfc3339, Descriptor, Manifest, MEDIA_CONFIG, MEDIA_MANIFEST};

/// Where a service's binary lives in its image.
pub const BIN_DIR: &str = "usr/local/bin";

/// What names an image besides its content.
#[derive(Debug, Clone)]
pub struct Provenance {
    /// `SOURCE_DATE_EPOCH`: every mtime and `created`.
    pub created: u64,
    /// The commit built.
    pub revision: String,
    /// Where the source lives (a repository URL), when known.
    pub source: Option<String>,
    /// The tag the image gets in the layout and when pushed.
    pub tag: String,
}

/// An image ready to write.
pub struct ImageSpec<'a> {
    pub service: &'a str,
    /// The binary's file name in the image (`ecom-login`).
    pub binary_name: &'a str,
    pub binary: Vec<u8>,
    /// OCI architecture (`amd64`, `arm64`) and variant (`v8` for arm64).
    pub architecture: &'a str,
    pub variant: Option<&'a str>,
    pub base: &'a Layer,
    /// One line saying what the base is (history).
    pub base_description: &'a str,
    pub provenance: &'a Provenance,
}

/// A written image.
#[derive(Debug, Clone)]
pub struct Written {
    pub dir: PathBuf,
    pub manifest: Descriptor,
    /// Config, layers and manifest together, as a registry stores them.
    pub size: u64,
}

/// The annotations every image carries (also the config's labels).
pub fn annotations(service: &str, p: &Provenance) -> Map<String, Value> {
    let mut a = Map::new();
    a.insert(
        "org.opencontainers.image.created".into(),
        rfc3339(p.created).into(),
    );
    a.insert(
        "org.opencontainers.image.revision".into(),
        p.revision.clone().into(),
    );
    if let Some(src) = &p.source {
        a.insert("org.opencontainers.image.source".into(), src.clone().into());
    }
    a.insert("org.opencontainers.image.title".into(), service.into());
    a.insert(
        "org.opencontainers.image.version".into(),
        p.tag.clone().into(),
    );
    a
}

pub fn write(spec: &ImageSpec, dest: &Path) -> Result<Written, LayoutError> {
    let p = spec.provenance;
    let created = rfc3339(p.created);
    let entrypoint = format!("/{BIN_DIR}/{}", spec.binary_name);
    let mut app = LayerFiles::new();
    app.file(&entrypoint, spec.binary.clone(), 0o755);
    let app = app.finish(p.created).map_err(|source| LayoutError::Io {
        path: dest.to_path_buf(),
        source,
    })?;
    let labels = annotations(spec.service, p);
    let config = json!({
        "created": created,
        "architecture": spec.architecture,
        "os": "linux",
        "config": {
            "User": "65532:65532",
            "Env": [
                "PATH=/usr/local/bin:/usr/bin:/bin",
                "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
            ],
            "Entrypoint": [entrypoint],
            "WorkingDir": "/home/nonroot",
            "Labels": labels,
        },
        "rootfs": { "type": "layers", "diff_ids": [spec.base.diff_id, app.diff_id] },
        "history": [
            { "created": created, "created_by": spec.base_description, "comment": "ecomctl base" },
            { "created": created, "created_by": format!("ecomctl build: {entrypoint}") },
        ],
    });
    let mut config = config;
    if let Some(v) = spec.variant {
        config["variant"] = v.into();
    }
    let config_bytes = serde_json::to_vec(&config).unwrap_or_default();
    let w = LayoutWriter::create(dest)?;
    let config = w.blob(MEDIA_CONFIG, &config_bytes)?;
    let layers = vec![
        w.blob(&spec.base.descriptor().media_type, &spec.base.gzip)?,
        w.blob(&app.descriptor().media_type, &app.gzip)?,
    ];
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MEDIA_MANIFEST.into()),
        artifact_type: None,
        config,
        layers,
        subject: None,
        annotations: labels,
    };
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap_or_default();
    let mut desc = w.blob(MEDIA_MANIFEST, &manifest_bytes)?;
    let size =
        manifest.config.size + manifest.layers.iter().map(|l| l.size).sum::<u64>() + desc.size;
    let mut named = desc.clone();
    named.annotations.insert(
        "org.opencontainers.image.ref.name".into(),
        p.tag.clone().into(),
    );
    let dir = w.finish(vec![named])?;
    desc.annotations.clear();
    Ok(Written {
        dir,
        manifest: desc,
        size,
    })
}
