//! `ecomctl scan`: Grype or Trivy over the built image layouts, judged against the config's
//! severity threshold. Without a scanner every image is reported as skipped, never as passed.

use anyhow::{Context, Result};
use serde_json::json;

use super::images::built_layouts;
use super::Settings;
use crate::cli::ScanArgs;
use crate::config::supply_chain::Severity;
use crate::dev::Service;
use crate::exit::{Exit, FAILURE};
use crate::oci::scan::Scanner;
use crate::ui::Ui;

/// The threshold: the flag, else the config's (when there is a config), else high.
fn threshold(settings: &Settings, args: &ScanArgs) -> Result<Severity> {
    if let Some(s) = args.fail_on {
        return Ok(s);
    }
    if !settings.config.exists() {
        return Ok(Severity::default());
    }
    Ok(settings.load_config()?.config.supply_chain.scan.fail_on)
}

/// The built images asked for: (service, layout directory, digest).
fn built(args: &ScanArgs) -> Result<Vec<(Service, std::path::PathBuf, String)>> {
    let root = crate::dev::workspace_root()?;
    built_layouts(&root, &args.services)?
        .into_iter()
        .map(|(s, path, layout)| {
            let (desc, _, _) = layout
                .image()
                .with_context(|| format!("reading the {} image", s.name()))?;
            Ok((s, path, desc.digest))
        })
        .collect()
}

pub fn run(settings: &Settings, args: &ScanArgs, ui: &Ui) -> Result<()> {
    let fail_on = threshold(settings, args)?;
    let images = built(args)?;
    let Some(scanner) = Scanner::find() else {
        let reason = "no image scanner installed (grype or trivy on PATH)";
        for (s, _, digest) in &images {
            ui.status("skipped", &format!("{} {digest}: {reason}", s.name()));
            ui.event(
                "image_scanned",
                json!({"service": s.name(), "digest": digest, "status": "skipped",
                       "reason": reason, "fail_on": fail_on.as_str()}),
            );
        }
        let hint = "install Grype (https://github.com/anchore/grype) or Trivy (https://trivy.dev) and run again";
        if args.require {
            return Err(Exit::new(
                FAILURE,
                format!("{} image(s) not scanned: {reason}", images.len()),
            )
            .hint(hint)
            .into());
        }
        ui.warn(&format!(
            "{} image(s) NOT scanned ({reason}); `--require` makes this a failure",
            images.len()
        ));
        return Ok(());
    };
    let mut failed = Vec::new();
    for (s, path, digest) in &images {
        ui.status(
            "scanning",
            &format!("{} with {}", s.name(), scanner.path().display()),
        );
        let (counts, report) = scanner.scan(path).map_err(|e| {
            anyhow::Error::new(e).context(Exit::new(
                FAILURE,
                format!("scanning the {} image", s.name()),
            ))
        })?;
        let report_path = path.with_file_name(format!("{}.{}.json", s.name(), scanner.name()));
        std::fs::write(&report_path, &report)
            .with_context(|| format!("writing {}", report_path.display()))?;
        let over = counts.at_or_above(fail_on);
        let status = if over > 0 { "failed" } else { "passed" };
        ui.status(
            status,
            &format!(
                "{} {}: {} critical, {} high, {} medium, {} low, {} other (fails at {} and above)",
                s.name(),
                scanner.name(),
                counts.critical,
                counts.high,
                counts.medium,
                counts.low,
                counts.other,
                fail_on.as_str()
            ),
        );
        ui.event(
            "image_scanned",
            json!({"service": s.name(), "digest": digest, "status": status, "scanner": scanner.name(),
                   "counts": counts, "fail_on": fail_on.as_str(), "at_or_above": over,
                   "report": report_path.display().to_string()}),
        );
        if over > 0 {
            failed.push(format!("{} ({over})", s.name()));
        }
    }
    if !failed.is_empty() {
        return Err(Exit::new(
            FAILURE,
            format!(
                "findings at or above {}: {}",
                fail_on.as_str(),
                failed.join(", ")
            ),
        )
        .hint("update the affected packages (images/base.lock, Cargo.lock) and rebuild; each report is in target/images/<service>.<scanner>.json")
        .into());
    }
    Ok(())
}
