//! Markdown for an assessor's file: the run, each group, every outcome that is not a pass, and
//! the compliance view with statuses.

use super::super::compliance;
use super::super::model::Status;
use super::human::mark;
use super::{controls, Report};
use std::fmt::Write;

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(r: &Report, policies: &crate::policy::Catalogue) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# ecomctl doctor report\n");
    let _ = writeln!(
        out,
        "- config: `{}`\n- environments: {}\n- generated: {}\n- ecomctl {}{}\n- fails at: {}\n- result: **{}**\n",
        r.config,
        r.environments.join(", "),
        r.generated_at,
        r.ecomctl_version,
        if r.offline { " (offline)" } else { "" },
        r.fail_on.as_str(),
        if r.failed { "FAILED" } else { "passed" }
    );
    let _ = writeln!(
        out,
        "## Groups\n\n| | Group | Time | Note |\n|---|---|---|---|"
    );
    for g in &r.groups {
        let note = g.skipped.clone().unwrap_or_else(|| {
            if g.timed_out {
                "timed out".into()
            } else {
                String::new()
            }
        });
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} s | {} |",
            mark(g.status),
            g.group,
            g.duration_ms as f64 / 1000.0,
            cell(&note)
        );
    }
    let _ = writeln!(out, "\n## Findings\n\n| Status | Check | Severity | Resource | Detail | Controls |\n|---|---|---|---|---|---|");
    for o in r
        .outcomes
        .iter()
        .filter(|o| !matches!(o.status, Status::Pass | Status::Skip))
    {
        let status = if o.waived.is_some() {
            "waived"
        } else {
            o.status.as_str()
        };
        let _ = writeln!(
            out,
            "| {status} | {} | {} | {} | {} | {} |",
            o.id,
            o.severity().as_str(),
            cell(&o.resource),
            cell(&o.message),
            cell(&controls(o))
        );
    }
    let c = &r.counts;
    let _ = writeln!(
        out,
        "\n{} passed, {} warnings, {} failed, {} errors, {} skipped, {} waived.\n\n## Compliance view\n",
        c.pass, c.warn, c.fail, c.error, c.skip, c.waived
    );
    out.push_str(&compliance::view(r, policies));
    out
}
