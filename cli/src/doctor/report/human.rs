//! The human view: one line per group (`[✓]`, `[!]`, `[✗]`, `[-]` skipped), under it every
//! outcome that is not a pass, then a summary.

use super::super::model::{Outcome, Status};
use super::{controls, Report};
use std::fmt::Write;

pub fn mark(s: Status) -> &'static str {
    match s {
        Status::Pass => "[✓]",
        Status::Warn => "[!]",
        Status::Fail | Status::Error => "[✗]",
        Status::Skip => "[-]",
    }
}

fn outcome_lines(out: &mut String, o: &Outcome) {
    let status = if o.waived.is_some() {
        Status::Warn
    } else {
        o.status
    };
    let label = match (o.status, &o.waived) {
        (_, Some(_)) => "waived",
        (Status::Error, _) => "error",
        (s, _) => s.as_str(),
    };
    let _ = writeln!(
        out,
        "    {} {} {} {label}  {}",
        mark(status),
        o.id,
        o.severity().as_str(),
        o.resource
    );
    let _ = writeln!(out, "          {}", o.message);
    if let Some(w) = &o.waived {
        let _ = writeln!(
            out,
            "          waived until {} by {} ({}): {}",
            w.expires, w.owner, w.ticket, w.reason
        );
    }
    if o.status.failing() && o.waived.is_none() {
        if let Some(d) = o.def() {
            let _ = writeln!(out, "          {}", controls(o));
            let _ = writeln!(out, "          fix: {}", d.remediation);
        }
    }
}

pub fn human(r: &Report) -> String {
    let mut out = String::new();
    let width = r
        .groups
        .iter()
        .map(|g| g.group.name().len())
        .max()
        .unwrap_or(0);
    for g in &r.groups {
        let of_group: Vec<&Outcome> = r.outcomes.iter().filter(|o| o.group == g.group).collect();
        let failing = of_group.iter().filter(|o| o.counts()).count();
        let note = match &g.skipped {
            Some(reason) => reason.clone(),
            None if g.timed_out => {
                format!("timed out after {:.1} s", g.duration_ms as f64 / 1000.0)
            }
            None => {
                let passed = of_group.iter().filter(|o| o.status == Status::Pass).count();
                let mut n = format!("{passed} passed");
                if failing > 0 {
                    n.push_str(&format!(", {failing} failing"));
                }
                n
            }
        };
        let slow = if g.slow && !g.timed_out {
            format!("  (slow: {:.1} s)", g.duration_ms as f64 / 1000.0)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{} {:width$}  {note}{slow}",
            mark(g.status),
            g.group.name()
        );
        if g.skipped.is_some() {
            continue;
        }
        for o in of_group.iter().filter(|o| o.status != Status::Pass) {
            if o.status == Status::Skip && !matches!(g.status, Status::Skip) {
                let _ = writeln!(out, "    [-] {}  {}: {}", o.id, o.resource, o.message);
                continue;
            }
            outcome_lines(&mut out, o);
        }
    }
    for w in &r.waivers.expired {
        let _ = writeln!(
            out,
            "[✗] expired waiver {} on {} ({}): expired {}, owner {}, ticket {}",
            w.id, w.resource, w.at, w.expires, w.owner, w.ticket
        );
    }
    for w in &r.waivers.unused {
        let _ = writeln!(
            out,
            "[!] unused waiver {} on {} ({}): it matched no outcome; remove it",
            w.id, w.resource, w.at
        );
    }
    let c = &r.counts;
    let _ = writeln!(
        out,
        "\nsummary: {} passed, {} warnings, {} failed, {} errors, {} skipped, {} waived; failing at --fail-on {}: {}",
        c.pass,
        c.warn,
        c.fail,
        c.error,
        c.skip,
        c.waived,
        r.fail_on.as_str(),
        r.failing().count() + r.waivers.expired.len()
    );
    let skipped = r.skipped_groups();
    if !skipped.is_empty() {
        let names: Vec<String> = skipped
            .iter()
            .map(|(g, why)| format!("{g} ({why})"))
            .collect();
        let _ = writeln!(out, "skipped groups: {}", names.join(", "));
    }
    out
}
