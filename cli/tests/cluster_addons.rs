//! The cluster stage's third-party releases: the Tigera operator (Calico) and the AWS Load
//! Balancer Controller chart, pinned by version and SHA-256 in the config, fetched from a
//! loopback file server (small stand-ins written here, the chart packaged by the real Helm),
//! verified, cached, rendered with what ecomctl writes itself (the `Installation`, the
//! controller's values) and applied to the FAKE Kubernetes API server in dependency order. A
//! digest mismatch is refused and nothing is cached.

mod support;

use ecomctl::cluster::addons;
use ecomctl::cluster::apply::{self, ApplyOptions};
use ecomctl::cluster::connect::{Connection, Target};
use ecomctl::cluster::fetch::{FetchError, ReleaseCache};
use ecomctl::cluster::stage;
use ecomctl::config::model::NetworkPolicyEngine;
use ecomctl::config::releases::ReleasePin;
use ecomctl::render::{RenderOptions, Renderer, Stage};
use ecomctl::tools::version::Version;
use fakekube::FakeKube;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use support::outputs::FakeEnv;

/// A loopback HTTP server for fixed files; records every path asked for.
struct FileServer {
    base: String,
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    hits: Arc<Mutex<Vec<String>>>,
}

impl FileServer {
    fn start() -> FileServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let hits: Arc<Mutex<Vec<String>>> = Arc::default();
        let (f, h) = (files.clone(), hits.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut line = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) <= 2 {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                h.lock().unwrap().push(path.clone());
                let body = f.lock().unwrap().get(&path).cloned();
                let (status, body) = match body {
                    Some(b) => ("200 OK", b),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(&body);
            }
        });
        FileServer { base, files, hits }
    }

    fn put(&self, path: &str, body: Vec<u8>) -> ReleasePin {
        self.files.lock().unwrap().insert(path.into(), body.clone());
        ReleasePin {
            version: "stand-in".into(),
            url: format!("{}{path}", self.base),
            sha256: hex(&body),
        }
    }

    fn hits(&self) -> usize {
        self.hits.lock().unwrap().len()
    }
}

fn hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// A stand-in of tigera-operator.yaml: its CRD, namespace and the operator Deployment.
const OPERATOR: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: installations.operator.tigera.io}
spec:
  group: operator.tigera.io
  scope: Cluster
  names: {kind: Installation, plural: installations, singular: installation}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
---
apiVersion: v1
kind: Namespace
metadata: {name: tigera-operator}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: tigera-operator, namespace: tigera-operator}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: tigera-operator, namespace: tigera-operator}
spec:
  replicas: 1
  selector: {matchLabels: {name: tigera-operator}}
  template:
    metadata: {labels: {name: tigera-operator}}
    spec:
      serviceAccountName: tigera-operator
      containers:
      - name: tigera-operator
        image: quay.io/tigera/operator:v1.36.2
"#;

