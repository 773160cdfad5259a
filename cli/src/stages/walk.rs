//! The walks over every stage of an environment: `up` in order, `down` in reverse, and
//! `status` (which only reads).

use super::driver::Cx;
use super::events::{Action, Event, Outcome};
use super::next::{after_plan, Intent, Next};
use super::run::Started;
use super::workspace::Workspace;
use super::{
    check_interrupt, stored_outputs, Approval, StageDriver, Step, Target, TargetStatus,
    MIN_HASH_PREFIX,
};
use crate::exit::{Exit, FAILURE};
use crate::render::Stage;
use crate::tools::process;
use crate::ui::Ui;
use anyhow::Result;
use serde_json::Value;
use std::collections::BTreeSet;

fn skipped(t: &Target, reason: &str, ui: &Ui) {
    ui.emit(&Event::StageSkipped { target: t, reason });
}

impl Workspace {
    /// `ecomctl up`: every stage of `env` in order, up to and including `last` when given. A
    /// stage whose inputs are those of its last apply and whose plan is empty is skipped; after
    /// a failure, the rerun finds the stages before it unchanged and resumes at the failed one.
    pub fn up(
        &self,
        env: &str,
        last: Option<Stage>,
        approval: &Approval,
        ui: &Ui,
    ) -> Result<Vec<(Target, Step)>> {
        self.preflight_up(env, ui)?;
        let mut steps = Vec::new();
        let count = last.map_or(Stage::ALL.len(), |l| {
            Stage::ALL.iter().position(|s| *s == l).map_or(0, |i| i + 1)
        });
        for stage in Stage::ALL.into_iter().take(count) {
            let t = Target::new(env, stage);
            let d = match self.driver(env, stage) {
                Ok(d) => d,
                Err(reason) => {
                    skipped(&t, reason, ui);
                    ui.status("skipped", &format!("{}: {reason}", t.label()));
                    steps.push((t, Step::NotImplemented));
                    continue;
                }
            };
            let result = self.up_target(env, &t, d, approval, ui);
            steps.push((t, result?));
        }
        Ok(steps)
    }

    /// `ecomctl deploy`: the cluster stage of `env` alone, walked as `up` walks it (plan, the
    /// policy gate, approval, apply; skipped when nothing changed).
    pub fn deploy(&self, env: &str, approval: &Approval, ui: &Ui) -> Result<Step> {
        let t = Target::new(env, Stage::Cluster);
        let d = self.driver(env, Stage::Cluster).map_err(|reason| {
            Exit::new(FAILURE, format!("cannot deploy to {env}: {reason}")).hint(
                "give the cluster's kubeconfig (--kubeconfig), or apply the foundation stage first",
            )
        })?;
        self.up_target(env, &t, d, approval, ui)
    }

    /// One target as `up` walks it, under its lock, with its `stage_finished` event.
    fn up_target(
        &self,
        env: &str,
        t: &Target,
        d: &dyn StageDriver,
        approval: &Approval,
        ui: &Ui,
    ) -> Result<Step> {
        let _lock = self.lock(t, ui)?;
        let cx = self.cx(env, t, ui);
        let result = self.up_one(&cx, d, approval);
        self.finish(
            t,
            Action::Up,
            result.as_ref().map(|s| match s {
                Step::Applied => Outcome::Applied,
                _ => Outcome::Unchanged,
            }),
            ui,
        );
        result
    }

