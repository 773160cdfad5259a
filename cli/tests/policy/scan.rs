//! `ecomctl policy scan`: checkov and the Rego rules in one report.

use super::*;

// ---- policy scan (checkov + Rego) ----

/// checkov from `.tools/bin`, or `None` (skip) when missing outside CI.
fn checkov() -> Option<PathBuf> {
    let path = repo().join(".tools/bin/checkov");
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{} is missing: run scripts/setup (CI must not skip this test)",
            path.display()
        );
    }
    eprintln!(
        "skipping: {} is missing (run scripts/setup)",
        path.display()
    );
    None
}

fn scan(dir: &Path, checkov: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ecomctl"))
        .args(["policy", "scan"])
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("ECOMCTL_CHECKOV", checkov)
        .env_remove("ECOMCTL_ENV")
        .output()
        .expect("run ecomctl")
}

#[test]
fn policy_scan_merges_checkov_and_rego_findings_in_one_sarif_log() {
    let Some(checkov) = checkov() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("bad")).unwrap();
    std::fs::write(
        dir.path().join("bad/main.tf"),
        "resource \"aws_security_group\" \"open\" {\n  ingress {\n    from_port   = 22\n    to_port     = 22\n    protocol    = \"tcp\"\n    cidr_blocks = [\"0.0.0.0/0\"]\n  }\n}\n",
    )
    .unwrap();
    let policy = policy_dir();
    let out = scan(
        dir.path(),
        &checkov,
        &[
            "--policy",
            policy.to_str().unwrap(),
            "--stacks",
            "bad",
            "--plan",
            &fixture("plan-noncompliant.json"),
            "--format",
            "sarif",
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("failed checkov checks"), "{stderr}");
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_sarif_2_1_0(&log);
    let runs = log["runs"].as_array().unwrap();
    let names: Vec<&str> = runs
        .iter()
        .map(|r| r["tool"]["driver"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ecomctl", "checkov"]);
    assert_eq!(runs[0]["results"].as_array().unwrap().len(), 34);
    let ssh = runs[1]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "CKV_AWS_24")
        .expect("checkov reports SSH open to the world");
    let phys = &ssh["locations"][0]["physicalLocation"];
    assert_eq!(phys["artifactLocation"]["uri"], "bad/main.tf");
    assert_eq!(phys["region"]["startLine"], 1);
}

#[test]
fn policy_scan_of_the_repository_stacks_is_clean() {
    let Some(checkov) = checkov() else { return };
    let out = scan(
        repo(),
        &checkov,
        &["--stacks", "stacks", "--format", "json"],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    let run = &doc["checkov"][0];
    assert_eq!(run["framework"], "terraform");
    assert!(run["failed"].as_array().unwrap().is_empty());
    assert!(run["passed"].as_u64().unwrap() > 100, "{run}");
}

#[test]
fn policy_scan_without_checkov_says_so_and_still_runs_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("stacks")).unwrap();
    let policy = policy_dir();
    let empty = dir.path().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ecomctl"))
        .args(["policy", "scan", "--policy", policy.to_str().unwrap()])
        .args(["--plan", &fixture("plan-noncompliant.json")])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env("PATH", &empty)
        .env_remove("ECOMCTL_CHECKOV")
        .env_remove("ECOMCTL_ENV")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("warning: checkov not found"), "{stderr}");
    assert!(stderr.contains("33 Rego denies"), "{stderr}");

    // ECOMCTL_CHECKOV naming a program that does not exist fails clearly.
    let missing = dir.path().join("no-such-checkov");
    let out = scan(
        dir.path(),
        &missing,
        &["--policy", policy.to_str().unwrap()],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("running checkov on stacks"), "{stderr}");
}

#[test]
fn output_json_reports_findings_as_events() {
    let policy = policy_dir();
    let out = ecomctl(
        repo(),
        &[
            "--output",
            "json",
            "policy",
            "check",
            "--policy",
            policy.to_str().unwrap(),
            "--plan",
            &fixture("plan-noncompliant.json"),
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let events: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is a JSON event"))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "policy_finding").count(), 34);
    let checked = events
        .iter()
        .find(|e| e["event"] == "policy_checked")
        .unwrap();
    assert_eq!(checked["denied"], 33);
    assert_eq!(kinds.last(), Some(&"error"));
    assert_eq!(events.last().unwrap()["exit_code"], 3);

    let sarif = ecomctl(
        repo(),
        &[
            "--output",
            "json",
            "policy",
            "check",
            "--policy",
            policy.to_str().unwrap(),
            "--plan",
            &fixture("plan-compliant.json"),
            "--format",
            "sarif",
        ],
    );
    assert_eq!(sarif.status.code(), Some(0));
    let first: Value = serde_json::from_str(text(&sarif.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["event"], "policy_report");
    assert_eq!(first["document"]["version"], "2.1.0");
}
