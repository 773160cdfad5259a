//! The cluster stage against the FAKE Kubernetes API server (crates/fakekube): the whole
//! platform rendered from examples/full.yaml through the real Helm, planned by server-side-apply
//! dry run, applied in dependency order, pruned, rolled back, conflicts reported.

mod support;

use ecomctl::cluster::apply::{self, ApplyOptions};
use ecomctl::cluster::connect::{Connection, Target};
use ecomctl::cluster::manifest::Manifest;
use ecomctl::cluster::plan::{self, Action};
use ecomctl::cluster::{source, ClusterError};
use ecomctl::render::{RenderOptions, Renderer, Stage};
use ecomctl::tools::version::Version;
use fakekube::FakeKube;
use serde_json::json;
use std::path::Path;
use support::outputs::FakeEnv;

/// Every foundation and app output the platform values read (support::outputs).
fn write_outputs(state: &Path, env: &str) {
    FakeEnv {
        env,
        account: "222222222222",
        amp: true,
    }
    .write(state);
}

fn render(state: &Path) -> Vec<ecomctl::render::RenderedFile> {
    let repo = support::repo();
    let loaded = ecomctl::config::load(&repo.join("examples/full.yaml")).unwrap();
    let renderer = Renderer::new(&repo).unwrap();
    let opts = RenderOptions {
        env: Some("nonprod".into()),
        stage: Some(Stage::Cluster),
        terraform: Version::parse("1.11.0").unwrap(),
        state_dir: state.to_path_buf(),
        aws_endpoint: None,
        assume_roles: false,
    };
    renderer.render(&loaded, &opts).unwrap()
}

