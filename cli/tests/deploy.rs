//! `ecomctl deploy` and prod's provenance gate, end to end: small images in a real registry
//! (Debian's docker-registry on loopback), signed by `ecomctl sign` with a key Python
//! `cryptography` made, deployed to nonprod (a FAKE Kubernetes API server per environment, the
//! real Helm), promoted, then deployed to prod. prod refuses an image that is unsigned or was
//! never deployed to nonprod, and runs one that is both, once its plan is approved.

mod support;

use ecomctl::oci::reference::Repo;
use ecomctl::oci::registry::Client;
use ecomctl::oci::{
    provenance, sha256_digest, MEDIA_CONFIG, MEDIA_INDEX, MEDIA_LAYER_GZIP, MEDIA_MANIFEST,
};
use fakekube::FakeKube;
use serde_json::{json, Value};
use std::path::Path;
use support::images::{python_key_pair, Registry};
use support::outputs::{terraform_outputs, FakeEnv};
use support::*;

const SERVICES: [&str; 6] = [
    "frontend",
    "login",
    "catalog",
    "inventory",
    "orders",
    "payments",
];

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Stores a tiny image (one layer of `seed`) in `repo`; returns its digest.
fn push_image(repo: &Repo, seed: &str) -> String {
    push_platform_image(repo, seed, "amd64").0
}

