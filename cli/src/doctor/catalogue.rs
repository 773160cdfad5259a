//! The check catalogue (`catalogue.yaml`, built into the binary): what each check is, its group,
//! severity, PCI DSS 4.0 requirements, SOC 2 criteria and remediation.

use crate::config::yaml;
use crate::policy::input::node_to_json;
use crate::policy::Severity;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::OnceLock;

pub const SOURCE: &str = include_str!("catalogue.yaml");
pub const SOURCE_NAME: &str = "cli/src/doctor/catalogue.yaml";

/// A group of checks, run together (and skipped together).
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
#[serde(rename_all = "kebab-case")]
pub enum Group {
    Tools,
    Config,
    LocalState,
    Identity,
    State,
    Iac,
    Chart,
    Cluster,
    Edge,
}

impl Group {
    pub const ALL: [Group; 9] = [
        Group::Tools,
        Group::Config,
        Group::LocalState,
        Group::Identity,
        Group::State,
        Group::Iac,
        Group::Chart,
        Group::Cluster,
        Group::Edge,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Group::Tools => "tools",
            Group::Config => "config",
            Group::LocalState => "local-state",
            Group::Identity => "identity",
            Group::State => "state",
            Group::Iac => "iac",
            Group::Chart => "chart",
            Group::Cluster => "cluster",
            Group::Edge => "edge",
        }
    }

    pub fn parse(text: &str) -> Option<Group> {
        Group::ALL.into_iter().find(|g| g.name() == text)
    }

    /// Whether the group needs the network (AWS APIs or the cluster); `--offline` skips these.
    pub fn needs_network(self) -> bool {
        matches!(self, Group::Identity | Group::State | Group::Cluster)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Group::Tools => "operator tools and their versions",
            Group::Config => "the config file",
            Group::LocalState => "what ecomctl keeps on disk",
            Group::Identity => "AWS identity per account",
            Group::State => "the Terraform state bucket and lock table",
            Group::Iac => "Terraform policies over saved plans, checkov over stacks/",
            Group::Chart => "Kubernetes policies over the rendered release",
            Group::Cluster => "the running cluster",
            Group::Edge => "GitHub OIDC trust, Cognito, WAF (from the saved foundation plans)",
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One check as the catalogue describes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckDef {
    pub id: String,
    pub group: Group,
    pub title: String,
    pub severity: Severity,
    pub pci_dss: Vec<String>,
    pub soc2: Vec<String>,
    pub remediation: String,
    /// Policy rule ids whose findings this check reports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rego: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    checks: Vec<CheckDef>,
}

/// Parses catalogue text (the built-in one is checked by a unit test).
pub fn parse(text: &str) -> Result<Vec<CheckDef>, String> {
    let node =
        yaml::parse_one(text).map_err(|e| format!("{}:{}: {}", e.line, e.column, e.message))?;
    let file: File = serde_json::from_value(node_to_json(&node)).map_err(|e| e.to_string())?;
    Ok(file.checks)
}

/// Every check, in catalogue order.
pub fn all() -> &'static [CheckDef] {
    static ALL: OnceLock<Vec<CheckDef>> = OnceLock::new();
    ALL.get_or_init(|| parse(SOURCE).unwrap_or_default())
}

pub fn get(id: &str) -> Option<&'static CheckDef> {
    all().iter().find(|c| c.id == id)
}

/// Whether `id` is a doctor check (waivers may name one).
pub fn is_known(id: &str) -> bool {
    get(id).is_some()
}

pub fn of_group(group: Group) -> impl Iterator<Item = &'static CheckDef> {
    all().iter().filter(move |c| c.group == group)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_built_in_catalogue_is_well_formed() {
        let checks = parse(SOURCE).unwrap();
        assert!(checks.len() >= 30);
        let mut ids = BTreeSet::new();
        for c in &checks {
            assert!(ids.insert(c.id.clone()), "duplicate id {}", c.id);
            assert!(c.id.starts_with("ECOM-DOC-"), "{}", c.id);
            assert!(!c.title.is_empty() && !c.remediation.is_empty(), "{}", c.id);
            assert!(
                !c.pci_dss.is_empty() || !c.soc2.is_empty(),
                "{} maps to no control",
                c.id
            );
        }
        for g in Group::ALL {
            assert!(of_group(g).next().is_some(), "group {g} has no check");
            assert_eq!(Group::parse(g.name()), Some(g));
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let bad = SOURCE.replacen("    title:", "    titel:", 1);
        assert!(parse(&bad).unwrap_err().contains("titel"));
    }
}
