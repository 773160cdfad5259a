//! The real `stacks/bootstrap` through `ecomctl up --stage bootstrap`, with the image's
//! Terraform (1.11) and the AWS provider from its filesystem mirror, against an empty moto
//! (issue 17, point 1): plan, the policy gate, apply, the state moving into the bucket it just
//! made, a second `up` that applies nothing, and `down --include-bootstrap`.
//!
//! Terraform: `TF_VALIDATE_TERRAFORM` (default `/usr/local/bin/terraform`); the mirror:
//! `TF_PLUGIN_MIRROR` (default `/opt/tf-plugins`). Missing either fails under `CI=true`.

mod support;

use std::path::PathBuf;
use support::*;

const BUCKET: &str = "shop-tfstate-111111111111";

/// A path from the environment (or its default) that must exist; `None` skips outside CI.
fn needed(var: &str, default: &str, what: &str) -> Option<PathBuf> {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    if path.exists() {
        return Some(path);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{what} is missing at {} (set {var}); CI must not skip this test",
            path.display()
        );
    }
    eprintln!("skipping: {what} is missing at {}", path.display());
    None
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
            "{config}\ntools:\n  terraform: \">= 1.6\"\n  plugin_dir: {}\n",
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
    let Some(moto) = Moto::bare(None) else {
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

    // Second up: the inputs and the real plan are unchanged; nothing is applied.
    let again = p.run(&[
        "up",
        "-e",
        "nonprod",
        "--stage",
        "bootstrap",
        "--yes",
        "--output",
        "json",
    ]);
    assert!(again.status.success(), "{}", show(&again));
    let ev = events(&again);
    assert!(named(&ev, "applied").is_empty(), "{}", show(&again));
    assert!(named(&ev, "state_migrated").is_empty(), "{}", show(&again));

    // Down: the state leaves the bucket first, then the destroy plan needs its hash.
    let asked = p.run(&[
        "down",
        "-e",
        "nonprod",
        "--include-bootstrap",
        "--output",
        "json",
    ]);
    assert_eq!(asked.status.code(), Some(1), "{}", show(&asked));
    let hash = asked_hash(&asked);
    let down = p.run(&[
        "down",
        "-e",
        "nonprod",
        "--include-bootstrap",
        "--approve",
        &hash,
        "--output",
        "json",
    ]);
    assert!(down.status.success(), "{}", show(&down));
    let left = moto.python(
        &python(),
        "print(sorted(b['Name'] for b in s3.list_buckets()['Buckets']))",
    );
    assert_eq!(left.trim(), "[]", "buckets left after down");
}
