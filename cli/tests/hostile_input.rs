//! A 1 KB text crafted to explode (a YAML "billion laughs") given to every reader ecomctl has:
//! the config, the waivers, rendered manifests. Each answers at once with exit 2 and the place
//! where the text explodes, and stays small.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// 9 levels of 9 aliases each: about 390 million nodes once expanded.
fn alias_bomb() -> String {
    let mut text = String::from(
        "a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 9].join(",");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    text
}

/// Runs ecomctl in `dir`; kills it if it has not answered in 20 s. Returns its exit code,
/// stderr, time taken and peak RSS in MB (each test runs in its own process under nextest, so
/// the children's peak is this child's).
fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String, Duration, f64) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ecomctl"))
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("ecomctl {args:?} did not answer within 20 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = started.elapsed();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    // SAFETY: getrusage(2) fills the struct we own.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
        u
    };
    (status.code(), err, took, usage.ru_maxrss as f64 / 1024.0)
}

fn assert_refused(out: (Option<i32>, String, Duration, f64), file: &str) {
    let (code, err, took, rss_mb) = out;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(file) && err.contains("alias"), "{err}");
    assert!(rss_mb < 100.0, "peak RSS {rss_mb:.0} MB");
    eprintln!("{file}: refused in {took:?}, peak RSS {rss_mb:.1} MB");
}

#[test]
fn an_alias_bomb_config_is_refused_at_once_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = alias_bomb();
    assert!(bomb.len() < 1024);
    std::fs::write(dir.path().join("bomb.yaml"), &bomb).unwrap();
    let out = run(dir.path(), &["validate", "-c", "bomb.yaml"]);
    assert!(out.1.contains("bomb.yaml:"), "{}", out.1);
    assert_refused(out, "bomb.yaml");
}

#[test]
fn alias_bombs_in_manifests_and_waivers_are_refused_too() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("manifests.yaml"), alias_bomb()).unwrap();
    let out = run(
        dir.path(),
        &[
            "policy",
            "check",
            "--manifests",
            "manifests.yaml",
            "--env",
            "prod",
        ],
    );
    assert_refused(out, "manifests.yaml");

    let policy = dir.path().join("policy");
    std::fs::create_dir_all(&policy).unwrap();
    std::fs::write(policy.join("waivers.yaml"), alias_bomb()).unwrap();
    std::fs::write(
        dir.path().join("ok.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &[
            "policy",
            "check",
            "--manifests",
            "ok.yaml",
            "--waivers",
            "policy/waivers.yaml",
        ],
    );
    assert_refused(out, "waivers.yaml");
}
