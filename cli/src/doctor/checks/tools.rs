//! The operator's tools: Terraform and Helm within the config's constraints, kubectl, and the
//! optional scanners.

use super::super::context::Context;
use super::super::model::{Evidence, GroupRun, Outcome, Status};
use crate::oci::scan::Scanner;
use crate::tools::version::{Constraint, Version};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A scanner the doctor only reports on: `name` on PATH, except checkov, which may be given.
fn scanner(ctx: &Context, name: &str) -> Option<PathBuf> {
    match name {
        "checkov" => ctx.checkov.clone(),
        _ => which::which(name).ok(),
    }
}

/// Runs `bin args` and reads the first version number it prints.
pub fn probe_version(bin: &Path, args: &[&str]) -> Option<Version> {
    let out = Command::new(bin)
        .args(args)
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    first_version(&text)
}

fn first_version(text: &str) -> Option<Version> {
    let re = regex::Regex::new(r"v?(\d+\.\d+(?:\.\d+)?)").ok()?;
    re.captures(text).and_then(|c| Version::parse(&c[1]))
}

/// The verdict on one required tool.
pub fn judge(
    id: &str,
    name: &str,
    found: Option<(&Path, Option<Version>)>,
    constraint: Option<&str>,
) -> Outcome {
    let Some((path, version)) = found else {
        return Outcome::fail(id, name, format!("{name} not found on PATH"));
    };
    let Some(version) = version else {
        return Outcome::fail(
            id,
            name,
            format!("{} did not tell its version", path.display()),
        );
    };
    let Some(text) = constraint else {
        return Outcome::pass(id, name, format!("{name} {version} at {}", path.display()));
    };
    match Constraint::parse(text) {
        Ok(c) if c.matches(&version) => Outcome::pass(
            id,
            name,
            format!("{name} {version} at {} satisfies `{text}`", path.display()),
        ),
        Ok(_) => Outcome::fail(
            id,
            name,
            format!("{name} {version} at {} is outside `{text}`", path.display()),
        ),
        Err(e) => Outcome::fail(
            id,
            name,
            format!("the config's constraint is unreadable: {e}"),
        ),
    }
}

const SCANNERS: [&str; 5] = ["checkov", "cosign", "syft", "grype", "trivy"];

pub fn run(ctx: &Context) -> GroupRun {
    let mut run = GroupRun::default();
    let tools = ctx.loaded().map(|l| &l.config.tools);
    let terraform = ctx.terraform.clone();
    let helm = ctx.helm.clone();
    let kubectl = ctx.kubectl.clone();
    // Each probe starts a Go binary (terraform twice: it re-runs itself under a panic wrapper),
    // hundreds of milliseconds each on a busy machine: ask all three at once.
    let (tf_version, helm_version, kubectl_version) = std::thread::scope(|s| {
        let tf = s.spawn(|| {
            terraform
                .as_deref()
                .and_then(crate::tools::terraform::version)
        });
        let hv = s.spawn(|| {
            helm.as_deref()
                .and_then(|h| probe_version(h, &["version", "--short"]))
        });
        let kv = kubectl
            .as_deref()
            .and_then(|k| probe_version(k, &["version", "--client"]));
        (tf.join().ok().flatten(), hv.join().ok().flatten(), kv)
    });
    let scanners: Vec<(&str, Option<PathBuf>)> =
        SCANNERS.iter().map(|s| (*s, scanner(ctx, s))).collect();
    let file = run.evidence(Evidence::json(
        "tools/versions.json",
        &json!({
            "terraform": { "path": terraform, "version": tf_version.as_ref().map(ToString::to_string) },
            "helm": { "path": helm, "version": helm_version.as_ref().map(ToString::to_string) },
            "kubectl": { "path": kubectl, "version": kubectl_version.as_ref().map(ToString::to_string) },
            "scanners": scanners.iter().map(|(n, p)| (n.to_string(), json!(p))).collect::<serde_json::Map<_, _>>(),
            "constraints": tools,
        }),
    ));
    let outcomes = [
        judge(
            "ECOM-DOC-TOOL-001",
            "terraform",
            terraform.as_deref().map(|p| (p, tf_version.clone())),
            tools.map(|t| t.terraform.as_str()),
        ),
        judge(
            "ECOM-DOC-TOOL-002",
            "helm",
            helm.as_deref().map(|p| (p, helm_version.clone())),
            tools.map(|t| t.helm.as_str()),
        ),
        judge(
            "ECOM-DOC-TOOL-003",
            "kubectl",
            kubectl.as_deref().map(|p| (p, kubectl_version.clone())),
            None,
        ),
    ];
    for o in outcomes {
        run.push(o.with_evidence(&file));
    }
    let missing: Vec<&str> = scanners
        .iter()
        .filter(|(_, p)| p.is_none())
        .map(|(n, _)| *n)
        .collect();
    let scanners_outcome = if missing.is_empty() {
        Outcome::pass(
            "ECOM-DOC-TOOL-004",
            "scanners",
            "checkov, cosign, syft, grype and trivy are installed",
        )
    } else {
        Outcome::new(
            "ECOM-DOC-TOOL-004",
            Status::Warn,
            "scanners",
            format!(
                "not installed: {} (their checks are skipped)",
                missing.join(", ")
            ),
        )
    };
    run.push(scanners_outcome.with_evidence(&file));
    run.push(image_scanning(Scanner::find().as_ref()).with_evidence(&file));
    run
}

