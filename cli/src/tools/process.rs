//! Running child processes: an argument vector (never a shell), output streamed line by line to
//! a callback, the last lines kept for the error, and Ctrl-C / SIGTERM forwarded to the child,
//! which gets a grace period to finish (Terraform releases its state lock) before it is killed.
//!
//! A child that prints nothing for `Spec::quiet_limit` is taken for hung and stopped the same
//! way (interrupt, grace, kill): Terraform prints a line at least every 10 s while it works.
//!
//! The child runs in its own process group, so a Ctrl-C on the terminal reaches it exactly once:
//! through ecomctl. It is also told to stop (SIGTERM) when ecomctl dies, even by `kill -9`. Terraform treats a second interrupt as "stop now", which must stay the
//! user's choice (a second Ctrl-C is forwarded too).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Once};
use std::time::{Duration, Instant};

/// How many lines of output an error keeps.
pub const TAIL_LINES: usize = 40;

/// The default time a child gets after an interrupt before it is killed.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A child process that could not be started, failed, or was interrupted.
#[derive(Debug)]
pub struct ProcessError {
    /// What was run, for people: `terraform plan`.
    pub desc: String,
    /// The exit code; `None` when the child did not start or died from a signal.
    pub code: Option<i32>,
    /// The signal that ended the child, if one did.
    pub signal: Option<i32>,
    /// The last lines of output (stdout and stderr interleaved as they arrived).
    pub tail: Tail,
    /// The run was stopped by SIGINT/SIGTERM sent to ecomctl.
    pub interrupted: bool,
    /// The child printed nothing for this long and was stopped as hung.
    pub stalled: Option<Duration>,
    /// Why the child could not be started.
    pub spawn: Option<std::io::Error>,
}

impl fmt::Display for ProcessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = &self.spawn {
            return write!(f, "cannot run {}: {e}", self.desc);
        }
        if self.interrupted {
            return write!(f, "{} was interrupted", self.desc);
        }
        if let Some(quiet) = self.stalled {
            return write!(
                f,
                "{} printed nothing for {} s and was stopped as hung (ECOMCTL_STALL_TIMEOUT)",
                self.desc,
                quiet.as_secs_f64()
            );
        }
        match (self.code, self.signal) {
            (Some(c), _) => write!(f, "{} failed (exit {c})", self.desc),
            (None, Some(s)) => write!(f, "{} was killed by signal {s}", self.desc),
            (None, None) => write!(f, "{} failed", self.desc),
        }
    }
}

impl std::error::Error for ProcessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        if self.tail.0.is_empty() {
            None
        } else {
            Some(&self.tail)
        }
    }
}

/// The last lines a child printed. As an error it is the `Caused by:` text under the
/// `ProcessError`, so reports show what the tool said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tail(pub Vec<String>);

impl fmt::Display for Tail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines = &self.0;
        let start = lines
            .iter()
            .position(|l| !l.trim().is_empty())
            .unwrap_or(lines.len());
        let end = lines
            .iter()
            .rposition(|l| !l.trim().is_empty())
            .map_or(start, |i| i + 1);
        f.write_str(&lines[start..end.max(start)].join("\n"))
    }
}

impl std::error::Error for Tail {}

/// What a finished child produced.
#[derive(Debug, Default)]
pub struct Output {
    /// All of stdout, when it was captured instead of streamed.
    pub stdout: Vec<u8>,
    pub code: i32,
}

/// One process to run.
#[derive(Debug, Clone)]
pub struct Spec {
    pub desc: String,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub cwd: Option<PathBuf>,
    pub env: Vec<(OsString, OsString)>,
    /// Collect stdout into `Output::stdout` instead of streaming it line by line.
    pub capture_stdout: bool,
    /// Exit codes that count as success (besides 0).
    pub ok_codes: Vec<i32>,
    /// Time between forwarding an interrupt and killing the child.
    pub grace: Duration,
    /// A child silent on both streams this long is interrupted as hung (`None`: never).
    pub quiet_limit: Option<Duration>,
}

impl Spec {
    pub fn new(desc: impl Into<String>, program: impl Into<PathBuf>) -> Spec {
        Spec {
            desc: desc.into(),
            program: program.into(),
            args: Vec::new(),
            cwd: None,
            env: Vec::new(),
            capture_stdout: false,
            ok_codes: Vec::new(),
            grace: DEFAULT_GRACE,
            quiet_limit: None,
        }
    }

    pub fn arg(mut self, a: impl Into<OsString>) -> Spec {
        self.args.push(a.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Spec
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }
}

static SIGNALS: AtomicUsize = AtomicUsize::new(0);
static TOOL_NANOS: AtomicU64 = AtomicU64::new(0);
static LAST_SIGNAL: AtomicI32 = AtomicI32::new(0);
static INSTALL: Once = Once::new();

/// Catches SIGINT and SIGTERM from now on: they are counted (see `interrupted`) and forwarded to
/// running children instead of ending ecomctl at once. Idempotent.
pub fn install_signal_handlers() {
    INSTALL.call_once(|| {
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // SAFETY: the action only stores into atomics, which is async-signal-safe.
            let registered = unsafe {
                signal_hook::low_level::register(sig, move || {
                    LAST_SIGNAL.store(sig, Ordering::SeqCst);
                    SIGNALS.fetch_add(1, Ordering::SeqCst);
                })
            };
            // Without the handler the default action (ending ecomctl) stays: safe, just abrupt.
            let _ = registered;
        }
    });
}

