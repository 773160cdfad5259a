//! Rendered tfvars checked against a stack's `variables.tf`, read with hcl-rs.

use hcl::{Expression, ObjectKey};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// A Terraform type constraint.
#[derive(Debug, Clone, PartialEq)]
pub enum TfType {
    String,
    Number,
    Bool,
    Any,
    List(Box<TfType>),
    Set(Box<TfType>),
    Map(Box<TfType>),
    Tuple(Vec<TfType>),
    /// Attributes, each with whether it is `optional(...)`.
    Object(BTreeMap<String, (TfType, bool)>),
}

/// One `variable` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub name: String,
    pub ty: TfType,
    pub required: bool,
    pub nullable: bool,
    pub sensitive: bool,
    pub file: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid HCL: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: variable `{name}` has a type ecomctl cannot read: {message}")]
    Type {
        path: String,
        name: String,
        message: String,
    },
}

fn parse_type(expr: &Expression) -> Result<TfType, String> {
    match expr {
        Expression::Variable(v) => match v.as_str() {
            "string" => Ok(TfType::String),
            "number" => Ok(TfType::Number),
            "bool" => Ok(TfType::Bool),
            "any" => Ok(TfType::Any),
            other => Err(format!("unknown type `{other}`")),
        },
        Expression::Parenthesis(inner) => parse_type(inner),
        Expression::FuncCall(call) => {
            let name = call.name.name.as_str();
            let arg = |i: usize| {
                call.args
                    .get(i)
                    .ok_or_else(|| format!("`{name}` needs an argument"))
            };
            match name {
                "list" => Ok(TfType::List(Box::new(parse_type(arg(0)?)?))),
                "set" => Ok(TfType::Set(Box::new(parse_type(arg(0)?)?))),
                "map" => Ok(TfType::Map(Box::new(parse_type(arg(0)?)?))),
                "optional" => parse_type(arg(0)?),
                "tuple" => match arg(0)? {
                    Expression::Array(items) => Ok(TfType::Tuple(
                        items.iter().map(parse_type).collect::<Result<_, _>>()?,
                    )),
                    _ => Err("tuple takes a list of types".into()),
                },
                "object" => match arg(0)? {
                    Expression::Object(attrs) => {
                        let mut out = BTreeMap::new();
                        for (key, ty) in attrs {
                            let key = match key {
                                ObjectKey::Identifier(id) => id.as_str().to_string(),
                                ObjectKey::Expression(Expression::String(s)) => s.clone(),
                                other => return Err(format!("unsupported object key {other:?}")),
                            };
                            let optional = matches!(ty, Expression::FuncCall(c) if c.name.name.as_str() == "optional");
                            out.insert(key, (parse_type(ty)?, optional));
                        }
                        Ok(TfType::Object(out))
                    }
                    _ => Err("object takes a map of attribute types".into()),
                },
                other => Err(format!("unknown type constructor `{other}`")),
            }
        }
        other => Err(format!("unsupported type expression {other:?}")),
    }
}

/// Every `variable` block of the `.tf` files directly in `dir`, sorted by name.
pub fn stack_variables(dir: &Path) -> Result<Vec<Variable>, StackError> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|source| StackError::Read {
            path: dir.display().to_string(),
            source,
        })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "tf"))
        .collect();
    files.sort();
    let mut vars = Vec::new();
    for file in files {
        let path = file.display().to_string();
        let text = std::fs::read_to_string(&file).map_err(|source| StackError::Read {
            path: path.clone(),
            source,
        })?;
        let body = hcl::parse(&text).map_err(|e| StackError::Parse {
            path: path.clone(),
            message: e.to_string(),
        })?;
        for block in body.blocks().filter(|b| b.identifier() == "variable") {
            let Some(name) = block.labels().first().map(|l| l.as_str().to_string()) else {
                continue;
            };
            let mut var = Variable {
                name,
                ty: TfType::Any,
                required: true,
                nullable: true,
                sensitive: false,
                file: path.clone(),
            };
            for attr in block.body().attributes() {
                match attr.key() {
                    "type" => {
                        var.ty = parse_type(attr.expr()).map_err(|message| StackError::Type {
                            path: path.clone(),
                            name: var.name.clone(),
                            message,
                        })?
                    }
                    "default" => var.required = false,
                    "nullable" => var.nullable = !matches!(attr.expr(), Expression::Bool(false)),
                    "sensitive" => var.sensitive = matches!(attr.expr(), Expression::Bool(true)),
                    _ => {}
                }
            }
            vars.push(var);
        }
    }
    vars.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(vars)
}