/// Whether `ecomctl scan` can scan: without Grype or Trivy nothing is known about the images'
/// vulnerabilities, which is reported as skipped (never as a pass).
pub fn image_scanning(scanner: Option<&Scanner>) -> Outcome {
    const ID: &str = "ECOM-DOC-TOOL-005";
    match scanner {
        Some(s) => Outcome::pass(
            ID,
            "image scanning",
            format!("`ecomctl scan` uses {} at {}", s.name(), s.path().display()),
        ),
        None => Outcome::skip(
            ID,
            "image scanning",
            "skipped: no image scanner installed (grype or trivy); `ecomctl scan` reports images as not scanned",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::model::Status;

    #[test]
    fn versions_are_read_from_tool_banners() {
        assert_eq!(
            first_version("v4.1.4+g05fa379").unwrap().to_string(),
            "4.1.4"
        );
        assert_eq!(
            first_version("Client Version: v1.34.5\nKustomize Version: v5")
                .unwrap()
                .to_string(),
            "1.34.5"
        );
        assert!(first_version("no digits").is_none());
    }

    #[test]
    fn a_tool_outside_the_constraint_fails() {
        let p = Path::new("/usr/bin/terraform");
        let old = judge(
            "ECOM-DOC-TOOL-001",
            "terraform",
            Some((p, Version::parse("1.0.3"))),
            Some(">= 1.6"),
        );
        assert_eq!(old.status, Status::Fail);
        assert!(old.message.contains("outside `>= 1.6`"), "{}", old.message);
        let ok = judge(
            "ECOM-DOC-TOOL-001",
            "terraform",
            Some((p, Version::parse("1.11.0"))),
            Some(">= 1.6"),
        );
        assert_eq!(ok.status, Status::Pass);
        let missing = judge("ECOM-DOC-TOOL-001", "terraform", None, Some(">= 1.6"));
        assert_eq!(missing.status, Status::Fail);
    }

    #[test]
    fn image_scanning_without_a_scanner_is_skipped_not_passed() {
        assert_eq!(image_scanning(None).status, Status::Skip);
        let grype = Scanner::Grype("/usr/local/bin/grype".into());
        let found = image_scanning(Some(&grype));
        assert_eq!(found.status, Status::Pass);
        assert!(found.message.contains("grype at /usr/local/bin/grype"));
    }
}
