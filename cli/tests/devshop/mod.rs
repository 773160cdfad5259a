//! Runs the real `ecomctl dev` (which builds and starts the real services against the local
//! PostgreSQL) on free loopback ports under a name of its own, reads its NDJSON events, and
//! cleans up: every child stopped, the instance's databases and state dropped.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

/// A base port with the five after it free too.
pub fn free_base() -> u16 {
    for _ in 0..200 {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = l.local_addr().expect("addr").port();
        drop(l);
        if base > 60000 {
            continue;
        }
        if (0..6).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no six free consecutive ports");
}

pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}{}", std::process::id() % 100_000)
}

pub fn ecomctl(name: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecomctl"));
    cmd.current_dir(repo_root())
        .env("ECOMCTL_DEV_NAME", name)
        .env("NO_COLOR", "1");
    cmd
}

pub fn psql(sql: &str) -> String {
    let admin = std::env::var("TEST_DATABASE_ADMIN_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let out = Command::new("psql")
        .args([
            "-X",
            "-q",
            "-t",
            "-A",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            &admin,
            "-c",
            sql,
        ])
        .output()
        .expect("psql is required (PostgreSQL client)");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Drops an instance's databases and state (tests clean up after themselves).
pub fn forget(name: &str) {
    for s in [
        "login",
        "catalog",
        "inventory",
        "payments",
        "orders",
        "frontend",
    ] {
        psql(&format!(
            "DROP DATABASE IF EXISTS ecom_{name}_{s} WITH (FORCE)"
        ));
    }
    let _ = std::fs::remove_dir_all(repo_root().join(".ecomctl").join(name));
}

pub fn alive(pid: u32) -> bool {
    // A reaped process has no /proc entry; a zombie would still count as left behind.
    PathBuf::from(format!("/proc/{pid}")).exists()
}

pub struct DevShop {
    pub child: Child,
    pub name: String,
    pub base: u16,
    pub url: String,
    pub pids: Vec<(String, u32)>,
    pub ready_seconds: f64,
    pub stderr: Arc<Mutex<String>>,
    events: mpsc::Receiver<Value>,
}

impl DevShop {
    /// Starts `ecomctl dev` with `args` and waits (the first build may take minutes) for its
    /// `ready` event.
    pub fn start(name: &str, args: &[&str]) -> DevShop {
        let base = free_base();
        let mut child = ecomctl(name)
            .args(["--output", "json", "dev", "--port", &base.to_string()])
            // The test build made every service binary (their packages have integration
            // tests); `dev`'s own `cargo build -p ...` resolves other features and would
            // rebuild the dependency tree beside the tests. dev.rs tests that build step.
            .arg("--no-build")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ecomctl");
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let err = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap_or_else(|e| e.into_inner());
                s.push_str(&line);
                s.push('\n');
            }
        });
        let mut shop = DevShop {
            child,
            name: name.to_string(),
            base,
            url: String::new(),
            pids: Vec::new(),
            ready_seconds: 0.0,
            stderr,
            events: rx,
        };
        let deadline = Instant::now() + Duration::from_secs(1200);
        loop {
            assert!(
                Instant::now() < deadline,
                "ecomctl dev not ready: {}",
                shop.stderr()
            );
            match shop.events.recv_timeout(Duration::from_millis(200)) {
                Ok(v) if v["event"] == "service_started" => shop.pids.push((
                    v["service"].as_str().unwrap_or_default().to_string(),
                    v["pid"].as_u64().expect("pid") as u32,
                )),
                Ok(v) if v["event"] == "ready" => {
                    shop.url = v["url"].as_str().unwrap_or_default().to_string();
                    shop.ready_seconds = v["seconds"].as_f64().unwrap_or_default();
                    return shop;
                }
                Ok(v) if v["event"] == "error" => panic!("ecomctl dev failed: {v}"),
                Ok(_) => {}
                Err(_) => {
                    if let Ok(Some(status)) = shop.child.try_wait() {
                        panic!(
                            "ecomctl dev exited ({status}) before ready: {}",
                            shop.stderr()
                        );
                    }
                }
            }
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Events that arrived since the last call.
    pub fn drain_events(&self) -> Vec<Value> {
        self.events.try_iter().collect()
    }

    /// Ctrl-C: SIGINT to ecomctl only, as a terminal would deliver it to the foreground job.
    pub fn interrupt(&mut self) -> ExitStatus {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on our own child; no memory involved.
        unsafe {
            libc::kill(pid, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "ecomctl dev did not stop after Ctrl-C: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for DevShop {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.interrupt();
        }
        for (_, pid) in &self.pids {
            if alive(*pid) {
                // SAFETY: a service this test started; no memory involved.
                unsafe {
                    libc::kill(*pid as libc::pid_t, libc::SIGKILL);
                }
            }
        }
        forget(&self.name);
    }
}