/// Adds time spent waiting on a tool (for the overhead figure `up` reports).
pub fn add_tool_time(d: Duration) {
    let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    TOOL_NANOS.fetch_add(nanos, Ordering::Relaxed);
}

/// Total time this process has spent waiting on child processes run through this module.
pub fn tool_time() -> Duration {
    Duration::from_nanos(TOOL_NANOS.load(Ordering::Relaxed))
}

/// Whether SIGINT or SIGTERM has reached ecomctl since the handlers were installed.
pub fn interrupted() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}

fn push_tail(tail: &mut VecDeque<String>, line: String) {
    if tail.len() == TAIL_LINES {
        tail.pop_front();
    }
    tail.push_back(line);
}

/// The child gets SIGTERM when ecomctl dies, however it dies (`kill -9` included): Terraform
/// takes SIGTERM as an interrupt, stops gracefully and releases its state lock. Without this
/// a child in its own process group would outlive ecomctl, holding the lock. (Linux: the
/// signal follows the death of the thread that spawned the child, which here is the thread
/// that waits for it.)
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: getpid(2) has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: between fork and exec only async-signal-safe calls are made: prctl(2),
    // getppid(2) and _exit(2); nothing allocates or takes a lock.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // ecomctl died before the line above: do not start at all.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

fn send_signal(pid: u32, sig: i32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) on the child's process group (we made it the leader); no memory involved.
        unsafe {
            libc::kill(-pid, sig);
        }
    }
}

enum Msg {
    Line(Stream, String),
    Stdout(Vec<u8>),
}

fn read_lines<R: Read>(r: R, stream: Stream, tx: mpsc::Sender<Msg>) {
    let mut reader = BufReader::new(r);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&buf);
                let line = text.trim_end_matches(['\n', '\r']).to_string();
                if tx.send(Msg::Line(stream, line)).is_err() {
                    break;
                }
            }
        }
    }
}

