//! SARIF and JUnit reports, file and line of findings, the gate's entry point.

use super::*;

// ---- SARIF ----

#[test]
fn sarif_output_follows_the_2_1_0_schema() {
    let dir = tempfile::tempdir().unwrap();
    let until = in_days(5);
    let w = waivers_file(
        dir.path(),
        &[("ECOM-TF-S3-001", "module.data.aws_s3_bucket.assets", &until)],
    );
    let out_file = dir.path().join("policy.sarif");
    let policy = policy_dir();
    let out = ecomctl(
        dir.path(),
        &[
            "policy",
            "check",
            "--policy",
            policy.to_str().unwrap(),
            "--waivers",
            w.to_str().unwrap(),
            "--plan",
            &fixture("plan-noncompliant.json"),
            "--format",
            "sarif",
            "--out",
            out_file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let log: Value = serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_sarif_2_1_0(&log);
    let run = &log["runs"][0];
    // The whole Terraform catalogue, with its metadata.
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 34);
    let s3 = rules.iter().find(|r| r["id"] == "ECOM-TF-S3-001").unwrap();
    assert_eq!(
        s3["shortDescription"]["text"],
        "S3 buckets are encrypted with a KMS key"
    );
    assert_eq!(
        s3["properties"]["pci_dss"],
        serde_json::json!(["3.5.1", "3.6.1"])
    );
    assert_eq!(s3["properties"]["severity"], "high");
    assert!(
        rules
            .iter()
            .all(|r| r["help"]["text"].as_str().is_some_and(|t| !t.is_empty())),
        "every rule has a remediation"
    );
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 34);
    let suppressed: Vec<&Value> = results
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["ruleId"], "ECOM-TF-S3-001");
    // Stable: the same input gives the same document.
    let again = ecomctl(
        dir.path(),
        &[
            "policy",
            "check",
            "--policy",
            policy.to_str().unwrap(),
            "--waivers",
            w.to_str().unwrap(),
            "--plan",
            &fixture("plan-noncompliant.json"),
            "--format",
            "sarif",
        ],
    );
    let log2: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(log, log2);
}

#[test]
fn manifests_from_yaml_files_carry_file_and_line_in_sarif() {
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("rendered");
    std::fs::create_dir_all(manifests.join("priming")).unwrap();
    std::fs::write(
        manifests.join("priming/namespaces.yaml"),
        "# priming\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    pod-security.kubernetes.io/enforce: restricted\n",
    )
    .unwrap();
    std::fs::write(
        manifests.join("workloads.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: shop\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx:latest\n",
    )
    .unwrap();
    let policy = policy_dir();
    let out = ecomctl(
        dir.path(),
        &[
            "policy",
            "check",
            "--policy",
            policy.to_str().unwrap(),
            "--manifests",
            "rendered",
            "--format",
            "sarif",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_sarif_2_1_0(&log);
    let results = log["runs"][0]["results"].as_array().unwrap();
    let latest = results
        .iter()
        .find(|r| r["ruleId"] == "ECOM-K8S-IMG-001")
        .expect("nginx:latest is reported");
    let phys = &latest["locations"][0]["physicalLocation"];
    assert_eq!(phys["artifactLocation"]["uri"], "rendered/workloads.yaml");
    assert_eq!(
        phys["region"]["startLine"], 7,
        "the Deployment's document starts on line 7"
    );
    assert_eq!(
        latest["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        "Deployment/shop/web"
    );
    let net = results
        .iter()
        .find(|r| r["ruleId"] == "ECOM-K8S-NET-001")
        .expect("shop has no default-deny policy");
    assert_eq!(
        net["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "rendered/priming/namespaces.yaml"
    );
    assert_eq!(
        net["locations"][0]["physicalLocation"]["region"]["startLine"],
        2
    );
}

#[test]
fn junit_output_has_one_case_per_rule() {
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
            "--format",
            "junit",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let xml = text(&out.stdout);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites"));
    assert_eq!(xml.matches("<testcase ").count(), 34);
    assert_eq!(xml.matches("</testcase>").count(), 34);
    // 30 distinct rule ids deny the plan.
    assert!(xml.contains("tests=\"34\" failures=\"30\""), "{xml}");
    assert!(xml.contains("name=\"ECOM-TF-S3-001: S3 buckets are encrypted with a KMS key\""));
    assert!(
        !xml.contains("<<") && !xml.contains("\"aws:kms\""),
        "text is escaped"
    );
}

#[test]
fn terraform_findings_point_at_the_tf_file_with_stack() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("stacks/foundation");
    let data = dir.path().join("stacks/modules/data");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(
        root.join("main.tf"),
        "module \"data\" {\n  source = \"../modules/data\"\n}\n",
    )
    .unwrap();
    std::fs::write(
        data.join("main.tf"),
        "# data stores\n\nresource \"aws_s3_bucket\" \"assets\" {\n  bucket = var.name\n}\n\nresource \"aws_ecr_repository\" \"this\" {\n  for_each = var.repositories\n}\n",
    )
    .unwrap();
    let policy = policy_dir();
    let out = ecomctl(
        dir.path(),
        &[
            "policy",
            "check",
            "--policy",
            policy.to_str().unwrap(),
            "--plan",
            &fixture("plan-noncompliant.json"),
            "--stack",
            "stacks/foundation",
            "--format",
            "sarif",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let log: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_sarif_2_1_0(&log);
    let results = log["runs"][0]["results"].as_array().unwrap();
    let at = |rule: &str| {
        let r = results.iter().find(|r| r["ruleId"] == rule).unwrap();
        let phys = &r["locations"][0]["physicalLocation"];
        (
            phys["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .to_string(),
            phys["region"]["startLine"].as_u64(),
        )
    };
    assert_eq!(
        at("ECOM-TF-S3-001"),
        ("stacks/modules/data/main.tf".to_string(), Some(3))
    );
    // Instance keys do not matter: the block declares every instance.
    assert_eq!(
        at("ECOM-TF-ECR-001"),
        ("stacks/modules/data/main.tf".to_string(), Some(7))
    );
    // A resource whose module is not on disk keeps the plan as its location.
    let (uri, line) = at("ECOM-TF-EKS-001");
    assert!(uri.ends_with("plan-noncompliant.json"), "{uri}");
    assert_eq!(line, None);
}

#[test]
fn the_gate_entry_point_blocks_the_noncompliant_plan() {
    let read = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
    };
    let ok = ecomctl::policy::gate(&read("plan-compliant.json"), "prod").unwrap();
    assert!(!ok.blocking());
    assert_eq!(ok.findings.len(), 0);
    let bad = ecomctl::policy::gate(&read("plan-noncompliant.json"), "prod").unwrap();
    assert!(bad.blocking());
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(policy_dir().join("fixtures/expected.json")).unwrap(),
    )
    .unwrap();
    let mut ids: Vec<String> = expected["plan-noncompliant.json"]["deny"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_str().unwrap().to_string())
        .collect();
    ids.dedup();
    assert_eq!(bad.denied_ids(), ids);
    assert_eq!(bad.warnings().count(), 1);
}
