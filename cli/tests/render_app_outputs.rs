//! The app stage's outputs reach the platform chart: after a faked app-stage `outputs.json`
//! (the document `terraform output -json` writes), `ecomctl render` puts the database, the
//! registry and the metrics settings into the Helm values, and `helm template` of those values
//! passes the chart's schema.

mod support;

use ecomctl::config::yaml;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `terraform output -json` shape: {"name": {"value": ..., "type": ..., "sensitive": false}}.
fn outputs(values: Value) -> String {
    let map: serde_json::Map<String, Value> = values
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                json!({"value": v, "type": "string", "sensitive": false}),
            )
        })
        .collect();
    serde_json::to_string_pretty(&Value::Object(map)).unwrap()
}

fn app_outputs(account: &str, amp: Value) -> String {
    let registry = format!("{account}.dkr.ecr.us-east-1.amazonaws.com");
    let repos: serde_json::Map<String, Value> = ecomctl::config::SERVICES
        .iter()
        .map(|s| (s.to_string(), json!(format!("{registry}/shop/{s}"))))
        .collect();
    outputs(json!({
        "db_endpoint": "shop-env-db.c0ffee.us-east-1.rds.amazonaws.com:5433",
        "db_host": "shop-env-db.c0ffee.us-east-1.rds.amazonaws.com",
        "db_port": 5433,
        "db_secret_arn": format!("arn:aws:secretsmanager:us-east-1:{account}:secret:rds!db-1"),
        "ecr_registry": registry,
        "ecr_repository_urls": repos,
        "amp_remote_write_endpoint": amp,
    }))
}

/// Renders examples/full.yaml with faked app outputs for both environments (prod with AMP,
/// nonprod without) and returns the output directory.
fn render_with_app_outputs(dir: &Path) -> PathBuf {
    let config = dir.join("ecomctl.yaml");
    std::fs::copy(repo().join("examples/full.yaml"), &config).unwrap();
    for (env, account, amp) in [
        (
            "prod",
            "333333333333",
            json!("https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write"),
        ),
        ("nonprod", "222222222222", Value::Null),
    ] {
        let stage = dir.join(".ecomctl").join(env).join("app");
        std::fs::create_dir_all(&stage).unwrap();
        std::fs::write(stage.join("outputs.json"), app_outputs(account, amp)).unwrap();
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
    assert_eq!(
        prod["database"]["host"],
        "shop-env-db.c0ffee.us-east-1.rds.amazonaws.com"
    );
    assert_eq!(
        prod["database"]["port"], 5433,
        "the port comes from db_port"
    );
    assert_eq!(
        prod["global"]["imageRegistry"],
        "333333333333.dkr.ecr.us-east-1.amazonaws.com"
    );
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
    assert_eq!(
        nonprod["global"]["imageRegistry"],
        "222222222222.dkr.ecr.us-east-1.amazonaws.com"
    );
    assert_eq!(
        nonprod["networkPolicy"]["metricsNamespace"], "",
        "without an AMP workspace nobody is let in to scrape"
    );
}

#[test]
fn platform_values_from_app_outputs_pass_helm_template() {
    let Some(helm) = support::tool("helm") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = render_with_app_outputs(dir.path());
    for env in ["prod", "nonprod"] {
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
            manifests.contains("@shop-env-db.c0ffee.us-east-1.rds.amazonaws.com:5433/shop"),
            "{env}: DATABASE_URL points at the app stage's database"
        );
        let account = if env == "prod" {
            "333333333333"
        } else {
            "222222222222"
        };
        assert!(
            manifests.contains(&format!(
                "{account}.dkr.ecr.us-east-1.amazonaws.com/shop/frontend"
            )),
            "{env}: images come from the app stage's ECR repositories"
        );
    }
}
