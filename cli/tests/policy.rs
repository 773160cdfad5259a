//! `ecomctl policy test` and `ecomctl policy check`, run as the real binary against the
//! repository's policies and fixtures (policy/fixtures/expected.json lists what each fixture must
//! produce).

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "policy/sarif.rs"]
mod sarif;
#[path = "policy/sarif_shape.rs"]
mod sarif_shape;
#[path = "policy/scan.rs"]
mod scan;
#[path = "policy/waivers.rs"]
mod waivers;
use sarif_shape::assert_sarif_2_1_0;
use waivers::{in_days, waivers_file};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn policy_dir() -> PathBuf {
    repo().join("policy")
}

fn fixture(name: &str) -> String {
    policy_dir()
        .join("fixtures")
        .join(name)
        .display()
        .to_string()
}

fn ecomctl(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ecomctl"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("ECOMCTL_ENV")
        .env_remove("ECOMCTL_CONFIG")
        .output()
        .expect("run ecomctl")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// A copy of policy/ (rules, tests, waivers) to break or extend.
fn copy_policies(to: &Path) {
    for sub in ["terraform", "kubernetes"] {
        std::fs::create_dir_all(to.join(sub)).unwrap();
        for entry in std::fs::read_dir(policy_dir().join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(sub).join(entry.file_name())).unwrap();
        }
    }
    std::fs::copy(policy_dir().join("waivers.yaml"), to.join("waivers.yaml")).unwrap();
}

fn counts_line(stdout: &str) -> (usize, usize) {
    let line = stdout
        .lines()
        .find(|l| l.ends_with(" failed") && l.contains(" passed, "))
        .unwrap_or_else(|| panic!("no `N passed, M failed` line in:\n{stdout}"));
    let nums: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    (nums[0], nums[1])
}

