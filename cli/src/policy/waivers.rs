//! Accepted exceptions (`policy/waivers.yaml`), applied after evaluation so the rules stay the
//! same under conftest. A waiver accepts the findings of one rule id on one resource until its
//! expiry date; an expired waiver fails the run, an unused one is reported.

use super::eval::Findings;
use super::metadata::Catalogue;
use super::PolicyError;
use crate::config::yaml::{self, Node, NodeKind};
use serde::{Serialize, Serializer};
use std::fmt;
use std::path::Path;

/// The waivers file built into ecomctl beside the rules.
pub const EMBEDDED: &str = include_str!("../../../policy/waivers.yaml");
pub const EMBEDDED_NAME: &str = "policy/waivers.yaml";

/// How far ahead an expiry may be.
const MAX_DAYS_AHEAD: i64 = 366;

/// A calendar day (UTC). `Debug` and `Display` both write `YYYY-MM-DD`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// `YYYY-MM-DD`, a real calendar day.
    pub fn parse(text: &str) -> Option<Date> {
        let b = text.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let s = text.get(r)?;
            s.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| s.parse().ok())?
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let date = Date {
            year: i32::try_from(year).ok()?,
            month,
            day,
        };
        let valid = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(date.year, month);
        valid.then_some(date)
    }

    /// Today in UTC, from the system clock.
    pub fn today() -> Date {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Date::from_days(i64::try_from(secs / 86_400).unwrap_or(0))
    }

    /// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    pub fn days(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The day `days` after 1970-01-01 (civil_from_days).
    pub fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date {
            year: i32::try_from(year).unwrap_or(i32::MAX),
            month: u32::try_from(month).unwrap_or(1),
            day: u32::try_from(day).unwrap_or(1),
        }
    }

    pub fn add_days(self, n: i64) -> Date {
        Date::from_days(self.days() + n)
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One accepted exception.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiver {
    pub id: String,
    pub resource: String,
    pub owner: String,
    pub reason: String,
    pub ticket: String,
    pub expires: Date,
    /// Where it is written: `policy/waivers.yaml:12`.
    pub at: String,
}

impl Waiver {
    pub fn expired(&self, today: Date) -> bool {
        self.expires < today
    }
}

/// The waivers of one file.
#[derive(Debug, Clone, Default)]
pub struct Waivers {
    pub file: String,
    pub waivers: Vec<Waiver>,
}

const FIELDS: [&str; 6] = ["id", "resource", "owner", "reason", "ticket", "expires"];

impl Waivers {
    /// Reads a waivers file; a missing file is no waivers.
    pub fn load(path: &Path) -> Result<Waivers, PolicyError> {
        let shown = path.display().to_string();
        match crate::limits::read_to_string(path, crate::limits::MAX_TEXT_BYTES) {
            Ok(text) => Waivers::parse(&shown, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Waivers {
                file: shown,
                waivers: Vec::new(),
            }),
            Err(e) => Err(PolicyError::Read {
                path: path.to_path_buf(),
                source: e,
            }),
        }
    }

    /// Parses the text of a waivers file (`file` names it in errors).
    pub fn parse(file: &str, text: &str) -> Result<Waivers, PolicyError> {
        let err = |node: &Node, message: String| PolicyError::Waivers {
            file: format!("{file}:{}:{}", node.line, node.column),
            message,
        };
        let root = yaml::parse_one(text).map_err(|e| PolicyError::Waivers {
            file: format!("{file}:{}:{}", e.line, e.column),
            message: e.message.clone(),
        })?;
        let NodeKind::Map(entries) = &root.kind else {
            return Err(err(
                &root,
                "expected a mapping with a `waivers` list".into(),
            ));
        };
        let mut waivers = Vec::new();
        for (key, value) in entries {
            if scalar(key) != Some("waivers") {
                return Err(err(
                    key,
                    format!(
                        "unknown key {}; the file holds only `waivers`",
                        key.describe()
                    ),
                ));
            }
            if value.is_null() {
                continue;
            }
            let NodeKind::Seq(items) = &value.kind else {
                return Err(err(
                    value,
                    format!("`waivers` must be a list, not {}", value.describe()),
                ));
            };
            for item in items {
                waivers.push(parse_waiver(file, item)?);
            }
        }
        Ok(Waivers {
            file: file.to_string(),
            waivers,
        })
    }

    /// Fails on a waiver for an unknown rule id, or one that expires more than a year ahead.
    pub fn validate(&self, catalogue: &Catalogue, today: Date) -> Result<(), PolicyError> {
        for w in &self.waivers {
            // The file is shared with `ecomctl doctor`, whose check ids are waivable too.
            if !catalogue.contains(&w.id) && !crate::doctor::catalogue::is_known(&w.id) {
                let nearest = catalogue
                    .iter()
                    .map(|r| (strsim::levenshtein(&r.id, &w.id), r.id.as_str()))
                    .min();
                let hint = match nearest {
                    Some((d, id)) if d <= 3 => format!(" (did you mean {id}?)"),
                    _ => String::new(),
                };
                return Err(PolicyError::Waivers {
                    file: w.at.clone(),
                    message: format!("unknown rule id {}{hint}", w.id),
                });
            }
            let limit = today.add_days(MAX_DAYS_AHEAD);
            if w.expires > limit {
                return Err(PolicyError::Waivers {
                    file: w.at.clone(),
                    message: format!(
                        "{} on {} expires {}, more than a year ahead (at most {limit})",
                        w.id, w.resource, w.expires
                    ),
                });
            }
        }
        Ok(())
    }

    /// Marks the findings that a live waiver accepts, and records expired and unused waivers
    /// of the findings' domain.
    pub fn apply(&self, findings: &mut Findings, today: Date) {
        let domain = findings.domain;
        for w in &self.waivers {
            let ours = findings
                .catalogue
                .get(&w.id)
                .is_some_and(|r| r.domain == domain);
            if !ours {
                continue;
            }
            if w.expired(today) {
                findings.expired.push(w.clone());
                continue;
            }
            let mut used = false;
            for f in findings
                .findings
                .iter_mut()
                .filter(|f| f.id == w.id && f.resource == w.resource && f.waived.is_none())
            {
                f.waived = Some(w.clone());
                used = true;
            }
            if !used {
                findings.unused.push(w.clone());
            }
        }
    }
}

fn scalar(node: &Node) -> Option<&str> {
    match &node.kind {
        NodeKind::Scalar { text, .. } => Some(text),
        _ => None,
    }
}

fn parse_waiver(file: &str, item: &Node) -> Result<Waiver, PolicyError> {
    let at = format!("{file}:{}:{}", item.line, item.column);
    let err = |node: &Node, message: String| PolicyError::Waivers {
        file: format!("{file}:{}:{}", node.line, node.column),
        message,
    };
    let NodeKind::Map(entries) = &item.kind else {
        return Err(err(
            item,
            format!("a waiver must be a mapping, not {}", item.describe()),
        ));
    };
    let mut values: [Option<String>; 6] = Default::default();
    for (key, value) in entries {
        let name = scalar(key).unwrap_or("");
        let Some(slot) = FIELDS.iter().position(|f| *f == name) else {
            let nearest = FIELDS
                .iter()
                .map(|f| (strsim::levenshtein(f, name), *f))
                .min()
                .filter(|(d, _)| *d <= 2)
                .map(|(_, f)| format!(" (did you mean `{f}`?)"))
                .unwrap_or_default();
            return Err(err(key, format!("unknown field `{name}`{nearest}")));
        };
        match scalar(value) {
            Some(text) if !value.is_null() && !text.trim().is_empty() => {
                values[slot] = Some(text.trim().to_string());
            }
            _ => return Err(err(value, format!("`{name}` must be a non-empty text"))),
        }
    }
    let mut fields = Vec::with_capacity(6);
    for (name, value) in FIELDS.iter().zip(values) {
        match value {
            Some(v) => fields.push(v),
            None => {
                return Err(err(
                    item,
                    format!(
                        "missing field `{name}` (every waiver has {})",
                        FIELDS.join(", ")
                    ),
                ))
            }
        }
    }
    let expires_text = fields.pop().unwrap_or_default();
    let expires = Date::parse(&expires_text).ok_or_else(|| {
        err(
            item,
            format!("expires {expires_text:?} is not a date in YYYY-MM-DD form"),
        )
    })?;
    let mut it = fields.into_iter();
    let mut next = || it.next().unwrap_or_default();
    Ok(Waiver {
        id: next(),
        resource: next(),
        owner: next(),
        reason: next(),
        ticket: next(),
        expires,
        at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        for text in ["1970-01-01", "2000-02-29", "2026-11-25", "2027-12-31"] {
            let d = Date::parse(text).unwrap();
            assert_eq!(d.to_string(), text);
            assert_eq!(Date::from_days(d.days()), d);
        }
        assert_eq!(Date::parse("1970-01-02").unwrap().days(), 1);
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "26-01-01",
            "2026-1-01",
            "tomorrow",
        ] {
            assert!(Date::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(
            Date::parse("2026-12-31").unwrap().add_days(1).to_string(),
            "2027-01-01"
        );
        assert_eq!(
            format!("{:?}", Date::parse("2020-01-31").unwrap()),
            "2020-01-31"
        );
    }

    #[test]
    fn parses_the_repository_file_and_reports_bad_entries() {
        assert!(Waivers::parse("w.yaml", EMBEDDED)
            .unwrap()
            .waivers
            .is_empty());
        let ok = "waivers:\n  - id: ECOM-TF-S3-002\n    resource: a.b\n    owner: me\n    reason: r\n    ticket: T-1\n    expires: 2027-03-31\n";
        let w = Waivers::parse("w.yaml", ok).unwrap();
        assert_eq!(w.waivers[0].expires.to_string(), "2027-03-31");
        assert_eq!(w.waivers[0].at, "w.yaml:2:5");
        let missing = ok.replace("    ticket: T-1\n", "");
        let e = Waivers::parse("w.yaml", &missing).unwrap_err().to_string();
        assert!(e.contains("missing field `ticket`"), "{e}");
        let typo = ok.replace("owner:", "ownr:");
        let e = Waivers::parse("w.yaml", &typo).unwrap_err().to_string();
        assert!(e.contains("did you mean `owner`"), "{e}");
        let bad_date = ok.replace("2027-03-31", "31/03/2027");
        let e = Waivers::parse("w.yaml", &bad_date).unwrap_err().to_string();
        assert!(e.contains("YYYY-MM-DD"), "{e}");
    }
}
