//! `ecomctl rollback -e ENV [--to N]`: re-applies an earlier revision of the env's release from
//! the inventory kept in the cluster, watches the rollout, and records a new revision.

use super::{orchestrate, Settings};
use crate::cli::{RollbackArgs, RunArgs};
use crate::cluster::apply::{self, ApplyError, ApplyOptions};
use crate::cluster::connect::Connection;
use crate::cluster::plan::load_inventory;
use crate::cluster::stage;
use crate::exit::{Exit, FAILURE};
use crate::ui::Ui;
use anyhow::{Context, Result};
use serde_json::json;

/// The apply options the cluster flags ask for.
pub fn apply_options(run: &RunArgs, description: &str) -> ApplyOptions {
    let mut o = ApplyOptions {
        force_conflicts: run.force_conflicts,
        description: description.into(),
        ..ApplyOptions::default()
    };
    o.watch.timeout = run.rollout_timeout;
    o
}

pub fn run(settings: &Settings, args: &RollbackArgs, ui: &Ui) -> Result<()> {
    let loaded = settings.load_config()?;
    let env = orchestrate::env_in(settings, &loaded, None)?;
    let state_dir = crate::stages::state_dir(&loaded)?;
    let region = loaded.config.environments[&env]
        .region
        .clone()
        .unwrap_or_else(|| loaded.config.regions.primary.clone());
    let flags = orchestrate::connect_flags(settings);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let target = stage::target(&flags, &state_dir, &env, &region).await?;
        let mut conn = Connection::new(target);
        let cluster = conn.cluster().await?;
        if args.list {
            let inv = load_inventory(cluster, &env).await?;
            for r in &inv.revisions {
                ui.data(&format!(
                    "{}\t{:?}\t{}\t{}",
                    r.revision,
                    r.status,
                    crate::stages::format_time(r.applied_at),
                    r.description
                ));
            }
            return Ok(());
        }
        ui.status("rolling back", &format!("{env}: release {env}"));
        let opts = apply_options(&settings.run, "rollback");
        let mut on_status = |s: &crate::cluster::watch::WorkloadStatus| {
            ui.event("rollout_status", json!(s));
            ui.detail(&format!(
                "{}: {}/{} updated, {} ready, {} available{}",
                s.workload,
                s.updated,
                s.desired,
                s.ready,
                s.available,
                if s.done { " (done)" } else { "" }
            ));
        };
        match apply::rollback(cluster, &env, args.to, &opts, &mut on_status).await {
            Ok(r) => {
                ui.event(
                    "rollback_finished",
                    json!({"env": env, "revision": r.revision}),
                );
                ui.status("done", &format!("{env}: now at revision {}", r.revision));
                Ok(())
            }
            Err(ApplyError::Rollout {
                failure,
                revision,
                rolled_back_to,
            }) => {
                let again = rolled_back_to
                    .map(|n| format!("; revision {n} was re-applied"))
                    .unwrap_or_default();
                Err(Exit::new(FAILURE, format!("revision {revision}: {failure}{again}")).into())
            }
            Err(ApplyError::Cluster(e)) => {
                let hint = e.hint();
                let mut exit = Exit::new(FAILURE, e.to_string());
                if let Some(h) = hint {
                    exit = exit.hint(h);
                }
                Err(exit.into())
            }
        }
    })
}
