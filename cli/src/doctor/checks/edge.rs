//! Edge and identity, from each environment's saved foundation plan: the GitHub OIDC trust is
//! pinned, Cognito requires MFA with advanced security enforced, the ALB has its WAF. The
//! Terraform policies decide the first and last; advanced security is read from the plan.
//! (The live AWS APIs for IAM, Cognito and WAFv2 are not asked: the plan is what gets applied.)

use super::super::catalogue::{self, Group};
use super::super::context::Context;
use super::super::model::{Evidence, GroupRun, Outcome};
use super::plans;
use crate::render::Stage;
use serde_json::Value;

/// User pools in a plan whose advanced security is not `ENFORCED`.
pub fn weak_user_pools(plan: &Value) -> Vec<String> {
    plan["resource_changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|rc| {
            rc["type"] == "aws_cognito_user_pool"
                && rc["change"]["actions"] != serde_json::json!(["delete"])
        })
        .filter(|rc| {
            let add_ons = &rc["change"]["after"]["user_pool_add_ons"];
            let mode = add_ons
                .get(0)
                .and_then(|a| a["advanced_security_mode"].as_str());
            mode != Some("ENFORCED")
        })
        .map(|rc| rc["address"].as_str().unwrap_or("?").to_string())
        .collect()
}

pub fn run(ctx: &Context) -> GroupRun {
    let saved = plans::saved(ctx, &[Stage::Foundation]);
    if saved.is_empty() {
        return GroupRun::skipped(
            Group::Edge,
            "-",
            "no saved foundation plan (run `ecomctl plan --stage foundation`)",
        );
    }
    let mut run = GroupRun::default();
    for plan in &saved {
        let (doc, findings) = match plans::findings(ctx, plan) {
            Ok(x) => x,
            Err(e) => {
                for c in catalogue::of_group(Group::Edge) {
                    run.push(Outcome::error(&c.id, plan.label.clone(), e.clone()));
                }
                continue;
            }
        };
        let ev = run.evidence(Evidence::json(
            format!("edge/{}/policy-findings.json", plan.label),
            &crate::policy::report::json(&findings),
        ));
        for c in catalogue::of_group(Group::Edge) {
            let mut o = plans::verdict(&c.id, &plan.label, &findings, &c.rego);
            if c.id == "ECOM-DOC-EDGE-002" {
                let weak = weak_user_pools(&doc);
                if !weak.is_empty() {
                    let extra = format!("advanced security not ENFORCED on {}", weak.join(", "));
                    o = if o.status == super::super::model::Status::Pass {
                        Outcome::fail(&c.id, plan.label.clone(), extra)
                    } else {
                        Outcome::fail(&c.id, plan.label.clone(), format!("{}; {extra}", o.message))
                    };
                }
            }
            run.push(o.with_evidence(&ev));
        }
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_pool_without_enforced_advanced_security_is_named() {
        let plan = json!({"resource_changes": [
            {"address": "module.auth.aws_cognito_user_pool.this", "type": "aws_cognito_user_pool",
             "change": {"actions": ["create"], "after": {"user_pool_add_ons": [{"advanced_security_mode": "AUDIT"}]}}},
            {"address": "ok", "type": "aws_cognito_user_pool",
             "change": {"actions": ["create"], "after": {"user_pool_add_ons": [{"advanced_security_mode": "ENFORCED"}]}}}
        ]});
        assert_eq!(
            weak_user_pools(&plan),
            vec!["module.auth.aws_cognito_user_pool.this"]
        );
    }
}
