//! The cluster group against the FAKE Kubernetes API server, and image scanning.

use super::*;

/// The cluster group against the FAKE Kubernetes API server (crates/fakekube): the real kube-rs
/// client lists the objects over HTTP from a kubeconfig.
fn doctor_against_fake_cluster(setup: impl FnOnce(&fakekube::FakeKube)) -> Value {
    let fake = fakekube::FakeKube::start();
    let ns = |name: &str, labelled: bool| {
        let labels = if labelled {
            serde_json::json!({"pod-security.kubernetes.io/enforce": "restricted"})
        } else {
            serde_json::json!({})
        };
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
    };
    for name in ["default", "kube-system", "kube-public", "ecommerce"] {
        fake.insert(ns(name, true));
    }
    setup(&fake);
    let d = Doctor::new(None);
    let kubeconfig = d.path("kubeconfig");
    std::fs::write(&kubeconfig, fake.kubeconfig()).unwrap();
    let mut cmd = d.command(&["-e", "nonprod", "--only", "cluster", "--format", "json"]);
    cmd.env("KUBECONFIG", &kubeconfig);
    let out = cmd.output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", show(&out)))
}

fn failed_resources(doc: &Value, id: &str) -> Vec<String> {
    outcomes(doc, id)
        .iter()
        .filter(|o| o["status"] == "fail")
        .map(|o| o["resource"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn fake_cluster_a_namespace_without_pss_labels_fails() {
    let doc = doctor_against_fake_cluster(|fake| {
        fake.insert(serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "scratch"}}));
    });
    assert_eq!(
        failed_resources(&doc, "ECOM-DOC-CL-001"),
        vec!["Namespace/scratch"],
        "{doc:#}"
    );
    let def = doctor_rule("ECOM-DOC-CL-001");
    assert!(def.pci_dss.contains(&"2.2.1".to_string()) && def.soc2.contains(&"CC6.8".to_string()));
    assert_eq!(doc["failed"], true);
}

#[test]
fn fake_cluster_a_pod_running_as_root_fails() {
    let image = format!(
        "222222222222.dkr.ecr.us-east-1.amazonaws.com/catalog@sha256:{}",
        "a".repeat(64)
    );
    let doc = doctor_against_fake_cluster(|fake| {
        for (name, security) in [
            (
                "catalog-ok",
                serde_json::json!({"runAsNonRoot": true, "runAsUser": 10001}),
            ),
            ("catalog-root", serde_json::json!({"runAsUser": 0})),
        ] {
            fake.insert(serde_json::json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": "ecommerce"},
                "spec": {"automountServiceAccountToken": false, "securityContext": security,
                         "containers": [{"name": "app", "image": image}]}}));
        }
    });
    assert_eq!(
        failed_resources(&doc, "ECOM-DOC-CL-005"),
        vec!["Pod/ecommerce/catalog-root"],
        "{doc:#}"
    );
    assert!(
        failed_resources(&doc, "ECOM-DOC-CL-006").is_empty(),
        "{doc:#}"
    );
    assert!(
        failed_resources(&doc, "ECOM-DOC-CL-001").is_empty(),
        "{doc:#}"
    );
}

#[test]
fn image_scanning_is_reported_as_skipped_without_a_scanner_and_passes_with_one() {
    let d = Doctor::new(None);
    let empty = d.path("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let (_, doc) = d.json_with_path(&empty, &["--offline", "--only", "tools"]);
    let o = outcomes(&doc, "ECOM-DOC-TOOL-005");
    assert_eq!(o.len(), 1);
    assert_eq!(o[0]["status"], "skip", "{}", o[0]);
    assert!(
        o[0]["message"]
            .as_str()
            .unwrap()
            .contains("no image scanner installed"),
        "{}",
        o[0]
    );
    // A FAKE trivy (an empty script, never run by the doctor) is found on PATH.
    let fake = d.path("fake-scanner-bin");
    std::fs::create_dir_all(&fake).unwrap();
    let trivy = fake.join("trivy");
    std::fs::write(&trivy, "#!/bin/sh\n# FAKE trivy for tests\nexit 0\n").unwrap();
    std::fs::set_permissions(
        &trivy,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
    )
    .unwrap();
    let (_, doc) = d.json_with_path(&fake, &["--offline", "--only", "tools"]);
    assert_eq!(status(&doc, "ECOM-DOC-TOOL-005"), ["pass"]);
}

impl Doctor {
    /// `json` with PATH set to `path` only.
    fn json_with_path(&self, path: &Path, args: &[&str]) -> (Option<i32>, Value) {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let out = self.command(&all).env("PATH", path).output().unwrap();
        let doc =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", show(&out)));
        (out.status.code(), doc)
    }
}
