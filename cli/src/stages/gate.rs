//! The policy gate every plan passes before it is applied.

use super::Target;
use crate::exit::{Exit, FINDINGS};
use anyhow::{Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// What the policy gate found in a plan: refusals block the apply, warnings are shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GateReport {
    pub denied: Vec<String>,
    pub warnings: Vec<String>,
    pub waived: usize,
}

/// Called with the plan document (`terraform show -json` for Terraform stages) before anything
/// is applied.
pub trait PolicyGate {
    fn check(&self, target: &Target, plan: &Value) -> Result<GateReport>;
}

/// The gate that allows everything.
pub struct NoPolicy;

impl PolicyGate for NoPolicy {
    fn check(&self, _target: &Target, _plan: &Value) -> Result<GateReport> {
        Ok(GateReport::default())
    }
}

/// The Rego rules and waivers the config uses (`policy/` beside it, else the ones built into
/// ecomctl: the same as `ecomctl policy check`), evaluated with `crate::policy`. Findings point at
/// the stage's `.tf` files. Bootstrap is checked as `prod`: it is shared by every environment.
pub struct RegoPolicy {
    bundle: crate::policy::Bundle,
    waivers: crate::policy::Waivers,
    stacks: PathBuf,
}

impl RegoPolicy {
    /// The rules and waivers for the config at `config`; stacks under `content_root`.
    pub fn for_config(config: &Path, content_root: &Path) -> Result<RegoPolicy> {
        let dir = crate::policy::dir_beside(config);
        let (bundle, waivers) = crate::policy::sources(dir.as_deref(), None)
            .context("loading the policy gate's rules and waivers")?;
        Ok(RegoPolicy {
            bundle,
            waivers,
            stacks: content_root.join("stacks"),
        })
    }
}

impl PolicyGate for RegoPolicy {
    fn check(&self, target: &Target, plan: &Value) -> Result<GateReport> {
        let env = if target.stage.is_global() {
            "prod"
        } else {
            target.scope.as_str()
        };
        let stack = target.stage.stack().map(|s| self.stacks.join(s));
        let findings = crate::policy::gate_with(
            &self.bundle,
            &self.waivers,
            plan,
            env,
            stack.as_deref(),
            crate::policy::Date::today(),
        )?;
        let line = |f: &crate::policy::Finding| format!("{} {}: {}", f.id, f.resource, f.msg);
        Ok(GateReport {
            denied: findings
                .denied()
                .map(line)
                .chain(findings.expired.iter().map(|w| {
                    format!(
                        "waiver of {} for {} ({}) expired on {:?}",
                        w.id, w.resource, w.at, w.expires
                    )
                }))
                .collect(),
            warnings: findings.warnings().map(line).collect(),
            waived: findings.waived().count(),
        })
    }
}

/// The refusal of a plan the gate denied (exit 3).
pub fn refuse_by_policy(t: &Target, denials: &[String]) -> anyhow::Error {
    Exit::new(
        FINDINGS,
        format!(
            "policy refuses the plan of {}:\n{}",
            t.label(),
            denials
                .iter()
                .map(|d| format!("  - {d}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    )
    .hint("fix the stack or the config, or record a waiver in policy/waivers.yaml")
    .into()
}
