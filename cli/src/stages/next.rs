//! What happens next to a stage, decided from facts alone (no tool, no file, no network): the
//! engine gathers the facts, asks here, and does what the answer says. Approval of a plan's
//! changes is decided the same way in `approval`.

use super::approval::Approval;
use super::record::PlanMeta;

/// What the command wants of the stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// `ecomctl plan`: a new plan, always.
    Plan,
    /// `ecomctl apply`: only the saved plan of the current inputs.
    Apply,
    /// `ecomctl up`: an approved saved plan, else a new plan.
    Up,
    /// `ecomctl down`: an approved saved destroy plan, else a new destroy plan.
    Down,
}

/// What the engine knows before any tool runs.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub intent: Intent,
    /// The stage's record says it is applied.
    pub applied: bool,
    /// The saved plan, when its record and its artifact both exist.
    pub saved: Option<&'a PlanMeta>,
    /// The hash of the inputs as rendered now.
    pub inputs_hash: &'a str,
    pub approval: &'a Approval,
}

/// Why `apply` refuses to go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NoPlan,
    DestroyPlan,
    StalePlan,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Make a new plan (a destroy plan for `down`).
    Plan {
        destroy: bool,
    },
    /// Apply the saved plan without planning again.
    ApplySaved,
    /// Leave the stage alone.
    Skip {
        reason: &'static str,
    },
    Refuse(Refusal),
}

/// The first step for a stage.
pub fn next(f: &Facts) -> Next {
    let current = |m: &PlanMeta| m.inputs_hash == f.inputs_hash;
    match f.intent {
        Intent::Plan => Next::Plan { destroy: false },
        Intent::Apply => match f.saved {
            None => Next::Refuse(Refusal::NoPlan),
            Some(m) if m.destroy => Next::Refuse(Refusal::DestroyPlan),
            Some(m) if !current(m) => Next::Refuse(Refusal::StalePlan),
            Some(_) => Next::ApplySaved,
        },
        Intent::Down if !f.applied => Next::Skip {
            reason: "not applied",
        },
        Intent::Up | Intent::Down => {
            let destroy = f.intent == Intent::Down;
            // `--approve` naming a saved plan of the current inputs applies that plan instead
            // of making a new one whose hash nobody has seen.
            match f.saved {
                Some(m) if m.destroy == destroy && f.approval.names(&m.plan_hash) && current(m) => {
                    Next::ApplySaved
                }
                _ => Next::Plan { destroy },
            }
        }
    }
}

/// After a new plan: whether `up` applies it or leaves the stage alone. A stage is skipped only
/// when its plan changes nothing and its inputs are those of its last apply; `down` and `apply`
/// always go on (a destroy is never a side effect).
pub fn after_plan(intent: Intent, has_changes: bool, unchanged_since_apply: bool) -> Next {
    match intent {
        Intent::Up if !has_changes && unchanged_since_apply => Next::Skip {
            reason: "unchanged",
        },
        _ => Next::ApplySaved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "0123456789abcdef0123456789abcdef";

    fn meta(inputs: &str, destroy: bool) -> PlanMeta {
        PlanMeta {
            inputs_hash: inputs.into(),
            plan_hash: HASH.into(),
            created_at: 0,
            changes: true,
            destroy,
        }
    }

    fn facts<'a>(intent: Intent, saved: Option<&'a PlanMeta>, approval: &'a Approval) -> Facts<'a> {
        Facts {
            intent,
            applied: true,
            saved,
            inputs_hash: "now",
            approval,
        }
    }

    fn approving() -> Approval {
        Approval {
            plan_hashes: vec![HASH[..12].into()],
            ..Default::default()
        }
    }

    #[test]
    fn apply_takes_only_a_saved_plan_of_the_current_inputs() {
        let none = Approval::default();
        let cur = meta("now", false);
        let old = meta("before", false);
        let destroy = meta("now", true);
        let f = |saved| next(&facts(Intent::Apply, saved, &none));
        assert_eq!(f(None), Next::Refuse(Refusal::NoPlan));
        assert_eq!(f(Some(&old)), Next::Refuse(Refusal::StalePlan));
        assert_eq!(f(Some(&destroy)), Next::Refuse(Refusal::DestroyPlan));
        assert_eq!(f(Some(&cur)), Next::ApplySaved);
    }

    #[test]
    fn up_reuses_a_saved_plan_only_when_approve_names_it() {
        let cur = meta("now", false);
        let none = Approval::default();
        let yes = approving();
        assert_eq!(
            next(&facts(Intent::Up, Some(&cur), &none)),
            Next::Plan { destroy: false }
        );
        assert_eq!(next(&facts(Intent::Up, Some(&cur), &yes)), Next::ApplySaved);
        // A plan of other inputs, or a destroy plan, is planned again.
        let old = meta("before", false);
        assert_eq!(
            next(&facts(Intent::Up, Some(&old), &yes)),
            Next::Plan { destroy: false }
        );
        let destroy = meta("now", true);
        assert_eq!(
            next(&facts(Intent::Up, Some(&destroy), &yes)),
            Next::Plan { destroy: false }
        );
    }

    #[test]
    fn down_skips_what_was_never_applied_and_reuses_only_destroy_plans() {
        let yes = approving();
        let mut f = facts(Intent::Down, None, &yes);
        assert_eq!(next(&f), Next::Plan { destroy: true });
        let destroy = meta("now", true);
        f.saved = Some(&destroy);
        assert_eq!(next(&f), Next::ApplySaved);
        let normal = meta("now", false);
        f.saved = Some(&normal);
        assert_eq!(next(&f), Next::Plan { destroy: true });
        f.applied = false;
        assert_eq!(
            next(&f),
            Next::Skip {
                reason: "not applied"
            }
        );
    }

    #[test]
    fn plan_always_plans() {
        let yes = approving();
        let cur = meta("now", false);
        assert_eq!(
            next(&facts(Intent::Plan, Some(&cur), &yes)),
            Next::Plan { destroy: false }
        );
    }

    #[test]
    fn up_skips_only_an_empty_plan_of_the_applied_inputs() {
        assert_eq!(
            after_plan(Intent::Up, false, true),
            Next::Skip {
                reason: "unchanged"
            }
        );
        assert_eq!(after_plan(Intent::Up, true, true), Next::ApplySaved);
        // Same plan, but the inputs moved on (e.g. outputs-only change): apply to record them.
        assert_eq!(after_plan(Intent::Up, false, false), Next::ApplySaved);
        assert_eq!(after_plan(Intent::Down, false, true), Next::ApplySaved);
    }
}