    fn up_one(&self, cx: &Cx, d: &dyn StageDriver, approval: &Approval) -> Result<Step> {
        let (t, ui) = (cx.target, cx.ui);
        let o = match self.start(cx, d, Intent::Up, approval)? {
            Started::Plan(o) => o,
            Started::Skipped(reason) => {
                skipped(t, reason, ui);
                return Ok(Step::Unchanged);
            }
        };
        match after_plan(
            Intent::Up,
            o.has_changes(),
            o.unchanged_since_apply,
            cx.dir.outputs_ok(),
        ) {
            Next::Skip { reason } => {
                skipped(t, reason, ui);
                ui.status("unchanged", &format!("{}: nothing to apply", t.label()));
                return Ok(Step::Unchanged);
            }
            Next::RebuildOutputs => {
                let _ = cx.dir.forget_plan();
                cx.dir.write_outputs(&d.outputs(cx)?)?;
                ui.emit(&Event::OutputsRebuilt { target: t });
                ui.status(
                    "rebuilt",
                    &format!("{}: its outputs, from the state", t.label()),
                );
                return Ok(Step::Unchanged);
            }
            _ => {}
        }
        self.gate(cx)?;
        self.approve(&o, approval, ui)?;
        self.apply_locked(cx, d, &o, false)?;
        Ok(Step::Applied)
    }

    /// A failed destroy of bootstrap: its state is local by now (it left the bucket first), so
    /// nothing is lost; say where it is and both ways on.
    fn bootstrap_down_failed(&self, e: anyhow::Error, env: &str) -> anyhow::Error {
        let state = self
            .state_dir
            .join("global/bootstrap/terraform.tfstate")
            .display()
            .to_string();
        e.context(
            Exit::new(FAILURE, "the bootstrap stage was not fully destroyed").hint(format!(
                "its state is kept in {state}; a bucket still holding objects (state versions under \
                 Object Lock retention, access logs) cannot be deleted: empty it once the retention \
                 ends and rerun `ecomctl down -e {env} --include-bootstrap`, or run `ecomctl up -e \
                 {env}` to restore what was destroyed and move the state back into the bucket"
            )),
        )
    }

    /// `ecomctl down`: destroys the stages of `env` in reverse order. Every destroy plan needs
    /// its hash (`--approve`) or the scope's name typed on a terminal; `--yes` never destroys.
    /// Stages never applied are skipped. Bootstrap (the state bucket every environment uses)
    /// goes last and only with `include_bootstrap`, once no other environment has a stage
    /// applied: its state first moves back out of the bucket it is about to destroy.
    pub fn down(
        &self,
        env: &str,
        approval: &Approval,
        include_bootstrap: bool,
        ui: &Ui,
    ) -> Result<Vec<(Target, Step)>> {
        if include_bootstrap {
            self.check_nothing_else_uses_bootstrap(env)?;
        }
        // The release goes first (while the cluster still exists), when a cluster is configured.
        let mut stages: Vec<Stage> = self
            .driver(env, Stage::Cluster)
            .ok()
            .map(|_| Stage::Cluster)
            .into_iter()
            .collect();
        stages.extend([Stage::App, Stage::Foundation]);
        if include_bootstrap {
            stages.push(Stage::Bootstrap);
        }
        let mut steps = Vec::new();
        for stage in stages {
            let t = Target::new(env, stage);
            let d = self.driver_of(&t)?;
            let _lock = self.lock(&t, ui)?;
            let cx = self.cx(env, &t, ui);
            let o = match self.start(&cx, d, Intent::Down, approval) {
                Ok(Started::Skipped(reason)) => {
                    skipped(&t, reason, ui);
                    ui.status("skipped", &format!("{}: {reason}", t.label()));
                    steps.push((t, Step::NotApplied));
                    continue;
                }
                Ok(Started::Plan(o)) => Ok(o),
                Err(e) => Err(e),
            };
            let result = o.and_then(|o| self.down_one(&cx, d, &o, approval));
            self.finish(
                &t,
                Action::Down,
                result.as_ref().map(|_| Outcome::Destroyed),
                ui,
            );
            result?;
            steps.push((t, Step::Destroyed));
        }
        Ok(steps)
    }