/// A rendered value not known until an upstream stage has been applied.
pub fn is_pending(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.starts_with("<pending: ") && s.ends_with('>'))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn check_value(ty: &TfType, v: &Value, path: &str, out: &mut Vec<(String, String)>) {
    if is_pending(v) || v.is_null() {
        return;
    }
    let mismatch = |want: &str, out: &mut Vec<(String, String)>| {
        out.push((
            path.to_string(),
            format!("expected {want}, found {}", kind(v)),
        ))
    };
    match (ty, v) {
        (TfType::Any, _)
        | (TfType::String, Value::String(_))
        | (TfType::Number, Value::Number(_))
        | (TfType::Bool, Value::Bool(_)) => {}
        (TfType::List(t) | TfType::Set(t), Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                check_value(t, item, &format!("{path}[{i}]"), out);
            }
        }
        (TfType::Tuple(ts), Value::Array(items)) => {
            if ts.len() != items.len() {
                out.push((
                    path.to_string(),
                    format!(
                        "expected a tuple of {} items, found {}",
                        ts.len(),
                        items.len()
                    ),
                ));
            }
            for (i, (t, item)) in ts.iter().zip(items).enumerate() {
                check_value(t, item, &format!("{path}[{i}]"), out);
            }
        }
        (TfType::Map(t), Value::Object(entries)) => {
            for (k, item) in entries {
                check_value(t, item, &format!("{path}.{k}"), out);
            }
        }
        (TfType::Object(attrs), Value::Object(entries)) => {
            for (k, (t, optional)) in attrs {
                match entries.get(k) {
                    Some(item) => check_value(t, item, &format!("{path}.{k}"), out),
                    None if !optional => {
                        out.push((format!("{path}.{k}"), "missing attribute".into()))
                    }
                    None => {}
                }
            }
            for k in entries.keys().filter(|k| !attrs.contains_key(*k)) {
                out.push((
                    format!("{path}.{k}"),
                    "the type has no such attribute".into(),
                ));
            }
        }
        (TfType::String, _) => mismatch("a string", out),
        (TfType::Number, _) => mismatch("a number", out),
        (TfType::Bool, _) => mismatch("a bool", out),
        (TfType::List(_) | TfType::Set(_) | TfType::Tuple(_), _) => mismatch("a list", out),
        (TfType::Map(_) | TfType::Object(_), _) => mismatch("an object", out),
    }
}

/// Problems with a rendered tfvars object: unknown variables, missing required ones, wrong types.
/// Each is `(variable path, message)`.
pub fn check_tfvars(vars: &[Variable], tfvars: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(obj) = tfvars.as_object() else {
        return vec![(
            String::new(),
            format!("must be a JSON object, found {}", kind(tfvars)),
        )];
    };
    for (name, value) in obj {
        match vars.iter().find(|v| v.name == *name) {
            None => {
                let hint = crate::diag::nearest(name, vars.iter().map(|v| v.name.as_str()))
                    .map(|n| format!("; did you mean `{n}`?"))
                    .unwrap_or_default();
                out.push((
                    name.clone(),
                    format!("the stack has no variable `{name}`{hint}"),
                ));
            }
            Some(var) if value.is_null() && !var.nullable => {
                out.push((name.clone(), "must not be null".into()))
            }
            Some(var) => check_value(&var.ty, value, name, &mut out),
        }
    }
    for var in vars
        .iter()
        .filter(|v| v.required && !obj.contains_key(&v.name))
    {
        out.push((
            var.name.clone(),
            format!(
                "required variable `{}` is not set (declared in {})",
                var.name, var.file
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(src: &str) -> Vec<Variable> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("variables.tf"), src).unwrap();
        stack_variables(dir.path()).unwrap()
    }

    #[test]
    fn reads_types_defaults_and_flags() {
        let v = vars(
            r#"
variable "name" { type = string }
variable "groups" {
  type = map(object({ size = number, labels = optional(map(string)) }))
  default = {}
}
variable "pw" {
  type      = string
  sensitive = true
  nullable  = false
  default   = "x"
}
"#,
        );
        assert_eq!(v.len(), 3);
        assert!(v[1].required && v[1].name == "name");
        assert!(!v[0].required);
        assert!(v[2].sensitive && !v[2].nullable);
    }

    #[test]
    fn reports_unknown_missing_and_mistyped() {
        let v = vars("variable \"a\" { type = list(string) }\nvariable \"b\" { type = object({ n = number }) }\nvariable \"c\" { type = bool }\n");
        let found = check_tfvars(
            &v,
            &json!({"a": ["x", 1], "b": {"n": "1", "m": 2}, "d": true}),
        );
        let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, vec!["a[1]", "b.n", "b.m", "d", "c"]);
        assert!(check_tfvars(
            &v,
            &json!({"a": "<pending: foundation.x>", "b": {"n": 1}, "c": false})
        )
        .is_empty());
    }
}
