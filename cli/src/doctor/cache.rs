//! What the doctor keeps between runs under `.ecomctl/doctor/`: results that are deterministic
//! in their inputs (checkov's report over `stacks/`), each stored under a SHA-256 of every input
//! it was computed from. A changed input is a different key, so it is computed again.
//!
//! A file is trusted only when it is a regular file owned by this user and closed to everyone
//! else, names the kind and full key it was stored under, and its body matches the SHA-256 in its
//! header. Anything else (damaged, truncated, edited, left by another user, readable by others)
//! is ignored: the value is computed again and the file replaced. Files are written 0600 in a
//! 0700 directory; storing a value removes the older entries of its kind.

use serde::{de::DeserializeOwned, Serialize};
use sha2::{Digest, Sha256};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

const MAGIC: &str = "ecomctl-doctor-cache/v1";

/// A SHA-256 over named inputs, each length-prefixed so that different input lists never feed
/// the same bytes.
#[derive(Debug, Clone)]
pub struct Key(Sha256);

impl Key {
    pub fn new(kind: &str) -> Key {
        let mut key = Key(Sha256::new());
        key.add("kind", kind.as_bytes());
        key
    }

    pub fn add(&mut self, name: &str, bytes: &[u8]) -> &mut Key {
        for part in [name.as_bytes(), bytes] {
            self.0.update((part.len() as u64).to_le_bytes());
            self.0.update(part);
        }
        self
    }

    /// Every file under `dir`: its path relative to `dir` and its contents, in path order
    /// (`.terraform/` data directories, which hold providers and state, are left out). An
    /// unreadable file feeds a marker instead of contents, so it still changes the key.
    pub fn add_tree(&mut self, dir: &Path) -> &mut Key {
        let mut files = Vec::new();
        collect(dir, &mut files);
        files.sort();
        for file in files {
            let rel = file.strip_prefix(dir).unwrap_or(&file).to_string_lossy();
            match std::fs::read(&file) {
                Ok(bytes) => self.add(&format!("file:{rel}"), &bytes),
                Err(_) => self.add(&format!("unreadable:{rel}"), &[]),
            };
        }
        self
    }

