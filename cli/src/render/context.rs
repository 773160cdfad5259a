//! The data templates see. Everything derived from the config (names, tiers, defaults that depend
//! on the tier) is computed here once, so templates stay plain.

use super::{RenderOptions, Stage, GLOBAL_SCOPE};
use crate::config::{Loaded, LockMethod, SERVICES};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

pub struct Context {
    pub value: Value,
}

/// The state lock method for the Terraform version found: S3 lock files need >= 1.10.
pub fn lock_method(method: LockMethod, terraform: &crate::tools::version::Version) -> &'static str {
    match method {
        LockMethod::S3 => "s3",
        LockMethod::Dynamodb => "dynamodb",
        LockMethod::Auto if terraform.at_least(&[1, 10]) => "s3",
        LockMethod::Auto => "dynamodb",
    }
}

/// The S3 key of a stage's state.
pub fn state_key(project: &str, scope: &str, stage: Stage) -> String {
    format!("{project}/{scope}/{}/terraform.tfstate", stage.name())
}

pub fn build(loaded: &Loaded, scope: &str, stage: Stage, opts: &RenderOptions) -> Context {
    let c = &loaded.config;
    let lock = lock_method(c.state.lock, &opts.terraform);
    let mut value = json!({
        "config": loaded.json,
        "project": loaded.json["project"],
        "scope": scope,
        "stage": stage.name(),
        "services_all": SERVICES,
        // The pinned third-party releases (cluster/addons/*.tera), with their defaults.
        "releases": serde_json::to_value(&c.releases).unwrap_or(Value::Null),
        "state": {
            "bucket": c.state.bucket,
            "key": state_key(&c.project.name, scope, stage),
            "region": c.regions.primary,
            "kms_alias": c.kms_alias(),
            "lock_method": lock,
            "lock_table": c.lock_table(),
            // The state bucket is in the shared-services account: the backend assumes its role.
            "role_arn": opts.assume_roles.then(|| c.shared_services.role_arn.clone()),
            "session_name": format!("ecomctl-{}-{scope}-state", c.project.name),
        },
        "terraform": {
            "version": opts.terraform.to_string(),
            // Terraform >= 1.6 spells endpoints as a block and path style as use_path_style.
            "modern_backend": opts.terraform.at_least(&[1, 6]),
        },
        "aws_endpoint": opts.aws_endpoint,
        "assume_roles": opts.assume_roles,
    });
    let mut tags = json!({
        "project": c.project.name,
        "owner": c.project.owner,
        "data-classification": loaded.json["project"]["data_classification"],
        "managed-by": "ecomctl",
    });
    if scope == GLOBAL_SCOPE {
        tags["environment"] = json!("shared-services");
        value["account"] = json!(c.shared_services);
        value["region"] = json!(c.regions.primary);
    } else if let Some(env) = c.environments.get(scope) {
        let prod = crate::config::Environment::is_prod(scope);
        tags["environment"] = json!(scope);
        let mut e = serde_json::to_value(env).unwrap_or(Value::Null);
        let region = env
            .region
            .clone()
            .unwrap_or_else(|| c.regions.primary.clone());
        let domain = if prod {
            c.dns.root_domain.clone()
        } else {
            format!("{scope}.{}", c.dns.root_domain)
        };
        let services: Map<String, Value> = SERVICES
            .iter()
            .map(|name| {
                let svc = env.services.get(*name).cloned().unwrap_or_default();
                (
                    name.to_string(),
                    serde_json::to_value(svc).unwrap_or(Value::Null),
                )
            })
            .collect();
        if let Some(obj) = e.as_object_mut() {
            obj.insert("name".into(), json!(scope));
            obj.insert("tier".into(), json!(if prod { "prod" } else { "nonprod" }));
            obj.insert("is_prod".into(), json!(prod));
            obj.insert("region".into(), json!(region));
            obj.insert(
                "deletion_protection".into(),
                json!(env.deletion_protection.unwrap_or(prod)),
            );
            obj.insert(
                "single_nat_gateway".into(),
                json!(env.vpc.single_nat_gateway.unwrap_or(!prod)),
            );
            obj.insert("domain".into(), json!(domain));
            obj.insert(
                "cognito_domain_prefix".into(),
                json!(format!("{}-{scope}", c.cognito.domain_prefix)),
            );
            obj.insert("services".into(), Value::Object(services));
        }
        value["region"] = json!(region);
        value["account"] = json!(env.account);
        value["env"] = e;
    }
    value["tags"] = tags;
    Context { value }
}

/// The `upstream(stage=..., output=...)` template function: an applied stage's output, or a
/// `<pending: stage.output>` marker until that stage has been applied.
pub struct Upstream {
    outputs: BTreeMap<&'static str, Map<String, Value>>,
}

impl Upstream {
    /// Reads `outputs.json` (the `terraform output -json` document) of every Terraform stage
    /// upstream of `scope`.
    pub fn load(state_dir: &Path, scope: &str) -> Upstream {
        let mut outputs = BTreeMap::new();
        for stage in [Stage::Bootstrap, Stage::Foundation, Stage::App] {
            let dir_scope = if stage.is_global() {
                GLOBAL_SCOPE
            } else {
                scope
            };
            let path = state_dir
                .join(dir_scope)
                .join(stage.name())
                .join("outputs.json");
            if let Some(Value::Object(map)) = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
            {
                let flat = map
                    .into_iter()
                    .map(|(k, v)| match v {
                        Value::Object(mut o) if o.contains_key("value") => {
                            (k, o.remove("value").unwrap_or(Value::Null))
                        }
                        other => (k, other),
                    })
                    .collect();
                outputs.insert(stage.name(), flat);
            }
        }
        Upstream { outputs }
    }
}

impl tera::Function for Upstream {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let arg = |name: &str| {
            args.get(name).and_then(Value::as_str).ok_or_else(|| {
                tera::Error::msg(format!("upstream() needs a string argument `{name}`"))
            })
        };
        let (stage, output) = (arg("stage")?, arg("output")?);
        if !["bootstrap", "foundation", "app"].contains(&stage) {
            return Err(tera::Error::msg(format!(
                "upstream(): `{stage}` is not a Terraform stage"
            )));
        }
        Ok(match self.outputs.get(stage) {
            Some(outs) => match outs.get(output) {
                Some(v) => v.clone(),
                None => {
                    return Err(tera::Error::msg(format!(
                        "the {stage} stage has no output `{output}`"
                    )))
                }
            },
            None => Value::String(format!("<pending: {stage}.{output}>")),
        })
    }

    fn is_safe(&self) -> bool {
        true
    }
}
