//! Findings as text: a table for people, JSON, SARIF 2.1.0 for code-scanning tools and JUnit XML
//! for CI test reports. Nothing here prints; `ui` does.

use super::eval::{Finding, Findings, Kind, TestReport};
use super::metadata::{RuleMeta, Severity};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write;

pub const SARIF_SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
pub const SARIF_VERSION: &str = "2.1.0";

/// One line per finding (unwaived denies first), the message indented below it.
pub fn table(findings: &Findings) -> String {
    let mut out = String::new();
    let rows: Vec<&Finding> = findings
        .denied()
        .chain(findings.warnings())
        .chain(findings.waived())
        .collect();
    let id_width = rows.iter().map(|f| f.id.len()).max().unwrap_or(0);
    for f in rows {
        let label = match (&f.waived, f.kind) {
            (Some(_), _) => "waived",
            (None, Kind::Deny) => "deny",
            (None, Kind::Warn) => "warn",
        };
        let severity = f.severity.map(Severity::as_str).unwrap_or("-");
        let _ = writeln!(
            out,
            "{label:<6}  {:<id_width$}  {severity:<6}  {}",
            f.id, f.resource
        );
        let _ = writeln!(out, "{:8}{}", "", f.msg);
        if let Some(w) = &f.waived {
            let _ = writeln!(
                out,
                "{:8}waived until {} by {} ({}): {}",
                "", w.expires, w.owner, w.ticket, w.reason
            );
        }
    }
    out
}

/// The findings and waiver outcomes as one JSON document.
pub fn json(findings: &Findings) -> Value {
    json!({
        "source": findings.source,
        "denied": findings.denied().count(),
        "warnings": findings.warnings().count(),
        "waived": findings.waived().count(),
        "blocking": findings.blocking(),
        "findings": findings.findings,
        "expired_waivers": findings.expired,
        "unused_waivers": findings.unused,
    })
}

fn level(kind: Kind) -> &'static str {
    match kind {
        Kind::Deny => "error",
        Kind::Warn => "warning",
    }
}

/// GitHub code scanning reads `security-severity` (0-10) to rank results.
pub(crate) fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
    }
}

/// A path as a SARIF artifact URI: relative paths stay relative, absolute ones become file URIs.
fn uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let path = path.strip_prefix("./").unwrap_or(&path).to_string();
    if path.starts_with('/') {
        format!("file://{path}")
    } else {
        path
    }
}

fn rule_descriptor(rule: &RuleMeta) -> Value {
    let mut tags = vec!["security".to_string(), "compliance".to_string()];
    tags.extend(rule.pci_dss.iter().map(|c| format!("PCI-DSS-4.0:{c}")));
    tags.extend(rule.soc2.iter().map(|c| format!("SOC2:{c}")));
    let description = if rule.description.is_empty() {
        rule.title.clone()
    } else {
        rule.description.clone()
    };
    json!({
        "id": rule.id,
        "name": rule.id.replace('-', ""),
        "shortDescription": { "text": rule.title },
        "fullDescription": { "text": description },
        "help": {
            "text": rule.remediation,
            "markdown": format!("**{}**\n\n{}\n\nRemediation: {}\n\nPCI DSS 4.0: {}. SOC 2: {}.",
                rule.title, description, rule.remediation,
                if rule.pci_dss.is_empty() { "-".to_string() } else { rule.pci_dss.join(", ") },
                if rule.soc2.is_empty() { "-".to_string() } else { rule.soc2.join(", ") }),
        },
        "defaultConfiguration": { "level": level(rule.kind) },
        "properties": {
            "tags": tags,
            "precision": "high",
            "problem.severity": match rule.kind { Kind::Deny => "error", Kind::Warn => "warning" },
            "security-severity": security_severity(rule.severity),
            "severity": rule.severity.as_str(),
            "pci_dss": rule.pci_dss,
            "soc2": rule.soc2,
            "source": format!("{}:{}", rule.file, rule.line),
        },
    })
}

