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

impl Input {
    /// Points each resource of a plan at the `resource "TYPE" "NAME"` block that declares it,
    /// under `stack` (the root module the plan was made from). Module calls are followed through
    /// the plan's `configuration` when their source is a local path; resources of registry or
    /// git modules keep no location. Returns how many resources were located.
    pub fn locate_in_stack(&mut self, stack: &Path) -> usize {
        let root = self.value["configuration"]["root_module"].clone();
        let mut blocks: HashMap<PathBuf, Blocks> = HashMap::new();
        let mut found = 0;
        let changes = self.value["resource_changes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for rc in &changes {
            let (Some(address), Some(ty), Some(name)) = (
                rc["address"].as_str(),
                rc["type"].as_str(),
                rc["name"].as_str(),
            ) else {
                continue;
            };
            if rc["mode"].as_str().is_some_and(|m| m != "managed") {
                continue;
            }
            let Some(calls) = module_calls(address, ty, name) else {
                continue;
            };
            let mut dir = stack.to_path_buf();
            let mut module = &root;
            let mut local = true;
            for call in &calls {
                let spec = &module["module_calls"][call.as_str()];
                match spec["source"].as_str() {
                    Some(src) if src.starts_with("./") || src.starts_with("../") => {
                        dir = normalize(&dir.join(src));
                        module = &spec["module"];
                    }
                    _ => {
                        local = false;
                        break;
                    }
                }
            }
            if !local {
                continue;
            }
            let index = blocks
                .entry(dir.clone())
                .or_insert_with(|| resource_blocks(&dir));
            if let Some((file, line)) = index.get(&(ty.to_string(), name.to_string())) {
                self.origins.insert(
                    address.to_string(),
                    Origin {
                        file: file.display().to_string(),
                        line: Some(*line),
                    },
                );
                found += 1;
            }
        }
        found
    }
}

/// The module call names in a resource address (`module.a["k"].module.b.aws_x.y[0]` gives
/// `[a, b]`), or `None` when the address does not end in `TYPE.NAME`.
fn module_calls(address: &str, ty: &str, name: &str) -> Option<Vec<String>> {
    let resource = format!("{ty}.{name}");
    let base = if address.ends_with(&resource) {
        address.len() - resource.len()
    } else {
        address.rfind(&format!("{resource}["))?
    };
    if base > 0 && address.as_bytes().get(base - 1) != Some(&b'.') {
        return None;
    }
    let prefix = &address[..base.saturating_sub(1)];
    let mut calls = Vec::new();
    let mut rest = prefix;
    while !rest.is_empty() {
        rest = rest.strip_prefix("module.")?;
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        calls.push(rest[..end].to_string());
        rest = &rest[end..];
        if rest.starts_with('[') {
            let mut in_quotes = false;
            let mut close = None;
            for (i, c) in rest.char_indices() {
                match c {
                    '"' => in_quotes = !in_quotes,
                    ']' if !in_quotes => {
                        close = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            rest = &rest[close? + 1..];
        }
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    Some(calls)
}

/// `a/b/../c` as `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir
                if out
                    .components()
                    .next_back()
                    .is_some_and(|c| matches!(c, std::path::Component::Normal(_))) =>
            {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// (type, name) of a resource block to its file and line.
type Blocks = HashMap<(String, String), (PathBuf, usize)>;

/// `resource "TYPE" "NAME"` blocks of the `*.tf` files in one directory, with their lines.
fn resource_blocks(dir: &Path) -> Blocks {
    let mut out = HashMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "tf"))
        .collect();
    files.sort();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            let mut words = line.split_whitespace();
            if words.next() != Some("resource") {
                continue;
            }
            let unquote = |w: Option<&str>| {
                w.and_then(|w| w.strip_prefix('"'))
                    .and_then(|w| w.strip_suffix('"'))
                    .map(str::to_string)
            };
            if let (Some(ty), Some(name)) = (unquote(words.next()), unquote(words.next())) {
                out.entry((ty, name)).or_insert((file.clone(), i + 1));
            }
        }
    }
    out
}

fn read(path: &Path) -> Result<String, PolicyError> {
    crate::limits::read_to_string(path, crate::limits::MAX_DOCUMENT_BYTES).map_err(|e| {
        PolicyError::Read {
            path: path.to_path_buf(),
            source: e,
        }
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
    fn module_calls_are_read_from_addresses() {
        let calls = |a: &str, t: &str, n: &str| module_calls(a, t, n);
        assert_eq!(calls("aws_vpc.this", "aws_vpc", "this"), Some(vec![]));
        assert_eq!(
            calls(
                "module.data.aws_ecr_repository.this[\"orders\"]",
                "aws_ecr_repository",
                "this"
            ),
            Some(vec!["data".to_string()])
        );
        assert_eq!(
            calls(
                "module.a[\"x.y\"].module.b.aws_s3_bucket.c[0]",
                "aws_s3_bucket",
                "c"
            ),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(
            calls("module.a.aws_s3_bucket.other", "aws_s3_bucket", "c"),
            None
        );
        assert_eq!(
            normalize(Path::new("stacks/foundation/../modules/data")),
            PathBuf::from("stacks/modules/data")
        );
    }

    #[test]
    fn manifest_ids_follow_the_rules() {
        let ns = serde_json::json!({"kind": "Namespace", "metadata": {"name": "shop"}});
        let d = serde_json::json!({"kind": "Deployment", "metadata": {"name": "a"}});
        assert_eq!(manifest_id(&ns).unwrap(), "Namespace/shop");
        assert_eq!(manifest_id(&d).unwrap(), "Deployment/default/a");
    }
}
