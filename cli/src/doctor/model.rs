//! What a check run produces: one [`Outcome`] per check and subject (an environment, a bucket, a
//! namespace), and the raw inputs it looked at as [`Evidence`].

use super::catalogue::{self, CheckDef, Group};
use crate::policy::{Severity, Waiver};
use serde::Serialize;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    /// Advisory: something to look at that does not fail the check (a missing optional tool).
    Warn,
    Fail,
    /// The check could not run (an API error, a timeout): nothing is proven either way.
    Error,
    /// Not run, with the reason (`--offline`, nothing to check, group not selected).
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Skip => "skip",
        }
    }

    /// Whether it counts against `--fail-on` (an error proves nothing, so it counts).
    pub fn failing(self) -> bool {
        matches!(self, Status::Fail | Status::Error)
    }
}

/// The result of one check on one subject.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub id: String,
    pub group: Group,
    pub status: Status,
    /// What was checked: `env:prod`, `s3://shop-tfstate`, `Namespace/shop`.
    pub resource: String,
    pub message: String,
    /// Evidence files (relative to the bundle) this outcome was decided from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// The waiver that accepts this failure, when a live one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waived: Option<Waiver>,
}

impl Outcome {
    pub fn new(
        id: &str,
        status: Status,
        resource: impl Into<String>,
        message: impl Into<String>,
    ) -> Outcome {
        let group = catalogue::get(id).map_or(Group::Tools, |c| c.group);
        debug_assert!(catalogue::get(id).is_some(), "unknown check id {id}");
        Outcome {
            id: id.to_string(),
            group,
            status,
            resource: resource.into(),
            message: message.into(),
            evidence: Vec::new(),
            waived: None,
        }
    }

    pub fn pass(id: &str, resource: impl Into<String>, message: impl Into<String>) -> Outcome {
        Outcome::new(id, Status::Pass, resource, message)
    }

    pub fn fail(id: &str, resource: impl Into<String>, message: impl Into<String>) -> Outcome {
        Outcome::new(id, Status::Fail, resource, message)
    }

    pub fn skip(id: &str, resource: impl Into<String>, message: impl Into<String>) -> Outcome {
        Outcome::new(id, Status::Skip, resource, message)
    }

    pub fn error(id: &str, resource: impl Into<String>, message: impl Into<String>) -> Outcome {
        Outcome::new(id, Status::Error, resource, message)
    }

    /// Pass when `ok`, else fail; the message says what was found either way.
    pub fn verdict(
        id: &str,
        ok: bool,
        resource: impl Into<String>,
        message: impl Into<String>,
    ) -> Outcome {
        Outcome::new(
            id,
            if ok { Status::Pass } else { Status::Fail },
            resource,
            message,
        )
    }

    pub fn with_evidence(mut self, file: &str) -> Outcome {
        self.evidence.push(file.to_string());
        self
    }

    pub fn def(&self) -> Option<&'static CheckDef> {
        catalogue::get(&self.id)
    }

    pub fn severity(&self) -> Severity {
        self.def().map_or(Severity::High, |d| d.severity)
    }

    /// Failing and not accepted by a waiver.
    pub fn counts(&self) -> bool {
        self.status.failing() && self.waived.is_none()
    }
}

/// A raw input a group looked at, kept for the evidence bundle.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// Relative path inside the bundle: `state/s3-bucket.json`.
    pub path: String,
    pub bytes: Vec<u8>,
}

impl Evidence {
    pub fn json(path: impl Into<String>, value: &impl Serialize) -> Evidence {
        Evidence {
            path: path.into(),
            bytes: serde_json::to_vec_pretty(value).unwrap_or_default(),
        }
    }

    pub fn text(path: impl Into<String>, text: impl Into<String>) -> Evidence {
        Evidence {
            path: path.into(),
            bytes: text.into().into_bytes(),
        }
    }
}

/// What one group produced.
#[derive(Debug, Default)]
pub struct GroupRun {
    pub outcomes: Vec<Outcome>,
    pub evidence: Vec<Evidence>,
}

impl GroupRun {
    pub fn push(&mut self, o: Outcome) {
        self.outcomes.push(o);
    }

    pub fn evidence(&mut self, e: Evidence) -> String {
        let path = e.path.clone();
        self.evidence.push(e);
        path
    }

    /// Every check of `group` skipped with one reason.
    pub fn skipped(group: Group, resource: &str, reason: &str) -> GroupRun {
        GroupRun {
            outcomes: catalogue::of_group(group)
                .map(|c| Outcome::skip(&c.id, resource, reason))
                .collect(),
            evidence: Vec::new(),
        }
    }
}
