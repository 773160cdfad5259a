//! Faked upstream stage outputs, shared by the render and cluster tests and the cluster_plan
//! benchmark: the documents `terraform output -json` writes into
//! `<state dir>/<env>/<stage>/outputs.json`, with every foundation and app output the platform
//! values read, so the cluster stage renders without applying anything.

use serde_json::{json, Map, Value};
use std::path::Path;

/// An environment's faked outputs. `amp` gives it an AMP workspace (the remote-write endpoint
/// and the ADOT collector's role; both are null without one, as in the app stack).
pub struct FakeEnv<'a> {
    pub env: &'a str,
    pub account: &'a str,
    pub amp: bool,
}

impl FakeEnv<'_> {
    pub fn registry(&self) -> String {
        format!("{}.dkr.ecr.us-east-1.amazonaws.com", self.account)
    }

    pub fn db_host(&self) -> String {
        format!("shop-{}-db.c0ffee.us-east-1.rds.amazonaws.com", self.env)
    }

    pub fn role(&self, name: &str) -> String {
        format!(
            "arn:aws:iam::{}:role/shop-{}-{name}",
            self.account, self.env
        )
    }

    pub fn amp_endpoint(&self) -> Option<String> {
        self.amp.then(|| {
            format!(
                "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-{}/api/v1/remote_write",
                self.env
            )
        })
    }

    pub fn log_group(&self, kind: &str) -> String {
        format!("/aws/containerinsights/shop-{}-eks/{kind}", self.env)
    }

    pub fn foundation(&self) -> Value {
        json!({
            "cognito_user_pool_id": "us-east-1_AbCdEfGhI",
            "cognito_user_pool_client_id": "client123",
            "cognito_domain": format!("shop-{}", self.env),
            "app_irsa_role_arn": self.role("app-irsa"),
            "ingress_target_group_arns": {
                "frontend": format!("arn:aws:elasticloadbalancing:us-east-1:{}:targetgroup/fe/0123456789abcdef", self.account),
            },
            "vpc_cidr": "10.10.0.0/16",
            "vpc_id": "vpc-0123456789abcdef0",
            "cluster_name": format!("shop-{}-eks", self.env),
            "lb_controller_role_arn": self.role("lb-controller"),
        })
    }

    pub fn app(&self) -> Value {
        let registry = self.registry();
        let repos: Map<String, Value> = ecomctl::config::SERVICES
            .iter()
            .map(|s| (s.to_string(), json!(format!("{registry}/shop/{s}"))))
            .collect();
        let log_groups: Map<String, Value> = ["application", "dataplane", "host", "performance"]
            .iter()
            .map(|k| (k.to_string(), json!(self.log_group(k))))
            .collect();
        json!({
            "db_endpoint": format!("{}:5433", self.db_host()),
            "db_host": self.db_host(),
            "db_port": 5433,
            "db_secret_arn": format!("arn:aws:secretsmanager:us-east-1:{}:secret:rds!db-1", self.account),
            "ecr_registry": registry,
            "ecr_repository_urls": repos,
            "amp_remote_write_endpoint": self.amp_endpoint(),
            "log_group_names": log_groups,
            "adot_collector_role_arn": self.amp.then(|| self.role("adot-collector")),
            "fluent_bit_role_arn": self.role("fluent-bit"),
            "velero_role_arn": self.role("velero"),
            "velero_bucket": "shop-artifacts-111111111111",
            "velero_prefix": format!("velero/{}", self.env),
        })
    }

    /// Writes the foundation and app outputs of this environment under `state`.
    pub fn write(&self, state: &Path) {
        self.write_stage(state, "foundation", self.foundation());
        self.write_app(state);
    }

    /// Writes only the app outputs (foundation stays pending).
    pub fn write_app(&self, state: &Path) {
        self.write_stage(state, "app", self.app());
    }

    fn write_stage(&self, state: &Path, stage: &str, values: Value) {
        let dir = state.join(self.env).join(stage);
        std::fs::create_dir_all(&dir).expect("state dir");
        std::fs::write(dir.join("outputs.json"), terraform_outputs(&values)).expect("outputs");
    }
}

/// `terraform output -json` shape: {"name": {"value": ..., "type": ..., "sensitive": false}}.
pub fn terraform_outputs(values: &Value) -> String {
    let map: Map<String, Value> = values
        .as_object()
        .expect("an object of outputs")
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                json!({"value": v, "type": "string", "sensitive": false}),
            )
        })
        .collect();
    serde_json::to_string_pretty(&Value::Object(map)).expect("json")
}
