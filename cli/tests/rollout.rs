//! Rollout failures against the FAKE Kubernetes API server: each ends within seconds (not at the
//! timeout) with the workload, the pod and the reason, and the previous revision is re-applied.

use ecomctl::cluster::apply::{self, ApplyError, ApplyOptions};
use ecomctl::cluster::connect::{Connection, Target};
use ecomctl::cluster::inventory::RevisionStatus;
use ecomctl::cluster::manifest::{self, Manifest};
use ecomctl::cluster::plan::load_inventory;
use fakekube::FakeKube;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn web(image: &str) -> Vec<Manifest> {
    let text = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: shop}}\n---\n\
         apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: shop}}\n\
         spec:\n  replicas: 2\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers: [{{name: web, image: \"{image}\"}}]\n"
    );
    let mut m = manifest::parse("test", &text, None).unwrap();
    manifest::sort(&mut m);
    m
}

fn pod(name: &str, status: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "x"}]}, "status": status})
}

struct Case {
    fake: FakeKube,
    conn: Connection,
    rt: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

/// A cluster with revision 1 (image v1) deployed and healthy, and rollouts no longer automatic.
fn deployed() -> Case {
    let fake = FakeKube::start();
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, fake.kubeconfig()).unwrap();
    let mut conn = Connection::new(Target::Kubeconfig {
        path: Some(kc),
        context: None,
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = conn.cluster().await.unwrap();
        apply::release(c, "t", &web("shop/web:v1"), &[], &opts(), &mut |_| {})
            .await
            .unwrap();
    });
    fake.set_auto_rollout(false);
    Case {
        fake,
        conn,
        rt,
        _dir: dir,
    }
}

fn opts() -> ApplyOptions {
    let mut o = ApplyOptions::default();
    o.watch.timeout = Duration::from_secs(30);
    o.watch.poll = Duration::from_millis(20);
    o.watch.init_limit = Duration::from_millis(300);
    o
}

/// Applies v2 while the test's pods show a failure; returns the error and how long it took.
fn fail_with(case: &mut Case, pods: Vec<Value>, extra: Vec<Value>) -> (String, Duration) {
    for p in pods {
        case.fake.insert(p);
    }
    for e in extra {
        case.fake.insert(e);
    }
    let started = Instant::now();
    let (err, inv) = case.rt.block_on(async {
        let c = case.conn.cluster().await.unwrap();
        let err = apply::release(c, "t", &web("shop/web:v2"), &[], &opts(), &mut |_| {})
            .await
            .unwrap_err();
        (err, load_inventory(c, "t").await.unwrap())
    });
    let elapsed = started.elapsed();
    let ApplyError::Rollout {
        revision,
        rolled_back_to,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!((*revision, *rolled_back_to), (2, Some(1)));
    assert_eq!(inv.get(2).unwrap().status, RevisionStatus::Failed);
    assert_eq!(inv.get(1).unwrap().status, RevisionStatus::Deployed);
    let d = case
        .fake
        .get("apps/v1", "Deployment", Some("shop"), "web")
        .unwrap();
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"][0]["image"], "shop/web:v1",
        "atomic: v1 is back"
    );
    (err.to_string(), elapsed)
}

fn waiting(reason: &str, message: &str) -> Value {
    json!({"phase": "Pending", "containerStatuses": [{"name": "web", "ready": false, "restartCount": 0,
        "image": "x", "imageID": "", "state": {"waiting": {"reason": reason, "message": message}}}]})
}

fn assert_fast(msg: &str, took: Duration, reason: &str) {
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(
        msg.contains("Deployment/web failed to roll out: pod web-1"),
        "{msg}"
    );
    assert!(msg.contains(reason), "{msg}");
}

#[test]
fn image_pull_back_off_fails_at_once() {
    let mut c = deployed();
    let (msg, took) = fail_with(
        &mut c,
        vec![pod(
            "web-1",
            waiting("ImagePullBackOff", "Back-off pulling image \"shop/web:v2\""),
        )],
        vec![],
    );
    assert_fast(
        &msg,
        took,
        "ImagePullBackOff: container web: Back-off pulling image",
    );
}

#[test]
fn err_image_pull_and_config_errors_fail_at_once() {
    let mut c = deployed();
    let (msg, took) = fail_with(
        &mut c,
        vec![pod(
            "web-1",
            waiting(
                "CreateContainerConfigError",
                "secret \"db-credentials\" not found",
            ),
        )],
        vec![],
    );
    assert_fast(
        &msg,
        took,
        "CreateContainerConfigError: container web: secret \"db-credentials\" not found",
    );
    let mut c = deployed();
    let (msg, took) = fail_with(
        &mut c,
        vec![pod("web-1", waiting("ErrImagePull", "manifest unknown"))],
        vec![],
    );
    assert_fast(&msg, took, "ErrImagePull");
}

