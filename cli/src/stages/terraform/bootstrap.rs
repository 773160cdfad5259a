//! Bootstrap's chicken-and-egg: its first apply makes the state bucket with local state; then
//! the state moves into the bucket, and before `down` destroys the bucket it moves back out.

use super::{TerraformDriver, LOCAL_BACKEND_OVERRIDE};
use crate::exit::{Exit, FAILURE};
use crate::stages::dir::StageDir;
use crate::stages::driver::Cx;
use crate::stages::events::Event;
use crate::stages::{record, tool_error};
use crate::tools::terraform::Backend;
use anyhow::{Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn stack_override(cx: &Cx) -> Result<PathBuf> {
    Ok(super::stack_dir(cx)?.join(LOCAL_BACKEND_OVERRIDE))
}

/// The refusal when the bucket and this machine hold different bootstrap states.
fn conflict(cx: &Cx, remote: &StateFacts, local: Option<&StateFacts>) -> anyhow::Error {
    let local = local.map_or_else(
        || "none".to_string(),
        |l| format!("lineage {}, serial {}", l.lineage, l.serial),
    );
    Exit::new(
        FAILURE,
        format!(
            "{}: the state bucket already holds a bootstrap state (lineage {}, serial {}) and this machine has another one ({local}, {}); ecomctl overwrites neither",
            cx.target.label(),
            remote.lineage,
            remote.serial,
            cx.dir.local_tfstate().display()
        ),
    )
    .hint(format!(
        "if the bucket's state is the real one (applied from another machine), move {} aside and rerun: ecomctl then takes up the bucket's state",
        cx.dir.local_tfstate().display()
    ))
    .into()
}

/// The override file that gives bootstrap a local backend (its state file in its directory).
pub(super) fn write_local_override(dir: &StageDir, path: &Path) -> Result<()> {
    let state_file = dir.local_tfstate();
    let text = format!(
        "# Written by ecomctl: bootstrap keeps local state while its bucket does not exist.\nterraform {{\n  backend \"local\" {{\n    path = {}\n  }}\n}}\n",
        serde_json::to_string(&state_file.display().to_string()).unwrap_or_default()
    );
    record::write_atomic(path, text.as_bytes())?;
    Ok(())
}

/// What a Terraform state file says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StateFacts {
    pub lineage: String,
    pub serial: u64,
    pub resources: usize,
}

impl StateFacts {
    pub fn parse(doc: &Value) -> StateFacts {
        StateFacts {
            lineage: doc["lineage"].as_str().unwrap_or_default().to_string(),
            serial: doc["serial"].as_u64().unwrap_or(0),
            resources: doc["resources"].as_array().map_or(0, Vec::len),
        }
    }
}

/// Where bootstrap's state must come from, decided from the bucket's state object and the
/// local state file (never from ecomctl's own records alone: a new CI runner has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Home {
    /// Nothing in the bucket: start (or stay) local until the bucket exists.
    Local,
    /// The bucket holds the state; the local file is absent, empty, or an older copy of it.
    Adopt,
    /// Both hold different histories: refuse rather than overwrite either.
    Conflict,
}

pub(super) fn decide_home(remote: Option<&StateFacts>, local: Option<&StateFacts>) -> Home {
    match (remote, local) {
        (None, _) => Home::Local,
        (Some(_), None) => Home::Adopt,
        (Some(_), Some(l)) if l.resources == 0 => Home::Adopt,
        (Some(r), Some(l)) if r.lineage == l.lineage && l.serial <= r.serial => Home::Adopt,
        (Some(_), Some(_)) => Home::Conflict,
    }
}

/// `terraform output -json`'s shape from a state file's `outputs`.
fn outputs_of(state: &Value) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(outputs) = state["outputs"].as_object() {
        for (name, o) in outputs {
            out.insert(
                name.clone(),
                serde_json::json!({
                    "sensitive": o["sensitive"].as_bool().unwrap_or(false),
                    "type": o["type"],
                    "value": o["value"],
                }),
            );
        }
    }
    Value::Object(out)
}

impl TerraformDriver {
    /// The local state file's facts, when there is one.
    fn local_facts(cx: &Cx) -> Result<Option<StateFacts>> {
        let path = cx.dir.local_tfstate();
        let doc: Option<Value> = record::read_json(&path)?;
        Ok(doc.as_ref().map(StateFacts::parse))
    }

