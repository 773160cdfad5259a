//! Vulnerability scans of built image layouts with Grype or Trivy, when one is installed: the
//! scanner's JSON report read into counts per severity, judged against a threshold. Without a
//! scanner nothing is claimed: the caller reports the image as skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;
use serde_json::Value;

use crate::config::supply_chain::Severity;

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot run {bin}: {why}")]
    Spawn { bin: String, why: String },
    #[error("{scanner} failed on {layout} (exit {code:?}): {stderr}")]
    Failed {
        scanner: &'static str,
        layout: String,
        code: Option<i32>,
        stderr: String,
    },
    #[error("{scanner}'s report is not what ecomctl reads: {why}")]
    Report { scanner: &'static str, why: String },
}

/// An installed scanner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scanner {
    Grype(PathBuf),
    Trivy(PathBuf),
}

impl Scanner {
    /// Grype on PATH, else Trivy on PATH, else none.
    pub fn find() -> Option<Scanner> {
        which::which("grype")
            .ok()
            .map(Scanner::Grype)
            .or_else(|| which::which("trivy").ok().map(Scanner::Trivy))
    }

    pub fn name(&self) -> &'static str {
        match self {
            Scanner::Grype(_) => "grype",
            Scanner::Trivy(_) => "trivy",
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            Scanner::Grype(p) | Scanner::Trivy(p) => p,
        }
    }

    /// The command that scans the OCI image layout `layout` and prints JSON.
    pub fn command(&self, layout: &Path) -> Command {
        let mut cmd = Command::new(self.path());
        match self {
            Scanner::Grype(_) => {
                cmd.arg(format!("oci-dir:{}", layout.display()))
                    .args(["-o", "json", "-q"]);
            }
            Scanner::Trivy(_) => {
                cmd.args(["image", "--input"])
                    .arg(layout)
                    .args(["--format", "json", "--quiet"]);
            }
        }
        cmd
    }

    /// Scans `layout`; returns the counts and the report as the scanner printed it.
    pub fn scan(&self, layout: &Path) -> Result<(Counts, Vec<u8>), ScanError> {
        let out = self
            .command(layout)
            .output()
            .map_err(|e| ScanError::Spawn {
                bin: self.path().display().to_string(),
                why: e.to_string(),
            })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(ScanError::Failed {
                scanner: self.name(),
                layout: layout.display().to_string(),
                code: out.status.code(),
                stderr: stderr.trim().chars().take(500).collect(),
            });
        }
        let counts = match self {
            Scanner::Grype(_) => parse_grype(&out.stdout)?,
            Scanner::Trivy(_) => parse_trivy(&out.stdout)?,
        };
        Ok((counts, out.stdout))
    }
}

/// Findings per severity. `other` holds what neither scale ranks (Grype's Negligible, Unknown).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub other: usize,
}

impl Counts {
    fn add(&mut self, severity: &str) {
        match severity.to_ascii_lowercase().as_str() {
            "critical" => self.critical += 1,
            "high" => self.high += 1,
            "medium" => self.medium += 1,
            "low" => self.low += 1,
            _ => self.other += 1,
        }
    }

    /// How many findings are at `threshold` or above.
    pub fn at_or_above(&self, threshold: Severity) -> usize {
        [
            (Severity::Critical, self.critical),
            (Severity::High, self.high),
            (Severity::Medium, self.medium),
            (Severity::Low, self.low),
        ]
        .iter()
        .filter(|(s, _)| *s >= threshold)
        .map(|(_, n)| n)
        .sum()
    }

    pub fn total(&self) -> usize {
        self.critical + self.high + self.medium + self.low + self.other
    }
}

fn report_error(scanner: &'static str, why: impl Into<String>) -> ScanError {
    ScanError::Report {
        scanner,
        why: why.into(),
    }
}

/// Grype's `-o json`: `matches[].vulnerability.severity` (Critical, High, Medium, Low,
/// Negligible, Unknown).
pub fn parse_grype(bytes: &[u8]) -> Result<Counts, ScanError> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| report_error("grype", e.to_string()))?;
    let matches = v
        .get("matches")
        .and_then(Value::as_array)
        .ok_or_else(|| report_error("grype", "no `matches` list"))?;
    let mut counts = Counts::default();
    for m in matches {
        counts.add(m["vulnerability"]["severity"].as_str().unwrap_or("unknown"));
    }
    Ok(counts)
}

