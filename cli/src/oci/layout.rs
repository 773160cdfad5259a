//! The OCI image layout on disk: `oci-layout`, `index.json` and `blobs/sha256/<hex>`. Written to a
//! sibling directory and renamed into place, so a reader never sees half a layout.

use std::fs;
use std::path::{Path, PathBuf};

use super::{digest_hex, sha256_digest, Descriptor, Index, Manifest, MEDIA_INDEX};

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not an OCI image layout ({why})")]
    Invalid { path: PathBuf, why: String },
    #[error("{path}: blob {digest} is damaged (its content hashes to {actual})")]
    Damaged {
        path: PathBuf,
        digest: String,
        actual: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LayoutError + '_ {
    move |source| LayoutError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A layout being written: blobs first, then `finish` writes the index and moves it into place.
pub struct LayoutWriter {
    dest: PathBuf,
    tmp: PathBuf,
}

impl LayoutWriter {
    pub fn create(dest: &Path) -> Result<LayoutWriter, LayoutError> {
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "layout".into());
        let tmp = dest.with_file_name(format!(".{name}.tmp"));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
        }
        let blobs = tmp.join("blobs/sha256");
        fs::create_dir_all(&blobs).map_err(io(&blobs))?;
        let marker = tmp.join("oci-layout");
        fs::write(&marker, br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(io(&marker))?;
        Ok(LayoutWriter {
            dest: dest.to_path_buf(),
            tmp,
        })
    }

    /// Stores a blob; returns its descriptor.
    pub fn blob(&self, media_type: &str, bytes: &[u8]) -> Result<Descriptor, LayoutError> {
        let desc = Descriptor::of(media_type, bytes);
        let hex = digest_hex(&desc.digest).unwrap_or_default();
        let path = self.tmp.join("blobs/sha256").join(hex);
        fs::write(&path, bytes).map_err(io(&path))?;
        Ok(desc)
    }

    /// Writes `index.json` naming `manifests` and replaces the destination with the new layout.
    pub fn finish(self, manifests: Vec<Descriptor>) -> Result<PathBuf, LayoutError> {
        let index = Index {
            schema_version: 2,
            media_type: Some(MEDIA_INDEX.to_string()),
            manifests,
        };
        let path = self.tmp.join("index.json");
        let bytes = serde_json::to_vec_pretty(&index).unwrap_or_default();
        fs::write(&path, bytes).map_err(io(&path))?;
        if self.dest.exists() {
            fs::remove_dir_all(&self.dest).map_err(io(&self.dest))?;
        }
        fs::rename(&self.tmp, &self.dest).map_err(io(&self.dest))?;
        Ok(self.dest)
    }
}

/// A layout on disk, read back.
#[derive(Debug, Clone)]
pub struct Layout {
    pub dir: PathBuf,
    pub index: Index,
}

impl Layout {
    pub fn open(dir: &Path) -> Result<Layout, LayoutError> {
        let marker = dir.join("oci-layout");
        if !marker.is_file() {
            return Err(LayoutError::Invalid {
                path: dir.to_path_buf(),
                why: "no oci-layout file".into(),
            });
        }
        let path = dir.join("index.json");
        let bytes = fs::read(&path).map_err(io(&path))?;
        let index: Index = serde_json::from_slice(&bytes).map_err(|e| LayoutError::Invalid {
            path: path.clone(),
            why: e.to_string(),
        })?;
        Ok(Layout {
            dir: dir.to_path_buf(),
            index,
        })
    }

    /// A blob's bytes, checked against its digest.
    pub fn blob(&self, digest: &str) -> Result<Vec<u8>, LayoutError> {
        let hex = digest_hex(digest).ok_or_else(|| LayoutError::Invalid {
            path: self.dir.clone(),
            why: format!("bad digest {digest}"),
        })?;
        let path = self.dir.join("blobs/sha256").join(hex);
        let bytes = fs::read(&path).map_err(io(&path))?;
        let actual = sha256_digest(&bytes);
        if actual != digest {
            return Err(LayoutError::Damaged {
                path,
                digest: digest.to_string(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// The first manifest of the index with its bytes: the image the layout holds.
    pub fn image(&self) -> Result<(Descriptor, Vec<u8>, Manifest), LayoutError> {
        let desc = self
            .index
            .manifests
            .first()
            .cloned()
            .ok_or_else(|| LayoutError::Invalid {
                path: self.dir.clone(),
                why: "index.json names no manifest".into(),
            })?;
        let bytes = self.blob(&desc.digest)?;
        let manifest = serde_json::from_slice(&bytes).map_err(|e| LayoutError::Invalid {
            path: self.dir.clone(),
            why: format!("manifest {}: {e}", desc.digest),
        })?;
        Ok((desc, bytes, manifest))
    }

    /// The tag the layout's image was built with (`org.opencontainers.image.ref.name`).
    pub fn tag(&self) -> Option<String> {
        self.index.manifests.first().and_then(|d| {
            d.annotations
                .get("org.opencontainers.image.ref.name")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_layout_reads_back_and_damage_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("img");
        let w = LayoutWriter::create(&dest).unwrap();
        let blob = w.blob("application/octet-stream", b"hello").unwrap();
        let mut m = Descriptor::of(super::super::MEDIA_MANIFEST, b"{}");
        m.annotations
            .insert("org.opencontainers.image.ref.name".into(), "v1".into());
        w.finish(vec![m]).unwrap();
        let layout = Layout::open(&dest).unwrap();
        assert_eq!(layout.tag().as_deref(), Some("v1"));
        assert_eq!(layout.blob(&blob.digest).unwrap(), b"hello");
        let path = dest
            .join("blobs/sha256")
            .join(digest_hex(&blob.digest).unwrap());
        fs::write(path, b"hellO").unwrap();
        assert!(matches!(
            layout.blob(&blob.digest),
            Err(LayoutError::Damaged { .. })
        ));
    }
}