/// A stand-in of the controller chart, packaged by the real Helm: its CRD in `crds/`, a
/// ServiceAccount and a Deployment reading the values ecomctl renders.
fn controller_chart(helm: &Path, dir: &Path) -> Vec<u8> {
    let src = dir.join("aws-load-balancer-controller");
    std::fs::create_dir_all(src.join("crds")).unwrap();
    std::fs::create_dir_all(src.join("templates")).unwrap();
    std::fs::write(
        src.join("Chart.yaml"),
        "apiVersion: v2\nname: aws-load-balancer-controller\nversion: 1.0.0\n",
    )
    .unwrap();
    std::fs::write(src.join("values.yaml"), "clusterName: \"\"\nregion: \"\"\nvpcId: \"\"\nreplicaCount: 1\nimage: {repository: public.ecr.aws/eks/aws-load-balancer-controller, tag: v2.13.4}\nserviceAccount: {create: true, name: aws-load-balancer-controller, annotations: {}}\n").unwrap();
    std::fs::write(
        src.join("crds/tgb.yaml"),
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: targetgroupbindings.elbv2.k8s.aws}\nspec:\n  group: elbv2.k8s.aws\n  scope: Namespaced\n  names: {kind: TargetGroupBinding, plural: targetgroupbindings}\n  versions: [{name: v1beta1, served: true, storage: true}]\n",
    )
    .unwrap();
    std::fs::write(
        src.join("templates/sa.yaml"),
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {{ .Values.serviceAccount.name }}\n  annotations: {{ toJson .Values.serviceAccount.annotations }}\n",
    )
    .unwrap();
    std::fs::write(
        src.join("templates/deploy.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: {{ .Release.Name }}}\nspec:\n  replicas: {{ .Values.replicaCount }}\n  selector: {matchLabels: {app: lbc}}\n  template:\n    metadata: {labels: {app: lbc}}\n    spec:\n      serviceAccountName: {{ .Values.serviceAccount.name }}\n      containers:\n      - name: controller\n        image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n        args: [\"--cluster-name={{ .Values.clusterName }}\", \"--aws-region={{ .Values.region }}\", \"--aws-vpc-id={{ .Values.vpcId }}\"]\n",
    )
    .unwrap();
    let out = std::process::Command::new(helm)
        .args(["package", "--destination"])
        .arg(dir)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(dir.join("aws-load-balancer-controller-1.0.0.tgz")).unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

struct Setup {
    loaded: ecomctl::config::Loaded,
    renderer: Renderer,
    opts: RenderOptions,
    state: PathBuf,
}

fn setup(dir: &Path, server: &FileServer, helm: &Path) -> Setup {
    let state = dir.join("state");
    FakeEnv {
        env: "nonprod",
        account: "222222222222",
        amp: true,
    }
    .write(&state);
    let repo = support::repo();
    let mut loaded = ecomctl::config::load(&repo.join("examples/full.yaml")).unwrap();
    let mut calico = server.put("/calico/tigera-operator.yaml", OPERATOR.as_bytes().to_vec());
    calico.version = "v3.30.3".into();
    let mut lbc = server.put(
        "/charts/aws-load-balancer-controller-1.0.0.tgz",
        controller_chart(helm, dir),
    );
    lbc.version = "1.0.0".into();
    loaded.config.releases.calico = Some(calico);
    loaded.config.releases.aws_load_balancer_controller = Some(lbc);
    loaded
        .config
        .environments
        .get_mut("nonprod")
        .unwrap()
        .eks
        .network_policy = NetworkPolicyEngine::Calico;
    let opts = RenderOptions {
        env: Some("nonprod".into()),
        stage: Some(Stage::Cluster),
        terraform: Version::parse("1.11.0").unwrap(),
        state_dir: state.clone(),
        aws_endpoint: None,
        assume_roles: false,
    };
    Setup {
        loaded,
        renderer: Renderer::new(&repo).unwrap(),
        opts,
        state,
    }
}

#[test]
fn pinned_releases_are_fetched_once_verified_rendered_and_applied_in_order() {
    let Some(helm) = support::tool("helm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = FileServer::start();
    let s = setup(dir.path(), &server, &helm);
    let rt = rt();
    let cache = ReleaseCache::under(&s.state);
    let fetched = rt
        .block_on(addons::fetch(&s.loaded.config, "nonprod", &cache))
        .unwrap();
    assert_eq!(server.hits(), 2);
    // A second fetch comes from the cache.
    let fetched_again = rt
        .block_on(addons::fetch(&s.loaded.config, "nonprod", &cache))
        .unwrap();
    assert_eq!(server.hits(), 2, "the cache was not used");
    assert_eq!(fetched_again.calico, fetched.calico);

    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let manifests =
        stage::manifests(&s.loaded, &s.renderer, &s.opts, &helm, &work, &fetched).unwrap();
    let env = FakeEnv {
        env: "nonprod",
        account: "222222222222",
        amp: true,
    };
    let find = |kind: &str, name: &str| {
        manifests
            .iter()
            .position(|m| m.id.kind == kind && m.id.name == name)
            .unwrap_or_else(|| panic!("{kind}/{name} missing"))
    };
    // CRDs from both releases come before everything else; the Installation after its CRD.
    let crds = [
        find(
            "CustomResourceDefinition",
            "installations.operator.tigera.io",
        ),
        find(
            "CustomResourceDefinition",
            "targetgroupbindings.elbv2.k8s.aws",
        ),
    ];
    let first_other = manifests
        .iter()
        .position(|m| m.id.kind != "CustomResourceDefinition")
        .unwrap();
    assert!(crds.iter().all(|&i| i < first_other));
    let operator = &manifests[find("Deployment", "tigera-operator")].value;
    assert_eq!(
        operator["spec"]["template"]["spec"]["containers"][0]["image"],
        format!("{}/mirrors/tigera/operator:v1.36.2", env.registry())
    );
    let inst = &manifests[find("Installation", "default")].value;
    assert_eq!(inst["spec"]["registry"], format!("{}/", env.registry()));
    assert_eq!(inst["spec"]["imagePath"], "mirrors/calico");
    assert_eq!(inst["spec"]["cni"]["type"], "AmazonVPC");
    // The controller's values come from the foundation and app outputs.
    let sa = &manifests[find("ServiceAccount", "aws-load-balancer-controller")];
    assert_eq!(sa.id.namespace.as_deref(), Some("kube-system"));
    assert_eq!(
        sa.value["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        env.role("lb-controller")
    );
    let lbc = &manifests[find("Deployment", "aws-load-balancer-controller")].value;
    let c = &lbc["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["image"],
        format!(
            "{}/mirrors/aws-load-balancer-controller:v2.13.4",
            env.registry()
        )
    );
    assert!(c["args"][0]
        .as_str()
        .unwrap()
        .ends_with("=shop-nonprod-eks"));

    // Applied to the fake cluster: CRDs established first, then the rest.
    let fake = FakeKube::start();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, fake.kubeconfig()).unwrap();
    let mut conn = Connection::new(Target::Kubeconfig {
        path: Some(kubeconfig),
        context: None,
    });
    let mut opts = ApplyOptions::default();
    opts.watch.timeout = std::time::Duration::from_secs(10);
    opts.watch.poll = std::time::Duration::from_millis(20);
    rt.block_on(async {
        let cluster = conn.cluster().await.unwrap();
        apply::release(cluster, "nonprod", &manifests, &[], &opts, &mut |_| {})
            .await
            .unwrap();
    });
    assert!(fake
        .get("operator.tigera.io/v1", "Installation", None, "default")
        .is_some());
    assert!(fake
        .get(
            "apps/v1",
            "Deployment",
            Some("kube-system"),
            "aws-load-balancer-controller"
        )
        .is_some());
}

#[test]
fn a_release_whose_digest_differs_from_the_pin_is_refused_and_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    let server = FileServer::start();
    let good = server.put("/op.yaml", OPERATOR.as_bytes().to_vec());
    // The mirror now serves another file under the same name.
    server.put("/op.yaml", b"kind: Tampered\n".to_vec());
    let cache = ReleaseCache::under(dir.path());
    let err = rt()
        .block_on(cache.get("releases.calico", &good))
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, FetchError::Digest { .. }), "{msg}");
    assert!(
        msg.contains("releases.calico") && msg.contains(&good.sha256),
        "{msg}"
    );
    assert!(msg.contains(&hex(b"kind: Tampered\n")), "{msg}");
    assert!(err.hint().is_some());
    assert!(
        !dir.path().join("cache/releases").exists()
            || std::fs::read_dir(dir.path().join("cache/releases"))
                .unwrap()
                .next()
                .is_none(),
        "a refused file was cached"
    );
    // A missing file is a clear error naming the field and the server's answer.
    let missing = ReleasePin {
        url: format!("{}/nope.yaml", server.base),
        ..good.clone()
    };
    let err = rt()
        .block_on(cache.get("releases.calico", &missing))
        .unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    // Plain http off loopback is refused before any request.
    let off = ReleasePin {
        url: "http://example.com/op.yaml".into(),
        ..good
    };
    let err = rt()
        .block_on(cache.get("releases.calico", &off))
        .unwrap_err();
    assert!(matches!(err, FetchError::Url { .. }), "{err}");
}

