//! Checks a YAML node tree against a JSON Schema and turns it into JSON at the same time.
//!
//! Used for `ecomctl.yaml` (against the schema derived from the config model) and for rendered
//! Helm values (against the chart's `values.schema.json`). It understands the part of JSON Schema
//! those two use: `$ref`, `type`, `properties`, `required`, `additionalProperties`, `items`,
//! `enum`, `const`, `anyOf`/`oneOf`/`allOf`, numeric bounds, string length and `pattern`,
//! `minItems`/`maxItems`. Every problem is collected; nothing stops at the first.

use super::yaml::{Node, NodeKind};
use crate::diag::nearest;
use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;

/// A problem found while checking, before it is given a file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub line: usize,
    pub column: usize,
    pub field: String,
    pub message: String,
    pub hint: Option<String>,
}

/// Where each field path was written: the value's position and, for mapping entries, the key's.
#[derive(Debug, Clone, Default)]
pub struct Positions {
    map: BTreeMap<String, (usize, usize)>,
}

impl Positions {
    /// The position of `field`, or of its nearest written ancestor (a defaulted field has none).
    pub fn locate(&self, field: &str) -> (usize, usize) {
        let mut path = field;
        loop {
            if let Some(pos) = self.map.get(path) {
                return *pos;
            }
            match path.rfind(['.', '[']) {
                Some(i) => path = &path[..i],
                None => return self.map.get("").copied().unwrap_or((1, 1)),
            }
        }
    }
}

/// The result of a walk: the JSON value (when the node tree could be typed at all), the issues,
/// and where every field was.
pub struct Checked {
    pub value: Value,
    pub issues: Vec<Issue>,
    pub positions: Positions,
}

pub fn check(root_schema: &Value, node: &Node) -> Checked {
    let mut walker = Walker {
        root: root_schema,
        issues: Vec::new(),
        positions: Positions::default(),
        keys: BTreeMap::new(),
    };
    let value = walker.walk(node, root_schema, "");
    Checked {
        value,
        issues: walker.issues,
        positions: walker.positions,
    }
}

struct Walker<'s> {
    root: &'s Value,
    issues: Vec<Issue>,
    positions: Positions,
    /// Where each mapping key was written, for problems with the mapping as a whole.
    keys: BTreeMap<String, (usize, usize)>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn type_names(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn words_for(types: &[&str]) -> String {
    let words: Vec<&str> = types
        .iter()
        .filter(|t| **t != "null")
        .map(|t| match *t {
            "object" => "a mapping",
            "array" => "a list",
            "string" => "a string",
            "integer" => "a whole number",
            "number" => "a number",
            "boolean" => "true or false",
            other => other,
        })
        .collect();
    if words.is_empty() {
        "null".into()
    } else {
        words.join(" or ")
    }
}

/// A schema `pattern`, compiled once per process (schemas repeat the same few patterns).
fn compiled(pattern: &str) -> Option<regex::Regex> {
    static CACHE: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<String, Option<regex::Regex>>>,
    > = std::sync::LazyLock::new(Default::default);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(pattern.to_string())
        .or_insert_with(|| regex::Regex::new(pattern).ok())
        .clone()
}

/// Plain YAML text typed as what the schema allows, in order of preference.
fn type_scalar(text: &str, plain: bool, null: bool, types: &[&str]) -> Option<Value> {
    let allows = |t: &str| types.is_empty() || types.contains(&t);
    if null && allows("null") {
        return Some(Value::Null);
    }
    if plain && !null {
        if allows("boolean") && (text == "true" || text == "false") {
            return Some(Value::Bool(text == "true"));
        }
        if allows("integer") || allows("number") {
            if let Ok(i) = text.replace('_', "").parse::<i64>() {
                return Some(Value::Number(i.into()));
            }
        }
        if allows("number") {
            if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
                return Some(Value::Number(n));
            }
        }
    }
    if allows("string") && !null {
        return Some(Value::String(text.to_string()));
    }
    if types.is_empty() && null {
        return Some(Value::Null);
    }
    None
}

impl<'s> Walker<'s> {
    fn issue(&mut self, node: &Node, field: &str, message: String, hint: Option<String>) {
        self.issues.push(Issue {
            line: node.line,
            column: node.column,
            field: field.to_string(),
            message,
            hint,
        });
    }

