//! Debian packages for the base: `images/base.lock` parsed, each `.deb` fetched from the mirror
//! (or taken from the cache), verified by SHA-256 before anything reads it, and unpacked (the `ar`
//! container, `control.tar.*` and `data.tar.{xz,gz}`).

use std::io::Read;
use std::path::{Path, PathBuf};

use super::hex;
use super::layer::{clean_path, Kind, LayerFiles, ROOT};
use sha2::{Digest as _, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum DebianError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("downloading {url}: {why}")]
    Fetch { url: String, why: String },
    #[error("{name} {version}: the download hashes to {actual}, the lock pins {expected}")]
    Checksum {
        name: String,
        version: String,
        expected: String,
        actual: String,
    },
    #[error("{name}: not a Debian package ({why})")]
    Format { name: String, why: String },
}

/// One pinned package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub arch: String,
    pub sha256: String,
    /// Path on the mirror (`pool/main/g/glibc/libc6_..._amd64.deb`).
    pub path: String,
}

/// The distribution the packages come from, for `/etc/os-release` and package URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distro {
    pub id: String,
    pub version_id: String,
    pub codename: String,
}

#[derive(Debug, Clone)]
pub struct Lock {
    pub distro: Distro,
    pub mirror: String,
    pub packages: Vec<Package>,
}

impl Lock {
    pub fn parse(text: &str) -> Result<Lock, (usize, String)> {
        let (mut distro, mut mirror, mut packages) = (None, None, Vec::new());
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let f: Vec<&str> = line.split_whitespace().collect();
            match f.as_slice() {
                ["distro", id, version_id, codename] => {
                    distro = Some(Distro {
                        id: id.to_string(),
                        version_id: version_id.to_string(),
                        codename: codename.to_string(),
                    })
                }
                ["mirror", url] => mirror = Some(url.trim_end_matches('/').to_string()),
                ["deb", name, version, arch, sha, path] => {
                    let hex_ok = sha.len() == 64
                        && sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                    if !hex_ok {
                        return Err((i + 1, format!("{name}: the SHA-256 must be 64 lowercase hex digits")));
                    }
                    if path.contains("..") || path.starts_with('/') {
                        return Err((i + 1, format!("{name}: the path must stay on the mirror")));
                    }
                    packages.push(Package {
                        name: name.to_string(),
                        version: version.to_string(),
                        arch: arch.to_string(),
                        sha256: sha.to_string(),
                        path: path.to_string(),
                    });
                }
                _ => {
                    return Err((
                        i + 1,
                        "expected `distro ID VERSION CODENAME`, `mirror URL` or `deb NAME VERSION ARCH SHA256 PATH`"
                            .into(),
                    ))
                }
            }
        }
        let distro = distro.ok_or((0, "no `distro` line".to_string()))?;
        let mirror = mirror.ok_or((0, "no `mirror` line".to_string()))?;
        if packages.is_empty() {
            return Err((0, "no `deb` lines".into()));
        }
        Ok(Lock {
            distro,
            mirror,
            packages,
        })
    }

    /// The lock for one architecture (`amd64`, `arm64`): its packages and the `all` ones. Every
    /// package is pinned once per architecture; a lock without pins for `arch` (one written
    /// before arm64 was added, say) is refused here, naming the architectures it has.
    pub fn for_arch(&self, arch: &str) -> Result<Lock, String> {
        let packages: Vec<Package> = self
            .packages
            .iter()
            .filter(|p| p.arch == arch || p.arch == "all")
            .cloned()
            .collect();
        let mut names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("{} is pinned twice for {arch}", w[0]));
        }
        if !packages.iter().any(|p| p.arch == arch) {
            let mut have: Vec<&str> = self
                .packages
                .iter()
                .map(|p| p.arch.as_str())
                .filter(|a| *a != "all")
                .collect();
            have.sort_unstable();
            have.dedup();
            return Err(format!(
                "no package is pinned for {arch} (the lock has {})",
                if have.is_empty() {
                    "only `all` packages".to_string()
                } else {
                    have.join(", ")
                }
            ));
        }
        Ok(Lock {
            distro: self.distro.clone(),
            mirror: self.mirror.clone(),
            packages,
        })
    }

    /// The lock's content in one canonical text (what a base built from it depends on).
    pub fn canonical(&self) -> String {
        let d = &self.distro;
        let mut s = format!(
            "distro {} {} {}\nmirror {}\n",
            d.id, d.version_id, d.codename, self.mirror
        );
        for p in &self.packages {
            s.push_str(&format!(
                "deb {} {} {} {} {}\n",
                p.name, p.version, p.arch, p.sha256, p.path
            ));
        }
        s
    }
}

