//! The CLI's own surface: init, schema, docs, completions, help.

use std::path::Path;
use std::process::{Command, Output};

fn ecomctl(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ecomctl"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run ecomctl")
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

#[test]
fn init_writes_a_valid_starter_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = ecomctl(dir.path(), &["init"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(dir.path().join("ecomctl.yaml")).unwrap();
    assert!(
        written
            .lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .count()
            >= 5,
        "the starter is commented"
    );
    assert!(ecomctl(dir.path(), &["validate"]).status.success());
    std::fs::write(dir.path().join("ecomctl.yaml"), "mine\n").unwrap();
    let again = ecomctl(dir.path(), &["init"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("ecomctl.yaml")).unwrap(),
        "mine\n"
    );
}

#[test]
fn schema_is_json_schema_with_descriptions() {
    let out = ecomctl(repo(), &["config", "schema"]);
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(schema["$schema"]
        .as_str()
        .unwrap()
        .contains("json-schema.org"));
    assert_eq!(schema["additionalProperties"], false);
    assert!(schema["properties"]["environments"]["description"].is_string());
}

#[test]
fn config_reference_is_up_to_date() {
    let out = ecomctl(repo(), &["config", "docs"]);
    assert!(out.status.success());
    let on_disk = std::fs::read_to_string(repo().join("docs/reference/config.md")).unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout) == on_disk,
        "docs/reference/config.md is stale: run `cargo run -p ecomctl -- config docs > docs/reference/config.md`"
    );
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = ecomctl(repo(), &["completions", shell]);
        assert!(out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("render"),
            "{shell}"
        );
    }
}

#[test]
fn help_shows_examples_and_usage_errors_exit_2() {
    let out = ecomctl(repo(), &["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Examples:") && help.contains("ecomctl render --check"),
        "{help}"
    );
    assert_eq!(
        ecomctl(repo(), &["render", "--stage", "nope"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn examples_validate() {
    for example in ["examples/minimal.yaml", "examples/full.yaml"] {
        let out = ecomctl(repo(), &["validate", "-c", example]);
        assert!(
            out.status.success(),
            "{example}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn settings_are_read_once_and_a_bad_value_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("examples/minimal.yaml"),
        dir.path().join("ecomctl.yaml"),
    )
    .unwrap();
    for (var, value) in [
        ("ECOMCTL_LOCK_TIMEOUT", "abc"),
        ("ECOMCTL_STALL_TIMEOUT", "-1"),
        ("ECOMCTL_INTERRUPT_GRACE", "soon"),
        ("ECOMCTL_ASSUME_ROLE", "maybe"),
        ("ECOMCTL_FORCE_CONFLICTS", "perhaps"),
        ("ECOMCTL_ROLLOUT_TIMEOUT", "ten"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_ecomctl"))
            .args(["validate"])
            .current_dir(dir.path())
            .env(var, value)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {err}");
        assert!(err.contains(value), "{var}={value}: {err}");
    }
    let help = ecomctl(dir.path(), &["--help"]);
    let text = String::from_utf8_lossy(&help.stdout);
    for var in [
        "ECOMCTL_TERRAFORM",
        "ECOMCTL_PLUGIN_DIR",
        "ECOMCTL_ROOT",
        "ECOMCTL_ASSUME_ROLE",
        "ECOMCTL_INTERRUPT_GRACE",
        "ECOMCTL_LOCK_TIMEOUT",
        "ECOMCTL_STALL_TIMEOUT",
        "ECOMCTL_KUBECONFIG",
        "ECOMCTL_KUBE_CONTEXT",
        "ECOMCTL_FORCE_CONFLICTS",
        "ECOMCTL_ROLLOUT_TIMEOUT",
        "ECOMCTL_HELM",
        "ECOMCTL_KUBECTL",
        "ECOMCTL_CHECKOV",
        "AWS_ENDPOINT_URL",
    ] {
        assert!(text.contains(var), "--help does not list {var}:\n{text}");
    }
}

#[test]
fn a_command_without_a_config_suggests_init() {
    let dir = tempfile::tempdir().unwrap();
    let out = ecomctl(dir.path(), &["status"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("ecomctl init"), "{err}");
}
