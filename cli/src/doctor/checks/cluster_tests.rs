use super::*;
use crate::doctor::model::Status;
use serde_json::json;

fn obj<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
    serde_json::from_value(v).unwrap()
}

const REG: &str = "222222222222.dkr.ecr.us-east-1.amazonaws.com/";

fn good() -> Snapshot {
    Snapshot {
        namespaces: vec![obj(
            json!({"metadata": {"name": "ecommerce", "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}),
        )],
        network_policies: vec![obj(
            json!({"metadata": {"name": "default-deny", "namespace": "ecommerce"},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}),
        )],
        daemonsets: vec![obj(
            json!({"metadata": {"name": "calico-node", "namespace": "calico-system"},
            "spec": {"selector": {}, "template": {"spec": {"containers": [{"name": "calico-node"}]}}},
            "status": {"currentNumberScheduled": 2, "desiredNumberScheduled": 2, "numberMisscheduled": 0, "numberReady": 2}}),
        )],
        deployments: vec![obj(
            json!({"metadata": {"name": "catalog", "namespace": "ecommerce"},
            "spec": {"replicas": 2, "selector": {}, "template": {"metadata": {"labels": {"app": "catalog"}}}}}),
        )],
        pdbs: vec![obj(
            json!({"metadata": {"name": "catalog", "namespace": "ecommerce"},
            "spec": {"selector": {"matchLabels": {"app": "catalog"}}}}),
        )],
        pods: vec![pod(
            "catalog-1",
            json!({"runAsNonRoot": true, "runAsUser": 10001}),
        )],
        service_accounts: vec![],
        statefulsets: vec![],
    }
}

fn pod(name: &str, security: serde_json::Value) -> Pod {
    obj(json!({"metadata": {"name": name, "namespace": "ecommerce"},
        "spec": {"automountServiceAccountToken": false, "securityContext": security,
                 "containers": [{"name": "app", "image": format!("{REG}catalog@sha256:{}", "a".repeat(64))}]}}))
}

fn failing(out: &[Outcome]) -> Vec<(String, String)> {
    out.iter()
        .filter(|o| o.status == Status::Fail)
        .map(|o| (o.id.clone(), o.resource.clone()))
        .collect()
}

#[test]
fn a_compliant_cluster_passes_every_check() {
    let out = judge(
        &good(),
        &Expect {
            registry: REG.into(),
        },
    );
    assert!(failing(&out).is_empty(), "{:?}", failing(&out));
    assert_eq!(out.len(), 7);
}

#[test]
fn a_namespace_without_pss_labels_fails() {
    let mut s = good();
    s.namespaces
        .push(obj(json!({"metadata": {"name": "scratch"}})));
    let f = failing(&judge(
        &s,
        &Expect {
            registry: REG.into(),
        },
    ));
    assert!(
        f.contains(&("ECOM-DOC-CL-001".into(), "Namespace/scratch".into())),
        "{f:?}"
    );
    // and, being an application namespace, it has no default deny either
    assert!(
        f.contains(&("ECOM-DOC-CL-002".into(), "Namespace/scratch".into())),
        "{f:?}"
    );
}

#[test]
fn a_pod_running_as_root_fails() {
    let mut s = good();
    s.pods.push(pod("root-1", json!({"runAsUser": 0})));
    s.pods.push(pod("unset-1", json!({})));
    let f = failing(&non_root(&s));
    assert_eq!(
        f,
        vec![
            (
                "ECOM-DOC-CL-005".to_string(),
                "Pod/ecommerce/root-1".to_string()
            ),
            (
                "ECOM-DOC-CL-005".to_string(),
                "Pod/ecommerce/unset-1".to_string()
            )
        ]
    );
}

#[test]
fn images_tokens_pdbs_and_engine_are_checked() {
    let mut s = good();
    s.pods.push(obj(json!({"metadata": {"name": "x", "namespace": "ecommerce"},
        "spec": {"securityContext": {"runAsNonRoot": true}, "containers": [{"name": "a", "image": "docker.io/nginx:latest"}]}})));
    s.deployments[0] = obj(
        json!({"metadata": {"name": "orders", "namespace": "ecommerce"},
        "spec": {"replicas": 3, "selector": {}, "template": {"metadata": {"labels": {"app": "orders"}}}}}),
    );
    s.daemonsets.clear();
    let f = failing(&judge(
        &s,
        &Expect {
            registry: REG.into(),
        },
    ));
    let ids: Vec<&str> = f.iter().map(|(i, _)| i.as_str()).collect();
    for id in [
        "ECOM-DOC-CL-003",
        "ECOM-DOC-CL-004",
        "ECOM-DOC-CL-006",
        "ECOM-DOC-CL-007",
    ] {
        assert!(ids.contains(&id), "{id} should fail: {f:?}");
    }
}

struct Fixed(Result<Snapshot, String>);

impl ClusterView for Fixed {
    fn snapshot(&self) -> Result<Snapshot, String> {
        self.0.clone()
    }
}

#[test]
fn an_unreachable_cluster_is_skipped_not_failed() {
    let ctx = crate::doctor::tests_support::context(&["nonprod"]);
    let run = run_with(
        &ctx,
        &Fixed(Err("cluster not reachable: connection refused".into())),
    );
    assert!(run.outcomes.iter().all(|o| o.status == Status::Skip));
    assert!(run.outcomes[0].message.contains("connection refused"));
}
