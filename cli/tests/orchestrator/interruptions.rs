//! Failed, hung and interrupted applies, stale plans, upstream outputs and state locks: each run that stops half-way, and the rerun that resumes.

use super::*;

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
