//! One stage, lock held: how a plan starts (`next`), is made, reported, gated, approved and
//! applied. The driver does the tool work; everything recorded or reported is done here.

use super::driver::{Cx, Inputs, StageDriver, StateHome};
use super::events::{Action, Event, Outcome};
use super::gate::refuse_by_policy;
use super::next::{next, Facts, Intent, Next, Refusal};
use super::record::{self, PlanMeta, StageState};
use super::summary::PlanSummary;
use super::workspace::Workspace;
use super::MIN_HASH_PREFIX;
use super::{approval, check_interrupt, Approval, Decision, PlanOutcome, StageError, Target};
use crate::exit::{Exit, FAILURE};
use crate::render::Stage;
use crate::tools::process;
use crate::ui::Ui;
use anyhow::{Context, Result};
use serde_json::Value;
use std::time::Instant;

/// How many resource changes the human view lists under a plan's headline.
const SHOWN_CHANGES: usize = 40;

/// How a stage's run began.
pub(super) enum Started {
    Skipped(&'static str),
    /// A plan to go on with: new, or saved and approved.
    Plan(PlanOutcome),
}

fn ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

impl Workspace {
    /// The driver of `t`, or why there is none.
    pub(super) fn driver_of(&self, t: &Target) -> Result<&dyn StageDriver> {
        let env = if t.stage.is_global() {
            ""
        } else {
            t.scope.as_str()
        };
        self.driver(env, t.stage)
            .map_err(|reason| StageError::Unreachable(t.stage, reason).into())
    }

    pub(super) fn finish<E>(
        &self,
        t: &Target,
        action: Action,
        result: std::result::Result<Outcome, E>,
        ui: &Ui,
    ) {
        ui.emit(&Event::StageFinished {
            target: t,
            action,
            result: result.unwrap_or(Outcome::Failed),
        });
    }

    /// Renders the inputs, asks `next` what to do, and does the first of it: skip, refuse,
    /// plan, or take up an approved saved plan.
    pub(super) fn start(
        &self,
        cx: &Cx,
        d: &dyn StageDriver,
        intent: Intent,
        approval: &Approval,
    ) -> Result<Started> {
        let inputs = d.inputs(cx, true)?;
        let state = cx.dir.state()?;
        let saved = if intent == Intent::Apply || !approval.plan_hashes.is_empty() {
            cx.dir.saved_plan()?
        } else {
            None
        };
        let step = next(&Facts {
            intent,
            applied: state.applied_at.is_some(),
            saved: saved.as_ref().map(|s| &s.meta),
            inputs_hash: &inputs.hash,
            approval,
        });
        let destroy = intent == Intent::Down;
        if destroy && !matches!(step, Next::Skip { .. } | Next::Refuse(_)) {
            d.before_destroy(cx)?;
        }
        match (step, saved) {
            (Next::Skip { reason }, _) => Ok(Started::Skipped(reason)),
            (Next::Refuse(why), _) => Err(self.refusal(cx, why)),
            (Next::ApplySaved, Some(saved)) => {
                let Some(doc) = cx.dir.plan_doc()? else {
                    if intent == Intent::Apply {
                        return Err(self.refusal(cx, Refusal::NoPlan));
                    }
                    return self
                        .plan_locked(cx, d, Some(inputs), destroy)
                        .map(Started::Plan);
                };
                if intent != Intent::Apply {
                    if let Some(b) = inputs.blocked {
                        return Err(b.into_error());
                    }
                    d.resume(cx, &inputs)?;
                    cx.ui.status(
                        "saved plan",
                        &format!(
                            "{}: applying approved plan {}",
                            cx.target.label(),
                            &saved.meta.plan_hash[..MIN_HASH_PREFIX]
                        ),
                    );
                }
                Ok(Started::Plan(PlanOutcome {
                    target: cx.target.clone(),
                    summary: PlanSummary::from_plan(&doc),
                    plan_hash: saved.meta.plan_hash,
                    inputs_hash: saved.meta.inputs_hash,
                    unchanged_since_apply: false,
                }))
            }
            // `next` answers RebuildOutputs only after a plan.
            (Next::ApplySaved, None) | (Next::Plan { .. } | Next::RebuildOutputs, _) => self
                .plan_locked(cx, d, Some(inputs), destroy)
                .map(Started::Plan),
        }
    }

    fn refusal(&self, cx: &Cx, why: Refusal) -> anyhow::Error {
        let t = cx.target;
        match why {
            Refusal::NoPlan => Exit::new(FAILURE, StageError::NoPlan(t.label()).to_string())
                .hint(format!(
                    "run `ecomctl plan -e {} --stage {}` first",
                    cx.env, t.stage
                )),
            Refusal::DestroyPlan => Exit::new(
                FAILURE,
                format!("the saved plan for {} is a destroy plan", t.label()),
            )
            .hint("`ecomctl down` makes and applies destroy plans itself; run `ecomctl plan` for a normal one"),
            Refusal::StalePlan => Exit::new(FAILURE, StageError::StalePlan(t.label()).to_string())
                .hint("the config, an upstream stage's outputs or the stack changed since the plan; run `ecomctl plan` again and review it"),
        }
        .into()
    }

