use super::{orchestrate, Settings};
use crate::cli::DownArgs;
use crate::stages::events::Event;
use crate::stages::{Approval, Step};
use crate::ui::Ui;
use anyhow::Result;

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
    ui.emit(&Event::DownFinished {
        env: &env,
        destroyed,
    });
    ui.status("done", &format!("{env}: {destroyed} stage(s) destroyed"));
    Ok(())
}
