//! The distroless-style base: the locked Debian packages unpacked into one layer, plus the few
//! files a container needs that no package writes (users, name service, CA bundle, `/tmp`).

use std::path::Path;

use super::debian::{self, DebianError, Lock, Package};
use super::layer::{Kind, Layer, LayerFiles, NONROOT, ROOT};
use super::{hex, sha256_digest};
use sha2::{Digest as _, Sha256};

/// Every entry of the base layer has this mtime, whatever commit is built: the base's bytes
/// depend on the lock alone, so its digest is the same across commits and a registry that
/// holds it once skips it on every later push.
pub const BASE_MTIME: u64 = 0;

/// The base's files and what they came from (for the SBOM and `/etc/os-release`).
pub struct Base {
    pub files: LayerFiles,
    pub lock: Lock,
}

impl Base {
    pub fn packages(&self) -> &[Package] {
        &self.lock.packages
    }
}

/// Fetches (or takes from `cache`), verifies and unpacks every locked package into one tree.
pub async fn assemble(lock: Lock, mirror: Option<&str>, cache: &Path) -> Result<Base, DebianError> {
    let client = reqwest::Client::builder()
        .user_agent(concat!("ecomctl/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| DebianError::Fetch {
            url: lock.mirror.clone(),
            why: e.to_string(),
        })?;
    let mirror = mirror
        .unwrap_or(&lock.mirror)
        .trim_end_matches('/')
        .to_string();
    let mut files = LayerFiles::new();
    for pkg in &lock.packages {
        let deb = debian::fetch(&client, &mirror, pkg, cache).await?;
        let unpacked = debian::unpack(pkg, &deb)?;
        merge(&mut files, unpacked.files);
        files.file(
            &format!("var/lib/dpkg/status.d/{}", pkg.name),
            unpacked.control.into_bytes(),
            0o644,
        );
    }
    add_system_files(&mut files, &lock);
    Ok(Base { files, lock })
}

/// The base layer for `lock` (one architecture's packages, `Lock::for_arch`): from `cache/base/`
/// when built before by this ecomctl version from the same pins and intact, else assembled and
/// cached.
pub async fn layer(lock: &Lock, mirror: Option<&str>, cache: &Path) -> Result<Layer, DebianError> {
    let key = hex(&Sha256::digest(format!(
        "{}\n{}",
        env!("CARGO_PKG_VERSION"),
        lock.canonical()
    )));
    let dir = cache.join("base");
    let (gz_path, id_path) = (
        dir.join(format!("{key}.tar.gz")),
        dir.join(format!("{key}.ids")),
    );
    if let (Ok(gzip), Ok(ids)) = (std::fs::read(&gz_path), std::fs::read_to_string(&id_path)) {
        if let Some((digest, diff_id)) = ids.trim().split_once(' ') {
            if sha256_digest(&gzip) == digest {
                return Ok(Layer {
                    gzip,
                    diff_id: diff_id.to_string(),
                });
            }
        }
    }
    let base = assemble(lock.clone(), mirror, &cache.join("debs")).await?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DebianError::Io { path, source }
    };
    let layer = base.files.finish(BASE_MTIME).map_err(io(&gz_path))?;
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    // Written beside and renamed into place: parallel builds share the cache.
    let put = |path: &Path, bytes: &[u8]| {
        let tmp = path.with_extension(format!("part.{}", std::process::id()));
        std::fs::write(&tmp, bytes)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(io(path))
    };
    put(&gz_path, &layer.gzip)?;
    let ids = format!("{} {}\n", sha256_digest(&layer.gzip), layer.diff_id);
    put(&id_path, ids.as_bytes())?;
    Ok(layer)
}

fn merge(into: &mut LayerFiles, from: LayerFiles) {
    let paths: Vec<String> = from.paths().cloned().collect();
    for p in paths {
        if let Some(e) = from.get(&p) {
            // A directory another package already made keeps its first mode.
            if e.kind == Kind::Dir && into.get(&p).is_some() {
                continue;
            }
            into.insert(&p, e.kind.clone(), e.mode, e.owner);
        }
    }
}

/// The CA bundle `update-ca-certificates` would write: every `.crt` ca-certificates ships, in
/// path order, concatenated.
fn ca_bundle(files: &LayerFiles) -> Vec<u8> {
    let mut bundle = Vec::new();
    for p in files.paths() {
        if p.starts_with("usr/share/ca-certificates/") && p.ends_with(".crt") {
            if let Some(Kind::File(pem)) = files.get(p).map(|e| &e.kind) {
                bundle.extend_from_slice(pem);
                if !pem.ends_with(b"\n") {
                    bundle.push(b'\n');
                }
            }
        }
    }
    bundle
}

fn add_system_files(files: &mut LayerFiles, lock: &Lock) {
    files.file(
        "etc/passwd",
        b"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
            .to_vec(),
        0o644,
    );
    files.file(
        "etc/group",
        b"root:x:0:\nnonroot:x:65532:\n".to_vec(),
        0o644,
    );
    files.file(
        "etc/nsswitch.conf",
        b"passwd: files\ngroup: files\nhosts: files dns\n".to_vec(),
        0o644,
    );
    let d = &lock.distro;
    let os_release = format!(
        "PRETTY_NAME=\"ecomctl base (Debian {v} {c} packages: {pkgs})\"\nNAME=\"Debian GNU/Linux\"\nID={id}\nVERSION_ID=\"{v}\"\nVERSION_CODENAME={c}\n",
        v = d.version_id,
        c = d.codename,
        id = d.id,
        pkgs = lock
            .packages
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    );
    files.file("etc/os-release", os_release.into_bytes(), 0o644);
    let bundle = ca_bundle(files);
    if !bundle.is_empty() {
        files.file("etc/ssl/certs/ca-certificates.crt", bundle, 0o644);
    }
    files.insert("tmp", Kind::Dir, 0o1777, ROOT);
    files.insert("root", Kind::Dir, 0o700, ROOT);
    files.insert("home/nonroot", Kind::Dir, 0o700, NONROOT);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_files_name_the_users_and_bundle_the_certificates() {
        let lock = Lock::parse(
            "distro debian 12 bookworm\nmirror http://m\ndeb ca-certificates 1 all 3254eb870c8a949518214805aee5e4276af7699988ea8b9a3a583cd0f1eab31c p.deb\n",
        )
        .unwrap();
        let mut files = LayerFiles::new();
        files.file(
            "usr/share/ca-certificates/mozilla/B.crt",
            b"B".to_vec(),
            0o644,
        );
        files.file(
            "usr/share/ca-certificates/mozilla/A.crt",
            b"A\n".to_vec(),
            0o644,
        );
        add_system_files(&mut files, &lock);
        let kind = |p: &str| files.get(p).map(|e| e.kind.clone());
        assert_eq!(
            kind("etc/ssl/certs/ca-certificates.crt"),
            Some(Kind::File(b"A\nB\n".to_vec()))
        );
        let home = files.get("home/nonroot").unwrap();
        assert_eq!((home.owner, home.mode), (NONROOT, 0o700));
        assert_eq!(files.get("tmp").unwrap().mode, 0o1777);
        let Some(Kind::File(passwd)) = kind("etc/passwd") else {
            panic!("no passwd")
        };
        assert!(String::from_utf8(passwd)
            .unwrap()
            .contains("nonroot:x:65532:65532"));
    }
}
