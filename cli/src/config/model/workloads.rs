//! What an environment runs: where images come from, and each service's workload settings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::yes;

/// Where images come from.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Images {
    /// Tag deployed when a service gives no digest.
    #[serde(default)]
    pub tag: Option<String>,
    /// Registry secrets for pulling.
    #[serde(default)]
    pub pull_secrets: Vec<String>,
    /// The public key (PEM, ECDSA P-256, as `ecomctl sign --public-key` prints it; a path
    /// relative to this file) every image must carry a signature by. Required in prod: its
    /// cluster stage refuses images without one.
    #[serde(default)]
    pub verify_key: Option<String>,
    /// prod only: the environment a digest must have been deployed to (`ecomctl deploy`)
    /// before prod runs it (default: `nonprod`).
    #[serde(default)]
    pub promoted_from: Option<String>,
}

/// One service's workload settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "two")]
    pub replicas: u32,
    #[serde(default)]
    pub resources: Resources,
    #[serde(default)]
    pub hpa: Option<Hpa>,
    #[serde(default)]
    pub pdb: Option<Pdb>,
    /// Image digest (`sha256:...`) to deploy; required in prod.
    #[serde(default)]
    pub digest: Option<String>,
}

fn two() -> u32 {
    2
}

impl Default for Service {
    fn default() -> Self {
        Service {
            enabled: true,
            replicas: two(),
            resources: Resources::default(),
            hpa: None,
            pdb: None,
            digest: None,
        }
    }
}

/// CPU and memory requests and limits (Kubernetes quantities).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default = "default_cpu_req")]
    pub cpu_request: String,
    #[serde(default = "default_mem")]
    pub memory_request: String,
    #[serde(default = "default_cpu_limit")]
    pub cpu_limit: String,
    #[serde(default = "default_mem")]
    pub memory_limit: String,
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            cpu_request: default_cpu_req(),
            memory_request: default_mem(),
            cpu_limit: default_cpu_limit(),
            memory_limit: default_mem(),
        }
    }
}

fn default_cpu_req() -> String {
    "100m".into()
}
fn default_cpu_limit() -> String {
    "500m".into()
}
fn default_mem() -> String {
    "128Mi".into()
}

/// Horizontal pod autoscaling.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hpa {
    pub min_replicas: u32,
    pub max_replicas: u32,
    #[serde(default = "default_cpu_target")]
    pub target_cpu_percent: u32,
    /// Also scale on `http_requests_throttled_per_second` per pod above this value.
    #[serde(default)]
    pub throttled_requests_per_second: Option<u32>,
}

fn default_cpu_target() -> u32 {
    70
}

/// Pod disruption budget.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pdb {
    pub min_available: u32,
}
