//! The real `stacks/bootstrap` through `ecomctl up --stage bootstrap`, with the image's
//! Terraform (1.11) and the AWS provider from its filesystem mirror, against an empty moto
//! (issue 17, point 1): plan, the policy gate, apply, the state moving into the bucket it just
//! made, a second plan that changes nothing but what moto does not keep (`MOTO_DRIFT`), and
//! `down --include-bootstrap`, which stops at the buckets that still hold objects, explained,
//! with the state kept locally.
//!
//! moto runs with its bucket-policy evaluation corrected (`support/moto_policy_fix.py`): stock
//! moto cannot evaluate the stack's conditional bucket-policy statements and locks everyone out.
//!
//! Terraform: `TF_VALIDATE_TERRAFORM` (default `/usr/local/bin/terraform`); the mirror:
//! `TF_PLUGIN_MIRROR` (default `/opt/tf-plugins`). Missing either fails under `CI=true`.

mod support;

use std::path::PathBuf;
use support::*;

const BUCKET: &str = "shop-tfstate-111111111111";

/// A path from the environment (or its default) that must exist; `None` skips outside CI.
fn needed(var: &str, default: &str, what: &str) -> Option<PathBuf> {
    let path = std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from);
    present(path, &format!("{what}: set {var}"))
}

/// A project whose content root holds the real stacks, with the mirror named in the config.
fn project(terraform: PathBuf, mirror: &std::path::Path, moto: &Moto) -> Project {
    let p = Project::new(terraform, Some(moto));
    let root = p.root();
    std::fs::remove_dir_all(root.join("stacks")).unwrap();
    copy_tree(&repo().join("stacks"), &root.join("stacks"));
    let config = std::fs::read_to_string(repo().join("examples/minimal.yaml")).unwrap();
    std::fs::write(
        p.dir.path().join("ecomctl.yaml"),
        format!(
            "{}\ntools:\n  terraform: \">= 1.6\"\n  plugin_dir: {}\n",
            shared_guardrails_off(&config),
            mirror.display()
        ),
    )
    .unwrap();
    p
}

fn python() -> PathBuf {
    repo().join(".tools/venv/bin/python")
}

/// `up --stage bootstrap` until it has applied (bootstrap counts as prod: it takes the plan's
/// hash, never `--yes` alone).
fn up_approved(p: &Project) -> std::process::Output {
    let args = [
        "up",
        "-e",
        "nonprod",
        "--stage",
        "bootstrap",
        "--output",
        "json",
    ];
    let asked = p.run(&args);
    assert_eq!(asked.status.code(), Some(1), "{}", show(&asked));
    let hash = asked_hash(&asked);
    let mut approved = args.to_vec();
    approved.extend(["--approve", &hash]);
    let out = p.run(&approved);
    assert!(
        out.status.success(),
        "approved with {hash}:\n{}\n\nafter it asked:\n{}",
        show(&out),
        show(&asked)
    );
    out
}

