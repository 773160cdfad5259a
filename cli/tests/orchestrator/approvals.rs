//! Approvals: a stateful loss needs the plan hash (or the env name typed on a terminal), `down`, and the policy gate.

use super::*;

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
pub(crate) const SPINNER_FRAMES: [char; 8] = ['⠁', '⠂', '⠄', '⡀', '⢀', '⠠', '⠐', '⠈'];

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
