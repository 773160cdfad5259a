//! Hostile days for the Terraform path (issue 17): a new machine, a killed run, a held lock, a
//! state Terraform could not save. The real `ecomctl`, the real Terraform from `.tools/bin`,
//! the fixture stacks and a moto server, as in `orchestrator.rs`.

mod support;

use serde_json::Value;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::*;

const BUCKET: &str = "shop-tfstate-111111111111";

fn python() -> std::path::PathBuf {
    repo().join(".tools/venv/bin/python")
}

fn remote_state(moto: &Moto, key: &str) -> Value {
    let out = moto.python(
        &python(),
        &format!("print(s3.get_object(Bucket={BUCKET:?}, Key={key:?})['Body'].read().decode())"),
    );
    serde_json::from_str(out.trim()).unwrap()
}

fn up(p: &Project) -> std::process::Output {
    p.run(&["up", "-e", "nonprod", "--yes", "--output", "json"])
}

#[test]
fn a_new_machine_takes_up_bootstrap_state_from_the_bucket_and_never_overwrites_it() {
    let (Some(tf), Some(moto)) = (tool("terraform"), Moto::start()) else {
        return;
    };
    let p = Project::new(tf, Some(&moto));
    let first = up(&p);
    assert!(first.status.success(), "{}", show(&first));
    let key = "shop/global/bootstrap/terraform.tfstate";
    let before = remote_state(&moto, key);

    // A new CI runner: no `.ecomctl/` at all.
    std::fs::remove_dir_all(p.dir.path().join(".ecomctl")).unwrap();
    let again = up(&p);
    assert!(again.status.success(), "{}", show(&again));
    let ev = events(&again);
    assert_eq!(
        labels(&named(&ev, "state_adopted")),
        vec!["global/bootstrap"],
        "{}",
        show(&again)
    );
    assert!(named(&ev, "state_migrated").is_empty(), "{}", show(&again));
    let after = remote_state(&moto, key);
    assert_eq!(
        after["lineage"], before["lineage"],
        "the bucket's state was replaced"
    );
    assert!(after["serial"].as_u64() >= before["serial"].as_u64());
    let outputs = read_json(&p.state("global", "bootstrap").join("outputs.json"));
    assert_eq!(outputs["state_bucket_name"]["value"], BUCKET);

    let third = up(&p);
    assert!(third.status.success(), "{}", show(&third));
    assert!(
        named(&events(&third), "applied").is_empty(),
        "{}",
        show(&third)
    );
}

/// Processes whose argv[0] is `name`.
fn processes_named(name: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split(|b| *b == 0).next() == Some(name.as_bytes()))
        })
        .collect()
}

