//! The Terraform driver: bootstrap, foundation and app. render -> init -> plan -out ->
//! show -json; apply of that saved plan; output -json. Bootstrap's local-state start and its
//! moves into and out of the bucket live in `bootstrap`.

mod bootstrap;
pub mod lock;

use super::driver::{Blocked, Cx, Inputs, Planned, StageDriver, StateHome};
use super::summary::PlanSummary;
use super::{record, tool_error, PlanOutcome, StageError};
use crate::render::{self, Stage};
use crate::tools::process::ProcessError;
use crate::tools::terraform::{Backend, Terraform};
use crate::tools::version::Version;
use anyhow::{Context, Result};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// The override file that gives bootstrap a local backend until its bucket exists. It is
/// git-ignored (`stacks/.gitignore` ignores `*_override.tf`) and left out of the inputs hash.
pub const LOCAL_BACKEND_OVERRIDE: &str = "ecomctl_local_backend_override.tf";

/// The Terraform binary and how it is run, for every Terraform stage.
#[derive(Debug, Clone)]
pub struct TerraformDriver {
    pub bin: PathBuf,
    pub version: Version,
    /// Time Terraform gets after Ctrl-C before it is killed.
    pub grace: Duration,
    /// Silence after which a Terraform run is stopped as hung (`None`: never).
    pub stall: Option<Duration>,
}

/// Rendered inputs of one target.
struct Rendered {
    /// Upstream stages the tfvars still wait on.
    tfvars_waits_on: Vec<String>,
    backend_pending: bool,
    inputs_hash: String,
}

