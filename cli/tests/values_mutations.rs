//! Configs that `validate` accepts must render values the chart accepts too: dozens of variants
//! of examples/full.yaml (replicas, PDB, HPA of a service) are validated and rendered by
//! ecomctl, and every one it accepts goes through the real `helm template`.

mod support;

use ecomctl::render::{RenderOptions, Renderer, Stage};
use ecomctl::tools::version::Version;
use std::path::Path;
use std::process::Command;

const NONPROD_SERVICES: &str = "    services:
      catalog:
        replicas: 2
        pdb: { min_available: 1 }
      orders:
        replicas: 2
";

fn variants() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for replicas in [1, 2, 3] {
        for pdb in [None, Some(0), Some(1), Some(2), Some(3)] {
            for hpa in [None, Some((1, 3)), Some((2, 4)), Some((3, 6)), Some((4, 2))] {
                let mut block =
                    format!("    services:\n      catalog:\n        replicas: {replicas}\n");
                if let Some(p) = pdb {
                    block += &format!("        pdb: {{ min_available: {p} }}\n");
                }
                if let Some((min, max)) = hpa {
                    block +=
                        &format!("        hpa: {{ min_replicas: {min}, max_replicas: {max} }}\n");
                }
                let name = format!("replicas={replicas} pdb={pdb:?} hpa={hpa:?}");
                out.push((name, block));
            }
        }
    }
    out
}

/// Every foundation and app output the platform values read (support::outputs).
fn write_outputs(state: &Path) {
    support::outputs::FakeEnv {
        env: "nonprod",
        account: "222222222222",
        amp: false,
    }
    .write(state);
}

#[test]
fn every_config_validate_accepts_is_accepted_by_helm_template() {
    let Some(helm) = support::tool("helm") else {
        return;
    };
    let repo = support::repo();
    let base = std::fs::read_to_string(repo.join("examples/full.yaml")).unwrap();
    assert!(
        base.contains(NONPROD_SERVICES),
        "examples/full.yaml changed: update this test"
    );
    let dir = tempfile::tempdir().unwrap();
    write_outputs(&dir.path().join("state"));
    let renderer = Renderer::new(&repo).unwrap();
    let opts = RenderOptions {
        env: Some("nonprod".into()),
        stage: Some(Stage::Cluster),
        terraform: Version::parse("1.11.0").unwrap(),
        state_dir: dir.path().join("state"),
        aws_endpoint: None,
        assume_roles: false,
    };
    let (mut accepted, mut refused, mut broken) = (0, 0, Vec::new());
    for (name, block) in variants() {
        let path = dir.path().join("ecomctl.yaml");
        std::fs::write(&path, base.replace(NONPROD_SERVICES, &block)).unwrap();
        let Ok(loaded) = ecomctl::config::load(&path) else {
            refused += 1;
            continue;
        };
        let Ok(files) = renderer.render(&loaded, &opts) else {
            refused += 1;
            continue;
        };
        accepted += 1;
        let values = files
            .iter()
            .find(|f| f.path.ends_with("values.yaml"))
            .unwrap();
        let vpath = dir.path().join("values.yaml");
        std::fs::write(&vpath, &values.contents).unwrap();
        let out = Command::new(&helm)
            .args(["template", "ecommerce"])
            .arg(repo.join("charts/platform"))
            .args(["-n", "ecommerce", "-f"])
            .arg(&vpath)
            .output()
            .unwrap();
        if !out.status.success() {
            broken.push(format!(
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    assert!(
        broken.is_empty(),
        "validate accepted, helm refused:\n{}",
        broken.join("\n")
    );
    assert!(
        accepted >= 20 && refused >= 10,
        "accepted {accepted}, refused {refused}"
    );
}
