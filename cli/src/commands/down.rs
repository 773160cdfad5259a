use super::{orchestrate, Settings};
use crate::cli::DownArgs;
use crate::stages::{Approval, Step};
use crate::ui::Ui;
use anyhow::Result;
use serde_json::json;

pub fn run(settings: &Settings, args: &DownArgs, ui: &Ui) -> Result<()> {
    let ws = orchestrate::workspace(settings)?;
    let env = orchestrate::env_for(settings, &ws, None)?;
    let approval = Approval {
        yes: false,
        plan_hashes: args.approve.clone(),
        interactive: ui.interactive(),
    };
    let steps = ws.down(&env, &approval, args.include_bootstrap, ui)?;
    let destroyed = steps.iter().filter(|(_, s)| *s == Step::Destroyed).count();
    ui.event(
        "down_finished",
        json!({ "env": env, "destroyed": destroyed }),
    );
    ui.status("done", &format!("{env}: {destroyed} stage(s) destroyed"));
    Ok(())
}
