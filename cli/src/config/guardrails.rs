//! The account guardrails (stacks/modules/baseline) of an environment, applied by the foundation
//! stage, and of the shared-services account, applied by the bootstrap stage: the settings that
//! differ between accounts.

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

/// The guardrails of the shared-services account itself (state, artifacts and every account's
/// audit logs live there). The bootstrap stage applies the same baseline as each environment's
/// foundation, delivering to the audit bucket it creates.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SharedGuardrails {
    /// Apply the baseline to the shared-services account. Turn it off only where those services
    /// cannot be reached (tests against moto) or the account gets them elsewhere (an AWS
    /// Organization baseline).
    #[serde(default = "on")]
    pub enabled: bool,
    /// Monthly cost budget of the shared-services account in USD; `alerts.emails` hear at 80 %
    /// of actual and 100 % of forecast spend.
    #[serde(default = "default_budget")]
    pub monthly_budget_usd: u32,
    /// Amazon Macie (sensitive data discovery over the state, artifacts and audit buckets).
    #[serde(default = "on")]
    pub macie: bool,
    /// Amazon Detective.
    #[serde(default = "on")]
    pub detective: bool,
}

impl Default for SharedGuardrails {
    fn default() -> Self {
        SharedGuardrails {
            enabled: true,
            monthly_budget_usd: default_budget(),
            macie: true,
            detective: true,
        }
    }
}

fn default_budget() -> u32 {
    1000
}

fn on() -> bool {
    true
}
