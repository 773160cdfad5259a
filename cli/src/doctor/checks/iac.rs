//! IaC: the Terraform policies over the last saved plans, and checkov over `stacks/`.
//!
//! checkov takes tens of seconds, so its report is kept in the doctor's cache (`.ecomctl/doctor/`,
//! see [`crate::doctor::cache`]) keyed by a SHA-256 of the program's path and every file of
//! `stacks/`: an unchanged tree is not scanned again, a changed one is.

use super::super::context::Context;
use super::super::model::{Evidence, GroupRun, Outcome};
use super::plans;
use crate::doctor::cache::{Cache, Key};
use crate::policy::checkov::{self, CheckovRun, Framework};
use crate::render::Stage;
use std::path::PathBuf;

/// The cache kind of checkov's report over `stacks/`.
const CHECKOV: &str = "checkov";

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

fn checkov_over_stacks(ctx: &Context, run: &mut GroupRun) {
    checkov_with(ctx, ctx.checkov.clone(), run);
}

/// checkov (`program`, when there is one) over `stacks/`, its report taken from the cache when
/// neither the tree nor the program changed.
fn checkov_with(ctx: &Context, program: Option<PathBuf>, run: &mut GroupRun) {
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
    let Some(program) = program else {
        run.push(Outcome::skip(
            id,
            shown,
            "checkov not installed (put it on PATH or give --checkov / ECOMCTL_CHECKOV)",
        ));
        return;
    };
    let mut key = Key::new(CHECKOV);
    key.add("program", program.as_os_str().as_encoded_bytes())
        .add("dir", stacks.as_os_str().as_encoded_bytes())
        .add_tree(&stacks);
    let key = key.finish();
    let cache = Cache::new(&ctx.state_dir);
    let result = match cache.get::<CheckovRun>(CHECKOV, &key) {
        Some(r) => Ok(r),
        None => checkov::run(
            &program,
            &stacks,
            Framework::Terraform,
            &mut |_: crate::tools::process::Stream, _: &str| {},
        )
        .inspect(|r| {
            // A cache that cannot be written only costs the next run a scan.
            let _ = cache.put(CHECKOV, &key, r);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::model::Status;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    /// A stand-in checkov that counts its runs and passes one check per `.tf` file.
    fn fake_checkov(dir: &Path) -> PathBuf {
        let script = dir.join("checkov");
        let runs = dir.join("runs");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho run >> '{}'\nn=$(ls \"$2\"/*.tf | wc -l)\n\
                 echo '{{\"results\": {{\"failed_checks\": []}}, \"summary\": {{\"passed\": '$n', \"skipped\": 0}}}}'\n",
                runs.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        script
    }

    fn runs(dir: &Path) -> usize {
        std::fs::read_to_string(dir.join("runs"))
            .unwrap_or_default()
            .lines()
            .count()
    }

    fn scan(ctx: &Context, program: &Path) -> String {
        let mut run = GroupRun::default();
        checkov_with(ctx, Some(program.to_path_buf()), &mut run);
        let o = &run.outcomes[0];
        assert_eq!(o.status, Status::Pass, "{}", o.message);
        o.message.clone()
    }

    #[test]
    fn checkov_runs_again_only_when_stacks_change_or_the_cache_is_damaged() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("stacks")).unwrap();
        std::fs::write(root.join("stacks/main.tf"), "# one\n").unwrap();
        let mut ctx = crate::doctor::tests_support::context(&["nonprod"]);
        ctx.content_root = Some(root.clone());
        ctx.state_dir = tmp.path().join(".ecomctl");
        let program = fake_checkov(tmp.path());

        assert_eq!(scan(&ctx, &program), "1 passed, 0 skipped");
        assert_eq!(runs(tmp.path()), 1);
        assert_eq!(scan(&ctx, &program), "1 passed, 0 skipped");
        assert_eq!(
            runs(tmp.path()),
            1,
            "an unchanged tree is not scanned again"
        );

        std::fs::write(root.join("stacks/extra.tf"), "# two\n").unwrap();
        assert_eq!(scan(&ctx, &program), "2 passed, 0 skipped");
        assert_eq!(runs(tmp.path()), 2, "a changed tree is scanned again");
        std::fs::write(root.join("stacks/extra.tf"), "# edited\n").unwrap();
        scan(&ctx, &program);
        assert_eq!(runs(tmp.path()), 3, "an edited file is scanned again");

        let entries: Vec<PathBuf> = std::fs::read_dir(ctx.state_dir.join("doctor"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(
            entries.len(),
            1,
            "one entry, the older ones removed: {entries:?}"
        );
        let text = std::fs::read_to_string(&entries[0]).unwrap();
        std::fs::write(&entries[0], text.replace("\"passed\":2", "\"passed\":9")).unwrap();
        assert_eq!(scan(&ctx, &program), "2 passed, 0 skipped");
        assert_eq!(runs(tmp.path()), 4, "a damaged entry is not trusted");
        scan(&ctx, &program);
        assert_eq!(runs(tmp.path()), 4, "and is stored again");
    }
}
