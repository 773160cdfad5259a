//! Checkov over the Terraform stacks and rendered manifests, for `ecomctl policy scan`. Its
//! findings are reported beside the Rego findings; ecomctl only runs it and reads its JSON.

use crate::tools::process::{self, Spec, Stream};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Which checkov framework a directory is scanned with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Framework {
    Terraform,
    Kubernetes,
}

impl Framework {
    pub fn as_str(self) -> &'static str {
        match self {
            Framework::Terraform => "terraform",
            Framework::Kubernetes => "kubernetes",
        }
    }
}

/// One failed check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckFailure {
    pub check_id: String,
    pub check_name: String,
    pub resource: String,
    /// The file, as the scanned directory joined with checkov's path.
    pub file: String,
    pub line: Option<usize>,
    pub end_line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guideline: Option<String>,
}

/// One checkov run over one directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckovRun {
    pub framework: Framework,
    pub dir: String,
    pub passed: u64,
    pub skipped: u64,
    pub failed: Vec<CheckFailure>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckovError {
    #[error(transparent)]
    Process(#[from] process::ProcessError),
    #[error("checkov's JSON report for {dir} could not be read: {message}")]
    Report { dir: String, message: String },
}

/// The checkov binary: the one given (`--checkov`/`ECOMCTL_CHECKOV`), else `checkov` on PATH.
pub fn find(given: Option<PathBuf>) -> Option<PathBuf> {
    crate::tools::program(given, "checkov")
}

/// Runs checkov on `dir`; exit 1 (failed checks) is a result, not an error.
pub fn run(
    program: &Path,
    dir: &Path,
    framework: Framework,
    on_line: &mut dyn FnMut(Stream, &str),
) -> Result<CheckovRun, CheckovError> {
    let mut spec = Spec::new(format!("checkov -d {}", dir.display()), program).args([
        "-d".into(),
        dir.as_os_str().to_os_string(),
        "--framework".into(),
        framework.as_str().into(),
        "-o".into(),
        "json".into(),
        "--quiet".into(),
        "--compact".into(),
    ]);
    // Offline, checkov otherwise tries to fetch its guideline mapping and prints a traceback.
    spec.env.push(("BC_SKIP_MAPPING".into(), "TRUE".into()));
    spec.capture_stdout = true;
    spec.ok_codes = vec![1];
    let out = process::run(&spec, on_line)?;
    let report: Value = if out.stdout.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&out.stdout).map_err(|e| CheckovError::Report {
            dir: dir.display().to_string(),
            message: e.to_string(),
        })?
    };
    Ok(parse_report(&report, dir, framework))
}

/// Reads checkov's `-o json` document (one report, or a list of them).
pub fn parse_report(report: &Value, dir: &Path, framework: Framework) -> CheckovRun {
    let reports: Vec<&Value> = match report {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    };
    let mut run = CheckovRun {
        framework,
        dir: dir.display().to_string(),
        passed: 0,
        skipped: 0,
        failed: Vec::new(),
    };
    for r in reports {
        run.passed += r["summary"]["passed"].as_u64().unwrap_or(0);
        run.skipped += r["summary"]["skipped"].as_u64().unwrap_or(0);
        for f in r["results"]["failed_checks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let text = |k: &str| f[k].as_str().unwrap_or("").to_string();
            let range = f["file_line_range"].as_array();
            let at = |i: usize| {
                range
                    .and_then(|r| r.get(i))
                    .and_then(Value::as_u64)
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|n| *n > 0)
            };
            let rel = text("file_path");
            run.failed.push(CheckFailure {
                check_id: text("check_id"),
                check_name: text("check_name"),
                resource: text("resource"),
                file: dir.join(rel.trim_start_matches('/')).display().to_string(),
                line: at(0),
                end_line: at(1),
                severity: f["severity"].as_str().map(str::to_string),
                guideline: f["guideline"].as_str().map(str::to_string),
            });
        }
    }
    run.failed
        .sort_by(|a, b| (&a.file, a.line, &a.check_id).cmp(&(&b.file, b.line, &b.check_id)));
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_report() {
        let doc = serde_json::json!({
            "check_type": "terraform",
            "results": {"failed_checks": [{
                "check_id": "CKV_AWS_24", "check_name": "No SSH from 0.0.0.0/0",
                "resource": "aws_security_group.open", "file_path": "/main.tf",
                "file_line_range": [5, 12], "severity": null, "guideline": null
            }]},
            "summary": {"passed": 8, "failed": 1, "skipped": 2}
        });
        let run = parse_report(&doc, Path::new("stacks/x"), Framework::Terraform);
        assert_eq!(run.passed, 8);
        assert_eq!(run.skipped, 2);
        assert_eq!(run.failed[0].file, "stacks/x/main.tf");
        assert_eq!(run.failed[0].line, Some(5));
        assert_eq!(run.failed[0].severity, None);
        let none = parse_report(&Value::Null, Path::new("d"), Framework::Kubernetes);
        assert!(none.failed.is_empty());
    }
}
