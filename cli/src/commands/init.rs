use super::Settings;
use crate::exit::{Exit, FAILURE};
use crate::ui::Ui;
use anyhow::{Context, Result};
use serde_json::json;
use std::io::Write;

/// The starter file: the minimal example, whose comments explain every key it sets.
pub const STARTER: &str = include_str!("../../../examples/minimal.yaml");

pub fn run(settings: &Settings, ui: &Ui) -> Result<()> {
    let path = &settings.config;
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Exit::new(
                FAILURE,
                format!("{} already exists; not overwriting it", path.display()),
            )
            .hint("pass -c NEW_PATH to write elsewhere, or remove the file first")
            .into())
        }
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
    };
    file.write_all(STARTER.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    ui.event("initialized", json!({ "config": path }));
    ui.status(
        "created",
        &format!(
            "{} (edit it, then run `ecomctl validate -c {}`)",
            path.display(),
            path.display()
        ),
    );
    Ok(())
}
