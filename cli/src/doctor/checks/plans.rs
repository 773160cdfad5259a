//! The saved plans the iac and edge groups read, evaluated with the Terraform policies once per
//! plan, and a plan's copy for the evidence bundle with every sensitive value masked.

use super::super::context::Context;
use super::super::model::Outcome;
use crate::policy::{eval, Domain, Findings, Input};
use crate::render::Stage;
use crate::stages::Target;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// One saved plan document.
pub struct SavedPlan {
    /// `nonprod/foundation`.
    pub label: String,
    pub env: String,
    pub stage: Stage,
    pub path: PathBuf,
}

/// The saved `plan.json` of every stage of the environments checked (bootstrap once).
pub fn saved(ctx: &Context, stages: &[Stage]) -> Vec<SavedPlan> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for env in &ctx.envs {
        for &stage in stages {
            let t = Target::new(env, stage);
            let path = crate::stages::dir::StageDir::new(&ctx.state_dir, &t).plan_json();
            if path.is_file() && seen.insert(t.label()) {
                out.push(SavedPlan {
                    label: t.label(),
                    env: env.clone(),
                    stage,
                    path,
                });
            }
        }
    }
    out
}

/// The policy findings of each saved plan, worked out once per run: the iac and edge groups
/// both read them, from their own threads, and the second waits for the first's answer.
#[derive(Debug, Default)]
pub struct Memo(Mutex<HashMap<PathBuf, Arc<OnceLock<Evaluated>>>>);

type Evaluated = Result<(Value, Findings), String>;

/// The policy findings of one plan, waivers applied (evaluated once per run, see [`Memo`]).
pub fn findings(ctx: &Context, plan: &SavedPlan) -> Result<(Value, Findings), String> {
    let cell = {
        let mut map = ctx
            .plan_findings
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(map.entry(plan.path.clone()).or_default())
    };
    cell.get_or_init(|| evaluate(ctx, plan)).clone()
}

fn evaluate(ctx: &Context, plan: &SavedPlan) -> Evaluated {
    let input = Input::plan_file(&plan.path).map_err(|e| e.to_string())?;
    let context = eval::Context::for_env(Some(&plan.env));
    let mut f =
        eval::check(&ctx.bundle, Domain::Terraform, &input, &context).map_err(|e| e.to_string())?;
    ctx.waivers.apply(&mut f, ctx.today);
    Ok((input.value, f))
}

/// The outcome of one check over a set of findings, counting only `rules` (all when empty).
pub fn verdict(id: &str, resource: &str, findings: &Findings, rules: &[String]) -> Outcome {
    let ours = |fid: &str| rules.is_empty() || rules.iter().any(|r| r == fid);
    let denied: Vec<String> = findings
        .denied()
        .filter(|f| ours(&f.id))
        .map(|f| format!("{} {}", f.id, f.resource))
        .collect();
    let expired: Vec<String> = findings
        .expired
        .iter()
        .filter(|w| ours(&w.id))
        .map(|w| format!("expired waiver {} on {} ({})", w.id, w.resource, w.at))
        .collect();
    let waived = findings.waived().filter(|f| ours(&f.id)).count();
    if denied.is_empty() && expired.is_empty() {
        let note = if waived > 0 {
            format!(" ({waived} waived)")
        } else {
            String::new()
        };
        return Outcome::pass(id, resource, format!("no denied finding{note}"));
    }
    let mut parts = Vec::new();
    if !denied.is_empty() {
        let shown: Vec<&str> = denied.iter().take(6).map(String::as_str).collect();
        let more = denied.len().saturating_sub(shown.len());
        parts.push(format!(
            "{} denied: {}{}",
            denied.len(),
            shown.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        ));
    }
    parts.extend(expired);
    Outcome::fail(id, resource, parts.join("; "))
}