#[test]
fn the_real_bootstrap_stack_goes_up_through_the_gate_stays_put_and_comes_down() {
    let Some(tf) = needed(
        "TF_VALIDATE_TERRAFORM",
        "/usr/local/bin/terraform",
        "Terraform 1.11",
    ) else {
        return;
    };
    let Some(mirror) = needed(
        "TF_PLUGIN_MIRROR",
        "/opt/tf-plugins",
        "the AWS provider mirror",
    ) else {
        return;
    };
    let Some(moto) = Moto::bare_with_policy_fix() else {
        return;
    };
    // The role ecomctl and the stack's provider assume: it exists before bootstrap, made by
    // hand or by the account vending process (the stack reads it through
    // `aws_iam_session_context`).
    moto.python(
        &python(),
        r#"iam = boto3.client('iam', **kw)
trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
iam.create_role(RoleName="SharedServicesTerraform", AssumeRolePolicyDocument=json.dumps(trust))"#,
    );
    let p = project(tf, &mirror, &moto);

    // First up: plan, the gate, apply with local state, then the state moves into the bucket.
    let first = up_approved(&p);
    assert!(first.status.success(), "{}", show(&first));
    let ev = events(&first);
    assert_eq!(
        labels(&named(&ev, "applied")),
        vec!["global/bootstrap"],
        "{}",
        show(&first)
    );
    let gate = named(&ev, "policy_checked");
    assert_eq!(labels(&gate), vec!["global/bootstrap"], "{}", show(&first));
    assert_eq!(
        gate[0]["policy"]["denied"],
        serde_json::json!([]),
        "{}",
        show(&first)
    );
    assert_eq!(
        labels(&named(&ev, "state_migrated")),
        vec!["global/bootstrap"],
        "{}",
        show(&first)
    );
    assert!(
        moto.state_keys()
            .contains(&"shop/global/bootstrap/terraform.tfstate".to_string()),
        "the state did not reach the bucket"
    );
    let outputs = read_json(&p.state("global", "bootstrap").join("outputs.json"));
    assert_eq!(outputs["state_bucket_name"]["value"], BUCKET);
    // What moto now holds is what the stack made: versioned, KMS-encrypted, Object Lock.
    let facts = moto.python(
        &python(),
        &format!(
            "v = s3.get_bucket_versioning(Bucket={BUCKET:?})['Status']\n\
             e = s3.get_bucket_encryption(Bucket={BUCKET:?})['ServerSideEncryptionConfiguration']['Rules'][0]['ApplyServerSideEncryptionByDefault']['SSEAlgorithm']\n\
             l = s3.get_object_lock_configuration(Bucket={BUCKET:?})['ObjectLockConfiguration']['ObjectLockEnabled']\n\
             print(v, e, l)"
        ),
    );
    assert_eq!(facts.trim(), "Enabled aws:kms Enabled");

    // Second run: the real plan changes nothing but what moto does not keep (listed in
    // MOTO_DRIFT); against AWS it is empty and `up` applies nothing.
    let again = p.run(&["plan", "--stage", "bootstrap", "--output", "json"]);
    assert!(again.status.success(), "{}", show(&again));
    assert!(
        named(&events(&again), "state_migrated").is_empty(),
        "{}",
        show(&again)
    );
    let plan = read_json(&p.state("global", "bootstrap").join("plan.json"));
    for change in plan["resource_changes"].as_array().unwrap() {
        let actions = &change["change"]["actions"];
        if actions == &serde_json::json!(["no-op"]) || actions == &serde_json::json!(["read"]) {
            continue;
        }
        let address = change["address"].as_str().unwrap();
        assert_eq!(
            actions,
            &serde_json::json!(["update"]),
            "{address}: {actions}"
        );
        let (before, after) = (&change["change"]["before"], &change["change"]["after"]);
        let changed: Vec<&String> = after
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, v)| before.get(k.as_str()) != Some(v))
            .map(|(k, _)| k)
            .collect();
        let kind = change["type"].as_str().unwrap();
        for attr in changed {
            assert!(
                MOTO_DRIFT.contains(&(kind, attr.as_str())),
                "the second plan changes {address}.{attr}: a perpetual diff of the stack itself"
            );
        }
    }

    // Down: the state leaves the bucket first; the destroy plan needs its hash. The buckets hold
    // objects (state versions under Object Lock, access logs) and are not force-destroyed, so
    // the destroy stops there, as it would in AWS: explained, and the state kept locally.
    let asked = p.run(&[
        "down",
        "-e",
        "nonprod",
        "--include-bootstrap",
        "--output",
        "json",
    ]);
    assert_eq!(asked.status.code(), Some(1), "{}", show(&asked));
    let moved = named(&events(&asked), "state_migrated")
        .iter()
        .map(|e| e["to"].clone())
        .collect::<Vec<_>>();
    assert_eq!(moved, vec![serde_json::json!("local")], "{}", show(&asked));
    let hash = asked_hash(&asked);
    let down = p.run(&[
        "down",
        "-e",
        "nonprod",
        "--include-bootstrap",
        "--approve",
        &hash,
    ]);
    let err = String::from_utf8_lossy(&down.stderr);
    assert_eq!(down.status.code(), Some(1), "{}", show(&down));
    assert!(err.contains("BucketNotEmpty"), "{err}");
    assert!(err.contains("--include-bootstrap"), "no way on in: {err}");
    let local = p.state("global", "bootstrap").join("terraform.tfstate");
    let kept: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&local).expect("the state is kept")).unwrap();
    assert!(
        kept["resources"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["type"] == "aws_s3_bucket")),
        "the kept state no longer names the buckets left behind"
    );
}

/// What moto does not store, so a plan after the apply shows it again: S3 access logging's
/// `TargetObjectKeyFormat`, the bucket notification's EventBridge switch, and a KMS key's
/// rotation period.
const MOTO_DRIFT: [(&str, &str); 3] = [
    ("aws_s3_bucket_logging", "target_object_key_format"),
    ("aws_s3_bucket_notification", "eventbridge"),
    ("aws_kms_key", "rotation_period_in_days"),
];
