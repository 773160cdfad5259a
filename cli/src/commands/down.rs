use super::{orchestrate, Settings};
use crate::cli::DownArgs;
use crate::exit::{Exit, USAGE};
use crate::stages::{Approval, Step};
use crate::ui::Ui;
use anyhow::Result;
use serde_json::json;

pub fn run(settings: &Settings, args: &DownArgs, ui: &Ui) -> Result<()> {
    if args.include_bootstrap {
        return Err(Exit::new(
            USAGE,
            "destroying the bootstrap stage is not implemented yet",
        )
        .hint("its state lives in the bucket it would destroy: move it back to local state first (docs/bootstrap-state-migration.md)")
        .into());
    }
    let ws = orchestrate::workspace(settings)?;
    let env = orchestrate::env_for(settings, &ws, None)?;
    let approval = Approval {
        yes: false,
        plan_hashes: args.approve.clone(),
        interactive: ui.interactive(),
    };
    let steps = ws.down(&env, &approval, ui)?;
    let destroyed = steps.iter().filter(|(_, s)| *s == Step::Destroyed).count();
    ui.event(
        "down_finished",
        json!({ "env": env, "destroyed": destroyed }),
    );
    ui.status("done", &format!("{env}: {destroyed} stage(s) destroyed"));
    Ok(())
}
