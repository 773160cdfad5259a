//! The `ecomctl.yaml` model. Doc comments here become the JSON Schema descriptions and the
//! generated `docs/reference/config.md`, so write them for the reader of that page.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

mod workloads;
pub use workloads::*;

/// The one file that describes a whole platform: accounts, state, DNS, identity, and every
/// environment's network, cluster, database and services.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Format version of this file. Only `1` exists.
    pub version: u32,
    pub project: Project,
    pub regions: Regions,
    /// The shared-services account, which holds Terraform state, artifacts and the audit logs.
    pub shared_services: super::shared::SharedServices,
    pub state: State,
    pub artifacts: Artifacts,
    /// IAM role ARNs allowed to read and write the state bucket (Terraform roles of every account).
    pub trusted_role_arns: Vec<String>,
    pub github: Github,
    pub dns: Dns,
    pub cognito: Cognito,
    pub alerts: Alerts,
    #[serde(default)]
    pub tools: Tools,
    /// Third-party releases the cluster stage installs, pinned by version and SHA-256.
    #[serde(default)]
    pub releases: super::releases::Releases,
    /// Images mirrored into the platform's registry, pinned by digest, and the image scan gate.
    #[serde(default)]
    pub supply_chain: super::supply_chain::SupplyChain,
    /// The environments, by name (for example `nonprod` and `prod`).
    pub environments: BTreeMap<String, Environment>,
}

/// Naming and tagging for everything the platform creates.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Prefix of bucket, role and cluster names: lowercase letters, digits and dashes, 3-24 long.
    pub name: String,
    /// Team that owns the platform; becomes the `owner` tag.
    pub owner: String,
    /// Becomes the `data-classification` tag.
    #[serde(default)]
    pub data_classification: DataClassification,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DataClassification {
    Public,
    Internal,
    #[default]
    Confidential,
    Restricted,
}

/// Where things run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Regions {
    /// Region of the state bucket and of every environment unless it says otherwise.
    pub primary: String,
    /// Disaster-recovery region (cross-region database replicas, backups).
    #[serde(default)]
    pub dr: Option<String>,
}

/// An AWS account and the role ecomctl assumes in it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// The 12-digit account id (quote it if it starts with 0).
    pub account_id: String,
    /// Role assumed to run Terraform in this account.
    pub role_arn: String,
}

/// Terraform remote state, created by the bootstrap stage.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// Globally unique S3 bucket name for Terraform state.
    pub bucket: String,
    /// Days each state version stays immutable under S3 Object Lock.
    pub lock_retention_days: u32,
    /// KMS alias of the state key. Defaults to `alias/<project>/tf-state`.
    #[serde(default)]
    pub kms_alias: Option<String>,
    /// How Terraform locks state: `s3` lock files (Terraform >= 1.10) or a `dynamodb` table.
    #[serde(default)]
    pub lock: LockMethod,
    /// DynamoDB lock table name. Defaults to `<project>-tf-lock`.
    #[serde(default)]
    pub lock_table: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LockMethod {
    /// S3 lock files when the Terraform found supports them, else the DynamoDB table.
    #[default]
    Auto,
    S3,
    Dynamodb,
}

/// Bucket for CI logs, SBOMs and backups.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Artifacts {
    pub bucket: String,
    /// Days before artifacts expire.
    #[serde(default = "default_artifact_days")]
    pub retention_days: u32,
}

fn default_artifact_days() -> u32 {
    365
}

/// GitHub repositories whose workflows may assume the deployer roles through OIDC.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Github {
    /// `org/repo` names.
    pub repositories: Vec<String>,
    /// Branches allowed to deploy.
    #[serde(default = "default_branches")]
    pub branches: Vec<String>,
    /// GitHub deployment environments allowed to deploy.
    #[serde(default)]
    pub environments: Vec<String>,
    #[serde(default)]
    pub oidc_provider: OidcProvider,
}

fn default_branches() -> Vec<String> {
    vec!["main".into()]
}

/// Create the GitHub OIDC provider in each account, or reuse one by ARN.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OidcProvider {
    /// Create the provider (default) unless `arn` names an existing one.
    #[serde(default)]
    pub arn: Option<String>,
}

/// The public domain.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    /// Apex domain of the shop (`shop.example.com`). Each non-prod environment gets `<env>.<root>`.
    pub root_domain: String,
    /// Create the Route53 hosted zone, or reuse the existing one.
    #[serde(default = "yes")]
    pub create_zone: bool,
    /// Id of an existing hosted zone, when `create_zone` is false.
    #[serde(default)]
    pub zone_id: Option<String>,
}

fn yes() -> bool {
    true
}

/// The Cognito user pool in front of sign-in.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cognito {
    /// Hosted UI prefix (`<prefix>-<env>.auth.<region>.amazoncognito.com`).
    pub domain_prefix: String,
    #[serde(default)]
    pub smoke_test_user: Option<SmokeTestUser>,
}