/// The `.deb` of `pkg`: from `cache` when it is there and intact, else from the mirror (then
/// cached). Never returns bytes that do not hash to the pinned SHA-256.
pub async fn fetch(
    client: &reqwest::Client,
    mirror: &str,
    pkg: &Package,
    cache: &Path,
) -> Result<Vec<u8>, DebianError> {
    let cached = cache.join(format!("{}.deb", pkg.sha256));
    if let Ok(bytes) = std::fs::read(&cached) {
        if hex(&Sha256::digest(&bytes)) == pkg.sha256 {
            return Ok(bytes);
        }
    }
    let url = format!("{mirror}/{}", pkg.path);
    let fail = |why: String| DebianError::Fetch {
        url: url.clone(),
        why,
    };
    let resp = client
        .get(&url)
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(fail(format!("HTTP {}", resp.status())));
    }
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| fail(e.to_string()))?
        .to_vec();
    let actual = hex(&Sha256::digest(&bytes));
    if actual != pkg.sha256 {
        return Err(DebianError::Checksum {
            name: pkg.name.clone(),
            version: pkg.version.clone(),
            expected: pkg.sha256.clone(),
            actual,
        });
    }
    let io = |source| DebianError::Io {
        path: cached.clone(),
        source,
    };
    std::fs::create_dir_all(cache).map_err(io)?;
    // Unique per process: parallel builds (and tests) share the cache; rename is atomic.
    let tmp = cached.with_extension(format!("part.{}", std::process::id()));
    std::fs::write(&tmp, &bytes).map_err(io)?;
    std::fs::rename(&tmp, &cached).map_err(io)?;
    Ok(bytes)
}

/// The members of an `ar` archive: (name, bytes).
fn ar_members(name: &str, deb: &[u8]) -> Result<Vec<(String, Vec<u8>)>, DebianError> {
    let bad = |why: &str| DebianError::Format {
        name: name.to_string(),
        why: why.to_string(),
    };
    let mut rest = deb
        .strip_prefix(b"!<arch>\n")
        .ok_or_else(|| bad("no ar magic"))?;
    let mut out = Vec::new();
    while rest.len() >= 60 {
        let header = &rest[..60];
        let member = String::from_utf8_lossy(&header[..16])
            .trim_end()
            .trim_end_matches('/')
            .to_string();
        let size: usize = String::from_utf8_lossy(&header[48..58])
            .trim()
            .parse()
            .map_err(|_| bad("bad member size"))?;
        let body = rest
            .get(60..60 + size)
            .ok_or_else(|| bad("truncated member"))?;
        out.push((member, body.to_vec()));
        let next = 60 + size + size % 2;
        rest = rest.get(next..).unwrap_or_default();
    }
    Ok(out)
}

/// A member's tar, decompressed by its suffix.
fn untar_member(name: &str, member: &str, bytes: &[u8]) -> Result<Vec<u8>, DebianError> {
    let bad = |why: String| DebianError::Format {
        name: name.to_string(),
        why,
    };
    let mut out = Vec::new();
    if member.ends_with(".tar.xz") {
        lzma_rs::xz_decompress(&mut &bytes[..], &mut out)
            .map_err(|e| bad(format!("{member}: {e}")))?;
    } else if member.ends_with(".tar.gz") {
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| bad(format!("{member}: {e}")))?;
    } else if member.ends_with(".tar") {
        out = bytes.to_vec();
    } else {
        return Err(bad(format!("{member}: unsupported compression")));
    }
    Ok(out)
}

