use super::Settings;
use crate::cli::RenderArgs;
use crate::exit::{Exit, PENDING, USAGE};
use crate::render::{self, RenderOptions, Renderer};
use crate::tools::{
    terraform,
    version::{Constraint, Version},
};
use crate::ui::Ui;
use anyhow::{Context, Result};
use serde_json::json;

pub fn run(settings: &Settings, args: &RenderArgs, ui: &Ui) -> Result<()> {
    let loaded = settings.load_config()?;
    let tf_version = match &args.terraform_version {
        Some(v) => Version::parse(v).ok_or_else(|| {
            Exit::new(
                USAGE,
                format!("--terraform-version: `{v}` is not a version"),
            )
        })?,
        None => terraform::find(settings.run.terraform.clone())
            .and_then(|bin| terraform::version(&bin))
            .unwrap_or_else(|| {
                let floor = Constraint::parse(&loaded.config.tools.terraform)
                    .ok()
                    .and_then(|c| c.floor())
                    .unwrap_or(Version(vec![1, 6]));
                ui.detail(&format!(
                    "terraform not found; rendering backend settings for {floor}"
                ));
                floor
            }),
    };
    let state_dir = loaded.base_dir().join(".ecomctl");
    let out = args.out.clone().unwrap_or_else(|| state_dir.clone());
    let root = render::find_content_root(loaded.base_dir(), settings.run.root.as_deref())?;
    ui.detail(&format!("templates from {}", root.display()));
    let renderer = Renderer::new(&root).context("loading templates")?;
    let opts = RenderOptions {
        env: settings.env.clone(),
        stage: args.stage,
        terraform: tf_version,
        state_dir,
        aws_endpoint: settings.run.aws_endpoint.clone(),
        assume_roles: settings.run.assume_role,
    };
    let files = renderer.render(&loaded, &opts)?;
    let pending: usize = files.iter().map(|f| f.pending).sum();

    if args.check {
        let drift = render::drift(&files, &out);
        for d in &drift {
            ui.event(
                "drift",
                json!({ "path": out.join(&d.path), "missing": d.missing }),
            );
            ui.data(&out.join(&d.path).display().to_string());
        }
        if drift.is_empty() {
            ui.event(
                "render_checked",
                json!({ "out": out, "files": files.len() }),
            );
            ui.status(
                "up to date",
                &format!("{} files in {}", files.len(), out.display()),
            );
            return Ok(());
        }
        return Err(Exit::new(
            PENDING,
            format!(
                "{} of {} rendered files differ from {}",
                drift.len(),
                files.len(),
                out.display()
            ),
        )
        .hint("run `ecomctl render` to update them")
        .into());
    }

    let changed = render::write(&files, &out)?;
    for f in &files {
        ui.event(
            "rendered",
            json!({ "path": out.join(&f.path), "scope": f.scope, "stage": f.stage, "template": f.template, "pending": f.pending }),
        );
        ui.data(&out.join(&f.path).display().to_string());
    }
    ui.status(
        "rendered",
        &format!(
            "{} files into {} ({changed} changed)",
            files.len(),
            out.display()
        ),
    );
    if pending > 0 {
        ui.detail(&format!(
            "{pending} values wait on upstream stage outputs (shown as <pending: stage.output>)"
        ));
    }
    Ok(())
}
