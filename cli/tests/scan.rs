//! `ecomctl scan` on a real built layout. Neither Grype nor Trivy can be installed on the test
//! machine, so the "no scanner" path runs for real; the exit codes with a scanner run against a
//! FAKE `grype` (a shell script printing a Grype-shaped report), named as such below.

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use support::images::{build, stderr, Shop};
use support::{events, named, show};

/// A directory holding only a FAKE grype that records its arguments and prints `report`.
fn fake_grype(dir: &Path, report: &str) -> std::path::PathBuf {
    let bin = dir.join("fake-scanner-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("grype");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n# FAKE grype for tests: not a scanner.\nPATH=/usr/bin:/bin\necho \"$@\" > \"{}\"\ncat <<'EOF'\n{report}\nEOF\n",
            dir.join("fake-grype-args").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

const ONE_HIGH: &str = r#"{"matches": [
  {"vulnerability": {"id": "CVE-2025-4802", "severity": "High"}, "artifact": {"name": "libc6", "version": "2.36-9+deb12u10", "type": "deb"}},
  {"vulnerability": {"id": "CVE-2010-4756", "severity": "Negligible"}, "artifact": {"name": "libc6", "version": "2.36-9+deb12u10", "type": "deb"}}
], "descriptor": {"name": "grype", "version": "0.87.0"}}"#;

#[test]
fn without_a_scanner_images_are_skipped_never_passed_and_a_fake_grype_sets_the_exit_code() {
    let shop = Shop::new();
    let digest = build(&shop, &[]);
    // PATH without grype or trivy (neither exists on the machine's PATH either).
    let empty = shop.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let scan = |path: &Path, extra: &[&str]| {
        let mut args = vec!["scan", "--output", "json"];
        args.extend_from_slice(extra);
        shop.command(&args).env("PATH", path).output().unwrap()
    };
    let out = scan(&empty, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ev = events(&out);
    let scanned = named(&ev, "image_scanned");
    assert_eq!(scanned.len(), 1);
    assert_eq!(scanned[0]["status"], "skipped");
    assert_eq!(scanned[0]["digest"], digest.as_str());
    assert!(named(&ev, "warning")[0]["message"]
        .as_str()
        .unwrap()
        .contains("NOT scanned"));
    let out = scan(&empty, &["--require"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        show(&out).contains("not scanned") && show(&out).contains("Grype"),
        "{}",
        show(&out)
    );

    // With the FAKE grype: one High finding fails the default threshold (high).
    let fake = fake_grype(shop.path(), ONE_HIGH);
    let out = scan(&fake, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        show(&out).contains("findings at or above high: login (1)"),
        "{}",
        show(&out)
    );
    let ev = events(&out);
    let e = named(&ev, "image_scanned")[0];
    assert_eq!(e["status"], "failed");
    assert_eq!(e["counts"]["high"], 1);
    assert_eq!(e["counts"]["other"], 1);
    let args = std::fs::read_to_string(shop.path().join("fake-grype-args")).unwrap();
    let layout = shop.path().join("target/images/login");
    assert_eq!(
        args.trim(),
        format!("oci-dir:{} -o json -q", layout.display())
    );
    assert!(shop.path().join("target/images/login.grype.json").is_file());
    // Above the finding: passes, by flag and by the config's supply_chain.scan.fail_on.
    let out = scan(&fake, &["--fail-on", "critical"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(named(&events(&out), "image_scanned")[0]["status"], "passed");
    let full = std::fs::read_to_string(support::repo().join("examples/full.yaml")).unwrap();
    std::fs::write(
        shop.path().join("ecomctl.yaml"),
        format!("{full}\nsupply_chain:\n  scan:\n    fail_on: critical\n"),
    )
    .unwrap();
    let out = scan(&fake, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = scan(&fake, &["--fail-on", "low"]);
    assert_eq!(out.status.code(), Some(1), "the flag wins over the config");
}
