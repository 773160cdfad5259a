//! Running the rules over an input, and running the `test_*` rules.

use super::bundle::{Bundle, Domain};
use super::input::{Input, Origin};
use super::metadata::{Catalogue, Severity};
use super::waivers::Waiver;
use super::PolicyError;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// `deny` blocks; `warn` is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Deny,
    Warn,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Deny => "deny",
            Kind::Warn => "warn",
        }
    }
}

/// One finding of one rule.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: String,
    pub kind: Kind,
    pub severity: Option<Severity>,
    pub resource: String,
    pub msg: String,
    /// The waiver that accepts this finding, if one does (and has not expired).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waived: Option<Waiver>,
    #[serde(skip)]
    pub origin: Option<Origin>,
}

/// The outcome of evaluating one input: findings, and what the waivers did.
#[derive(Debug, Clone)]
pub struct Findings {
    pub domain: Domain,
    /// The evaluated file (plan or manifests).
    pub source: String,
    pub findings: Vec<Finding>,
    pub catalogue: Catalogue,
    /// Waivers past their expiry date: each one fails the run.
    pub expired: Vec<Waiver>,
    /// Waivers that matched no finding.
    pub unused: Vec<Waiver>,
}

impl Findings {
    /// Denies not accepted by a waiver.
    pub fn denied(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.kind == Kind::Deny && f.waived.is_none())
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.kind == Kind::Warn && f.waived.is_none())
    }

    pub fn waived(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.waived.is_some())
    }

    /// Whether the gate stops: an unwaived deny, or an expired waiver.
    pub fn blocking(&self) -> bool {
        self.denied().next().is_some() || !self.expired.is_empty()
    }

    /// The distinct ids of unwaived denies, sorted.
    pub fn denied_ids(&self) -> Vec<String> {
        let ids: BTreeSet<&str> = self.denied().map(|f| f.id.as_str()).collect();
        ids.into_iter().map(str::to_string).collect()
    }
}

/// `data.ecomctl`: the context ecomctl gives the rules (see `policy/README.md`).
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub ecomctl: Map<String, Value>,
}

impl Context {
    pub fn for_env(env: Option<&str>) -> Context {
        let mut ecomctl = Map::new();
        if let Some(env) = env {
            ecomctl.insert("environment".into(), Value::String(env.to_string()));
        }
        Context { ecomctl }
    }
}

fn to_regorus(value: &Value, what: &str) -> Result<regorus::Value, PolicyError> {
    <regorus::Value as serde::Deserialize>::deserialize(value).map_err(|e| PolicyError::Eval {
        what: what.to_string(),
        message: e.to_string(),
    })
}

/// Every `deny` and `warn` finding of `domain`'s rules over `input`, sorted, not yet waived.
pub fn check(
    bundle: &Bundle,
    domain: Domain,
    input: &Input,
    context: &Context,
) -> Result<Findings, PolicyError> {
    let catalogue = bundle.catalogue()?;
    let mut engine = bundle.engine(domain, false)?;
    let mut data = Map::new();
    data.insert("ecomctl".into(), Value::Object(context.ecomctl.clone()));
    engine
        .add_data(to_regorus(&Value::Object(data), "data.ecomctl")?)
        .map_err(|e| PolicyError::Eval {
            what: "data.ecomctl".into(),
            message: e.to_string(),
        })?;
    engine.set_input(to_regorus(&input.value, &input.source)?);
    // One query for both, so that the shared indexes in `<domain>.lib` are computed once.
    let query = format!(
        "[[m | some p; m := data.{d}[p].deny[_]], [m | some p; m := data.{d}[p].warn[_]]]",
        d = domain.dir()
    );
    let eval_err = |message: String| PolicyError::Eval {
        what: format!("the {} rules over {}", domain.dir(), input.source),
        message,
    };
    let results = engine
        .eval_query(query, false)
        .map_err(|e| eval_err(e.to_string()))?;
    let value = match results.result.first().and_then(|r| r.expressions.first()) {
        Some(e) => serde_json::to_value(&e.value).map_err(|e| eval_err(e.to_string()))?,
        None => Value::Null,
    };
    let mut findings = Vec::new();
    for (kind, items) in [Kind::Deny, Kind::Warn]
        .into_iter()
        .zip([&value[0], &value[1]])
    {
        for item in items.as_array().into_iter().flatten() {
            let field = |key: &str| -> Result<String, PolicyError> {
                item.get(key)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| {
                        eval_err(format!(
                            "a {} finding must be an object with string id, msg and resource; got {item}",
                            kind.as_str()
                        ))
                    })
            };
            let id = field("id")?;
            let resource = field("resource")?;
            findings.push(Finding {
                severity: catalogue.get(&id).map(|r| r.severity),
                msg: field("msg")?,
                origin: input.origins.get(&resource).cloned(),
                resource,
                id,
                kind,
                waived: None,
            });
        }
    }
    findings.sort_by(|a, b| {
        (a.kind, &a.id, &a.resource, &a.msg).cmp(&(b.kind, &b.id, &b.resource, &b.msg))
    });
    Ok(Findings {
        domain,
        source: input.source.clone(),
        findings,
        catalogue,
        expired: Vec::new(),
        unused: Vec::new(),
    })
}

