//! Finding Terraform, asking its version, and running it for one (scope, stage).

use super::process::{self, ProcessError, Spec, Stream};
use super::version::Version;
use serde_json::Value;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The terraform binary: `ECOMCTL_TERRAFORM`, else `terraform` on PATH.
pub fn find() -> Option<PathBuf> {
    match std::env::var_os("ECOMCTL_TERRAFORM") {
        Some(p) => Some(PathBuf::from(p)),
        None => which::which("terraform").ok(),
    }
}

/// `terraform version -json`, read. `None` when the binary is missing or answers oddly.
pub fn version(bin: &std::path::Path) -> Option<Version> {
    let started = std::time::Instant::now();
    let out = Command::new(bin)
        .args(["version", "-json"])
        .env("CHECKPOINT_DISABLE", "1")
        .output();
    process::add_tool_time(started.elapsed());
    let out = out.ok()?;
    if !out.status.success() {
        return None;
    }
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Version::parse(doc.get("terraform_version")?.as_str()?)
}

/// How `init` connects the working directory to its state.
#[derive(Debug, Clone)]
pub enum Backend {
    /// `-backend-config=<file> -reconfigure`: the normal case.
    Config(PathBuf),
    /// `-backend-config=<file> -migrate-state -force-copy`: move existing state (bootstrap's local
    /// state into the bucket it created).
    Migrate(PathBuf),
    /// Whatever the configuration (or an override file) declares, with no extra settings.
    AsDeclared,
    /// `-migrate-state -force-copy` into whatever is declared (bootstrap's state back out of
    /// the bucket into the local override, before the bucket is destroyed).
    MigrateToDeclared,
}

/// Terraform for one (scope, stage): its own data directory, a shared plugin cache, no prompts,
/// no colour, no update checks. Every path it is given is absolute.
#[derive(Debug, Clone)]
pub struct Terraform {
    pub bin: PathBuf,
    /// The stack directory Terraform runs in.
    pub workdir: PathBuf,
    /// `TF_DATA_DIR` for this (scope, stage).
    pub data_dir: PathBuf,
    /// `TF_PLUGIN_CACHE_DIR`, shared by every stage.
    pub plugin_cache: PathBuf,
    /// Extra environment (`TF_VAR_...` secrets).
    pub env: Vec<(OsString, OsString)>,
    pub grace: Duration,
    /// Silence after which Terraform is stopped as hung.
    pub stall: Option<Duration>,
}

/// What a plan found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanResult {
    NoChanges,
    Changes,
}

impl Terraform {
    fn spec(&self, verb: &str) -> Spec {
        let mut spec = Spec::new(format!("terraform {verb}"), &self.bin).arg(verb);
        spec.cwd = Some(self.workdir.clone());
        spec.grace = self.grace;
        spec.quiet_limit = self.stall;
        spec.env = vec![
            ("TF_DATA_DIR".into(), self.data_dir.clone().into_os_string()),
            (
                "TF_PLUGIN_CACHE_DIR".into(),
                self.plugin_cache.clone().into_os_string(),
            ),
            ("TF_IN_AUTOMATION".into(), "1".into()),
            ("TF_INPUT".into(), "0".into()),
            ("CHECKPOINT_DISABLE".into(), "1".into()),
        ];
        spec.env.extend(self.env.iter().cloned());
        spec
    }

    fn prepare_dirs(&self) -> Result<(), ProcessError> {
        for dir in [&self.data_dir, &self.plugin_cache] {
            std::fs::create_dir_all(dir).map_err(|e| ProcessError {
                desc: format!("terraform (creating {})", dir.display()),
                code: None,
                signal: None,
                tail: Default::default(),
                interrupted: false,
                stalled: None,
                spawn: Some(e),
            })?;
        }
        Ok(())
    }

    pub fn init(
        &self,
        backend: &Backend,
        on_line: &mut dyn FnMut(Stream, &str),
    ) -> Result<(), ProcessError> {
        self.prepare_dirs()?;
        let mut spec = self.spec("init").args(["-no-color", "-input=false"]);
        match backend {
            Backend::Config(file) => {
                spec = spec.arg(backend_flag(file)).arg("-reconfigure");
            }
            Backend::Migrate(file) => {
                spec = spec
                    .arg(backend_flag(file))
                    .args(["-migrate-state", "-force-copy"]);
            }
            Backend::AsDeclared => {}
            Backend::MigrateToDeclared => {
                spec = spec.args(["-migrate-state", "-force-copy"]);
            }
        }
        process::run(&spec, on_line).map(|_| ())
    }

