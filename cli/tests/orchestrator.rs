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
fn a_failed_apply_is_reported_with_its_tail_and_the_rerun_resumes() {
    let (Some(tf), Some(moto)) = (tool("terraform"), Moto::start()) else {
        return;
    };
    let mut p = Project::new(tf, Some(&moto));
    let flag = p.dir.path().join("fail-app-apply");
    std::fs::write(&flag, "").unwrap();
    p.fake_terraform(&format!(
        r#"if [ "$1" = apply ] && [ "$(basename "$PWD")" = app ] && [ -e {flag:?} ]; then
  echo "aws_db_instance.main: Creating..."
  printf 'garbage \377\376 bytes\n'
  echo "Error: creating RDS instance: InvalidParameterCombination" >&2
  exit 1
fi"#
    ));

    let failed = p.run(&["up", "-e", "nonprod", "--yes"]);
    assert_eq!(failed.status.code(), Some(1), "{}", show(&failed));
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(
        err.contains("planning nonprod/app") && !err.contains(SPINNER_FRAMES),
        "human output off a terminal has no live line:\n{err}"
    );
    assert!(err.contains("error: applying nonprod/app"), "{err}");
    assert!(err.contains("terraform apply failed (exit 1)"), "{err}");
    assert!(err.contains("InvalidParameterCombination"), "{err}");
    assert!(err.contains("garbage"), "{err}");
    let app = read_json(&p.state("nonprod", "app").join("state.json"));
    assert!(app["applied_at"].is_null(), "{app}");
    assert!(app["failed_at"].as_u64().is_some(), "{app}");
    assert!(!p.state("nonprod", "app").join("outputs.json").exists());

    std::fs::remove_file(&flag).unwrap();
    let rerun = p.run(&["up", "-e", "nonprod", "--yes", "--output", "json"]);
    assert!(rerun.status.success(), "{}", show(&rerun));
    let ev = events(&rerun);
    assert_eq!(
        labels(&named(&ev, "applied")),
        vec!["nonprod/app"],
        "{}",
        show(&rerun)
    );
    let app = read_json(&p.state("nonprod", "app").join("state.json"));
    assert!(
        app["applied_at"].as_u64().is_some() && app["failed_at"].is_null(),
        "{app}"
    );
}

#[test]
fn a_hung_apply_is_stopped_and_the_rerun_resumes() {
    let (Some(tf), Some(moto)) = (tool("terraform"), Moto::start()) else {
        return;
    };
    let mut p = Project::new(tf, Some(&moto));
    let flag = p.dir.path().join("hang-app-apply");
    let got = p.dir.path().join("apply-got-signal");
    std::fs::write(&flag, "").unwrap();
    p.fake_terraform(&format!(
        r#"if [ "$1" = apply ] && [ "$(basename "$PWD")" = app ] && [ -e {flag:?} ]; then
  trap 'echo INT > {got:?}; echo "Interrupt received. Gracefully shutting down..."; exit 1' INT
  echo "aws_db_instance.main: Creating..."
  while true; do sleep 0.1; done
fi"#
    ));
    p.extra_env
        .push(("ECOMCTL_STALL_TIMEOUT".into(), "10".into()));
    p.extra_env
        .push(("ECOMCTL_INTERRUPT_GRACE".into(), "5".into()));
    let started = Instant::now();
    let hung = p.run(&["up", "-e", "nonprod", "--yes"]);
    assert_eq!(hung.status.code(), Some(1), "{}", show(&hung));
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "{:?}",
        started.elapsed()
    );
    let err = String::from_utf8_lossy(&hung.stderr);
    assert!(err.contains("error: applying nonprod/app"), "{err}");
    assert!(
        err.contains("terraform apply printed nothing for 10 s and was stopped as hung"),
        "{err}"
    );
    assert!(
        err.contains("Creating..."),
        "the tail shows where it hung:\n{err}"
    );
    // Stopped as Ctrl-C stops it (Terraform releases its state lock), not killed outright.
    assert_eq!(
        std::fs::read_to_string(&got).unwrap_or_default().trim(),
        "INT"
    );
    let app = read_json(&p.state("nonprod", "app").join("state.json"));
    assert!(app["applied_at"].is_null(), "{app}");
    assert!(!p.state("nonprod", "app").join("outputs.json").exists());

    std::fs::remove_file(&flag).unwrap();
    let rerun = p.run(&["up", "-e", "nonprod", "--yes", "--output", "json"]);
    assert!(rerun.status.success(), "{}", show(&rerun));
    assert_eq!(
        labels(&named(&events(&rerun), "applied")),
        vec!["nonprod/app"],
        "{}",
        show(&rerun)
    );
}

