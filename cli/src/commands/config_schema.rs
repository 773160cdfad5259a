use crate::ui::Ui;
use anyhow::{Context, Result};
use serde_json::json;

pub fn run(ui: &Ui) -> Result<()> {
    let schema = crate::config::schema();
    ui.event("schema", json!({ "schema": schema }));
    ui.data(&serde_json::to_string_pretty(schema).context("serialising the schema")?);
    Ok(())
}

pub fn docs(ui: &Ui) -> Result<()> {
    let page = crate::config::docs::markdown(crate::config::schema());
    ui.event("docs", json!({ "markdown": page }));
    ui.data(&page);
    Ok(())
}
