//! The stages, one (scope, stage) at a time. An engine (this module: the walk, locks,
//! approvals, records, events and the AWS preflight) drives one driver per kind of stage behind
//! the [`StageDriver`] trait: `terraform` for bootstrap, foundation and app (render -> init ->
//! plan -> show -json -> summary -> policy gate -> approval -> apply of that saved plan ->
//! output -json). See README.md beside this file for the contract.
//!
//! - `workspace`: everything a run knows, resolved once; `preflight`: AWS account and bucket;
//! - `next`: what happens next to a stage, a pure function; `approval`: who may approve what;
//! - `run`: plan and apply of one stage; `walk`: `up`, `down`, `status`;
//! - `dir`: the per-stage directory as a type; `record`: what is kept in it;
//! - `events`: every NDJSON event as one type; `gate`: the policy gate; `summary`: plan summary.

pub mod approval;
pub mod cluster;
pub mod dir;
pub mod driver;
pub mod events;
pub mod gate;
pub mod next;
mod preflight;
pub mod record;
mod run;
pub mod summary;
pub mod terraform;
mod walk;
mod workspace;

use crate::config::Loaded;
use crate::exit::{Exit, INTERRUPTED, USAGE};
use crate::render::{Stage, GLOBAL_SCOPE};
use crate::tools::process::{self, ProcessError};
use anyhow::{Context, Result};
pub use approval::{Approval, Decision, MIN_HASH_PREFIX};
pub use dir::StageDir;
pub use driver::StageDriver;
pub use gate::{GateReport, NoPolicy, PolicyGate, RegoPolicy};
pub use preflight::Prefetch;
use record::RecordError;
use serde_json::Value;
use std::path::{Path, PathBuf};
use summary::PlanSummary;
pub use terraform::LOCAL_BACKEND_OVERRIDE;
pub use workspace::{Workspace, WorkspaceOptions, DEFAULT_STALL};

/// Why the walk leaves the cluster stage out (`--cluster-access`).
pub const CLUSTER_NEEDS_KUBECONFIG: &str =
    "cluster stage needs a Kubernetes API: set KUBECONFIG or ECOMCTL_KUBECONFIG (and ECOMCTL_KUBE_CONTEXT) to run it";
pub const CLUSTER_OFF: &str = "the cluster stage is off (--cluster-access off)";
pub const CLUSTER_NOT_YET: &str =
    "no kubeconfig given and the foundation stage has no EKS cluster outputs yet (apply it, or pass --kubeconfig)";

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("there is no saved plan for {0}")]
    NoPlan(String),
    #[error("the saved plan for {0} was made from other inputs than the current ones")]
    StalePlan(String),
    #[error("the {0} stage is not a Terraform stage")]
    NotTerraform(Stage),
    #[error("the {0} stage is left out: {1}")]
    Unreachable(Stage, &'static str),
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// One stage of one scope: `nonprod/foundation`, `global/bootstrap`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Target {
    pub scope: String,
    pub stage: Stage,
}

impl Target {
    pub fn new(env: &str, stage: Stage) -> Target {
        Target {
            scope: if stage.is_global() {
                GLOBAL_SCOPE.to_string()
            } else {
                env.to_string()
            },
            stage,
        }
    }

    pub fn label(&self) -> String {
        format!("{}/{}", self.scope, self.stage)
    }

    /// Production-grade: prod itself and the shared bootstrap stage.
    pub fn is_prod(&self) -> bool {
        self.scope == "prod" || self.stage.is_global()
    }
}

/// The result of planning one target.
#[derive(Debug, Clone)]
pub struct PlanOutcome {
    pub target: Target,
    pub summary: PlanSummary,
    pub plan_hash: String,
    pub inputs_hash: String,
    /// The inputs are those of the last successful apply.
    pub unchanged_since_apply: bool,
}

impl PlanOutcome {
    pub fn has_changes(&self) -> bool {
        self.summary.has_changes()
    }
}

/// What `up` or `down` did with one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Applied,
    Unchanged,
    NotImplemented,
    Destroyed,
    NotApplied,
}

/// The status of one target, for `ecomctl status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TargetStatus {
    pub scope: String,
    pub stage: Stage,
    pub applied_at: Option<u64>,
    /// `None` when the inputs cannot be rendered yet.
    pub inputs_changed: Option<bool>,
    pub outputs: bool,
    pub plan_saved: bool,
    pub failed_at: Option<u64>,
    pub destroyed_at: Option<u64>,
    /// A record that cannot be read, and how to get out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub damaged: Option<String>,
}

/// A tool failure as an error: interruptions become exit 130, the rest keep their tail.
pub fn tool_error(e: ProcessError, target: &Target) -> anyhow::Error {
    if e.interrupted {
        let hint = if e.signal == Some(libc::SIGKILL) {
            "it did not stop within the grace period and was killed, so its state lock may still be held: the rerun explains a held lock, and `ecomctl unlock` releases it"
        } else {
            "nothing was recorded as applied; rerun the same command to resume"
        };
        return Exit::new(
            INTERRUPTED,
            format!("interrupted: {} stopped for {}", e.desc, target.label()),
        )
        .hint(hint)
        .into();
    }
    anyhow::Error::new(e)
}

pub(crate) fn check_interrupt() -> Result<()> {
    if process::interrupted() {
        return Err(Exit::new(INTERRUPTED, "interrupted").into());
    }
    Ok(())
}

/// Where ecomctl keeps rendered inputs, plans and records: `.ecomctl/` beside the config.
pub fn state_dir(loaded: &Loaded) -> Result<PathBuf> {
    std::path::absolute(loaded.base_dir().join(".ecomctl")).context("resolving the state directory")
}

/// Every environment of the config, or the one asked for (an unknown name is a usage error).
pub fn envs(loaded: &Loaded, only: Option<&str>) -> Result<Vec<String>> {
    let names: Vec<String> = loaded.config.env_names().map(String::from).collect();
    match only {
        None => Ok(names),
        Some(n) if names.iter().any(|x| x == n) => Ok(vec![n.to_string()]),
        Some(n) => {
            let hint = crate::diag::nearest(n, names.iter().map(String::as_str))
                .map(|m| format!("did you mean `{m}`?"))
                .unwrap_or_else(|| format!("the environments are {}", names.join(", ")));
            Err(Exit::new(USAGE, format!("there is no environment `{n}`"))
                .hint(hint)
                .into())
        }
    }
}

/// The stored outputs of a target (`terraform output -json` format), read without Terraform.
pub fn stored_outputs(state_dir: &Path, target: &Target) -> Result<Option<Value>> {
    Ok(StageDir::new(state_dir, target).outputs()?)
}

/// `2026-11-25T17:42:58Z` for seconds since the epoch (UTC, no dependency).
pub fn format_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_rfc3339() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_795_628_578), "2026-11-25T17:42:58Z");
        assert_eq!(format_time(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn targets_put_bootstrap_in_the_global_scope() {
        let t = Target::new("nonprod", Stage::Bootstrap);
        assert_eq!(t.label(), "global/bootstrap");
        assert!(t.is_prod());
        assert!(!Target::new("nonprod", Stage::App).is_prod());
        assert!(Target::new("prod", Stage::App).is_prod());
    }
}
