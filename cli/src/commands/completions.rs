use crate::ui::Ui;
use anyhow::{Context, Result};
use clap::CommandFactory;

pub fn run(shell: clap_complete::Shell, ui: &Ui) -> Result<()> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut crate::cli::Cli::command(), "ecomctl", &mut buf);
    ui.data(&String::from_utf8(buf).context("completion script is not UTF-8")?);
    Ok(())
}
