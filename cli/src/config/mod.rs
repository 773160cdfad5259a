//! `ecomctl.yaml`: the model, its JSON Schema, loading and validation.
//!
//! Loading reads the YAML with positions, walks it against the schema derived from the model
//! (every unknown key, wrong type and missing key at once), then runs the semantic checks. Any
//! problem is reported with file, line, column and field path, and nothing is returned.

pub mod docs;
pub mod guardrails;
pub mod model;
pub mod releases;
pub mod schema_check;
pub mod shared;
pub mod supply_chain;
pub mod validate;
pub mod yaml;

pub use model::*;

use crate::diag::Diagnostic;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} has {} problem{}", .path.display(), .diagnostics.len(), if .diagnostics.len() == 1 { "" } else { "s" })]
    Invalid {
        path: PathBuf,
        diagnostics: Vec<Diagnostic>,
    },
}

impl ConfigError {
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Invalid { diagnostics, .. } => diagnostics,
            ConfigError::Read { .. } => &[],
        }
    }
}

/// A loaded, valid configuration and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub path: PathBuf,
    /// The config as JSON, with every default filled in (what templates see as `config`).
    pub json: Value,
}

impl Loaded {
    /// The directory relative paths in the config are resolved against.
    pub fn base_dir(&self) -> &Path {
        self.path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }
}

/// The JSON Schema of `ecomctl.yaml` (draft 2020-12), built once.
pub fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let mut schema = serde_json::to_value(schemars::schema_for!(Config)).unwrap_or(Value::Null);
        if let Some(obj) = schema.as_object_mut() {
            obj.insert(
                "$id".into(),
                Value::String("https://ecomctl.dev/schema/ecomctl.schema.json".into()),
            );
            obj.insert("title".into(), Value::String("ecomctl.yaml".into()));
        }
        schema
    })
}

pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let text =
        crate::limits::read_to_string(path, crate::limits::MAX_TEXT_BYTES).map_err(|source| {
            ConfigError::Read {
                path: path.to_path_buf(),
                source,
            }
        })?;
    parse(&text, path)
}

/// Parses and validates config text; `path` is only used in messages.
pub fn parse(text: &str, path: &Path) -> Result<Loaded, ConfigError> {
    let file = path.display().to_string();
    let invalid = |diagnostics| ConfigError::Invalid {
        path: path.to_path_buf(),
        diagnostics,
    };
    let node = yaml::parse_one(text).map_err(|e| invalid(vec![e.diagnostic(&file)]))?;
    let checked = schema_check::check(schema(), &node);
    let mut diagnostics: Vec<Diagnostic> = checked
        .issues
        .into_iter()
        .map(|i| Diagnostic {
            file: file.clone(),
            line: i.line,
            column: i.column,
            field: i.field,
            message: i.message,
            hint: i.hint,
        })
        .collect();
    let structural = !diagnostics.is_empty();
    let config = if structural {
        // Still run the semantic checks on every section that could be read, so one run shows
        // every problem.
        best_effort(&checked.value)
    } else {
        match serde_json::from_value::<Config>(checked.value) {
            Ok(c) => Some((c, Vec::new())),
            Err(e) => {
                // The schema walk should have caught this; report it at the top rather than panic.
                return Err(invalid(vec![Diagnostic {
                    file,
                    line: 1,
                    column: 1,
                    field: String::new(),
                    message: e.to_string(),
                    hint: None,
                }]));
            }
        }
    };
    let Some((config, stand_ins)) = config else {
        return Err(invalid(diagnostics));
    };
    let in_stand_in = |field: &str| {
        stand_ins.iter().any(|s| {
            field == s || field.starts_with(&format!("{s}.")) || field.starts_with(&format!("{s}["))
        })
    };
    for f in validate::validate(&config)
        .into_iter()
        .filter(|f| !in_stand_in(&f.field))
    {
        let (line, column) = checked.positions.locate(&f.field);
        diagnostics.push(Diagnostic {
            file: file.clone(),
            line,
            column,
            field: f.field,
            message: f.message,
            hint: f.hint,
        });
    }
    if structural {
        diagnostics.sort_by_key(|d| (d.line, d.column));
        return Err(invalid(diagnostics));
    }
    if !diagnostics.is_empty() {
        diagnostics.sort_by_key(|d| (d.line, d.column));
        return Err(invalid(diagnostics));
    }
    let json = serde_json::to_value(&config).unwrap_or(Value::Null);
    Ok(Loaded {
        config,
        path: path.to_path_buf(),
        json,
    })
}

