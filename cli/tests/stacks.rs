//! The Terraform stacks and ecomctl agree: every `.tf` file parses with hcl-rs, and every stack
//! variable is either set by rendering `examples/full.yaml` or has a default.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn tf_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != ".terraform") {
                tf_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "tf") {
            out.push(p);
        }
    }
}

#[test]
fn every_tf_file_parses() {
    let mut files = Vec::new();
    tf_files(&repo().join("stacks"), &mut files);
    assert!(files.len() > 20, "found only {} .tf files", files.len());
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| {
            hcl::parse(&std::fs::read_to_string(f).unwrap())
                .err()
                .map(|e| format!("{}: {e}", f.display()))
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_stack_variable_is_rendered_or_defaulted() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = repo().join("examples/full.yaml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ecomctl"))
        .args([
            "render",
            "-c",
            cfg.to_str().unwrap(),
            "--out",
            dir.path().to_str().unwrap(),
            "--terraform-version",
            "1.0.3",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (stack, scope) in [
        ("bootstrap", "global"),
        ("foundation", "prod"),
        ("foundation", "nonprod"),
        ("app", "prod"),
    ] {
        let vars =
            ecomctl::render::tfvars::stack_variables(&repo().join("stacks").join(stack)).unwrap();
        assert!(!vars.is_empty());
        let rendered: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(
                dir.path()
                    .join(scope)
                    .join(stack)
                    .join("terraform.tfvars.json"),
            )
            .unwrap(),
        )
        .unwrap();
        for v in vars {
            let set = rendered.get(&v.name).is_some();
            assert!(
                set || !v.required,
                "{stack}: `{}` is required but not rendered",
                v.name
            );
            assert!(
                !(v.sensitive && set),
                "{stack}: sensitive `{}` must not be rendered into tfvars",
                v.name
            );
        }
    }
}