#[test]
fn crash_loop_shows_exit_code_last_log_lines_and_events() {
    let mut c = deployed();
    let status = json!({"phase": "Running", "containerStatuses": [{"name": "web", "ready": false, "restartCount": 4,
        "image": "x", "imageID": "", "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting"}},
        "lastState": {"terminated": {"exitCode": 3, "reason": "Error"}}}]});
    let logs: String = (1..=30).map(|i| format!("line {i}\n")).collect::<String>()
        + "error: DATABASE_URL is not set";
    c.fake.set_log("shop", "web-1", &logs);
    let event = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "web-1.1", "namespace": "shop"},
        "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "shop"}, "type": "Warning", "reason": "BackOff",
        "message": "Back-off restarting failed container web"});
    let (msg, took) = fail_with(&mut c, vec![pod("web-1", status)], vec![event]);
    assert_fast(&msg, took, "CrashLoopBackOff");
    assert!(msg.contains("(exit code 3)"), "{msg}");
    assert!(
        msg.contains("error: DATABASE_URL is not set") && !msg.contains("line 5\n"),
        "last 20 lines only: {msg}"
    );
    assert!(
        msg.contains("Warning BackOff: Back-off restarting failed container web"),
        "{msg}"
    );
}

#[test]
fn unschedulable_quotes_the_scheduler() {
    let mut c = deployed();
    let status = json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": "0/3 nodes are available: 3 Insufficient memory."}]});
    let (msg, took) = fail_with(&mut c, vec![pod("web-1", status)], vec![]);
    assert_fast(
        &msg,
        took,
        "Unschedulable: 0/3 nodes are available: 3 Insufficient memory.",
    );
}

#[test]
fn a_stuck_init_container_fails_after_its_limit() {
    let mut c = deployed();
    let status = json!({"phase": "Pending", "initContainerStatuses": [{"name": "migrate", "ready": false, "restartCount": 0,
        "image": "x", "imageID": "", "state": {"running": {}}}]});
    let (msg, took) = fail_with(&mut c, vec![pod("web-1", status)], vec![]);
    assert_fast(
        &msg,
        took,
        "InitContainerStuck: init container migrate has been running",
    );
}

#[test]
fn a_pending_pvc_that_cannot_be_provisioned_fails() {
    let mut c = deployed();
    let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data-web-1", "namespace": "shop"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}, "status": {"phase": "Pending"}});
    let event = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "pvc.1", "namespace": "shop"},
        "involvedObject": {"kind": "PersistentVolumeClaim", "name": "data-web-1", "namespace": "shop"}, "type": "Warning",
        "reason": "ProvisioningFailed", "message": "storageclass.storage.k8s.io \"gp9\" not found"});
    let mut p = pod("web-1", json!({"phase": "Pending"}));
    p["spec"]["volumes"] =
        json!([{"name": "data", "persistentVolumeClaim": {"claimName": "data-web-1"}}]);
    let (msg, took) = fail_with(&mut c, vec![p], vec![pvc, event]);
    assert_fast(
        &msg,
        took,
        "PersistentVolumeClaimPending: PVC data-web-1 is Pending",
    );
    assert!(
        msg.contains("ProvisioningFailed: storageclass.storage.k8s.io \"gp9\" not found"),
        "{msg}"
    );
}

#[test]
fn a_rollout_that_never_finishes_times_out_naming_the_workload() {
    let mut c = deployed();
    let mut o = opts();
    o.watch.timeout = Duration::from_millis(500);
    let err = c.rt.block_on(async {
        let cl = c.conn.cluster().await.unwrap();
        apply::release(cl, "t", &web("shop/web:v2"), &[], &o, &mut |_| {})
            .await
            .unwrap_err()
    });
    assert!(
        err.to_string()
            .contains("Deployment/web -n shop failed to roll out: Timeout"),
        "{err}"
    );
}

#[test]
fn live_status_reaches_done_when_the_controller_catches_up() {
    let mut c = deployed();
    let fake = &c.fake;
    let mut seen = Vec::new();
    let result = c.rt.block_on(async {
        let cl = c.conn.cluster().await.unwrap();
        let (v2, o) = (web("shop/web:v2"), opts());
        let mut record = |s: &ecomctl::cluster::watch::WorkloadStatus| seen.push(s.clone());
        let apply = apply::release(cl, "t", &v2, &[], &o, &mut record);
        let controller = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let d = fake.get("apps/v1", "Deployment", Some("shop"), "web").unwrap();
            let g = d["metadata"]["generation"].clone();
            fake.set_status("apps/v1", "Deployment", Some("shop"), "web",
                json!({"observedGeneration": g, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}));
        };
        let (r, ()) = tokio::join!(apply, controller);
        r
    });
    let report = result.unwrap();
    assert_eq!(report.revision, 2);
    assert!(
        !seen.first().unwrap().done && seen.last().unwrap().done,
        "{seen:?}"
    );
    assert_eq!(seen.last().unwrap().available, 2);
}
