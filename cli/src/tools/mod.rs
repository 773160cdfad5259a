//! Wrappers around the external tools ecomctl drives.

pub mod helm;
pub mod process;
pub mod terraform;
pub mod version;

use std::path::PathBuf;

/// A tool's binary: the path given (its flag or `ECOMCTL_*`, ignored when empty), else `name`
/// on PATH.
pub fn program(given: Option<PathBuf>, name: &str) -> Option<PathBuf> {
    given
        .filter(|p| !p.as_os_str().is_empty())
        .or_else(|| which::which(name).ok())
}
