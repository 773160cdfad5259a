//! The orchestrator end to end: the real `ecomctl` binary, the real Terraform 1.0.3 from
//! `.tools/bin`, fixture stacks (real variables, outputs from locals, no providers) and, for the
//! S3 backend and DynamoDB lock, a moto server on a free loopback port.
//!
//! Tools come from `scripts/setup`. Without them a test is skipped locally and FAILS under
//! `CI=true`, so CI can never pass without running these.

mod support;

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

#[path = "orchestrator/approvals.rs"]
mod approvals;
#[path = "orchestrator/interruptions.rs"]
mod interruptions;
use approvals::SPINNER_FRAMES;
#[test]
fn fixture_stacks_have_every_output_of_the_real_stacks() {
    let re = regex::Regex::new(r#"(?m)^output "([^"]+)""#).unwrap();
    for stage in STAGES {
        let names = |p: PathBuf| -> Vec<String> {
            let text = std::fs::read_to_string(&p).unwrap();
            re.captures_iter(&text).map(|c| c[1].to_string()).collect()
        };
        let real = names(repo().join("stacks").join(stage).join("outputs.tf"));
        let fixture = names(
            repo()
                .join("cli/tests/fixtures/stacks")
                .join(stage)
                .join("main.tf"),
        );
        let missing: Vec<&String> = real.iter().filter(|n| !fixture.contains(n)).collect();
        assert!(
            missing.is_empty(),
            "{stage} fixture lacks outputs {missing:?}"
        );
    }
}

#[test]
fn up_applies_every_stage_into_moto_and_a_second_up_applies_nothing() {
    let (Some(tf), Some(moto)) = (tool("terraform"), Moto::start()) else {
        return;
    };
    let p = Project::new(tf, Some(&moto));

    let first = p.run(&["up", "-e", "nonprod", "--yes", "--output", "json"]);
    assert!(first.status.success(), "{}", show(&first));
    let ev = events(&first);
    assert_eq!(
        labels(&named(&ev, "applied")),
        vec!["global/bootstrap", "nonprod/foundation", "nonprod/app"],
        "{}",
        show(&first)
    );
    let skipped = named(&ev, "stage_skipped");
    assert_eq!(labels(&skipped), vec!["nonprod/cluster"]);
    assert!(skipped[0]["reason"]
        .as_str()
        .unwrap()
        .contains("needs a Kubernetes API"));
    assert_eq!(named(&ev, "state_migrated").len(), 1);

    // Each account was checked once, through STS, after assuming its role; the state bucket
    // once, before the bootstrap state moved into it.
    let accounts: Vec<(String, String)> = named(&ev, "account_checked")
        .iter()
        .map(|e| {
            (
                e["account"].as_str().unwrap().to_string(),
                e["arn"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(accounts.len(), 2, "{accounts:?}");
    assert_eq!(accounts[0].0, "111111111111");
    assert!(
        accounts[0]
            .1
            .contains("assumed-role/SharedServicesTerraform/"),
        "{accounts:?}"
    );
    assert_eq!(accounts[1].0, "222222222222");
    assert!(
        accounts[1].1.contains("assumed-role/NonprodTerraform/"),
        "{accounts:?}"
    );
    let buckets = named(&ev, "state_bucket_checked");
    assert_eq!(buckets.len(), 1, "{}", show(&first));
    assert_eq!(buckets[0]["object_lock"], "Enabled");
    assert_eq!(buckets[0]["versioning"], "Enabled");
    assert_eq!(buckets[0]["encryption"], "aws:kms");
    assert_eq!(buckets[0]["retention_days"], 30);

    // State objects at the expected keys in the moto bucket, bootstrap's migrated there.
    assert_eq!(
        moto.state_keys(),
        vec![
            "shop/global/bootstrap/terraform.tfstate",
            "shop/nonprod/app/terraform.tfstate",
            "shop/nonprod/foundation/terraform.tfstate",
        ]
    );
    let backend = std::fs::read_to_string(p.state("nonprod", "app").join("backend.hcl")).unwrap();
    if backend.contains("dynamodb_table") {
        // Terraform 1.0.x: the DynamoDB table.
        assert_eq!(
            moto.lock_items(),
            vec![
                "shop-tfstate-111111111111/shop/global/bootstrap/terraform.tfstate-md5",
                "shop-tfstate-111111111111/shop/nonprod/app/terraform.tfstate-md5",
                "shop-tfstate-111111111111/shop/nonprod/foundation/terraform.tfstate-md5",
            ],
            "every state was written under the DynamoDB lock"
        );
    } else {
        // Terraform >= 1.10: S3-native lock files, released (deleted) after each run.
        assert!(backend.contains("use_lockfile = true"), "{backend}");
        assert!(moto.lock_items().is_empty());
    }
    let sse = moto.python(
        &repo().join(".tools/venv/bin/python"),
        "h = s3.head_object(Bucket='shop-tfstate-111111111111', Key='shop/nonprod/app/terraform.tfstate')\nprint(h.get('ServerSideEncryption'), h.get('SSEKMSKeyId'))",
    );
    assert_eq!(
        sse.trim(),
        "aws:kms arn:aws:kms:us-east-1:000000000000:key/0f1c5e7a-5b1d-4c7e-9a3f-000000005409",
        "state is encrypted with the bootstrap key"
    );
    assert!(!p
        .root()
        .join("stacks/bootstrap/ecomctl_local_backend_override.tf")
        .exists());
    let backend = std::fs::read_to_string(p.state("nonprod", "app").join("backend.hcl")).unwrap();
    assert!(
        backend.contains("key/0f1c5e7a-5b1d-4c7e-9a3f-000000005409"),
        "{backend}"
    );
    assert!(backend.contains(&moto.endpoint), "{backend}");
    // State is in the shared-services account: the backend assumes its role (the lock table
    // exists only there, so the lock items above prove Terraform used it).
    assert!(
        backend
            .contains(r#"role_arn     = "arn:aws:iam::111111111111:role/SharedServicesTerraform""#),
        "{backend}"
    );

    // The app stage received the foundation stage's outputs.
    let app_out = read_json(&p.state("nonprod", "app").join("outputs.json"));
    assert_eq!(app_out["fixture_vpc_id"]["value"], "vpc-nonprod-fixture");
    assert_eq!(app_out["fixture_cluster_name"]["value"], "shop-nonprod");
    let state = read_json(&p.state("nonprod", "app").join("state.json"));
    assert!(state["applied_at"].as_u64().is_some());

    // A second up plans, finds nothing, applies nothing.
    let second = p.run(&["up", "-e", "nonprod", "--output", "json"]);
    assert!(second.status.success(), "{}", show(&second));
    let ev = events(&second);
    assert!(named(&ev, "applied").is_empty(), "{}", show(&second));
    let unchanged: Vec<&Value> = named(&ev, "stage_skipped")
        .into_iter()
        .filter(|e| e["reason"] == "unchanged")
        .collect();
    assert_eq!(
        labels(&unchanged),
        vec!["global/bootstrap", "nonprod/foundation", "nonprod/app"]
    );

    // The run reports ecomctl's own time beside the Terraform time inside it. How the two
    // compare is a benchmark's business (`scripts/bench up`), not a test's: a loaded CI machine
    // makes any bound here flaky.
    let fin = named(&ev, "up_finished");
    let (own, tools) = (
        fin[0]["own_ms"].as_f64().expect("own_ms"),
        fin[0]["tool_ms"].as_f64().expect("tool_ms"),
    );
    assert!(own > 0.0 && tools > 0.0, "{}", show(&second));

    // status and output read what was recorded.
    let status = p.run(&["status", "-e", "nonprod", "--output", "json"]);
    assert!(status.status.success(), "{}", show(&status));
    let rows = events(&status);
    assert_eq!(rows.len(), 3, "{}", show(&status));
    for r in &rows {
        assert_eq!(r["inputs_changed"], false, "{r}");
        assert_eq!(r["outputs"], true, "{r}");
    }
    // `output` reads what was stored: it needs no Terraform.
    let out = p
        .command(&["output", "-e", "nonprod", "--stage", "foundation", "vpc_id"])
        .env("ECOMCTL_TERRAFORM", "/nonexistent/terraform")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "vpc-nonprod-fixture\n"
    );
}

#[test]
fn credentials_of_another_account_are_refused_before_terraform_touches_the_env() {
    // A CI job that already holds a role (ECOMCTL_ASSUME_ROLE=false) in the shared-services
    // account, but runs `up -e nonprod`: moto's STS answers 111111111111 for its credentials.
    let (Some(tf), Some(moto)) = (
        tool("terraform"),
        Moto::start_with(Some("111111111111"), FIT_BUCKET),
    ) else {
        return;
    };
    let mut p = Project::new(tf, Some(&moto));
    p.extra_env
        .push(("ECOMCTL_ASSUME_ROLE".into(), "false".into()));
    let out = p.run(&["up", "-e", "nonprod", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("wrong AWS account for environment nonprod")
            && err.contains("in account 111111111111, but the config says 222222222222"),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    // `up` asks about every account before the first stage: Terraform never ran at all.
    for (scope, stage) in [("global", "bootstrap"), ("nonprod", "foundation")] {
        assert!(
            !p.state(scope, stage).join(".terraform").exists(),
            "{stage}"
        );
        assert!(
            !p.state(scope, stage).join("plan.tfplan").exists(),
            "{stage}"
        );
    }
    assert!(moto.state_keys().is_empty());

    // Bootstrap alone is in the shared-services account, which these credentials are in: it
    // may go ahead, and Terraform is not asked to assume a role either.
    let bootstrap = p.run(&["plan", "--stage", "bootstrap", "--output", "json"]);
    assert!(bootstrap.status.success(), "{}", show(&bootstrap));
    let tfvars = read_json(&p.state("global", "bootstrap").join("terraform.tfvars.json"));
    assert_eq!(tfvars["assume_role_arn"], Value::Null);
    // Bootstrap against moto runs without the shared-services account's baseline (see
    // support::shared_guardrails_off): the switch reaches the stack as enable_guardrails.
    assert_eq!(tfvars["enable_guardrails"], false, "{tfvars}");
    let backend =
        std::fs::read_to_string(p.state("global", "bootstrap").join("backend.hcl")).unwrap();
    assert!(!backend.contains("role_arn"), "{backend}");
    let hash = named(&events(&bootstrap), "plan_summary")[0]["plan_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let applied = p.run(&["apply", "--stage", "bootstrap", "--approve", &hash]);
    assert!(applied.status.success(), "{}", show(&applied));

    // A plan of the environment's own stage does not get past the check either.
    let plan = p.run(&["plan", "-e", "nonprod", "--stage", "foundation"]);
    assert_eq!(plan.status.code(), Some(1), "{}", show(&plan));
    assert!(String::from_utf8_lossy(&plan.stderr).contains("wrong AWS account"));
    assert!(!p.state("nonprod", "foundation").join(".terraform").exists());
}

#[test]
fn a_state_bucket_without_versioning_kms_or_object_lock_is_refused() {
    let (Some(tf), Some(moto)) = (tool("terraform"), Moto::start_with(None, BARE_BUCKET)) else {
        return;
    };
    let p = Project::new(tf, Some(&moto));
    let out = p.run(&["up", "-e", "nonprod", "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for problem in [
        "state bucket shop-tfstate-111111111111 is not fit to hold Terraform state",
        "versioning is `never enabled`",
        "default encryption is `none`",
        "Object Lock is `not enabled`",
    ] {
        assert!(err.contains(problem), "missing {problem:?} in:\n{err}");
    }
    // Bootstrap applied with local state, but its state was not moved into that bucket, and no
    // environment stage ran.
    assert!(moto.state_keys().is_empty(), "{:?}", moto.state_keys());
    assert!(!p.state("nonprod", "foundation").join(".terraform").exists());
    let state = read_json(&p.state("global", "bootstrap").join("state.json"));
    assert_eq!(state["backend"], "local", "{state}");
}

#[test]
fn down_include_bootstrap_moves_its_state_out_of_the_bucket_then_destroys_it() {
    let (Some(tf), Some(moto)) = (tool("terraform"), Moto::start()) else {
        return;
    };
    let p = Project::new(tf, Some(&moto));
    // A second environment, so that bootstrap has another user.
    let config = std::fs::read_to_string(p.dir.path().join("ecomctl.yaml")).unwrap();
    let (head, tools) = config.split_once("\ntools:").unwrap();
    let staging = head[head.find("  nonprod:").unwrap()..]
        .replace("nonprod:", "staging:")
        .replace("222222222222", "333333333333")
        .replace("NonprodTerraform", "StagingTerraform")
        .replace("10.20.", "10.30.");
    std::fs::write(
        p.dir.path().join("ecomctl.yaml"),
        format!("{head}\n{staging}\ntools:{tools}"),
    )
    .unwrap();
    for env in ["nonprod", "staging"] {
        let up = p.run(&["up", "-e", env, "--yes"]);
        assert!(up.status.success(), "{}", show(&up));
    }
    let bootstrap_key = "shop/global/bootstrap/terraform.tfstate";
    assert!(moto.state_keys().contains(&bootstrap_key.to_string()));

    // staging still keeps its state in the bucket: refused before anything is destroyed.
    let refused = p.run(&["down", "-e", "nonprod", "--include-bootstrap"]);
    assert_eq!(refused.status.code(), Some(1), "{}", show(&refused));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("still holds the state of staging/foundation, staging/app"),
        "{err}"
    );
    assert!(err.contains("`ecomctl down -e staging`"), "{err}");
    assert!(p.state("nonprod", "app").join("outputs.json").exists());

    // Take staging and nonprod down (each destroy plan approved by its hash).
    for env in ["staging", "nonprod"] {
        let mut args = vec!["down", "-e", env];
        let mut hashes = Vec::new();
        for _ in 0..2 {
            let out = p.run(&args);
            assert_eq!(out.status.code(), Some(1), "{}", show(&out));
            hashes.push(asked_hash(&out));
            args = vec!["down", "-e", env];
            for h in &hashes {
                args.extend(["--approve", h.as_str()]);
            }
        }
        let done = p.run(&args);
        assert!(done.status.success(), "{}", show(&done));
    }

    // Now bootstrap: its state first leaves the bucket, then its destroy plan needs its hash.
    let asked = p.run(&[
        "down",
        "-e",
        "nonprod",
        "--include-bootstrap",
        "--output",
        "json",
    ]);
    assert_eq!(asked.status.code(), Some(1), "{}", show(&asked));
    let ev = events(&asked);
    let moved = named(&ev, "state_migrated");
    assert_eq!(labels(&moved), vec!["global/bootstrap"]);
    assert_eq!(moved[0]["to"], "local");
    let state = read_json(&p.state("global", "bootstrap").join("state.json"));
    assert_eq!(state["backend"], "local", "{state}");
    assert!(p
        .state("global", "bootstrap")
        .join("terraform.tfstate")
        .exists());
    let hash = asked_hash(&asked);

    let done = p.run(&[
        "down",
        "-e",
        "nonprod",
        "--include-bootstrap",
        "--approve",
        &hash,
        "--output",
        "json",
    ]);
    assert!(done.status.success(), "{}", show(&done));
    let ev = events(&done);
    assert_eq!(labels(&named(&ev, "destroyed")), vec!["global/bootstrap"]);
    assert!(named(&ev, "state_migrated").is_empty(), "moved only once");
    let state = read_json(&p.state("global", "bootstrap").join("state.json"));
    assert!(state["destroyed_at"].as_u64().is_some(), "{state}");
    assert!(!p.state("global", "bootstrap").join("outputs.json").exists());
}
