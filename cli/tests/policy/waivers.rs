//! Waivers: a waived finding, every deny waived, expired, unused and malformed waivers.

use super::*;

// ---- waivers ----

pub(crate) fn waivers_file(dir: &Path, entries: &[(&str, &str, &str)]) -> PathBuf {
    let mut yaml = String::from("waivers:\n");
    for (id, resource, expires) in entries {
        yaml.push_str(&format!(
            "  - id: {id}\n    resource: '{resource}'\n    owner: platform-team@example.com\n    reason: accepted for the test\n    ticket: SHOP-1\n    expires: {expires}\n"
        ));
    }
    let path = dir.join("waivers.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

pub(crate) fn in_days(n: i64) -> String {
    ecomctl::policy::Date::today().add_days(n).to_string()
}

fn check_with_waivers(dir: &Path, waivers: &Path, plan: &str, format: &str) -> Output {
    let policy = policy_dir();
    ecomctl(
        dir,
        &[
            "policy",
            "check",
            "--policy",
            policy.to_str().unwrap(),
            "--waivers",
            waivers.to_str().unwrap(),
            "--plan",
            &fixture(plan),
            "--format",
            format,
        ],
    )
}

#[test]
fn a_waiver_suppresses_its_finding_and_shows_it_as_waived() {
    let dir = tempfile::tempdir().unwrap();
    let until = in_days(30);
    let w = waivers_file(
        dir.path(),
        &[(
            "ECOM-TF-TAG-002",
            "module.eks.aws_ebs_volume.scratch",
            &until,
        )],
    );
    let out = check_with_waivers(dir.path(), &w, "plan-noncompliant.json", "json");
    assert_eq!(out.status.code(), Some(3));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["warnings"], 0);
    assert_eq!(doc["waived"], 1);
    let waived: Vec<&Value> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.get("waived").is_some())
        .collect();
    assert_eq!(waived.len(), 1);
    assert_eq!(waived[0]["id"], "ECOM-TF-TAG-002");
    assert_eq!(waived[0]["waived"]["ticket"], "SHOP-1");
    assert_eq!(waived[0]["waived"]["expires"], until.as_str());
    assert!(doc["unused_waivers"].as_array().unwrap().is_empty());

    let table = check_with_waivers(dir.path(), &w, "plan-noncompliant.json", "human");
    let stdout = text(&table.stdout);
    assert!(stdout.contains("waived  ECOM-TF-TAG-002"), "{stdout}");
    assert!(stdout.contains("waived until"), "{stdout}");
}

#[test]
fn waiving_every_deny_lets_the_plan_through() {
    let dir = tempfile::tempdir().unwrap();
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(policy_dir().join("fixtures/expected.json")).unwrap(),
    )
    .unwrap();
    let until = in_days(60);
    let entries: Vec<(String, String)> = expected["plan-noncompliant.json"]["deny"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
        .collect();
    let refs: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|(i, r)| (i.as_str(), r.as_str(), until.as_str()))
        .collect();
    let w = waivers_file(dir.path(), &refs);
    let out = check_with_waivers(dir.path(), &w, "plan-noncompliant.json", "human");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn an_expired_waiver_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let w = waivers_file(
        dir.path(),
        &[(
            "ECOM-TF-S3-001",
            "module.data.aws_s3_bucket.assets",
            "2020-01-31",
        )],
    );
    // Even on a compliant plan: the expired exception has to be reviewed.
    let out = check_with_waivers(dir.path(), &w, "plan-compliant.json", "human");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("expired waiver ECOM-TF-S3-001"), "{stderr}");
    assert!(stderr.contains("1 waiver(s) expired"), "{stderr}");

    // And an expired waiver does not suppress its finding.
    let json = check_with_waivers(dir.path(), &w, "plan-noncompliant.json", "json");
    let doc: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["waived"], 0);
    assert_eq!(doc["expired_waivers"][0]["id"], "ECOM-TF-S3-001");

    let junit = check_with_waivers(dir.path(), &w, "plan-compliant.json", "junit");
    let xml = text(&junit.stdout);
    assert!(xml.contains("type=\"expired-waiver\""), "{xml}");
}

#[test]
fn an_unused_waiver_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let until = in_days(10);
    let w = waivers_file(
        dir.path(),
        &[(
            "ECOM-TF-RDS-002",
            "module.data.aws_db_instance.gone",
            &until,
        )],
    );
    let out = check_with_waivers(dir.path(), &w, "plan-compliant.json", "human");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr
            .contains("warning: unused waiver ECOM-TF-RDS-002 on module.data.aws_db_instance.gone"),
        "{stderr}"
    );
    let json = check_with_waivers(dir.path(), &w, "plan-compliant.json", "json");
    let doc: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        doc["unused_waivers"][0]["resource"],
        "module.data.aws_db_instance.gone"
    );
}

#[test]
fn malformed_waivers_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let until = in_days(10);
    let unknown = waivers_file(dir.path(), &[("ECOM-TF-S3-01", "x", &until)]);
    let out = check_with_waivers(dir.path(), &unknown, "plan-compliant.json", "human");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("did you mean ECOM-TF-S3-001"),
        "{}",
        text(&out.stderr)
    );

    let far = in_days(800);
    let too_far = waivers_file(dir.path(), &[("ECOM-TF-S3-001", "x", &far)]);
    let out = check_with_waivers(dir.path(), &too_far, "plan-compliant.json", "human");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("more than a year ahead"));

    let bad_date = waivers_file(dir.path(), &[("ECOM-TF-S3-001", "x", "soon")]);
    let out = check_with_waivers(dir.path(), &bad_date, "plan-compliant.json", "human");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("YYYY-MM-DD"));
}
