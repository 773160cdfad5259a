//! The shared-services account (the bootstrap stage runs there): the role ecomctl assumes in it
//! and its own account guardrails (stacks/modules/baseline, applied by bootstrap next to the audit
//! bucket every account delivers to).

use super::model::Account;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The shared-services account: the role ecomctl assumes in it and its own guardrails.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SharedServices {
    /// The 12-digit account id (quote it if it starts with 0).
    pub account_id: String,
    /// Role assumed to run Terraform (the bootstrap stage) in this account.
    pub role_arn: String,
    #[serde(default)]
    pub guardrails: SharedGuardrails,
}

impl SharedServices {
    /// The account and role, as for an environment.
    pub fn account(&self) -> Account {
        Account {
            account_id: self.account_id.clone(),
            role_arn: self.role_arn.clone(),
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
    #[serde(default = "super::guardrails::on")]
    pub enabled: bool,
    /// Monthly cost budget of the shared-services account in USD; `alerts.emails` hear at 80 %
    /// of actual and 100 % of forecast spend.
    #[serde(default = "super::guardrails::default_budget")]
    pub monthly_budget_usd: u32,
    /// Amazon Macie (sensitive data discovery over the state, artifacts and audit buckets).
    #[serde(default = "super::guardrails::on")]
    pub macie: bool,
    /// Amazon Detective.
    #[serde(default = "super::guardrails::on")]
    pub detective: bool,
}

impl Default for SharedGuardrails {
    fn default() -> Self {
        SharedGuardrails {
            enabled: true,
            monthly_budget_usd: super::guardrails::default_budget(),
            macie: true,
            detective: true,
        }
    }
}
