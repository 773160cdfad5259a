//! `ecomctl policy test` and `ecomctl policy check`, run as the real binary against the
//! repository's policies and fixtures (policy/fixtures/expected.json lists what each fixture must
//! produce).

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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

// ---- waivers ----

fn waivers_file(dir: &Path, entries: &[(&str, &str, &str)]) -> PathBuf {
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

fn in_days(n: i64) -> String {
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

// ---- SARIF ----

/// The SARIF 2.1.0 schema's constraints on the objects ecomctl writes: required properties,
/// enumerations, and (as the schema's `additionalProperties: false` demands) no property the
/// schema does not define. Checked by hand because the schema cannot be fetched here.
fn assert_sarif_2_1_0(log: &Value) {
    fn keys(v: &Value, what: &str, allowed: &[&str], required: &[&str]) {
        let obj = v
            .as_object()
            .unwrap_or_else(|| panic!("{what} is not an object: {v}"));
        for k in obj.keys() {
            assert!(
                allowed.contains(&k.as_str()),
                "{what}: property {k} is not in SARIF 2.1.0"
            );
        }
        for r in required {
            assert!(
                obj.contains_key(*r),
                "{what}: required property {r} missing"
            );
        }
    }
    fn message(v: &Value, what: &str) {
        keys(
            v,
            what,
            &["text", "markdown", "id", "arguments", "properties"],
            &[],
        );
        assert!(
            v.get("text").is_some_and(Value::is_string) || v.get("id").is_some(),
            "{what} needs text or id"
        );
    }
    fn level(v: &Value, what: &str) {
        let l = v
            .as_str()
            .unwrap_or_else(|| panic!("{what} level not a string"));
        assert!(
            ["none", "note", "warning", "error"].contains(&l),
            "{what}: level {l}"
        );
    }
    fn artifact_location(v: &Value, what: &str) {
        keys(
            v,
            what,
            &["uri", "uriBaseId", "index", "description", "properties"],
            &[],
        );
        let uri = v["uri"].as_str().expect("uri is a string");
        assert!(
            !uri.is_empty() && !uri.contains('\\') && !uri.contains(' '),
            "{what}: uri {uri}"
        );
    }

    keys(
        log,
        "sarifLog",
        &[
            "$schema",
            "version",
            "runs",
            "inlineExternalProperties",
            "properties",
        ],
        &["version", "runs"],
    );
    assert_eq!(log["version"], "2.1.0");
    let schema = log["$schema"].as_str().expect("$schema");
    assert!(schema.starts_with("https://") && schema.contains("sarif") && schema.contains("2.1.0"));
    let runs = log["runs"].as_array().expect("runs is an array");
    assert!(!runs.is_empty());
    for run in runs {
        keys(
            run,
            "run",
            &[
                "tool",
                "invocations",
                "conversion",
                "language",
                "versionControlProvenance",
                "originalUriBaseIds",
                "artifacts",
                "logicalLocations",
                "graphs",
                "results",
                "automationDetails",
                "runAggregates",
                "baselineGuid",
                "redactionTokens",
                "defaultEncoding",
                "defaultSourceLanguage",
                "newlineSequences",
                "columnKind",
                "externalPropertyFileReferences",
                "threadFlowLocations",
                "taxonomies",
                "addresses",
                "translations",
                "policies",
                "webRequests",
                "webResponses",
                "specialLocations",
                "properties",
            ],
            &["tool"],
        );
        assert!(["utf16CodeUnits", "unicodeCodePoints"]
            .contains(&run["columnKind"].as_str().unwrap_or("utf16CodeUnits")));
        keys(
            &run["tool"],
            "tool",
            &["driver", "extensions", "properties"],
            &["driver"],
        );
        let driver = &run["tool"]["driver"];
        keys(
            driver,
            "toolComponent",
            &[
                "guid",
                "name",
                "organization",
                "product",
                "productSuite",
                "shortDescription",
                "fullDescription",
                "fullName",
                "version",
                "semanticVersion",
                "dottedQuadFileVersion",
                "releaseDateUtc",
                "downloadUri",
                "informationUri",
                "globalMessageStrings",
                "notifications",
                "rules",
                "taxa",
                "locations",
                "language",
                "contents",
                "isComprehensive",
                "localizedDataSemanticVersion",
                "minimumRequiredLocalizedDataSemanticVersion",
                "associatedComponent",
                "translationMetadata",
                "supportedTaxonomies",
                "properties",
            ],
            &["name"],
        );
        let tool = driver["name"].as_str().unwrap();
        assert!(tool == "ecomctl" || tool == "checkov", "{tool}");
        let rules = driver["rules"].as_array().expect("rules");
        let mut ids = std::collections::BTreeSet::new();
        for rule in rules {
            keys(
                rule,
                "reportingDescriptor",
                &[
                    "id",
                    "deprecatedIds",
                    "guid",
                    "deprecatedGuids",
                    "name",
                    "deprecatedNames",
                    "shortDescription",
                    "fullDescription",
                    "messageStrings",
                    "defaultConfiguration",
                    "helpUri",
                    "help",
                    "relationships",
                    "properties",
                ],
                &["id"],
            );
            let id = rule["id"].as_str().expect("rule id");
            assert!(ids.insert(id.to_string()), "duplicate rule {id}");
            if tool == "ecomctl" {
                assert!(id.starts_with("ECOM-"), "{id}");
            }
            for m in ["shortDescription", "fullDescription", "help"] {
                message(&rule[m], m);
            }
            keys(
                &rule["defaultConfiguration"],
                "reportingConfiguration",
                &["enabled", "level", "rank", "parameters", "properties"],
                &[],
            );
            level(&rule["defaultConfiguration"]["level"], id);
            let props = &rule["properties"];
            assert!(props["tags"]
                .as_array()
                .is_some_and(|t| t.iter().all(Value::is_string)));
            assert!(props["security-severity"]
                .as_str()
                .unwrap()
                .parse::<f64>()
                .is_ok());
        }
        for result in run["results"].as_array().expect("results") {
            keys(
                result,
                "result",
                &[
                    "ruleId",
                    "ruleIndex",
                    "rule",
                    "kind",
                    "level",
                    "message",
                    "analysisTarget",
                    "locations",
                    "guid",
                    "correlationGuid",
                    "occurrenceCount",
                    "partialFingerprints",
                    "fingerprints",
                    "stacks",
                    "codeFlows",
                    "graphs",
                    "graphTraversals",
                    "relatedLocations",
                    "suppressions",
                    "baselineState",
                    "rank",
                    "attachments",
                    "hostedViewerUri",
                    "workItemUris",
                    "provenance",
                    "fixes",
                    "taxa",
                    "webRequest",
                    "webResponse",
                    "properties",
                ],
                &["message"],
            );
            let rule_id = result["ruleId"].as_str().expect("ruleId");
            let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
            assert_eq!(rules[index]["id"], rule_id, "ruleIndex points at the rule");
            level(&result["level"], rule_id);
            message(&result["message"], "result.message");
            let locations = result["locations"].as_array().expect("locations");
            assert!(!locations.is_empty());
            for loc in locations {
                keys(
                    loc,
                    "location",
                    &[
                        "id",
                        "physicalLocation",
                        "logicalLocations",
                        "message",
                        "annotations",
                        "relationships",
                        "properties",
                    ],
                    &[],
                );
                let phys = &loc["physicalLocation"];
                keys(
                    phys,
                    "physicalLocation",
                    &[
                        "address",
                        "artifactLocation",
                        "region",
                        "contextRegion",
                        "properties",
                    ],
                    &[],
                );
                artifact_location(&phys["artifactLocation"], "artifactLocation");
                if let Some(region) = phys.get("region") {
                    keys(
                        region,
                        "region",
                        &[
                            "startLine",
                            "startColumn",
                            "endLine",
                            "endColumn",
                            "charOffset",
                            "charLength",
                            "byteOffset",
                            "byteLength",
                            "snippet",
                            "message",
                            "sourceLanguage",
                            "properties",
                        ],
                        &[],
                    );
                    assert!(region["startLine"].as_u64().unwrap() >= 1);
                }
                for l in loc["logicalLocations"]
                    .as_array()
                    .expect("logicalLocations")
                {
                    keys(
                        l,
                        "logicalLocation",
                        &[
                            "name",
                            "index",
                            "fullyQualifiedName",
                            "decoratedName",
                            "parentIndex",
                            "kind",
                            "properties",
                        ],
                        &[],
                    );
                }
            }
            for (_, v) in result["partialFingerprints"]
                .as_object()
                .expect("fingerprints")
            {
                assert!(v.is_string());
            }
            for s in result
                .get("suppressions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                keys(
                    s,
                    "suppression",
                    &[
                        "guid",
                        "kind",
                        "status",
                        "justification",
                        "location",
                        "properties",
                    ],
                    &["kind"],
                );
                assert!(["inSource", "external"].contains(&s["kind"].as_str().unwrap()));
                assert!(["accepted", "underReview", "rejected"]
                    .contains(&s["status"].as_str().unwrap()));
            }
        }
    }
}

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
