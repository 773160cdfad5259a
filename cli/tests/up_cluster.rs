//! `ecomctl up -e nonprod` walks all four stages: the fixture stacks with the real Terraform and
//! moto, then the cluster stage (the real Helm) against the FAKE Kubernetes API server; a second
//! `up` changes nothing; `down` removes the release and the priming objects.

mod support;

use fakekube::FakeKube;
use serde_json::json;
use support::*;

fn cluster_project(fake: &FakeKube) -> Option<(Project, Moto)> {
    let (Some(tf), Some(helm), Some(moto)) = (tool("terraform"), tool("helm"), Moto::start())
    else {
        return None;
    };
    let mut p = Project::new(tf, Some(&moto));
    let kubeconfig = p.dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, fake.kubeconfig()).unwrap();
    p.extra_env.push((
        "ECOMCTL_KUBECONFIG".into(),
        kubeconfig.display().to_string(),
    ));
    p.extra_env
        .push(("ECOMCTL_HELM".into(), helm.display().to_string()));
    // The load balancer controller's CRD, which the chart's TargetGroupBindings need.
    fake.insert(
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "targetgroupbindings.elbv2.k8s.aws"},
        "spec": {"group": "elbv2.k8s.aws", "scope": "Namespaced",
            "names": {"kind": "TargetGroupBinding", "plural": "targetgroupbindings"},
            "versions": [{"name": "v1beta1", "served": true, "storage": true}]}}),
    );
    Some((p, moto))
}

#[test]
fn up_walks_all_four_stages_then_down_removes_the_release() {
    let fake = FakeKube::start();
    let Some((p, moto)) = cluster_project(&fake) else {
        return;
    };
    // The RDS-managed secret the app stage names (the fixture's db_secret_arn, a partial ARN
    // of this name), in the account of ecomctl's ambient credentials.
    let password = "Pw-never-on-disk-5b1d4c7e";
    moto.python(
        &repo().join(".tools/venv/bin/python"),
        &format!(
            "sm = boto3.client('secretsmanager', endpoint_url={:?}, region_name='us-east-1', \
             aws_access_key_id='test', aws_secret_access_key='test')\n\
             sm.create_secret(Name='shop-nonprod-db', \
             SecretString=json.dumps({{'username': 'shop', 'password': {password:?}}}))",
            moto.endpoint
        ),
    );
    let first = p.run(&["up", "-e", "nonprod", "--yes", "--output", "json"]);
    assert!(first.status.success(), "{}", show(&first));
    // The database Secret was synced into the release namespace, and its value is in no
    // output and no file ecomctl wrote.
    let secret = fake
        .get("v1", "Secret", Some("ecommerce"), "db-credentials")
        .expect("db-credentials synced");
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    assert_eq!(
        b64.decode(secret["data"]["password"].as_str().unwrap())
            .unwrap(),
        password.as_bytes()
    );
    assert!(!show(&first).contains(password));
    for (path, bytes) in walk(p.dir.path()) {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(password) && !text.contains(&b64.encode(password)),
            "the database password is in {}",
            path.display()
        );
    }
    let ev = events(&first);
    assert_eq!(
        labels(&named(&ev, "applied")),
        vec![
            "global/bootstrap",
            "nonprod/foundation",
            "nonprod/app",
            "nonprod/cluster"
        ],
        "{}",
        show(&first)
    );
    let ns = fake
        .get("v1", "Namespace", None, "ecommerce")
        .expect("priming applied");
    assert_eq!(ns["metadata"]["managedFields"][0]["manager"], "ecomctl");
    assert!(!fake.list_kind("apps/v1", "Deployment").is_empty());
    let outputs = read_json(&p.state("nonprod", "cluster").join("outputs.json"));
    assert_eq!(outputs["release_revision"]["value"], 1);

    // A second up: nothing to do anywhere, the cluster included.
    fake.clear_requests();
    let second = p.run(&["up", "-e", "nonprod", "--yes", "--output", "json"]);
    assert!(second.status.success(), "{}", show(&second));
    assert!(
        named(&events(&second), "applied").is_empty(),
        "{}",
        show(&second)
    );
    assert!(
        !fake
            .requests()
            .iter()
            .any(|r| r.method == "PATCH" && !r.dry_run),
        "a second up wrote to the cluster"
    );

    // down starts with the cluster stage: its destroy plan lists the release's objects.
    let refused = p.run(&["down", "-e", "nonprod", "--output", "json"]);
    assert_eq!(refused.status.code(), Some(1), "{}", show(&refused));
    let hint = named(&events(&refused), "error")[0]["hint"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let hash = hint
        .split("--approve ")
        .nth(1)
        .expect("a plan hash in the hint")[..12]
        .to_string();
    let down = p.run(&[
        "down",
        "-e",
        "nonprod",
        "--approve",
        &hash,
        "--output",
        "json",
    ]);
    assert!(
        labels(&named(&events(&down), "destroyed")).contains(&"nonprod/cluster".to_string()),
        "{}",
        show(&down)
    );
    assert!(fake.get("v1", "Namespace", None, "ecommerce").is_none());
    assert!(fake
        .get("v1", "Secret", Some("ecommerce"), "db-credentials")
        .is_none());
    assert!(fake.list_kind("apps/v1", "Deployment").is_empty());
    assert!(fake.list_kind("v1", "ResourceQuota").is_empty());
    assert!(fake
        .get(
            "v1",
            "ConfigMap",
            Some("kube-system"),
            "ecomctl-release-nonprod"
        )
        .is_none());
}

/// Every file under `dir` with its bytes.
fn walk(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                todo.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.push((path, bytes));
            }
        }
    }
    out
}