/// The stages a `<pending: stage.output>` marker in rendered text waits on.
fn pending_upstreams(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .match_indices("<pending: ")
        .filter_map(|(i, m)| {
            let rest = &text[i + m.len()..];
            rest.split(['.', '>']).next().map(str::to_string)
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

pub(super) fn stack_dir(cx: &Cx) -> Result<PathBuf> {
    let stage = cx.target.stage;
    let stack = stage.stack().ok_or(StageError::NotTerraform(stage))?;
    Ok(cx.ws.renderer.root().join("stacks").join(stack))
}

/// A Terraform failure as an error: a held state lock is explained (and recorded for
/// `ecomctl unlock`), anything else keeps Terraform's tail under `what`.
fn failed(cx: &Cx, e: ProcessError, what: String) -> anyhow::Error {
    if let Some(info) = lock::parse(&e.tail.0) {
        return lock::held(&cx.dir, cx.target, cx.env, &info).context(what);
    }
    tool_error(e, cx.target).context(what)
}

impl TerraformDriver {
    fn tool(&self, cx: &Cx) -> Result<Terraform> {
        let mut env = Vec::new();
        if cx.target.stage == Stage::Foundation {
            let secret = cx
                .ws
                .loaded
                .config
                .cognito
                .smoke_test_user
                .as_ref()
                .and_then(|u| u.temp_password.env.as_deref());
            if let Some(value) = secret.and_then(std::env::var_os) {
                env.push(("TF_VAR_dummy_user_temp_password".into(), value));
            }
        }
        Ok(Terraform {
            bin: self.bin.clone(),
            workdir: stack_dir(cx)?,
            data_dir: cx.dir.tf_data_dir(),
            plugin_cache: cx.ws.state_dir.join("plugin-cache"),
            env,
            grace: self.grace,
            stall: self.stall,
        })
    }

    /// Renders the target's inputs (checked) and, with `write`, writes them into its directory.
    fn render(&self, cx: &Cx, write: bool) -> Result<Rendered> {
        let t = cx.target;
        let files: Vec<_> = cx
            .ws
            .renderer
            .render(&cx.ws.loaded, &cx.ws.render_opts(cx.env, t.stage))
            .with_context(|| format!("rendering the inputs of {}", t.label()))?
            .into_iter()
            .filter(|f| f.scope == t.scope && f.stage == t.stage)
            .collect();
        if write {
            render::write(&files, &cx.ws.state_dir)?;
        }
        let find = |name: &str| files.iter().find(|f| f.path.ends_with(name));
        let (Some(tfvars), Some(backend)) = (find("terraform.tfvars.json"), find("backend.hcl"))
        else {
            return Err(StageError::NotTerraform(t.stage).into());
        };
        let inputs_hash = record::inputs_hash(
            &[
                ("terraform.tfvars.json", tfvars.contents.as_bytes()),
                ("backend.hcl", backend.contents.as_bytes()),
                ("terraform-version", self.version.to_string().as_bytes()),
            ],
            &stack_dir(cx)?,
        )?;
        Ok(Rendered {
            tfvars_waits_on: pending_upstreams(&tfvars.contents),
            backend_pending: backend.pending > 0,
            inputs_hash,
        })
    }

    /// Bootstrap keeps local state until its first apply has made the bucket.
    fn local_backend(&self, cx: &Cx) -> Result<bool> {
        Ok(cx.target.stage.is_global() && cx.dir.state()?.backend.as_deref() != Some("s3"))
    }

    fn blocked(&self, cx: &Cx, r: &Rendered) -> Result<Option<Blocked>> {
        let t = cx.target;
        if let Some(up) = r.tfvars_waits_on.first() {
            return Ok(Some(Blocked {
                message: format!(
                    "cannot plan {}: it waits on outputs of the {up} stage, which has not been applied yet",
                    t.label()
                ),
                hint: format!("apply the {up} stage first (`ecomctl up` runs the stages in order)"),
            }));
        }
        if r.backend_pending && !self.local_backend(cx)? {
            return Ok(Some(Blocked {
                message: format!(
                    "cannot plan {}: its state backend needs the bootstrap outputs, which do not exist yet",
                    t.label()
                ),
                hint: "apply the bootstrap stage first (`ecomctl up` runs it)".into(),
            }));
        }
        Ok(None)
    }

    /// `terraform init`, skipped when nothing it depends on changed since the last one.
    fn init(&self, cx: &Cx) -> Result<()> {
        let t = cx.target;
        let tf = self.tool(cx)?;
        let local = self.local_backend(cx)?;
        let override_path = tf.workdir.join(LOCAL_BACKEND_OVERRIDE);
        if local {
            bootstrap::write_local_override(&cx.dir, &override_path)?;
        } else if override_path.exists() {
            std::fs::remove_file(&override_path)
                .with_context(|| format!("removing {}", override_path.display()))?;
        }
        let backend_file = cx.dir.backend_hcl();
        let backend_text = std::fs::read_to_string(&backend_file)
            .with_context(|| format!("reading {}", backend_file.display()))?;
        let mode = if local { "local" } else { "s3" };
        let stamp_path = tf.data_dir.join("ecomctl-init");
        let stamp = record::inputs_hash(
            &[
                ("mode", mode.as_bytes()),
                ("backend", backend_text.as_bytes()),
                ("data-dir", tf.data_dir.display().to_string().as_bytes()),
                ("terraform-version", self.version.to_string().as_bytes()),
            ],
            &tf.workdir,
        )?;
        if std::fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
            cx.ui
                .detail(&format!("{}: terraform init is up to date", t.label()));
            return Ok(());
        }
        let backend = if local {
            Backend::AsDeclared
        } else {
            Backend::Config(backend_file)
        };
        tf.init(&backend, &mut cx.ws.on_line(cx.ui, t))
            .map_err(|e| failed(cx, e, format!("initialising {}", t.label())))?;
        record::write_atomic(&stamp_path, stamp.as_bytes())?;
        Ok(())
    }

    /// Pushes the state an earlier failed apply could not save (kept in the stage directory),
    /// before anything else reads the state.
    fn push_errored(&self, cx: &Cx) -> Result<()> {
        let t = cx.target;
        let errored = cx.dir.errored_state();
        if !errored.exists() {
            return Ok(());
        }
        cx.ui.status(
            "pushing",
            &format!(
                "{}: the state a failed apply could not save ({})",
                t.label(),
                errored.display()
            ),
        );
        self.tool(cx)?
            .state_push(&errored, &mut cx.ws.on_line(cx.ui, t))
            .map_err(|e| {
                failed(cx, e, format!("pushing {}", errored.display())).context(format!(
                    "{} keeps the state of {} that Terraform could not save; it is pushed before anything else runs",
                    errored.display(),
                    t.label()
                ))
            })?;
        std::fs::remove_file(&errored)
            .with_context(|| format!("removing {} after pushing it", errored.display()))
    }

    fn run_saved(&self, cx: &Cx) -> Result<()> {
        let t = cx.target;
        let tf = self.tool(cx)?;
        let out = tf.apply(&cx.dir.plan_file(), &mut cx.ws.on_line(cx.ui, t));
        // Terraform writes the state it could not save into its working directory, the
        // stack's source folder that every environment shares: keep it with the stage.
        let stray = tf.workdir.join("errored.tfstate");
        if stray.exists() {
            std::fs::rename(&stray, cx.dir.errored_state()).with_context(|| {
                format!(
                    "moving {} into {}",
                    stray.display(),
                    cx.dir.path().display()
                )
            })?;
            record::restrict(&cx.dir.errored_state())?;
        }
        out.map_err(|e| failed(cx, e, format!("applying {}", t.label())))
    }
}

impl StageDriver for TerraformDriver {
    fn inputs(&self, cx: &Cx, write: bool) -> Result<Inputs> {
        let r = self.render(cx, write)?;
        Ok(Inputs {
            blocked: self.blocked(cx, &r)?,
            hash: r.inputs_hash,
        })
    }

    fn recover(&self, cx: &Cx, _inputs: &Inputs, destroy: bool) -> Result<Option<Inputs>> {
        if !cx.target.stage.is_global() || destroy || !self.local_backend(cx)? {
            return Ok(None);
        }
        // Whether the state is local is the bucket's to say, not this machine's records: a
        // new runner (no `.ecomctl/`) takes up the state already there.
        if self.adopt_remote_state(cx)? {
            return self.inputs(cx, true).map(Some);
        }
        // Bootstrap was applied but its state never reached the bucket (the move failed or
        // was interrupted): finish that first.
        if cx.dir.state()?.applied_at.is_none() || self.render(cx, false)?.backend_pending {
            return Ok(None);
        }
        self.migrate_bootstrap(cx)?;
        self.inputs(cx, true).map(Some)
    }

    fn state_home(&self, cx: &Cx) -> Result<StateHome> {
        Ok(if self.local_backend(cx)? {
            StateHome::Local
        } else {
            StateHome::Bucket
        })
    }

    fn plan(&self, cx: &Cx, _inputs: &Inputs, destroy: bool) -> Result<Planned> {
        let t = cx.target;
        self.init(cx)?;
        self.push_errored(cx)?;
        super::check_interrupt()?;
        let plan_file = cx.dir.plan_file();
        let tf = self.tool(cx)?;
        let mut on_line = cx.ws.on_line(cx.ui, t);
        tf.plan(&cx.dir.tfvars(), &plan_file, destroy, &mut on_line)
            .map_err(|e| failed(cx, e, format!("planning {}", t.label())))?;
        let document = tf
            .show_json(&plan_file, &mut on_line)
            .map_err(|e| tool_error(e, t))
            .with_context(|| format!("reading the plan of {}", t.label()))?;
        let plan_bytes = std::fs::read(&plan_file)
            .with_context(|| format!("reading {}", plan_file.display()))?;
        Ok(Planned {
            summary: PlanSummary::from_plan(&document),
            document,
            plan_hash: record::sha256_hex(&plan_bytes),
        })
    }

    fn resume(&self, cx: &Cx, _inputs: &Inputs) -> Result<()> {
        self.init(cx)?;
        self.push_errored(cx)
    }

    fn apply(&self, cx: &Cx, _plan: &PlanOutcome) -> Result<()> {
        self.run_saved(cx)
    }

    fn destroy(&self, cx: &Cx, _plan: &PlanOutcome) -> Result<()> {
        self.run_saved(cx)
    }

    fn outputs(&self, cx: &Cx) -> Result<Value> {
        let t = cx.target;
        self.tool(cx)?
            .output_json(&mut cx.ws.on_line(cx.ui, t))
            .map_err(|e| tool_error(e, t))
            .with_context(|| format!("reading the outputs of {}", t.label()))
    }

    fn applied(&self, cx: &Cx) -> Result<()> {
        if cx.dir.state()?.backend.as_deref() == Some("local") {
            self.migrate_bootstrap(cx)?;
        }
        Ok(())
    }

    fn before_destroy(&self, cx: &Cx) -> Result<()> {
        if cx.target.stage.is_global() {
            self.state_to_local(cx)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::bootstrap::{decide_home, Home, StateFacts};
    use super::*;

    fn facts(lineage: &str, serial: u64, resources: usize) -> StateFacts {
        StateFacts {
            lineage: lineage.into(),
            serial,
            resources,
        }
    }

    #[test]
    fn the_bucket_decides_where_bootstrap_state_lives() {
        let remote = facts("L", 7, 4);
        assert_eq!(decide_home(None, None), Home::Local);
        assert_eq!(decide_home(None, Some(&facts("X", 3, 4))), Home::Local);
        // A new machine (nothing local) or an empty local state takes up the bucket's.
        assert_eq!(decide_home(Some(&remote), None), Home::Adopt);
        assert_eq!(
            decide_home(Some(&remote), Some(&facts("X", 1, 0))),
            Home::Adopt
        );
        // The local copy of a move that finished in Terraform but not in the records.
        assert_eq!(
            decide_home(Some(&remote), Some(&facts("L", 7, 4))),
            Home::Adopt
        );
        // Another history, or a newer local one: never overwritten either way.
        assert_eq!(
            decide_home(Some(&remote), Some(&facts("X", 2, 4))),
            Home::Conflict
        );
        assert_eq!(
            decide_home(Some(&remote), Some(&facts("L", 9, 4))),
            Home::Conflict
        );
    }

    #[test]
    fn pending_markers_name_their_stage() {
        let text = r#"{"a": "<pending: foundation.vpc_id>", "b": ["<pending: bootstrap.kms_key_arn>", "<pending: foundation.x>"]}"#;
        assert_eq!(pending_upstreams(text), vec!["bootstrap", "foundation"]);
        assert!(pending_upstreams("{}").is_empty());
    }
}
