//! The Terraform stages, one (scope, stage) at a time: render -> init -> plan -> show -json ->
//! summary -> policy gate -> approval -> apply of that saved plan -> output -json.
//!
//! Everything a run knows is resolved once into a `Workspace`; commands are thin calls into it.
//! See `record` for what is kept on disk per stage.
//!
//! Events (`--output json`, one object per line; every stage event has `scope` and `stage`):
//!
//! | event | when | fields |
//! |---|---|---|
//! | `stage_started` | a plan or apply begins | `action`: `plan`, `plan_destroy`, `apply` |
//! | `account_checked` | STS confirmed the account a stage runs in (once per account and run) | `account`, `arn`, `assumed_role` |
//! | `state_bucket_checked` | S3 confirmed the state bucket (once per run) | `bucket`, `versioning`, `encryption`, `kms_key`, `object_lock`, `retention_days` |
//! | `plan_summary` | a plan is saved | `changes`, `plan_hash`, `inputs_hash`, `unchanged_since_apply`, `summary` (`actions`, `by_type`, `changes`, `destructive`, `output_changes`), `duration_ms` |
//! | `policy_checked` | the gate ran | `policy` (`denied`, `warnings`, `waived`) |
//! | `approved` | changes were approved | `plan_hash`, `by`: `no changes`, `--approve`, `--yes`, `prompt` |
//! | `applied` / `destroyed` | an apply finished | `plan_hash`, `duration_ms` |
//! | `state_migrated` | bootstrap's state moved into the bucket | |
//! | `stage_skipped` | `up`/`down` left a stage alone | `reason` |
//! | `stage_finished` | a stage is done, either way | `action`, `result`: `planned`, `applied`, `unchanged`, `destroyed`, `failed` |
//! | `up_finished` / `down_finished` | the command is done | `env`, counts, `duration_ms`, `tool_ms`, `own_ms`; `up` also `aws_ms` (STS/S3 checks in flight, overlapping start-up) |
//! | `output` | with `-v`: a line of Terraform's output | `stream`, `line` |

pub mod approval;
pub mod record;
pub mod summary;

use crate::aws::{AccountCheck, Aws, AwsError, BucketCheck, BucketFacts, Identity, RoleMode};
use crate::config::Loaded;
use crate::exit::{Exit, FAILURE, FINDINGS, INTERRUPTED, USAGE};
use crate::render::{self, RenderOptions, Renderer, Stage, GLOBAL_SCOPE};
use crate::tools::process::{self, ProcessError, Stream};
use crate::tools::terraform::{self, Backend, Terraform};
use crate::tools::version::{Constraint, Version};
use crate::ui::Ui;
use anyhow::{Context, Result};
pub use approval::{Approval, Decision, MIN_HASH_PREFIX};
use record::{PlanMeta, RecordError, StageLock, StageState};
use serde_json::{json, Value};
use std::cell::{OnceCell, RefCell};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use summary::PlanSummary;

/// The override file that gives bootstrap a local backend until its bucket exists. It is
/// git-ignored (`stacks/.gitignore` ignores `*_override.tf`) and left out of the inputs hash.
pub const LOCAL_BACKEND_OVERRIDE: &str = "ecomctl_local_backend_override.tf";

/// How many resource changes the human view lists under a plan's headline.
const SHOWN_CHANGES: usize = 40;

/// Silence after which a Terraform run is taken for hung: Terraform prints a line at least
/// every 10 s while it creates, changes or destroys anything.
pub const DEFAULT_STALL: Duration = Duration::from_secs(1200);

/// The message `up` prints for the stage this slice does not run.
pub const CLUSTER_NOT_IMPLEMENTED: &str =
    "cluster stage needs a Kubernetes API; not implemented yet";

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("there is no saved plan for {0}")]
    NoPlan(String),
    #[error("the saved plan for {0} was made from other inputs than the current ones")]
    StalePlan(String),
    #[error("the {0} stage is not a Terraform stage")]
    NotTerraform(Stage),
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// One stage of one scope: `nonprod/foundation`, `global/bootstrap`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scope: String,
    pub stage: Stage,
}

impl Target {
    pub fn new(env: &str, stage: Stage) -> Target {
        Target {
            scope: if stage.is_global() {
                GLOBAL_SCOPE.to_string()
            } else {
                env.to_string()
            },
            stage,
        }
    }

    pub fn label(&self) -> String {
        format!("{}/{}", self.scope, self.stage)
    }

    pub fn dir(&self, state_dir: &Path) -> PathBuf {
        state_dir.join(&self.scope).join(self.stage.name())
    }

    /// Production-grade: prod itself and the shared bootstrap stage.
    pub fn is_prod(&self) -> bool {
        self.scope == "prod" || self.stage.is_global()
    }

    fn fields(&self) -> Value {
        json!({ "scope": self.scope, "stage": self.stage })
    }
}

/// What the policy gate found in a plan: refusals block the apply, warnings are shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GateReport {
    pub denied: Vec<String>,
    pub warnings: Vec<String>,
    pub waived: usize,
}

/// Called with the `terraform show -json` document before anything is applied.
pub trait PolicyGate {
    fn check(&self, target: &Target, plan: &Value) -> Result<GateReport>;
}

/// The gate that allows everything.
pub struct NoPolicy;

impl PolicyGate for NoPolicy {
    fn check(&self, _target: &Target, _plan: &Value) -> Result<GateReport> {
        Ok(GateReport::default())
    }
}

/// The Rego rules and waivers the config uses (`policy/` beside it, else the ones built into
/// ecomctl: the same as `ecomctl policy check`), evaluated with `crate::policy`. Findings point at
/// the stage's `.tf` files. Bootstrap is checked as `prod`: it is shared by every environment.
pub struct RegoPolicy {
    bundle: crate::policy::Bundle,
    waivers: crate::policy::Waivers,
    stacks: PathBuf,
}

impl RegoPolicy {
    /// The rules and waivers for the config at `config`; stacks under `content_root`.
    pub fn for_config(config: &Path, content_root: &Path) -> Result<RegoPolicy> {
        let dir = crate::policy::dir_beside(config);
        let (bundle, waivers) = crate::policy::sources(dir.as_deref(), None)
            .context("loading the policy gate's rules and waivers")?;
        Ok(RegoPolicy {
            bundle,
            waivers,
            stacks: content_root.join("stacks"),
        })
    }
}

