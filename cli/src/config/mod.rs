//! `ecomctl.yaml`: the model, its JSON Schema, loading and validation.
//!
//! Loading reads the YAML with positions, walks it against the schema derived from the model
//! (every unknown key, wrong type and missing key at once), then runs the semantic checks. Any
//! problem is reported with file, line, column and field path, and nothing is returned.

pub mod docs;
pub mod model;
pub mod schema_check;
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
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
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
    let node = yaml::parse_one(text).map_err(|e| {
        invalid(vec![Diagnostic {
            file: file.clone(),
            line: e.line,
            column: e.column,
            field: String::new(),
            message: format!("YAML syntax: {}", e.message),
            hint: None,
        }])
    })?;
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
    if !diagnostics.is_empty() {
        return Err(invalid(diagnostics));
    }
    let config: Config = match serde_json::from_value(checked.value) {
        Ok(c) => c,
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
    };
    for f in validate::validate(&config) {
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
