//! `ecomctl policy test` and `ecomctl policy check`.

use super::Settings;
use crate::cli::{FindingsFormat, PolicyCheckArgs, PolicySourceArgs, PolicyTestArgs};
use crate::exit::{self, Exit};
use crate::policy::{self, eval, report, Bundle, Date, Domain, Input, Waivers};
use crate::ui::Ui;
use anyhow::{Context, Result};
use serde_json::json;
use std::path::PathBuf;

/// The rules and waivers to use: `--policy DIR`, else `policy/` beside the config file when it
/// exists, else the rules built into ecomctl.
fn resolve(settings: &Settings, args: &PolicySourceArgs) -> Result<(Bundle, Waivers)> {
    let dir = args.policy.clone().or_else(|| {
        let beside = match settings.config.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.join("policy"),
            _ => PathBuf::from("policy"),
        };
        beside.join("terraform").is_dir().then_some(beside)
    });
    let bundle = match &dir {
        Some(dir) => Bundle::from_dir(dir)
            .with_context(|| format!("loading the policies in {}", dir.display()))?,
        None => Bundle::embedded(),
    };
    let waivers = match (&args.waivers, &dir) {
        (Some(file), _) => Waivers::load(file),
        (None, Some(dir)) => Waivers::load(&dir.join("waivers.yaml")),
        (None, None) => Waivers::parse(policy::waivers::EMBEDDED_NAME, policy::waivers::EMBEDDED),
    }
    .map_err(|e| Exit::new(exit::USAGE, e.to_string()))?;
    Ok((bundle, waivers))
}

pub fn test(settings: &Settings, args: &PolicyTestArgs, ui: &Ui) -> Result<()> {
    let (bundle, _) = resolve(settings, &args.source)?;
    let mut all = eval::TestReport::default();
    for domain in Domain::ALL {
        if !bundle.files_of(domain).any(|f| f.is_test()) {
            continue;
        }
        let report = eval::run_tests(&bundle, domain)
            .with_context(|| format!("running the {} policy tests", domain.dir()))?;
        all.outcomes.extend(report.outcomes);
    }
    if ui.json() {
        for o in &all.outcomes {
            ui.event("policy_test", serde_json::to_value(o).unwrap_or_default());
        }
        ui.event(
            "policy_tests_finished",
            json!({ "passed": all.passed(), "failed": all.failed() }),
        );
    } else {
        ui.data(&report::test_lines(&all, ui.verbose() > 0));
    }
    if all.outcomes.is_empty() {
        return Err(Exit::new(exit::FAILURE, "no test_* rules found").into());
    }
    if all.failed() > 0 {
        return Err(Exit::new(
            exit::FAILURE,
            format!(
                "{} of {} policy tests failed",
                all.failed(),
                all.outcomes.len()
            ),
        )
        .into());
    }
    Ok(())
}

pub fn check(settings: &Settings, args: &PolicyCheckArgs, ui: &Ui) -> Result<()> {
    let (bundle, waivers) = resolve(settings, &args.source)?;
    let today = Date::today();
    let catalogue = bundle.catalogue().context("reading the rule catalogue")?;
    waivers
        .validate(&catalogue, today)
        .map_err(|e| Exit::new(exit::USAGE, e.to_string()))?;
    let (domain, input) = match (&args.plan, &args.manifests) {
        (Some(plan), _) => (Domain::Terraform, Input::plan_file(plan)),
        (None, Some(dir)) => (Domain::Kubernetes, Input::manifests(dir)),
        (None, None) => {
            return Err(Exit::new(exit::USAGE, "nothing to check")
                .hint("pass --plan FILE or --manifests DIR")
                .into())
        }
    };
    let mut input = input.map_err(|e| Exit::new(exit::USAGE, e.to_string()))?;
    if let Some(stack) = &args.stack {
        let located = input.locate_in_stack(stack);
        ui.detail(&format!(
            "located {located} resources in the .tf files under {}",
            stack.display()
        ));
    }
    let context = eval::Context::for_env(settings.env.as_deref());
    let mut findings = eval::check(&bundle, domain, &input, &context)
        .with_context(|| format!("evaluating the {} policies", domain.dir()))?;
    waivers.apply(&mut findings, today);

    let document = match args.format {
        FindingsFormat::Human => None,
        FindingsFormat::Json => Some(pretty(&report::json(&findings))),
        FindingsFormat::Sarif => Some(pretty(&report::sarif(&findings))),
        FindingsFormat::Junit => Some(report::junit(&findings)),
    };
    match (&args.out, document) {
        (Some(path), Some(doc)) => {
            std::fs::write(path, doc).with_context(|| format!("writing {}", path.display()))?;
            ui.status("wrote", &path.display().to_string());
        }
        (Some(path), None) => {
            std::fs::write(path, report::table(&findings))
                .with_context(|| format!("writing {}", path.display()))?;
            ui.status("wrote", &path.display().to_string());
        }
        (None, Some(doc)) if ui.json() => {
            let document = serde_json::from_str(&doc).unwrap_or(serde_json::Value::String(doc));
            ui.event(
                "policy_report",
                json!({ "format": args.format.name(), "document": document }),
            );
        }
        (None, Some(doc)) => ui.data(&doc),
        (None, None) if ui.json() => {
            for f in &findings.findings {
                ui.event(
                    "policy_finding",
                    serde_json::to_value(f).unwrap_or_default(),
                );
            }
        }
        (None, None) => {
            let table = report::table(&findings);
            if !table.is_empty() {
                ui.data(&table);
            }
        }
    }
    for w in &findings.unused {
        ui.warn(&format!(
            "unused waiver {} on {} ({}): it matched no finding; remove it",
            w.id, w.resource, w.at
        ));
    }
    for w in &findings.expired {
        ui.warn(&format!(
            "expired waiver {} on {} ({}): expired {}, owner {}, ticket {}",
            w.id, w.resource, w.at, w.expires, w.owner, w.ticket
        ));
    }
    let (denied, warned, waived) = (
        findings.denied().count(),
        findings.warnings().count(),
        findings.waived().count(),
    );
    ui.event(
        "policy_checked",
        json!({
            "source": findings.source, "denied": denied, "warnings": warned, "waived": waived,
            "expired_waivers": findings.expired.len(), "unused_waivers": findings.unused.len(),
            "rules": findings.denied_ids(),
        }),
    );
    ui.status(
        "checked",
        &format!(
            "{}: {denied} denied, {warned} warning(s), {waived} waived ({} rules)",
            findings.source,
            catalogue.iter().filter(|r| r.domain == domain).count()
        ),
    );
    if findings.blocking() {
        let mut parts = Vec::new();
        if denied > 0 {
            parts.push(format!(
                "{denied} finding(s) deny it: {}",
                findings.denied_ids().join(", ")
            ));
        }
        if !findings.expired.is_empty() {
            parts.push(format!("{} waiver(s) expired", findings.expired.len()));
        }
        return Err(Exit::new(
            exit::FINDINGS,
            format!(
                "policy check failed for {}: {}",
                findings.source,
                parts.join("; ")
            ),
        )
        .hint("fix the resources, or accept a finding with a waiver in policy/waivers.yaml")
        .into());
    }
    Ok(())
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}
