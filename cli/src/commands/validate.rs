use super::Settings;
use crate::ui::Ui;
use anyhow::Result;
use serde_json::json;

pub fn run(settings: &Settings, ui: &Ui) -> Result<()> {
    let loaded = settings.load_config()?;
    let envs: Vec<&str> = loaded.config.env_names().collect();
    ui.event(
        "validated",
        json!({ "config": loaded.path, "environments": envs }),
    );
    ui.status(
        "valid",
        &format!(
            "{} ({} environment{}: {})",
            loaded.path.display(),
            envs.len(),
            if envs.len() == 1 { "" } else { "s" },
            envs.join(", ")
        ),
    );
    Ok(())
}