#[test]
fn sigkill_of_ecomctl_mid_apply_leaves_no_terraform_running_and_the_rerun_resumes() {
    let (Some(tf), Some(moto)) = (tool("terraform"), Moto::start()) else {
        return;
    };
    let mut p = Project::new(tf, Some(&moto));
    let flag = p.dir.path().join("hang-app-apply");
    let started = p.dir.path().join("apply-started");
    let marker = format!("ecomctl-test-orphan-{}", std::process::id());
    std::fs::write(&flag, "").unwrap();
    p.fake_terraform(&format!(
        r#"if [ "$1" = apply ] && [ "$(basename "$PWD")" = app ] && [ -e {flag:?} ]; then
  echo started > {started:?}
  exec -a {marker} sleep 600
fi"#
    ));
    let mut child = p
        .command(&["up", "-e", "nonprod", "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !started.exists() {
        assert!(Instant::now() < deadline, "apply never started");
        assert!(child.try_wait().unwrap().is_none(), "ecomctl ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(processes_named(&marker).len(), 1);
    child.kill().unwrap(); // SIGKILL: no handler runs
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !processes_named(&marker).is_empty() {
        assert!(
            Instant::now() < deadline,
            "terraform outlived ecomctl: {:?}",
            processes_named(&marker)
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    std::fs::remove_file(&flag).unwrap();
    let rerun = up(&p);
    assert!(rerun.status.success(), "{}", show(&rerun));
    assert_eq!(
        labels(&named(&events(&rerun), "applied")),
        vec!["nonprod/app"],
        "{}",
        show(&rerun)
    );
}

#[test]
fn a_held_state_lock_is_explained_and_unlock_releases_it() {
    let (Some(tf), Some(moto)) = (tool("terraform"), Moto::start()) else {
        return;
    };
    let p = Project::new(tf, Some(&moto));
    let first = up(&p);
    assert!(first.status.success(), "{}", show(&first));
    // A lock left by a run on another machine that was killed mid-apply.
    let path = format!("{BUCKET}/shop/nonprod/app/terraform.tfstate");
    let info = serde_json::json!({
        "ID": "5b1c2a9e-0000-4000-8000-00000000dead", "Operation": "OperationTypeApply",
        "Info": "", "Who": "ci@runner-elsewhere", "Version": "1.0.3",
        "Created": "2026-12-01T10:00:00Z", "Path": path,
    })
    .to_string();
    let backend = std::fs::read_to_string(p.state("nonprod", "app").join("backend.hcl")).unwrap();
    let held_in_table = backend.contains("dynamodb_table");
    if held_in_table {
        moto.python(
            &python(),
            &format!(
                "ddb.put_item(TableName='shop-tf-lock', Item={{'LockID': {{'S': {path:?}}}, 'Info': {{'S': {info:?}}}}})"
            ),
        );
    } else {
        moto.python(
            &python(),
            &format!(
                "s3.put_object(Bucket={BUCKET:?}, Key='shop/nonprod/app/terraform.tfstate.tflock', Body={info:?})"
            ),
        );
    }

    let refused = p.run(&["plan", "-e", "nonprod", "--stage", "app"]);
    assert_eq!(refused.status.code(), Some(1), "{}", show(&refused));
    let err = String::from_utf8_lossy(&refused.stderr);
    for want in [
        "the Terraform state of nonprod/app is locked",
        "held by ci@runner-elsewhere",
        "OperationTypeApply",
        "5b1c2a9e-0000-4000-8000-00000000dead",
        "another host (runner-elsewhere)",
        "`ecomctl unlock -e nonprod --stage app`",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }

    // Without a terminal, only --force releases it.
    let asked = p.run(&["unlock", "-e", "nonprod", "--stage", "app"]);
    assert_eq!(asked.status.code(), Some(1), "{}", show(&asked));
    assert!(String::from_utf8_lossy(&asked.stderr).contains("--force"));
    let unlocked = p.run(&[
        "unlock", "-e", "nonprod", "--stage", "app", "--force", "--output", "json",
    ]);
    assert!(unlocked.status.success(), "{}", show(&unlocked));
    assert_eq!(
        named(&events(&unlocked), "unlocked")[0]["lock_id"],
        "5b1c2a9e-0000-4000-8000-00000000dead"
    );
    let planned = p.run(&["plan", "-e", "nonprod", "--stage", "app"]);
    assert!(planned.status.success(), "{}", show(&planned));
}

#[test]
fn a_state_terraform_could_not_save_is_kept_with_the_stage_and_pushed_by_the_next_run() {
    let (Some(tf), Some(moto)) = (tool("terraform"), Moto::start()) else {
        return;
    };
    let mut p = Project::new(tf, Some(&moto));
    let flag = p.dir.path().join("fail-app-apply");
    let pushed = p.dir.path().join("pushed");
    std::fs::write(&flag, "").unwrap();
    p.fake_terraform(&format!(
        r#"if [ "$1" = apply ] && [ "$(basename "$PWD")" = app ] && [ -e {flag:?} ]; then
  echo '{{"version": 4, "serial": 9}}' > errored.tfstate
  echo "Error: Failed to persist state to backend" >&2
  exit 1
fi
if [ "$1" = state ] && [ "$2" = push ]; then
  echo "$3" > {pushed:?}
  exit 0
fi"#
    ));
    let failed = p.run(&["up", "-e", "nonprod", "--yes"]);
    assert_eq!(failed.status.code(), Some(1), "{}", show(&failed));
    let kept = p.state("nonprod", "app").join("errored.tfstate");
    assert!(kept.exists(), "{}", show(&failed));
    assert!(!p.root().join("stacks/app/errored.tfstate").exists());
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777,
        0o600
    );

    std::fs::remove_file(&flag).unwrap();
    let rerun = up(&p);
    assert!(rerun.status.success(), "{}", show(&rerun));
    assert_eq!(
        std::fs::read_to_string(&pushed).unwrap().trim(),
        kept.display().to_string()
    );
    assert!(!kept.exists());
}