/// The platform's manifests for nonprod, through the real Helm. None (skip) outside CI when
/// helm is missing.
fn platform(dir: &Path) -> Option<Vec<Manifest>> {
    let helm = support::tool("helm")?;
    let state = dir.join("state");
    write_outputs(&state, "nonprod");
    let files = render(&state);
    let chart = support::repo().join("charts/platform");
    Some(source::manifests(&files, &chart, &helm, Some("1.33.0"), &dir.join("work")).unwrap())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The AWS Load Balancer Controller's TargetGroupBinding CRD, as if the controller were installed
/// (the platform chart binds target groups through it).
fn with_lb_controller_crd(fake: &FakeKube) {
    fake.insert(json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "targetgroupbindings.elbv2.k8s.aws"},
        "spec": {"group": "elbv2.k8s.aws", "scope": "Namespaced",
            "names": {"kind": "TargetGroupBinding", "plural": "targetgroupbindings", "singular": "targetgroupbinding"},
            "versions": [{"name": "v1beta1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}}));
}

fn connect(fake: &FakeKube, dir: &Path) -> Connection {
    with_lb_controller_crd(fake);
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, fake.kubeconfig()).unwrap();
    Connection::new(Target::Kubeconfig {
        path: Some(kubeconfig),
        context: None,
    })
}

fn quick() -> ApplyOptions {
    let mut o = ApplyOptions::default();
    o.watch.timeout = std::time::Duration::from_secs(10);
    o.watch.poll = std::time::Duration::from_millis(20);
    o
}

#[test]
fn pending_upstream_outputs_are_refused_before_anything_is_applied() {
    let Some(helm) = support::tool("helm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let files = render(&dir.path().join("no-state"));
    let err = source::manifests(
        &files,
        &support::repo().join("charts/platform"),
        &helm,
        None,
        dir.path(),
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("app.db_host") && msg.contains("foundation.vpc_cidr"),
        "{msg}"
    );
    assert!(err.hint().unwrap().contains("foundation and app"));
}

#[test]
fn the_platform_is_applied_in_dependency_order_then_a_second_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let Some(manifests) = platform(dir.path()) else {
        return;
    };
    let fake = FakeKube::start();
    let rt = rt();
    let mut conn = connect(&fake, dir.path());
    rt.block_on(async {
        let cluster = conn.cluster().await.unwrap();
        let p = plan::plan(cluster, "nonprod", &manifests, &[], false)
            .await
            .unwrap();
        assert_eq!(p.count(Action::Create), manifests.len());
        assert_eq!(p.revision, 1);
        fake.clear_requests();
        let report = apply::release(cluster, "nonprod", &manifests, &[], &quick(), &mut |_| {})
            .await
            .unwrap();
        assert_eq!((report.revision, report.applied), (1, manifests.len()));

        // Every object arrived as a server-side apply from `ecomctl`, in dependency order.
        let applied: Vec<String> = fake
            .requests()
            .into_iter()
            .filter(|r| r.method == "PATCH" && !r.path.contains("ecomctl-release-"))
            .inspect(|r| {
                assert_eq!(r.content_type, "application/apply-patch+yaml");
                assert_eq!(r.field_manager.as_deref(), Some("ecomctl"));
                assert!(!r.dry_run);
            })
            .map(|r| r.path)
            .collect();
        assert_eq!(applied.len(), manifests.len());
        let first = |needle: &str| {
            applied
                .iter()
                .position(|p| p.contains(needle))
                .unwrap_or_else(|| panic!("{needle} not applied"))
        };
        let last = |needle: &str| applied.iter().rposition(|p| p.contains(needle)).unwrap();
        assert!(
            last("/api/v1/namespaces/") < first("/resourcequotas/")
                || !applied[0].contains("resourcequotas")
        );
        assert!(last("/resourcequotas/") < first("/serviceaccounts/"));
        assert!(last("/serviceaccounts/") < first("/configmaps/"));
        assert!(last("/configmaps/") < first("/deployments/"));
        assert!(
            last("/deployments/").max(last("/statefulsets/")) < first("/targetgroupbindings/")
                || !applied.iter().any(|p| p.contains("targetgroupbindings"))
        );
        let ns = fake.get("v1", "Namespace", None, "ecommerce").unwrap();
        assert_eq!(
            ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
            "restricted"
        );
        let deploy = fake
            .get(
                "apps/v1",
                "Deployment",
                Some("ecommerce"),
                "ecommerce-catalog",
            )
            .unwrap();
        assert_eq!(deploy["metadata"]["managedFields"][0]["manager"], "ecomctl");

        // A second run: the plan is all unchanged and applying writes nothing new.
        let rv_before = deploy["metadata"]["resourceVersion"].clone();
        let again = plan::plan(cluster, "nonprod", &manifests, &[], false)
            .await
            .unwrap();
        assert!(
            !again.has_changes(),
            "{:?}",
            again
                .changes
                .iter()
                .filter(|c| c.action != Action::Unchanged)
                .collect::<Vec<_>>()
        );
        apply::release(cluster, "nonprod", &manifests, &[], &quick(), &mut |_| {})
            .await
            .unwrap();
        let deploy = fake
            .get(
                "apps/v1",
                "Deployment",
                Some("ecommerce"),
                "ecommerce-catalog",
            )
            .unwrap();
        assert_eq!(deploy["metadata"]["resourceVersion"], rv_before);
    });
}

#[test]
fn a_dropped_object_is_pruned_and_rollback_brings_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let Some(manifests) = platform(dir.path()) else {
        return;
    };
    let fake = FakeKube::start();
    let rt = rt();
    let mut conn = connect(&fake, dir.path());
    rt.block_on(async {
        let cluster = conn.cluster().await.unwrap();
        apply::release(cluster, "nonprod", &manifests, &[], &quick(), &mut |_| {})
            .await
            .unwrap();
        let fewer: Vec<Manifest> = manifests
            .iter()
            .filter(|m| !(m.id.kind == "PodDisruptionBudget" && m.id.name == "ecommerce-catalog"))
            .cloned()
            .collect();
        assert_eq!(fewer.len() + 1, manifests.len());
        let p = plan::plan(cluster, "nonprod", &fewer, &[], false)
            .await
            .unwrap();
        let deletes: Vec<_> = p
            .changes
            .iter()
            .filter(|c| c.action == Action::Delete)
            .collect();
        assert_eq!(deletes.len(), 1);
        assert_eq!(deletes[0].object.name, "ecommerce-catalog");
        let report = apply::release(cluster, "nonprod", &fewer, &[], &quick(), &mut |_| {})
            .await
            .unwrap();
        assert_eq!(report.revision, 2);
        assert_eq!(report.pruned.len(), 1);
        assert!(fake
            .get(
                "policy/v1",
                "PodDisruptionBudget",
                Some("ecommerce"),
                "ecommerce-catalog"
            )
            .is_none());

        let back = apply::rollback(cluster, "nonprod", Some(1), &quick(), &mut |_| {})
            .await
            .unwrap();
        assert_eq!(back.revision, 3);
        assert!(fake
            .get(
                "policy/v1",
                "PodDisruptionBudget",
                Some("ecommerce"),
                "ecommerce-catalog"
            )
            .is_some());
        let err = apply::rollback(cluster, "nonprod", Some(9), &quick(), &mut |_| {})
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("no revision 9 (kept: 1, 2, 3)"),
            "{err}"
        );

        // `down`: everything the release applied and its inventory go.
        let removed = apply::remove(cluster, "nonprod").await.unwrap();
        assert!(removed.len() >= manifests.len());
        assert!(fake.get("v1", "Namespace", None, "ecommerce").is_none());
        assert!(fake.list_kind("apps/v1", "Deployment").is_empty());
        assert!(fake
            .get(
                "v1",
                "ConfigMap",
                Some("kube-system"),
                "ecomctl-release-nonprod"
            )
            .is_none());
    });
}

#[test]
fn a_field_another_manager_owns_is_a_reported_conflict_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let Some(manifests) = platform(dir.path()) else {
        return;
    };
    let fake = FakeKube::start();
    let rt = rt();
    let mut conn = connect(&fake, dir.path());
    rt.block_on(async {
        let cluster = conn.cluster().await.unwrap();
        apply::release(cluster, "nonprod", &manifests, &[], &quick(), &mut |_| {}).await.unwrap();
        // Someone scales catalog by hand (`kubectl apply --server-side --force-conflicts`).
        let catalog = manifests.iter().find(|m| m.id.kind == "Deployment" && m.id.name == "ecommerce-catalog").unwrap();
        let mut theirs = catalog.clone();
        theirs.value = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "ecommerce-catalog", "namespace": "ecommerce"}, "spec": {"replicas": 5}});
        let kubectl = kube::api::Api::<kube::api::DynamicObject>::namespaced_with(
            cluster.client.clone(), "ecommerce",
            &kube::core::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk("apps", "v1", "Deployment")));
        let mut pp = kube::api::PatchParams::apply("kubectl");
        pp.force = true;
        kubectl.patch("ecommerce-catalog", &pp, &kube::api::Patch::Apply(&theirs.value)).await.unwrap();

        let err = plan::plan(cluster, "nonprod", &manifests, &[], false).await.unwrap_err();
        let ClusterError::Conflicts { details, .. } = &err else { panic!("{err}") };
        assert!(details.contains("Deployment/ecommerce-catalog") && details.contains("conflict with \"kubectl\": .spec.replicas"), "{details}");
        assert!(err.hint().unwrap().contains("--force-conflicts"));
        let err = apply::release(cluster, "nonprod", &manifests, &[], &quick(), &mut |_| {}).await.unwrap_err();
        assert!(err.to_string().contains("conflict"), "{err}");

        let p = plan::plan(cluster, "nonprod", &manifests, &[], true).await.unwrap();
        let upd = p.changes.iter().find(|c| c.object.name == "ecommerce-catalog" && c.object.kind == "Deployment").unwrap();
        assert_eq!((upd.action, upd.fields.as_slice()), (Action::Update, [".spec.replicas".to_string()].as_slice()));
        let mut forced = quick();
        forced.force_conflicts = true;
        apply::release(cluster, "nonprod", &manifests, &[], &forced, &mut |_| {}).await.unwrap();
        let d = fake.get("apps/v1", "Deployment", Some("ecommerce"), "ecommerce-catalog").unwrap();
        assert_eq!(d["spec"]["replicas"], catalog.value["spec"]["replicas"]);
    });
}