    fn resolve(&self, mut schema: &'s Value) -> &'s Value {
        for _ in 0..32 {
            match schema.get("$ref").and_then(Value::as_str) {
                Some(r) if r.starts_with('#') => match self.root.pointer(&r[1..]) {
                    Some(target) => schema = target,
                    None => return schema,
                },
                _ => return schema,
            }
        }
        schema
    }

    fn walk(&mut self, node: &Node, schema: &'s Value, path: &str) -> Value {
        // A scalar is found where its value is; a mapping or list where its key is.
        let pos = match node.kind {
            NodeKind::Scalar { .. } => (node.line, node.column),
            _ => self
                .keys
                .get(path)
                .copied()
                .unwrap_or((node.line, node.column)),
        };
        self.positions.map.entry(path.to_string()).or_insert(pos);
        let schema = self.resolve(schema);
        if schema == &Value::Bool(false) {
            self.issue(node, path, "is not allowed here".into(), None);
            return Value::Null;
        }
        // A secret written inline is refused without repeating it.
        if schema.get("x-secret-ref") == Some(&Value::Bool(true))
            && matches!(node.kind, NodeKind::Scalar { .. })
            && !node.is_null()
        {
            self.issue(
                node,
                path,
                "secrets are never written in the config (the value is not shown)".into(),
                Some("name it instead: { env: VARIABLE } or { secret_arn: arn:aws:secretsmanager:... }".into()),
            );
            return Value::Null;
        }
        if let Some(Value::Array(parts)) = schema.get("allOf") {
            let mut value = Value::Null;
            for part in parts {
                value = self.walk(node, part, path);
            }
            if schema.get("type").is_none() && schema.get("properties").is_none() {
                return value;
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = schema.get(key) {
                return self.walk_branches(node, schema, branches, path);
            }
        }
        self.walk_plain(node, schema, path)
    }

    /// `anyOf`/`oneOf`: the first branch with no issues wins; otherwise report the closest one.
    fn walk_branches(
        &mut self,
        node: &Node,
        schema: &'s Value,
        branches: &'s [Value],
        path: &str,
    ) -> Value {
        let mut best: Option<(usize, Value, Vec<Issue>, Positions)> = None;
        let mut constants = Vec::new();
        for branch in branches {
            let branch = self.resolve(branch);
            if let Some(c) = branch.get("const") {
                constants.push(c.clone());
            } else if let Some(Value::Array(e)) = branch.get("enum") {
                constants.extend(e.iter().cloned());
            }
            let mut sub = Walker {
                root: self.root,
                issues: Vec::new(),
                positions: Positions::default(),
                keys: self.keys.clone(),
            };
            let value = sub.walk(node, branch, path);
            if sub.issues.is_empty() {
                self.positions.map.extend(sub.positions.map);
                return self.apply_local(node, schema, path, value);
            }
            // A branch whose shape does not even match counts as far away.
            let shape_miss = sub
                .issues
                .iter()
                .any(|i| i.field == path && i.message.starts_with("expected"));
            let score = sub.issues.len() + if shape_miss { 1000 } else { 0 };
            if best.as_ref().is_none_or(|(s, ..)| score < *s) {
                best = Some((score, value, sub.issues, sub.positions));
            }
        }
        if constants.len() == branches.len() && !constants.is_empty() {
            return self.check_enum(node, &constants, path);
        }
        let Some((score, value, issues, positions)) = best else {
            return Value::Null;
        };
        self.positions.map.extend(positions.map);
        if score >= 1000 {
            let mut types: Vec<&str> = Vec::new();
            for b in branches {
                for t in type_names(self.resolve(b)) {
                    if !types.contains(&t) {
                        types.push(t);
                    }
                }
            }
            self.issue(
                node,
                path,
                format!("expected {}, found {}", words_for(&types), node.describe()),
                None,
            );
        } else {
            self.issues.extend(issues);
        }
        value
    }

    fn check_enum(&mut self, node: &Node, allowed: &[Value], path: &str) -> Value {
        let text = match &node.kind {
            NodeKind::Scalar { text, .. } => text.clone(),
            _ => String::new(),
        };
        let candidate = allowed.iter().find(|a| match a {
            Value::String(s) => *s == text,
            Value::Null => node.is_null(),
            other => other.to_string() == text,
        });
        if let Some(found) = candidate {
            return found.clone();
        }
        let names: Vec<String> = allowed
            .iter()
            .map(|a| {
                a.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| a.to_string())
            })
            .collect();
        let hint = nearest(&text, names.iter().map(String::as_str))
            .map(|n| format!("did you mean `{n}`?"));
        self.issue(
            node,
            path,
            format!(
                "must be one of: {}; found {}",
                names.join(", "),
                node.describe()
            ),
            hint,
        );
        Value::Null
    }

    fn walk_plain(&mut self, node: &Node, schema: &'s Value, path: &str) -> Value {
        if let Some(Value::Array(allowed)) = schema.get("enum") {
            return self.check_enum(node, allowed, path);
        }
        if let Some(c) = schema.get("const") {
            return self.check_enum(node, std::slice::from_ref(c), path);
        }
        let types = type_names(schema);
        let allows = |t: &str| types.is_empty() || types.contains(&t);
        let value = match &node.kind {
            NodeKind::Map(entries) if allows("object") => {
                self.walk_object(node, entries, schema, path)
            }
            NodeKind::Seq(items) if allows("array") => self.walk_array(node, items, schema, path),
            NodeKind::Scalar { text, plain } => {
                match type_scalar(text, *plain, node.is_null(), &types) {
                    Some(v) => v,
                    None => {
                        let message =
                            format!("expected {}, found {}", words_for(&types), node.describe());
                        self.issue(node, path, message, None);
                        return Value::Null;
                    }
                }
            }
            _ => {
                let message = format!("expected {}, found {}", words_for(&types), node.describe());
                self.issue(node, path, message, None);
                return Value::Null;
            }
        };
        self.apply_local(node, schema, path, value)
    }

    /// Bounds that apply to the typed value.
    fn apply_local(&mut self, node: &Node, schema: &Value, path: &str, value: Value) -> Value {
        let num = |k: &str| schema.get(k).and_then(Value::as_f64);
        if let Some(n) = value.as_f64() {
            if let Some(min) = num("minimum").filter(|m| n < *m) {
                self.issue(
                    node,
                    path,
                    format!("must be at least {min}, found {n}"),
                    None,
                );
            }
            if let Some(max) = num("maximum").filter(|m| n > *m) {
                self.issue(
                    node,
                    path,
                    format!("must be at most {max}, found {n}"),
                    None,
                );
            }
            if let Some(min) = num("exclusiveMinimum").filter(|m| n <= *m) {
                self.issue(
                    node,
                    path,
                    format!("must be greater than {min}, found {n}"),
                    None,
                );
            }
        }
        if let Some(s) = value.as_str() {
            let len = s.chars().count() as f64;
            if let Some(min) = num("minLength").filter(|m| len < *m) {
                self.issue(
                    node,
                    path,
                    format!("must be at least {min} characters long"),
                    None,
                );
            }
            if let Some(max) = num("maxLength").filter(|m| len > *m) {
                self.issue(
                    node,
                    path,
                    format!("must be at most {max} characters long"),
                    None,
                );
            }
            if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
                if let Some(re) = compiled(pattern) {
                    if !re.is_match(s) {
                        self.issue(
                            node,
                            path,
                            format!("\"{s}\" does not match the pattern {pattern}"),
                            None,
                        );
                    }
                }
            }
        }
        if let Some(items) = value.as_array() {
            let len = items.len() as f64;
            if let Some(min) = num("minItems").filter(|m| len < *m) {
                self.issue(
                    node,
                    path,
                    format!("needs at least {min} item(s), found {len}"),
                    None,
                );
            }
            if let Some(max) = num("maxItems").filter(|m| len > *m) {
                self.issue(
                    node,
                    path,
                    format!("takes at most {max} item(s), found {len}"),
                    None,
                );
            }
        }
        value
    }

