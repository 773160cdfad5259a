use super::{orchestrate, Settings};
use crate::cli::UpArgs;
use crate::stages::events::Event;
use crate::stages::Step;
use crate::tools::process;
use crate::ui::Ui;
use anyhow::Result;
use std::time::Instant;

pub fn run(settings: &Settings, args: &UpArgs, ui: &Ui) -> Result<()> {
    let started = Instant::now();
    let (ws, env) = orchestrate::workspace_for_up(settings)?;
    let steps = ws.up(
        &env,
        args.stage,
        &orchestrate::approval(&args.approval, ui),
        ui,
    )?;
    let applied = steps.iter().filter(|(_, s)| *s == Step::Applied).count();
    let unchanged = steps.iter().filter(|(_, s)| *s == Step::Unchanged).count();
    let total = started.elapsed();
    let tools = process::tool_time();
    let own = total.saturating_sub(tools);
    ui.emit(&Event::UpFinished {
        env: &env,
        applied,
        unchanged,
        duration_ms: total.as_secs_f64() * 1000.0,
        tool_ms: tools.as_secs_f64() * 1000.0,
        own_ms: own.as_secs_f64() * 1000.0,
        aws_ms: crate::aws::api_time().as_secs_f64() * 1000.0,
    });
    ui.detail(&format!(
        "{:.0} ms in total, {:.0} ms of it in terraform; ecomctl's own share {:.1}%",
        total.as_secs_f64() * 1000.0,
        tools.as_secs_f64() * 1000.0,
        100.0 * own.as_secs_f64() / tools.as_secs_f64().max(1e-9)
    ));
    ui.status(
        "done",
        &format!("{env}: {applied} stage(s) applied, {unchanged} unchanged"),
    );
    Ok(())
}
