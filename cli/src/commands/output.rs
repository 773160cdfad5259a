use super::{orchestrate, Settings};
use crate::cli::OutputArgs;
use crate::exit::{Exit, FAILURE};
use crate::stages;
use crate::ui::Ui;
use anyhow::{Context, Result};
use serde_json::{json, Map, Value};

pub fn run(settings: &Settings, args: &OutputArgs, ui: &Ui) -> Result<()> {
    let stage = orchestrate::terraform_stage(args.stage)?;
    // Only reads what `apply` stored: no Terraform, no AWS.
    let loaded = settings.load_config()?;
    let env = orchestrate::env_in(settings, &loaded, Some(stage))?;
    let target = stages::Target::new(&env, stage);
    let state_dir = stages::state_dir(&loaded)?;
    let file = stages::StageDir::new(&state_dir, &target).outputs_file();
    let rebuild = format!("`ecomctl up -e {env}` rebuilds it from the state");
    let stored = stages::stored_outputs(&state_dir, &target)
        .map_err(|e| Exit::new(FAILURE, format!("{e:#}")).hint(rebuild.clone()))?;
    let Some(Value::Object(outputs)) = stored else {
        return Err(
            Exit::new(FAILURE, format!("{} has no stored outputs", target.label()))
                .hint("apply the stage first (`ecomctl up`)")
                .into(),
        );
    };
    if let Some((name, _)) = outputs.iter().find(|(_, o)| o.get("value").is_none()) {
        return Err(Exit::new(
            FAILURE,
            format!(
                "{} is damaged: output `{name}` has no value",
                file.display()
            ),
        )
        .hint(rebuild)
        .into());
    }
    let value = |o: &Value| o.get("value").cloned().unwrap_or(Value::Null);
    let sensitive = |o: &Value| o.get("sensitive").and_then(Value::as_bool) == Some(true);
    match &args.name {
        Some(name) => {
            let Some(o) = outputs.get(name) else {
                let hint = crate::diag::nearest(name, outputs.keys().map(String::as_str))
                    .map(|n| format!("did you mean `{n}`?"))
                    .unwrap_or_else(|| "run without a name to list them".into());
                return Err(Exit::new(
                    FAILURE,
                    format!("{} has no output `{name}`", target.label()),
                )
                .hint(hint)
                .into());
            };
            let v = value(o);
            ui.event(
                "output",
                json!({ "scope": target.scope, "stage": stage, "name": name, "value": v }),
            );
            match &v {
                Value::String(s) => ui.data(s),
                other => ui.data(&serde_json::to_string_pretty(other).context("printing")?),
            }
        }
        None => {
            let shown: Map<String, Value> = outputs
                .iter()
                .map(|(k, o)| {
                    let v = if sensitive(o) {
                        Value::String("(sensitive)".into())
                    } else {
                        value(o)
                    };
                    (k.clone(), v)
                })
                .collect();
            ui.event(
                "outputs",
                json!({ "scope": target.scope, "stage": stage, "outputs": shown }),
            );
            ui.data(&serde_json::to_string_pretty(&shown).context("printing")?);
        }
    }
    Ok(())
}
