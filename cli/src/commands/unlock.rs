use super::{orchestrate, Settings};
use crate::cli::UnlockArgs;
use crate::ui::Ui;
use anyhow::Result;

pub fn run(settings: &Settings, args: &UnlockArgs, ui: &Ui) -> Result<()> {
    let stage = orchestrate::terraform_stage(args.stage)?;
    let ws = orchestrate::workspace(settings)?;
    let env = orchestrate::env_for(settings, &ws, Some(stage))?;
    ws.unlock(&env, stage, args.force, ui)
}