/// A user created for smoke tests after each foundation apply.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SmokeTestUser {
    pub email: String,
    /// Its temporary password, by reference only: never written in this file.
    pub temp_password: SecretRef,
}

/// A secret named, never given: an environment variable read at run time, or a Secrets Manager
/// secret ARN.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("x-secret-ref" = true))]
pub struct SecretRef {
    /// Environment variable holding the value.
    #[serde(default)]
    pub env: Option<String>,
    /// Secrets Manager secret ARN holding the value.
    #[serde(default)]
    pub secret_arn: Option<String>,
}

/// Who hears about foundational alarms.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alerts {
    pub emails: Vec<String>,
}

/// Version constraints for the tools ecomctl drives (`>= 1.6, < 2.0` style).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tools {
    #[serde(default = "default_tf")]
    pub terraform: String,
    #[serde(default = "default_helm")]
    pub helm: String,
    /// A directory of Terraform provider packages (a filesystem mirror, laid out
    /// `registry.terraform.io/hashicorp/aws/<version>/<os_arch>/`): providers are installed
    /// only from it (`terraform init -plugin-dir`), for runners without internet access.
    /// Relative to the config file. `--plugin-dir` / `ECOMCTL_PLUGIN_DIR` override it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_dir: Option<String>,
}

impl Default for Tools {
    fn default() -> Self {
        Tools {
            terraform: default_tf(),
            helm: default_helm(),
            plugin_dir: None,
        }
    }
}

fn default_tf() -> String {
    ">= 1.6".into()
}
fn default_helm() -> String {
    ">= 3.12".into()
}

/// One environment: its own account, network, cluster, database and services. The environment
/// named `prod` is production: multi-AZ, deletion protection, Graviton nodes and approvals are
/// required there.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    pub account: Account,
    /// Region, when not the primary one.
    #[serde(default)]
    pub region: Option<String>,
    /// Protect databases, load balancers and user pools from deletion. Must be true in prod.
    #[serde(default)]
    pub deletion_protection: Option<bool>,
    pub vpc: Vpc,
    pub eks: Eks,
    pub rds: Rds,
    #[serde(default)]
    pub ecr: Ecr,
    #[serde(default)]
    pub observability: Observability,
    #[serde(default)]
    pub waf: Waf,
    #[serde(default)]
    pub guardrails: super::guardrails::Guardrails,
    /// Namespaces the cluster stage primes, each with its resource quota (`ecommerce`,
    /// `observability`, `networking`, `velero`). The add-ons' ServiceAccounts and settings
    /// (IRSA of the ADOT collector and Fluent Bit in `observability`, of Velero in `velero`) are
    /// rendered only into namespaces listed here.
    #[serde(default = "default_namespaces")]
    pub namespaces: BTreeMap<String, NamespaceQuota>,
    /// Per-service settings for the platform chart, by service name.
    #[serde(default)]
    pub services: BTreeMap<String, Service>,
    /// Container image settings for this environment.
    #[serde(default)]
    pub images: Images,
}

/// The VPC: one /16 split into public, app and data subnets across the AZs.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vpc {
    /// A /16 CIDR that overlaps no other environment's.
    pub cidr: String,
    /// Availability zones to spread over (2 or 3).
    #[serde(default = "three")]
    pub az_count: u32,
    /// One NAT gateway for all AZs (cheaper; not for prod).
    #[serde(default)]
    pub single_nat_gateway: Option<bool>,
    /// Transit Gateway to attach the VPC to.
    #[serde(default)]
    pub transit_gateway_id: Option<String>,
}

fn three() -> u32 {
    3
}

/// The EKS cluster.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Eks {
    /// Kubernetes version (`1.33`).
    pub version: String,
    /// CIDRs allowed to reach the public API endpoint. Empty means private endpoint only.
    #[serde(default)]
    pub public_access_cidrs: Vec<String>,
    /// Managed node groups (Bottlerocket), by name.
    pub node_groups: BTreeMap<String, NodeGroup>,
    /// Fargate profiles for system workloads, by name.
    #[serde(default)]
    pub fargate_profiles: BTreeMap<String, FargateProfile>,
    /// What enforces the chart's NetworkPolicies: `vpc-cni` (the EKS add-on with
    /// `enableNetworkPolicy`, set by the foundation stack) or `calico` (the Tigera operator from
    /// `releases.calico`, policy only, on the VPC CNI).
    #[serde(default)]
    pub network_policy: NetworkPolicyEngine,
}

/// The engine that enforces NetworkPolicies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum NetworkPolicyEngine {
    #[default]
    #[serde(rename = "vpc-cni")]
    VpcCni,
    #[serde(rename = "calico")]
    Calico,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// Graviton.
    Arm64,
    X86_64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Capacity {
    #[default]
    OnDemand,
    Spot,
}