/// Trivy's `--format json`: `Results[].Vulnerabilities[].Severity` (CRITICAL, HIGH, MEDIUM,
/// LOW, UNKNOWN); a result without vulnerabilities has no list (or `null`).
pub fn parse_trivy(bytes: &[u8]) -> Result<Counts, ScanError> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| report_error("trivy", e.to_string()))?;
    if !v.is_object() || v.get("SchemaVersion").is_none() {
        return Err(report_error("trivy", "no `SchemaVersion`"));
    }
    let mut counts = Counts::default();
    let results = v.get("Results").and_then(Value::as_array);
    for r in results.into_iter().flatten() {
        let vulns = r.get("Vulnerabilities").and_then(Value::as_array);
        for vuln in vulns.into_iter().flatten() {
            counts.add(vuln["Severity"].as_str().unwrap_or("unknown"));
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like `grype oci-dir:... -o json` of a Debian-based image (trimmed).
    const GRYPE: &str = r#"{
      "matches": [
        {"vulnerability": {"id": "CVE-2025-4802", "dataSource": "https://security-tracker.debian.org/tracker/CVE-2025-4802",
          "namespace": "debian:distro:debian:12", "severity": "High", "fix": {"versions": ["2.36-9+deb12u11"], "state": "fixed"}},
         "artifact": {"name": "libc6", "version": "2.36-9+deb12u10", "type": "deb", "purl": "pkg:deb/debian/libc6@2.36-9%2Bdeb12u10?arch=amd64&distro=debian-12"}},
        {"vulnerability": {"id": "CVE-2024-0001", "severity": "Critical"}, "artifact": {"name": "tzdata", "version": "2025b-0+deb12u1", "type": "deb"}},
        {"vulnerability": {"id": "CVE-2010-4756", "severity": "Negligible"}, "artifact": {"name": "libc6", "version": "2.36-9+deb12u10", "type": "deb"}},
        {"vulnerability": {"id": "GHSA-xxxx-yyyy-zzzz", "severity": "Medium"}, "artifact": {"name": "h2", "version": "0.4.7", "type": "rust-crate"}},
        {"vulnerability": {"id": "CVE-2023-0002", "severity": "Low"}, "artifact": {"name": "libgcc-s1", "version": "12.2.0-14", "type": "deb"}}
      ],
      "source": {"type": "image", "target": {"userInput": "oci-dir:target/images/login"}},
      "distro": {"name": "debian", "version": "12"},
      "descriptor": {"name": "grype", "version": "0.87.0"}
    }"#;

    /// Shaped like `trivy image --input ... --format json` (trimmed).
    const TRIVY: &str = r#"{
      "SchemaVersion": 2,
      "ArtifactName": "target/images/login",
      "ArtifactType": "container_image",
      "Metadata": {"OS": {"Family": "debian", "Name": "12.10"}},
      "Results": [
        {"Target": "target/images/login (debian 12.10)", "Class": "os-pkgs", "Type": "debian",
         "Vulnerabilities": [
           {"VulnerabilityID": "CVE-2025-4802", "PkgName": "libc6", "InstalledVersion": "2.36-9+deb12u10", "FixedVersion": "2.36-9+deb12u11", "Severity": "HIGH"},
           {"VulnerabilityID": "CVE-2010-4756", "PkgName": "libc6", "InstalledVersion": "2.36-9+deb12u10", "Severity": "LOW"},
           {"VulnerabilityID": "CVE-2019-1010022", "PkgName": "libc6", "InstalledVersion": "2.36-9+deb12u10", "Severity": "UNKNOWN"}
         ]},
        {"Target": "usr/local/bin/ecom-login", "Class": "lang-pkgs", "Type": "rustbinary", "Vulnerabilities": null},
        {"Target": "Java", "Class": "lang-pkgs", "Type": "jar"}
      ]
    }"#;

    #[test]
    fn grype_findings_are_counted_per_severity() {
        let c = parse_grype(GRYPE.as_bytes()).unwrap();
        assert_eq!(
            c,
            Counts {
                critical: 1,
                high: 1,
                medium: 1,
                low: 1,
                other: 1
            }
        );
        assert_eq!(c.at_or_above(Severity::High), 2);
        assert_eq!(c.at_or_above(Severity::Critical), 1);
        assert_eq!(c.at_or_above(Severity::Low), 4);
        let clean = parse_grype(br#"{"matches": [], "descriptor": {"name": "grype"}}"#).unwrap();
        assert_eq!(clean.at_or_above(Severity::Low), 0);
    }

    #[test]
    fn trivy_findings_are_counted_per_severity() {
        let c = parse_trivy(TRIVY.as_bytes()).unwrap();
        assert_eq!(
            c,
            Counts {
                critical: 0,
                high: 1,
                medium: 0,
                low: 1,
                other: 1
            }
        );
        assert_eq!(c.at_or_above(Severity::High), 1);
        assert_eq!(c.at_or_above(Severity::Critical), 0);
        assert_eq!(c.total(), 3);
        let clean = parse_trivy(br#"{"SchemaVersion": 2, "ArtifactName": "x"}"#).unwrap();
        assert_eq!(clean.total(), 0);
    }

    #[test]
    fn a_report_of_another_shape_is_an_error_not_a_pass() {
        assert!(parse_grype(b"not json").is_err());
        assert!(parse_grype(br#"{"Results": []}"#).is_err());
        assert!(parse_trivy(br#"{"matches": []}"#).is_err());
        assert!(parse_trivy(b"[]").is_err());
    }

    #[test]
    fn the_commands_scan_the_layout_as_json() {
        let layout = Path::new("/t/images/login");
        let args = |s: Scanner| -> Vec<String> {
            s.command(layout)
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            args(Scanner::Grype("grype".into())),
            ["oci-dir:/t/images/login", "-o", "json", "-q"]
        );
        assert_eq!(
            args(Scanner::Trivy("trivy".into())),
            [
                "image",
                "--input",
                "/t/images/login",
                "--format",
                "json",
                "--quiet"
            ]
        );
    }
}
