//! The shared waivers (`policy/waivers.yaml`) applied to doctor outcomes: a live waiver accepts
//! the failing outcomes of its check id on its resource; an expired one fails the run; one that
//! accepted nothing is listed as unused. Waivers of policy rule ids are applied inside the
//! groups that evaluate the policies (iac, chart, edge).

use super::catalogue;
use super::model::Outcome;
use crate::policy::{Date, Waiver, Waivers};
use serde::Serialize;

#[derive(Debug, Default, Clone, Serialize)]
pub struct WaiverReport {
    pub expired: Vec<Waiver>,
    pub unused: Vec<Waiver>,
}

pub fn apply(waivers: &Waivers, outcomes: &mut [Outcome], today: Date) -> WaiverReport {
    let mut report = WaiverReport::default();
    for w in &waivers.waivers {
        if w.expired(today) {
            report.expired.push(w.clone());
            continue;
        }
        if !catalogue::is_known(&w.id) {
            continue;
        }
        let mut used = false;
        for o in outcomes.iter_mut().filter(|o| {
            o.id == w.id && o.resource == w.resource && o.status.failing() && o.waived.is_none()
        }) {
            o.waived = Some(w.clone());
            used = true;
        }
        if !used {
            report.unused.push(w.clone());
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_waivers_accept_expired_fail_unused_are_listed() {
        let text = "waivers:\n  - {id: ECOM-DOC-LOC-001, resource: .ecomctl/prod/app/outputs.json, owner: me, reason: r, ticket: T-1, expires: 2026-12-31}\n  - {id: ECOM-DOC-ST-001, resource: s3://x, owner: me, reason: r, ticket: T-2, expires: 2026-01-01}\n  - {id: ECOM-DOC-ST-002, resource: s3://x, owner: me, reason: r, ticket: T-3, expires: 2026-12-31}\n";
        let w = Waivers::parse("w.yaml", text).unwrap();
        let mut outcomes = vec![Outcome::fail(
            "ECOM-DOC-LOC-001",
            ".ecomctl/prod/app/outputs.json",
            "db_password",
        )];
        let today = Date::parse("2026-06-01").unwrap();
        let r = apply(&w, &mut outcomes, today);
        assert!(outcomes[0].waived.is_some() && !outcomes[0].counts());
        assert_eq!(r.expired.len(), 1);
        assert_eq!(r.unused.len(), 1);
        assert_eq!(r.unused[0].id, "ECOM-DOC-ST-002");
    }
}
