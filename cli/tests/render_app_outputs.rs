//! The app stage's outputs reach the platform chart: after a faked app-stage `outputs.json`
//! (the document `terraform output -json` writes), `ecomctl render` puts the database, the
//! registry, the metrics settings and the add-ons' wiring (AMP remote write, log groups, IRSA
//! roles of the ADOT collector, Fluent Bit and Velero) into the Helm values, and `helm template`
//! of those values passes the chart's schema and carries them.

mod support;

use ecomctl::config::yaml;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::outputs::FakeEnv;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

const PROD: FakeEnv = FakeEnv {
    env: "prod",
    account: "333333333333",
    amp: true,
};
const NONPROD: FakeEnv = FakeEnv {
    env: "nonprod",
    account: "222222222222",
    amp: false,
};

/// Renders examples/full.yaml with faked app outputs (support::outputs) for both environments
/// (prod with AMP, nonprod without) and returns the output directory.
fn render_with_app_outputs(dir: &Path) -> PathBuf {
    let config = dir.join("ecomctl.yaml");
    std::fs::copy(repo().join("examples/full.yaml"), &config).unwrap();
    for fake in [&PROD, &NONPROD] {
        fake.write_app(&dir.join(".ecomctl"));
    }
    let out = dir.join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_ecomctl"))
        .args(["render", "-q", "-c"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .args(["--terraform-version", "1.11.4", "--stage", "cluster"])
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .env_remove("ECOMCTL_ROOT")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    out
}

/// The YAML node as JSON: plain scalars that read as numbers become numbers, the rest text.
fn to_json(node: &yaml::Node) -> Value {
    match &node.kind {
        _ if node.is_null() => Value::Null,
        yaml::NodeKind::Scalar { text, plain } => match text.parse::<i64>() {
            Ok(n) if *plain => json!(n),
            _ => json!(text),
        },
        yaml::NodeKind::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
        yaml::NodeKind::Map(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    (
                        to_json(k).as_str().unwrap_or_default().to_string(),
                        to_json(v),
                    )
                })
                .collect(),
        ),
    }
}

fn values(out: &Path, env: &str) -> Value {
    let text = std::fs::read_to_string(out.join(env).join("cluster/values.yaml")).unwrap();
    to_json(&yaml::parse_one(&text).unwrap())
}

#[test]
fn app_outputs_fill_database_registry_and_metrics_in_the_platform_values() {
    let dir = tempfile::tempdir().unwrap();
    let out = render_with_app_outputs(dir.path());

    let prod = values(&out, "prod");
    assert_eq!(prod["database"]["host"], PROD.db_host());
    assert_eq!(
        prod["database"]["port"], 5433,
        "the port comes from db_port"
    );
    assert_eq!(prod["global"]["imageRegistry"], PROD.registry());
    for service in ecomctl::config::SERVICES {
        assert_eq!(
            prod["services"][service]["image"]["repository"],
            format!("shop/{service}"),
            "{service}: the repository path inside the registry the app stage created"
        );
    }
    assert_eq!(
        prod["networkPolicy"]["metricsNamespace"], "observability",
        "with an AMP workspace the collector's namespace may scrape"
    );

    let nonprod = values(&out, "nonprod");
    assert_eq!(nonprod["global"]["imageRegistry"], NONPROD.registry());
    assert_eq!(
        nonprod["networkPolicy"]["metricsNamespace"], "",
        "without an AMP workspace nobody is let in to scrape"
    );
}

#[test]
fn app_outputs_wire_the_add_ons_in_the_platform_values() {
    let dir = tempfile::tempdir().unwrap();
    let out = render_with_app_outputs(dir.path());
    let kinds = ["application", "dataplane", "host", "performance"];

    let prod = values(&out, "prod");
    let obs = &prod["addons"]["observability"];
    assert_eq!(obs["enabled"], "true", "{obs}");
    assert_eq!(obs["namespace"], "observability");
    assert_eq!(
        obs["ampRemoteWriteEndpoint"],
        PROD.amp_endpoint().unwrap(),
        "amp_remote_write_endpoint"
    );
    for kind in kinds {
        assert_eq!(obs["logGroups"][kind], PROD.log_group(kind), "{kind}");
    }
    assert_eq!(obs["adotCollectorRoleArn"], PROD.role("adot-collector"));
    assert_eq!(obs["fluentBitRoleArn"], PROD.role("fluent-bit"));
    let velero = &prod["addons"]["velero"];
    assert_eq!(velero["enabled"], "true", "{velero}");
    assert_eq!(velero["namespace"], "velero");
    assert_eq!(velero["roleArn"], PROD.role("velero"));
    assert_eq!(velero["bucket"], "shop-artifacts-111111111111");
    assert_eq!(velero["prefix"], "velero/prod");

    // No AMP workspace: no endpoint and no collector role, but Fluent Bit and Velero still.
    let nonprod = values(&out, "nonprod");
    let obs = &nonprod["addons"]["observability"];
    assert_eq!(obs["enabled"], "true", "{obs}");
    assert_eq!(obs["ampRemoteWriteEndpoint"], "");
    assert_eq!(obs["adotCollectorRoleArn"], "");
    assert_eq!(obs["fluentBitRoleArn"], NONPROD.role("fluent-bit"));
    assert_eq!(obs["logGroups"]["host"], NONPROD.log_group("host"));
    assert_eq!(nonprod["addons"]["velero"]["prefix"], "velero/nonprod");
}

