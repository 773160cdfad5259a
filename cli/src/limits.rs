//! Bounds on what ecomctl reads whole into memory. Every file it reads (config, waivers,
//! policies' inputs, manifests, plan documents, its own records) goes through
//! [`read_to_string`]; YAML is further bounded in `config::yaml` (aliases, nesting) and JSON by
//! serde_json's nesting limit.

use std::io::Read;
use std::path::Path;

/// Config, waivers, manifests: text people write or ecomctl renders.
pub const MAX_TEXT_BYTES: u64 = crate::config::yaml::MAX_BYTES as u64;
/// Plan documents and records: `terraform show -json` of a large stack is tens of MB.
pub const MAX_DOCUMENT_BYTES: u64 = 256 * 1024 * 1024;

/// Reads a file of at most `max` bytes; a larger one is an `InvalidData` error saying so,
/// read no further than the bound.
pub fn read_to_string(path: &Path, max: u64) -> std::io::Result<String> {
    String::from_utf8(read(path, max)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// [`read_to_string`] for bytes.
pub fn read(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {} MB, the most ecomctl reads", max >> 20),
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_past_the_bound_is_refused_without_reading_it_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        std::fs::write(&path, vec![b'a'; 3 << 20]).unwrap();
        let err = read_to_string(&path, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("larger than 1 MB"), "{err}");
        assert_eq!(read_to_string(&path, 4 << 20).unwrap().len(), 3 << 20);
    }
}