    /// Asks the bucket whether bootstrap's state is already there, and if so takes it up
    /// instead of starting from (or pushing) a local state. `Ok(true)` when it was taken up.
    pub(super) fn adopt_remote_state(&self, cx: &Cx) -> Result<bool> {
        let t = cx.target;
        cx.ws.preflight(t, false, cx.ui)?;
        let Some(bytes) = cx.ws.remote_state(t)? else {
            return Ok(false);
        };
        let remote: Value = serde_json::from_slice(&bytes).map_err(|e| {
            Exit::new(
                FAILURE,
                format!("the state of {} in the bucket is not JSON: {e}", t.label()),
            )
            .hint("restore an earlier version of the object (the bucket is versioned)")
        })?;
        let remote_facts = StateFacts::parse(&remote);
        let local = Self::local_facts(cx)?;
        match decide_home(Some(&remote_facts), local.as_ref()) {
            Home::Local => Ok(false),
            Home::Conflict => Err(conflict(cx, &remote_facts, local.as_ref())),
            Home::Adopt => {
                cx.dir.write_outputs(&outputs_of(&remote))?;
                let mut state = cx.dir.state()?;
                state.backend = Some("s3".into());
                state.applied_at = state.applied_at.or(Some(record::now()));
                state.inputs_hash = None;
                state.destroyed_at = None;
                cx.dir.write_state(&state)?;
                let override_path = stack_override(cx)?;
                if override_path.exists() {
                    std::fs::remove_file(&override_path)
                        .with_context(|| format!("removing {}", override_path.display()))?;
                }
                let _ = std::fs::remove_file(cx.dir.tf_data_dir().join("ecomctl-init"));
                cx.ui.status(
                    "adopted",
                    &format!(
                        "{}: its state is already in the bucket (lineage {}, serial {}); using it",
                        t.label(),
                        remote_facts.lineage,
                        remote_facts.serial
                    ),
                );
                cx.ui.emit(&Event::StateAdopted {
                    target: t,
                    lineage: &remote_facts.lineage,
                    serial: remote_facts.serial,
                });
                Ok(true)
            }
        }
    }

    /// Now that bootstrap's outputs name the bucket and key, moves its local state there.
    pub(super) fn migrate_bootstrap(&self, cx: &Cx) -> Result<()> {
        let t = cx.target;
        let r = self.render(cx, true)?;
        if r.backend_pending {
            return Err(Exit::new(
                FAILURE,
                "bootstrap was applied, but its outputs do not give the state backend settings",
            )
            .hint("check the bootstrap stack's outputs (kms_key_arn); the state is still local")
            .into());
        }
        cx.ws.check_state_bucket(cx.ui)?;
        // Never copy over a state someone else already keeps in the bucket.
        if self.adopt_remote_state(cx)? {
            return Ok(());
        }
        cx.ui.status(
            "migrating",
            &format!("{}: local state into the state bucket", t.label()),
        );
        let tf = self.tool(cx)?;
        let override_path = tf.workdir.join(LOCAL_BACKEND_OVERRIDE);
        if override_path.exists() {
            std::fs::remove_file(&override_path)
                .with_context(|| format!("removing {}", override_path.display()))?;
        }
        let _ = std::fs::remove_file(tf.data_dir.join("ecomctl-init"));
        if let Err(e) = tf.init(
            &Backend::Migrate(cx.dir.backend_hcl()),
            &mut cx.ws.on_line(cx.ui, t),
        ) {
            // Put the local backend back, so the next run retries the migration.
            let mut state = cx.dir.state()?;
            state.backend = Some("local".into());
            let _ = cx.dir.write_state(&state);
            return Err(tool_error(e, t))
                .with_context(|| format!("moving the state of {} into the bucket", t.label()));
        }
        let mut state = cx.dir.state()?;
        state.backend = Some("s3".into());
        state.inputs_hash = Some(r.inputs_hash);
        cx.dir.write_state(&state)?;
        cx.ui.emit(&Event::StateMigrated {
            target: t,
            to: None,
        });
        Ok(())
    }

    /// Moves bootstrap's state from the bucket back into a local file, so that destroying the
    /// bucket does not destroy the only record of what to destroy. A later `up` moves it back.
    pub(super) fn state_to_local(&self, cx: &Cx) -> Result<()> {
        let t = cx.target;
        let mut state = cx.dir.state()?;
        if state.backend.as_deref() != Some("s3") {
            return Ok(());
        }
        cx.ws.preflight(t, true, cx.ui)?;
        cx.ui.status(
            "migrating",
            &format!("{}: state out of the bucket into a local file", t.label()),
        );
        let tf = self.tool(cx)?;
        let override_path = tf.workdir.join(LOCAL_BACKEND_OVERRIDE);
        write_local_override(&cx.dir, &override_path)?;
        let _ = std::fs::remove_file(tf.data_dir.join("ecomctl-init"));
        if let Err(e) = tf.init(&Backend::MigrateToDeclared, &mut cx.ws.on_line(cx.ui, t)) {
            let _ = std::fs::remove_file(&override_path);
            return Err(tool_error(e, t))
                .with_context(|| format!("moving the state of {} out of the bucket", t.label()));
        }
        state.backend = Some("local".into());
        cx.dir.write_state(&state)?;
        cx.ui.emit(&Event::StateMigrated {
            target: t,
            to: Some("local"),
        });
        Ok(())
    }
}