impl PolicyGate for RegoPolicy {
    fn check(&self, target: &Target, plan: &Value) -> Result<GateReport> {
        let env = if target.stage.is_global() {
            "prod"
        } else {
            target.scope.as_str()
        };
        let stack = target.stage.stack().map(|s| self.stacks.join(s));
        let findings = crate::policy::gate_with(
            &self.bundle,
            &self.waivers,
            plan,
            env,
            stack.as_deref(),
            crate::policy::Date::today(),
        )?;
        let line = |f: &crate::policy::Finding| format!("{} {}: {}", f.id, f.resource, f.msg);
        Ok(GateReport {
            denied: findings
                .denied()
                .map(line)
                .chain(findings.expired.iter().map(|w| {
                    format!(
                        "waiver of {} for {} ({}) expired on {:?}",
                        w.id, w.resource, w.at, w.expires
                    )
                }))
                .collect(),
            warnings: findings.warnings().map(line).collect(),
            waived: findings.waived().count(),
        })
    }
}

/// Flags and environment that shape a run, resolved by the command.
#[derive(Debug, Clone)]
pub struct WorkspaceOptions {
    /// Terraform binary (`ECOMCTL_TERRAFORM` or PATH when `None`).
    pub terraform: Option<PathBuf>,
    pub aws_endpoint: Option<String>,
    /// Time a tool gets after Ctrl-C before it is killed.
    pub grace: Duration,
    /// How long to wait for another run's lock on a stage.
    pub lock_timeout: Duration,
    /// Silence after which a Terraform run is stopped as hung (`None`: never).
    pub stall: Option<Duration>,
    /// Assume each account's role, or use the credentials as they are (`ECOMCTL_ASSUME_ROLE`).
    pub role_mode: RoleMode,
}

impl WorkspaceOptions {
    /// From the environment: `ECOMCTL_TERRAFORM`, `AWS_ENDPOINT_URL`, `ECOMCTL_INTERRUPT_GRACE`
    /// (seconds, default 30), `ECOMCTL_LOCK_TIMEOUT` (seconds, default 0: fail at once) and
    /// `ECOMCTL_STALL_TIMEOUT` (seconds of silence before Terraform is stopped as hung,
    /// default 1200; 0: never).
    pub fn from_env() -> WorkspaceOptions {
        let grace = std::env::var("ECOMCTL_INTERRUPT_GRACE")
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(process::DEFAULT_GRACE);
        let lock_timeout = std::env::var("ECOMCTL_LOCK_TIMEOUT")
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(Duration::ZERO);
        let stall = std::env::var("ECOMCTL_STALL_TIMEOUT")
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map_or(Some(DEFAULT_STALL), |s| {
                (s > 0.0).then(|| Duration::from_secs_f64(s))
            });
        WorkspaceOptions {
            lock_timeout,
            stall,
            terraform: terraform::find(),
            aws_endpoint: std::env::var("AWS_ENDPOINT_URL")
                .ok()
                .filter(|s| !s.is_empty()),
            grace,
            role_mode: RoleMode::from_env(),
        }
    }
}

/// Everything a run needs, resolved once.
pub struct Workspace {
    pub loaded: Loaded,
    pub renderer: Renderer,
    /// Rendered inputs, plans, records and Terraform data (`.ecomctl/` beside the config).
    pub state_dir: PathBuf,
    pub tf_bin: PathBuf,
    pub tf_version: Version,
    pub aws_endpoint: Option<String>,
    pub grace: Duration,
    pub lock_timeout: Duration,
    pub stall: Option<Duration>,
    pub gate: Box<dyn PolicyGate>,
    pub role_mode: RoleMode,
    /// The AWS session, made on first use (commands that only read records never need it).
    aws: OnceCell<Aws>,
    /// Accounts and buckets this run has already checked.
    checked: RefCell<BTreeSet<String>>,
    /// `up`'s AWS checks, running since before the workspace was opened.
    prefetch: RefCell<Option<Prefetch>>,
}

/// Rendered inputs of one target, written to its directory.
struct Rendered {
    tfvars: PathBuf,
    backend: PathBuf,
    backend_text: String,
    /// Upstream stages the tfvars still wait on.
    tfvars_waits_on: Vec<String>,
    backend_pending: bool,
    inputs_hash: String,
}

/// The result of planning one target.
#[derive(Debug, Clone)]
pub struct PlanOutcome {
    pub target: Target,
    pub summary: PlanSummary,
    pub plan_hash: String,
    pub inputs_hash: String,
    /// The inputs are those of the last successful apply.
    pub unchanged_since_apply: bool,
}

impl PlanOutcome {
    pub fn has_changes(&self) -> bool {
        self.summary.has_changes()
    }
}

/// What `up` or `down` did with one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Applied,
    Unchanged,
    NotImplemented,
    Destroyed,
    NotApplied,
}

/// The status of one target, for `ecomctl status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TargetStatus {
    pub scope: String,
    pub stage: Stage,
    pub applied_at: Option<u64>,
    /// `None` when the inputs cannot be rendered yet.
    pub inputs_changed: Option<bool>,
    pub outputs: bool,
    pub plan_saved: bool,
    pub failed_at: Option<u64>,
    pub destroyed_at: Option<u64>,
}

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

/// A tool failure as an error: interruptions become exit 130, the rest keep their tail.
fn tool_error(e: ProcessError, target: &Target) -> anyhow::Error {
    if e.interrupted {
        return Exit::new(
            INTERRUPTED,
            format!("interrupted: {} stopped for {}", e.desc, target.label()),
        )
        .hint("nothing was recorded as applied; rerun the same command to resume")
        .into();
    }
    anyhow::Error::new(e)
}

fn check_interrupt() -> Result<()> {
    if process::interrupted() {
        return Err(Exit::new(INTERRUPTED, "interrupted").into());
    }
    Ok(())
}

impl Workspace {
    pub fn open(loaded: Loaded, opts: WorkspaceOptions) -> Result<Workspace> {
        let root = render::find_content_root(loaded.base_dir())?;
        let renderer = Renderer::new(&root).context("loading templates")?;
        let tf_bin = opts.terraform.ok_or_else(|| {
            Exit::new(FAILURE, "terraform is not installed (not found on PATH)")
                .hint("install Terraform, or point ECOMCTL_TERRAFORM at the binary")
        })?;
        let tf_version = terraform::version(&tf_bin).ok_or_else(|| {
            Exit::new(
                FAILURE,
                format!("cannot ask {} for its version", tf_bin.display()),
            )
            .hint("check that ECOMCTL_TERRAFORM (or terraform on PATH) is a Terraform binary")
        })?;
        let wanted = &loaded.config.tools.terraform;
        let constraint = Constraint::parse(wanted)
            .map_err(|m| Exit::new(USAGE, format!("tools.terraform: {m}")))?;
        if !constraint.matches(&tf_version) {
            return Err(Exit::new(
                USAGE,
                format!(
                    "terraform {tf_version} ({}) does not satisfy tools.terraform `{wanted}`",
                    tf_bin.display()
                ),
            )
            .hint("install a matching Terraform, or change tools.terraform in the config")
            .into());
        }
        let state_dir = state_dir(&loaded)?;
        let gate: Box<dyn PolicyGate> = Box::new(RegoPolicy::for_config(&loaded.path, &root)?);
        Ok(Workspace {
            loaded,
            renderer,
            state_dir,
            tf_bin,
            tf_version,
            aws_endpoint: opts.aws_endpoint,
            grace: opts.grace,
            lock_timeout: opts.lock_timeout,
            stall: opts.stall,
            gate,
            role_mode: opts.role_mode,
            aws: OnceCell::new(),
            checked: RefCell::new(BTreeSet::new()),
            prefetch: RefCell::new(None),
        })
    }

