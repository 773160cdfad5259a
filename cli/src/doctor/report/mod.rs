//! The [`Report`]: what the run decided, in one value every format is written from. Its JSON
//! form is the documented, versioned shape (`schema: "ecomctl.doctor/v1"`, see docs/doctor.md).

mod human;
mod junit;
mod markdown;
mod sarif;

pub use human::human;
pub use junit::junit;
pub use markdown::markdown;
pub use sarif::sarif;

use super::catalogue::Group;
use super::context::Context;
use super::model::{Outcome, Status};
use super::runner::{Ran, SLOW};
use super::waivers::WaiverReport;
use super::Options;
use crate::policy::Severity;
use serde::Serialize;

/// The JSON shape's name and version. Adding fields keeps `v1`; renaming, removing or changing
/// the meaning of one makes `v2`.
pub const SCHEMA: &str = "ecomctl.doctor/v1";

/// One group's line in the report.
#[derive(Debug, Clone, Serialize)]
pub struct GroupSummary {
    pub group: Group,
    /// pass, warn, fail, error or skip: the worst of its outcomes (waived failures count as warn).
    pub status: Status,
    pub duration_ms: u64,
    /// Took longer than 5 s.
    pub slow: bool,
    pub timed_out: bool,
    /// Why the whole group was skipped (`--offline`, no config, ...), when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

impl GroupSummary {
    pub fn of(r: &Ran, _offline: bool) -> GroupSummary {
        let all_skipped =
            !r.run.outcomes.is_empty() && r.run.outcomes.iter().all(|o| o.status == Status::Skip);
        let first_reason = r.run.outcomes.first().map(|o| o.message.clone());
        let same_reason = all_skipped
            && r.run
                .outcomes
                .iter()
                .all(|o| Some(&o.message) == first_reason.as_ref());
        GroupSummary {
            group: r.group,
            status: worst(&r.run.outcomes),
            duration_ms: u64::try_from(r.elapsed.as_millis()).unwrap_or(u64::MAX),
            slow: r.elapsed >= SLOW,
            timed_out: r.timed_out,
            skipped: same_reason.then(|| first_reason.unwrap_or_default()),
        }
    }
}

/// The worst status among outcomes, a waived failure counting as a warning.
pub fn worst(outcomes: &[Outcome]) -> Status {
    let mut any = false;
    let mut worst = Status::Pass;
    for o in outcomes {
        let s = if o.status.failing() && o.waived.is_some() {
            Status::Warn
        } else {
            o.status
        };
        if s == Status::Skip {
            continue;
        }
        any = true;
        worst = worst.max(s);
    }
    if any {
        worst
    } else {
        Status::Skip
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub error: usize,
    pub skip: usize,
    pub waived: usize,
}

/// Everything one run decided.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub ecomctl_version: &'static str,
    /// UTC, RFC 3339.
    pub generated_at: String,
    pub config: String,
    pub environments: Vec<String>,
    pub offline: bool,
    pub fail_on: Severity,
    pub groups: Vec<GroupSummary>,
    pub outcomes: Vec<Outcome>,
    pub waivers: WaiverReport,
    pub counts: Counts,
    /// Whether the run fails (exit 3): an unwaived failure or error at or above `fail_on`, or an
    /// expired waiver.
    pub failed: bool,
}

impl Report {
    pub fn new(
        opts: &Options,
        ctx: &Context,
        groups: Vec<GroupSummary>,
        outcomes: Vec<Outcome>,
        waivers: WaiverReport,
    ) -> Report {
        let mut counts = Counts::default();
        for o in &outcomes {
            match (o.status, o.waived.is_some()) {
                (s, true) if s.failing() => counts.waived += 1,
                (Status::Pass, _) => counts.pass += 1,
                (Status::Warn, _) => counts.warn += 1,
                (Status::Fail, _) => counts.fail += 1,
                (Status::Error, _) => counts.error += 1,
                (Status::Skip, _) => counts.skip += 1,
            }
        }
        let failed = !waivers.expired.is_empty()
            || outcomes
                .iter()
                .any(|o| o.counts() && o.severity() >= opts.fail_on);
        Report {
            schema: SCHEMA,
            ecomctl_version: env!("CARGO_PKG_VERSION"),
            generated_at: now_rfc3339(),
            config: ctx.config_path.display().to_string(),
            environments: ctx.envs.clone(),
            offline: opts.offline,
            fail_on: opts.fail_on,
            groups,
            outcomes,
            waivers,
            counts,
            failed,
        }
    }

    /// The outcomes that make the run fail.
    pub fn failing(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes
            .iter()
            .filter(|o| o.counts() && o.severity() >= self.fail_on)
    }

    /// Groups skipped whole, with the reason.
    pub fn skipped_groups(&self) -> Vec<(Group, &str)> {
        self.groups
            .iter()
            .filter_map(|g| {
                let r = g.skipped.as_deref()?;
                Some((g.group, r.strip_prefix("skipped: ").unwrap_or(r)))
            })
            .collect()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` now.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let day = crate::policy::Date::from_days(i64::try_from(secs / 86_400).unwrap_or(0));
    let rest = secs % 86_400;
    format!(
        "{day}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// `PCI DSS 4.0 3.5.1, 8.3.2; SOC 2 CC6.1`.
pub fn controls(o: &Outcome) -> String {
    let Some(d) = o.def() else {
        return String::new();
    };
    let mut parts = Vec::new();
    if !d.pci_dss.is_empty() {
        parts.push(format!("PCI DSS 4.0 {}", d.pci_dss.join(", ")));
    }
    if !d.soc2.is_empty() {
        parts.push(format!("SOC 2 {}", d.soc2.join(", ")));
    }
    parts.join("; ")
}
