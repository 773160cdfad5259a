//! One image layer, written so the same files always give the same bytes: entries sorted by path,
//! every parent directory present, one fixed mtime (`SOURCE_DATE_EPOCH`), owners fixed by uid, gid
//! and name, gzip with no timestamp or file name.

use std::collections::BTreeMap;
use std::io::Write;

use flate2::{Compression, GzBuilder};
use sha2::{Digest as _, Sha256};

use super::{hex, Descriptor, MEDIA_LAYER_GZIP};

/// Who owns an entry: uid, gid and the names written beside them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub uid: u64,
    pub gid: u64,
    pub user: &'static str,
    pub group: &'static str,
}

pub const ROOT: Owner = Owner {
    uid: 0,
    gid: 0,
    user: "root",
    group: "root",
};

/// The unprivileged user services run as (distroless's `nonroot`).
pub const NONROOT: Owner = Owner {
    uid: 65532,
    gid: 65532,
    user: "nonroot",
    group: "nonroot",
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File(Vec<u8>),
    Symlink(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    pub mode: u32,
    pub owner: Owner,
}

/// Files of a layer, keyed by their path without a leading `/` or `./`.
#[derive(Debug, Default, Clone)]
pub struct LayerFiles {
    entries: BTreeMap<String, Entry>,
}

/// A finished layer: the gzip bytes and what names it.
#[derive(Debug, Clone)]
pub struct Layer {
    pub gzip: Vec<u8>,
    /// The digest of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: String,
}

impl Layer {
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::of(MEDIA_LAYER_GZIP, &self.gzip)
    }
}

/// `./usr/lib/` -> `usr/lib`; `None` for the root itself or a path that climbs out (`..`).
pub fn clean_path(path: &str) -> Option<String> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") {
        return None;
    }
    Some(parts.join("/"))
}

impl LayerFiles {
    pub fn new() -> LayerFiles {
        LayerFiles::default()
    }

    /// Adds (or replaces) an entry; missing parent directories are added as root's 0755.
    pub fn insert(&mut self, path: &str, kind: Kind, mode: u32, owner: Owner) {
        let Some(path) = clean_path(path) else {
            return;
        };
        let mut parent = path.as_str();
        while let Some((dir, _)) = parent.rsplit_once('/') {
            self.entries.entry(dir.to_string()).or_insert(Entry {
                kind: Kind::Dir,
                mode: 0o755,
                owner: ROOT,
            });
            parent = dir;
        }
        self.entries.insert(path, Entry { kind, mode, owner });
    }

    pub fn file(&mut self, path: &str, data: Vec<u8>, mode: u32) {
        self.insert(path, Kind::File(data), mode, ROOT);
    }

    pub fn get(&self, path: &str) -> Option<&Entry> {
        clean_path(path).and_then(|p| self.entries.get(&p))
    }

    pub fn remove(&mut self, path: &str) {
        if let Some(p) = clean_path(path) {
            self.entries.remove(&p);
        }
    }

    pub fn paths(&self) -> impl Iterator<Item = &String> {
        self.entries.keys()
    }

    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.entries.retain(|p, _| keep(p));
    }

    /// The uncompressed size of the files' contents.
    pub fn content_size(&self) -> u64 {
        self.entries
            .values()
            .map(|e| match &e.kind {
                Kind::File(d) => d.len() as u64,
                _ => 0,
            })
            .sum()
    }

    /// The layer: tar in path order, every header stamped with `mtime`, then gzip.
    pub fn finish(&self, mtime: u64) -> std::io::Result<Layer> {
        let mut tar = tar::Builder::new(Vec::new());
        tar.mode(tar::HeaderMode::Deterministic);
        for (path, entry) in &self.entries {
            let mut h = tar::Header::new_gnu();
            h.set_mtime(mtime);
            h.set_uid(entry.owner.uid);
            h.set_gid(entry.owner.gid);
            h.set_username(entry.owner.user)?;
            h.set_groupname(entry.owner.group)?;
            h.set_mode(entry.mode);
            match &entry.kind {
                Kind::Dir => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    tar.append_data(&mut h, format!("{path}/"), std::io::empty())?;
                }
                Kind::File(data) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(data.len() as u64);
                    tar.append_data(&mut h, path, data.as_slice())?;
                }
                Kind::Symlink(target) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    tar.append_link(&mut h, path, target)?;
                }
            }
        }
        let raw = tar.into_inner()?;
        let diff_id = format!("sha256:{}", hex(&Sha256::digest(&raw)));
        let mut gz = GzBuilder::new()
            .mtime(0)
            .operating_system(255)
            .write(Vec::new(), Compression::best());
        gz.write_all(&raw)?;
        Ok(Layer {
            gzip: gz.finish()?,
            diff_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample(order: &[&str]) -> LayerFiles {
        let mut files = LayerFiles::new();
        for p in order {
            files.file(p, p.as_bytes().to_vec(), 0o644);
        }
        files.insert("usr/lib/link", Kind::Symlink("a".into()), 0o777, ROOT);
        files
    }

    #[test]
    fn the_same_files_in_any_order_give_the_same_layer() {
        let a = sample(&["etc/b", "usr/lib/a", "etc/a"]).finish(42).unwrap();
        let b = sample(&["etc/a", "etc/b", "usr/lib/a"]).finish(42).unwrap();
        assert_eq!(a.gzip, b.gzip);
        assert_eq!(a.diff_id, b.diff_id);
        let later = sample(&["etc/a"]).finish(43).unwrap();
        assert_ne!(a.diff_id, later.diff_id);
    }

    #[test]
    fn entries_are_sorted_with_parents_owners_and_mtime_fixed() {
        let mut files = sample(&["etc/b", "usr/lib/a"]);
        files.insert("home/nonroot", Kind::Dir, 0o700, NONROOT);
        let layer = files.finish(1_700_000_000).unwrap();
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(layer.gzip.as_slice())
            .read_to_end(&mut raw)
            .unwrap();
        let mut ar = tar::Archive::new(raw.as_slice());
        let mut seen = Vec::new();
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            assert_eq!(h.mtime().unwrap(), 1_700_000_000);
            let path = e.path().unwrap().to_string_lossy().into_owned();
            if path.starts_with("home/nonroot") {
                assert_eq!(
                    (h.uid().unwrap(), h.username().unwrap()),
                    (65532, Some("nonroot"))
                );
            } else {
                assert_eq!(
                    (h.uid().unwrap(), h.groupname().unwrap()),
                    (0, Some("root"))
                );
            }
            seen.push(path);
        }
        assert_eq!(
            seen,
            [
                "etc/",
                "etc/b",
                "home/",
                "home/nonroot/",
                "usr/",
                "usr/lib/",
                "usr/lib/a",
                "usr/lib/link"
            ]
        );
    }

    #[test]
    fn paths_that_climb_out_are_refused() {
        assert_eq!(clean_path("./usr//lib/"), Some("usr/lib".into()));
        assert_eq!(clean_path("../etc/passwd"), None);
        assert_eq!(clean_path("./"), None);
    }
}
