//! Config mistakes: each one is answered with exit 2, the right file:line:column and field, and
//! nothing written. Runs the real binary.

use std::path::Path;
use std::process::Command;

const FULL: &str = include_str!("../../examples/full.yaml");

struct Case {
    name: &'static str,
    from: &'static str,
    to: &'static str,
    /// Where the diagnostic must point: the first occurrence of this text in the mutated file.
    at: &'static str,
    field: &'static str,
    message: &'static str,
}

const CASES: &[Case] = &[
    Case { name: "top-level typo", from: "regions:\n", to: "regoins:\n", at: "regoins:", field: "regoins", message: "did you mean `regions`?" },
    Case { name: "nested typo", from: "  owner: platform-team", to: "  ownr: platform-team", at: "ownr:", field: "project.ownr", message: "did you mean `owner`?" },
    Case { name: "wrong type", from: "lock_retention_days: 30", to: "lock_retention_days: thirty", at: "thirty", field: "state.lock_retention_days", message: "expected a whole number" },
    Case { name: "bad enum", from: "lock: auto", to: "lock: dynamo", at: "dynamo ", field: "state.lock", message: "did you mean `dynamodb`?" },
    Case { name: "missing required", from: "  bucket: shop-artifacts-111111111111\n", to: "", at: "artifacts:\n  retention_days", field: "artifacts.bucket", message: "missing required key `bucket`" },
    Case { name: "short account id", from: "account_id: \"333333333333\"", to: "account_id: \"33333333333\"", at: "\"33333333333\"", field: "environments.prod.account.account_id", message: "12-digit" },
    Case { name: "role in another account", from: "role_arn: arn:aws:iam::222222222222:role/NonprodTerraform", to: "role_arn: arn:aws:iam::999999999999:role/NonprodTerraform", at: "arn:aws:iam::999999999999", field: "environments.nonprod.account.role_arn", message: "account 999999999999" },
    Case { name: "overlapping cidr", from: "cidr: 10.30.0.0/16", to: "cidr: 10.20.0.0/16", at: "10.20.0.0/16\n      az_count: 3\n    eks:\n      version: \"1.33\"\n      public_access_cidrs: []", field: "environments.prod.vpc.cidr", message: "overlaps environment `nonprod`" },
    Case { name: "not a /16", from: "cidr: 10.20.0.0/16", to: "cidr: 10.20.0.0/20", at: "10.20.0.0/20", field: "environments.nonprod.vpc.cidr", message: "not a /16" },
    Case { name: "host bits", from: "cidr: 10.20.0.0/16", to: "cidr: 10.20.5.0/16", at: "10.20.5.0/16", field: "environments.nonprod.vpc.cidr", message: "did you mean 10.20.0.0/16?" },
    Case { name: "bad region", from: "primary: us-east-1", to: "primary: useast1", at: "useast1", field: "regions.primary", message: "AWS region" },
    Case { name: "bad email", from: "emails: [platform-oncall@example.com", to: "emails: [platform-oncall.example.com", at: "platform-oncall.example.com", field: "alerts.emails[0]", message: "email address" },
    Case { name: "prod single-AZ database", from: "multi_az: true", to: "multi_az: false\n      ", at: "false\n      \n", field: "environments.prod.rds.multi_az", message: "must be true in prod" },
    Case { name: "prod without deletion protection", from: "deletion_protection: true", to: "deletion_protection: false", at: "false\n    vpc:\n      cidr: 10.30", field: "environments.prod.deletion_protection", message: "must be true in prod" },
    Case { name: "zero retention", from: "lock_retention_days: 30", to: "lock_retention_days: 0", at: "0\n  kms_alias", field: "state.lock_retention_days", message: "at least 1" },
    Case { name: "replicas below PDB", from: "      login:\n        replicas: 3", to: "      login:\n        replicas: 2", at: "2\n        pdb: { min_available: 2 }", field: "environments.prod.services.login.replicas", message: "blocks every drain" },
    Case { name: "inline password", from: "temp_password:\n      env: SHOP_SMOKE_TEST_PASSWORD", to: "temp_password: hunter2-Secret", at: "hunter2-Secret", field: "cognito.smoke_test_user.temp_password", message: "secrets are never written in the config" },
    Case { name: "unknown service", from: "      catalog:\n        replicas: 3", to: "      catalgo:\n        replicas: 3", at: "catalgo:", field: "environments.prod.services.catalgo", message: "did you mean `catalog`?" },
    Case { name: "node group sizes", from: "desired_size: 3\n          disk_size_gib: 80", to: "desired_size: 30\n          disk_size_gib: 80", at: "30\n          disk_size_gib: 80", field: "environments.prod.eks.node_groups.general.desired_size", message: "between min_size" },
    Case { name: "wildcard repository", from: "    - your-org/shop-services", to: "    - your-org/*", at: "your-org/*", field: "github.repositories[1]", message: "wildcard" },
    Case { name: "log retention", from: "log_retention_days: 90", to: "log_retention_days: 100", at: "100", field: "environments.nonprod.observability.log_retention_days", message: "nearest it accepts is 90" },
    Case { name: "open cluster API", from: "public_access_cidrs: [203.0.113.0/24]", to: "public_access_cidrs: [0.0.0.0/0]", at: "0.0.0.0/0", field: "environments.nonprod.eks.public_access_cidrs[0]", message: "whole internet" },
    Case { name: "duplicate key", from: "  owner: platform-team\n", to: "  owner: platform-team\n  owner: other-team\n", at: "owner: other-team", field: "project.owner", message: "given twice" },
    Case { name: "shared-services budget", from: "    monthly_budget_usd: 500\n", to: "    monthly_budget_usd: 0\n", at: "0\n    macie: true", field: "shared_services.guardrails.monthly_budget_usd", message: "at least 1" },
    Case { name: "shared-services guardrails typo", from: "    enabled: true                   # CloudTrail", to: "    enabeld: true                   # CloudTrail", at: "enabeld:", field: "shared_services.guardrails.enabeld", message: "did you mean `enabled`?" },
    Case { name: "too many alert emails", from: "emails: [platform-oncall@example.com, security@example.com]", to: "emails: [a@example.com, b@example.com, c@example.com, d@example.com, e@example.com, f@example.com, g@example.com, h@example.com, i@example.com, j@example.com, k@example.com]", at: "emails: [a@example.com", field: "alerts.emails", message: "at most 10" },
    Case { name: "x86 in prod", from: "architecture: arm64\n          instance_types: [m7g.xlarge]", to: "architecture: x86_64\n          instance_types: [m7i.xlarge]", at: "x86_64", field: "environments.prod.eks.node_groups.general.architecture", message: "Graviton" },
];

