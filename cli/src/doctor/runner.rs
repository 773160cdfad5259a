//! Runs the selected groups side by side, one thread each, with a deadline: a group that has
//! not answered by then is reported as timed out (its checks as errors) and left behind.

use super::catalogue::{self, Group};
use super::checks;
use super::context::Context;
use super::model::{GroupRun, Outcome};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// A group slower than this is called out in the report.
pub const SLOW: Duration = Duration::from_secs(5);

/// What came back from one group.
#[derive(Debug)]
pub struct Ran {
    pub group: Group,
    pub run: GroupRun,
    pub elapsed: Duration,
    pub timed_out: bool,
}

/// Runs `groups`, reporting each as it finishes through `done`; results in `groups` order.
pub fn run_groups(
    ctx: Arc<Context>,
    groups: &[Group],
    timeout: Duration,
    done: &mut dyn FnMut(&Ran),
) -> Vec<Ran> {
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    for &group in groups {
        let tx = tx.clone();
        let ctx = Arc::clone(&ctx);
        std::thread::spawn(move || {
            let t = Instant::now();
            let run =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| checks::run(group, &ctx)))
                    .unwrap_or_else(|_| {
                        all_errors(
                            group,
                            "internal error: the group's checks crashed (please report it)",
                        )
                    });
            let _ = tx.send(Ran {
                group,
                run,
                elapsed: t.elapsed(),
                timed_out: false,
            });
        });
    }
    drop(tx);
    let deadline = started + timeout;
    let mut results: Vec<Ran> = Vec::new();
    while results.len() < groups.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(r) => {
                done(&r);
                results.push(r);
            }
            Err(_) => break,
        }
    }
    for &group in groups {
        if !results.iter().any(|r| r.group == group) {
            let msg = format!("timed out after {} s", timeout.as_secs());
            let r = Ran {
                group,
                run: all_errors(group, &msg),
                elapsed: timeout,
                timed_out: true,
            };
            done(&r);
            results.push(r);
        }
    }
    results.sort_by_key(|r| groups.iter().position(|g| *g == r.group));
    results
}

/// Every check of `group` as an error with one message.
fn all_errors(group: Group, msg: &str) -> GroupRun {
    GroupRun {
        outcomes: catalogue::of_group(group)
            .map(|c| Outcome::error(&c.id, "-", msg))
            .collect(),
        evidence: Vec::new(),
    }
}
