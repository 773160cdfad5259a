//! What ecomctl keeps on disk under `.ecomctl/`: stage outputs and saved plans must hold no
//! sensitive value in plain text, and every file and directory must be owner-only.
//!
//! Evidence names the sensitive outputs found, never their values.

use super::super::context::Context;
use super::super::model::{Evidence, GroupRun, Outcome};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Names of outputs marked sensitive whose value is stored (`terraform output -json` form).
pub fn sensitive_outputs(doc: &Value) -> Vec<String> {
    let Some(map) = doc.as_object() else {
        return Vec::new();
    };
    map.iter()
        .filter(|(_, o)| o["sensitive"] == Value::Bool(true) && !o["value"].is_null())
        .map(|(name, _)| name.clone())
        .collect()
}

/// Names of sensitive outputs a plan document (`terraform show -json`) carries in plain text.
pub fn sensitive_in_plan(plan: &Value) -> Vec<String> {
    let mut names = sensitive_outputs(&plan["planned_values"]["outputs"]);
    if let Some(changes) = plan["output_changes"].as_object() {
        for (name, c) in changes {
            if c["after_sensitive"] == Value::Bool(true)
                && !c["after"].is_null()
                && !names.contains(name)
            {
                names.push(name.clone());
            }
        }
    }
    names.sort();
    names
}

/// Files and directories under `root` (not following links; `.terraform/` data dirs, which
/// hold provider binaries, are left out).
fn walk(root: &Path, out: &mut Vec<(PathBuf, bool, u32)>) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = meta.permissions().mode() & 0o7777;
        if meta.is_dir() {
            if entry.file_name() == ".terraform" {
                continue;
            }
            out.push((path.clone(), true, mode));
            walk(&path, out);
        } else {
            out.push((path, false, mode));
        }
    }
}

fn rel(ctx: &Context, p: &Path) -> String {
    let base = ctx.state_dir.parent().unwrap_or(Path::new("."));
    p.strip_prefix(base).unwrap_or(p).display().to_string()
}

pub fn run(ctx: &Context) -> GroupRun {
    let mut run = GroupRun::default();
    let dir = &ctx.state_dir;
    if !dir.is_dir() {
        let why = format!(
            "skipped: {} does not exist (nothing applied here yet)",
            dir.display()
        );
        return GroupRun::skipped(
            super::super::catalogue::Group::LocalState,
            &dir.display().to_string(),
            &why,
        );
    }
    let mut entries = vec![(
        dir.clone(),
        true,
        std::fs::metadata(dir)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0),
    )];
    walk(dir, &mut entries);
    let listing: Vec<Value> = entries
        .iter()
        .map(|(p, is_dir, mode)| json!({ "path": rel(ctx, p), "dir": is_dir, "mode": format!("{mode:04o}") }))
        .collect();
    let mut found = serde_json::Map::new();
    let mut outputs_seen = 0;
    let mut plans_seen = 0;
    for (path, is_dir, _) in &entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if *is_dir || !(name == "outputs.json" || name == "plan.json") {
            continue;
        }
        let shown = rel(ctx, path);
        let doc: Option<Value> = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let (id, names) = match (name, doc) {
            ("outputs.json", Some(d)) => {
                outputs_seen += 1;
                ("ECOM-DOC-LOC-001", sensitive_outputs(&d))
            }
            ("plan.json", Some(d)) => {
                plans_seen += 1;
                ("ECOM-DOC-LOC-002", sensitive_in_plan(&d))
            }
            (_, None) => {
                let id = if name == "outputs.json" {
                    "ECOM-DOC-LOC-001"
                } else {
                    "ECOM-DOC-LOC-002"
                };
                run.push(Outcome::error(id, shown, "unreadable or not JSON"));
                continue;
            }
            _ => continue,
        };
        found.insert(shown.clone(), json!(names));
        let outcome = if names.is_empty() {
            Outcome::pass(id, shown, "no sensitive value stored")
        } else {
            Outcome::fail(
                id,
                shown,
                format!(
                    "sensitive outputs stored in plain text: {}",
                    names.join(", ")
                ),
            )
        };
        run.push(outcome.with_evidence("local-state/sensitive.json"));
    }
    run.evidence(Evidence::json("local-state/files.json", &listing));
    run.evidence(Evidence::json("local-state/sensitive.json", &found));
    if outputs_seen == 0 {
        run.push(Outcome::skip(
            "ECOM-DOC-LOC-001",
            rel(ctx, dir),
            "no stored outputs",
        ));
    }
    if plans_seen == 0 {
        run.push(Outcome::skip(
            "ECOM-DOC-LOC-002",
            rel(ctx, dir),
            "no saved plan documents",
        ));
    }
    let open: Vec<String> = entries
        .iter()
        .filter(|(_, _, mode)| mode & 0o077 != 0)
        .map(|(p, _, mode)| format!("{} ({mode:04o})", rel(ctx, p)))
        .collect();
    let message = if open.is_empty() {
        format!("{} files and directories, all owner-only", entries.len())
    } else {
        let more = open.len().saturating_sub(5);
        let mut m = format!(
            "{} of {} readable by others: {}",
            open.len(),
            entries.len(),
            open[..open.len().min(5)].join(", ")
        );
        if more > 0 {
            m.push_str(&format!(" and {more} more"));
        }
        m
    };
    run.push(
        Outcome::verdict("ECOM-DOC-LOC-003", open.is_empty(), rel(ctx, dir), message)
            .with_evidence("local-state/files.json"),
    );
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_outputs_with_values_are_named() {
        let doc = json!({
            "db_endpoint": {"sensitive": false, "type": "string", "value": "db:5432"},
            "db_password": {"sensitive": true, "type": "string", "value": "hunter2"},
            "redacted": {"sensitive": true, "type": "string", "value": null}
        });
        assert_eq!(sensitive_outputs(&doc), vec!["db_password"]);
        let plan = json!({
            "planned_values": {"outputs": {"a": {"sensitive": true, "value": "x"}}},
            "output_changes": {"b": {"after": "y", "after_sensitive": true}, "c": {"after": "z", "after_sensitive": false}}
        });
        assert_eq!(sensitive_in_plan(&plan), vec!["a", "b"]);
    }
}
