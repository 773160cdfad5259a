//! The cluster plan of the whole platform (examples/full.yaml, nonprod): render + `helm template`
//! (the real Helm) + a server-side-apply dry-run diff of every object against the FAKE API
//! server (crates/fakekube) holding the deployed release. Target: median under 1 s.
//! Run with `scripts/bench cluster` or `cargo bench -p ecomctl --bench cluster_plan`.

use ecomctl::cluster::apply::{self, ApplyOptions};
use ecomctl::cluster::connect::{Connection, Target};
use ecomctl::cluster::plan;
use ecomctl::cluster::stage;
use ecomctl::render::{RenderOptions, Renderer, Stage};
use ecomctl::tools::version::Version;
use std::path::Path;
use std::time::{Duration, Instant};

#[path = "../tests/support/mod.rs"]
mod support;

/// Every foundation and app output the platform values read, as the tests fake them.
fn outputs(state: &Path) {
    support::outputs::FakeEnv {
        env: "nonprod",
        account: "222222222222",
        amp: false,
    }
    .write(state);
}

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf();
    let helm = std::env::var_os("ECOMCTL_HELM")
        .map(Into::into)
        .unwrap_or_else(|| repo.join(".tools/bin/helm"));
    if !helm.exists() {
        eprintln!(
            "bench cluster_plan: {} is missing (run scripts/setup)",
            helm.display()
        );
        std::process::exit(1);
    }
    let dir = std::env::temp_dir().join(format!("ecomctl-bench-cluster-{}", std::process::id()));
    outputs(&dir.join("state"));
    let loaded = ecomctl::config::load(&repo.join("examples/full.yaml")).expect("config");
    let renderer = Renderer::new(&repo).expect("templates");
    let opts = RenderOptions {
        env: Some("nonprod".into()),
        stage: Some(Stage::Cluster),
        terraform: Version(vec![1, 11, 0]),
        state_dir: dir.join("state"),
        aws_endpoint: None,
        assume_roles: false,
    };
    let fake = fakekube::FakeKube::start();
    let kc = dir.join("kubeconfig");
    std::fs::write(&kc, fake.kubeconfig()).expect("kubeconfig");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut conn = Connection::new(Target::Kubeconfig {
        path: Some(kc),
        context: None,
    });
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(15);
    let (mut render, mut diff, mut total) = (Vec::new(), Vec::new(), Vec::new());
    let mut objects = 0;
    rt.block_on(async {
        let cluster = conn.cluster().await.expect("connect");
        let first = stage::manifests(&loaded, &renderer, &opts, &helm, &dir.join("work"), &Default::default()).expect("manifests");
        // The TargetGroupBinding CRD the load balancer controller brings, then the release.
        fake.insert(serde_json::json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "targetgroupbindings.elbv2.k8s.aws"},
            "spec": {"group": "elbv2.k8s.aws", "scope": "Namespaced",
                "names": {"kind": "TargetGroupBinding", "plural": "targetgroupbindings"},
                "versions": [{"name": "v1beta1", "served": true, "storage": true}]}}));
        apply::release(cluster, "nonprod", &first, &[], &ApplyOptions::default(), &mut |_| {}).await.expect("deploy");
        for _ in 0..runs {
            let t0 = Instant::now();
            let ms = stage::manifests(&loaded, &renderer, &opts, &helm, &dir.join("work"), &Default::default()).expect("manifests");
            let t1 = Instant::now();
            let p = plan::plan(cluster, "nonprod", &ms, &[], false).await.expect("plan");
            let t2 = Instant::now();
            assert!(!p.has_changes());
            objects = ms.len();
            render.push(t1 - t0);
            diff.push(t2 - t1);
            total.push(t2 - t0);
        }
    });
    let med = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    println!("cluster plan (nonprod, {objects} objects, {runs} runs):");
    println!("  render + helm template  median {:>8.1?}", med(render));
    println!("  dry-run diff            median {:>8.1?}", med(diff));
    println!(
        "  total                   median {:>8.1?}   (target < 1 s)",
        med(total)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
