//! The settings every command shares: each a flag or its `ECOMCTL_*` environment variable,
//! parsed once by clap (a bad value is a usage error, exit 2) and listed in `--help`.

use clap::Args;
use std::path::PathBuf;

/// Settings of a run, each a flag or its environment variable, read once here (a bad value is
/// a usage error, exit 2, never a silent default).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Settings (flag or environment variable)")]
pub struct RunArgs {
    /// The Terraform binary (default: `terraform` on PATH).
    #[arg(long, global = true, env = "ECOMCTL_TERRAFORM", value_name = "PATH")]
    pub terraform: Option<PathBuf>,

    /// A directory of provider packages (a filesystem mirror, e.g. for air-gapped runners):
    /// Terraform installs providers only from it. Overrides `tools.plugin_dir` in the config.
    #[arg(long, global = true, env = "ECOMCTL_PLUGIN_DIR", value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,

    /// Where `stacks/`, `charts/` and `cluster/` are (default: the nearest ancestor of the
    /// config, then of the working directory, that has them).
    #[arg(long, global = true, env = "ECOMCTL_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Assume each account's role (`false`: the credentials already are that role, e.g. a CI
    /// job that assumed it through OIDC).
    #[arg(long, global = true, env = "ECOMCTL_ASSUME_ROLE", value_name = "BOOL",
          default_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub assume_role: bool,

    /// Seconds a tool gets after Ctrl-C to stop (and release its state lock) before it is killed.
    #[arg(long, global = true, env = "ECOMCTL_INTERRUPT_GRACE", value_name = "SECONDS",
          default_value = "30", value_parser = seconds)]
    pub interrupt_grace: std::time::Duration,

    /// Seconds to wait for another ecomctl run's lock on a stage (0: fail at once).
    #[arg(long, global = true, env = "ECOMCTL_LOCK_TIMEOUT", value_name = "SECONDS",
          default_value = "0", value_parser = seconds)]
    pub lock_timeout: std::time::Duration,

    /// Seconds of silence after which Terraform is stopped as hung (0: never).
    #[arg(long, global = true, env = "ECOMCTL_STALL_TIMEOUT", value_name = "SECONDS",
          default_value = "1200", value_parser = seconds)]
    pub stall_timeout: std::time::Duration,

    /// Send every AWS call (ecomctl's and Terraform's backend) to this endpoint (moto, MinIO).
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub aws_endpoint: Option<String>,

    /// Kubeconfig of the cluster stage and `rollback` (default: `KUBECONFIG`; without any, the
    /// EKS cluster of the foundation outputs with a token made from the AWS credentials).
    #[arg(long, global = true, env = "ECOMCTL_KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// The kubeconfig context (default: its current context).
    #[arg(
        long,
        global = true,
        env = "ECOMCTL_KUBE_CONTEXT",
        value_name = "NAME",
        visible_alias = "context"
    )]
    pub kube_context: Option<String>,

    /// How the stage walk (`up`, `plan`, `apply`, `down`, `status`) reaches the cluster stage:
    /// `auto` uses the kubeconfig when one is given, else the EKS cluster of the env's
    /// foundation outputs (a token made in process); `kubeconfig` runs the stage only with a
    /// kubeconfig; `off` leaves the cluster stage out.
    #[arg(
        long,
        global = true,
        env = "ECOMCTL_CLUSTER_ACCESS",
        value_name = "MODE",
        default_value = "auto"
    )]
    pub cluster_access: ClusterAccess,

    /// Take fields another field manager owns instead of reporting the conflict (cluster stage).
    #[arg(long, global = true, env = "ECOMCTL_FORCE_CONFLICTS", value_name = "BOOL",
          default_value = "false", num_args = 0..=1, default_missing_value = "true",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub force_conflicts: bool,

    /// Seconds the cluster stage waits for every rollout before failing (a failing pod ends it
    /// sooner).
    #[arg(long, global = true, env = "ECOMCTL_ROLLOUT_TIMEOUT", value_name = "SECONDS",
          default_value = "600", value_parser = seconds)]
    pub rollout_timeout: std::time::Duration,

    /// The Helm binary (default: `helm` on PATH).
    #[arg(long, global = true, env = "ECOMCTL_HELM", value_name = "PATH")]
    pub helm: Option<PathBuf>,

    /// The kubectl binary the doctor reports on (default: `kubectl` on PATH).
    #[arg(long, global = true, env = "ECOMCTL_KUBECTL", value_name = "PATH")]
    pub kubectl: Option<PathBuf>,

    /// The checkov binary of the policy gate and the doctor (default: `checkov` on PATH).
    #[arg(long, global = true, env = "ECOMCTL_CHECKOV", value_name = "PATH")]
    pub checkov: Option<PathBuf>,
}

/// A number of seconds, fractions allowed.
fn seconds(text: &str) -> Result<std::time::Duration, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(std::time::Duration::from_secs_f64)
        .ok_or_else(|| format!("`{text}` is not a number of seconds (e.g. 30 or 1.5)"))
}

/// How the stage walk reaches the cluster stage (`--cluster-access`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ClusterAccess {
    /// The kubeconfig when given, else the EKS cluster of the foundation outputs.
    #[default]
    Auto,
    /// Only with a kubeconfig; without one the cluster stage is skipped.
    Kubeconfig,
    /// Never: the walk leaves the cluster stage out.
    Off,
}
