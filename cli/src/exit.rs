//! Exit codes, as documented in `ecomctl --help` and docs/: 0 ok, 1 failure, 2 usage or config
//! error, 3 policy or doctor findings, 4 changes pending, 130 interrupted.

use crate::config::ConfigError;
use crate::render::RenderError;

pub const OK: i32 = 0;
pub const FAILURE: i32 = 1;
pub const USAGE: i32 = 2;
pub const FINDINGS: i32 = 3;
pub const PENDING: i32 = 4;
pub const INTERRUPTED: i32 = 130;

/// An outcome that is not a crash but must end the run with a particular code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    pub code: i32,
    pub message: String,
    pub hint: Option<String>,
}

impl Exit {
    pub fn new(code: i32, message: impl Into<String>) -> Exit {
        Exit {
            code,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Exit {
        self.hint = Some(hint.into());
        self
    }
}

/// The exit code for an error, from the first cause that decides one.
pub fn code_for(err: &anyhow::Error) -> i32 {
    // An `Exit` given as context (`err.context(Exit::new(..))`) is found only this way.
    if let Some(e) = err.downcast_ref::<Exit>() {
        return e.code;
    }
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<Exit>() {
            return e.code;
        }
        if cause.downcast_ref::<ConfigError>().is_some() {
            return USAGE;
        }
        if let Some(RenderError::UnknownEnv { .. }) = cause.downcast_ref::<RenderError>() {
            return USAGE;
        }
    }
    FAILURE
}

/// A hint attached anywhere in the chain.
pub fn hint_for(err: &anyhow::Error) -> Option<String> {
    if let Some(hint) = err.downcast_ref::<Exit>().and_then(|e| e.hint.clone()) {
        return Some(hint);
    }
    err.chain().find_map(|c| {
        if let Some(ConfigError::Read { path, source }) = c.downcast_ref::<ConfigError>() {
            if source.kind() == std::io::ErrorKind::NotFound {
                return Some(format!(
                    "write a commented starter with `ecomctl init -c {}`, or point -c / ECOMCTL_CONFIG at your config",
                    path.display()
                ));
            }
        }
        c.downcast_ref::<Exit>().and_then(|e| e.hint.clone())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exit_given_as_context_decides_the_code_and_the_hint() {
        let err = anyhow::anyhow!("terraform apply failed")
            .context(Exit::new(FAILURE, "not fully destroyed").hint("rerun it"));
        assert_eq!(code_for(&err), FAILURE);
        assert_eq!(hint_for(&err).as_deref(), Some("rerun it"));
        let usage = anyhow::anyhow!("bad").context(Exit::new(USAGE, "bad input"));
        assert_eq!(code_for(&usage), USAGE);
    }
}
