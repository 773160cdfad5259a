//! The rule catalogue, read from the OPA rich-metadata blocks in the rule files.
//!
//! regorus does not expose `rego.metadata.rule()`, so the blocks are read from the source: the
//! comment lines after `# METADATA` up to the rule head, each without its leading `# `, parse as
//! YAML (see `policy/README.md`).

use super::input::node_to_json;
use super::PolicyError;
use crate::config::yaml;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// One rule id as described by its METADATA block.
#[derive(Debug, Clone, Serialize)]
pub struct RuleMeta {
    pub id: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    /// `deny` or `warn`: the rule head the block sits on.
    pub kind: super::Kind,
    pub pci_dss: Vec<String>,
    pub soc2: Vec<String>,
    pub remediation: String,
    #[serde(skip)]
    pub domain: super::Domain,
    /// The rule file (`policy/terraform/s3.rego`) and the line of the rule head.
    pub file: String,
    pub line: usize,
}

/// Every rule id, in id order.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    rules: BTreeMap<String, RuleMeta>,
}

impl Catalogue {
    pub fn insert(&mut self, mut rule: RuleMeta, display_file: &str) -> Result<(), PolicyError> {
        rule.file = display_file.to_string();
        if let Some(first) = self.rules.get(&rule.id) {
            return Err(PolicyError::Metadata {
                file: display_file.to_string(),
                line: rule.line,
                message: format!(
                    "id {} already has a METADATA block at {}:{} (only the first body of an id carries one)",
                    rule.id, first.file, first.line
                ),
            });
        }
        self.rules.insert(rule.id.clone(), rule);
        Ok(())
    }

    pub fn get(&self, id: &str) -> Option<&RuleMeta> {
        self.rules.get(id)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.rules.contains_key(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &RuleMeta> {
        self.rules.values()
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// Reads every METADATA block of one rule file. `file` is used in errors.
pub fn parse_file(
    domain: super::Domain,
    file: &str,
    text: &str,
) -> Result<Vec<RuleMeta>, PolicyError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut rules = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() != "# METADATA" {
            i += 1;
            continue;
        }
        let start = i + 1; // 1-based line of `# METADATA`
        let mut yaml_text = String::new();
        i += 1;
        while i < lines.len() && lines[i].trim_start().starts_with('#') {
            let body = lines[i].trim_start().trim_start_matches('#');
            yaml_text.push_str(body.strip_prefix(' ').unwrap_or(body));
            yaml_text.push('\n');
            i += 1;
        }
        let err = |line: usize, message: String| PolicyError::Metadata {
            file: file.to_string(),
            line,
            message,
        };
        let head = lines.get(i).map(|l| l.trim_start()).unwrap_or("");
        let kind = if head.starts_with("deny") {
            super::Kind::Deny
        } else if head.starts_with("warn") {
            super::Kind::Warn
        } else {
            // Package or helper metadata: not a rule of the catalogue.
            continue;
        };
        let node = yaml::parse_one(&yaml_text).map_err(|e| {
            err(
                start + e.line,
                format!("YAML: {} (column {})", e.message, e.column),
            )
        })?;
        let doc = node_to_json(&node);
        let custom = doc.get("custom").cloned().unwrap_or(Value::Null);
        let text_at = |v: &Value, key: &str| -> Option<String> {
            v.get(key).and_then(Value::as_str).map(str::to_string)
        };
        let id = text_at(&custom, "id").ok_or_else(|| err(start, "custom.id is missing".into()))?;
        let title =
            text_at(&doc, "title").ok_or_else(|| err(start, format!("{id}: title is missing")))?;
        let severity = match text_at(&custom, "severity").as_deref() {
            Some("high") => Severity::High,
            Some("medium") => Severity::Medium,
            Some("low") => Severity::Low,
            other => {
                return Err(err(
                    start,
                    format!("{id}: severity must be high, medium or low, not {other:?}"),
                ))
            }
        };
        let controls = custom.get("controls").cloned().unwrap_or(Value::Null);
        let list = |key: &str| -> Vec<String> {
            match controls.get(key) {
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect(),
                _ => Vec::new(),
            }
        };
        rules.push(RuleMeta {
            title,
            description: text_at(&doc, "description").unwrap_or_default(),
            severity,
            kind,
            pci_dss: list("pci_dss"),
            soc2: list("soc2"),
            remediation: text_at(&custom, "remediation").unwrap_or_default(),
            domain,
            file: file.to_string(),
            line: i + 1,
            id,
        });
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_block() {
        let src = "package x\n\n# METADATA\n# title: T\n# scope: rule\n# custom:\n#   id: ECOM-TF-X-001\n#   severity: high            # high | medium | low\n#   controls:\n#     pci_dss: [\"3.5.1\", \"3.6.1\"]\n#     soc2: []\n#   remediation: Do it.\ndeny contains f if {\n\tf := 1\n}\n";
        let rules = parse_file(crate::policy::Domain::Terraform, "x.rego", src).unwrap();
        assert_eq!(rules.len(), 1);
        let r = &rules[0];
        assert_eq!(r.id, "ECOM-TF-X-001");
        assert_eq!(r.severity, Severity::High);
        assert_eq!(r.pci_dss, vec!["3.5.1", "3.6.1"]);
        assert!(r.soc2.is_empty());
        assert_eq!(r.line, 13);
        assert_eq!(r.kind, crate::policy::Kind::Deny);
    }

    #[test]
    fn missing_id_is_an_error() {
        let src =
            "# METADATA\n# title: T\n# custom:\n#   severity: low\nwarn contains f if { f := 1 }\n";
        let err = parse_file(crate::policy::Domain::Terraform, "x.rego", src).unwrap_err();
        assert!(err.to_string().contains("custom.id is missing"), "{err}");
    }
}
