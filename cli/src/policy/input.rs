//! The rules' `input`: a `terraform show -json` document, or every rendered manifest at once
//! (`{"manifests": [...]}`), plus where each resource came from when that is known.

use super::PolicyError;
use crate::config::yaml::{self, Node, NodeKind};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where a finding's resource is written down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    /// 1-based; `None` when only the file is known.
    pub line: Option<usize>,
}

/// An evaluated document and the origins of its resources, keyed by finding `resource`.
#[derive(Debug, Clone)]
pub struct Input {
    pub value: Value,
    /// The file the document came from (the plan, or the manifests directory).
    pub source: String,
    pub origins: HashMap<String, Origin>,
}

impl Input {
    /// A `terraform show -json` document (format_version "0.x" or "1.x").
    pub fn plan(value: Value, source: &str) -> Result<Input, PolicyError> {
        let bad = |message: String| PolicyError::Input {
            file: source.to_string(),
            line: 1,
            column: 1,
            message,
        };
        let version = value
            .get("format_version")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                bad("not a `terraform show -json` document (no format_version)".into())
            })?;
        if !(version.starts_with("0.") || version.starts_with("1.")) {
            return Err(bad(format!(
                "format_version {version} is not supported (0.x and 1.x are)"
            )));
        }
        if value.get("resource_changes").is_none() && value.get("planned_values").is_none() {
            return Err(bad(
                "the document has neither resource_changes nor planned_values; is it a plan (terraform show -json PLANFILE)?".into(),
            ));
        }
        Ok(Input {
            value,
            source: source.to_string(),
            origins: HashMap::new(),
        })
    }

    /// Reads a plan document from a file.
    pub fn plan_file(path: &Path) -> Result<Input, PolicyError> {
        let text = read(path)?;
        let value: Value = serde_json::from_str(&text).map_err(|e| PolicyError::Input {
            file: path.display().to_string(),
            line: e.line(),
            column: e.column(),
            message: format!("not JSON: {e}"),
        })?;
        Input::plan(value, &path.display().to_string())
    }

    /// Rendered manifests: a directory of YAML files (every document of every `*.yaml`/`*.yml`
    /// below it, in path order), one YAML file, or a JSON file already shaped
    /// `{"manifests": [...]}`.
    pub fn manifests(path: &Path) -> Result<Input, PolicyError> {
        let source = path.display().to_string();
        let mut objects = Vec::new();
        let mut origins = HashMap::new();
        if path.is_file() && path.extension().is_some_and(|e| e == "json") {
            let text = read(path)?;
            let value: Value = serde_json::from_str(&text).map_err(|e| PolicyError::Input {
                file: source.clone(),
                line: e.line(),
                column: e.column(),
                message: format!("not JSON: {e}"),
            })?;
            match value.get("manifests") {
                Some(Value::Array(items)) => {
                    for item in items {
                        if let Some(id) = manifest_id(item) {
                            origins.entry(id).or_insert(Origin {
                                file: source.clone(),
                                line: None,
                            });
                        }
                    }
                    return Ok(Input {
                        value,
                        source,
                        origins,
                    });
                }
                _ => {
                    return Err(PolicyError::Input {
                        file: source,
                        line: 1,
                        column: 1,
                        message:
                            "a JSON manifests file must be an object with a \"manifests\" list"
                                .into(),
                    })
                }
            }
        }
        let files = if path.is_dir() {
            let mut files = Vec::new();
            yaml_files(path, &mut files)?;
            files.sort();
            files
        } else {
            vec![path.to_path_buf()]
        };
        for file in files {
            let text = read(&file)?;
            let shown = file.display().to_string();
            let docs = yaml::parse_documents(&text).map_err(|e| PolicyError::Input {
                file: shown.clone(),
                line: e.line,
                column: e.column,
                message: e.message.clone(),
            })?;
            for doc in docs {
                if doc.is_null() {
                    continue;
                }
                let value = node_to_json(&doc);
                let items = match (
                    value.get("kind").and_then(Value::as_str),
                    value.get("items"),
                ) {
                    (Some(k), Some(Value::Array(items))) if k.ends_with("List") => items.clone(),
                    _ => vec![value],
                };
                for item in items {
                    if let Some(id) = manifest_id(&item) {
                        origins.entry(id).or_insert(Origin {
                            file: shown.clone(),
                            line: Some(doc.line),
                        });
                    }
                    objects.push(item);
                }
            }
        }
        let mut root = Map::new();
        root.insert("manifests".into(), Value::Array(objects));
        Ok(Input {
            value: Value::Object(root),
            source,
            origins,
        })
    }
}

fn read(path: &Path) -> Result<String, PolicyError> {
    std::fs::read_to_string(path).map_err(|e| PolicyError::Read {
        path: path.to_path_buf(),
        source: e,
    })
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), PolicyError> {
    let entries = std::fs::read_dir(dir).map_err(|e| PolicyError::Read {
        path: dir.to_path_buf(),
        source: e,
    })?;
    for entry in entries {
        let entry = entry.map_err(|e| PolicyError::Read {
            path: dir.to_path_buf(),
            source: e,
        })?;
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Kinds without a namespace, as in `policy/kubernetes/lib.rego`.
const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "PersistentVolume",
    "StorageClass",
    "CustomResourceDefinition",
    "PriorityClass",
    "IngressClass",
];

/// The finding `resource` the rules use for a manifest: `Kind/namespace/name`, `Kind/name`
/// for cluster-scoped kinds.
pub fn manifest_id(m: &Value) -> Option<String> {
    let kind = m.get("kind")?.as_str()?;
    let meta = m.get("metadata")?;
    let name = meta.get("name")?.as_str()?;
    if CLUSTER_SCOPED.contains(&kind) {
        return Some(format!("{kind}/{name}"));
    }
    let ns = meta
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("default");
    Some(format!("{kind}/{ns}/{name}"))
}

/// A YAML node as JSON. Quoted and block scalars are strings; plain ones are typed the way YAML
/// 1.2's core schema reads them (null, booleans, integers, floats, else strings).
pub fn node_to_json(node: &Node) -> Value {
    match &node.kind {
        NodeKind::Scalar { text, plain: false } => Value::String(text.clone()),
        NodeKind::Scalar { text, plain: true } => plain_scalar(text),
        NodeKind::Seq(items) => Value::Array(items.iter().map(node_to_json).collect()),
        NodeKind::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let key = match &k.kind {
                    NodeKind::Scalar { text, .. } => text.clone(),
                    _ => continue,
                };
                map.insert(key, node_to_json(v));
            }
            Value::Object(map)
        }
    }
}

fn plain_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return Value::Number(i.into());
        }
    }
    let looks_float = digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if looks_float {
        if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_are_typed_and_quoted_ones_are_strings() {
        let docs =
            yaml::parse_documents("a: 1\nb: \"1\"\nc: true\nd: ~\ne: 1.5\nf: v1\n---\nkind: X\n")
                .unwrap();
        let v = node_to_json(&docs[0]);
        assert_eq!(
            v,
            serde_json::json!({"a": 1, "b": "1", "c": true, "d": null, "e": 1.5, "f": "v1"})
        );
        assert_eq!(docs.len(), 2);
    }

    #[test]
    fn manifest_ids_follow_the_rules() {
        let ns = serde_json::json!({"kind": "Namespace", "metadata": {"name": "shop"}});
        let d = serde_json::json!({"kind": "Deployment", "metadata": {"name": "a"}});
        assert_eq!(manifest_id(&ns).unwrap(), "Namespace/shop");
        assert_eq!(manifest_id(&d).unwrap(), "Deployment/default/a");
    }
}
