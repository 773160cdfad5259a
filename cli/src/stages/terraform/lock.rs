//! Terraform's state lock, explained: when Terraform answers "Error acquiring the state lock",
//! ecomctl reads the lock's details from its output, records them beside the stage
//! (`lock-held.json`, for `ecomctl unlock`), and says who holds it, since when, for what, and
//! whether a Terraform of this stage still runs on this host.

use super::{failed, TerraformDriver};
use crate::exit::{Exit, FAILURE};
use crate::stages::dir::StageDir;
use crate::stages::driver::{Cx, StageDriver, StateHome};
use crate::stages::events::Event;
use crate::stages::record;
use crate::stages::{check_interrupt, Target};
use crate::tools::process;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The lock as Terraform describes it (`Lock Info:`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub path: String,
    pub operation: String,
    pub who: String,
    pub version: String,
    pub created: String,
}

const LOCK_ERROR: &str = "Error acquiring the state lock";

/// The lock's details from Terraform's output, when the output is a lock refusal.
pub fn parse(lines: &[String]) -> Option<LockInfo> {
    if !lines.iter().any(|l| l.contains(LOCK_ERROR)) {
        return None;
    }
    let mut info = LockInfo::default();
    for line in lines {
        let Some((key, value)) = line.trim().split_once(':') else {
            continue;
        };
        let value = value.trim().to_string();
        match key.trim() {
            "ID" => info.id = value,
            "Path" => info.path = value,
            "Operation" => info.operation = value,
            "Who" => info.who = value,
            "Version" => info.version = value,
            "Created" => info.created = value,
            _ => {}
        }
    }
    (!info.id.is_empty()).then_some(info)
}

/// This host's name, as Terraform writes it in `Who: user@host`.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Processes on this host running with `TF_DATA_DIR=<data_dir>`: Terraform working on this
/// very stage (ecomctl gives each stage its own data directory).
pub fn live_terraform(data_dir: &Path) -> Vec<u32> {
    let wanted = format!("TF_DATA_DIR={}", data_dir.display());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == wanted.as_bytes()))
        })
        .collect();
    pids.sort_unstable();
    pids
}

