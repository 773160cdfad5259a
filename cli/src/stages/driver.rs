//! The contract between the engine and the drivers (see README.md beside this file).
//!
//! The engine owns the walk, locks, records, events, the policy gate and approval; a driver
//! owns one kind of stage: how its inputs are rendered and hashed, how a plan is made and saved
//! in the stage directory, how that saved plan is applied or a destroy plan carried out, and
//! how outputs are read back.

use super::dir::StageDir;
use super::summary::PlanSummary;
use super::workspace::Workspace;
use super::{PlanOutcome, Target};
use crate::exit::{Exit, FAILURE};
use crate::ui::Ui;
use anyhow::Result;
use serde_json::Value;

/// Everything a driver call may use: the workspace's services (rendering, the AWS preflight,
/// settings), the stage, its directory and the UI.
pub struct Cx<'a> {
    pub ws: &'a Workspace,
    pub env: &'a str,
    pub target: &'a Target,
    pub dir: StageDir,
    pub ui: &'a Ui,
}

/// Why a stage cannot be planned yet (an upstream stage has not given its outputs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub message: String,
    /// A command that gets the user out.
    pub hint: String,
}

impl Blocked {
    pub fn into_error(self) -> anyhow::Error {
        Exit::new(FAILURE, self.message).hint(self.hint).into()
    }
}

/// A stage's inputs as rendered now.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The hash a plan is tied to: rendered files, tool version, the stack's source.
    pub hash: String,
    pub blocked: Option<Blocked>,
}

/// A plan the driver made and saved as the stage directory's `plan_file()`.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The document the summary was made from and the policy gate reads; kept as `plan.json`.
    pub document: Value,
    pub summary: PlanSummary,
    /// SHA-256 of the saved plan artifact: what `--approve` names.
    pub plan_hash: String,
}

/// Where a stage keeps its own state, as recorded in `state.json` (`backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateHome {
    /// Nothing kept outside the target system (the cluster keeps its own inventory).
    None,
    /// A local file in the stage directory (bootstrap before its bucket exists).
    Local,
    /// The state bucket: the engine checks the bucket before the driver runs.
    Bucket,
}

impl StateHome {
    pub fn label(self) -> Option<&'static str> {
        match self {
            StateHome::None => None,
            StateHome::Local => Some("local"),
            StateHome::Bucket => Some("s3"),
        }
    }
}

/// One kind of stage. Every method runs with the stage's lock held.
pub trait StageDriver {
    /// Renders the stage's inputs (written into `cx.dir` when `write`) and hashes them. Runs no
    /// tool and touches no remote system: `status` calls it with `write = false`.
    fn inputs(&self, cx: &Cx, write: bool) -> Result<Inputs>;

    /// Finishes what an earlier run left half-done before a new plan is made (e.g. bootstrap's
    /// state move into its bucket). Returns the inputs again when it changed them.
    fn recover(&self, _cx: &Cx, _inputs: &Inputs, _destroy: bool) -> Result<Option<Inputs>> {
        Ok(None)
    }

    /// Where the stage's state lives now.
    fn state_home(&self, cx: &Cx) -> Result<StateHome>;

    /// Makes a plan (`destroy`: of removing everything) from ready inputs and saves it as
    /// `cx.dir.plan_file()`. The engine has removed any older plan and checked the account.
    fn plan(&self, cx: &Cx, inputs: &Inputs, destroy: bool) -> Result<Planned>;

    /// Readies a saved plan of the current inputs to be applied without planning again.
    fn resume(&self, _cx: &Cx, _inputs: &Inputs) -> Result<()> {
        Ok(())
    }

    /// Applies the saved plan (`cx.dir.plan_file()`, hash `plan.plan_hash`), and nothing else.
    fn apply(&self, cx: &Cx, plan: &PlanOutcome) -> Result<()>;

    /// Carries out a saved destroy plan.
    fn destroy(&self, cx: &Cx, plan: &PlanOutcome) -> Result<()>;

    /// The stage's outputs after an apply (`terraform output -json` format: name ->
    /// `{value, type, sensitive}`); the engine stores them for downstream stages.
    fn outputs(&self, cx: &Cx) -> Result<Value>;

    /// Called once the engine recorded a successful apply (e.g. bootstrap's state moves into
    /// the bucket it just made, and the record says so).
    fn applied(&self, _cx: &Cx) -> Result<()> {
        Ok(())
    }

    /// Called before a stage that is applied is destroyed (bootstrap's state moves out of the
    /// bucket it is about to destroy).
    fn before_destroy(&self, _cx: &Cx) -> Result<()> {
        Ok(())
    }
}
