//! Everything the checks read, resolved once before any of them runs (flags, environment, the
//! config, the policies, where things live). Shared read-only by the groups' threads.

use crate::aws::RoleMode;
use crate::config::{ConfigError, Loaded};
use crate::policy::{Bundle, Date, Waivers};
use std::path::PathBuf;

#[derive(Debug)]
pub struct Context {
    /// The config, or why it does not load (the config group reports it; groups that need it
    /// are skipped).
    pub config: Result<Loaded, ConfigFailure>,
    pub config_path: PathBuf,
    /// The environments to check (all of the config's, or the one `-e` names).
    pub envs: Vec<String>,
    /// `.ecomctl/` beside the config.
    pub state_dir: PathBuf,
    /// The directory holding `stacks/`, `charts/` and `cluster/`, when one is found.
    pub content_root: Option<PathBuf>,
    /// The terraform binary (`--terraform`, `ECOMCTL_TERRAFORM`, else PATH).
    pub terraform: Option<PathBuf>,
    /// helm, kubectl and checkov: the flag or its `ECOMCTL_*`, else PATH.
    pub helm: Option<PathBuf>,
    pub kubectl: Option<PathBuf>,
    pub checkov: Option<PathBuf>,
    pub offline: bool,
    pub bundle: Bundle,
    pub waivers: Waivers,
    pub today: Date,
    /// `AWS_ENDPOINT_URL` (moto in tests).
    pub aws_endpoint: Option<String>,
    pub role_mode: RoleMode,
    /// `CI=true`: nobody is at the keyboard (MFA is a person's matter).
    pub ci: bool,
    /// The saved plans' policy findings, shared by the iac and edge groups.
    pub plan_findings: crate::doctor::checks::plans::Memo,
}

/// Why the config did not load: the message and each diagnostic as one line.
#[derive(Debug, Clone)]
pub struct ConfigFailure {
    pub message: String,
    pub lines: Vec<String>,
}

impl From<&ConfigError> for ConfigFailure {
    fn from(e: &ConfigError) -> ConfigFailure {
        let mut message = e.to_string();
        if let ConfigError::Read { source, .. } = e {
            message = format!("{message}: {source}");
        }
        ConfigFailure {
            message,
            lines: e
                .diagnostics()
                .iter()
                .map(|d| {
                    format!(
                        "{}:{}:{} {}: {}",
                        d.file, d.line, d.column, d.field, d.message
                    )
                })
                .collect(),
        }
    }
}

impl Context {
    pub fn loaded(&self) -> Option<&Loaded> {
        self.config.as_ref().ok()
    }
}