/// A two-platform image: an amd64 and an arm64 image of `seed`, and the OCI image index naming
/// both (as `ecomctl index` pushes it); returns the index's digest.
fn push_index(repo: &Repo, seed: &str) -> String {
    let entries: Vec<Value> = ["amd64", "arm64"]
        .into_iter()
        .map(|arch| {
            let (digest, size) = push_platform_image(repo, seed, arch);
            json!({"mediaType": MEDIA_MANIFEST, "digest": digest, "size": size,
                   "platform": {"architecture": arch, "os": "linux"}})
        })
        .collect();
    let index = serde_json::to_vec(
        &json!({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": entries}),
    )
    .unwrap();
    let digest = sha256_digest(&index);
    let client = Client::new(Default::default()).unwrap();
    rt().block_on(client.put_manifest(repo, &digest, MEDIA_INDEX, &index))
        .unwrap();
    digest
}

/// One image of `seed` for `arch`: (digest, manifest size).
fn push_platform_image(repo: &Repo, seed: &str, arch: &str) -> (String, usize) {
    let client = Client::new(Default::default()).unwrap();
    let layer = format!("layer of {seed} for {arch}").into_bytes();
    let config = serde_json::to_vec(&json!({"architecture": arch, "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(&layer)]}}))
    .unwrap();
    let manifest = serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": sha256_digest(&config), "size": config.len()},
        "layers": [{"mediaType": MEDIA_LAYER_GZIP, "digest": sha256_digest(&layer), "size": layer.len()}]}))
    .unwrap();
    let digest = sha256_digest(&manifest);
    rt().block_on(async {
        for blob in [config, layer] {
            client
                .upload_blob(repo, &sha256_digest(&blob), blob)
                .await
                .unwrap();
        }
        client
            .put_manifest(repo, &digest, MEDIA_MANIFEST, &manifest)
            .await
            .unwrap();
    });
    (digest, manifest.len())
}

fn deployed_in(repo: &Repo, digest: &str) -> Vec<String> {
    let client = Client::new(Default::default()).unwrap();
    rt().block_on(provenance::deployed_in(&client, repo, digest))
        .unwrap()
}

/// The env's foundation and app outputs, its repositories in the loopback registry, and no
/// database secret to sync.
fn write_outputs(state: &Path, env: &str, registry: &str) {
    let fake = FakeEnv {
        env,
        account: if env == "prod" {
            "333333333333"
        } else {
            "222222222222"
        },
        amp: false,
    };
    fake.write(state);
    let mut app = fake.app();
    app["ecr_registry"] = json!(registry);
    for s in SERVICES {
        app["ecr_repository_urls"][s] = json!(format!("{registry}/shop/{env}/{s}"));
    }
    app.as_object_mut().unwrap().remove("db_secret_arn");
    std::fs::write(
        state.join(env).join("app/outputs.json"),
        terraform_outputs(&app),
    )
    .unwrap();
}

/// The minimal example with a prod environment beside nonprod; prod trusts `keys/cosign.pub`
/// unless `verify_key` is false.
fn add_prod(p: &Project, verify_key: bool) {
    let path = p.dir.path().join("ecomctl.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let (head, tools) = text.split_once("\ntools:").unwrap();
    let nonprod = &head[head.find("  nonprod:\n").unwrap()..];
    let mut prod = nonprod
        .replace("  nonprod:\n", "  prod:\n")
        .replace("222222222222", "333333333333")
        .replace("NonprodTerraform", "ProdTerraform")
        .replace("10.20.0.0/16", "10.30.0.0/16")
        .replace("multi_az: false", "multi_az: true");
    if verify_key {
        prod.push_str("\n    images:\n      verify_key: keys/cosign.pub\n");
    }
    let head = head.replace(
        "  - arn:aws:iam::222222222222:role/NonprodTerraform\n",
        "  - arn:aws:iam::222222222222:role/NonprodTerraform\n  - arn:aws:iam::333333333333:role/ProdTerraform\n",
    );
    std::fs::write(
        &path,
        format!("{}\n{}\ntools:{tools}", head.trim_end(), prod.trim_end()),
    )
    .unwrap();
}

struct Setup {
    p: Project,
    registry: Registry,
    nonprod: FakeKube,
    prod: FakeKube,
    _moto: Moto,
}

fn setup(verify_key: bool) -> Option<Setup> {
    let python = repo().join(".tools/venv/bin/python");
    let (Some(tf), Some(helm), Some(moto), Some(registry), Some(python)) = (
        tool("terraform"),
        tool("helm"),
        Moto::start(),
        Registry::start(None),
        present(python, "run scripts/setup"),
    ) else {
        return None;
    };
    let mut p = Project::new(tf, Some(&moto));
    p.extra_env
        .push(("ECOMCTL_HELM".into(), helm.display().to_string()));
    add_prod(&p, verify_key);
    let state = p.dir.path().join(".ecomctl");
    for env in ["nonprod", "prod"] {
        write_outputs(&state, env, &registry.host);
    }
    let (private, public) = python_key_pair(&python);
    let keys = p.dir.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join("cosign.key"), private).unwrap();
    std::fs::write(keys.join("cosign.pub"), public).unwrap();
    let (nonprod, prod) = (FakeKube::start(), FakeKube::start());
    for (fake, env) in [(&nonprod, "nonprod"), (&prod, "prod")] {
        std::fs::write(
            p.dir.path().join(format!("{env}.kubeconfig")),
            fake.kubeconfig(),
        )
        .unwrap();
        // The load balancer controller's CRD, which the chart's TargetGroupBindings need.
        fake.insert(json!({"apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "targetgroupbindings.elbv2.k8s.aws"},
            "spec": {"group": "elbv2.k8s.aws", "scope": "Namespaced",
                "names": {"kind": "TargetGroupBinding", "plural": "targetgroupbindings"},
                "versions": [{"name": "v1beta1", "served": true, "storage": true}]}}));
    }
    Some(Setup {
        p,
        registry,
        nonprod,
        prod,
        _moto: moto,
    })
}

impl Setup {
    fn repo(&self, env: &str, service: &str) -> Repo {
        Repo::parse(&format!("{}/shop/{env}/{service}", self.registry.host)).unwrap()
    }

    fn run(&self, env: &str, args: &[&str]) -> std::process::Output {
        let kubeconfig = self.p.dir.path().join(format!("{env}.kubeconfig"));
        self.p
            .command(args)
            .env("ECOMCTL_KUBECONFIG", kubeconfig)
            .output()
            .unwrap()
    }

    fn deploy(&self, env: &str, images: &[(&str, &str)], extra: &[&str]) -> std::process::Output {
        let mut args = vec!["deploy".to_string(), "-e".into(), env.into()];
        for (s, d) in images {
            args.push("--image".into());
            args.push(format!("{s}@{d}"));
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(env, &args)
    }

    fn sign(&self, env: &str, service: &str, digest: &str) {
        let image = format!("{}@{digest}", self.repo(env, service));
        let out = self.run(env, &["sign", &image, "--key", "keys/cosign.key"]);
        assert!(out.status.success(), "{}", show(&out));
    }

    fn promote(&self, service: &str, digest: &str) {
        let from = format!("{}/shop/nonprod", self.registry.host);
        let to = format!("{}/shop/prod", self.registry.host);
        let image = format!("{service}@{digest}");
        let out = self.run("prod", &["promote", &image, "--from", &from, "--to", &to]);
        assert!(out.status.success(), "{}", show(&out));
    }

    /// The image the service's Deployment runs (the chart names it `<release>-<service>`).
    fn image_of(fake: &FakeKube, service: &str) -> Option<String> {
        fake.list_kind("apps/v1", "Deployment")
            .into_iter()
            .find(|d: &Value| {
                d["metadata"]["namespace"] == "ecommerce"
                    && d["metadata"]["name"]
                        .as_str()
                        .is_some_and(|n| n.ends_with(&format!("-{service}")))
            })
            .and_then(|d| {
                d["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .map(String::from)
            })
    }
}

#[test]
fn prod_runs_only_signed_digests_that_were_deployed_to_nonprod() {
    let Some(s) = setup(true) else {
        return;
    };
    // Every service built, pushed to nonprod and signed; login as a two-platform image index,
    // whose index digest is what is signed, deployed, recorded, promoted and gated.
    let digests: Vec<(&str, String)> = SERVICES
        .iter()
        .map(|svc| {
            let d = match *svc {
                "login" => push_index(&s.repo("nonprod", svc), svc),
                _ => push_image(&s.repo("nonprod", svc), svc),
            };
            s.sign("nonprod", svc, &d);
            (*svc, d)
        })
        .collect();
    let images: Vec<(&str, &str)> = digests.iter().map(|(s, d)| (*s, d.as_str())).collect();

    // nonprod: deployed with the digests, and each image records it.
    let out = s.deploy("nonprod", &images, &["--yes", "--output", "json"]);
    assert!(out.status.success(), "{}", show(&out));
    let ev = events(&out);
    assert_eq!(named(&ev, "deployment_recorded").len(), 6, "{}", show(&out));
    let login = &digests[1].1;
    assert_eq!(
        Setup::image_of(&s.nonprod, "login").as_deref(),
        Some(format!("{}@{login}", s.repo("nonprod", "login")).as_str())
    );
    assert_eq!(deployed_in(&s.repo("nonprod", "login"), login), ["nonprod"]);
    // A second deploy of the same digests changes nothing and records nothing new.
    let again = s.deploy("nonprod", &images, &["--yes", "--output", "json"]);
    assert!(again.status.success(), "{}", show(&again));

    // Promoted: the signature and the deployment record travel with the digest.
    for (svc, d) in &digests {
        s.promote(svc, d);
    }
    assert_eq!(deployed_in(&s.repo("prod", "login"), login), ["nonprod"]);

    // A signed login that never ran in nonprod, pushed straight to prod: refused.
    let rogue = push_image(&s.repo("prod", "login"), "rogue login");
    s.sign("prod", "login", &rogue);
    let mut bad = images.clone();
    bad[1] = ("login", &rogue);
    let out = s.deploy("prod", &bad, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&rogue) && err.contains("never deployed to nonprod"),
        "{err}"
    );
    assert!(
        Setup::image_of(&s.prod, "login").is_none(),
        "nothing applied"
    );

    // An unsigned catalog that did run in nonprod (deployed, promoted): refused.
    let unsigned = push_image(&s.repo("nonprod", "catalog"), "unsigned catalog");
    let mut with_unsigned = images.clone();
    with_unsigned[2] = ("catalog", &unsigned);
    let out = s.deploy("nonprod", &with_unsigned, &["--yes"]);
    assert!(out.status.success(), "{}", show(&out));
    s.promote("catalog", &unsigned);
    let out = s.deploy("prod", &with_unsigned, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&unsigned) && err.contains("not signed"),
        "{err}"
    );
    assert!(
        !err.contains(login.as_str()),
        "only the refused image is named: {err}"
    );

    // Signed and deployed to nonprod: prod plans, asks for approval, then runs it.
    let out = s.deploy("prod", &images, &[]);
    assert!(
        !out.status.success(),
        "prod needs an approval: {}",
        show(&out)
    );
    let hash = asked_hash(&out);
    let out = s.deploy("prod", &images, &["--approve", &hash, "--output", "json"]);
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(
        Setup::image_of(&s.prod, "login").as_deref(),
        Some(format!("{}@{login}", s.repo("prod", "login")).as_str())
    );
}

#[test]
fn prod_without_a_verify_key_and_bad_image_flags_are_refused_before_anything_runs() {
    let Some(s) = setup(false) else {
        return;
    };
    let d = push_image(&s.repo("prod", "login"), "login");
    let out = s.deploy("prod", &[("login", &d)], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("environments.prod.images.verify_key is not set"),
        "{err}"
    );
    for bad in ["logn@sha256:00", "login", "login@sha256:abc"] {
        let out = s.run("prod", &["deploy", "-e", "prod", "--image", bad]);
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(bad),
            "{}",
            show(&out)
        );
    }
    assert!(Setup::image_of(&s.prod, "login").is_none());
}