/// A config assembled from the sections of `value` that can be read, with the starter's sections
/// standing in for the rest (and environments that cannot be read left out). Returns it with the
/// names of the stand-in sections, whose findings must be dropped.
fn best_effort(value: &Value) -> Option<(Config, Vec<String>)> {
    static BASE: OnceLock<Option<Value>> = OnceLock::new();
    let base = BASE.get_or_init(|| {
        let node = yaml::parse_one(crate::commands::init::STARTER).ok()?;
        Some(schema_check::check(schema(), &node).value)
    });
    let (Some(Value::Object(base)), Value::Object(user)) = (base, value) else {
        return None;
    };
    let mut merged = base.clone();
    merged.insert("environments".into(), Value::Object(Default::default()));
    let reads = |m: &serde_json::Map<String, Value>| {
        serde_json::from_value::<Config>(Value::Object(m.clone())).is_ok()
    };
    let mut stand_ins = Vec::new();
    for key in base.keys() {
        if key == "environments" {
            continue;
        }
        match user.get(key) {
            Some(v) => {
                merged.insert(key.clone(), v.clone());
                if !reads(&merged) {
                    merged.insert(key.clone(), base[key].clone());
                    stand_ins.push(key.clone());
                }
            }
            None => stand_ins.push(key.clone()),
        }
    }
    // Each environment key by key over the starter's environment, so one bad field does not
    // hide the checks of the rest.
    let base_env = base
        .get("environments")
        .and_then(Value::as_object)
        .and_then(|e| e.values().next())
        .cloned();
    if let (Some(Value::Object(envs)), Some(Value::Object(base_env))) =
        (user.get("environments"), base_env)
    {
        for (name, env) in envs {
            let Value::Object(env) = env else {
                stand_ins.push(format!("environments.{name}"));
                continue;
            };
            let mut candidate = base_env.clone();
            let mut replaced = Vec::new();
            for (key, v) in env {
                let previous = candidate.insert(key.clone(), v.clone());
                set_env(&mut merged, name, &candidate);
                if !reads(&merged) {
                    match previous {
                        Some(p) => candidate.insert(key.clone(), p),
                        None => candidate.remove(key),
                    };
                    replaced.push(key.clone());
                }
            }
            for key in base_env.keys().filter(|k| !env.contains_key(*k)) {
                replaced.push(key.clone());
            }
            // A stand-in network must not overlap anybody's.
            if replaced.iter().any(|k| k == "vpc") {
                candidate.insert("vpc".into(), serde_json::json!({ "cidr": "0.0.0.0/16" }));
            }
            set_env(&mut merged, name, &candidate);
            if !reads(&merged) {
                if let Some(Value::Object(target)) = merged.get_mut("environments") {
                    target.remove(name);
                }
                stand_ins.push(format!("environments.{name}"));
            }
            stand_ins.extend(
                replaced
                    .into_iter()
                    .map(|k| format!("environments.{name}.{k}")),
            );
        }
    }
    let read_envs = merged
        .get("environments")
        .and_then(Value::as_object)
        .map_or(0, |e| e.len());
    if read_envs == 0
        && user
            .get("environments")
            .and_then(Value::as_object)
            .is_some_and(|e| !e.is_empty())
    {
        stand_ins.push("environments".into());
    }
    let config = serde_json::from_value(Value::Object(merged)).ok()?;
    Some((config, stand_ins))
}

fn set_env(
    merged: &mut serde_json::Map<String, Value>,
    name: &str,
    env: &serde_json::Map<String, Value>,
) {
    if let Some(Value::Object(target)) = merged.get_mut("environments") {
        target.insert(name.to_string(), Value::Object(env.clone()));
    }
}
