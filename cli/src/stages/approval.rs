//! Who may approve what. Decided from the plan alone, before anything is asked or applied:
//! - no resource changes (outputs only, or nothing): nothing to approve;
//! - `--approve <plan-hash>` naming this plan approves it, anywhere;
//! - `--yes` approves nonprod changes that delete or replace no stateful resource;
//! - otherwise a terminal prompt (typing `yes`, or the environment's name for stateful
//!   deletions), and without a terminal a refusal that says which hash to pass.

use super::summary::PlanSummary;
use super::Target;

/// How long a hash prefix must be to approve a plan.
pub const MIN_HASH_PREFIX: usize = 12;

/// How changes may be approved, from the command line.
#[derive(Debug, Clone, Default)]
pub struct Approval {
    /// `--yes`: nonprod changes without stateful deletions.
    pub yes: bool,
    /// `--approve <plan-hash>` (repeatable; a prefix of at least 12 characters).
    pub plan_hashes: Vec<String>,
    /// Ask on the terminal when nothing above approves.
    pub interactive: bool,
}

impl Approval {
    pub fn names(&self, plan_hash: &str) -> bool {
        self.plan_hashes
            .iter()
            .any(|h| h.len() >= MIN_HASH_PREFIX && plan_hash.starts_with(h.as_str()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead; `by` says why (`no changes`, `--approve`, `--yes`).
    Approved { by: &'static str },
    /// Ask on the terminal; approved only if the answer is exactly `expected`.
    Ask { question: String, expected: String },
    /// Refuse, with the reason and what to do instead.
    Refused { why: String, hint: String },
}

pub fn decide(
    target: &Target,
    summary: &PlanSummary,
    plan_hash: &str,
    approval: &Approval,
) -> Decision {
    let resource_changes = summary.actions.keys().any(|a| a != "read");
    if !resource_changes {
        return Decision::Approved { by: "no changes" };
    }
    if approval.names(plan_hash) {
        return Decision::Approved { by: "--approve" };
    }
    let destructive = !summary.destructive.is_empty();
    let prod = target.is_prod();
    if approval.yes && !prod && !destructive {
        return Decision::Approved { by: "--yes" };
    }
    let short = &plan_hash[..plan_hash.len().min(MIN_HASH_PREFIX)];
    if approval.interactive {
        return if destructive {
            Decision::Ask {
                question: format!(
                    "{} deletes or replaces stateful resources. Type `{}` to apply plan {short}:",
                    target.label(),
                    target.scope
                ),
                expected: target.scope.clone(),
            }
        } else {
            Decision::Ask {
                question: format!("Apply plan {short} to {}? Type `yes`:", target.label()),
                expected: "yes".into(),
            }
        };
    }
    let why = if prod && approval.yes {
        "production changes are never approved by a bare --yes"
    } else if destructive {
        "it deletes or replaces stateful resources, which --yes does not cover"
    } else {
        "no approval was given and there is no terminal to ask on"
    };
    Decision::Refused {
        why: why.into(),
        hint: format!(
            "review the plan, then rerun with --approve {short}{}",
            if prod || destructive {
                ""
            } else {
                " (or --yes)"
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Stage;
    use crate::stages::summary::Change;

    const HASH: &str = "0123456789abcdef0123456789abcdef";

    fn changes(destructive: bool) -> PlanSummary {
        let mut s = PlanSummary::default();
        s.actions.insert("update".into(), 1);
        if destructive {
            s.actions.insert("replace".into(), 1);
            s.destructive.push(Change {
                address: "aws_db_instance.main".into(),
                ty: "aws_db_instance".into(),
                action: "replace".into(),
            });
        }
        s
    }

    fn yes() -> Approval {
        Approval {
            yes: true,
            ..Default::default()
        }
    }

    fn hash(h: &str) -> Approval {
        Approval {
            plan_hashes: vec![h.into()],
            ..Default::default()
        }
    }

    #[test]
    fn nothing_to_approve_without_resource_changes() {
        let mut s = PlanSummary {
            output_changes: 3,
            ..Default::default()
        };
        s.actions.insert("read".into(), 2);
        let prod = Target::new("prod", Stage::App);
        assert_eq!(
            decide(&prod, &s, HASH, &Approval::default()),
            Decision::Approved { by: "no changes" }
        );
    }

    #[test]
    fn yes_approves_nonprod_but_never_prod_or_stateful_losses() {
        let nonprod = Target::new("nonprod", Stage::App);
        let prod = Target::new("prod", Stage::App);
        assert_eq!(
            decide(&nonprod, &changes(false), HASH, &yes()),
            Decision::Approved { by: "--yes" }
        );
        let Decision::Refused { why, hint } = decide(&prod, &changes(false), HASH, &yes()) else {
            panic!("prod with --yes must be refused");
        };
        assert!(why.contains("never approved by a bare --yes"));
        assert_eq!(
            hint,
            "review the plan, then rerun with --approve 0123456789ab"
        );
        let Decision::Refused { why, .. } = decide(&nonprod, &changes(true), HASH, &yes()) else {
            panic!("stateful loss with --yes must be refused");
        };
        assert!(why.contains("stateful"));
        // Bootstrap is shared by every environment: prod rules.
        let boot = Target::new("nonprod", Stage::Bootstrap);
        assert!(matches!(
            decide(&boot, &changes(false), HASH, &yes()),
            Decision::Refused { .. }
        ));
    }

    #[test]
    fn the_plan_hash_approves_anything_but_only_its_own_plan() {
        let prod = Target::new("prod", Stage::Foundation);
        assert_eq!(
            decide(&prod, &changes(true), HASH, &hash("0123456789ab")),
            Decision::Approved { by: "--approve" }
        );
        assert!(matches!(
            decide(&prod, &changes(true), HASH, &hash("0123456789ac")),
            Decision::Refused { .. }
        ));
        // Too short a prefix approves nothing.
        assert!(matches!(
            decide(&prod, &changes(false), HASH, &hash("0123")),
            Decision::Refused { .. }
        ));
    }

    #[test]
    fn a_terminal_asks_and_stateful_losses_need_the_env_name() {
        let interactive = Approval {
            interactive: true,
            ..Default::default()
        };
        let prod = Target::new("prod", Stage::App);
        let Decision::Ask { expected, .. } = decide(&prod, &changes(false), HASH, &interactive)
        else {
            panic!("expected a prompt");
        };
        assert_eq!(expected, "yes");
        let Decision::Ask { expected, question } =
            decide(&prod, &changes(true), HASH, &interactive)
        else {
            panic!("expected a prompt");
        };
        assert_eq!(expected, "prod");
        assert!(question.contains("stateful"));
    }
}
