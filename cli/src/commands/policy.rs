//! `ecomctl policy test` and `ecomctl policy check`.

use super::Settings;
use crate::cli::{
    FindingsFormat, PolicyCheckArgs, PolicyScanArgs, PolicySourceArgs, PolicyTestArgs,
};
use crate::exit::{self, Exit};
use crate::policy::checkov::{self, Framework};
use crate::policy::{self, eval, report, Bundle, Date, Domain, Findings, Input, Waivers};
use crate::tools::process::Stream;
use crate::ui::Ui;
use anyhow::{Context, Result};
use serde_json::json;
use std::path::{Path, PathBuf};

/// The rules and waivers to use: `--policy DIR`, else `policy/` beside the config file when it
/// exists, else the rules built into ecomctl.
fn resolve(settings: &Settings, args: &PolicySourceArgs) -> Result<(Bundle, Waivers)> {
    let dir = args
        .policy
        .clone()
        .or_else(|| policy::dir_beside(&settings.config));
    policy::sources(dir.as_deref(), args.waivers.as_deref()).map_err(|e| {
        let what = dir
            .as_ref()
            .map(|d| format!("loading the policies in {}", d.display()))
            .unwrap_or_else(|| "loading the built-in policies".into());
        match e {
            policy::PolicyError::Waivers { .. } => {
                anyhow::Error::from(Exit::new(exit::USAGE, e.to_string()))
            }
            other => anyhow::Error::from(other).context(what),
        }
    })
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
        FindingsFormat::Human if ui.json() && args.out.is_none() => {
            for f in &findings.findings {
                ui.event(
                    "policy_finding",
                    serde_json::to_value(f).unwrap_or_default(),
                );
            }
            None
        }
        FindingsFormat::Human => Some(report::table(&findings)),
        FindingsFormat::Json => Some(pretty(&report::json(&findings))),
        FindingsFormat::Sarif => Some(pretty(&report::sarif(&findings))),
        FindingsFormat::Junit => Some(report::junit(&findings)),
    };
    if let Some(doc) = document {
        emit(ui, args.out.as_deref(), args.format.name(), doc)?;
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

/// Writes a finished report: to `--out`, as an event under `--output json`, else to stdout.
pub(crate) fn emit(ui: &Ui, out: Option<&Path>, format: &str, doc: String) -> Result<()> {
    match out {
        Some(path) => {
            std::fs::write(path, doc).with_context(|| format!("writing {}", path.display()))?;
            ui.status("wrote", &path.display().to_string());
        }
        None if ui.json() => {
            let document = serde_json::from_str(&doc).unwrap_or(serde_json::Value::String(doc));
            ui.event(
                "policy_report",
                json!({ "format": format, "document": document }),
            );
        }
        None if !doc.is_empty() => ui.data(&doc),
        None => {}
    }
    Ok(())
}

pub fn scan(settings: &Settings, args: &PolicyScanArgs, ui: &Ui) -> Result<()> {
    if args.format == FindingsFormat::Junit {
        return Err(
            Exit::new(exit::USAGE, "policy scan writes human, json or sarif")
                .hint("use `policy check --format junit` for one plan or manifest set")
                .into(),
        );
    }
    let (bundle, waivers) = resolve(settings, &args.source)?;
    let today = Date::today();
    let catalogue = bundle.catalogue().context("reading the rule catalogue")?;
    waivers
        .validate(&catalogue, today)
        .map_err(|e| Exit::new(exit::USAGE, e.to_string()))?;
    let stacks = args.stacks.clone().or_else(|| {
        let beside = match settings.config.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.join("stacks"),
            _ => PathBuf::from("stacks"),
        };
        beside.is_dir().then_some(beside)
    });
    if stacks.is_none() && args.manifests.is_none() && args.plan.is_empty() {
        return Err(Exit::new(exit::USAGE, "nothing to scan")
            .hint("pass --stacks DIR, --manifests PATH or --plan FILE")
            .into());
    }

    let context = eval::Context::for_env(settings.env.as_deref());
    let mut rego: Vec<Findings> = Vec::new();
    let mut inputs = Vec::new();
    for plan in &args.plan {
        inputs.push((Domain::Terraform, Input::plan_file(plan)));
    }
    if let Some(m) = &args.manifests {
        inputs.push((Domain::Kubernetes, Input::manifests(m)));
    }
    for (domain, input) in inputs {
        let input = input.map_err(|e| Exit::new(exit::USAGE, e.to_string()))?;
        let mut findings = eval::check(&bundle, domain, &input, &context)
            .with_context(|| format!("evaluating the {} policies", domain.dir()))?;
        waivers.apply(&mut findings, today);
        rego.push(findings);
    }

    let mut runs = Vec::new();
    let mut dirs: Vec<(PathBuf, Framework)> = Vec::new();
    if let Some(s) = &stacks {
        dirs.push((s.clone(), Framework::Terraform));
    }
    if let Some(m) = args.manifests.as_ref().filter(|m| m.is_dir()) {
        dirs.push((m.clone(), Framework::Kubernetes));
    }
    match checkov::find(settings.run.checkov.clone()) {
        Some(program) => {
            for (dir, framework) in &dirs {
                ui.status(
                    "scanning",
                    &format!("{} with checkov ({})", dir.display(), framework.as_str()),
                );
                let mut on_line = |stream: Stream, line: &str| {
                    ui.tool_line("policy", "checkov", stream == Stream::Stderr, line);
                };
                let run = checkov::run(&program, dir, *framework, &mut on_line)
                    .with_context(|| format!("running checkov on {}", dir.display()))?;
                runs.push(run);
            }
        }
        None if !dirs.is_empty() => ui.warn(
            "checkov not found (install it, or set ECOMCTL_CHECKOV); only the Rego rules ran",
        ),
        None => {}
    }

    let doc = match args.format {
        FindingsFormat::Sarif => pretty(&report::scan_sarif(&rego, &runs)),
        FindingsFormat::Json => pretty(&json!({
            "rego": rego.iter().map(report::json).collect::<Vec<_>>(),
            "checkov": runs,
        })),
        _ => {
            let mut text: String = rego.iter().map(report::table).collect();
            text.push_str(&report::checkov_table(&runs));
            text
        }
    };
    emit(ui, args.out.as_deref(), args.format.name(), doc)?;
    for f in &rego {
        for w in &f.unused {
            ui.warn(&format!(
                "unused waiver {} on {} ({}): it matched no finding; remove it",
                w.id, w.resource, w.at
            ));
        }
        for w in &f.expired {
            ui.warn(&format!(
                "expired waiver {} on {} ({}): expired {}, owner {}, ticket {}",
                w.id, w.resource, w.at, w.expires, w.owner, w.ticket
            ));
        }
    }
    let denied: usize = rego.iter().map(|f| f.denied().count()).sum();
    let expired: usize = rego.iter().map(|f| f.expired.len()).sum();
    let failed: usize = runs.iter().map(|r| r.failed.len()).sum();
    let passed: u64 = runs.iter().map(|r| r.passed).sum();
    ui.event(
        "policy_scanned",
        json!({ "rego_denied": denied, "expired_waivers": expired, "checkov_failed": failed, "checkov_passed": passed }),
    );
    ui.status(
        "scanned",
        &format!("Rego: {denied} denied over {} input(s); checkov: {failed} failed, {passed} passed over {} dir(s)", rego.len(), runs.len()),
    );
    if denied > 0 || expired > 0 || failed > 0 {
        return Err(Exit::new(
            exit::FINDINGS,
            format!("policy scan found problems: {denied} Rego denies, {expired} expired waivers, {failed} failed checkov checks"),
        )
        .hint("fix them; Rego findings take a waiver in policy/waivers.yaml, checkov ones a `#checkov:skip=ID:reason` comment")
        .into());
    }
    Ok(())
}

pub(crate) fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}