/// Who holds the lock and whether that run can still be alive, in words.
pub fn describe(info: &LockInfo, live: &[u32]) -> String {
    let host = info.who.rsplit_once('@').map(|(_, h)| h).unwrap_or("");
    let alive = if !live.is_empty() {
        format!(
            "a Terraform of this stage still runs on this host (pid {})",
            live.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else if host == hostname() {
        "no Terraform of this stage runs on this host any more: the lock was left by a run that was killed".to_string()
    } else {
        format!("it was taken on another host ({host}); ecomctl cannot see from here whether that run still lives")
    };
    format!(
        "held by {} since {} for {} (Terraform {}, lock ID {}, {}); {alive}",
        info.who, info.created, info.operation, info.version, info.id, info.path
    )
}

/// The error for a stage whose state lock is held: recorded for `ecomctl unlock`, explained.
pub fn held(dir: &StageDir, t: &Target, env: &str, info: &LockInfo) -> anyhow::Error {
    let _ = record::write_json(&dir.lock_held(), info);
    let live = live_terraform(&dir.tf_data_dir());
    let hint = if live.is_empty() {
        format!(
            "once you are sure no run is still working on it, `ecomctl unlock -e {env} --stage {}` releases it",
            t.stage
        )
    } else {
        "wait for that run to finish (or stop it with Ctrl-C / kill -INT), then rerun".to_string()
    };
    Exit::new(
        FAILURE,
        format!(
            "the Terraform state of {} is locked: {}",
            t.label(),
            describe(info, &live)
        ),
    )
    .hint(hint)
    .into()
}

impl TerraformDriver {
    /// `ecomctl unlock`: releases the recorded state lock of a stage, after saying who holds
    /// it and asking (or with `force`). Never while a Terraform of the stage runs here.
    pub fn unlock(&self, cx: &Cx, force: bool) -> Result<()> {
        let t = cx.target;
        let Some(info) = record::read_json::<LockInfo>(&cx.dir.lock_held())? else {
            return Err(Exit::new(
                FAILURE,
                format!("no held state lock is recorded for {}", t.label()),
            )
            .hint(format!(
                "a run records the lock when Terraform refuses it; `ecomctl plan -e {} --stage {}` shows whether one is held",
                cx.env, t.stage
            ))
            .into());
        };
        let live = live_terraform(&cx.dir.tf_data_dir());
        let what = describe(&info, &live);
        if !live.is_empty() {
            return Err(Exit::new(
                FAILURE,
                format!("the state lock of {} is in use: {what}", t.label()),
            )
            .hint("wait for that run to finish, or stop it (kill -INT) so it releases the lock itself")
            .into());
        }
        cx.ui
            .warn(&format!("the state lock of {} is {what}", t.label()));
        if !force {
            let question = format!(
                "Release lock {} of {}? Type `{}`:",
                info.id,
                t.label(),
                t.scope
            );
            let confirmed = cx.ui.interactive()
                && cx.ui.confirm(&question, &t.scope, &process::interrupted) == Some(true);
            check_interrupt()?;
            if !confirmed {
                return Err(Exit::new(FAILURE, format!("the lock of {} was not released", t.label()))
                    .hint("confirm on a terminal, or pass --force once you are sure the run that held it is gone")
                    .into());
            }
        }
        self.inputs(cx, true)?;
        cx.ws
            .preflight(t, self.state_home(cx)? == StateHome::Bucket, cx.ui)?;
        self.init(cx)?;
        self.tool(cx)?
            .force_unlock(&info.id, &mut cx.ws.on_line(cx.ui, t))
            .map_err(|e| failed(cx, e, format!("releasing the state lock of {}", t.label())))?;
        let _ = std::fs::remove_file(cx.dir.lock_held());
        cx.ui.emit(&Event::Unlocked {
            target: t,
            lock_id: &info.id,
        });
        cx.ui
            .status("unlocked", &format!("{} (lock {})", t.label(), info.id));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTPUT: &str = "Error: Error acquiring the state lock

Error message: ConditionalCheckFailedException: The conditional request failed
Lock Info:
  ID:        9db590f1-b6fe-c5f2-2678-8804f089deba
  Path:      shop-tfstate/shop/nonprod/app/terraform.tfstate
  Operation: OperationTypeApply
  Who:       ci@runner-7
  Version:   1.11.4
  Created:   2026-12-02 10:00:00.1 +0000 UTC
  Info:

Terraform acquires a state lock to protect the state from being written";

    #[test]
    fn a_lock_refusal_is_read_and_explained() {
        let lines: Vec<String> = OUTPUT.lines().map(String::from).collect();
        let info = parse(&lines).unwrap();
        assert_eq!(info.id, "9db590f1-b6fe-c5f2-2678-8804f089deba");
        assert_eq!(info.who, "ci@runner-7");
        assert_eq!(info.operation, "OperationTypeApply");
        let text = describe(&info, &[]);
        assert!(text.contains("another host (runner-7)"), "{text}");
        assert!(describe(&info, &[42]).contains("pid 42"));
        assert_eq!(parse(&["Error: something else".to_string()]), None);
    }

    #[test]
    fn live_terraform_finds_a_process_by_its_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join(".terraform");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env("TF_DATA_DIR", &data)
            .spawn()
            .unwrap();
        // The new process's environment can be unreadable for a moment after spawn on a loaded
        // machine: look again for up to five seconds.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut found = live_terraform(&data);
        while found.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
            found = live_terraform(&data);
        }
        let _ = child.kill();
        assert_eq!(found, vec![child.id()]);
        child.wait().unwrap();
        assert!(live_terraform(&data).is_empty());
    }
}
