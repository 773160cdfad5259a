//! The report formats and the evidence bundle.

use super::*;

pub(crate) fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn the_evidence_manifest_verifies_with_sha256sum_and_catches_an_edit() {
    let d = Doctor::new(None);
    with_sensitive_outputs(&d);
    let out = d.run(&[
        "--offline",
        "--only",
        "tools,config,local-state",
        "--evidence",
        "bundle",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let bundle = d.path("bundle");
    for f in [
        "SHA256SUMS",
        "results.json",
        "results.sarif",
        "report.md",
        "config/effective.json",
        "local-state/files.json",
        "tools/versions.json",
    ] {
        assert!(bundle.join(f).is_file(), "{f} missing");
    }
    let check = Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(&bundle)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", show(&check));
    std::fs::write(bundle.join("results.json"), "{}").unwrap_or_else(|_| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            bundle.join("results.json"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        std::fs::write(bundle.join("results.json"), "{}").unwrap();
    });
    let edited = Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(&bundle)
        .output()
        .unwrap();
    assert!(!edited.status.success());
    // A second run refuses to mix into the same bundle.
    let again = d.run(&["--offline", "--only", "tools", "--evidence", "bundle"]);
    assert_eq!(again.status.code(), Some(2), "{}", show(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not empty"));
}

#[test]
fn junit_parses_and_json_keeps_its_documented_shape() {
    let d = Doctor::new(None);
    with_sensitive_outputs(&d);
    let out = d.run(&[
        "--offline",
        "--only",
        "config,local-state,identity",
        "--format",
        "junit",
    ]);
    let xml = String::from_utf8_lossy(&out.stdout).to_string();
    let python = repo().join(".tools/venv/bin/python");
    if python.exists() {
        let parsed = Command::new(&python)
            .args(["-c", "import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); print(r.tag, r.get('tests'), r.get('failures'), r.get('skipped'))"])
            .arg({
                let f = d.path("doctor.xml");
                std::fs::write(&f, &xml).unwrap();
                f
            })
            .output()
            .unwrap();
        assert!(parsed.status.success(), "{}", show(&parsed));
        let line = String::from_utf8_lossy(&parsed.stdout);
        assert!(line.starts_with("testsuites "), "{line}");
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert!(
            fields[2].parse::<usize>().unwrap() >= 1,
            "a failure: {line}"
        );
    } else {
        tool("python-for-junit");
    }
    let (_, doc) = d.json(&["--offline", "--only", "config,local-state"]);
    for key in [
        "schema",
        "ecomctl_version",
        "generated_at",
        "config",
        "environments",
        "offline",
        "fail_on",
        "groups",
        "outcomes",
        "waivers",
        "counts",
        "failed",
    ] {
        assert!(doc.get(key).is_some(), "missing {key}");
    }
    let o = &doc["outcomes"][0];
    for key in ["id", "group", "status", "resource", "message"] {
        assert!(o.get(key).is_some(), "outcome misses {key}: {o}");
    }
    let doc_md = std::fs::read_to_string(repo().join("docs/doctor.md")).unwrap();
    assert!(
        doc_md.contains("ecomctl.doctor/v1"),
        "docs/doctor.md documents the JSON shape"
    );
}
