//! The account guardrails of an environment (stacks/modules/baseline, applied by the foundation
//! stage): the settings that differ between accounts. The shared-services account's are in
//! `shared`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Account guardrails. CloudTrail, AWS Config with its conformance packs, GuardDuty, Security Hub,
/// Access Analyzer, the password policy and EBS default encryption are always on; these are the
/// choices an account owner makes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Guardrails {
    /// Monthly cost budget of the account in USD; `alerts.emails` hear at 80 % of actual and
    /// 100 % of forecast spend.
    #[serde(default = "default_budget")]
    pub monthly_budget_usd: u32,
    /// Amazon Macie (sensitive data discovery in S3).
    #[serde(default = "on")]
    pub macie: bool,
    /// Amazon Detective (investigation graph over GuardDuty, CloudTrail and flow logs).
    #[serde(default = "on")]
    pub detective: bool,
}

impl Default for Guardrails {
    fn default() -> Self {
        Guardrails {
            monthly_budget_usd: default_budget(),
            macie: true,
            detective: true,
        }
    }
}

pub(super) fn default_budget() -> u32 {
    1000
}

pub(super) fn on() -> bool {
    true
}