/// A verified `.deb`, opened: its `control` paragraph and its files.
pub struct Unpacked {
    pub control: String,
    pub files: LayerFiles,
}

/// Files under these prefixes are left out of the base (copyright files are kept).
const DROPPED: [&str; 5] = [
    "usr/share/doc/",
    "usr/share/man/",
    "usr/share/info/",
    "usr/share/lintian/",
    "usr/share/bug/",
];

fn kept(path: &str) -> bool {
    if path.starts_with("usr/share/doc/") && path.ends_with("/copyright") {
        return true;
    }
    !DROPPED.iter().any(|p| path.starts_with(p))
}

pub fn unpack(pkg: &Package, deb: &[u8]) -> Result<Unpacked, DebianError> {
    let bad = |why: String| DebianError::Format {
        name: pkg.name.clone(),
        why,
    };
    let members = ar_members(&pkg.name, deb)?;
    let find = |prefix: &str| {
        members
            .iter()
            .find(|(m, _)| m.starts_with(prefix))
            .ok_or_else(|| bad(format!("no {prefix}* member")))
    };
    let (cname, cbytes) = find("control.tar")?;
    let control_tar = untar_member(&pkg.name, cname, cbytes)?;
    let mut control = None;
    let mut ar = tar::Archive::new(control_tar.as_slice());
    for entry in ar.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let path = entry.path().map_err(|e| bad(e.to_string()))?.into_owned();
        if clean_path(&path.to_string_lossy()).as_deref() == Some("control") {
            let mut s = String::new();
            entry
                .read_to_string(&mut s)
                .map_err(|e| bad(e.to_string()))?;
            control = Some(s);
        }
    }
    let control = control.ok_or_else(|| bad("no control file".into()))?;
    let field = |key: &str| {
        control
            .lines()
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
    };
    if field("Package:").as_deref() != Some(&pkg.name)
        || field("Version:").as_deref() != Some(&pkg.version)
    {
        return Err(bad(format!(
            "its control file names {:?} {:?}, the lock {} {}",
            field("Package:"),
            field("Version:"),
            pkg.name,
            pkg.version
        )));
    }
    let (dname, dbytes) = find("data.tar")?;
    let data = untar_member(&pkg.name, dname, dbytes)?;
    Ok(Unpacked {
        control,
        files: data_files(&pkg.name, &data)?,
    })
}

