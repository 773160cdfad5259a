//! The only place that prints.
//!
//! Data goes to stdout; progress, diagnostics and errors to stderr. With `--output json` every
//! message is instead one JSON object per line (NDJSON) on stdout, each with an `event` field.
//! Colour is used only on a terminal and never under `NO_COLOR`.
//!
//! On a terminal (human output, not `-q`, `TERM` not `dumb`) a live line sits under the log
//! while something is under way: a status whose verb ends in `-ing` (`planning`, `applying`,
//! `checking`, `waiting`, `migrating`) starts it, with a spinner, the elapsed time and the
//! latest line of Terraform's output; the next status of any other verb clears it. Nothing
//! of it reaches a pipe, a file or `--output json`.

use crate::diag::Diagnostic;
use serde_json::{json, Value};
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Clone)]
pub struct Ui {
    format: OutputFormat,
    color: bool,
    quiet: bool,
    verbose: u8,
    /// The live line, when stderr is a terminal that can show one.
    live: Option<Live>,
}

/// The spinner line under the log, and what it is showing.
#[derive(Debug, Clone)]
struct Live {
    current: Arc<Mutex<Option<(indicatif::ProgressBar, String)>>>,
    color: bool,
}

impl Live {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(indicatif::ProgressBar, String)>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn start(&self, activity: String) {
        let mut cur = self.lock();
        if let Some((bar, _)) = cur.take() {
            bar.finish_and_clear();
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template(if self.color {
                "{spinner} {msg} {elapsed:.dim}"
            } else {
                "{spinner} {msg} {elapsed}"
            })
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_message(activity.clone());
        bar.enable_steady_tick(Duration::from_millis(120));
        *cur = Some((bar, activity));
    }

    fn stop(&self) {
        if let Some((bar, _)) = self.lock().take() {
            bar.finish_and_clear();
        }
    }

    /// Shows a tool's latest line beside the activity, cut to the terminal's width.
    fn note(&self, line: &str) {
        if let Some((bar, activity)) = self.lock().as_ref() {
            let width = console_width().saturating_sub(activity.chars().count() + 16);
            let line: String = line.trim().chars().take(width).collect();
            if !line.is_empty() {
                bar.set_message(if self.color {
                    format!("{activity}  \x1b[2m{line}\x1b[0m")
                } else {
                    format!("{activity}  {line}")
                });
            }
        }
    }

    /// Writes with the live line out of the way.
    fn print(&self, write: impl FnOnce()) {
        match self.lock().as_ref() {
            Some((bar, _)) => bar.suspend(write),
            None => write(),
        }
    }
}

fn console_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100)
}

#[derive(Clone, Copy)]
enum Style {
    Error,
    Warn,
    Ok,
    Dim,
    Bold,
}

impl Ui {
    pub fn new(format: OutputFormat, quiet: bool, verbose: u8) -> Ui {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = format == OutputFormat::Human && !no_color && std::io::stderr().is_terminal();
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        let live =
            (format == OutputFormat::Human && !quiet && !dumb && std::io::stderr().is_terminal())
                .then(|| Live {
                    current: Arc::default(),
                    color,
                });
        Ui {
            format,
            color,
            quiet,
            verbose,
            live,
        }
    }

    pub fn json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    pub fn verbose(&self) -> u8 {
        self.verbose
    }

