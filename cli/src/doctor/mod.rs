//! `ecomctl doctor`: one audit from the operator's tools to the running cluster, each check
//! mapped to PCI DSS 4.0 requirements and SOC 2 criteria, with the evidence it was decided on.
//!
//! - [`catalogue`] — the checks as data (`catalogue.yaml`);
//! - [`context`] — flags, config, policies and paths resolved once;
//! - [`checks`] — one module per group; decisions are plain functions over plain data;
//! - [`runner`] — groups side by side with a deadline;
//! - [`cache`] — results kept between runs, keyed by a SHA-256 of their inputs;
//! - [`waivers`] — the waivers shared with the policy engine, applied to outcomes;
//! - [`report`] — the [`Report`] and its formats (human, JSON, SARIF, JUnit, Markdown);
//! - [`compliance`] — per framework, each control with its checks; `docs/compliance.md`;
//! - [`evidence`] — the bundle and its SHA-256 manifest.
//!
//! Nothing here prints: `commands::doctor` hands the report to `ui`.

pub mod cache;
pub mod catalogue;
pub mod checks;
pub mod compliance;
pub mod context;
pub mod evidence;
pub mod model;
pub mod report;
pub mod runner;
pub mod waivers;

pub use catalogue::Group;
pub use model::{Outcome, Status};
pub use report::Report;

use crate::policy::{self, Date, PolicyError, Severity};
use context::{ConfigFailure, Context};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The doctor's flags, resolved.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: PathBuf,
    pub env: Option<String>,
    pub offline: bool,
    /// Only these groups (all when empty).
    pub only: Vec<Group>,
    pub fail_on: Severity,
    pub timeout: Duration,
    pub policy_dir: Option<PathBuf>,
    pub waivers: Option<PathBuf>,
    pub today: Date,
    /// The run settings resolved once from flags and environment (`--terraform`, `--root`,
    /// `AWS_ENDPOINT_URL`, `ECOMCTL_ASSUME_ROLE`).
    pub terraform: Option<PathBuf>,
    pub root: Option<PathBuf>,
    pub aws_endpoint: Option<String>,
    pub assume_role: bool,
    /// `--helm`, `--kubectl`, `--checkov` (or their `ECOMCTL_*`); `None`: PATH.
    pub helm: Option<PathBuf>,
    pub kubectl: Option<PathBuf>,
    pub checkov: Option<PathBuf>,
}

/// Input the doctor refuses before checking anything (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    #[error("{0}")]
    Policy(#[from] PolicyError),
    #[error("the built-in check catalogue is broken: {0}")]
    Catalogue(String),
    #[error("there is no environment `{name}`; the environments are {known}")]
    UnknownEnv { name: String, known: String },
}

/// Resolves everything the checks read. Fails only on input that makes the audit meaningless:
/// unreadable or malformed policies or waivers, an unknown environment.
pub fn context(opts: &Options) -> Result<Context, DoctorError> {
    catalogue::parse(catalogue::SOURCE)
        .map_err(|e| DoctorError::Catalogue(format!("{}: {e}", catalogue::SOURCE_NAME)))?;
    let loaded = crate::config::load(&opts.config);
    let base = opts
        .config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    let dir = opts
        .policy_dir
        .clone()
        .or_else(|| policy::dir_beside(&opts.config));
    let (bundle, waivers) = policy::sources(dir.as_deref(), opts.waivers.as_deref())?;
    waivers.validate(&bundle.catalogue()?, opts.today)?;
    let all_envs: Vec<String> = match &loaded {
        Ok(l) => l.config.env_names().map(String::from).collect(),
        Err(_) => Vec::new(),
    };
    let envs = match (&opts.env, &loaded) {
        (Some(e), Ok(_)) if !all_envs.contains(e) => {
            return Err(DoctorError::UnknownEnv {
                name: e.clone(),
                known: all_envs.join(", "),
            })
        }
        (Some(e), _) => vec![e.clone()],
        (None, _) => all_envs,
    };
    let state_dir =
        std::path::absolute(base.join(".ecomctl")).unwrap_or_else(|_| base.join(".ecomctl"));
    Ok(Context {
        config: loaded
            .as_ref()
            .map(Clone::clone)
            .map_err(ConfigFailure::from),
        config_path: opts.config.clone(),
        envs,
        state_dir,
        content_root: crate::render::find_content_root(&base, opts.root.as_deref()).ok(),
        terraform: crate::tools::terraform::find(opts.terraform.clone()),
        helm: crate::tools::helm::find(opts.helm.clone()),
        kubectl: crate::tools::program(opts.kubectl.clone(), "kubectl"),
        checkov: crate::policy::checkov::find(opts.checkov.clone()),
        offline: opts.offline,
        bundle,
        waivers,
        today: opts.today,
        aws_endpoint: opts.aws_endpoint.clone().filter(|s| !s.is_empty()),
        role_mode: if opts.assume_role {
            crate::aws::RoleMode::Assume
        } else {
            crate::aws::RoleMode::AsIs
        },
        ci: std::env::var("CI").is_ok_and(|v| v == "true"),
        plan_findings: Default::default(),
    })
}

/// Runs the audit: every selected group in parallel, waivers applied, one [`Report`] and the
/// evidence gathered. `progress` hears each group as it finishes.
pub fn run(
    opts: &Options,
    ctx: Context,
    progress: &mut dyn FnMut(&runner::Ran),
) -> (Report, Vec<model::Evidence>) {
    let groups: Vec<Group> = if opts.only.is_empty() {
        Group::ALL.to_vec()
    } else {
        Group::ALL
            .into_iter()
            .filter(|g| opts.only.contains(g))
            .collect()
    };
    let ctx = Arc::new(ctx);
    let ran = runner::run_groups(Arc::clone(&ctx), &groups, opts.timeout, progress);
    let mut outcomes = Vec::new();
    let mut evidence = Vec::new();
    let mut summaries = Vec::new();
    for r in ran {
        summaries.push(report::GroupSummary::of(&r, opts.offline));
        outcomes.extend(r.run.outcomes);
        evidence.extend(r.run.evidence);
    }
    let waiver_report = waivers::apply(&ctx.waivers, &mut outcomes, ctx.today);
    let report = Report::new(opts, &ctx, summaries, outcomes, waiver_report);
    (report, evidence)
}

#[cfg(test)]
pub mod tests_support {
    use super::*;

    /// A context over `examples/full.yaml` with `envs`, offline, today 2026-06-01.
    pub fn context(envs: &[&str]) -> Context {
        let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/full.yaml");
        let opts = Options {
            config,
            env: None,
            offline: true,
            only: Vec::new(),
            fail_on: Severity::Medium,
            timeout: Duration::from_secs(30),
            policy_dir: None,
            waivers: None,
            today: Date::parse("2026-06-01").unwrap_or_else(Date::today),
            terraform: None,
            root: None,
            aws_endpoint: None,
            assume_role: true,
            helm: None,
            kubectl: None,
            checkov: None,
        };
        let mut ctx = super::context(&opts).expect("the example config makes a context");
        ctx.envs = envs.iter().map(|e| e.to_string()).collect();
        ctx
    }
}