#[test]
fn policy_test_passes_on_the_repository_policies() {
    let policy = policy_dir();
    let out = ecomctl(
        repo(),
        &["policy", "test", "--policy", policy.to_str().unwrap()],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let (passed, failed) = counts_line(&stdout);
    assert_eq!(failed, 0);
    // Every *_test.rego file has several tests; both domains ran.
    assert!(passed >= 100, "only {passed} tests ran");
    let verbose = ecomctl(
        repo(),
        &["policy", "test", "--policy", policy.to_str().unwrap(), "-v"],
    );
    let listed = text(&verbose.stdout);
    assert!(listed.contains("PASS  data.terraform.s3_test.test_s3_001_kms_passes"));
    assert!(listed.contains("PASS  data.kubernetes.host_test."));
}

#[test]
fn policy_test_reports_a_broken_rule() {
    let dir = tempfile::tempdir().unwrap();
    copy_policies(dir.path());
    // Break S3-001: aws:kms no longer counts as KMS encryption.
    let s3 = dir.path().join("terraform/s3.rego");
    let src = std::fs::read_to_string(&s3).unwrap();
    let broken = src.replace(
        r#"kms_algorithms := {"aws:kms", "aws:kms:dsse"}"#,
        r#"kms_algorithms := {"aws:kms:dsse"}"#,
    );
    assert_ne!(src, broken, "the line to break is still there");
    std::fs::write(&s3, broken).unwrap();

    let out = ecomctl(dir.path(), &["policy", "test", "--policy", "."]);
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let (passed, failed) = counts_line(&stdout);
    assert!(failed >= 1 && passed > 0, "{stdout}");
    assert!(
        stdout.contains("FAIL  data.terraform.s3_test.test_s3_001_kms_passes"),
        "{stdout}"
    );
    assert!(stderr.contains("policy tests failed"), "{stderr}");
    // Only S3 tests broke.
    for line in stdout.lines().filter(|l| l.starts_with("FAIL")) {
        assert!(line.contains("s3_test"), "{line}");
    }
}

#[test]
fn policy_test_reports_a_test_that_errors() {
    let dir = tempfile::tempdir().unwrap();
    copy_policies(dir.path());
    let extra = "package terraform.broken_test\n\nimport rego.v1\n\ntest_divides_by_zero if {\n\tx := 1 / 0\n\tx > 0\n}\n\ntest_is_false := false\n";
    std::fs::write(dir.path().join("terraform/broken_test.rego"), extra).unwrap();
    let out = ecomctl(dir.path(), &["policy", "test", "--policy", "."]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL  data.terraform.broken_test.test_divides_by_zero"));
    assert!(stdout.contains("FAIL  data.terraform.broken_test.test_is_false"));
    assert_eq!(counts_line(&stdout).1, 2, "{stdout}");
}

type Pairs = Vec<(String, String)>;

fn pairs(findings: &[Value], kind: &str) -> Pairs {
    let mut out: Pairs = findings
        .iter()
        .filter(|f| f["kind"] == kind && f.get("waived").is_none())
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                f["resource"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn expected_pairs(entry: &Value, kind: &str) -> Pairs {
    let mut out: Pairs = entry[kind]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_string(),
                p[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Every fixture in expected.json: exit 0 when it must produce no deny, 3 otherwise, and exactly
/// the listed (id, resource) pairs, denies and warnings both.
#[test]
fn fixtures_produce_exactly_the_expected_findings() {
    let expected: BTreeMap<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(policy_dir().join("fixtures/expected.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(expected.len(), 4);
    let policy = policy_dir();
    for (name, entry) in &expected {
        let file = fixture(name);
        let mut args = vec!["policy", "check", "--format", "json"];
        args.extend(["--policy", policy.to_str().unwrap()]);
        if name.starts_with("plan") {
            args.extend(["--plan", &file]);
        } else {
            args.extend(["--manifests", &file]);
        }
        let env = entry["data"]["ecomctl"]["environment"].as_str();
        if let Some(env) = env {
            args.extend(["--env", env]);
        }
        let out = ecomctl(repo(), &args);
        let want_deny = expected_pairs(entry, "deny");
        let code = if want_deny.is_empty() { 0 } else { 3 };
        assert_eq!(
            out.status.code(),
            Some(code),
            "{name}: {}",
            text(&out.stderr)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        let findings = doc["findings"].as_array().unwrap();
        assert_eq!(pairs(findings, "deny"), want_deny, "{name}: deny");
        assert_eq!(
            pairs(findings, "warn"),
            expected_pairs(entry, "warn"),
            "{name}: warn"
        );
        assert_eq!(doc["blocking"], code == 3);
        if code == 3 {
            // The error names every denied rule id.
            let stderr = text(&out.stderr);
            for (id, _) in &want_deny {
                assert!(stderr.contains(id.as_str()), "{name}: {id} not in {stderr}");
            }
        }
    }
}

#[test]
fn noncompliant_plan_is_blocked_with_exit_3_and_a_table() {
    let policy = policy_dir();
    let out = ecomctl(
        repo(),
        &[
            "policy",
            "check",
            "--policy",
            policy.to_str().unwrap(),
            "--plan",
            &fixture("plan-noncompliant.json"),
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("deny    ECOM-TF-S3-001   high    module.data.aws_s3_bucket.assets"),
        "{stdout}"
    );
    assert!(stdout.contains("warn    ECOM-TF-TAG-002"), "{stdout}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("error: policy check failed"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
}

#[test]
fn built_in_rules_are_used_without_a_policy_directory() {
    let dir = tempfile::tempdir().unwrap();
    let ok = ecomctl(
        dir.path(),
        &["policy", "check", "--plan", &fixture("plan-compliant.json")],
    );
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let bad = ecomctl(
        dir.path(),
        &[
            "policy",
            "check",
            "--plan",
            &fixture("plan-noncompliant.json"),
        ],
    );
    assert_eq!(bad.status.code(), Some(3));
    let tests = ecomctl(dir.path(), &["policy", "test"]);
    assert_eq!(tests.status.code(), Some(0));
}

#[test]
fn a_document_that_is_not_a_plan_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.json");
    std::fs::write(&file, "{\"resources\": []}").unwrap();
    let out = ecomctl(
        dir.path(),
        &["policy", "check", "--plan", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("format_version"),
        "{}",
        text(&out.stderr)
    );
}
