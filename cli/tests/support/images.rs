//! For the image tests: a temp copy of the `imageshop` fixture (a two-crate workspace shaped like
//! the repository, with the real `images/base.lock`) in its own git repository, and a real
//! registry (Debian's `docker-registry`, distribution 2.8) on a free loopback port with its own
//! storage, optionally behind htpasswd auth.

use super::{copy_tree, events, free_port, named, present, repo};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Shop {
    pub dir: tempfile::TempDir,
}

/// ecomctl's cache for the tests: base layers shared by every test run, seeded with the Debian
/// packages `scripts/setup` fetched into `.tools/cache/debs` (the tests never download: the
/// mirror they are given is a closed loopback port). Missing packages fail under CI.
pub fn cache_dir() -> PathBuf {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ecomctl-cache");
    let debs = cache.join("debs");
    std::fs::create_dir_all(&debs).unwrap();
    let seed = repo().join(".tools/cache/debs");
    let lock = std::fs::read_to_string(repo().join("images/base.lock")).unwrap();
    for line in lock.lines().filter(|l| l.starts_with("deb ")) {
        let sha = line.split_whitespace().nth(4).unwrap();
        let name = format!("{sha}.deb");
        if debs.join(&name).exists() {
            continue;
        }
        if let Some(from) = present(seed.join(&name), "run scripts/setup") {
            // A per-process name renamed into place: tests seed the cache in parallel.
            let tmp = debs.join(format!("{name}.{}", std::process::id()));
            std::fs::copy(from, &tmp).unwrap();
            std::fs::rename(tmp, debs.join(&name)).unwrap();
        }
    }
    cache
}

/// Where the tests' ecomctl would download Debian packages: nowhere (a closed loopback port).
pub const NO_MIRROR: &str = "http://127.0.0.1:9";

fn git(dir: &Path, args: &[&str]) {
    let st = Command::new("git")
        .args(["-c", "user.email=test@example.com", "-c", "user.name=test"])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "git {args:?}");
}

impl Shop {
    pub fn new() -> Shop {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&repo().join("cli/tests/fixtures/imageshop"), dir.path());
        std::fs::create_dir_all(dir.path().join("images")).unwrap();
        std::fs::copy(
            repo().join("images/base.lock"),
            dir.path().join("images/base.lock"),
        )
        .unwrap();
        git(dir.path(), &["init", "-q"]);
        git(dir.path(), &["add", "-A"]);
        git(dir.path(), &["commit", "-qm", "fixture"]);
        Shop { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecomctl"));
        cmd.args(args)
            .current_dir(self.path())
            .env("ECOMCTL_CACHE_DIR", cache_dir())
            .env("ECOMCTL_DEBIAN_MIRROR", NO_MIRROR)
            .env("DOCKER_CONFIG", self.path().join(".docker"))
            .env("NO_COLOR", "1")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("ECOMCTL_CONFIG");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Writes `$DOCKER_CONFIG/config.json` with a login for `registry`.
    pub fn login(&self, registry: &str, user: &str, password: &str) {
        use base64::Engine as _;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let dir = self.path().join(".docker");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("config.json"),
            format!(r#"{{"auths":{{"{registry}":{{"auth":"{auth}"}}}}}}"#),
        )
        .unwrap();
    }
}

/// A bcrypt hash of `s3cret-pw` (htpasswd needs bcrypt; made once with libxcrypt).
pub const PASSWORD: &str = "s3cret-pw";
const PASSWORD_BCRYPT: &str = "$2b$10$lyOqHWw3fHonf09ybC751eb1f2Z/1vqXMtdVURAvElHASmY4uiUe6";

pub struct Registry {
    child: Child,
    pub host: String,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// `None` (skip) when docker-registry is missing outside CI; under CI=true a panic.
    pub fn start(htpasswd_user: Option<&str>) -> Option<Registry> {
        Registry::start_with(htpasswd_user.map(|u| (u, PASSWORD_BCRYPT)))
    }

    /// With htpasswd auth for (user, bcrypt hash).
    pub fn start_with(login: Option<(&str, &str)>) -> Option<Registry> {
        let bin = present(
            PathBuf::from("/usr/bin/docker-registry"),
            "apt-get install docker-registry (scripts/setup)",
        )?;
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let host = format!("127.0.0.1:{port}");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {host}\n  secret: test-only-secret\n",
            dir.path().join("data").display()
        );
        if let Some((user, hash)) = login {
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, format!("{user}:{hash}\n")).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                file.display()
            ));
        }
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let log = dir.path().join("registry.log");
        let child = Command::new(bin)
            .arg("serve")
            .arg(&cfg)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::options().append(true).open(&log).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&host).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Registry {
            child,
            host,
            log,
            _dir: dir,
        })
    }

    /// How many blob uploads the registry has started so far (its access log).
    pub fn uploads(&self) -> usize {
        self.requests("POST", "/blobs/uploads/")
    }

    /// How many `method` requests to a path containing `fragment` the access log shows.
    pub fn requests(&self, method: &str, fragment: &str) -> usize {
        let start = format!("\"{method} /v2/");
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&start) && l.contains(fragment))
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `skopeo` from Debian, the second, independent client.
pub fn skopeo() -> Option<PathBuf> {
    present(
        PathBuf::from("/usr/bin/skopeo"),
        "apt-get install skopeo (scripts/setup)",
    )
}

/// `skopeo inspect` of a reference (`docker://...` over plain HTTP, or `oci:...`), as JSON.
pub fn skopeo_inspect(skopeo: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(skopeo)
        .args(["inspect", "--tls-verify=false"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo inspect {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn ok(out: &std::process::Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    events(out)
}

pub fn field(events: &[Value], event: &str, key: &str) -> Value {
    named(events, event)
        .last()
        .unwrap_or_else(|| panic!("no {event} event in {events:?}"))[key]
        .clone()
}

pub fn build(shop: &Shop, extra: &[&str]) -> String {
    let mut args = vec![
        "build",
        "--service",
        "login",
        "--output",
        "json",
        "--source",
        "https://example.com/shop.git",
    ];
    args.extend_from_slice(extra);
    let ev = ok(&shop.run(&args));
    field(&ev, "image_built", "digest")
        .as_str()
        .unwrap()
        .to_string()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A P-256 key pair made by Python `cryptography`: (private PKCS#8 PEM, public PEM).
pub fn python_key_pair(python: &std::path::Path) -> (String, String) {
    let out = std::process::Command::new(python)
        .args(["-c", "from cryptography.hazmat.primitives.asymmetric import ec\nfrom cryptography.hazmat.primitives import serialization as s\nk = ec.generate_private_key(ec.SECP256R1())\nprint(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode() + '#' + k.public_key().public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo).decode())"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (private, public) = text.split_once('#').unwrap();
    (private.to_string(), public.trim().to_string() + "\n")
}