/// Runs `spec` to the end. Every output line goes to `on_line` (on the calling thread) and
/// into the tail; a non-success exit, a failed start or an interrupt is a `ProcessError`.
pub fn run(spec: &Spec, on_line: &mut dyn FnMut(Stream, &str)) -> Result<Output, ProcessError> {
    install_signal_handlers();
    let error = |code, signal, tail: &VecDeque<String>, interrupted, spawn| ProcessError {
        desc: spec.desc.clone(),
        code,
        signal,
        tail: Tail(tail.iter().cloned().collect()),
        interrupted,
        stalled: None,
        spawn,
    };
    let mut tail = VecDeque::new();
    if interrupted() {
        return Err(error(None, None, &tail, true, None));
    }
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    die_with_parent(&mut cmd);
    let seen_before = SIGNALS.load(Ordering::SeqCst);
    let started = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Err(error(None, None, &tail, false, Some(e))),
    };
    let (tx, rx) = mpsc::channel();
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        let capture = spec.capture_stdout;
        readers.push(std::thread::spawn(move || {
            if capture {
                let mut all = Vec::new();
                let mut out = out;
                let _ = out.read_to_end(&mut all);
                let _ = tx.send(Msg::Stdout(all));
            } else {
                read_lines(out, Stream::Stdout, tx);
            }
        }));
    }
    if let Some(err) = child.stderr.take() {
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            read_lines(err, Stream::Stderr, tx)
        }));
    }
    drop(tx);

    let mut forwarded = seen_before;
    let mut deadline: Option<Instant> = None;
    let mut killed = false;
    let mut user_interrupt = false;
    let mut stalled = false;
    let mut last_output = Instant::now();
    let mut stdout = Vec::new();
    let mut deliver = |msg: Msg, tail: &mut VecDeque<String>, stdout: &mut Vec<u8>| match msg {
        Msg::Line(stream, line) => {
            on_line(stream, &line);
            push_tail(tail, line);
        }
        Msg::Stdout(bytes) => *stdout = bytes,
    };
    let status = loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(msg) => {
                last_output = Instant::now();
                deliver(msg, &mut tail, &mut stdout)
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // Output closed but the child lives on: poll its exit without spinning.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(Duration::from_millis(5))
            }
        }
        let now_seen = SIGNALS.load(Ordering::SeqCst);
        if now_seen > forwarded {
            forwarded = now_seen;
            user_interrupt = true;
            send_signal(child.id(), LAST_SIGNAL.load(Ordering::SeqCst));
            deadline.get_or_insert_with(|| Instant::now() + spec.grace);
        }
        if let Some(limit) = spec.quiet_limit {
            if deadline.is_none() && last_output.elapsed() >= limit {
                // Hung: stopped as Ctrl-C would stop it, so Terraform can release its lock.
                stalled = true;
                send_signal(child.id(), libc::SIGINT);
                deadline = Some(Instant::now() + spec.grace);
            }
        }
        if let Some(d) = deadline {
            if !killed && Instant::now() >= d {
                send_signal(child.id(), libc::SIGKILL);
                let _ = child.kill();
                killed = true;
            }
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(_) => {
                let _ = child.kill();
                if let Ok(status) = child.wait() {
                    break status;
                }
            }
        }
    };
    // What is still in the pipes arrives right after the child is gone. Something it left
    // running could hold them open, so the rest is waited for only briefly, and the readers are
    // then left to finish on their own.
    let drain_until = Instant::now() + Duration::from_secs(2);
    while let Ok(msg) = rx.recv_timeout(drain_until.saturating_duration_since(Instant::now())) {
        deliver(msg, &mut tail, &mut stdout);
    }
    drop(readers);
    add_tool_time(started.elapsed());
    let code = status.code();
    if user_interrupt {
        return Err(error(code, status.signal(), &tail, true, None));
    }
    if stalled {
        let mut e = error(code, status.signal(), &tail, false, None);
        e.stalled = spec.quiet_limit;
        return Err(e);
    }
    match code {
        Some(c) if c == 0 || spec.ok_codes.contains(&c) => Ok(Output { stdout, code: c }),
        _ => Err(error(code, status.signal(), &tail, false, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Spec {
        Spec::new("test script", "/bin/sh").args(["-c", script])
    }

    #[test]
    fn streams_lines_and_keeps_a_tail() {
        let mut seen = Vec::new();
        let out = run(
            &sh("for i in $(seq 1 100); do echo out$i; done; echo err >&2"),
            &mut |s, l| seen.push((s, l.to_string())),
        )
        .unwrap();
        assert_eq!(out.code, 0);
        assert_eq!(seen.len(), 101);
        assert!(seen.contains(&(Stream::Stderr, "err".into())));
    }

    #[test]
    fn failure_carries_code_and_last_lines() {
        let err = run(
            &sh("for i in $(seq 1 100); do echo line$i; done; exit 3"),
            &mut |_, _| {},
        )
        .unwrap_err();
        assert_eq!(err.code, Some(3));
        assert_eq!(err.tail.0.len(), TAIL_LINES);
        assert_eq!(err.tail.0.last().unwrap(), "line100");
        assert_eq!(err.to_string(), "test script failed (exit 3)");
        assert!(!err.interrupted);
    }

    #[test]
    fn garbage_output_is_read_lossily() {
        let err = run(
            &sh("printf 'a\\377\\376b\\nno newline'; exit 1"),
            &mut |_, _| {},
        )
        .unwrap_err();
        assert_eq!(err.tail.0, vec!["a\u{fffd}\u{fffd}b", "no newline"]);
    }

    #[test]
    fn captures_stdout_and_accepts_listed_codes() {
        let mut spec = sh("echo '{\"a\":1}'; exit 2");
        spec.capture_stdout = true;
        spec.ok_codes = vec![2];
        let out = run(&spec, &mut |_, _| {}).unwrap();
        assert_eq!(out.code, 2);
        assert_eq!(out.stdout, b"{\"a\":1}\n");
    }

    #[test]
    fn a_leftover_grandchild_holding_the_pipes_does_not_hang_the_run() {
        let started = Instant::now();
        let out = run(&sh("echo before; sleep 5 & echo after"), &mut |_, _| {}).unwrap();
        assert_eq!(out.code, 0);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_silent_child_is_interrupted_as_hung() {
        let mut spec =
            sh("trap 'echo got-int; exit 7' INT; echo working; while :; do sleep 0.05; done");
        spec.quiet_limit = Some(Duration::from_millis(300));
        spec.grace = Duration::from_secs(5);
        let started = Instant::now();
        let err = run(&spec, &mut |_, _| {}).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(err.stalled, Some(Duration::from_millis(300)));
        assert!(!err.interrupted);
        // It got an interrupt, not a kill: its handler ran.
        assert_eq!(err.code, Some(7));
        assert_eq!(err.tail.0, vec!["working", "got-int"]);
        assert!(
            err.to_string().contains("printed nothing for 0.3 s"),
            "{err}"
        );
    }

    #[test]
    fn a_child_that_keeps_talking_is_not_hung() {
        let mut spec = sh("for i in 1 2 3 4 5 6; do echo $i; sleep 0.1; done");
        spec.quiet_limit = Some(Duration::from_millis(400));
        assert_eq!(run(&spec, &mut |_, _| {}).unwrap().code, 0);
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let err = run(&Spec::new("nothing", "/nonexistent/tool"), &mut |_, _| {}).unwrap_err();
        assert!(err.spawn.is_some());
        assert!(err.to_string().starts_with("cannot run nothing"));
    }
}