fn fingerprint(f: &Finding) -> String {
    let mut h = Sha256::new();
    h.update(f.id.as_bytes());
    h.update([0]);
    h.update(f.resource.as_bytes());
    h.update([0]);
    h.update(f.msg.as_bytes());
    let digest = h.finalize();
    digest.iter().take(16).fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// SARIF 2.1.0: one run, the domain's whole catalogue as `rules` (so ruleIndex is stable for a
/// given rule set), one result per finding; waived findings carry an accepted suppression.
pub fn sarif(findings: &Findings) -> Value {
    let rules: Vec<&RuleMeta> = findings
        .catalogue
        .iter()
        .filter(|r| r.domain == findings.domain)
        .collect();
    let index: BTreeMap<&str, usize> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let results: Vec<Value> = findings
        .findings
        .iter()
        .map(|f| {
            let (file, line) = match &f.origin {
                Some(o) => (o.file.as_str(), o.line),
                None => (findings.source.as_str(), None),
            };
            let mut physical = json!({ "artifactLocation": { "uri": uri(file) } });
            if let Some(line) = line {
                physical["region"] = json!({ "startLine": line });
            }
            let mut result = json!({
                "ruleId": f.id,
                "level": level(f.kind),
                "message": { "text": f.msg },
                "locations": [{
                    "physicalLocation": physical,
                    "logicalLocations": [{ "fullyQualifiedName": f.resource, "kind": "resource" }],
                }],
                "partialFingerprints": { "ecomctlFinding/v1": fingerprint(f) },
            });
            if let Some(i) = index.get(f.id.as_str()) {
                result["ruleIndex"] = json!(i);
            }
            if let Some(w) = &f.waived {
                result["suppressions"] = json!([{
                    "kind": "external",
                    "status": "accepted",
                    "justification": format!("{} (owner {}, ticket {}, expires {})", w.reason, w.owner, w.ticket, w.expires),
                    "location": { "physicalLocation": { "artifactLocation": { "uri": uri(w.at.split(':').next().unwrap_or("")) } } },
                }]);
            }
            result
        })
        .collect();
    json!({
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {
                "driver": {
                    "name": "ecomctl",
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://github.com/ecomctl/ecomctl",
                    "rules": rules.iter().map(|r| rule_descriptor(r)).collect::<Vec<_>>(),
                }
            },
            "automationDetails": { "id": format!("ecomctl/policy/{}/", findings.domain.dir()) },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

pub(crate) fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one test case per rule of the domain (failed when it has unwaived denies), and one
/// failed case per expired waiver.
pub fn junit(findings: &Findings) -> String {
    let mut cases = String::new();
    let mut tests = 0;
    let mut failures = 0;
    for rule in findings
        .catalogue
        .iter()
        .filter(|r| r.domain == findings.domain)
    {
        tests += 1;
        let of_rule: Vec<&Finding> = findings
            .findings
            .iter()
            .filter(|f| f.id == rule.id)
            .collect();
        let _ = writeln!(
            cases,
            "    <testcase classname=\"{}\" name=\"{}: {}\">",
            xml(&rule.file),
            xml(&rule.id),
            xml(&rule.title)
        );
        let denied: Vec<&&Finding> = of_rule
            .iter()
            .filter(|f| f.kind == Kind::Deny && f.waived.is_none())
            .collect();
        if !denied.is_empty() {
            failures += 1;
            let body: Vec<String> = denied
                .iter()
                .map(|f| format!("{}: {}", f.resource, f.msg))
                .collect();
            let _ = writeln!(
                cases,
                "      <failure type=\"deny\" message=\"{} finding(s); {}\">{}</failure>",
                denied.len(),
                xml(&rule.remediation),
                xml(&body.join("\n"))
            );
        }
        let others: Vec<String> = of_rule
            .iter()
            .filter(|f| f.kind == Kind::Warn || f.waived.is_some())
            .map(|f| match &f.waived {
                Some(w) => format!(
                    "waived ({}, until {}): {}: {}",
                    w.ticket, w.expires, f.resource, f.msg
                ),
                None => format!("warning: {}: {}", f.resource, f.msg),
            })
            .collect();
        if !others.is_empty() {
            let _ = writeln!(
                cases,
                "      <system-out>{}</system-out>",
                xml(&others.join("\n"))
            );
        }
        cases.push_str("    </testcase>\n");
    }
    for w in &findings.expired {
        tests += 1;
        failures += 1;
        let _ = write!(
            cases,
            "    <testcase classname=\"waivers\" name=\"waiver {} on {}\">\n      <failure type=\"expired-waiver\" message=\"expired {}\">{}: {} ({}, {})</failure>\n    </testcase>\n",
            xml(&w.id), xml(&w.resource), w.expires, xml(&w.at), xml(&w.reason), xml(&w.owner), xml(&w.ticket)
        );
    }
    let name = format!("ecomctl policy {}", findings.domain.dir());
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"{n}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">\n  <testsuite name=\"{n}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" file=\"{src}\">\n{cases}  </testsuite>\n</testsuites>\n",
        n = xml(&name),
        src = xml(&findings.source),
    )
}

/// `policy test` results for people: failures (and with `all`, passes), then the count line.
pub fn test_lines(report: &TestReport, all: bool) -> String {
    let mut out = String::new();
    for o in &report.outcomes {
        if o.passed {
            if all {
                let _ = writeln!(out, "PASS  {}  ({})", o.name, o.file);
            }
        } else {
            let _ = writeln!(
                out,
                "FAIL  {}  ({}): {}",
                o.name,
                o.file,
                o.message.as_deref().unwrap_or("failed")
            );
        }
    }
    let _ = writeln!(
        out,
        "{} passed, {} failed",
        report.passed(),
        report.failed()
    );
    out
}

/// Checkov's failed checks, one line each with the file and line, the check name below.
pub fn checkov_table(runs: &[super::checkov::CheckovRun]) -> String {
    let mut out = String::new();
    for run in runs {
        for f in &run.failed {
            let at = match f.line {
                Some(l) => format!("{}:{l}", f.file),
                None => f.file.clone(),
            };
            let _ = writeln!(out, "checkov {:<12} {}  {at}", f.check_id, f.resource);
            let _ = writeln!(out, "{:8}{}", "", f.check_name);
        }
    }
    out
}

/// `policy scan` as SARIF: one run per Rego evaluation (tool `ecomctl`) and one for checkov.
pub fn scan_sarif(rego: &[Findings], checkov: &[super::checkov::CheckovRun]) -> Value {
    let mut runs: Vec<Value> = rego.iter().map(|f| sarif(f)["runs"][0].clone()).collect();
    if !checkov.is_empty() {
        let mut rules: BTreeMap<&str, &str> = BTreeMap::new();
        for f in checkov.iter().flat_map(|r| &r.failed) {
            rules.entry(&f.check_id).or_insert(&f.check_name);
        }
        let index: BTreeMap<&str, usize> =
            rules.keys().enumerate().map(|(i, id)| (*id, i)).collect();
        let results: Vec<Value> = checkov
            .iter()
            .flat_map(|r| &r.failed)
            .map(|f| {
                let mut physical = json!({ "artifactLocation": { "uri": uri(&f.file) } });
                if let Some(line) = f.line {
                    let mut region = json!({ "startLine": line });
                    if let Some(end) = f.end_line.filter(|e| *e >= line) {
                        region["endLine"] = json!(end);
                    }
                    physical["region"] = region;
                }
                json!({
                    "ruleId": f.check_id,
                    "ruleIndex": index.get(f.check_id.as_str()).copied().unwrap_or(0),
                    "level": "error",
                    "message": { "text": format!("{}: {}", f.resource, f.check_name) },
                    "locations": [{
                        "physicalLocation": physical,
                        "logicalLocations": [{ "fullyQualifiedName": f.resource, "kind": "resource" }],
                    }],
                    "partialFingerprints": { "checkovFinding/v1": format!("{}|{}|{}", f.check_id, f.file, f.resource) },
                })
            })
            .collect();
        let rule_list: Vec<Value> = rules
            .iter()
            .map(|(id, name)| {
                json!({
                    "id": id,
                    "shortDescription": { "text": name },
                    "fullDescription": { "text": name },
                    "help": { "text": name },
                    "defaultConfiguration": { "level": "error" },
                    "properties": { "tags": ["security", "checkov"], "security-severity": "5.5" },
                })
            })
            .collect();
        runs.push(json!({
            "tool": { "driver": { "name": "checkov", "informationUri": "https://www.checkov.io", "rules": rule_list } },
            "automationDetails": { "id": "ecomctl/policy/checkov/" },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }));
    }
    json!({ "$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": runs })
}
