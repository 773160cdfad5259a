//! `ecomctl doctor`: resolve the flags, run the audit (`doctor::run`), write the report and the
//! evidence, exit 3 when a finding reaches `--fail-on`.

use super::policy::{emit, pretty};
use super::Settings;
use crate::cli::{DoctorArgs, DoctorFormat};
use crate::doctor::{self, compliance, evidence, report, DoctorError, Options};
use crate::exit::{self, Exit};
use crate::policy::{Date, PolicyError};
use crate::ui::Ui;
use anyhow::{Context as _, Result};
use serde_json::json;
use std::time::Duration;

fn usage(e: DoctorError) -> anyhow::Error {
    let message = match &e {
        DoctorError::Policy(PolicyError::Read { path, source }) => {
            format!("cannot read {}: {source}", path.display())
        }
        other => other.to_string(),
    };
    let hint = match e {
        DoctorError::Policy(PolicyError::Waivers { .. } | PolicyError::Read { .. }) => {
            "every waiver needs id, resource, owner, reason, ticket and expires (YYYY-MM-DD); see policy/waivers.yaml"
        }
        _ => "see `ecomctl doctor --help`",
    };
    Exit::new(exit::USAGE, message).hint(hint).into()
}

pub fn run(settings: &Settings, args: &DoctorArgs, ui: &Ui) -> Result<()> {
    if args.compliance_docs {
        let policies = crate::policy::Bundle::embedded()
            .catalogue()
            .context("reading the policy metadata")?;
        ui.data(&compliance::docs(&policies));
        return Ok(());
    }
    let opts = Options {
        config: settings.config.clone(),
        env: settings.env.clone(),
        offline: args.offline,
        only: args.only.clone(),
        fail_on: args.fail_on,
        timeout: Duration::from_secs(args.timeout.max(1)),
        policy_dir: args.source.policy.clone(),
        waivers: args.source.waivers.clone(),
        today: Date::today(),
        terraform: settings.run.terraform.clone(),
        root: settings.run.root.clone(),
        aws_endpoint: settings.run.aws_endpoint.clone(),
        assume_role: settings.run.assume_role,
        helm: settings.run.helm.clone(),
        kubectl: settings.run.kubectl.clone(),
        checkov: settings.run.checkov.clone(),
    };
    let ctx = doctor::context(&opts).map_err(usage)?;
    let policies = ctx
        .bundle
        .catalogue()
        .context("reading the policy metadata")?;
    ui.status(
        "checking",
        &format!(
            "{} ({})",
            opts.config.display(),
            if ctx.envs.is_empty() {
                "no environment".into()
            } else {
                ctx.envs.join(", ")
            }
        ),
    );
    let (report, evidence) = doctor::run(&opts, ctx, &mut |r: &doctor::runner::Ran| {
        let status = report::worst(&r.run.outcomes);
        ui.event("doctor_group", json!({ "group": r.group, "status": status, "duration_ms": r.elapsed.as_millis() as u64, "timed_out": r.timed_out }));
        ui.detail(&format!(
            "{} {} in {:.1} s",
            r.group,
            status.as_str(),
            r.elapsed.as_secs_f64()
        ));
    });
    ui.settle();
    let doc = match args.format {
        DoctorFormat::Human if ui.json() && args.out.is_none() => {
            for o in &report.outcomes {
                ui.event(
                    "doctor_outcome",
                    serde_json::to_value(o).unwrap_or_default(),
                );
            }
            None
        }
        DoctorFormat::Human => Some(report::human(&report)),
        DoctorFormat::Json => Some(pretty(&report.to_json())),
        DoctorFormat::Sarif => Some(pretty(&report::sarif(&report))),
        DoctorFormat::Junit => Some(report::junit(&report)),
        DoctorFormat::Markdown => Some(report::markdown(&report, &policies)),
    };
    if let Some(dir) = &args.evidence {
        let files = [
            ("results.json", pretty(&report.to_json()).into_bytes()),
            (
                "results.sarif",
                pretty(&report::sarif(&report)).into_bytes(),
            ),
            (
                "report.md",
                report::markdown(&report, &policies).into_bytes(),
            ),
        ];
        let n = evidence::write(dir, &evidence, &files)
            .map_err(|e| Exit::new(exit::USAGE, e.to_string()))?;
        ui.status(
            "wrote",
            &format!(
                "{} files and {} to {}",
                n,
                evidence::MANIFEST,
                dir.display()
            ),
        );
    }
    if let Some(doc) = doc {
        let name = match args.format {
            DoctorFormat::Human => "human",
            DoctorFormat::Json => "json",
            DoctorFormat::Sarif => "sarif",
            DoctorFormat::Junit => "junit",
            DoctorFormat::Markdown => "markdown",
        };
        emit(ui, args.out.as_deref(), name, doc)?;
    }
    let skipped = report.skipped_groups();
    if !skipped.is_empty() {
        let names: Vec<String> = skipped
            .iter()
            .map(|(g, why)| format!("{g} ({why})"))
            .collect();
        ui.warn(&format!("skipped groups: {}", names.join(", ")));
    }
    ui.event("doctor_finished", json!({ "schema": report::SCHEMA, "counts": report.counts, "failed": report.failed, "skipped_groups": skipped.iter().map(|(g, _)| g.name()).collect::<Vec<_>>() }));
    if report.failed {
        let ids: Vec<String> = report
            .failing()
            .map(|o| format!("{} ({})", o.id, o.resource))
            .take(8)
            .collect();
        let mut parts = Vec::new();
        if !ids.is_empty() {
            parts.push(format!(
                "{} check(s) at or above {}: {}",
                report.failing().count(),
                args.fail_on.as_str(),
                ids.join(", ")
            ));
        }
        if !report.waivers.expired.is_empty() {
            parts.push(format!(
                "{} waiver(s) expired",
                report.waivers.expired.len()
            ));
        }
        return Err(Exit::new(
            exit::FINDINGS,
            format!("doctor found problems: {}", parts.join("; ")),
        )
        .hint("each finding names its fix; accept one with a waiver in policy/waivers.yaml")
        .into());
    }
    Ok(())
}
