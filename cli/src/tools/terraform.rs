//! Finding Terraform and asking its version.

use super::version::Version;
use std::path::PathBuf;
use std::process::Command;

/// The terraform binary: `ECOMCTL_TERRAFORM`, else `terraform` on PATH.
pub fn find() -> Option<PathBuf> {
    match std::env::var_os("ECOMCTL_TERRAFORM") {
        Some(p) => Some(PathBuf::from(p)),
        None => which::which("terraform").ok(),
    }
}

/// `terraform version -json`, read. `None` when the binary is missing or answers oddly.
pub fn version(bin: &std::path::Path) -> Option<Version> {
    let out = Command::new(bin)
        .args(["version", "-json"])
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Version::parse(doc.get("terraform_version")?.as_str()?)
}
