//! Rendering: `Config` + upstream outputs -> every stage's input files.
//!
//! Templates are data and live next to what they feed:
//! - `stacks/<stack>/ecomctl.tfvars.json.tera` -> `terraform.tfvars.json` (checked against the
//!   stack's `variables.tf`);
//! - `stacks/ecomctl.backend.hcl.tera` -> `backend.hcl` for every Terraform stage;
//! - `charts/platform/ecomctl.values.yaml.tera` -> `values.yaml` (checked against the chart's
//!   `values.schema.json`);
//! - `cluster/priming/*.yaml.tera` -> `priming/*.yaml`;
//! - `cluster/addons/*.yaml.tera` -> `addons/*.yaml` (the Calico `Installation`, the AWS Load
//!   Balancer Controller's chart values), for the releases the config pins.
//!
//! Everything is rendered in memory and checked before anything is written, and the same inputs
//! always give the same bytes.

pub mod context;
pub mod tfvars;

use crate::config::yaml;
use crate::config::{schema_check, Loaded};
use crate::diag::Diagnostic;
use crate::tools::version::Version;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The stages, in the order `up` walks them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Bootstrap,
    Foundation,
    App,
    Cluster,
}

impl Stage {
    pub const ALL: [Stage; 4] = [
        Stage::Bootstrap,
        Stage::Foundation,
        Stage::App,
        Stage::Cluster,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Bootstrap => "bootstrap",
            Stage::Foundation => "foundation",
            Stage::App => "app",
            Stage::Cluster => "cluster",
        }
    }

    /// Bootstrap runs once for the whole platform, in the shared-services account.
    pub fn is_global(self) -> bool {
        self == Stage::Bootstrap
    }

    /// The Terraform stack directory under `stacks/`, for the Terraform stages.
    pub fn stack(self) -> Option<&'static str> {
        match self {
            Stage::Cluster => None,
            s => Some(s.name()),
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The scope name used for the bootstrap stage in paths and state keys.
pub const GLOBAL_SCOPE: &str = "global";

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(
        "cannot find the ecomctl content (stacks/, charts/, cluster/) above {0}; set ECOMCTL_ROOT"
    )]
    NoContentRoot(PathBuf),
    #[error("there is no environment `{name}`{hint}")]
    UnknownEnv { name: String, hint: String },
    #[error("cannot read template {path}")]
    ReadTemplate {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("template {template} failed: {message}")]
    Template { template: String, message: String },
    #[error("{0}")]
    Stack(#[from] tfvars::StackError),
    #[error("rendered files do not pass their checks ({} problem{})", .0.len(), if .0.len() == 1 { "" } else { "s" })]
    Invalid(Vec<Diagnostic>),
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl RenderError {
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            RenderError::Invalid(d) => d,
            _ => &[],
        }
    }
}

/// One rendered file, relative to the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    pub path: PathBuf,
    pub contents: String,
    pub template: String,
    pub scope: String,
    pub stage: Stage,
    /// Values that wait on an upstream stage's outputs.
    pub pending: usize,
}

/// What to render and with what.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Only this environment (bootstrap is global and rendered when no env is named, or when
    /// `--stage bootstrap` is asked for).
    pub env: Option<String>,
    pub stage: Option<Stage>,
    /// The Terraform version the backend file is written for.
    pub terraform: Version,
    /// Where applied stages keep `outputs.json` (`<state_dir>/<scope>/<stage>/outputs.json`).
    pub state_dir: PathBuf,
    /// An AWS endpoint override (moto in tests), written into backend files when set.
    pub aws_endpoint: Option<String>,
    /// Terraform assumes each account's role (`false` under `ECOMCTL_ASSUME_ROLE=false`: the
    /// credentials already are that role, and `assume_role_arn` is rendered as `null`).
    pub assume_roles: bool,
}

/// The directory holding `stacks/`, `charts/` and `cluster/`: `explicit` (`--root`,
/// `ECOMCTL_ROOT`), else the nearest ancestor of `start` (then of the working directory) that
/// has them.
pub fn find_content_root(start: &Path, explicit: Option<&Path>) -> Result<PathBuf, RenderError> {
    if let Some(root) = explicit {
        return Ok(root.to_path_buf());
    }
    let is_root = |d: &Path| {
        d.join("stacks").is_dir() && d.join("charts").is_dir() && d.join("cluster").is_dir()
    };
    let start = std::path::absolute(start).unwrap_or_else(|_| start.to_path_buf());
    let cwd = std::env::current_dir().unwrap_or_default();
    start
        .ancestors()
        .chain(cwd.ancestors())
        .find(|d| is_root(d))
        .map(Path::to_path_buf)
        .ok_or(RenderError::NoContentRoot(start))
}

