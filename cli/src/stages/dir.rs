//! The directory ecomctl keeps for one (scope, stage), as a type: every file the engine and the
//! drivers read or write is named here once.
//!
//! ```text
//! <state_dir>/<scope>/<stage>/
//!   terraform.tfvars.json backend.hcl     rendered inputs (Terraform stages)
//!   .terraform/                           TF_DATA_DIR
//!   plan.tfplan plan.json plan.meta.json  the saved plan, its document, and the inputs it came from
//!   state.json                            last apply: when, inputs hash, plan hash, backend
//!   outputs.json                          the stage's outputs for downstream stages
//!   lock                                  held (flock) while a run works on the stage
//!   lock-held.json                        Terraform's state lock as last seen held by another run
//!   errored.tfstate                       the state a failed apply could not save; pushed next run
//! ```

use super::record::{self, PlanMeta, RecordError, StageState};
use super::Target;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One stage's directory under the state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageDir {
    path: PathBuf,
}

/// A saved plan whose artifact is on disk, with the inputs it was made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedPlan {
    pub meta: PlanMeta,
}

impl StageDir {
    pub fn new(state_dir: &Path, target: &Target) -> StageDir {
        StageDir {
            path: state_dir.join(&target.scope).join(target.stage.name()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The plan artifact the driver applies (`terraform plan -out`).
    pub fn plan_file(&self) -> PathBuf {
        self.path.join("plan.tfplan")
    }

    /// The plan document (`terraform show -json`) the summary and policies read.
    pub fn plan_json(&self) -> PathBuf {
        self.path.join("plan.json")
    }

    pub fn plan_meta(&self) -> PathBuf {
        self.path.join("plan.meta.json")
    }

    pub fn state_file(&self) -> PathBuf {
        self.path.join("state.json")
    }

    pub fn outputs_file(&self) -> PathBuf {
        self.path.join("outputs.json")
    }

    pub fn lock_file(&self) -> PathBuf {
        self.path.join("lock")
    }

    pub fn tfvars(&self) -> PathBuf {
        self.path.join("terraform.tfvars.json")
    }

    pub fn backend_hcl(&self) -> PathBuf {
        self.path.join("backend.hcl")
    }

    /// `TF_DATA_DIR`.
    pub fn tf_data_dir(&self) -> PathBuf {
        self.path.join(".terraform")
    }

    /// Terraform's state lock as last seen held (`ecomctl unlock` reads it).
    pub fn lock_held(&self) -> PathBuf {
        self.path.join("lock-held.json")
    }

    /// The state a failed apply could not save (`errored.tfstate`), pushed by the next run.
    pub fn errored_state(&self) -> PathBuf {
        self.path.join("errored.tfstate")
    }

    /// Bootstrap's state while it is local.
    pub fn local_tfstate(&self) -> PathBuf {
        self.path.join("terraform.tfstate")
    }

    /// The record of the last apply (default when there is none).
    pub fn state(&self) -> Result<StageState, RecordError> {
        Ok(record::read_json(&self.state_file())?.unwrap_or_default())
    }

    pub fn write_state(&self, state: &StageState) -> Result<(), RecordError> {
        record::write_json(&self.state_file(), state)
    }

    /// The saved plan, when both its record and its artifact exist.
    pub fn saved_plan(&self) -> Result<Option<SavedPlan>, RecordError> {
        let meta: Option<PlanMeta> = record::read_json(&self.plan_meta())?;
        Ok(meta
            .filter(|_| self.plan_file().exists())
            .map(|meta| SavedPlan { meta }))
    }

    /// Whether a plan record is kept (the artifact may be gone).
    pub fn has_plan_record(&self) -> bool {
        self.plan_meta().exists()
    }

    /// The saved plan's document.
    pub fn plan_doc(&self) -> Result<Option<Value>, RecordError> {
        record::read_json(&self.plan_json())
    }

    /// Removes the saved plan and its record (a new plan is being made, or it was applied).
    pub fn forget_plan(&self) -> std::io::Result<()> {
        for stale in [self.plan_meta(), self.plan_file()] {
            match std::fs::remove_file(&stale) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// The stored outputs (`terraform output -json` format).
    pub fn outputs(&self) -> Result<Option<Value>, RecordError> {
        record::read_json(&self.outputs_file())
    }

    pub fn has_outputs(&self) -> bool {
        self.outputs_file().exists()
    }

    pub fn write_outputs(&self, outputs: &Value) -> Result<(), RecordError> {
        record::write_json(&self.outputs_file(), outputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Stage;

    #[test]
    fn a_plan_counts_as_saved_only_with_its_artifact() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StageDir::new(tmp.path(), &Target::new("nonprod", Stage::App));
        assert_eq!(dir.path(), tmp.path().join("nonprod/app"));
        let meta = PlanMeta {
            inputs_hash: "i".into(),
            plan_hash: "p".into(),
            created_at: 1,
            changes: true,
            destroy: false,
        };
        record::write_json(&dir.plan_meta(), &meta).unwrap();
        assert_eq!(dir.saved_plan().unwrap(), None);
        std::fs::write(dir.plan_file(), b"plan").unwrap();
        assert_eq!(dir.saved_plan().unwrap(), Some(SavedPlan { meta }));
        dir.forget_plan().unwrap();
        assert!(!dir.has_plan_record() && !dir.plan_file().exists());
        dir.forget_plan().unwrap();
    }
}
