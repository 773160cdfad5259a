//! Rendering the examples: snapshots, determinism, drift checks, and agreement with the stacks.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn ecomctl(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ecomctl"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("ECOMCTL_ROOT")
        .output()
        .expect("run ecomctl")
}

fn render(example: &str, out: &Path, extra: &[&str]) -> Output {
    let config = repo().join("examples").join(example);
    let mut args = vec![
        "render",
        "-c",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--terraform-version",
        "1.0.3",
    ];
    args.extend_from_slice(extra);
    ecomctl(&repo(), &args)
}

/// Every file under `dir`, relative, sorted, with its contents.
fn tree(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read_to_string(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn full_example_renders_every_stage_for_both_environments() {
    let dir = tempfile::tempdir().unwrap();
    let out = render("full.yaml", dir.path(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files: Vec<String> = tree(dir.path()).into_iter().map(|(p, _)| p).collect();
    for want in [
        "global/bootstrap/terraform.tfvars.json",
        "global/bootstrap/backend.hcl",
        "nonprod/foundation/terraform.tfvars.json",
        "nonprod/app/terraform.tfvars.json",
        "nonprod/cluster/values.yaml",
        "nonprod/cluster/priming/namespaces.yaml",
        "nonprod/cluster/priming/quotas.yaml",
        "prod/foundation/backend.hcl",
        "prod/app/backend.hcl",
        "prod/cluster/values.yaml",
    ] {
        assert!(
            files.iter().any(|f| f == want),
            "{want} missing from {files:?}"
        );
    }
    // Every written path is printed on stdout (data), the summary on stderr.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), files.len());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("rendered {} files", files.len()))
    );
}

#[test]
fn rendering_is_byte_for_byte_deterministic() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    assert!(render("full.yaml", a.path(), &[]).status.success());
    assert!(render("full.yaml", b.path(), &[]).status.success());
    assert_eq!(tree(a.path()), tree(b.path()));
    // A second run into the same place changes nothing.
    let again = render("full.yaml", a.path(), &[]);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("(0 changed)"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[test]
fn snapshots_of_the_examples() {
    for example in ["full.yaml", "minimal.yaml"] {
        let dir = tempfile::tempdir().unwrap();
        let out = render(example, dir.path(), &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for (path, contents) in tree(dir.path()) {
            let name = format!(
                "{}__{}",
                example.trim_end_matches(".yaml"),
                path.replace('/', "__")
            );
            insta::assert_snapshot!(name, contents);
        }
    }
}

#[test]
fn backend_follows_the_terraform_version() {
    let old = tempfile::tempdir().unwrap();
    let new = tempfile::tempdir().unwrap();
    let cfg = repo().join("examples/full.yaml");
    for (dir, version) in [(&old, "1.0.3"), (&new, "1.11.4")] {
        let out = Command::new(env!("CARGO_BIN_EXE_ecomctl"))
            .args([
                "render",
                "-c",
                cfg.to_str().unwrap(),
                "--out",
                dir.path().to_str().unwrap(),
                "--terraform-version",
                version,
                "--stage",
                "bootstrap",
            ])
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let old = std::fs::read_to_string(old.path().join("global/bootstrap/backend.hcl")).unwrap();
    let new = std::fs::read_to_string(new.path().join("global/bootstrap/backend.hcl")).unwrap();
    assert!(
        old.contains("dynamodb_table = \"shop-tf-lock\"")
            && old.contains("force_path_style  = true")
            && old.contains("endpoint          = \"http://127.0.0.1:4566\""),
        "{old}"
    );
    assert!(
        new.contains("use_lockfile = true")
            && new.contains("use_path_style = true")
            && new.contains("endpoints = {"),
        "{new}"
    );
    assert!(old.contains("key        = \"shop/global/bootstrap/terraform.tfstate\""));
}

#[test]
fn check_reports_drift_with_exit_4_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = render("full.yaml", dir.path(), &["--check"]);
    assert_eq!(
        missing.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    assert!(!dir.path().join("prod").exists(), "--check wrote files");
    assert!(render("full.yaml", dir.path(), &[]).status.success());
    let clean = render("full.yaml", dir.path(), &["--check"]);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stderr)
    );
    let edited = dir.path().join("prod/cluster/values.yaml");
    std::fs::write(&edited, "hand edit\n").unwrap();
    let drift = render("full.yaml", dir.path(), &["--check"]);
    assert_eq!(drift.status.code(), Some(4));
    assert_eq!(
        String::from_utf8_lossy(&drift.stdout).trim(),
        edited.display().to_string()
    );
    assert_eq!(std::fs::read_to_string(&edited).unwrap(), "hand edit\n");
}

#[test]
fn one_env_and_stage_and_unknown_env() {
    let dir = tempfile::tempdir().unwrap();
    let out = render(
        "full.yaml",
        dir.path(),
        &["-e", "prod", "--stage", "foundation"],
    );
    assert!(out.status.success());
    let files: Vec<String> = tree(dir.path()).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        files,
        vec![
            "prod/foundation/backend.hcl",
            "prod/foundation/terraform.tfvars.json"
        ]
    );
    let bad = render("full.yaml", dir.path(), &["-e", "prd"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("did you mean `prod`?"));
}

#[test]
fn json_output_is_ndjson_events() {
    let dir = tempfile::tempdir().unwrap();
    let out = render("minimal.yaml", dir.path(), &["--output", "json"]);
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "json mode keeps stderr quiet: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e["event"] == "rendered"));
    assert!(events
        .iter()
        .any(|e| e["stage"] == "foundation" && e["scope"] == "nonprod"));
}

#[test]
fn secrets_are_never_rendered() {
    let dir = tempfile::tempdir().unwrap();
    assert!(render("full.yaml", dir.path(), &[]).status.success());
    for (path, contents) in tree(dir.path()) {
        assert!(
            !contents.contains("SHOP_SMOKE_TEST_PASSWORD"),
            "{path} names the password variable"
        );
        assert!(
            !contents.contains("dummy_user_temp_password"),
            "{path} sets the password"
        );
    }
}

/// A template that sets a variable the stack lacks, or leaves a required one unset, is refused
/// with the template and variable named, and nothing is written.
#[test]
fn tfvars_are_checked_against_the_stack() {
    let root = tempfile::tempdir().unwrap();
    for dir in ["stacks", "charts", "cluster"] {
        copy_dir(&repo().join(dir), &root.path().join(dir));
    }
    let template = root.path().join("stacks/app/ecomctl.tfvars.json.tera");
    let text = std::fs::read_to_string(&template).unwrap();
    let text = text.replace("\"db_name\":", "\"db_nmae\":").replace(
        "\"enable_amp\": {{ env.observability.amp }}",
        "\"enable_amp\": \"yes\"",
    );
    std::fs::write(&template, text).unwrap();
    let out_dir = root.path().join("out");
    let cfg = repo().join("examples/full.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_ecomctl"))
        .args([
            "render",
            "-c",
            cfg.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--terraform-version",
            "1.0.3",
        ])
        .env("ECOMCTL_ROOT", root.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("stacks/app/ecomctl.tfvars.json.tera:")
            && stderr
                .contains("db_nmae: the stack has no variable `db_nmae`; did you mean `db_name`?"),
        "{stderr}"
    );
    assert!(
        stderr.contains("db_name: required variable `db_name` is not set"),
        "{stderr}"
    );
    assert!(
        stderr.contains("enable_amp: expected a bool, found a string"),
        "{stderr}"
    );
    assert!(!out_dir.exists(), "nothing may be written");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}