/// A managed node group.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeGroup {
    pub architecture: Architecture,
    pub instance_types: Vec<String>,
    pub min_size: u32,
    pub max_size: u32,
    pub desired_size: u32,
    #[serde(default = "default_disk")]
    pub disk_size_gib: u32,
    #[serde(default)]
    pub capacity: Capacity,
}

fn default_disk() -> u32 {
    50
}

/// A Fargate profile.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FargateProfile {
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// RDS PostgreSQL.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rds {
    #[serde(default = "default_pg")]
    pub engine_version: String,
    /// Instance class (`db.t4g.medium`).
    pub instance_class: String,
    pub allocated_storage_gib: u32,
    /// Storage autoscaling ceiling.
    #[serde(default)]
    pub max_allocated_storage_gib: Option<u32>,
    pub multi_az: bool,
    /// Days of automated backups (1-35).
    pub backup_retention_days: u32,
    /// A read replica in the DR region (needs `regions.dr`).
    #[serde(default)]
    pub cross_region_replica: bool,
    #[serde(default = "default_db_name")]
    pub database_name: String,
    #[serde(default = "default_db_name")]
    pub username: String,
}

fn default_pg() -> String {
    "16.4".into()
}
fn default_db_name() -> String {
    "shop".into()
}

/// ECR repositories (immutable tags, scan on push).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ecr {
    #[serde(default = "default_repos")]
    pub repositories: Vec<String>,
}

impl Default for Ecr {
    fn default() -> Self {
        Ecr {
            repositories: default_repos(),
        }
    }
}

/// The six bundled services.
pub const SERVICES: [&str; 6] = [
    "frontend",
    "login",
    "catalog",
    "inventory",
    "orders",
    "payments",
];

fn default_repos() -> Vec<String> {
    SERVICES.iter().map(|s| s.to_string()).collect()
}

/// Metrics, dashboards and logs.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Observability {
    /// Amazon Managed Service for Prometheus.
    #[serde(default = "yes")]
    pub amp: bool,
    /// Amazon Managed Grafana.
    #[serde(default = "yes")]
    pub grafana: bool,
    #[serde(default = "yes")]
    pub container_insights: bool,
    /// CloudWatch log retention; one of the values CloudWatch accepts.
    #[serde(default = "default_log_days")]
    pub log_retention_days: u32,
}

impl Default for Observability {
    fn default() -> Self {
        Observability {
            amp: true,
            grafana: true,
            container_insights: true,
            log_retention_days: default_log_days(),
        }
    }
}

fn default_log_days() -> u32 {
    365
}

/// The web application firewall in front of the ALB.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Waf {
    /// Requests per 5 minutes per client IP before the rate rule blocks (>= 100).
    #[serde(default = "default_rate")]
    pub rate_limit: u32,
}

impl Default for Waf {
    fn default() -> Self {
        Waf {
            rate_limit: default_rate(),
        }
    }
}

fn default_rate() -> u32 {
    2000
}

/// A namespace's ResourceQuota and default container limits.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamespaceQuota {
    /// Pod Security Standard enforced on the namespace.
    #[serde(default = "default_pss")]
    pub pod_security: PodSecurity,
    /// Total CPU requests (`8`, `4000m`).
    pub cpu: String,
    /// Total memory requests (`16Gi`).
    pub memory: String,
    pub pods: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PodSecurity {
    Restricted,
    Baseline,
    Privileged,
}

fn default_pss() -> PodSecurity {
    PodSecurity::Restricted
}

fn default_namespaces() -> BTreeMap<String, NamespaceQuota> {
    let q = |pss, cpu: &str, memory: &str, pods| NamespaceQuota {
        pod_security: pss,
        cpu: cpu.into(),
        memory: memory.into(),
        pods,
    };
    BTreeMap::from([
        (
            "ecommerce".to_string(),
            q(PodSecurity::Restricted, "8", "16Gi", 60),
        ),
        (
            "observability".to_string(),
            q(PodSecurity::Baseline, "4", "8Gi", 30),
        ),
        (
            "networking".to_string(),
            q(PodSecurity::Baseline, "2", "4Gi", 20),
        ),
        (
            "velero".to_string(),
            q(PodSecurity::Baseline, "2", "4Gi", 10),
        ),
    ])
}

impl Config {
    /// The environment names, in order.
    pub fn env_names(&self) -> impl Iterator<Item = &str> {
        self.environments.keys().map(String::as_str)
    }

    pub fn kms_alias(&self) -> String {
        self.state
            .kms_alias
            .clone()
            .unwrap_or_else(|| format!("alias/{}/tf-state", self.project.name))
    }

    pub fn lock_table(&self) -> String {
        self.state
            .lock_table
            .clone()
            .unwrap_or_else(|| format!("{}-tf-lock", self.project.name))
    }
}

impl Environment {
    /// Whether the environment of this name is production.
    pub fn is_prod(name: &str) -> bool {
        name == "prod"
    }
}
