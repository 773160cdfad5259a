use super::{orchestrate, Settings};
use crate::render::Stage;
use crate::stages::events::Event;
use crate::stages::format_time;
use crate::ui::Ui;
use anyhow::Result;

pub fn run(settings: &Settings, ui: &Ui) -> Result<()> {
    let ws = orchestrate::workspace(settings)?;
    let mut rows = Vec::new();
    let mut bootstrap_done = false;
    for env in ws.envs(settings.env.as_deref())? {
        for stage in Stage::ALL.into_iter().filter(|s| s.stack().is_some()) {
            if stage.is_global() && std::mem::replace(&mut bootstrap_done, true) {
                continue;
            }
            let s = ws.status(&env, stage, ui)?;
            ui.emit(&Event::StageStatus(&s));
            rows.push(format!(
                "{:<24} {:<30} {:<18} {}{}",
                format!("{}/{}", s.scope, s.stage),
                match (s.applied_at, s.destroyed_at) {
                    (Some(t), _) => format_time(t),
                    (None, Some(t)) => format!("destroyed {}", format_time(t)),
                    (None, None) => "never applied".into(),
                },
                match s.inputs_changed {
                    Some(true) => "inputs changed",
                    Some(false) => "inputs unchanged",
                    None => "inputs pending",
                },
                if s.outputs { "outputs" } else { "no outputs" },
                match (s.plan_saved, s.failed_at) {
                    (_, Some(t)) => format!(", last apply failed {}", format_time(t)),
                    (true, None) => ", plan saved".into(),
                    _ => String::new(),
                }
            ));
        }
    }
    ui.data(&rows.join("\n"));
    Ok(())
}