    /// Makes and records a plan (lock held); `inputs` when already rendered.
    pub(super) fn plan_locked(
        &self,
        cx: &Cx,
        d: &dyn StageDriver,
        inputs: Option<Inputs>,
        destroy: bool,
    ) -> Result<PlanOutcome> {
        let (t, ui) = (cx.target, cx.ui);
        check_interrupt()?;
        let started = Instant::now();
        let action = if destroy {
            Action::PlanDestroy
        } else {
            Action::Plan
        };
        ui.emit(&Event::StageStarted {
            target: t,
            action,
            plan_hash: None,
        });
        ui.status(
            "planning",
            &format!("{}{}", t.label(), if destroy { " (destroy)" } else { "" }),
        );
        let mut inputs = match inputs {
            Some(i) => i,
            None => d.inputs(cx, true)?,
        };
        if let Some(again) = d.recover(cx, &inputs, destroy)? {
            inputs = again;
        }
        if let Some(b) = inputs.blocked.take() {
            return Err(b.into_error());
        }
        self.preflight(t, d.state_home(cx)? == StateHome::Bucket, ui)?;
        // A plan that fails half-way must not leave an older plan looking current.
        cx.dir
            .forget_plan()
            .with_context(|| format!("removing the old plan of {}", t.label()))?;
        let planned = d.plan(cx, &inputs, destroy)?;
        record::write_json(&cx.dir.plan_json(), &planned.document)?;
        record::write_json(
            &cx.dir.plan_meta(),
            &PlanMeta {
                inputs_hash: inputs.hash.clone(),
                plan_hash: planned.plan_hash.clone(),
                created_at: record::now(),
                changes: planned.summary.has_changes(),
                destroy,
            },
        )?;
        let state = cx.dir.state()?;
        let outcome = PlanOutcome {
            target: t.clone(),
            unchanged_since_apply: state.inputs_hash.as_deref() == Some(inputs.hash.as_str()),
            summary: planned.summary,
            plan_hash: planned.plan_hash,
            inputs_hash: inputs.hash,
        };
        self.report_plan(&outcome, started, ui);
        Ok(outcome)
    }

    fn report_plan(&self, o: &PlanOutcome, started: Instant, ui: &Ui) {
        let t = &o.target;
        ui.emit(&Event::PlanSummary {
            target: t,
            changes: o.has_changes(),
            plan_hash: &o.plan_hash,
            inputs_hash: &o.inputs_hash,
            unchanged_since_apply: o.unchanged_since_apply,
            summary: &o.summary,
            duration_ms: ms(started),
        });
        ui.status(
            "plan",
            &format!(
                "{}: {} (plan {})",
                t.label(),
                o.summary.headline(),
                &o.plan_hash[..MIN_HASH_PREFIX]
            ),
        );
        for c in o.summary.changes.iter().take(SHOWN_CHANGES) {
            let stateful = o.summary.destructive.contains(c);
            ui.status(
                "",
                &format!(
                    "{:>5} {}{}",
                    PlanSummary::symbol(&c.action),
                    c.address,
                    if stateful { "   (stateful)" } else { "" }
                ),
            );
        }
        if o.summary.changes.len() > SHOWN_CHANGES {
            ui.status(
                "",
                &format!(
                    "      ... and {} more (`-v` shows Terraform's full plan)",
                    o.summary.changes.len() - SHOWN_CHANGES
                ),
            );
        }
        for c in &o.summary.destructive {
            ui.warn(&format!(
                "{}: {} would {} a stateful resource ({}); this needs explicit approval",
                t.label(),
                c.address,
                if c.action == "replace" {
                    "replace (destroy and recreate)"
                } else {
                    "delete"
                },
                c.ty
            ));
        }
    }

    /// Approves the changes of a plan, or explains what approval is missing.
    pub(super) fn approve(&self, o: &PlanOutcome, approval: &Approval, ui: &Ui) -> Result<()> {
        let t = &o.target;
        let by = match approval::decide(t, &o.summary, &o.plan_hash, approval) {
            Decision::Approved { by } => by,
            Decision::Ask { question, expected } => {
                let answer = ui.confirm(&question, &expected, &process::interrupted);
                check_interrupt()?;
                if answer != Some(true) {
                    return Err(Exit::new(FAILURE, format!("not approved: {}", t.label()))
                        .hint("nothing was applied")
                        .into());
                }
                "prompt"
            }
            Decision::Refused { why, hint } => {
                return Err(Exit::new(
                    FAILURE,
                    format!("{} has changes that need approval: {why}", t.label()),
                )
                .hint(hint)
                .into())
            }
        };
        ui.emit(&Event::Approved {
            target: t,
            plan_hash: &o.plan_hash,
            by,
        });
        Ok(())
    }