    fn walk_array(&mut self, _node: &Node, items: &[Node], schema: &'s Value, path: &str) -> Value {
        let item_schema = schema.get("items");
        let out = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let p = format!("{path}[{i}]");
                match item_schema {
                    Some(s) => self.walk(item, s, &p),
                    None => self.walk(item, &Value::Bool(true), &p),
                }
            })
            .collect();
        Value::Array(out)
    }

    fn walk_object(
        &mut self,
        node: &Node,
        entries: &[(Node, Node)],
        schema: &'s Value,
        path: &str,
    ) -> Value {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        let props = schema
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or_else(|| EMPTY.get_or_init(Map::new));
        let additional = schema.get("additionalProperties");
        let mut out = Map::new();
        let mut suggested: Vec<String> = Vec::new();
        for (key_node, value_node) in entries {
            let key = match &key_node.kind {
                NodeKind::Scalar { text, .. } => text.clone(),
                _ => continue,
            };
            let field = join(path, &key);
            self.keys
                .entry(field.clone())
                .or_insert((key_node.line, key_node.column));
            if out.contains_key(&key) {
                self.issue(key_node, &field, format!("`{key}` is given twice"), None);
                continue;
            }
            let sub_schema = match (props.get(&key), additional) {
                (Some(s), _) => s,
                (None, Some(Value::Bool(false))) => {
                    let near = nearest(&key, props.keys().map(String::as_str));
                    suggested.extend(near.map(str::to_string));
                    let hint = near.map(|n| format!("did you mean `{n}`?")).or_else(|| {
                        let mut keys: Vec<&str> = props.keys().map(String::as_str).collect();
                        keys.sort_unstable();
                        Some(format!("valid keys here: {}", keys.join(", ")))
                    });
                    self.issue(key_node, &field, format!("unknown key `{key}`"), hint);
                    continue;
                }
                (None, Some(s)) => s,
                (None, None) => &Value::Bool(true),
            };
            let v = self.walk(value_node, sub_schema, &field);
            out.insert(key, v);
        }
        if let Some(Value::Array(required)) = schema.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !out.contains_key(name)
                    && !suggested.iter().any(|s| s == name)
                    && !entries.iter().any(
                        |(k, _)| matches!(&k.kind, NodeKind::Scalar { text, .. } if text == name),
                    )
                {
                    let where_ = if path.is_empty() {
                        "the top level".to_string()
                    } else {
                        format!("`{path}`")
                    };
                    let (line, column) = self
                        .keys
                        .get(path)
                        .copied()
                        .unwrap_or((node.line, node.column));
                    let message = format!("missing required key `{name}` in {where_}");
                    self.issues.push(Issue {
                        line,
                        column,
                        field: join(path, name),
                        message,
                        hint: None,
                    });
                }
            }
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::yaml::parse_one;
    use serde_json::json;

    fn run(schema: Value, yaml: &str) -> Checked {
        check(&schema, &parse_one(yaml).unwrap())
    }

    #[test]
    fn types_scalars_by_what_the_schema_wants() {
        let schema = json!({"type":"object","properties":{
            "id":{"type":"string"},"n":{"type":"integer"},"b":{"type":"boolean"},"o":{"type":["string","null"]}}});
        let c = run(schema, "id: 012345678901\nn: 3\nb: true\no: ~\n");
        assert!(c.issues.is_empty(), "{:?}", c.issues);
        assert_eq!(
            c.value,
            json!({"id":"012345678901","n":3,"b":true,"o":null})
        );
    }

    #[test]
    fn collects_every_problem_with_positions() {
        let schema = json!({"type":"object","additionalProperties":false,"required":["name"],
            "properties":{"name":{"type":"string"},"count":{"type":"integer","minimum":1},
            "mode":{"enum":["fast","safe"]}}});
        let c = run(schema, "cuont: 2\ncount: zero\nmode: fsat\n");
        let got: Vec<(usize, usize, &str)> = c
            .issues
            .iter()
            .map(|i| (i.line, i.column, i.field.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, 1, "cuont"),
                (2, 8, "count"),
                (3, 7, "mode"),
                (1, 1, "name")
            ]
        );
        assert_eq!(c.issues[0].hint.as_deref(), Some("did you mean `count`?"));
        assert_eq!(c.issues[2].hint.as_deref(), Some("did you mean `fast`?"));
    }

    #[test]
    fn refs_and_any_of_pick_the_matching_branch() {
        let schema = json!({"$defs":{"Env":{"type":"object","additionalProperties":false,
            "properties":{"env":{"type":"string"}},"required":["env"]}},
            "type":"object","properties":{"pw":{"anyOf":[{"$ref":"#/$defs/Env"},{"type":"null"}]}}});
        let ok = run(schema.clone(), "pw:\n  env: X\n");
        assert!(ok.issues.is_empty());
        let bad = run(schema.clone(), "pw: hunter2\n");
        assert_eq!(bad.issues.len(), 1);
        assert!(
            bad.issues[0].message.starts_with("expected a mapping"),
            "{:?}",
            bad.issues
        );
        let typo = run(schema, "pw:\n  evn: X\n");
        assert!(
            typo.issues.iter().any(|i| i.field == "pw.evn"),
            "{:?}",
            typo.issues
        );
    }

    #[test]
    fn positions_fall_back_to_the_nearest_parent() {
        let c = run(json!(true), "a:\n  b: 1\n");
        assert_eq!(c.positions.locate("a.b"), (2, 6));
        assert_eq!(c.positions.locate("a.c.d"), (1, 1));
    }
}