/// The templates and checks of one content root, loaded once.
pub struct Renderer {
    root: PathBuf,
    tera: tera::Tera,
    /// (template name, output path) of the cluster stage's own manifests: `priming/*` (namespaces,
    /// quotas) and `addons/*` (what is rendered for the third-party releases).
    priming: Vec<(String, String)>,
    stack_vars: BTreeMap<&'static str, Vec<tfvars::Variable>>,
    values_schema: Value,
    /// The chart's own `values.yaml`, which Helm lays the rendered values over.
    chart_defaults: yaml::Node,
}

const BACKEND_TEMPLATE: &str = "stacks/ecomctl.backend.hcl.tera";
const VALUES_TEMPLATE: &str = "charts/platform/ecomctl.values.yaml.tera";
const VALUES_SCHEMA: &str = "charts/platform/values.schema.json";
const CHART_VALUES: &str = "charts/platform/values.yaml";

fn tfvars_template(stack: &str) -> String {
    format!("stacks/{stack}/ecomctl.tfvars.json.tera")
}

fn tera_message(e: &tera::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    parts.dedup();
    parts.join(": ")
}

impl Renderer {
    pub fn new(root: &Path) -> Result<Renderer, RenderError> {
        let mut tera = tera::Tera::default();
        let mut add = |name: &str| -> Result<(), RenderError> {
            let path = root.join(name);
            let text = std::fs::read_to_string(&path)
                .map_err(|source| RenderError::ReadTemplate { path, source })?;
            tera.add_raw_template(name, &text)
                .map_err(|e| RenderError::Template {
                    template: name.into(),
                    message: tera_message(&e),
                })
        };
        add(BACKEND_TEMPLATE)?;
        add(VALUES_TEMPLATE)?;
        let mut stack_vars = BTreeMap::new();
        for stage in Stage::ALL {
            if let Some(stack) = stage.stack() {
                add(&tfvars_template(stack))?;
                stack_vars.insert(
                    stack,
                    tfvars::stack_variables(&root.join("stacks").join(stack))?,
                );
            }
        }
        let mut priming = Vec::new();
        for sub in ["priming", "addons"] {
            let dir = root.join("cluster").join(sub);
            let entries = std::fs::read_dir(&dir).map_err(|source| RenderError::ReadTemplate {
                path: dir.clone(),
                source,
            })?;
            for entry in entries.filter_map(Result::ok) {
                let file = entry.file_name().to_string_lossy().to_string();
                if let Some(out) = file.strip_suffix(".tera") {
                    let name = format!("cluster/{sub}/{file}");
                    add(&name)?;
                    priming.push((name, format!("{sub}/{out}")));
                }
            }
        }
        priming.sort();
        let schema_path = root.join(VALUES_SCHEMA);
        let schema_text =
            std::fs::read_to_string(&schema_path).map_err(|source| RenderError::ReadTemplate {
                path: schema_path.clone(),
                source,
            })?;
        let values_schema =
            serde_json::from_str(&schema_text).map_err(|e| RenderError::Template {
                template: VALUES_SCHEMA.into(),
                message: e.to_string(),
            })?;
        let defaults_path = root.join(CHART_VALUES);
        let defaults_text = std::fs::read_to_string(&defaults_path).map_err(|source| {
            RenderError::ReadTemplate {
                path: defaults_path,
                source,
            }
        })?;
        let chart_defaults =
            yaml::parse_one(&defaults_text).map_err(|e| RenderError::Template {
                template: CHART_VALUES.into(),
                message: format!("{}:{}: {}", e.line, e.column, e.message),
            })?;
        Ok(Renderer {
            root: root.to_path_buf(),
            tera,
            priming,
            stack_vars,
            values_schema,
            chart_defaults,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The variables a stack declares.
    pub fn stack_variables(&self, stack: &str) -> &[tfvars::Variable] {
        self.stack_vars.get(stack).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Renders every (scope, stage) the options select, checking each file. Nothing is written.
    pub fn render(
        &self,
        loaded: &Loaded,
        opts: &RenderOptions,
    ) -> Result<Vec<RenderedFile>, RenderError> {
        let config = &loaded.config;
        if let Some(name) = &opts.env {
            if !config.environments.contains_key(name) {
                let hint = crate::diag::nearest(name, config.env_names())
                    .map(|n| format!("; did you mean `{n}`?"))
                    .unwrap_or_else(|| {
                        format!(
                            "; the environments are {}",
                            config.env_names().collect::<Vec<_>>().join(", ")
                        )
                    });
                return Err(RenderError::UnknownEnv {
                    name: name.clone(),
                    hint,
                });
            }
        }
        let wanted = |s: Stage| opts.stage.is_none_or(|w| w == s);
        let mut targets: Vec<(String, Stage)> = Vec::new();
        if wanted(Stage::Bootstrap) && (opts.env.is_none() || opts.stage == Some(Stage::Bootstrap))
        {
            targets.push((GLOBAL_SCOPE.to_string(), Stage::Bootstrap));
        }
        for env in config
            .env_names()
            .filter(|e| opts.env.as_deref().is_none_or(|w| w == *e))
        {
            for stage in Stage::ALL
                .into_iter()
                .filter(|s| !s.is_global() && wanted(*s))
            {
                targets.push((env.to_string(), stage));
            }
        }
        let mut files = Vec::new();
        let mut problems = Vec::new();
        for (scope, stage) in targets {
            let ctx = context::build(loaded, &scope, stage, opts);
            let tctx = tera::Context::from_value(ctx.value).map_err(|e| RenderError::Template {
                template: "context".into(),
                message: tera_message(&e),
            })?;
            let upstream = context::Upstream::load(&opts.state_dir, &scope);
            let mut tera = self.tera.clone();
            tera.register_function("upstream", upstream);
            let dir = PathBuf::from(&scope).join(stage.name());
            let render = |template: &str, out: &str| -> Result<RenderedFile, RenderError> {
                let contents = tera
                    .render(template, &tctx)
                    .map_err(|e| RenderError::Template {
                        template: template.to_string(),
                        message: tera_message(&e),
                    })?;
                let pending = contents.matches("<pending: ").count();
                Ok(RenderedFile {
                    path: dir.join(out),
                    contents,
                    template: template.to_string(),
                    scope: scope.clone(),
                    stage,
                    pending,
                })
            };
            match stage.stack() {
                Some(stack) => {
                    let template = tfvars_template(stack);
                    let mut tfvars = render(&template, "terraform.tfvars.json")?;
                    self.check_tfvars(stack, &mut tfvars, &mut problems);
                    files.push(tfvars);
                    files.push(render(BACKEND_TEMPLATE, "backend.hcl")?);
                }
                None => {
                    let values = render(VALUES_TEMPLATE, "values.yaml")?;
                    self.check_values(&values, &mut problems);
                    files.push(values);
                    for (template, out) in &self.priming {
                        let file = render(template, out)?;
                        if out.starts_with("addons/") && file.contents.trim().is_empty() {
                            // A release the config does not pin, or another engine.
                            continue;
                        }
                        if out.ends_with(".values.yaml") {
                            check_yaml(&file, &mut problems);
                        } else {
                            check_manifests(&file, &mut problems);
                        }
                        files.push(file);
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(files)
        } else {
            Err(RenderError::Invalid(problems))
        }
    }

    /// Parses the rendered JSON, writes it back in one canonical layout, and checks it against
    /// the stack's variables. Problems name the template and the variable.
    fn check_tfvars(&self, stack: &str, file: &mut RenderedFile, problems: &mut Vec<Diagnostic>) {
        let template_text =
            std::fs::read_to_string(self.root.join(&file.template)).unwrap_or_default();
        let value: Value = match serde_json::from_str(&file.contents) {
            Ok(v) => v,
            Err(e) => {
                problems.push(Diagnostic {
                    file: format!("{} (rendered)", file.template),
                    line: e.line(),
                    column: e.column(),
                    field: String::new(),
                    message: format!("not valid JSON: {e}"),
                    hint: Some(
                        "check the template's quoting; use `| json_encode()` for values".into(),
                    ),
                });
                return;
            }
        };
        for (field, message) in tfvars::check_tfvars(self.stack_variables(stack), &value) {
            let var = field.split(['.', '[']).next().unwrap_or_default();
            let (line, column) = locate_text(&template_text, &format!("\"{var}\""));
            problems.push(Diagnostic {
                file: file.template.clone(),
                line,
                column,
                field,
                message,
                hint: None,
            });
        }
        let mut pretty = serde_json::to_string_pretty(&value).unwrap_or_default();
        pretty.push('\n');
        file.contents = pretty;
    }

    fn check_values(&self, file: &RenderedFile, problems: &mut Vec<Diagnostic>) {
        let rendered = format!("{} (rendered)", file.template);
        match yaml::parse_one(&file.contents) {
            Err(e) => problems.push(e.diagnostic(&rendered)),
            Ok(node) => {
                // Helm checks the coalesced values, so check the same: chart defaults under ours.
                let merged = yaml::merge(&self.chart_defaults, &node);
                for i in schema_check::check(&self.values_schema, &merged).issues {
                    let ours = i.field.is_empty() || yaml::has_path(&node, &i.field);
                    problems.push(Diagnostic {
                        file: if ours {
                            rendered.clone()
                        } else {
                            CHART_VALUES.to_string()
                        },
                        line: i.line,
                        column: i.column,
                        field: i.field,
                        message: format!("{} (values.schema.json)", i.message),
                        hint: i.hint,
                    });
                }
            }
        }
    }
}

/// A values file: one YAML document (or none).
fn check_yaml(file: &RenderedFile, problems: &mut Vec<Diagnostic>) {
    if let Err(e) = yaml::parse_documents(&file.contents) {
        problems.push(e.diagnostic(&format!("{} (rendered)", file.template)));
    }
}

fn check_manifests(file: &RenderedFile, problems: &mut Vec<Diagnostic>) {
    let rendered = format!("{} (rendered)", file.template);
    let docs = match yaml::parse_documents(&file.contents) {
        Ok(d) => d,
        Err(e) => {
            problems.push(e.diagnostic(&rendered));
            return;
        }
    };
    for doc in docs {
        let yaml::NodeKind::Map(entries) = &doc.kind else {
            problems.push(Diagnostic {
                file: rendered.clone(),
                line: doc.line,
                column: doc.column,
                field: String::new(),
                message: "a manifest must be a mapping".into(),
                hint: None,
            });
            continue;
        };
        for key in ["apiVersion", "kind", "metadata"] {
            if !entries
                .iter()
                .any(|(k, _)| matches!(&k.kind, yaml::NodeKind::Scalar { text, .. } if text == key))
            {
                problems.push(Diagnostic {
                    file: rendered.clone(),
                    line: doc.line,
                    column: doc.column,
                    field: key.into(),
                    message: format!("manifest has no `{key}`"),
                    hint: None,
                });
            }
        }
    }
}

/// 1-based line and column of the first occurrence of `needle`, or 1:1.
fn locate_text(text: &str, needle: &str) -> (usize, usize) {
    text.find(needle)
        .map(|at| {
            let before = &text[..at];
            let line = before.matches('\n').count() + 1;
            let column = at - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
            (line, column)
        })
        .unwrap_or((1, 1))
}

/// A rendered file that differs from what is on disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Drift {
    pub path: PathBuf,
    pub missing: bool,
}

/// Compares rendered files with `out_dir`; returns the ones that would change.
pub fn drift(files: &[RenderedFile], out_dir: &Path) -> Vec<Drift> {
    files
        .iter()
        .filter_map(|f| match std::fs::read(out_dir.join(&f.path)) {
            Ok(bytes) if bytes == f.contents.as_bytes() => None,
            Ok(_) => Some(Drift {
                path: f.path.clone(),
                missing: false,
            }),
            Err(_) => Some(Drift {
                path: f.path.clone(),
                missing: true,
            }),
        })
        .collect()
}

/// Writes files under `out_dir` (each through a temporary file and a rename). Returns how many
/// changed.
pub fn write(files: &[RenderedFile], out_dir: &Path) -> Result<usize, RenderError> {
    let mut changed = 0;
    for f in files {
        let path = out_dir.join(&f.path);
        if std::fs::read(&path).is_ok_and(|b| b == f.contents.as_bytes()) {
            continue;
        }
        let werr = |source| RenderError::Write {
            path: path.clone(),
            source,
        };
        // Owner-only, like everything ecomctl keeps.
        if let Some(parent) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(werr)?;
        }
        let tmp = path.with_extension("ecomctl-tmp");
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut file| std::io::Write::write_all(&mut file, f.contents.as_bytes()))
            .map_err(werr)?;
        std::fs::rename(&tmp, &path).map_err(werr)?;
        changed += 1;
    }
    Ok(changed)
}
