//! What a plan would do, read from `terraform show -json` (format 0.x from Terraform 1.0 and
//! 1.x from newer versions have the same `resource_changes` / `output_changes` shape).

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Resource types whose deletion or replacement loses data or locks people out: called out in
/// the summary and never approved by a bare `--yes`.
pub const STATEFUL_TYPES: &[&str] = &[
    "aws_db_instance",
    "aws_rds_cluster",
    "aws_s3_bucket",
    "aws_kms_key",
    "aws_eks_cluster",
    "aws_dynamodb_table",
];

/// One resource change: `create`, `update`, `delete`, `replace` or `read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub address: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub action: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlanSummary {
    /// Resource changes per action (no-ops left out).
    pub actions: BTreeMap<String, usize>,
    /// Per resource type, changes per action.
    pub by_type: BTreeMap<String, BTreeMap<String, usize>>,
    /// Every resource change (no-ops and reads left out), in plan order.
    pub changes: Vec<Change>,
    /// Deletions and replacements of stateful resources.
    pub destructive: Vec<Change>,
    /// Outputs that would change.
    pub output_changes: usize,
}

fn action_of(actions: &[&str]) -> &'static str {
    match actions {
        ["create"] => "create",
        ["update"] => "update",
        ["delete"] => "delete",
        ["read"] => "read",
        ["delete", "create"] | ["create", "delete"] => "replace",
        ["no-op"] | [] => "no-op",
        _ => "other",
    }
}

impl PlanSummary {
    pub fn from_plan(doc: &Value) -> PlanSummary {
        let mut s = PlanSummary::default();
        let empty = Vec::new();
        for rc in doc
            .get("resource_changes")
            .and_then(Value::as_array)
            .unwrap_or(&empty)
        {
            let actions: Vec<&str> = rc
                .pointer("/change/actions")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let action = action_of(&actions);
            if action == "no-op" {
                continue;
            }
            let ty = rc.get("type").and_then(Value::as_str).unwrap_or("?");
            let address = rc.get("address").and_then(Value::as_str).unwrap_or(ty);
            *s.actions.entry(action.to_string()).or_default() += 1;
            *s.by_type
                .entry(ty.to_string())
                .or_default()
                .entry(action.to_string())
                .or_default() += 1;
            let change = Change {
                address: address.to_string(),
                ty: ty.to_string(),
                action: action.to_string(),
            };
            if matches!(action, "delete" | "replace") && STATEFUL_TYPES.contains(&ty) {
                s.destructive.push(change.clone());
            }
            if action != "read" {
                s.changes.push(change);
            }
        }
        s.output_changes = doc
            .get("output_changes")
            .and_then(Value::as_object)
            .map(|o| {
                o.values()
                    .filter(|c| {
                        c.pointer("/actions")
                            .and_then(Value::as_array)
                            .is_some_and(|a| a.iter().any(|x| x.as_str() != Some("no-op")))
                    })
                    .count()
            })
            .unwrap_or(0);
        s
    }

    /// Whether applying would change anything (resources or outputs; data reads do not count).
    pub fn has_changes(&self) -> bool {
        self.output_changes > 0 || self.actions.keys().any(|a| a != "read")
    }

    /// Terraform's symbol for an action: `+`, `~`, `-/+`, `-`.
    pub fn symbol(action: &str) -> &'static str {
        match action {
            "create" => "+",
            "update" => "~",
            "replace" => "-/+",
            "delete" => "-",
            _ => "?",
        }
    }

    /// `2 to create, 1 to replace, 3 outputs` or `no changes`.
    pub fn headline(&self) -> String {
        let mut parts: Vec<String> = ["create", "update", "replace", "delete", "other"]
            .iter()
            .filter_map(|a| self.actions.get(*a).map(|n| format!("{n} to {a}")))
            .collect();
        if self.output_changes > 0 {
            parts.push(format!(
                "{} output{} to change",
                self.output_changes,
                if self.output_changes == 1 { "" } else { "s" }
            ));
        }
        if parts.is_empty() {
            "no changes".into()
        } else {
            parts.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_actions_and_calls_out_stateful_losses() {
        let doc = json!({
            "format_version": "0.2",
            "resource_changes": [
                {"address": "aws_db_instance.main", "type": "aws_db_instance", "change": {"actions": ["delete", "create"]}},
                {"address": "aws_s3_bucket.logs", "type": "aws_s3_bucket", "change": {"actions": ["update"]}},
                {"address": "aws_s3_bucket.old", "type": "aws_s3_bucket", "change": {"actions": ["delete"]}},
                {"address": "aws_iam_role.a", "type": "aws_iam_role", "change": {"actions": ["create"]}},
                {"address": "aws_iam_role.b", "type": "aws_iam_role", "change": {"actions": ["no-op"]}},
                {"address": "data.aws_caller_identity.c", "type": "aws_caller_identity", "change": {"actions": ["read"]}}
            ],
            "output_changes": {"x": {"actions": ["create"]}, "y": {"actions": ["no-op"]}}
        });
        let s = PlanSummary::from_plan(&doc);
        assert_eq!(s.actions["replace"], 1);
        assert_eq!(s.actions["create"], 1);
        assert_eq!(s.by_type["aws_s3_bucket"]["delete"], 1);
        assert_eq!(s.by_type["aws_s3_bucket"]["update"], 1);
        assert!(
            !s.by_type.contains_key("aws_iam_role")
                || !s.by_type["aws_iam_role"].contains_key("no-op")
        );
        let addrs: Vec<&str> = s.destructive.iter().map(|c| c.address.as_str()).collect();
        assert_eq!(addrs, vec!["aws_db_instance.main", "aws_s3_bucket.old"]);
        let listed: Vec<String> = s
            .changes
            .iter()
            .map(|c| format!("{} {}", PlanSummary::symbol(&c.action), c.address))
            .collect();
        assert_eq!(
            listed,
            vec![
                "-/+ aws_db_instance.main",
                "~ aws_s3_bucket.logs",
                "- aws_s3_bucket.old",
                "+ aws_iam_role.a"
            ]
        );
        assert_eq!(s.output_changes, 1);
        assert!(s.has_changes());
        assert_eq!(
            s.headline(),
            "1 to create, 1 to update, 1 to replace, 1 to delete, 1 output to change"
        );
    }

    #[test]
    fn reads_only_and_no_ops_are_no_changes() {
        let doc = json!({
            "format_version": "1.2",
            "resource_changes": [
                {"address": "data.x.y", "type": "x", "change": {"actions": ["read"]}}
            ],
            "output_changes": {"a": {"actions": ["no-op"]}}
        });
        let s = PlanSummary::from_plan(&doc);
        assert!(!s.has_changes());
        assert_eq!(s.headline(), "no changes");
    }

    #[test]
    fn reads_the_policy_fixture_plans() {
        for file in ["plan-compliant.json", "plan-noncompliant.json"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../policy/fixtures")
                .join(file);
            let doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
            let s = PlanSummary::from_plan(&doc);
            assert!(s.has_changes(), "{file}");
        }
    }
}