#[test]
fn before_the_app_stage_no_add_on_is_wired() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ecomctl.yaml");
    std::fs::copy(repo().join("examples/full.yaml"), &config).unwrap();
    let out = dir.path().join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_ecomctl"))
        .args(["render", "-q", "-c"])
        .arg(&config)
        .arg("--out")
        .arg(&out)
        .args(["--terraform-version", "1.11.4", "--stage", "cluster"])
        .args(["-e", "prod"])
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .env_remove("ECOMCTL_ROOT")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let prod = values(&out, "prod");
    for addon in ["observability", "velero"] {
        assert_eq!(prod["addons"][addon]["enabled"], "false", "{addon}");
    }
    assert_eq!(prod["addons"]["observability"]["logGroups"], json!({}));
}

#[test]
fn platform_values_from_app_outputs_pass_helm_template() {
    let Some(helm) = support::tool("helm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = render_with_app_outputs(dir.path());
    for fake in [&PROD, &NONPROD] {
        let env = fake.env;
        let run = Command::new(&helm)
            .args(["template", "ecommerce"])
            .arg(repo().join("charts/platform"))
            .args(["-n", "ecommerce", "-f"])
            .arg(out.join(env).join("cluster/values.yaml"))
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "helm template of the {env} values failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        let manifests = String::from_utf8_lossy(&run.stdout);
        assert!(
            manifests.contains(&format!("@{}:5433/shop", fake.db_host())),
            "{env}: DATABASE_URL points at the app stage's database"
        );
        assert!(
            manifests.contains(&format!("{}/shop/frontend", fake.registry())),
            "{env}: images come from the app stage's ECR repositories"
        );
        let docs = documents(&manifests);
        // The add-ons run as IRSA ServiceAccounts in their own namespaces.
        let mut accounts = vec![("observability", "fluent-bit"), ("velero", "velero")];
        if fake.amp {
            accounts.push(("observability", "adot-collector"));
        }
        for (namespace, name) in &accounts {
            let sa = find(&docs, "ServiceAccount", namespace, name)
                .unwrap_or_else(|| panic!("{env}: no ServiceAccount {namespace}/{name}"));
            assert_eq!(
                sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
                fake.role(name),
                "{env}: {namespace}/{name}"
            );
        }
        assert_eq!(
            find(&docs, "ServiceAccount", "observability", "adot-collector").is_some(),
            fake.amp,
            "{env}: the collector's account exists only with an AMP workspace"
        );
        let settings = find(
            &docs,
            "ConfigMap",
            "observability",
            "ecommerce-observability",
        )
        .unwrap_or_else(|| panic!("{env}: no observability settings"));
        let data = &settings["data"];
        assert_eq!(
            data["AMP_REMOTE_WRITE_ENDPOINT"].as_str().map(String::from),
            fake.amp_endpoint(),
            "{env}"
        );
        assert_eq!(data["LOG_GROUP_APPLICATION"], fake.log_group("application"));
        assert_eq!(data["LOG_GROUP_PERFORMANCE"], fake.log_group("performance"));
        let backups = find(&docs, "ConfigMap", "velero", "ecommerce-velero")
            .unwrap_or_else(|| panic!("{env}: no Velero settings"));
        assert_eq!(
            backups["data"]["BACKUP_BUCKET"],
            "shop-artifacts-111111111111"
        );
        assert_eq!(backups["data"]["BACKUP_PREFIX"], format!("velero/{env}"));
    }
}

/// The documents of a `helm template` stream, as JSON.
fn documents(stream: &str) -> Vec<Value> {
    let mut docs = vec![String::new()];
    for line in stream.lines() {
        if line == "---" {
            docs.push(String::new());
        } else if let Some(doc) = docs.last_mut() {
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs.iter()
        .filter_map(|doc| yaml::parse_one(doc).ok())
        .map(|node| to_json(&node))
        .filter(Value::is_object)
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, namespace: &str, name: &str) -> Option<&'a Value> {
    docs.iter().find(|d| {
        d["kind"] == kind
            && d["metadata"]["namespace"] == namespace
            && d["metadata"]["name"] == name
    })
}