    /// The policy gate over the saved plan's document.
    pub(super) fn gate(&self, cx: &Cx) -> Result<()> {
        let t = cx.target;
        let doc: Value = cx
            .dir
            .plan_doc()?
            .ok_or_else(|| StageError::NoPlan(t.label()))?;
        let report = self
            .gate
            .check(t, &doc)
            .with_context(|| format!("evaluating policies on the plan of {}", t.label()))?;
        cx.ui.emit(&Event::PolicyChecked {
            target: t,
            policy: &report,
        });
        for w in &report.warnings {
            cx.ui.warn(&format!("{}: policy: {w}", t.label()));
        }
        if report.denied.is_empty() {
            return Ok(());
        }
        Err(refuse_by_policy(t, &report.denied))
    }

    /// Applies a target's saved plan (lock held), then stores its outputs and record.
    pub(super) fn apply_locked(
        &self,
        cx: &Cx,
        d: &dyn StageDriver,
        o: &PlanOutcome,
        destroy: bool,
    ) -> Result<()> {
        let (t, ui) = (cx.target, cx.ui);
        check_interrupt()?;
        let started = Instant::now();
        ui.emit(&Event::StageStarted {
            target: t,
            action: Action::Apply,
            plan_hash: Some(&o.plan_hash),
        });
        self.preflight(t, d.state_home(cx)? == StateHome::Bucket, ui)?;
        ui.status("applying", &t.label());
        let mut state = cx.dir.state()?;
        let done = if destroy {
            d.destroy(cx, o)
        } else {
            d.apply(cx, o)
        };
        let _ = record::restrict_files(cx.dir.path());
        if let Err(e) = done {
            state.failed_at = Some(record::now());
            cx.dir.write_state(&state)?;
            return Err(e);
        }
        // A plan applied once is spent: Terraform refuses it again, and so does ecomctl. It
        // held the variables, secrets included: nothing of it is kept.
        let _ = cx.dir.forget_plan();
        let _ = std::fs::remove_file(cx.dir.plan_json());
        if destroy {
            // Downstream stages must not render from outputs of things that are gone.
            let _ = std::fs::remove_file(cx.dir.outputs_file());
            cx.dir.write_state(&StageState {
                destroyed_at: Some(record::now()),
                backend: state.backend,
                ..Default::default()
            })?;
            ui.emit(&Event::Destroyed {
                target: t,
                plan_hash: &o.plan_hash,
                duration_ms: ms(started),
            });
            ui.status("destroyed", &t.label());
            return Ok(());
        }
        let outputs = d.outputs(cx)?;
        cx.dir.write_outputs(&outputs)?;
        cx.dir.write_state(&StageState {
            applied_at: Some(record::now()),
            inputs_hash: Some(o.inputs_hash.clone()),
            plan_hash: Some(o.plan_hash.clone()),
            backend: d.state_home(cx)?.label().map(String::from),
            failed_at: None,
            destroyed_at: None,
        })?;
        d.applied(cx)?;
        record::restrict_files(cx.dir.path())?;
        ui.emit(&Event::Applied {
            target: t,
            plan_hash: &o.plan_hash,
            duration_ms: ms(started),
        });
        ui.status("applied", &t.label());
        Ok(())
    }

    /// `ecomctl plan` for one target.
    pub fn plan(&self, env: &str, stage: Stage, ui: &Ui) -> Result<PlanOutcome> {
        let t = Target::new(env, stage);
        let d = self.driver_of(&t)?;
        let _lock = self.lock(&t, ui)?;
        let cx = self.cx(env, &t, ui);
        // The gate runs again before any apply; here it tells CI early.
        let out = self
            .plan_locked(&cx, d, None, false)
            .and_then(|o| self.gate(&cx).map(|()| o));
        self.finish(&t, Action::Plan, out.as_ref().map(|_| Outcome::Planned), ui);
        out
    }

    /// `ecomctl apply` for one target: the saved plan, only if it was made from the current
    /// inputs, after the policy gate and approval.
    pub fn apply(&self, env: &str, stage: Stage, approval: &Approval, ui: &Ui) -> Result<()> {
        let t = Target::new(env, stage);
        let d = self.driver_of(&t)?;
        let _lock = self.lock(&t, ui)?;
        let cx = self.cx(env, &t, ui);
        let out = match self.start(&cx, d, Intent::Apply, approval) {
            Ok(Started::Plan(o)) => self
                .gate(&cx)
                .and_then(|()| self.approve(&o, approval, ui))
                .and_then(|()| self.apply_locked(&cx, d, &o, false)),
            Ok(Started::Skipped(_)) => Ok(()),
            Err(e) => Err(e),
        };
        self.finish(
            &t,
            Action::Apply,
            out.as_ref().map(|_| Outcome::Applied),
            ui,
        );
        out
    }
}
