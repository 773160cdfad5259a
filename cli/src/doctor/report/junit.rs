//! JUnit XML: one test suite per group, one test case per outcome (failures and errors as such,
//! skips as skipped), so CI shows the audit beside the tests.

use super::super::model::Status;
use super::{controls, Report};
use crate::policy::report::xml;
use std::fmt::Write;

pub fn junit(r: &Report) -> String {
    let mut suites = String::new();
    let (mut tests, mut failures, mut errors, mut skipped) = (0, 0, 0, 0);
    for g in &r.groups {
        let cases: Vec<_> = r.outcomes.iter().filter(|o| o.group == g.group).collect();
        let f = cases
            .iter()
            .filter(|o| o.status == Status::Fail && o.waived.is_none())
            .count();
        let e = cases
            .iter()
            .filter(|o| o.status == Status::Error && o.waived.is_none())
            .count();
        let s = cases.iter().filter(|o| o.status == Status::Skip).count();
        tests += cases.len();
        failures += f;
        errors += e;
        skipped += s;
        let _ = writeln!(
            suites,
            "  <testsuite name=\"doctor.{}\" tests=\"{}\" failures=\"{f}\" errors=\"{e}\" skipped=\"{s}\" time=\"{:.3}\">",
            g.group.name(),
            cases.len(),
            g.duration_ms as f64 / 1000.0
        );
        for o in cases {
            let title = o.def().map(|d| d.title.as_str()).unwrap_or("");
            let _ = writeln!(
                suites,
                "    <testcase classname=\"doctor.{}\" name=\"{} {} ({})\">",
                g.group.name(),
                xml(&o.id),
                xml(title),
                xml(&o.resource)
            );
            let body = format!("{}\n{}", o.message, controls(o));
            match (o.status, &o.waived) {
                (Status::Fail, None) => {
                    let _ = writeln!(
                        suites,
                        "      <failure type=\"{}\" message=\"{}\">{}</failure>",
                        o.severity().as_str(),
                        xml(&o.message),
                        xml(&body)
                    );
                }
                (Status::Error, None) => {
                    let _ = writeln!(
                        suites,
                        "      <error type=\"error\" message=\"{}\">{}</error>",
                        xml(&o.message),
                        xml(&body)
                    );
                }
                (Status::Skip, _) => {
                    let _ = writeln!(suites, "      <skipped message=\"{}\"/>", xml(&o.message));
                }
                (_, Some(w)) => {
                    let _ = writeln!(
                        suites,
                        "      <system-out>{}</system-out>",
                        xml(&format!(
                            "waived until {} ({}): {}",
                            w.expires, w.ticket, o.message
                        ))
                    );
                }
                _ => {
                    let _ = writeln!(suites, "      <system-out>{}</system-out>", xml(&o.message));
                }
            }
            let _ = writeln!(suites, "    </testcase>");
        }
        let _ = writeln!(suites, "  </testsuite>");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"ecomctl doctor\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">\n{suites}</testsuites>\n"
    )
}