fn position(text: &str, needle: &str) -> (usize, usize) {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in mutated config"));
    let before = &text[..at];
    (
        before.matches('\n').count() + 1,
        at - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1,
    )
}

fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ecomctl"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run ecomctl")
}

#[test]
fn every_mistake_is_reported_where_it_is_and_nothing_is_written() {
    assert!(CASES.len() >= 15);
    let mut names = std::collections::HashSet::new();
    for case in CASES {
        assert!(names.insert(case.name), "duplicate case {}", case.name);
        assert!(
            FULL.contains(case.from),
            "{}: {:?} not in examples/full.yaml",
            case.name,
            case.from
        );
        let text = FULL.replacen(case.from, case.to, 1);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("shop.yaml"), &text).unwrap();
        let (line, col) = position(&text, case.at);
        let want = format!("shop.yaml:{line}:{col} {}: ", case.field);
        for args in [
            &["validate", "-c", "shop.yaml"][..],
            &["render", "-c", "shop.yaml", "--out", "out"][..],
        ] {
            let out = run(dir.path(), args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{}: {args:?} exit code; stderr:\n{stderr}",
                case.name
            );
            let lines: Vec<&str> = stderr.lines().collect();
            let i = lines
                .iter()
                .position(|l| l.contains(&want))
                .unwrap_or_else(|| panic!("{}: no `{want}` in:\n{stderr}", case.name));
            let hint = lines
                .get(i + 1)
                .filter(|l| l.trim_start().starts_with("hint:"))
                .unwrap_or(&"");
            assert!(
                lines[i].contains(case.message) || hint.contains(case.message),
                "{}: `{}` not in:\n{stderr}",
                case.name,
                case.message
            );
            assert!(
                out.stdout.is_empty(),
                "{}: stdout should be empty",
                case.name
            );
            assert!(
                !stderr.contains("hunter2"),
                "a secret leaked into the error:\n{stderr}"
            );
        }
        assert!(
            !dir.path().join("out").exists(),
            "{}: render wrote files",
            case.name
        );
        assert!(
            !dir.path().join(".ecomctl").exists(),
            "{}: render wrote state",
            case.name
        );
    }
}

#[test]
fn all_problems_are_reported_in_one_run() {
    let text = FULL
        .replacen("cidr: 10.30.0.0/16", "cidr: 10.20.0.0/16", 1)
        .replacen("multi_az: true", "multi_az: false", 1)
        .replacen("lock_retention_days: 30", "lock_retention_days: 0", 1)
        // Structural mistakes do not hide the semantic ones.
        .replacen("  owner: platform-team", "  ownr: platform-team", 1)
        .replacen(
            "architecture: arm64\n          instance_types: [m7g.xlarge]",
            "architecture: amd64\n          instance_types: [m7g.xlarge]",
            1,
        );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shop.yaml"), text).unwrap();
    let out = run(dir.path(), &["validate", "-c", "shop.yaml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    for field in [
        "environments.prod.vpc.cidr",
        "environments.prod.rds.multi_az",
        "state.lock_retention_days",
    ] {
        assert!(
            stderr.contains(&format!(" {field}: ")),
            "{field} missing from:\n{stderr}"
        );
    }
    assert!(stderr.contains("shop.yaml has 5 problems"), "{stderr}");
}

#[test]
fn json_output_carries_each_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("shop.yaml"),
        FULL.replacen("regions:\n", "regoins:\n", 1),
    )
    .unwrap();
    let out = run(
        dir.path(),
        &["validate", "-c", "shop.yaml", "--output", "json"],
    );
    assert_eq!(out.status.code(), Some(2));
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON line"))
        .collect();
    let diag = events
        .iter()
        .find(|e| e["event"] == "diagnostic")
        .expect("a diagnostic event");
    assert_eq!(diag["field"], "regoins");
    assert_eq!(diag["hint"], "did you mean `regions`?");
    assert!(diag["line"].as_u64().is_some() && diag["column"].as_u64().is_some());
    let last = events.last().unwrap();
    assert_eq!(
        (last["event"].as_str(), last["exit_code"].as_i64()),
        (Some("error"), Some(2))
    );
}

#[test]
fn yaml_syntax_errors_point_at_the_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("shop.yaml"),
        "version: 1\nproject:\n  name: [shop\n  owner: x\n",
    )
    .unwrap();
    let out = run(dir.path(), &["validate", "-c", "shop.yaml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("shop.yaml:") && stderr.contains("YAML syntax"),
        "{stderr}"
    );
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["validate", "-c", "nope.yaml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot read nope.yaml"), "{stderr}");
}
