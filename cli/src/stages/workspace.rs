//! Everything a run knows, resolved once into a `Workspace`: the config, the renderer, the
//! tools, the settings, the policy gate and the drivers. Commands are thin calls into it.

use super::cluster::ClusterDriver;
use super::dir::StageDir;
use super::driver::{Cx, StageDriver};
use super::gate::{PolicyGate, RegoPolicy};
use super::preflight::Prefetch;
use super::record::{RecordError, StageLock};
use super::terraform::TerraformDriver;
use super::{check_interrupt, envs, state_dir, Target};
use crate::aws::{Aws, RoleMode};
use crate::config::Loaded;
use crate::exit::{Exit, FAILURE, USAGE};
use crate::render::{self, RenderOptions, Renderer, Stage};
use crate::tools::process::Stream;
use crate::tools::terraform;
use crate::tools::version::Constraint;
use crate::ui::Ui;
use anyhow::{Context, Result};
use std::cell::{OnceCell, RefCell};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Silence after which a Terraform run is taken for hung: Terraform prints a line at least
/// every 10 s while it creates, changes or destroys anything.
pub const DEFAULT_STALL: Duration = Duration::from_secs(1200);

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
    /// A provider mirror Terraform installs from (`--plugin-dir`, else `tools.plugin_dir`).
    pub plugin_dir: Option<PathBuf>,
    /// The content root (`ECOMCTL_ROOT`), when given.
    pub root: Option<PathBuf>,
    /// How the cluster stage reaches the cluster and applies (`--kubeconfig`, `--helm`, ...).
    pub cluster: ClusterDriver,
}

/// Everything a run needs, resolved once.
pub struct Workspace {
    pub loaded: Loaded,
    pub renderer: Renderer,
    /// Rendered inputs, plans, records and Terraform data (`.ecomctl/` beside the config).
    pub state_dir: PathBuf,
    pub terraform: TerraformDriver,
    pub cluster: ClusterDriver,
    pub aws_endpoint: Option<String>,
    pub lock_timeout: Duration,
    pub gate: Box<dyn PolicyGate>,
    pub role_mode: RoleMode,
    /// The AWS session, made on first use (commands that only read records never need it).
    pub(super) aws: OnceCell<Aws>,
    /// Accounts and buckets this run has already checked.
    pub(super) checked: RefCell<BTreeSet<String>>,
    /// `up`'s AWS checks, running since before the workspace was opened.
    pub(super) prefetch: RefCell<Option<Prefetch>>,
}

/// The provider mirror: the flag or environment, else the config's (relative to the config).
/// A missing directory is refused before any tool runs.
fn plugin_dir(loaded: &Loaded, given: Option<PathBuf>) -> Result<Option<PathBuf>> {
    let dir = given.or_else(|| {
        loaded
            .config
            .tools
            .plugin_dir
            .as_ref()
            .map(|d| loaded.base_dir().join(d))
    });
    let Some(dir) = dir else {
        return Ok(None);
    };
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    if !dir.is_dir() {
        return Err(Exit::new(
            USAGE,
            format!("the provider mirror {} is not a directory", dir.display()),
        )
        .hint("check --plugin-dir, ECOMCTL_PLUGIN_DIR or tools.plugin_dir in the config")
        .into());
    }
    Ok(Some(dir))
}

/// The state directory, owner-only (also when an older ecomctl made it world-readable).
fn private_state_dir(dir: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    super::record::private_dir(dir)
        .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        .with_context(|| format!("making {} private", dir.display()))
}

impl Workspace {
    pub fn open(loaded: Loaded, opts: WorkspaceOptions) -> Result<Workspace> {
        let root = render::find_content_root(loaded.base_dir(), opts.root.as_deref())?;
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
        private_state_dir(&state_dir)?;
        let plugin_dir = plugin_dir(&loaded, opts.plugin_dir)?;
        let gate: Box<dyn PolicyGate> = Box::new(RegoPolicy::for_config(&loaded.path, &root)?);
        Ok(Workspace {
            loaded,
            renderer,
            state_dir,
            terraform: TerraformDriver {
                bin: tf_bin,
                version: tf_version,
                grace: opts.grace,
                stall: opts.stall,
                plugin_dir,
            },
            cluster: opts.cluster,
            aws_endpoint: opts.aws_endpoint,
            lock_timeout: opts.lock_timeout,
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

    /// The driver of a stage of `env`, or why the walk leaves it out (the cluster stage with
    /// no way to reach the cluster: see `--cluster-access`).
    pub fn driver(&self, env: &str, stage: Stage) -> Result<&dyn StageDriver, &'static str> {
        match stage {
            Stage::Bootstrap | Stage::Foundation | Stage::App => Ok(&self.terraform),
            Stage::Cluster => self
                .cluster
                .reachable(&self.state_dir, env)
                .map(|()| &self.cluster as &dyn StageDriver),
        }
    }

    pub fn stage_dir(&self, t: &Target) -> StageDir {
        StageDir::new(&self.state_dir, t)
    }

    /// The context a driver call gets.
    pub fn cx<'a>(&'a self, env: &'a str, target: &'a Target, ui: &'a Ui) -> Cx<'a> {
        Cx {
            ws: self,
            env,
            target,
            dir: self.stage_dir(target),
            ui,
        }
    }

    pub fn render_opts(&self, env: &str, stage: Stage) -> RenderOptions {
        RenderOptions {
            env: Some(env.to_string()),
            stage: Some(stage),
            terraform: self.terraform.version.clone(),
            state_dir: self.state_dir.clone(),
            aws_endpoint: self.aws_endpoint.clone(),
            assume_roles: self.role_mode.assumes(),
        }
    }

    /// Streams a tool's lines into the UI.
    pub fn on_line<'a>(&'a self, ui: &'a Ui, t: &'a Target) -> impl FnMut(Stream, &str) + 'a {
        move |stream, line| ui.tool_line(&t.scope, t.stage.name(), stream == Stream::Stderr, line)
    }

    /// The stage's lock; when another run holds it, waits up to `lock_timeout` (polling, and
    /// giving up on Ctrl-C), so parallel CI jobs of two environments queue on bootstrap.
    pub(super) fn lock(&self, t: &Target, ui: &Ui) -> Result<StageLock> {
        let path = self.stage_dir(t).lock_file();
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
}