fn data_files(name: &str, data: &[u8]) -> Result<LayerFiles, DebianError> {
    let bad = |why: String| DebianError::Format {
        name: name.to_string(),
        why,
    };
    let mut files = LayerFiles::new();
    let mut ar = tar::Archive::new(data);
    for entry in ar.entries().map_err(|e| bad(e.to_string()))? {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let raw = entry.path().map_err(|e| bad(e.to_string()))?;
        let Some(path) = clean_path(&raw.to_string_lossy()) else {
            continue;
        };
        if !kept(&path) {
            continue;
        }
        let mode = entry.header().mode().map_err(|e| bad(e.to_string()))? & 0o7777;
        let link = entry
            .link_name()
            .map_err(|e| bad(e.to_string()))?
            .map(|l| l.to_string_lossy().into_owned());
        match entry.header().entry_type() {
            tar::EntryType::Directory => files.insert(&path, Kind::Dir, mode, ROOT),
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let mut bytes = Vec::new();
                entry
                    .read_to_end(&mut bytes)
                    .map_err(|e| bad(e.to_string()))?;
                files.insert(&path, Kind::File(bytes), mode, ROOT);
            }
            tar::EntryType::Symlink => {
                let target = link.ok_or_else(|| bad(format!("{path}: symlink without target")))?;
                files.insert(&path, Kind::Symlink(target), 0o777, ROOT);
            }
            tar::EntryType::Link => {
                // A hard link becomes a copy: layers need no inode sharing.
                let target = link.and_then(|l| clean_path(&l));
                let copy = target.and_then(|t| files.get(&t).cloned());
                let entry = copy.ok_or_else(|| bad(format!("{path}: hard link to nothing")))?;
                files.insert(&path, entry.kind, mode, ROOT);
            }
            other => return Err(bad(format!("{path}: unsupported entry type {other:?}"))),
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: &str = "distro debian 12 bookworm\nmirror http://deb.example/debian/\n\
        deb tzdata 2026f-0+deb12u1 all 3254eb870c8a949518214805aee5e4276af7699988ea8b9a3a583cd0f1eab31c pool/t/tzdata.deb\n";

    #[test]
    fn the_lock_parses_and_bad_lines_point_at_themselves() {
        let lock = Lock::parse(LOCK).unwrap();
        assert_eq!(lock.mirror, "http://deb.example/debian");
        assert_eq!(lock.packages[0].name, "tzdata");
        let bad = LOCK.replace("3254eb87", "XYZ");
        assert_eq!(Lock::parse(&bad).unwrap_err().0, 3);
        let climbing = LOCK.replace("pool/t/", "../../etc/");
        assert!(Lock::parse(&climbing)
            .unwrap_err()
            .1
            .contains("stay on the mirror"));
    }

    #[test]
    fn each_architecture_gets_its_packages_and_the_shared_ones() {
        let sha = "3254eb870c8a949518214805aee5e4276af7699988ea8b9a3a583cd0f1eab31c";
        let two = format!("{LOCK}deb libc6 2 amd64 {sha} a.deb\ndeb libc6 2 arm64 {sha} b.deb\n");
        let lock = Lock::parse(&two).unwrap();
        let arm = lock.for_arch("arm64").unwrap();
        let names: Vec<_> = arm
            .packages
            .iter()
            .map(|p| (p.name.as_str(), p.arch.as_str()))
            .collect();
        assert_eq!(names, [("tzdata", "all"), ("libc6", "arm64")]);
        assert_ne!(arm.canonical(), lock.for_arch("amd64").unwrap().canonical());
        // An amd64-only lock (as written before arm64 pins existed) still builds amd64.
        let old = Lock::parse(&format!("{LOCK}deb libc6 2 amd64 {sha} a.deb\n")).unwrap();
        assert!(old.for_arch("amd64").is_ok());
        let why = old.for_arch("arm64").unwrap_err();
        assert!(
            why.contains("no package is pinned for arm64 (the lock has amd64)"),
            "{why}"
        );
        let twice = Lock::parse(&format!("{two}deb libc6 3 arm64 {sha} c.deb\n")).unwrap();
        assert!(twice
            .for_arch("arm64")
            .unwrap_err()
            .contains("pinned twice"));
    }

    #[test]
    fn docs_are_dropped_but_copyright_files_kept() {
        assert!(kept("usr/share/doc/libc6/copyright"));
        assert!(!kept("usr/share/doc/libc6/changelog.Debian.gz"));
        assert!(!kept("usr/share/man/man1/x.1.gz"));
        assert!(kept("usr/share/zoneinfo/UTC"));
    }

    #[test]
    fn a_truncated_archive_is_refused() {
        let pkg = Lock::parse(LOCK).unwrap().packages.remove(0);
        assert!(unpack(&pkg, b"not a deb").is_err());
        let mut deb = b"!<arch>\n".to_vec();
        deb.extend_from_slice(
            format!(
                "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
                "data.tar.xz", 0, 0, 0, 644, 999
            )
            .as_bytes(),
        );
        assert!(matches!(
            unpack(&pkg, &deb),
            Err(DebianError::Format { .. })
        ));
    }
}
