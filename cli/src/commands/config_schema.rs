use crate::ui::Ui;
use anyhow::{Context, Result};
use serde_json::json;

pub fn run(ui: &Ui) -> Result<()> {
    let schema = crate::config::schema();
    ui.event("schema", json!({ "schema": schema }));
    ui.data(&serde_json::to_string_pretty(schema).context("serialising the schema")?);
    Ok(())
}