    fn paint(&self, style: Style, text: &str) -> String {
        if !self.color || text.is_empty() {
            return text.to_string();
        }
        let code = match style {
            Style::Error => "1;31",
            Style::Warn => "1;33",
            Style::Ok => "1;32",
            Style::Dim => "2",
            Style::Bold => "1",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    fn stderr_line(&self, line: &str) {
        let write = || {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        };
        match &self.live {
            Some(live) => live.print(write),
            None => write(),
        }
    }

    /// Emits one NDJSON event (JSON mode only).
    pub fn event(&self, name: &str, fields: Value) {
        if !self.json() {
            return;
        }
        let mut obj = json!({ "event": name });
        if let (Some(o), Value::Object(f)) = (obj.as_object_mut(), fields) {
            o.extend(f);
        }
        let _ = writeln!(std::io::stdout().lock(), "{obj}");
    }

    /// Emits one typed NDJSON event (JSON mode only), e.g. a `stages::events::Event`; the
    /// value carries its own `event` field.
    pub fn emit(&self, event: &impl serde::Serialize) {
        if !self.json() {
            return;
        }
        if let Ok(line) = serde_json::to_string(event) {
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        }
    }

    /// Raw data for stdout (a schema, completions, a file list). Ignored in JSON mode, where the
    /// same data travels in events.
    pub fn data(&self, text: &str) {
        if self.json() {
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = out.write_all(b"\n");
        }
    }

    /// A line of progress or a result, e.g. `ok  ecomctl.yaml is valid`.
    pub fn status(&self, verb: &str, message: &str) {
        if self.json() || self.quiet {
            return;
        }
        self.stderr_line(&format!("{:>10} {message}", self.paint(Style::Ok, verb)));
        if let Some(live) = &self.live {
            if verb.ends_with("ing") {
                live.start(format!("{verb} {message}"));
            } else {
                live.stop();
            }
        }
    }

    /// Ends the live line (a command calls this before its last words).
    pub fn settle(&self) {
        if let Some(live) = &self.live {
            live.stop();
        }
    }

    /// Detail shown only with `-v`.
    pub fn detail(&self, message: &str) {
        if self.json() || self.verbose == 0 {
            return;
        }
        self.stderr_line(&self.paint(Style::Dim, message));
    }

    pub fn warn(&self, message: &str) {
        if self.json() {
            self.event("warning", json!({ "message": message }));
        } else {
            self.stderr_line(&format!(
                "{}: {message}",
                self.paint(Style::Warn, "warning")
            ));
        }
    }

    /// One line of a tool's output (Terraform's, while it runs). Shown with `-v`; with
    /// `--output json -v` it travels as an `output` event.
    pub fn tool_line(&self, scope: &str, stage: &str, stderr: bool, line: &str) {
        if self.verbose == 0 {
            if let Some(live) = &self.live {
                live.note(line);
            }
            return;
        }
        if self.json() {
            self.event(
                "output",
                json!({ "scope": scope, "stage": stage, "stream": if stderr { "stderr" } else { "stdout" }, "line": line }),
            );
            return;
        }
        self.stderr_line(&format!("{} {line}", self.paint(Style::Dim, "  |")));
    }

    /// Whether a question can be asked: a terminal on stdin and stderr, and not JSON mode.
    pub fn interactive(&self) -> bool {
        !self.json() && std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }

    /// Asks on the terminal: `Some(true)` only when the answer is exactly `expected`;
    /// `None` when `stop()` turns true while waiting (Ctrl-C at the prompt).
    pub fn confirm(&self, question: &str, expected: &str, stop: &dyn Fn() -> bool) -> Option<bool> {
        self.settle();
        {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "{} ", self.paint(Style::Bold, question));
            let _ = err.flush();
        }
        // Read on a thread so an interrupt is noticed without waiting for Enter.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut answer = String::new();
            let ok = std::io::stdin().read_line(&mut answer).is_ok();
            let _ = tx.send(ok.then_some(answer));
        });
        loop {
            match rx.recv_timeout(std::time::Duration::from_millis(100)) {
                Ok(answer) => return Some(answer.is_some_and(|a| a.trim() == expected)),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) if stop() => {
                    self.stderr_line("");
                    return None;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Some(false),
            }
        }
    }

    /// Problems in files, one per line, each with its position, field and hint.
    pub fn diagnostics(&self, diags: &[Diagnostic]) {
        for d in diags {
            if self.json() {
                self.event("diagnostic", serde_json::to_value(d).unwrap_or(Value::Null));
                continue;
            }
            let mut line = format!(
                "{}: {}",
                self.paint(Style::Error, "error"),
                self.paint(Style::Bold, &format!("{}:{}:{}", d.file, d.line, d.column))
            );
            if !d.field.is_empty() {
                line.push_str(&format!(" {}", d.field));
            }
            line.push_str(&format!(": {}", d.message));
            self.stderr_line(&line);
            if let Some(h) = &d.hint {
                self.stderr_line(&format!("  {}: {h}", self.paint(Style::Dim, "hint")));
            }
        }
    }

    /// The final error: `error: ...`, its causes, and a hint when one is known.
    pub fn error(&self, message: &str, causes: &[String], hint: Option<&str>, code: i32) {
        self.settle();
        if self.json() {
            self.event(
                "error",
                json!({ "message": message, "causes": causes, "hint": hint, "exit_code": code }),
            );
            return;
        }
        self.stderr_line(&format!("{}: {message}", self.paint(Style::Error, "error")));
        if !causes.is_empty() {
            self.stderr_line(&self.paint(Style::Bold, "Caused by:"));
            for c in causes {
                for (i, l) in c.lines().enumerate() {
                    self.stderr_line(&format!("  {}{l}", if i == 0 { "" } else { "  " }));
                }
            }
        }
        if let Some(h) = hint {
            self.stderr_line(&format!("{}: {h}", self.paint(Style::Dim, "hint")));
        }
    }
}
