//! The evidence bundle: every raw input the checks read, the results, and `SHA256SUMS`, a
//! manifest in `sha256sum` format, so `cd DIR && sha256sum -c SHA256SUMS` shows nothing was
//! edited. Written files are owner-only.

use super::model::Evidence;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

pub const MANIFEST: &str = "SHA256SUMS";

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("{0} exists and is not empty: name a new directory for the evidence bundle")]
    NotEmpty(PathBuf),
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("evidence path {0:?} leaves the bundle")]
    BadPath(String),
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), EvidenceError> {
    let err = |source| EvidenceError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)
}

/// Writes the bundle into `dir` (new or empty): the evidence, then `files` (the results), then
/// the manifest over all of them. Returns the number of files listed.
pub fn write(
    dir: &Path,
    evidence: &[Evidence],
    files: &[(&str, Vec<u8>)],
) -> Result<usize, EvidenceError> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(EvidenceError::NotEmpty(dir.to_path_buf()));
    }
    let mut listed: Vec<(String, String)> = Vec::new();
    let all = evidence
        .iter()
        .map(|e| (e.path.as_str(), e.bytes.as_slice()))
        .chain(files.iter().map(|(p, b)| (*p, b.as_slice())));
    for (rel, bytes) in all {
        let safe = Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if !safe || rel == MANIFEST {
            return Err(EvidenceError::BadPath(rel.to_string()));
        }
        if listed.iter().any(|(_, p)| p == rel) {
            continue;
        }
        write_file(&dir.join(rel), bytes)?;
        let digest: String = Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        listed.push((digest, rel.to_string()));
    }
    listed.sort_by(|a, b| a.1.cmp(&b.1));
    let manifest: String = listed.iter().map(|(h, p)| format!("{h}  {p}\n")).collect();
    write_file(&dir.join(MANIFEST), manifest.as_bytes())?;
    Ok(listed.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_full_directory_and_paths_out_of_the_bundle() {
        let dir =
            std::env::temp_dir().join(format!("ecomctl-evidence-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ev = vec![Evidence::text("a/b.txt", "x")];
        assert_eq!(
            write(&dir, &ev, &[("results.json", b"{}".to_vec())]).unwrap(),
            2
        );
        let manifest = std::fs::read_to_string(dir.join(MANIFEST)).unwrap();
        assert!(
            manifest.contains("  a/b.txt\n") && manifest.contains("  results.json\n"),
            "{manifest}"
        );
        assert!(matches!(
            write(&dir, &ev, &[]),
            Err(EvidenceError::NotEmpty(_))
        ));
        let other = dir.join("sub");
        let bad = vec![Evidence::text("../x", "x")];
        assert!(matches!(
            write(&other, &bad, &[]),
            Err(EvidenceError::BadPath(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