/// The database Secret against moto's Secrets Manager and the FAKE API server: created, left
/// alone while the source keeps its version, updated after a rotation, kept through a release
/// that only retains it, and never recorded in the inventory.
#[test]
fn the_database_secret_follows_its_secrets_manager_version_and_is_never_recorded() {
    use base64::Engine;
    use ecomctl::cluster::manifest;
    use ecomctl::cluster::plan::Action;
    use ecomctl::cluster::secrets::{SecretSource, SyncedSecret};
    let Some(moto) = support::Moto::bare(None) else {
        return;
    };
    // In-process SDK calls: moto's test credentials, nothing from the host.
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    std::env::set_var("AWS_CONFIG_FILE", "/nonexistent");
    std::env::set_var("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
    let python = support::repo().join(".tools/venv/bin/python");
    let secrets = |body: &str| {
        moto.python(
            &python,
            &format!(
                "sm = boto3.client('secretsmanager', endpoint_url={:?}, region_name='us-east-1', \
                 aws_access_key_id='test', aws_secret_access_key='test')\n{body}",
                moto.endpoint
            ),
        )
    };
    let first = "first-Pw-3f1c0e";
    let arn = secrets(&format!(
        "print(sm.create_secret(Name='shop-nonprod-db', SecretString=json.dumps(\
         {{'username': 'shop', 'password': {first:?}}}))['ARN'])"
    ));
    let synced = SyncedSecret {
        namespace: "ecommerce".into(),
        name: "db-credentials".into(),
        source: arn.trim().to_string(),
    };
    let ns = manifest::parse(
        "ns",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: ecommerce}\n",
        None,
    )
    .unwrap();
    let fake = FakeKube::start();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, fake.kubeconfig()).unwrap();
    let mut conn = Connection::new(Target::Kubeconfig {
        path: Some(kubeconfig),
        context: None,
    });
    let b64 = base64::engine::general_purpose::STANDARD;
    let opts = ApplyOptions::default();
    rt().block_on(async {
        let cluster = conn.cluster().await.unwrap();
        let src = SecretSource::new(&stage::sdk_config("us-east-1", Some(&moto.endpoint)).await);
        assert_eq!(
            src.plan(cluster, &synced).await.unwrap().action,
            Action::Create
        );
        let mut ms = ns.clone();
        ms.push(src.manifest(&synced).await.unwrap());
        apply::release(cluster, "nonprod", &ms, &[], &opts, &mut |_| {})
            .await
            .unwrap();
        let live = fake
            .get("v1", "Secret", Some("ecommerce"), "db-credentials")
            .unwrap();
        assert_eq!(live["data"]["password"], b64.encode(first));
        assert_eq!(live["data"]["username"], b64.encode("shop"));
        assert_eq!(
            src.plan(cluster, &synced).await.unwrap().action,
            Action::Unchanged
        );

        // A release that retains the Secret (a rollback) keeps it; the inventory never holds it.
        apply::release(cluster, "nonprod", &ns, &[synced.id()], &opts, &mut |_| {})
            .await
            .unwrap();
        assert!(fake
            .get("v1", "Secret", Some("ecommerce"), "db-credentials")
            .is_some());
        let inv = fake
            .get(
                "v1",
                "ConfigMap",
                Some("kube-system"),
                "ecomctl-release-nonprod",
            )
            .unwrap()
            .to_string();
        assert!(
            inv.contains("db-credentials"),
            "the inventory lost the Secret"
        );
        assert!(!inv.contains(first) && !inv.contains(&b64.encode(first)));

        // Rotation: a new version shows as an update of its data, named without values.
        secrets(&format!(
            "sm.put_secret_value(SecretId={:?}, SecretString=json.dumps(\
             {{'username': 'shop', 'password': 'second-Pw-9a7d'}}))",
            synced.source
        ));
        let change = src.plan(cluster, &synced).await.unwrap();
        assert_eq!(
            (change.action, change.fields.clone()),
            (Action::Update, vec![".data".to_string()])
        );
        assert!(!format!("{change:?}").contains("second-Pw"));

        // A source that is not there: the error names it and holds no value.
        let gone = SyncedSecret {
            source: "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope".into(),
            ..synced.clone()
        };
        let err = src.plan(cluster, &gone).await.unwrap_err().to_string();
        // Checked against the passwords themselves: "Pw" alone turns up in the random request
        // id the error quotes (seen once in a CI run).
        assert!(
            err.contains("secret:nope") && !err.contains(first) && !err.contains("second-Pw-9a7d"),
            "{err}"
        );
    });
}
