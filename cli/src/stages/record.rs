//! What ecomctl keeps per (scope, stage) under the state directory:
//!
//! ```text
//! <state_dir>/<scope>/<stage>/
//!   terraform.tfvars.json backend.hcl   rendered inputs
//!   .terraform/                         TF_DATA_DIR
//!   plan.tfplan plan.json plan.meta.json  the saved plan, its document, and the inputs it came from
//!   state.json                          last apply: when, inputs hash, plan hash, backend
//!   outputs.json                        `terraform output -json` for downstream stages
//!   lock                                held (flock) while a run works on the stage
//! ```

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is damaged: {message} (move it aside and rerun `ecomctl up`: what it held is planned again, or rebuilt from the state)")]
    Parse { path: PathBuf, message: String },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("another ecomctl run (pid {pid}) is working on {what}")]
    Locked { what: String, pid: String },
}

/// The last successful apply of a stage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageState {
    /// Seconds since the Unix epoch.
    pub applied_at: Option<u64>,
    pub inputs_hash: Option<String>,
    pub plan_hash: Option<String>,
    /// `s3` once the state lives in the bucket; `local` for bootstrap's first apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// The last failed apply (seconds since the epoch), cleared by a successful one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<u64>,
    /// When `down` destroyed the stage (cleared by the next apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destroyed_at: Option<u64>,
}

/// Recorded beside a saved plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanMeta {
    pub inputs_hash: String,
    pub plan_hash: String,
    pub created_at: u64,
    pub changes: bool,
    /// A destroy plan (made by `down`); `apply` refuses to apply it.
    #[serde(default)]
    pub destroy: bool,
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Reads a JSON record; a missing file is `None`.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, RecordError> {
    match crate::limits::read(path, crate::limits::MAX_DOCUMENT_BYTES) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| RecordError::Parse {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(RecordError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes bytes through a temporary file and a rename, so a record is never half-written.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RecordError> {
    let werr = |source| RecordError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        private_dir(parent).map_err(werr)?;
    }
    let tmp = path.with_extension("ecomctl-tmp");
    // Outputs and plans can hold secrets: readable by the owner only.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(werr)?;
    file.write_all(bytes).map_err(werr)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(werr)
}

/// Creates a directory (and its missing parents) readable by the owner only.
pub fn private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

/// Makes every file directly in `dir` owner-only (what tools wrote there too).
pub fn restrict_files(dir: &Path) -> Result<(), RecordError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.filter_map(Result::ok) {
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            restrict(&entry.path())?;
        }
    }
    Ok(())
}

/// Makes a file ecomctl keeps (or a tool wrote for it) readable by the owner only.
pub fn restrict(path: &Path) -> Result<(), RecordError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|source| {
        RecordError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), RecordError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| RecordError::Parse {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of everything a plan depends on: named byte strings (rendered files, the Terraform
/// version) and the stack's `.tf` files, minus ecomctl's own override file.
///
/// Not `.terraform.lock.hcl`: `terraform init` writes it into the stack on the first run, so
/// hashing it would make the plan a first run prints unapprovable on the next (its inputs
/// would differ). A provider change needs no hash here: Terraform refuses to apply a saved plan
/// made with other providers, and a provider upgrade alone changes no resource.
pub fn inputs_hash(named: &[(&str, &[u8])], stack_dir: &Path) -> Result<String, RecordError> {
    let mut h = Sha256::new();
    let mut feed = |name: &str, bytes: &[u8]| {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    for (name, bytes) in named {
        feed(name, bytes);
    }
    let rerr = |source| RecordError::Read {
        path: stack_dir.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(stack_dir)
        .map_err(rerr)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.ends_with(".tf") && name != super::LOCAL_BACKEND_OVERRIDE
        })
        .collect();
    files.sort();
    for f in files {
        let bytes = std::fs::read(&f).map_err(|source| RecordError::Read {
            path: f.clone(),
            source,
        })?;
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        feed(&format!("stack/{name}"), &bytes);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// An exclusive lock on one (scope, stage), held until dropped. The kernel releases it when the
/// process ends, so a crash never leaves a stale lock behind.
#[derive(Debug)]
pub struct StageLock {
    _file: File,
}

impl StageLock {
    pub fn acquire(path: &Path, what: &str) -> Result<StageLock, RecordError> {
        let werr = |source| RecordError::Write {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent() {
            private_dir(parent).map_err(werr)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(werr)?;
        // SAFETY: flock(2) on a descriptor we own; no memory is shared with the kernel.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let pid = std::fs::read_to_string(path)
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "unknown".into());
            return Err(RecordError::Locked {
                what: what.to_string(),
                pid,
            });
        }
        file.set_len(0).map_err(werr)?;
        write!(file, "{}", std::process::id()).map_err(werr)?;
        Ok(StageLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_stage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let first = StageLock::acquire(&path, "nonprod/app").unwrap();
        let err = StageLock::acquire(&path, "nonprod/app").unwrap_err();
        assert!(
            err.to_string().contains(&std::process::id().to_string()),
            "{err}"
        );
        drop(first);
        StageLock::acquire(&path, "nonprod/app").unwrap();
    }

    #[test]
    fn inputs_hash_follows_rendered_files_and_stack_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.tf"), "output \"a\" { value = 1 }").unwrap();
        let a = inputs_hash(&[("tfvars", b"{}")], dir.path()).unwrap();
        assert_eq!(a, inputs_hash(&[("tfvars", b"{}")], dir.path()).unwrap());
        assert_ne!(a, inputs_hash(&[("tfvars", b"{ }")], dir.path()).unwrap());
        std::fs::write(dir.path().join(super::super::LOCAL_BACKEND_OVERRIDE), "x").unwrap();
        std::fs::write(dir.path().join("README.md"), "x").unwrap();
        // The lock file the first `terraform init` writes must not make the plan it printed
        // unapprovable.
        std::fs::write(dir.path().join(".terraform.lock.hcl"), "provider {}").unwrap();
        assert_eq!(a, inputs_hash(&[("tfvars", b"{}")], dir.path()).unwrap());
        std::fs::write(dir.path().join("extra.tf"), "").unwrap();
        assert_ne!(a, inputs_hash(&[("tfvars", b"{}")], dir.path()).unwrap());
    }

    #[test]
    fn records_round_trip_and_missing_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/state.json");
        assert_eq!(read_json::<StageState>(&path).unwrap(), None);
        let s = StageState {
            applied_at: Some(1),
            inputs_hash: Some("h".into()),
            ..Default::default()
        };
        write_json(&path, &s).unwrap();
        assert_eq!(read_json::<StageState>(&path).unwrap(), Some(s));
    }
}
