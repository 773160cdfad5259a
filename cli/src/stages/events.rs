//! Every NDJSON event the stage engine emits (`--output json`, one object per line), as one
//! type. The `event` field is the variant's name in snake case; stage events carry `scope` and
//! `stage` first. Field order is what a consumer sees.
//!
//! | event | when |
//! |---|---|
//! | `stage_started` | a plan or apply begins (`action`: `plan`, `plan_destroy`, `apply`) |
//! | `account_checked` | STS confirmed the account a stage runs in (once per account and run) |
//! | `state_bucket_checked` | S3 confirmed the state bucket (once per run) |
//! | `plan_summary` | a plan is saved |
//! | `policy_checked` | the gate ran |
//! | `approved` | changes were approved (`by`: `no changes`, `--approve`, `--yes`, `prompt`) |
//! | `applied` / `destroyed` | an apply finished |
//! | `state_migrated` | bootstrap's state moved into the bucket (or, with `to`, out of it) |
//! | `state_adopted` | bootstrap's state was found in the bucket and taken up (`lineage`, `serial`) |
//! | `stage_skipped` | `up`/`down` left a stage alone |
//! | `stage_finished` | a stage is done, either way |
//! | `stage_status` | `ecomctl status`, one per stage |
//! | `unlocked` | `ecomctl unlock` released a state lock (`lock_id`) |
//! | `up_finished` / `down_finished` | the command is done |
//!
//! `output` (a line of a tool's output, with `-v`) is emitted by `ui` itself.

use super::gate::GateReport;
use super::summary::PlanSummary;
use super::{Target, TargetStatus};
use crate::aws::BucketFacts;
use serde::Serialize;

/// What a stage was started or finished for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Plan,
    PlanDestroy,
    Apply,
    Up,
    Down,
}

/// How a stage ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Planned,
    Applied,
    Unchanged,
    Destroyed,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event<'a> {
    StageStarted {
        #[serde(flatten)]
        target: &'a Target,
        action: Action,
        #[serde(skip_serializing_if = "Option::is_none")]
        plan_hash: Option<&'a str>,
    },
    AccountChecked {
        #[serde(flatten)]
        target: &'a Target,
        account: &'a str,
        arn: &'a str,
        assumed_role: bool,
    },
    StateBucketChecked {
        bucket: &'a str,
        #[serde(flatten)]
        facts: &'a BucketFacts,
    },
    PlanSummary {
        #[serde(flatten)]
        target: &'a Target,
        changes: bool,
        plan_hash: &'a str,
        inputs_hash: &'a str,
        unchanged_since_apply: bool,
        summary: &'a PlanSummary,
        duration_ms: u64,
    },
    PolicyChecked {
        #[serde(flatten)]
        target: &'a Target,
        policy: &'a GateReport,
    },
    Approved {
        #[serde(flatten)]
        target: &'a Target,
        plan_hash: &'a str,
        by: &'a str,
    },
    Applied {
        #[serde(flatten)]
        target: &'a Target,
        plan_hash: &'a str,
        duration_ms: u64,
    },
    Destroyed {
        #[serde(flatten)]
        target: &'a Target,
        plan_hash: &'a str,
        duration_ms: u64,
    },
    StateMigrated {
        #[serde(flatten)]
        target: &'a Target,
        #[serde(skip_serializing_if = "Option::is_none")]
        to: Option<&'a str>,
    },
    StateAdopted {
        #[serde(flatten)]
        target: &'a Target,
        lineage: &'a str,
        serial: u64,
    },
    StageSkipped {
        #[serde(flatten)]
        target: &'a Target,
        reason: &'a str,
    },
    StageFinished {
        #[serde(flatten)]
        target: &'a Target,
        action: Action,
        result: Outcome,
    },
    StageStatus(&'a TargetStatus),
    Unlocked {
        #[serde(flatten)]
        target: &'a Target,
        lock_id: &'a str,
    },
    UpFinished {
        env: &'a str,
        applied: usize,
        unchanged: usize,
        duration_ms: f64,
        tool_ms: f64,
        own_ms: f64,
        /// How long the STS and S3 checks were in flight. They start on a thread beside
        /// start-up, so only the part `up` waited for is inside own_ms.
        aws_ms: f64,
    },
    DownFinished {
        env: &'a str,
        destroyed: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Stage;
    use serde_json::json;

    fn line(e: &Event) -> String {
        serde_json::to_string(e).unwrap()
    }

    #[test]
    fn stage_events_keep_their_shape_and_field_order() {
        let t = Target::new("nonprod", Stage::App);
        assert_eq!(
            line(&Event::StageStarted {
                target: &t,
                action: Action::PlanDestroy,
                plan_hash: None
            }),
            r#"{"event":"stage_started","scope":"nonprod","stage":"app","action":"plan_destroy"}"#
        );
        assert_eq!(
            line(&Event::StageFinished {
                target: &t,
                action: Action::Up,
                result: Outcome::Unchanged
            }),
            r#"{"event":"stage_finished","scope":"nonprod","stage":"app","action":"up","result":"unchanged"}"#
        );
        let boot = Target::new("prod", Stage::Bootstrap);
        assert_eq!(
            serde_json::to_value(Event::StateMigrated {
                target: &boot,
                to: None
            })
            .unwrap(),
            json!({"event": "state_migrated", "scope": "global", "stage": "bootstrap"})
        );
    }
}