#[test]
fn ctrl_c_during_apply_reaches_terraform_and_exits_130() {
    let (Some(tf), Some(moto)) = (tool("terraform"), Moto::start()) else {
        return;
    };
    let mut p = Project::new(tf, Some(&moto));
    let started = p.dir.path().join("apply-started");
    let got = p.dir.path().join("apply-got-signal");
    p.fake_terraform(&format!(
        r#"if [ "$1" = apply ]; then
  trap 'echo INT > {got:?}; echo "Interrupt received. Gracefully shutting down..."; sleep 0.3; exit 1' INT
  echo started > {started:?}
  while true; do sleep 0.1; done
fi"#
    ));
    p.extra_env
        .push(("ECOMCTL_INTERRUPT_GRACE".into(), "10".into()));
    let mut child = p
        .command(&["up", "-e", "nonprod", "--yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !started.exists() {
        assert!(Instant::now() < deadline, "apply never started");
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("ecomctl ended early ({status}): {err}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    let mut err = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .lines()
        .for_each(|l| {
            err.push_str(&l.unwrap());
            err.push('\n');
        });
    assert_eq!(status.code(), Some(130), "{err}");
    assert_eq!(
        std::fs::read_to_string(&got).unwrap().trim(),
        "INT",
        "{err}"
    );
    assert!(err.contains("interrupted"), "{err}");
    let state = p.state("global", "bootstrap").join("state.json");
    assert!(
        !state.exists() || read_json(&state)["applied_at"].is_null(),
        "an interrupted apply must not be recorded"
    );
}

#[test]
fn apply_takes_only_the_saved_plan_of_the_current_inputs() {
    let (Some(tf), Some(moto)) = (tool("terraform"), Moto::start()) else {
        return;
    };
    let p = Project::new(tf, Some(&moto));

    // Nothing planned yet.
    let none = p.run(&["apply", "--stage", "bootstrap"]);
    assert_eq!(none.status.code(), Some(1), "{}", show(&none));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no saved plan"));

    // A fresh plan has changes: --detailed-exitcode says 4, and stdout is the plan hash.
    let plan = p.run(&["plan", "--stage", "bootstrap", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(4), "{}", show(&plan));
    let hash = String::from_utf8_lossy(&plan.stdout).trim().to_string();
    assert_eq!(hash.len(), 64, "{}", show(&plan));

    // The config changes after the plan: the plan is stale and is refused.
    let cfg = p.dir.path().join("ecomctl.yaml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("owner: platform-team", "owner: other-team"),
    )
    .unwrap();
    let stale = p.run(&["apply", "--stage", "bootstrap"]);
    assert_eq!(stale.status.code(), Some(1), "{}", show(&stale));
    assert!(
        String::from_utf8_lossy(&stale.stderr).contains("made from other inputs"),
        "{}",
        show(&stale)
    );

    // Plan again and apply: outputs recorded.
    let plan = p.run(&["plan", "--stage", "bootstrap", "--output", "json"]);
    assert!(plan.status.success(), "{}", show(&plan));
    let ev = events(&plan);
    let summary = named(&ev, "plan_summary");
    assert_eq!(summary[0]["changes"], true);
    // 1.0.x counts the null lock_table_name output as a change, 1.11 does not.
    let outputs = summary[0]["summary"]["output_changes"].as_u64();
    assert!(matches!(outputs, Some(8 | 9)), "{outputs:?}");
    let apply = p.run(&["apply", "--stage", "bootstrap"]);
    assert!(apply.status.success(), "{}", show(&apply));
    let out = read_json(&p.state("global", "bootstrap").join("outputs.json"));
    assert_eq!(
        out["state_bucket_name"]["value"],
        "shop-tfstate-111111111111"
    );
}

#[test]
fn a_stage_waiting_on_upstream_outputs_is_refused_before_terraform_runs() {
    let Some(tf) = tool("terraform") else {
        return;
    };
    let p = Project::new(tf, None);
    let out = p.run(&["plan", "-e", "nonprod", "--stage", "app"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("waits on outputs of the bootstrap stage"),
        "{err}"
    );
    assert!(!p.state("nonprod", "app").join(".terraform").exists());
}

#[test]
fn a_locked_stage_is_refused_at_once_or_waited_for_with_a_timeout() {
    let (Some(tf), Some(moto)) = (tool("terraform"), Moto::start()) else {
        return;
    };
    let p = Project::new(tf, Some(&moto));
    let _held = ecomctl::stages::record::StageLock::acquire(
        &p.state("global", "bootstrap").join("lock"),
        "global/bootstrap",
    )
    .unwrap();
    let out = p.run(&["plan", "--stage", "bootstrap"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "another ecomctl run (pid {}) is working on global/bootstrap",
            std::process::id()
        )),
        "{err}"
    );

    // With a lock timeout, the run waits for the lock and goes on once it is free.
    let mut p = p;
    p.extra_env
        .push(("ECOMCTL_LOCK_TIMEOUT".into(), "60".into()));
    let waiting = p
        .command(&["plan", "--stage", "bootstrap"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Long enough for the run to reach the lock on a loaded machine.
    std::thread::sleep(Duration::from_millis(5000));
    drop(_held);
    let out = waiting.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("waiting for another ecomctl run"), "{err}");
}

#[test]
fn a_tool_that_ignores_ctrl_c_is_killed_after_the_grace_period() {
    let (Some(tf), Some(moto)) = (tool("terraform"), Moto::start()) else {
        return;
    };
    let mut p = Project::new(tf, Some(&moto));
    let pid_file = p.dir.path().join("apply-pid");
    p.fake_terraform(&format!(
        r#"if [ "$1" = apply ]; then
  trap '' INT TERM
  echo $$ > {pid_file:?}
  while true; do sleep 0.1; done
fi"#
    ));
    p.extra_env
        .push(("ECOMCTL_INTERRUPT_GRACE".into(), "1".into()));
    let mut child = p
        .command(&["up", "-e", "nonprod", "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&pid_file).map_or(true, |s| s.trim().is_empty()) {
        assert!(Instant::now() < deadline, "apply never started");
        assert!(child.try_wait().unwrap().is_none(), "ecomctl ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    let waited = sent.elapsed();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(20),
        "waited {waited:?}"
    );
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert!(
        !Path::new("/proc").join(pid.trim()).exists(),
        "the stubborn tool is still running"
    );
}

/// A plan document (as `terraform show -json` writes it) that replaces the database.
const REPLACES_DATABASE: &str = r#"{"format_version":"0.2","terraform_version":"1.0.3",
"resource_changes":[
 {"address":"aws_db_instance.main","mode":"managed","type":"aws_db_instance","name":"main","change":{"actions":["delete","create"]}},
 {"address":"aws_iam_role.app","mode":"managed","type":"aws_iam_role","name":"app","change":{"actions":["create"]}}],
"output_changes":{}}"#;

#[test]
fn replacing_a_database_needs_the_plan_hash_not_yes() {
    let (Some(tf), Some(moto)) = (tool("terraform"), Moto::start()) else {
        return;
    };
    let mut p = Project::new(tf, Some(&moto));
    let doc = p.dir.path().join("replaces-database.json");
    std::fs::write(&doc, REPLACES_DATABASE).unwrap();
    p.fake_terraform(&format!(
        r#"if [ "$1" = show ]; then cat {doc:?}; exit 0; fi"#
    ));

    let plan = p.run(&["plan", "--stage", "bootstrap", "--output", "json"]);
    assert!(plan.status.success(), "{}", show(&plan));
    let ev = events(&plan);
    let summary = &named(&ev, "plan_summary")[0]["summary"];
    assert_eq!(summary["actions"]["replace"], 1);
    assert_eq!(summary["by_type"]["aws_iam_role"]["create"], 1);
    assert_eq!(summary["destructive"][0]["address"], "aws_db_instance.main");
    let hash = named(&ev, "plan_summary")[0]["plan_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let human = p.run(&["plan", "--stage", "bootstrap"]);
    let err = String::from_utf8_lossy(&human.stderr);
    assert!(err.contains("aws_db_instance.main would replace"), "{err}");
    assert!(
        err.contains("-/+ aws_db_instance.main   (stateful)"),
        "{err}"
    );
    assert!(err.contains("+ aws_iam_role.app"), "{err}");
    let hash2 = String::from_utf8_lossy(&human.stdout).trim().to_string();
    assert_ne!(hash, hash2, "every plan has its own hash");

    let yes = p.run(&["apply", "--stage", "bootstrap", "--yes"]);
    assert_eq!(yes.status.code(), Some(1), "{}", show(&yes));
    let err = String::from_utf8_lossy(&yes.stderr);
    assert!(err.contains("never approved by a bare --yes"), "{err}");
    assert!(
        err.contains(&format!("--approve {}", &hash2[..12])),
        "{err}"
    );

    // The hash of an older plan approves nothing.
    let old = p.run(&["apply", "--stage", "bootstrap", "--approve", &hash]);
    assert_eq!(old.status.code(), Some(1), "{}", show(&old));

    let ok = p.run(&["apply", "--stage", "bootstrap", "--approve", &hash2[..12]]);
    assert!(ok.status.success(), "{}", show(&ok));
    assert!(p.state("global", "bootstrap").join("outputs.json").exists());
}

#[test]
fn a_failed_state_migration_is_retried_by_the_next_run() {
    let (Some(tf), Some(moto)) = (tool("terraform"), Moto::start()) else {
        return;
    };
    let mut p = Project::new(tf, Some(&moto));
    let flag = p.dir.path().join("fail-migration");
    std::fs::write(&flag, "").unwrap();
    p.fake_terraform(&format!(
        r#"if [ "$1" = init ] && [[ " $* " == *" -migrate-state "* ]] && [ -e {flag:?} ]; then
  echo "Error: AccessDenied: not allowed to write the state bucket" >&2
  exit 1
fi"#
    ));
    let failed = p.run(&["up", "-e", "nonprod", "--yes"]);
    assert_eq!(failed.status.code(), Some(1), "{}", show(&failed));
    let err = String::from_utf8_lossy(&failed.stderr);
    assert!(
        err.contains("moving the state of global/bootstrap into the bucket"),
        "{err}"
    );
    assert!(err.contains("AccessDenied"), "{err}");
    assert!(moto.state_keys().is_empty());
    // The local state is intact and still the one in use.
    assert!(p
        .state("global", "bootstrap")
        .join("terraform.tfstate")
        .exists());

    std::fs::remove_file(&flag).unwrap();
    let rerun = p.run(&["up", "-e", "nonprod", "--yes", "--output", "json"]);
    assert!(rerun.status.success(), "{}", show(&rerun));
    let ev = events(&rerun);
    assert_eq!(named(&ev, "state_migrated").len(), 1, "{}", show(&rerun));
    assert_eq!(
        labels(&named(&ev, "applied")),
        vec!["nonprod/foundation", "nonprod/app"]
    );
    assert_eq!(moto.state_keys().len(), 3);
}

/// The plan hash a refusal asks for (`--approve 0123456789ab`).

#[test]
fn up_refused_for_a_stateful_loss_resumes_with_the_hash_of_the_saved_plan() {
    let (Some(tf), Some(moto)) = (tool("terraform"), Moto::start()) else {
        return;
    };
    let mut p = Project::new(tf, Some(&moto));
    let doc = p.dir.path().join("replaces-database.json");
    std::fs::write(&doc, REPLACES_DATABASE).unwrap();
    p.fake_terraform(&format!(
        r#"if [ "$1" = show ] && [ "$(basename "$PWD")" = app ]; then cat {doc:?}; exit 0; fi"#
    ));
    let refused = p.run(&["up", "-e", "nonprod", "--yes", "--output", "json"]);
    assert_eq!(refused.status.code(), Some(1), "{}", show(&refused));
    let ev = events(&refused);
    assert_eq!(
        labels(&named(&ev, "applied")),
        vec!["global/bootstrap", "nonprod/foundation"]
    );
    let err = &named(&ev, "error")[0];
    assert!(
        err["message"].as_str().unwrap().contains("stateful"),
        "{err}"
    );
    let hint = err["hint"].as_str().unwrap();
    let hash = hint.split("--approve ").nth(1).unwrap()[..12].to_string();

    let approved = p.run(&["up", "-e", "nonprod", "--approve", &hash]);
    assert!(approved.status.success(), "{}", show(&approved));
    let err = String::from_utf8_lossy(&approved.stderr);
    assert!(
        err.contains(&format!("applying approved plan {hash}")),
        "{err}"
    );
    assert!(p.state("nonprod", "app").join("outputs.json").exists());
}

#[test]
fn down_destroys_in_reverse_order_and_each_stage_needs_its_plan_hash() {
    let (Some(tf), Some(moto)) = (tool("terraform"), Moto::start()) else {
        return;
    };
    let p = Project::new(tf, Some(&moto));
    let up = p.run(&["up", "-e", "nonprod", "--yes"]);
    assert!(up.status.success(), "{}", show(&up));

    // No terminal, no hash: refused, nothing destroyed; the hint names app's destroy plan.
    let refused = p.run(&["down", "-e", "nonprod"]);
    assert_eq!(refused.status.code(), Some(1), "{}", show(&refused));
    assert!(p.state("nonprod", "app").join("outputs.json").exists());
    let app_hash = asked_hash(&refused);

    // App goes; foundation's destroy plan then needs its own hash.
    let app = p.run(&["down", "-e", "nonprod", "--approve", &app_hash]);
    assert_eq!(app.status.code(), Some(1), "{}", show(&app));
    assert!(String::from_utf8_lossy(&app.stderr).contains("destroying nonprod/foundation"));
    assert!(!p.state("nonprod", "app").join("outputs.json").exists());
    assert!(p
        .state("nonprod", "foundation")
        .join("outputs.json")
        .exists());
    let foundation_hash = asked_hash(&app);

    let rest = p.run(&[
        "down",
        "-e",
        "nonprod",
        "--approve",
        &foundation_hash,
        "--output",
        "json",
    ]);
    assert!(rest.status.success(), "{}", show(&rest));
    let ev = events(&rest);
    assert_eq!(labels(&named(&ev, "destroyed")), vec!["nonprod/foundation"]);

    let status = p.run(&["status", "-e", "nonprod", "--output", "json"]);
    let rows = events(&status);
    for r in rows.iter().filter(|r| r["scope"] == "nonprod") {
        assert!(r["destroyed_at"].as_u64().is_some(), "{r}");
        assert_eq!(r["outputs"], false, "{r}");
    }
}

#[test]
fn the_policy_gate_refuses_a_noncompliant_plan_with_exit_3() {
    let (Some(tf), Some(moto)) = (tool("terraform"), Moto::start()) else {
        return;
    };
    let mut p = Project::new(tf, Some(&moto));
    let doc = repo().join("policy/fixtures/plan-noncompliant.json");
    p.fake_terraform(&format!(
        r#"if [ "$1" = show ] && [ "$(basename "$PWD")" = app ]; then cat {doc:?}; exit 0; fi"#
    ));
    let up = p.run(&["up", "-e", "nonprod", "--yes", "--output", "json"]);
    assert_eq!(up.status.code(), Some(3), "{}", show(&up));
    let ev = events(&up);
    assert_eq!(
        labels(&named(&ev, "applied")),
        vec!["global/bootstrap", "nonprod/foundation"]
    );
    let checked = named(&ev, "policy_checked");
    let app = checked.iter().find(|e| e["stage"] == "app").unwrap();
    assert!(
        !app["policy"]["denied"].as_array().unwrap().is_empty(),
        "{app}"
    );
    let err = &named(&ev, "error")[0];
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .starts_with("policy refuses the plan of nonprod/app"),
        "{err}"
    );
    assert!(!p.state("nonprod", "app").join("outputs.json").exists());

    // `plan` says so too, before anyone tries to apply.
    let plan = p.run(&["plan", "-e", "nonprod", "--stage", "app"]);
    assert_eq!(plan.status.code(), Some(3), "{}", show(&plan));

    // The gate reads the same policy directory and waivers as `ecomctl policy check`: with
    // `policy/` beside the config waiving every denial, the same plan goes through.
    let policy = p.dir.path().join("policy");
    for sub in ["terraform", "kubernetes"] {
        std::fs::create_dir_all(policy.join(sub)).unwrap();
        for f in std::fs::read_dir(repo().join("policy").join(sub)).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, policy.join(sub).join(f.file_name().unwrap())).unwrap();
        }
    }
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("policy/fixtures/expected.json")).unwrap(),
    )
    .unwrap();
    let until = ecomctl::policy::Date::today().add_days(30).to_string();
    let mut waivers = String::from("waivers:\n");
    for pair in expected["plan-noncompliant.json"]["deny"]
        .as_array()
        .unwrap()
    {
        waivers.push_str(&format!(
            "  - {{ id: {}, resource: '{}', owner: platform@example.com, reason: test, ticket: T-1, expires: {until} }}\n",
            pair[0].as_str().unwrap(),
            pair[1].as_str().unwrap()
        ));
    }
    std::fs::write(policy.join("waivers.yaml"), waivers).unwrap();
    let waived = p.run(&["up", "-e", "nonprod", "--yes", "--output", "json"]);
    let ev = events(&waived);
    let app = named(&ev, "policy_checked")
        .into_iter()
        .find(|e| e["stage"] == "app")
        .unwrap();
    assert!(
        app["policy"]["denied"].as_array().unwrap().is_empty(),
        "{app}"
    );
    assert!(app["policy"]["waived"].as_u64().unwrap() > 0, "{app}");
    // What stops it now is the plan's deletion of a bucket, which --yes never approves.
    assert_eq!(waived.status.code(), Some(1), "{}", show(&waived));
    let err = &named(&ev, "error")[0];
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("deletes or replaces stateful resources"),
        "{err}"
    );
}

/// Runs a command with stdin and stderr on a pseudo-terminal (so ecomctl may prompt), typing
/// `answer` once `prompt` appears. Returns the exit code and what the terminal showed.
/// Some frames of indicatif's default spinner (only a terminal shows a live line).
const SPINNER_FRAMES: [char; 8] = ['⠁', '⠂', '⠄', '⡀', '⢀', '⠠', '⠐', '⠈'];

fn run_on_terminal(mut cmd: Command, prompt: &str, answer: &str) -> (Option<i32>, String) {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    use std::sync::{Arc, Mutex};
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two descriptors we then own; no name, termios or size is passed.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty failed");
    // SAFETY: the descriptors come from openpty (and dup) and are owned by one File each.
    let (master, slave_in, slave_err) = unsafe {
        (
            std::fs::File::from_raw_fd(master),
            std::fs::File::from_raw_fd(libc::dup(slave)),
            std::fs::File::from_raw_fd(slave),
        )
    };
    cmd.stdin(Stdio::from(slave_in))
        .stderr(Stdio::from(slave_err))
        .stdout(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    drop(cmd); // closes our copies of the terminal's slave side
    let screen = Arc::new(Mutex::new(String::new()));
    let mut reader = master.try_clone().unwrap();
    let sink = Arc::clone(&screen);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    while !screen.lock().unwrap().contains(prompt) {
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            let _ = child.kill();
            panic!("no prompt `{prompt}`:\n{}", screen.lock().unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut writer = master;
    writer.write_all(format!("{answer}\n").as_bytes()).unwrap();
    let status = child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let shown = screen.lock().unwrap().clone();
    (status.code(), shown)
}

#[test]
fn on_a_terminal_a_stateful_loss_is_approved_only_by_typing_the_env_name() {
    let (Some(tf), Some(moto)) = (tool("terraform"), Moto::start()) else {
        return;
    };
    let mut p = Project::new(tf, Some(&moto));
    let doc = p.dir.path().join("replaces-database.json");
    std::fs::write(&doc, REPLACES_DATABASE).unwrap();
    p.fake_terraform(&format!(
        r#"if [ "$1" = show ] && [ "$(basename "$PWD")" = app ]; then cat {doc:?}; exit 0; fi
if [ "$1" = plan ] && [ "$(basename "$PWD")" = app ]; then echo "fake: reading the database"; sleep 0.8; fi"#
    ));
    let prompt = "Type `nonprod` to apply plan";

    let (code, screen) = run_on_terminal(p.command(&["up", "-e", "nonprod"]), prompt, "yes");
    assert_eq!(code, Some(1), "{screen}");
    // While the plan ran, the live line showed a spinner, the activity and Terraform's latest
    // line (piped, there is none: see `a_failed_apply_...`).
    assert!(screen.contains(SPINNER_FRAMES), "{screen}");
    assert!(
        screen.contains("planning nonprod/app  fake: reading the database"),
        "{screen}"
    );
    assert!(screen.contains("not approved: nonprod/app"), "{screen}");
    assert!(!p.state("nonprod", "app").join("outputs.json").exists());

    let (code, screen) = run_on_terminal(p.command(&["up", "-e", "nonprod"]), prompt, "nonprod");
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("applied nonprod/app"), "{screen}");
    assert!(p.state("nonprod", "app").join("outputs.json").exists());
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