    fn down_one(
        &self,
        cx: &Cx,
        d: &dyn StageDriver,
        o: &super::PlanOutcome,
        approval: &Approval,
    ) -> Result<()> {
        let t = cx.target;
        self.gate(cx)?;
        // Always confirmed, even when only outputs go: `down` is never a side effect.
        if !approval.names(&o.plan_hash) {
            let short = &o.plan_hash[..MIN_HASH_PREFIX];
            let question = format!(
                "Destroy {} ({})? Type `{}` to apply destroy plan {short}:",
                t.label(),
                o.summary.headline(),
                t.scope
            );
            let confirmed = approval.interactive
                && cx.ui.confirm(&question, &t.scope, &process::interrupted) == Some(true);
            check_interrupt()?;
            if !confirmed {
                return Err(Exit::new(
                    FAILURE,
                    format!("destroying {} was not approved", t.label()),
                )
                .hint(format!(
                    "review the destroy plan, then rerun with --approve {short} (--yes never destroys)"
                ))
                .into());
            }
        }
        let applied = self.apply_locked(cx, d, o, true);
        match t.stage {
            Stage::Bootstrap => applied.map_err(|e| self.bootstrap_down_failed(e, cx.env)),
            _ => applied,
        }
    }

    /// Refuses to destroy bootstrap while a stage of another environment is applied (as far as
    /// this machine's records tell).
    fn check_nothing_else_uses_bootstrap(&self, env: &str) -> Result<()> {
        let mut still = Vec::new();
        for other in self.envs(None)? {
            if other == env {
                continue;
            }
            for stage in [Stage::Foundation, Stage::App] {
                let t = Target::new(&other, stage);
                if self.stage_dir(&t).state()?.applied_at.is_some() {
                    still.push(t.label());
                }
            }
        }
        if still.is_empty() {
            return Ok(());
        }
        let envs: BTreeSet<&str> = still.iter().filter_map(|l| l.split('/').next()).collect();
        Err(Exit::new(
            FAILURE,
            format!(
                "cannot destroy the bootstrap stage: its state bucket still holds the state of {}",
                still.join(", ")
            ),
        )
        .hint(format!(
            "destroy those first ({}); nothing was changed",
            envs.iter()
                .map(|e| format!("`ecomctl down -e {e}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into())
    }

    /// `ecomctl status` for one target. Renders in memory (writes nothing, runs no tool).
    pub fn status(&self, env: &str, stage: Stage, ui: &Ui) -> Result<TargetStatus> {
        let t = Target::new(env, stage);
        let cx = self.cx(env, &t, ui);
        // A damaged record is shown for this stage only; the others are still reported.
        let (state, mut damaged) = match cx.dir.state() {
            Ok(s) => (s, None),
            Err(e) => (Default::default(), Some(e.to_string())),
        };
        if damaged.is_none() && cx.dir.has_outputs() && !cx.dir.outputs_ok() {
            damaged = Some(format!(
                "{} is damaged (`ecomctl up -e {env}` rebuilds it from the state)",
                cx.dir.outputs_file().display()
            ));
        }
        let current = self
            .driver(env, stage)
            .ok()
            .and_then(|d| d.inputs(&cx, false).ok())
            .map(|i| i.hash);
        Ok(TargetStatus {
            inputs_changed: match (&current, &state.inputs_hash) {
                (Some(c), Some(a)) => Some(c != a),
                (Some(_), None) => Some(true),
                (None, _) => None,
            },
            outputs: cx.dir.has_outputs(),
            plan_saved: cx.dir.has_plan_record(),
            scope: t.scope,
            stage,
            applied_at: state.applied_at,
            failed_at: state.failed_at,
            destroyed_at: state.destroyed_at,
            damaged,
        })
    }

    /// `ecomctl unlock` for one target, with the stage's own lock held (a live ecomctl run on
    /// the stage makes it refuse).
    pub fn unlock(&self, env: &str, stage: Stage, force: bool, ui: &Ui) -> Result<()> {
        let t = Target::new(env, stage);
        self.driver_of(&t)?;
        let _lock = self.lock(&t, ui)?;
        self.terraform.unlock(&self.cx(env, &t, ui), force)
    }

    /// The stored outputs of a target (`terraform output -json` format).
    pub fn outputs(&self, env: &str, stage: Stage) -> Result<Option<Value>> {
        stored_outputs(&self.state_dir, &Target::new(env, stage))
    }
}