    /// The key, as 64 lowercase hex digits.
    pub fn finish(self) -> String {
        format!("{:x}", self.0.finalize())
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name() == ".terraform" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The doctor's cache directory (`<state dir>/doctor`).
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    pub fn new(state_dir: &Path) -> Cache {
        Cache {
            dir: state_dir.join("doctor"),
        }
    }

    /// Where the entry of `kind` under `key` lives.
    pub fn path(&self, kind: &str, key: &str) -> PathBuf {
        self.dir
            .join(format!("{kind}-{}.json", key.get(..16).unwrap_or(key)))
    }

    /// The stored value of `kind` under `key`, when there is one that can be trusted.
    pub fn get<T: DeserializeOwned>(&self, kind: &str, key: &str) -> Option<T> {
        let path = self.path(kind, key);
        let meta = std::fs::symlink_metadata(&path).ok()?;
        // SAFETY: geteuid(2) has no failure mode and touches no memory.
        let me = unsafe { libc::geteuid() };
        if !meta.is_file() || meta.uid() != me || meta.mode() & 0o077 != 0 {
            return None;
        }
        let bytes = std::fs::read(&path).ok()?;
        let newline = bytes.iter().position(|b| *b == b'\n')?;
        let (header, body) = (&bytes[..newline], &bytes[newline + 1..]);
        let want = format!(
            "{MAGIC} {kind} {key} {}",
            crate::stages::record::sha256_hex(body)
        );
        if header != want.as_bytes() {
            return None;
        }
        serde_json::from_slice(body).ok()
    }

    /// Stores `value` of `kind` under `key` (owner-only) and removes the older entries of `kind`.
    pub fn put<T: Serialize>(&self, kind: &str, key: &str, value: &T) -> Result<(), String> {
        let body = serde_json::to_vec(value).map_err(|e| e.to_string())?;
        let mut text = format!(
            "{MAGIC} {kind} {key} {}\n",
            crate::stages::record::sha256_hex(&body)
        )
        .into_bytes();
        text.extend_from_slice(&body);
        let path = self.path(kind, key);
        crate::stages::record::write_atomic(&path, &text).map_err(|e| e.to_string())?;
        let keep = path.file_name().map(|n| n.to_os_string());
        for entry in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let stale = name
                .to_str()
                .is_some_and(|n| n.starts_with(&format!("{kind}-")) && n.ends_with(".json"))
                && Some(&name) != keep.as_ref();
            if stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn key_of(dir: &Path) -> String {
        let mut k = Key::new("t");
        k.add_tree(dir);
        k.finish()
    }

    #[test]
    fn any_changed_input_changes_the_key() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = tmp.path();
        std::fs::create_dir_all(tree.join("a/.terraform")).unwrap();
        std::fs::write(tree.join("a/main.tf"), "x").unwrap();
        let first = key_of(tree);
        assert_eq!(first, key_of(tree), "the same tree, the same key");
        std::fs::write(tree.join("a/.terraform/provider"), "ignored").unwrap();
        assert_eq!(first, key_of(tree), ".terraform/ is not an input");
        std::fs::write(tree.join("a/main.tf"), "y").unwrap();
        let edited = key_of(tree);
        assert_ne!(first, edited, "an edited file");
        std::fs::write(tree.join("a/extra.tf"), "").unwrap();
        let added = key_of(tree);
        assert_ne!(edited, added, "an added (empty) file");
        std::fs::rename(tree.join("a/extra.tf"), tree.join("a/other.tf")).unwrap();
        assert_ne!(added, key_of(tree), "a renamed file");
        let mut a = Key::new("t");
        a.add("x", b"ab").add("y", b"c");
        let mut b = Key::new("t");
        b.add("x", b"a").add("y", b"bc");
        assert_ne!(a.finish(), b.finish(), "inputs do not run into each other");
    }

    #[test]
    fn values_round_trip_owner_only_and_older_entries_go() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(tmp.path());
        let (k1, k2) = ("1".repeat(64), "2".repeat(64));
        assert_eq!(cache.get::<Vec<u32>>("t", &k1), None);
        cache.put("t", &k1, &vec![1, 2]).unwrap();
        assert_eq!(cache.get::<Vec<u32>>("t", &k1), Some(vec![1, 2]));
        assert_eq!(cache.get::<Vec<u32>>("t", &k2), None, "another key");
        assert_eq!(cache.get::<Vec<u32>>("u", &k1), None, "another kind");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&cache.path("t", &k1)), 0o600);
        assert_eq!(mode(&tmp.path().join("doctor")), 0o700);
        cache.put("t", &k2, &vec![3]).unwrap();
        assert!(!cache.path("t", &k1).exists(), "the older entry is removed");
        assert_eq!(cache.get::<Vec<u32>>("t", &k2), Some(vec![3]));
    }

    #[test]
    fn a_damaged_or_open_file_is_not_trusted() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(tmp.path());
        let key = "ab".repeat(32);
        cache.put("t", &key, &vec![1, 2, 3]).unwrap();
        let path = cache.path("t", &key);
        let good = std::fs::read(&path).unwrap();
        let damaged = [
            good[..good.len() - 3].to_vec(), // truncated
            [&good[..], b" "].concat(),      // trailing byte
            String::from_utf8(good.clone())
                .unwrap()
                .replace("[1,2,3]", "[1,2,4]")
                .into_bytes(), // edited
            String::from_utf8(good.clone())
                .unwrap()
                .replace(&key, &"cd".repeat(32))
                .into_bytes(), // another key
            b"[1,2,3]".to_vec(),             // no header
            Vec::new(),
        ];
        for bytes in damaged {
            std::fs::write(&path, &bytes).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            assert_eq!(
                cache.get::<Vec<u32>>("t", &key),
                None,
                "{}",
                String::from_utf8_lossy(&bytes)
            );
        }
        std::fs::write(&path, &good).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(cache.get::<Vec<u32>>("t", &key), None, "readable by others");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(cache.get::<Vec<u32>>("t", &key), Some(vec![1, 2, 3]));
    }
}
