use super::{orchestrate, Settings};
use crate::cli::ApplyArgs;
use crate::ui::Ui;
use anyhow::Result;

pub fn run(settings: &Settings, args: &ApplyArgs, ui: &Ui) -> Result<()> {
    let stage = args.stage;
    let ws = orchestrate::workspace(settings)?;
    let env = orchestrate::env_for(settings, &ws, Some(stage))?;
    ws.apply(&env, stage, &orchestrate::approval(&args.approval, ui), ui)
}