/// Replaces every value `mask` marks `true` with `"(sensitive)"`.
fn redact(value: &mut Value, mask: &Value) {
    match (value, mask) {
        (v, Value::Bool(true)) => *v = Value::String("(sensitive)".into()),
        (Value::Object(map), Value::Object(m)) => {
            for (k, sub) in m {
                if let Some(v) = map.get_mut(k) {
                    redact(v, sub);
                }
            }
        }
        (Value::Array(items), Value::Array(m)) => {
            for (v, sub) in items.iter_mut().zip(m) {
                redact(v, sub);
            }
        }
        _ => {}
    }
}

/// A plan document safe to file: sensitive attribute and output values masked, the state
/// snapshot (`prior_state`) and the planned module tree (both repeat the values) dropped.
pub fn redacted(plan: &Value) -> Value {
    let mut doc = plan.clone();
    if let Some(obj) = doc.as_object_mut() {
        obj.remove("prior_state");
        if let Some(pv) = obj.get_mut("planned_values").and_then(Value::as_object_mut) {
            pv.remove("root_module");
        }
    }
    if let Some(changes) = doc["resource_changes"].as_array_mut() {
        for rc in changes {
            let change = &mut rc["change"];
            for (field, mask) in [("after", "after_sensitive"), ("before", "before_sensitive")] {
                let m = change[mask].clone();
                redact(&mut change[field], &m);
            }
        }
    }
    if let Some(outs) = doc["output_changes"].as_object_mut() {
        for o in outs.values_mut() {
            for (field, mask) in [("after", "after_sensitive"), ("before", "before_sensitive")] {
                let m = o[mask].clone();
                redact(&mut o[field], &m);
            }
        }
    }
    if let Some(outs) = doc["planned_values"]["outputs"].as_object_mut() {
        for o in outs.values_mut() {
            if o["sensitive"] == Value::Bool(true) {
                o["value"] = Value::String("(sensitive)".into());
            }
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sensitive_values_are_masked() {
        let plan = json!({
            "prior_state": {"values": {"secret": "s"}},
            "planned_values": {"outputs": {"pw": {"sensitive": true, "value": "hunter2"}}, "root_module": {}},
            "resource_changes": [{"change": {"after": {"password": "hunter2", "name": "db"},
                                              "after_sensitive": {"password": true}}}],
            "output_changes": {"pw": {"after": "hunter2", "after_sensitive": true}}
        });
        let text = redacted(&plan).to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("\"db\""));
    }

    #[test]
    fn a_plan_is_evaluated_once_per_run_and_again_in_the_next() {
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policy/fixtures");
        let tmp = tempfile::tempdir().unwrap();
        let stage = tmp.path().join(".ecomctl/nonprod/foundation");
        std::fs::create_dir_all(&stage).unwrap();
        let plan = stage.join("plan.json");
        std::fs::copy(fixtures.join("plan-noncompliant.json"), &plan).unwrap();
        let new_run = || {
            let mut ctx = crate::doctor::tests_support::context(&["nonprod"]);
            ctx.state_dir = tmp.path().join(".ecomctl");
            ctx
        };
        let ctx = new_run();
        let saved = saved(&ctx, &[Stage::Foundation]);
        assert_eq!(saved.len(), 1);
        let (first, second) = std::thread::scope(|s| {
            let a = s.spawn(|| findings(&ctx, &saved[0]).unwrap().1.denied_ids());
            let b = s.spawn(|| findings(&ctx, &saved[0]).unwrap().1.denied_ids());
            (a.join().unwrap(), b.join().unwrap())
        });
        assert!(!first.is_empty(), "the noncompliant fixture has denies");
        assert_eq!(first, second);
        std::fs::copy(fixtures.join("plan-compliant.json"), &plan).unwrap();
        let again = findings(&ctx, &saved[0]).unwrap().1.denied_ids();
        assert_eq!(
            again, first,
            "within one run the plan is not evaluated again"
        );
        let next = new_run();
        let fresh = findings(&next, &saved[0]).unwrap().1.denied_ids();
        assert!(
            fresh.is_empty(),
            "the next run reads the plan again: {fresh:?}"
        );
    }
}