    /// `plan -out=<plan>` with the rendered variables (`-destroy` for a destroy plan); whether
    /// anything would change.
    pub fn plan(
        &self,
        var_file: &Path,
        plan_file: &Path,
        destroy: bool,
        on_line: &mut dyn FnMut(Stream, &str),
    ) -> Result<PlanResult, ProcessError> {
        let mut var = OsString::from("-var-file=");
        var.push(var_file);
        let mut out = OsString::from("-out=");
        out.push(plan_file);
        let mut spec = self
            .spec("plan")
            .args(["-no-color", "-input=false", "-detailed-exitcode"])
            .arg(var)
            .arg(out);
        if destroy {
            spec = spec.arg("-destroy");
        }
        spec.ok_codes = vec![2];
        let output = process::run(&spec, on_line)?;
        Ok(if output.code == 2 {
            PlanResult::Changes
        } else {
            PlanResult::NoChanges
        })
    }

    /// `show -json <plan>`: the plan document policies and summaries read.
    pub fn show_json(
        &self,
        plan_file: &Path,
        on_line: &mut dyn FnMut(Stream, &str),
    ) -> Result<Value, ProcessError> {
        let mut spec = self
            .spec("show")
            .args(["-no-color", "-json"])
            .arg(plan_file.as_os_str());
        spec.capture_stdout = true;
        let out = process::run(&spec, on_line)?;
        parse_json(&spec.desc, &out.stdout)
    }

    /// `apply <plan>`: only ever a saved plan.
    pub fn apply(
        &self,
        plan_file: &Path,
        on_line: &mut dyn FnMut(Stream, &str),
    ) -> Result<(), ProcessError> {
        let spec = self
            .spec("apply")
            .args(["-no-color", "-input=false", "-auto-approve"])
            .arg(plan_file.as_os_str());
        process::run(&spec, on_line).map(|_| ())
    }

    /// `state push <file>`: the state a failed apply could not save.
    pub fn state_push(
        &self,
        file: &Path,
        on_line: &mut dyn FnMut(Stream, &str),
    ) -> Result<(), ProcessError> {
        let spec = self.spec("state").arg("push").arg(file.as_os_str());
        process::run(&spec, on_line).map(|_| ())
    }

    /// `force-unlock -force <id>`: releases a state lock its holder left behind.
    pub fn force_unlock(
        &self,
        lock_id: &str,
        on_line: &mut dyn FnMut(Stream, &str),
    ) -> Result<(), ProcessError> {
        let spec = self.spec("force-unlock").args(["-force", lock_id]);
        process::run(&spec, on_line).map(|_| ())
    }

    /// `output -json`: every output of the stage, in Terraform's own format.
    pub fn output_json(
        &self,
        on_line: &mut dyn FnMut(Stream, &str),
    ) -> Result<Value, ProcessError> {
        let mut spec = self.spec("output").args(["-no-color", "-json"]);
        spec.capture_stdout = true;
        let out = process::run(&spec, on_line)?;
        parse_json(&spec.desc, &out.stdout)
    }
}

fn backend_flag(file: &Path) -> OsString {
    let mut flag = OsString::from("-backend-config=");
    flag.push(file);
    flag
}

fn parse_json(desc: &str, bytes: &[u8]) -> Result<Value, ProcessError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let text = String::from_utf8_lossy(bytes);
        let mut lines: Vec<String> = text
            .lines()
            .rev()
            .take(process::TAIL_LINES)
            .map(str::to_string)
            .collect();
        lines.push(format!("(its output is not JSON: {e})"));
        ProcessError {
            desc: desc.to_string(),
            code: None,
            signal: None,
            tail: process::Tail(lines.into_iter().rev().collect()),
            interrupted: false,
            stalled: None,
            spawn: None,
        }
    })
}
