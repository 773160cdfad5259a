//! What the stage commands (`plan`, `apply`, `up`, `status`, `output`) share: opening the
//! workspace once and resolving which environment and approval a run has.

use super::Settings;
use crate::cli::ApproveArgs;
use crate::cluster::stage::ConnectFlags;
use crate::config::Loaded;
use crate::exit::{Exit, USAGE};
use crate::render::Stage;
use crate::stages::cluster::ClusterDriver;
use crate::stages::{self, Approval, Workspace, WorkspaceOptions};
use crate::ui::Ui;
use anyhow::Result;

/// Loads the config and resolves the tools, the content root and the state directory.
pub fn workspace(settings: &Settings) -> Result<Workspace> {
    let loaded = settings.load_config()?;
    Workspace::open(loaded, options(settings))
}

/// The workspace's settings, from flags and environment as parsed once by clap.
pub fn options(settings: &Settings) -> WorkspaceOptions {
    let run = &settings.run;
    WorkspaceOptions {
        terraform: crate::tools::terraform::find(run.terraform.clone()),
        plugin_dir: run.plugin_dir.clone(),
        root: run.root.clone(),
        aws_endpoint: run.aws_endpoint.clone(),
        grace: run.interrupt_grace,
        lock_timeout: run.lock_timeout,
        stall: (!run.stall_timeout.is_zero()).then_some(run.stall_timeout),
        role_mode: if run.assume_role {
            crate::aws::RoleMode::Assume
        } else {
            crate::aws::RoleMode::AsIs
        },
        cluster: ClusterDriver {
            helm: crate::tools::helm::find(run.helm.clone()),
            flags: connect_flags(settings),
            access: run.cluster_access,
            force_conflicts: run.force_conflicts,
            timeout: run.rollout_timeout,
        },
    }
}

/// How to reach the cluster: `--kubeconfig`/`ECOMCTL_KUBECONFIG`, else Kubernetes' own
/// `KUBECONFIG`; `--kube-context`; the AWS endpoint for the EKS token.
pub fn connect_flags(settings: &Settings) -> ConnectFlags {
    let run = &settings.run;
    ConnectFlags {
        kubeconfig: run.kubeconfig.clone().or_else(|| {
            std::env::var_os("KUBECONFIG")
                .filter(|v| !v.is_empty())
                .map(std::path::PathBuf::from)
        }),
        context: run.kube_context.clone(),
        aws_endpoint: run.aws_endpoint.clone(),
    }
}

/// The environment a stage runs for. Bootstrap is shared, so `-e` may be left out for it.
pub fn env_for(settings: &Settings, ws: &Workspace, stage: Option<Stage>) -> Result<String> {
    env_in(settings, &ws.loaded, stage)
}

/// The workspace for `up`: its AWS checks start as soon as the config is loaded and the
/// environment is known, while the rest of the workspace is opened.
pub fn workspace_for_up(settings: &Settings) -> Result<(Workspace, String)> {
    let loaded = settings.load_config()?;
    let env = env_in(settings, &loaded, None)?;
    let opts = options(settings);
    let prefetch = stages::Prefetch::start(&loaded, &env, &opts)?;
    let ws = Workspace::open(loaded, opts)?;
    ws.adopt(prefetch);
    Ok((ws, env))
}

/// `env_for` with only the config loaded (no Terraform needed).
pub fn env_in(settings: &Settings, loaded: &Loaded, stage: Option<Stage>) -> Result<String> {
    let envs = |only| stages::envs(loaded, only);
    match (&settings.env, stage) {
        (Some(e), _) => Ok(envs(Some(e))?.remove(0)),
        (None, Some(s)) if s.is_global() => envs(None)?
            .into_iter()
            .next()
            .ok_or_else(|| Exit::new(USAGE, "the config has no environments").into()),
        (None, _) => Err(Exit::new(USAGE, "which environment? pass -e ENV")
            .hint(format!("the environments are {}", envs(None)?.join(", ")))
            .into()),
    }
}

pub fn approval(args: &ApproveArgs, ui: &Ui) -> Approval {
    Approval {
        yes: args.yes,
        plan_hashes: args.approve.clone(),
        interactive: ui.interactive(),
    }
}

/// Terraform stages only (`output`, `unlock`): the cluster stage keeps no Terraform state.
pub fn terraform_stage(stage: Stage) -> Result<Stage> {
    if stage.stack().is_none() {
        return Err(
            Exit::new(USAGE, format!("the {stage} stage is not a Terraform stage"))
                .hint(
                    "the cluster stage's record is its inventory: `ecomctl rollback -e ENV --list`",
                )
                .into(),
        );
    }
    Ok(stage)
}
