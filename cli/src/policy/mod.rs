//! Policy as code: the Rego rules under `policy/` evaluated in-process with regorus.
//!
//! - [`bundle`] holds the rule files (built into the binary, or read from a directory) and
//!   builds engines from them;
//! - [`metadata`] reads each rule's `# METADATA` block into the [`Catalogue`];
//! - [`input`] turns a plan document or a directory of manifests into the rules' `input`;
//! - [`eval`] runs the rules and the `test_*` rules;
//! - [`waivers`] applies `policy/waivers.yaml` to the findings;
//! - [`report`] renders findings as a table, JSON, SARIF 2.1.0 or JUnit XML (as text; the
//!   `ui` prints it).
//!
//! The orchestrator's gate calls [`gate`].

pub mod bundle;
pub mod checkov;
pub mod eval;
pub mod input;
pub mod metadata;
pub mod report;
pub mod waivers;

pub use bundle::{Bundle, Domain};
pub use eval::{Finding, Findings, Kind, TestOutcome, TestReport};
pub use input::{Input, Origin};
pub use metadata::{Catalogue, RuleMeta, Severity};
pub use waivers::{Date, Waiver, Waivers};

use std::path::{Path, PathBuf};

/// The policy directory a config uses by default: `policy/` beside the config file, when it holds
/// Terraform rules.
pub fn dir_beside(config: &Path) -> Option<PathBuf> {
    let beside = match config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.join("policy"),
        _ => PathBuf::from("policy"),
    };
    beside.join("terraform").is_dir().then_some(beside)
}

/// The rules and waivers to use: from `dir` (its `waivers.yaml` unless `waivers` names another
/// file), else the rules and waivers built into ecomctl.
pub fn sources(
    dir: Option<&Path>,
    waivers: Option<&Path>,
) -> Result<(Bundle, Waivers), PolicyError> {
    let bundle = match dir {
        Some(dir) => Bundle::from_dir(dir)?,
        None => Bundle::embedded(),
    };
    let waivers = match (waivers, dir) {
        (Some(file), _) => Waivers::load(file)?,
        (None, Some(dir)) => Waivers::load(&dir.join("waivers.yaml"))?,
        (None, None) => Waivers::parse(waivers::EMBEDDED_NAME, waivers::EMBEDDED)?,
    };
    Ok((bundle, waivers))
}

/// Everything that can go wrong loading or evaluating policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Rego { file: String, message: String },
    #[error("{file}:{line}: bad METADATA block: {message}")]
    Metadata {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Input {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("evaluating {what}: {message}")]
    Eval { what: String, message: String },
    #[error("{file}: {message}")]
    Waivers { file: String, message: String },
    #[error("{0} has no rule files")]
    Empty(String),
}

/// The policy gate for one Terraform plan (`terraform show -json`), as the orchestrator runs it
/// before an apply: the rules built into ecomctl, the waivers built in beside them, `env` as
/// `data.ecomctl.environment`. Blocking when [`Findings::blocking`] is true.
pub fn gate(plan_json: &serde_json::Value, env: &str) -> Result<Findings, PolicyError> {
    let bundle = Bundle::embedded();
    let waivers = Waivers::parse(waivers::EMBEDDED_NAME, waivers::EMBEDDED)?;
    gate_with(&bundle, &waivers, plan_json, env, None, Date::today())
}

/// [`gate`] with the rules, waivers and date given. With `stack` (the root module the plan was
/// made from), findings point at the `.tf` file and line of their resource.
pub fn gate_with(
    bundle: &Bundle,
    waivers: &Waivers,
    plan_json: &serde_json::Value,
    env: &str,
    stack: Option<&std::path::Path>,
    today: Date,
) -> Result<Findings, PolicyError> {
    let catalogue = bundle.catalogue()?;
    waivers.validate(&catalogue, today)?;
    let mut input = Input::plan(plan_json.clone(), "plan.json")?;
    if let Some(stack) = stack {
        input.locate_in_stack(stack);
    }
    let context = eval::Context::for_env(Some(env));
    let mut findings = eval::check(bundle, Domain::Terraform, &input, &context)?;
    waivers.apply(&mut findings, today);
    Ok(findings)
}

/// The gate for the manifests a cluster plan would apply: the Kubernetes rules over
/// `{"manifests": [...]}`, with the waivers.
pub fn gate_manifests_with(
    bundle: &Bundle,
    waivers: &Waivers,
    manifests: &[serde_json::Value],
    env: &str,
    today: Date,
) -> Result<Findings, PolicyError> {
    let catalogue = bundle.catalogue()?;
    waivers.validate(&catalogue, today)?;
    let source = "cluster plan".to_string();
    let origins = manifests
        .iter()
        .filter_map(input::manifest_id)
        .map(|id| {
            let origin = input::Origin {
                file: source.clone(),
                line: None,
            };
            (id, origin)
        })
        .collect();
    let input = Input {
        value: serde_json::json!({ "manifests": manifests }),
        source,
        origins,
    };
    let context = eval::Context::for_env(Some(env));
    let mut findings = eval::check(bundle, Domain::Kubernetes, &input, &context)?;
    waivers.apply(&mut findings, today);
    Ok(findings)
}
