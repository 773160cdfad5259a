//! IaC: the Terraform policies over the last saved plans, and checkov over `stacks/`.
//!
//! checkov takes tens of seconds, so its report is kept under `.ecomctl/doctor/` keyed by a
//! SHA-256 of every file it reads: an unchanged tree is not scanned again.

use super::super::context::Context;
use super::super::model::{Evidence, GroupRun, Outcome};
use super::plans;
use crate::policy::checkov::{self, CheckovRun, Framework};
use crate::render::Stage;
use sha2::{Digest, Sha256};
use std::path::Path;

pub fn run(ctx: &Context) -> GroupRun {
    let mut run = GroupRun::default();
    policy_over_plans(ctx, &mut run);
    checkov_over_stacks(ctx, &mut run);
    run
}

fn policy_over_plans(ctx: &Context, run: &mut GroupRun) {
    let saved = plans::saved(ctx, &[Stage::Bootstrap, Stage::Foundation, Stage::App]);
    if saved.is_empty() {
        run.push(Outcome::skip(
            "ECOM-DOC-IAC-001",
            ctx.state_dir.display().to_string(),
            "no saved plan (run `ecomctl plan`)",
        ));
    }
    for plan in &saved {
        let base = format!("iac/{}", plan.label);
        match plans::findings(ctx, plan) {
            Err(e) => run.push(Outcome::error("ECOM-DOC-IAC-001", plan.label.clone(), e)),
            Ok((doc, findings)) => {
                let p = run.evidence(Evidence::json(
                    format!("{base}/plan.redacted.json"),
                    &plans::redacted(&doc),
                ));
                let f = run.evidence(Evidence::json(
                    format!("{base}/policy-findings.json"),
                    &crate::policy::report::json(&findings),
                ));
                run.push(
                    plans::verdict("ECOM-DOC-IAC-001", &plan.label, &findings, &[])
                        .with_evidence(&p)
                        .with_evidence(&f),
                );
            }
        }
    }
}

/// SHA-256 over every regular file under `dir` (relative path and contents), in path order.
pub fn tree_hash(dir: &Path) -> String {
    fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name();
            if name == ".terraform" {
                continue;
            }
            if p.is_dir() {
                collect(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    collect(dir, &mut files);
    files.sort();
    let mut h = Sha256::new();
    for f in files {
        h.update(
            f.strip_prefix(dir)
                .unwrap_or(&f)
                .to_string_lossy()
                .as_bytes(),
        );
        h.update([0]);
        h.update(std::fs::read(&f).unwrap_or_default());
        h.update([0]);
    }
    format!("{:x}", h.finalize())
}

fn checkov_over_stacks(ctx: &Context, run: &mut GroupRun) {
    let id = "ECOM-DOC-IAC-002";
    let Some(stacks) = ctx
        .content_root
        .as_ref()
        .map(|r| r.join("stacks"))
        .filter(|s| s.is_dir())
    else {
        run.push(Outcome::skip(id, "stacks/", "no stacks/ directory found"));
        return;
    };
    let shown = stacks.display().to_string();
    let Some(program) = ctx.checkov.clone() else {
        run.push(Outcome::skip(
            id,
            shown,
            "checkov not installed (put it on PATH or give --checkov / ECOMCTL_CHECKOV)",
        ));
        return;
    };
    let key = tree_hash(&stacks);
    let cache = ctx
        .state_dir
        .join("doctor")
        .join(format!("checkov-{}.json", &key[..16]));
    let cached: Option<CheckovRun> = std::fs::read(&cache)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let result = match cached {
        Some(r) => Ok(r),
        None => checkov::run(
            &program,
            &stacks,
            Framework::Terraform,
            &mut |_: crate::tools::process::Stream, _: &str| {},
        )
        .inspect(|r| {
            let _ = std::fs::create_dir_all(cache.parent().unwrap_or(Path::new(".")));
            let _ = crate::stages::record::write_json(&cache, r);
        }),
    };
    match result {
        Err(e) => run.push(Outcome::error(id, shown, format!("checkov failed: {e}"))),
        Ok(r) => {
            let ev = run.evidence(Evidence::json("iac/checkov.json", &r));
            let failed: Vec<String> = r
                .failed
                .iter()
                .map(|f| format!("{} {}", f.check_id, f.resource))
                .collect();
            let msg = if failed.is_empty() {
                format!("{} passed, {} skipped", r.passed, r.skipped)
            } else {
                let more = failed.len().saturating_sub(6);
                format!(
                    "{} failed: {}{}",
                    failed.len(),
                    failed[..failed.len().min(6)].join("; "),
                    if more > 0 {
                        format!("; and {more} more")
                    } else {
                        String::new()
                    }
                )
            };
            run.push(Outcome::verdict(id, failed.is_empty(), shown, msg).with_evidence(&ev));
        }
    }
}
