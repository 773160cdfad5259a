use super::{orchestrate, Settings};
use crate::cli::PlanArgs;
use crate::exit::{Exit, PENDING};
use crate::ui::Ui;
use anyhow::Result;

pub fn run(settings: &Settings, args: &PlanArgs, ui: &Ui) -> Result<()> {
    let stage = args.stage;
    let ws = orchestrate::workspace(settings)?;
    let env = orchestrate::env_for(settings, &ws, Some(stage))?;
    let outcome = ws.plan(&env, stage, ui)?;
    ui.data(&outcome.plan_hash);
    if args.detailed_exitcode && outcome.has_changes() {
        return Err(Exit::new(
            PENDING,
            format!("{} has changes pending", outcome.target.label()),
        )
        .into());
    }
    Ok(())
}