/// One `test_*` rule and how it went.
#[derive(Debug, Clone, Serialize)]
pub struct TestOutcome {
    /// `policy/terraform/s3_test.rego`
    pub file: String,
    /// `data.terraform.s3_test.test_s3_001_kms_passes`
    pub name: String,
    pub passed: bool,
    /// Why it failed: the value it had instead of `true`, or the evaluation error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TestReport {
    pub outcomes: Vec<TestOutcome>,
}

impl TestReport {
    pub fn passed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.passed).count()
    }

    pub fn failed(&self) -> usize {
        self.outcomes.len() - self.passed()
    }
}

/// The package a file declares (`terraform.s3_test`).
fn package_of(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        l.trim()
            .strip_prefix("package ")
            .map(|p| p.trim().to_string())
    })
}

/// The names of the `test_*` rules a file defines, in order, each once.
pub fn test_names(text: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut names = Vec::new();
    for line in text.lines() {
        if !line.starts_with("test_") {
            continue;
        }
        let name: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if seen.insert(name.clone()) {
            names.push(name);
        }
    }
    names
}

/// Runs every `test_*` rule of every `*_test.rego` file of `domain`, on one engine. A test
/// passes only when its value is `true`.
pub fn run_tests(bundle: &Bundle, domain: Domain) -> Result<TestReport, PolicyError> {
    let mut engine = bundle.engine(domain, true)?;
    let mut report = TestReport::default();
    for file in bundle.files_of(domain).filter(|f| f.is_test()) {
        let shown = bundle.display_path(&file.path);
        let package = package_of(&file.text).ok_or_else(|| PolicyError::Rego {
            file: shown.clone(),
            message: "no package declaration".into(),
        })?;
        for name in test_names(&file.text) {
            let rule = format!("data.{package}.{name}");
            let (passed, message) = match engine.eval_rule(rule.clone()) {
                Ok(v) if v == regorus::Value::from(true) => (true, None),
                Ok(regorus::Value::Undefined) => {
                    (false, Some("undefined (a condition failed)".into()))
                }
                Ok(v) => (false, Some(format!("evaluated to {v}, not true"))),
                Err(e) => (false, Some(format!("error: {e}"))),
            };
            report.outcomes.push(TestOutcome {
                file: shown.clone(),
                name: rule,
                passed,
                message,
            });
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_test_rules_once() {
        let src = "package a_test\ntest_one if {\n}\ntest_one if { true }\n  test_indented if true\ntest_two := true\nnot_a_test if true\n";
        assert_eq!(test_names(src), vec!["test_one", "test_two"]);
        assert_eq!(package_of(src).as_deref(), Some("a_test"));
    }
}