    /// Every environment, or the one asked for (an unknown name is a usage error).
    pub fn envs(&self, only: Option<&str>) -> Result<Vec<String>> {
        envs(&self.loaded, only)
    }

    fn stack_dir(&self, stage: Stage) -> Result<PathBuf> {
        let stack = stage.stack().ok_or(StageError::NotTerraform(stage))?;
        Ok(self.renderer.root().join("stacks").join(stack))
    }

    fn terraform(&self, t: &Target) -> Result<Terraform> {
        let mut env = Vec::new();
        if t.stage == Stage::Foundation {
            let secret = self
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
            bin: self.tf_bin.clone(),
            workdir: self.stack_dir(t.stage)?,
            data_dir: t.dir(&self.state_dir).join(".terraform"),
            plugin_cache: self.state_dir.join("plugin-cache"),
            env,
            grace: self.grace,
            stall: self.stall,
        })
    }

    fn render_opts(&self, env: &str, stage: Stage) -> RenderOptions {
        RenderOptions {
            env: Some(env.to_string()),
            stage: Some(stage),
            terraform: self.tf_version.clone(),
            state_dir: self.state_dir.clone(),
            aws_endpoint: self.aws_endpoint.clone(),
            assume_roles: self.role_mode.assumes(),
        }
    }

    fn aws(&self) -> Result<&Aws> {
        if let Some(aws) = self.aws.get() {
            return Ok(aws);
        }
        let aws = Aws::new(
            &self.loaded.config.regions.primary,
            self.aws_endpoint.clone(),
            self.role_mode,
        )?;
        Ok(self.aws.get_or_init(|| aws))
    }

    fn account_check(&self, t: &Target) -> AccountCheck {
        account_check(&self.loaded, t)
    }

    fn bucket_check(&self) -> BucketCheck {
        bucket_check(&self.loaded)
    }

    fn is_checked(&self, key: &str) -> bool {
        self.checked.borrow().contains(key)
    }

    fn record_account(&self, t: &Target, check: &AccountCheck, id: Identity, ui: &Ui) {
        ui.event(
            "account_checked",
            merge(
                t.fields(),
                json!({ "account": id.account, "arn": id.arn, "assumed_role": self.role_mode.assumes() }),
            ),
        );
        ui.detail(&format!(
            "{}: running as {} ({})",
            check.what, id.arn, id.account
        ));
        self.checked
            .borrow_mut()
            .insert(format!("account:{}", check.account));
    }

    fn record_bucket(&self, check: &BucketCheck, facts: BucketFacts, ui: &Ui) -> Result<()> {
        ui.detail(&format!(
            "state bucket {}: versioning {}, {} encryption, Object Lock {}",
            check.bucket, facts.versioning, facts.encryption, facts.object_lock
        ));
        ui.event(
            "state_bucket_checked",
            merge(
                json!({ "bucket": check.bucket }),
                serde_json::to_value(facts)?,
            ),
        );
        self.checked
            .borrow_mut()
            .insert(format!("bucket:{}", check.bucket));
        Ok(())
    }

    /// Before Terraform touches a target: the credentials it runs with must be in the account
    /// the config names, and, when the target keeps its state in the bucket, the bucket must
    /// exist with versioning, KMS encryption and Object Lock. Each is asked once per run.
    fn preflight(&self, t: &Target, ui: &Ui) -> Result<()> {
        let check = self.account_check(t);
        if !self.is_checked(&format!("account:{}", check.account)) {
            ui.status("checking", &format!("AWS account of {}", check.what));
            let id = self.aws()?.verify_account(&check).map_err(aws_refusal)?;
            self.record_account(t, &check, id, ui);
        }
        if !self.local_backend(t)? {
            self.check_state_bucket(ui)?;
        }
        Ok(())
    }

    fn check_state_bucket(&self, ui: &Ui) -> Result<()> {
        let check = self.bucket_check();
        if self.is_checked(&format!("bucket:{}", check.bucket)) {
            return Ok(());
        }
        let facts = self
            .aws()?
            .check_state_bucket(&check)
            .map_err(aws_refusal)?;
        self.record_bucket(&check, facts, ui)
    }

    /// `up` asks everything it will need at once, before the first stage: both accounts and,
    /// once bootstrap's state lives there, the bucket. A wrong account stops the run before
    /// any stage is touched. The questions usually went out already (see [`Prefetch`]).
    fn preflight_up(&self, env: &str, ui: &Ui) -> Result<()> {
        let prefetched = match self.prefetch.borrow_mut().take() {
            Some(p) if p.env == env => p.join(),
            _ => None,
        };
        let done = match prefetched {
            Some(done) => done?,
            None => {
                let (targets, checks, bucket) = up_checks(&self.loaded, &self.state_dir, env)?;
                let (ids, facts) = self.aws()?.check_all(&checks, bucket.as_ref());
                Prefetched {
                    aws: None,
                    targets,
                    checks,
                    ids,
                    bucket: bucket.zip(facts),
                }
            }
        };
        if let Some(aws) = done.aws {
            let _ = self.aws.set(aws);
        }
        ui.status(
            "checked",
            &format!(
                "AWS accounts{}",
                if done.bucket.is_some() {
                    " and the state bucket"
                } else {
                    ""
                }
            ),
        );
        for ((t, check), id) in done.targets.iter().zip(&done.checks).zip(done.ids) {
            let id = id.map_err(aws_refusal)?;
            self.record_account(t, check, id, ui);
        }
        if let Some((check, facts)) = done.bucket {
            self.record_bucket(&check, facts.map_err(aws_refusal)?, ui)?;
        }
        Ok(())
    }

    /// Hands `up` the checks started by [`Prefetch::start`].
    pub fn adopt(&self, prefetch: Prefetch) {
        *self.prefetch.borrow_mut() = Some(prefetch);
    }

    /// Renders the target's inputs (checked) and, with `write`, writes them into its directory.
    fn render(&self, env: &str, t: &Target, write: bool) -> Result<Rendered> {
        let files: Vec<_> = self
            .renderer
            .render(&self.loaded, &self.render_opts(env, t.stage))
            .with_context(|| format!("rendering the inputs of {}", t.label()))?
            .into_iter()
            .filter(|f| f.scope == t.scope && f.stage == t.stage)
            .collect();
        if write {
            render::write(&files, &self.state_dir)?;
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
                ("terraform-version", self.tf_version.to_string().as_bytes()),
            ],
            &self.stack_dir(t.stage)?,
        )?;
        Ok(Rendered {
            tfvars: self.state_dir.join(&tfvars.path),
            backend: self.state_dir.join(&backend.path),
            backend_text: backend.contents.clone(),
            tfvars_waits_on: pending_upstreams(&tfvars.contents),
            backend_pending: backend.pending > 0,
            inputs_hash,
        })
    }

    /// The stage's lock; when another run holds it, waits up to `lock_timeout` (polling, and
    /// giving up on Ctrl-C), so parallel CI jobs of two environments queue on bootstrap.
    fn lock(&self, t: &Target, ui: &Ui) -> Result<StageLock> {
        let path = t.dir(&self.state_dir).join("lock");
        let deadline = Instant::now() + self.lock_timeout;
        let mut told = false;
        loop {
            match StageLock::acquire(&path, &t.label()) {
                Ok(lock) => return Ok(lock),
                Err(RecordError::Locked { pid, .. }) if Instant::now() < deadline => {
                    if !told {
                        ui.status(
                            "waiting",
                            &format!("for another ecomctl run (pid {pid}) on {}", t.label()),
                        );
                        told = true;
                    }
                    check_interrupt()?;
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => {
                    return Err(Exit::new(FAILURE, e.to_string())
                        .hint(
                            "wait for it to finish, or set ECOMCTL_LOCK_TIMEOUT (seconds) to wait",
                        )
                        .into())
                }
            }
        }
    }

    fn state(&self, t: &Target) -> Result<StageState> {
        Ok(record::read_json(&t.dir(&self.state_dir).join("state.json"))?.unwrap_or_default())
    }

    /// Bootstrap keeps local state until its first apply has made the bucket.
    fn local_backend(&self, t: &Target) -> Result<bool> {
        Ok(t.stage.is_global() && self.state(t)?.backend.as_deref() != Some("s3"))
    }

    fn on_line<'a>(&'a self, ui: &'a Ui, t: &'a Target) -> impl FnMut(Stream, &str) + 'a {
        move |stream, line| ui.tool_line(&t.scope, t.stage.name(), stream == Stream::Stderr, line)
    }

    /// `terraform init`, skipped when nothing it depends on changed since the last one.
    fn init(&self, t: &Target, r: &Rendered, ui: &Ui) -> Result<()> {
        let tf = self.terraform(t)?;
        let local = self.local_backend(t)?;
        let override_path = tf.workdir.join(LOCAL_BACKEND_OVERRIDE);
        if local {
            self.write_local_override(t, &override_path)?;
        } else if override_path.exists() {
            std::fs::remove_file(&override_path)
                .with_context(|| format!("removing {}", override_path.display()))?;
        }
        let mode = if local { "local" } else { "s3" };
        let stamp_path = tf.data_dir.join("ecomctl-init");
        let stamp = record::inputs_hash(
            &[
                ("mode", mode.as_bytes()),
                ("backend", r.backend_text.as_bytes()),
                ("data-dir", tf.data_dir.display().to_string().as_bytes()),
                ("terraform-version", self.tf_version.to_string().as_bytes()),
            ],
            &tf.workdir,
        )?;
        if std::fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
            ui.detail(&format!("{}: terraform init is up to date", t.label()));
            return Ok(());
        }
        let backend = if local {
            Backend::AsDeclared
        } else {
            Backend::Config(r.backend.clone())
        };
        tf.init(&backend, &mut self.on_line(ui, t))
            .map_err(|e| tool_error(e, t))
            .with_context(|| format!("initialising {}", t.label()))?;
        record::write_atomic(&stamp_path, stamp.as_bytes())?;
        Ok(())
    }

    /// The override file that gives bootstrap a local backend (its state file in its directory).
    fn write_local_override(&self, t: &Target, path: &Path) -> Result<()> {
        let state_file = t.dir(&self.state_dir).join("terraform.tfstate");
        let text = format!(
            "# Written by ecomctl: bootstrap keeps local state while its bucket does not exist.\nterraform {{\n  backend \"local\" {{\n    path = {}\n  }}\n}}\n",
            serde_json::to_string(&state_file.display().to_string()).unwrap_or_default()
        );
        record::write_atomic(path, text.as_bytes())?;
        Ok(())
    }

    fn check_ready(&self, t: &Target, r: &Rendered) -> Result<()> {
        if let Some(up) = r.tfvars_waits_on.first() {
            return Err(Exit::new(
                FAILURE,
                format!(
                    "cannot plan {}: it waits on outputs of the {up} stage, which has not been applied yet",
                    t.label()
                ),
            )
            .hint(format!(
                "apply the {up} stage first (`ecomctl up` runs the stages in order)"
            ))
            .into());
        }
        if r.backend_pending && !self.local_backend(t)? {
            return Err(Exit::new(
                FAILURE,
                format!(
                    "cannot plan {}: its state backend needs the bootstrap outputs, which do not exist yet",
                    t.label()
                ),
            )
            .hint("apply the bootstrap stage first (`ecomctl up` runs it)")
            .into());
        }
        Ok(())
    }

    /// Plans one target with the lock already held.
    fn plan_locked(&self, env: &str, t: &Target, destroy: bool, ui: &Ui) -> Result<PlanOutcome> {
        check_interrupt()?;
        let started = Instant::now();
        let action = if destroy { "plan_destroy" } else { "plan" };
        ui.event(
            "stage_started",
            merge(t.fields(), json!({ "action": action })),
        );
        ui.status(
            "planning",
            &format!("{}{}", t.label(), if destroy { " (destroy)" } else { "" }),
        );
        let mut r = self.render(env, t, true)?;
        if t.stage.is_global() && !destroy && self.local_backend(t)? && !r.backend_pending {
            // Bootstrap was applied but its state never reached the bucket (the move failed
            // or was interrupted): finish that first.
            let mut state = self.state(t)?;
            if state.applied_at.is_some() {
                self.migrate_bootstrap(env, t, &mut state, ui)?;
                r = self.render(env, t, true)?;
            }
        }
        self.check_ready(t, &r)?;
        self.preflight(t, ui)?;
        self.init(t, &r, ui)?;
        check_interrupt()?;
        let dir = t.dir(&self.state_dir);
        let plan_file = dir.join("plan.tfplan");
        let meta_path = dir.join("plan.meta.json");
        // A plan that fails half-way must not leave an older plan looking current.
        for stale in [&meta_path, &plan_file] {
            if stale.exists() {
                std::fs::remove_file(stale)
                    .with_context(|| format!("removing {}", stale.display()))?;
            }
        }
        let tf = self.terraform(t)?;
        let mut on_line = self.on_line(ui, t);
        tf.plan(&r.tfvars, &plan_file, destroy, &mut on_line)
            .map_err(|e| tool_error(e, t))
            .with_context(|| format!("planning {}", t.label()))?;
        let doc = tf
            .show_json(&plan_file, &mut on_line)
            .map_err(|e| tool_error(e, t))
            .with_context(|| format!("reading the plan of {}", t.label()))?;
        let plan_bytes = std::fs::read(&plan_file)
            .with_context(|| format!("reading {}", plan_file.display()))?;
        let plan_hash = record::sha256_hex(&plan_bytes);
        let summary = PlanSummary::from_plan(&doc);
        record::write_json(&dir.join("plan.json"), &doc)?;
        record::write_json(
            &meta_path,
            &PlanMeta {
                inputs_hash: r.inputs_hash.clone(),
                plan_hash: plan_hash.clone(),
                created_at: record::now(),
                changes: summary.has_changes(),
                destroy,
            },
        )?;
        let state = self.state(t)?;
        let outcome = PlanOutcome {
            target: t.clone(),
            unchanged_since_apply: state.inputs_hash.as_deref() == Some(r.inputs_hash.as_str()),
            summary,
            plan_hash,
            inputs_hash: r.inputs_hash,
        };
        self.report_plan(&outcome, started, ui);
        Ok(outcome)
    }

    fn report_plan(&self, o: &PlanOutcome, started: Instant, ui: &Ui) {
        let t = &o.target;
        ui.event(
            "plan_summary",
            merge(
                t.fields(),
                json!({
                    "changes": o.has_changes(),
                    "plan_hash": o.plan_hash,
                    "inputs_hash": o.inputs_hash,
                    "unchanged_since_apply": o.unchanged_since_apply,
                    "summary": o.summary,
                    "duration_ms": started.elapsed().as_millis() as u64,
                }),
            ),
        );
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

    /// `ecomctl plan` for one target.
    pub fn plan(&self, env: &str, stage: Stage, ui: &Ui) -> Result<PlanOutcome> {
        let t = Target::new(env, stage);
        let _lock = self.lock(&t, ui)?;
        let out = self.plan_locked(env, &t, false, ui).and_then(|o| {
            // The gate runs again before any apply; here it tells CI early.
            let doc: Value = record::read_json(&t.dir(&self.state_dir).join("plan.json"))?
                .ok_or_else(|| StageError::NoPlan(t.label()))?;
            self.gate(&t, &doc, ui)?;
            Ok(o)
        });
        self.finish(&t, "plan", out.as_ref().map(|_| "planned"), ui);
        out
    }

    fn finish<E>(&self, t: &Target, action: &str, result: std::result::Result<&str, E>, ui: &Ui) {
        let result = result.unwrap_or("failed");
        ui.event(
            "stage_finished",
            merge(t.fields(), json!({ "action": action, "result": result })),
        );
    }

    /// Approves the changes of a plan, or explains what approval is missing.
    fn approve(&self, o: &PlanOutcome, approval: &Approval, ui: &Ui) -> Result<()> {
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
        ui.event(
            "approved",
            merge(t.fields(), json!({ "plan_hash": o.plan_hash, "by": by })),
        );
        Ok(())
    }

    fn gate(&self, t: &Target, doc: &Value, ui: &Ui) -> Result<()> {
        let report = self
            .gate
            .check(t, doc)
            .with_context(|| format!("evaluating policies on the plan of {}", t.label()))?;
        ui.event(
            "policy_checked",
            merge(t.fields(), json!({ "policy": report })),
        );
        for w in &report.warnings {
            ui.warn(&format!("{}: policy: {w}", t.label()));
        }
        if report.denied.is_empty() {
            return Ok(());
        }
        refuse_by_policy(t, &report.denied)
    }

    /// Applies a target's saved plan (lock held), then stores its outputs and record.
    fn apply_locked(
        &self,
        env: &str,
        t: &Target,
        plan_hash: &str,
        inputs_hash: &str,
        destroy: bool,
        ui: &Ui,
    ) -> Result<()> {
        check_interrupt()?;
        let started = Instant::now();
        ui.event(
            "stage_started",
            merge(
                t.fields(),
                json!({ "action": "apply", "plan_hash": plan_hash }),
            ),
        );
        self.preflight(t, ui)?;
        ui.status("applying", &t.label());
        let dir = t.dir(&self.state_dir);
        let plan_file = dir.join("plan.tfplan");
        let tf = self.terraform(t)?;
        let state_path = dir.join("state.json");
        let mut state = self.state(t)?;
        if let Err(e) = tf.apply(&plan_file, &mut self.on_line(ui, t)) {
            state.failed_at = Some(record::now());
            record::write_json(&state_path, &state)?;
            return Err(tool_error(e, t)).with_context(|| format!("applying {}", t.label()));
        }
        // A plan applied once is spent: Terraform refuses it again, and so does ecomctl.
        for spent in ["plan.tfplan", "plan.meta.json"] {
            let _ = std::fs::remove_file(dir.join(spent));
        }
        if destroy {
            // Downstream stages must not render from outputs of things that are gone.
            let _ = std::fs::remove_file(dir.join("outputs.json"));
            let destroyed = StageState {
                destroyed_at: Some(record::now()),
                backend: state.backend,
                ..Default::default()
            };
            record::write_json(&state_path, &destroyed)?;
            ui.event(
                "destroyed",
                merge(
                    t.fields(),
                    json!({ "plan_hash": plan_hash, "duration_ms": started.elapsed().as_millis() as u64 }),
                ),
            );
            ui.status("destroyed", &t.label());
            return Ok(());
        }
        let outputs = tf
            .output_json(&mut self.on_line(ui, t))
            .map_err(|e| tool_error(e, t))
            .with_context(|| format!("reading the outputs of {}", t.label()))?;
        record::write_json(&dir.join("outputs.json"), &outputs)?;
        let local = self.local_backend(t)?;
        state = StageState {
            applied_at: Some(record::now()),
            inputs_hash: Some(inputs_hash.to_string()),
            plan_hash: Some(plan_hash.to_string()),
            backend: Some(if local { "local" } else { "s3" }.into()),
            failed_at: None,
            destroyed_at: None,
        };
        record::write_json(&state_path, &state)?;
        if local {
            self.migrate_bootstrap(env, t, &mut state, ui)?;
        }
        ui.event(
            "applied",
            merge(
                t.fields(),
                json!({ "plan_hash": plan_hash, "duration_ms": started.elapsed().as_millis() as u64 }),
            ),
        );
        ui.status("applied", &t.label());
        Ok(())
    }

    /// Bootstrap's chicken-and-egg: its first apply used local state; now that its outputs
    /// name the bucket and key, move the state there.
    fn migrate_bootstrap(
        &self,
        env: &str,
        t: &Target,
        state: &mut StageState,
        ui: &Ui,
    ) -> Result<()> {
        let r = self.render(env, t, true)?;
        if r.backend_pending {
            return Err(Exit::new(
                FAILURE,
                "bootstrap was applied, but its outputs do not give the state backend settings",
            )
            .hint("check the bootstrap stack's outputs (kms_key_arn); the state is still local")
            .into());
        }
        self.check_state_bucket(ui)?;
        ui.status(
            "migrating",
            &format!("{}: local state into the state bucket", t.label()),
        );
        let tf = self.terraform(t)?;
        let override_path = tf.workdir.join(LOCAL_BACKEND_OVERRIDE);
        if override_path.exists() {
            std::fs::remove_file(&override_path)
                .with_context(|| format!("removing {}", override_path.display()))?;
        }
        let stamp_path = tf.data_dir.join("ecomctl-init");
        let _ = std::fs::remove_file(&stamp_path);
        if let Err(e) = tf.init(
            &Backend::Migrate(r.backend.clone()),
            &mut self.on_line(ui, t),
        ) {
            // Put the local backend back, so the next run retries the migration.
            let _ = self.init_local_again(t);
            return Err(tool_error(e, t))
                .with_context(|| format!("moving the state of {} into the bucket", t.label()));
        }
        state.backend = Some("s3".into());
        state.inputs_hash = Some(r.inputs_hash);
        record::write_json(&t.dir(&self.state_dir).join("state.json"), state)?;
        ui.event("state_migrated", t.fields());
        Ok(())
    }

    fn init_local_again(&self, t: &Target) -> Result<()> {
        let mut state = self.state(t)?;
        state.backend = Some("local".into());
        record::write_json(&t.dir(&self.state_dir).join("state.json"), &state)?;
        Ok(())
    }

    /// `ecomctl apply` for one target: the saved plan, only if it was made from the current
    /// inputs, after the policy gate and approval.
    pub fn apply(&self, env: &str, stage: Stage, approval: &Approval, ui: &Ui) -> Result<()> {
        let t = Target::new(env, stage);
        let _lock = self.lock(&t, ui)?;
        let out = self.apply_saved(env, &t, approval, ui);
        self.finish(&t, "apply", out.as_ref().map(|_| "applied"), ui);
        out
    }

    fn apply_saved(&self, env: &str, t: &Target, approval: &Approval, ui: &Ui) -> Result<()> {
        let dir = t.dir(&self.state_dir);
        let r = self.render(env, t, true)?;
        let meta: Option<PlanMeta> = record::read_json(&dir.join("plan.meta.json"))?;
        let Some(meta) = meta.filter(|_| dir.join("plan.tfplan").exists()) else {
            return Err(
                Exit::new(FAILURE, StageError::NoPlan(t.label()).to_string())
                    .hint(format!(
                        "run `ecomctl plan -e {env} --stage {}` first",
                        t.stage
                    ))
                    .into(),
            );
        };
        if meta.destroy {
            return Err(Exit::new(
                FAILURE,
                format!("the saved plan for {} is a destroy plan", t.label()),
            )
            .hint("`ecomctl down` makes and applies destroy plans itself; run `ecomctl plan` for a normal one")
            .into());
        }
        if meta.inputs_hash != r.inputs_hash {
            return Err(Exit::new(FAILURE, StageError::StalePlan(t.label()).to_string())
                .hint("the config, an upstream stage's outputs or the stack changed since the plan; run `ecomctl plan` again and review it")
                .into());
        }
        let doc: Value = record::read_json(&dir.join("plan.json"))?
            .ok_or_else(|| StageError::NoPlan(t.label()))?;
        let outcome = PlanOutcome {
            target: t.clone(),
            summary: PlanSummary::from_plan(&doc),
            plan_hash: meta.plan_hash.clone(),
            inputs_hash: meta.inputs_hash.clone(),
            unchanged_since_apply: false,
        };
        self.gate(t, &doc, ui)?;
        self.approve(&outcome, approval, ui)?;
        self.apply_locked(env, t, &meta.plan_hash, &meta.inputs_hash, false, ui)
    }

    /// `ecomctl up`: every stage of `env` in order. A stage whose inputs are those of its last
    /// apply and whose plan is empty is skipped; after a failure, the rerun finds the stages
    /// before it unchanged and resumes at the failed one.
    pub fn up(&self, env: &str, approval: &Approval, ui: &Ui) -> Result<Vec<(Target, Step)>> {
        self.preflight_up(env, ui)?;
        let mut steps = Vec::new();
        for stage in Stage::ALL {
            let t = Target::new(env, stage);
            if stage.stack().is_none() {
                ui.event(
                    "stage_skipped",
                    merge(t.fields(), json!({ "reason": CLUSTER_NOT_IMPLEMENTED })),
                );
                ui.status(
                    "skipped",
                    &format!("{}: {CLUSTER_NOT_IMPLEMENTED}", t.label()),
                );
                steps.push((t, Step::NotImplemented));
                continue;
            }
            let _lock = self.lock(&t, ui)?;
            let result = self.up_one(env, &t, approval, ui);
            self.finish(
                &t,
                "up",
                result.as_ref().map(|s| match s {
                    Step::Applied => "applied",
                    _ => "unchanged",
                }),
                ui,
            );
            steps.push((t, result?));
        }
        Ok(steps)
    }

    /// The saved plan of `t`, when `--approve` names it and it was made (as a destroy plan or
    /// not, as asked) from the current inputs: `up` and `down` then apply it instead of making a
    /// new plan, whose hash nobody has seen. Terraform itself refuses it if the state moved on.
    fn approved_saved_plan(
        &self,
        env: &str,
        t: &Target,
        destroy: bool,
        approval: &Approval,
        ui: &Ui,
    ) -> Result<Option<PlanOutcome>> {
        if approval.plan_hashes.is_empty() {
            return Ok(None);
        }
        let dir = t.dir(&self.state_dir);
        let meta: Option<PlanMeta> = record::read_json(&dir.join("plan.meta.json"))?;
        let Some(meta) = meta.filter(|m| {
            m.destroy == destroy && approval.names(&m.plan_hash) && dir.join("plan.tfplan").exists()
        }) else {
            return Ok(None);
        };
        let r = self.render(env, t, true)?;
        if meta.inputs_hash != r.inputs_hash {
            return Ok(None);
        }
        let Some(doc) = record::read_json::<Value>(&dir.join("plan.json"))? else {
            return Ok(None);
        };
        self.check_ready(t, &r)?;
        self.init(t, &r, ui)?;
        ui.status(
            "saved plan",
            &format!(
                "{}: applying approved plan {}",
                t.label(),
                &meta.plan_hash[..MIN_HASH_PREFIX]
            ),
        );
        Ok(Some(PlanOutcome {
            target: t.clone(),
            summary: PlanSummary::from_plan(&doc),
            plan_hash: meta.plan_hash,
            inputs_hash: meta.inputs_hash,
            unchanged_since_apply: false,
        }))
    }

    fn up_one(&self, env: &str, t: &Target, approval: &Approval, ui: &Ui) -> Result<Step> {
        let o = match self.approved_saved_plan(env, t, false, approval, ui)? {
            Some(o) => o,
            None => self.plan_locked(env, t, false, ui)?,
        };
        if !o.has_changes() && o.unchanged_since_apply {
            ui.event(
                "stage_skipped",
                merge(t.fields(), json!({ "reason": "unchanged" })),
            );
            ui.status("unchanged", &format!("{}: nothing to apply", t.label()));
            return Ok(Step::Unchanged);
        }
        let doc: Value = record::read_json(&t.dir(&self.state_dir).join("plan.json"))?
            .ok_or_else(|| StageError::NoPlan(t.label()))?;
        self.gate(t, &doc, ui)?;
        self.approve(&o, approval, ui)?;
        self.apply_locked(env, t, &o.plan_hash, &o.inputs_hash, false, ui)?;
        Ok(Step::Applied)
    }

    /// `ecomctl down`: destroys the Terraform stages of `env` in reverse order. Every destroy
    /// plan needs its hash (`--approve`) or the scope's name typed on a terminal; `--yes` never
    /// destroys. Stages never applied are skipped. Bootstrap (the state bucket every
    /// environment uses) goes last and only with `include_bootstrap`, once no other
    /// environment has a stage applied: its state first moves back out of the bucket it is
    /// about to destroy.
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
        let mut stages = vec![Stage::App, Stage::Foundation];
        if include_bootstrap {
            stages.push(Stage::Bootstrap);
        }
        let mut steps = Vec::new();
        for stage in stages {
            let t = Target::new(env, stage);
            let _lock = self.lock(&t, ui)?;
            let state = self.state(&t)?;
            if state.applied_at.is_none() {
                ui.event(
                    "stage_skipped",
                    merge(t.fields(), json!({ "reason": "not applied" })),
                );
                ui.status("skipped", &format!("{}: not applied", t.label()));
                steps.push((t, Step::NotApplied));
                continue;
            }
            let result = if t.stage.is_global() {
                self.bootstrap_state_to_local(&t, ui)
                    .and_then(|()| self.down_one(env, &t, approval, ui))
            } else {
                self.down_one(env, &t, approval, ui)
            };
            self.finish(&t, "down", result.as_ref().map(|_| "destroyed"), ui);
            result?;
            steps.push((t, Step::Destroyed));
        }
        Ok(steps)
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
                if self.state(&t)?.applied_at.is_some() {
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

    /// Moves bootstrap's state from the bucket back into a local file, so that destroying the
    /// bucket does not destroy the only record of what to destroy. A later `up` moves it back.
    fn bootstrap_state_to_local(&self, t: &Target, ui: &Ui) -> Result<()> {
        let mut state = self.state(t)?;
        if state.backend.as_deref() != Some("s3") {
            return Ok(());
        }
        self.preflight(t, ui)?;
        ui.status(
            "migrating",
            &format!("{}: state out of the bucket into a local file", t.label()),
        );
        let tf = self.terraform(t)?;
        let override_path = tf.workdir.join(LOCAL_BACKEND_OVERRIDE);
        self.write_local_override(t, &override_path)?;
        let _ = std::fs::remove_file(tf.data_dir.join("ecomctl-init"));
        if let Err(e) = tf.init(&Backend::MigrateToDeclared, &mut self.on_line(ui, t)) {
            let _ = std::fs::remove_file(&override_path);
            return Err(tool_error(e, t))
                .with_context(|| format!("moving the state of {} out of the bucket", t.label()));
        }
        state.backend = Some("local".into());
        record::write_json(&t.dir(&self.state_dir).join("state.json"), &state)?;
        ui.event(
            "state_migrated",
            merge(t.fields(), json!({ "to": "local" })),
        );
        Ok(())
    }

    fn down_one(&self, env: &str, t: &Target, approval: &Approval, ui: &Ui) -> Result<()> {
        let o = match self.approved_saved_plan(env, t, true, approval, ui)? {
            Some(o) => o,
            None => self.plan_locked(env, t, true, ui)?,
        };
        let doc: Value = record::read_json(&t.dir(&self.state_dir).join("plan.json"))?
            .ok_or_else(|| StageError::NoPlan(t.label()))?;
        self.gate(t, &doc, ui)?;
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
                && ui.confirm(&question, &t.scope, &process::interrupted) == Some(true);
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
        self.apply_locked(env, t, &o.plan_hash, &o.inputs_hash, true, ui)
    }

    /// `ecomctl status` for one target. Renders in memory (writes nothing, runs no tool).
    pub fn status(&self, env: &str, stage: Stage) -> Result<TargetStatus> {
        let t = Target::new(env, stage);
        let dir = t.dir(&self.state_dir);
        let state = self.state(&t)?;
        let current = self.render(env, &t, false).ok().map(|r| r.inputs_hash);
        Ok(TargetStatus {
            inputs_changed: match (&current, &state.inputs_hash) {
                (Some(c), Some(a)) => Some(c != a),
                (Some(_), None) => Some(true),
                (None, _) => None,
            },
            scope: t.scope,
            stage,
            applied_at: state.applied_at,
            outputs: dir.join("outputs.json").exists(),
            plan_saved: dir.join("plan.meta.json").exists(),
            failed_at: state.failed_at,
            destroyed_at: state.destroyed_at,
        })
    }

    /// The stored outputs of a target (`terraform output -json` format).
    pub fn outputs(&self, env: &str, stage: Stage) -> Result<Option<Value>> {
        stored_outputs(&self.state_dir, &Target::new(env, stage))
    }
}

/// Where ecomctl keeps rendered inputs, plans and records: `.ecomctl/` beside the config.
pub fn state_dir(loaded: &Loaded) -> Result<PathBuf> {
    std::path::absolute(loaded.base_dir().join(".ecomctl")).context("resolving the state directory")
}

/// Every environment of the config, or the one asked for (an unknown name is a usage error).
pub fn envs(loaded: &Loaded, only: Option<&str>) -> Result<Vec<String>> {
    let names: Vec<String> = loaded.config.env_names().map(String::from).collect();
    match only {
        None => Ok(names),
        Some(n) if names.iter().any(|x| x == n) => Ok(vec![n.to_string()]),
        Some(n) => {
            let hint = crate::diag::nearest(n, names.iter().map(String::as_str))
                .map(|m| format!("did you mean `{m}`?"))
                .unwrap_or_else(|| format!("the environments are {}", names.join(", ")));
            Err(Exit::new(USAGE, format!("there is no environment `{n}`"))
                .hint(hint)
                .into())
        }
    }
}

/// The stored outputs of a target (`terraform output -json` format), read without Terraform.
pub fn stored_outputs(state_dir: &Path, target: &Target) -> Result<Option<Value>> {
    Ok(record::read_json(
        &target.dir(state_dir).join("outputs.json"),
    )?)
}

fn refuse_by_policy(t: &Target, denials: &[String]) -> Result<()> {
    Err(Exit::new(
        FINDINGS,
        format!(
            "policy refuses the plan of {}:\n{}",
            t.label(),
            denials
                .iter()
                .map(|d| format!("  - {d}"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    )
    .hint("fix the stack or the config, or record a waiver in policy/waivers.yaml")
    .into())
}

/// The account a target runs in, and how errors name it.
fn account_of<'a>(loaded: &'a Loaded, t: &Target) -> (String, &'a crate::config::model::Account) {
    let c = &loaded.config;
    match c.environments.get(&t.scope) {
        Some(env) if !t.stage.is_global() => (format!("environment {}", t.scope), &env.account),
        _ => (
            "the shared-services account".to_string(),
            &c.shared_services,
        ),
    }
}

fn session_name(loaded: &Loaded, scope: &str) -> String {
    let mut name = format!("ecomctl-{}-{scope}", loaded.config.project.name);
    name.truncate(64);
    name
}

fn account_check(loaded: &Loaded, t: &Target) -> AccountCheck {
    let (what, account) = account_of(loaded, t);
    AccountCheck {
        what,
        account: account.account_id.clone(),
        role_arn: account.role_arn.clone(),
        session: session_name(loaded, &t.scope),
    }
}

fn bucket_check(loaded: &Loaded) -> BucketCheck {
    BucketCheck {
        bucket: loaded.config.state.bucket.clone(),
        role_arn: loaded.config.shared_services.role_arn.clone(),
        session: session_name(loaded, GLOBAL_SCOPE),
    }
}

/// What `up -e env` checks first: the account of bootstrap and of the environment and, once
/// bootstrap's state is in the bucket, the bucket.
fn up_checks(
    loaded: &Loaded,
    state_dir: &Path,
    env: &str,
) -> Result<(Vec<Target>, Vec<AccountCheck>, Option<BucketCheck>)> {
    let bootstrap = Target::new(env, Stage::Bootstrap);
    let state: StageState =
        record::read_json(&bootstrap.dir(state_dir).join("state.json"))?.unwrap_or_default();
    let bucket = (state.backend.as_deref() == Some("s3")).then(|| bucket_check(loaded));
    let targets = vec![bootstrap, Target::new(env, Stage::Foundation)];
    let checks = targets.iter().map(|t| account_check(loaded, t)).collect();
    Ok((targets, checks, bucket))
}

struct Prefetched {
    /// The session the checks ran in, kept for the rest of the run.
    aws: Option<Aws>,
    targets: Vec<Target>,
    checks: Vec<AccountCheck>,
    ids: Vec<std::result::Result<Identity, AwsError>>,
    bucket: Option<(BucketCheck, std::result::Result<BucketFacts, AwsError>)>,
}

/// `up`'s AWS checks started on a thread as soon as the config is loaded, so their round trips
/// overlap loading templates, policies and Terraform's version; `up` waits for the answers
/// before the first stage, as if it had asked then.
pub struct Prefetch {
    env: String,
    handle: std::thread::JoinHandle<Result<Prefetched>>,
}

impl Prefetch {
    pub fn start(loaded: &Loaded, env: &str, opts: &WorkspaceOptions) -> Result<Prefetch> {
        let (targets, checks, bucket) = up_checks(loaded, &state_dir(loaded)?, env)?;
        let region = loaded.config.regions.primary.clone();
        let (endpoint, mode) = (opts.aws_endpoint.clone(), opts.role_mode);
        let handle = std::thread::Builder::new()
            .name("aws-checks".into())
            .spawn(move || {
                let aws = Aws::new(&region, endpoint, mode)?;
                let (ids, facts) = aws.check_all(&checks, bucket.as_ref());
                Ok(Prefetched {
                    aws: Some(aws),
                    targets,
                    checks,
                    ids,
                    bucket: bucket.zip(facts),
                })
            })
            .context("starting the AWS checks")?;
        Ok(Prefetch {
            env: env.to_string(),
            handle,
        })
    }

    /// The answers; `None` if the thread died (the checks are then asked again).
    fn join(self) -> Option<Result<Prefetched>> {
        self.handle.join().ok()
    }
}

/// An AWS answer that stops the run, with what to do about it.
fn aws_refusal(e: AwsError) -> anyhow::Error {
    let hint = match &e {
        AwsError::WrongAccount { .. } => {
            "check which credentials are in use (AWS_PROFILE, AWS_ACCESS_KEY_ID, the CI role) and the account_id in the config; nothing was changed"
        }
        AwsError::Identity { .. } => {
            "AWS credentials are needed (environment, profile, SSO or web identity) that may assume the role; with ECOMCTL_ASSUME_ROLE=false they must already be that role"
        }
        AwsError::BucketUnreachable { .. } => {
            "apply the bootstrap stage first (`ecomctl up` runs it), or check state.bucket in the config"
        }
        AwsError::BucketUnfit { .. } => {
            "the bootstrap stack makes the bucket with all of these; Object Lock can only be turned on for a bucket made with it, so a hand-made bucket must be replaced"
        }
        AwsError::Runtime(_) => "",
    };
    let exit = Exit::new(FAILURE, e.to_string());
    if hint.is_empty() {
        exit.into()
    } else {
        exit.hint(hint).into()
    }
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Some(a), Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
}

/// `2026-11-25T17:42:58Z` for seconds since the epoch (UTC, no dependency).
pub fn format_time(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_markers_name_their_stage() {
        let text = r#"{"a": "<pending: foundation.vpc_id>", "b": ["<pending: bootstrap.kms_key_arn>", "<pending: foundation.x>"]}"#;
        assert_eq!(pending_upstreams(text), vec!["bootstrap", "foundation"]);
        assert!(pending_upstreams("{}").is_empty());
    }

    #[test]
    fn times_are_utc_rfc3339() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_795_628_578), "2026-11-25T17:42:58Z");
        assert_eq!(format_time(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn targets_put_bootstrap_in_the_global_scope() {
        let t = Target::new("nonprod", Stage::Bootstrap);
        assert_eq!(t.label(), "global/bootstrap");
        assert!(t.is_prod());
        assert!(!Target::new("nonprod", Stage::App).is_prod());
        assert!(Target::new("prod", Stage::App).is_prod());
    }
}
