//! The running services: spawned in their own process groups (so a terminal's Ctrl-C reaches
//! them through ecomctl only, and in order), their output multiplexed line by line, the last
//! lines of each kept for the report when one dies, and all of them stopped together.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::services::Launch;

/// Lines of output kept per service for the report of a death.
pub const TAIL: usize = 20;

pub enum Event {
    Line(usize, String),
}

pub struct Member {
    pub launch: Launch,
    pub child: Child,
    pub tail: VecDeque<String>,
}

/// The services of one `ecomctl dev` run.
pub struct Fleet {
    pub members: Vec<Member>,
    rx: mpsc::Receiver<Event>,
    tx: mpsc::Sender<Event>,
}

/// A service that stopped on its own.
#[derive(Debug)]
pub struct Death {
    pub service: &'static str,
    pub status: ExitStatus,
    pub tail: Vec<String>,
}

impl std::fmt::Display for Death {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.status.code(), self.status.signal()) {
            (Some(c), _) => write!(f, "{} exited (exit {c})", self.service),
            (None, Some(s)) => write!(f, "{} was killed by signal {s}", self.service),
            _ => write!(f, "{} stopped", self.service),
        }
    }
}

fn pump<R: Read + Send + 'static>(r: R, idx: usize, tx: mpsc::Sender<Event>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(r);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf)
                        .trim_end_matches(['\n', '\r'])
                        .to_string();
                    if tx.send(Event::Line(idx, line)).is_err() {
                        break;
                    }
                }
            }
        }
    });
}

impl Default for Fleet {
    fn default() -> Self {
        Self::new()
    }
}

impl Fleet {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        Self {
            members: Vec::new(),
            rx,
            tx,
        }
    }

    /// Starts one service from `bin_dir`.
    pub fn spawn(&mut self, launch: Launch, bin_dir: &Path) -> std::io::Result<u32> {
        let program = bin_dir.join(launch.service.crate_name());
        let mut cmd = Command::new(&program);
        cmd.envs(&launch.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // SAFETY: prctl(2) is async-signal-safe and touches no memory of the parent. It makes
        // the kernel stop the service should ecomctl itself die without cleaning up (kill -9).
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", program.display())))?;
        let idx = self.members.len();
        if let Some(out) = child.stdout.take() {
            pump(out, idx, self.tx.clone());
        }
        if let Some(err) = child.stderr.take() {
            pump(err, idx, self.tx.clone());
        }
        let pid = child.id();
        self.members.push(Member {
            launch,
            child,
            tail: VecDeque::with_capacity(TAIL),
        });
        Ok(pid)
    }

    /// Hands every line that arrives within `wait` to `on_line`, then reports the first
    /// service that has stopped, if any.
    pub fn poll(&mut self, wait: Duration, on_line: &mut dyn FnMut(usize, &str)) -> Option<Death> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(Event::Line(idx, line)) => {
                    on_line(idx, &line);
                    let tail = &mut self.members[idx].tail;
                    if tail.len() == TAIL {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
                Err(_) => break,
            }
        }
        let (dead, status) =
            self.members
                .iter_mut()
                .enumerate()
                .find_map(|(i, m)| match m.child.try_wait() {
                    Ok(Some(status)) => Some((i, status)),
                    _ => None,
                })?;
        // Let its last words arrive before reporting.
        while let Ok(Event::Line(idx, line)) = self.rx.recv_timeout(Duration::from_millis(100)) {
            on_line(idx, &line);
            let tail = &mut self.members[idx].tail;
            if tail.len() == TAIL {
                tail.pop_front();
            }
            tail.push_back(line);
        }
        let m = &self.members[dead];
        Some(Death {
            service: m.launch.service.name(),
            status,
            tail: m.tail.iter().cloned().collect(),
        })
    }

    /// SIGTERM to every service, `grace` to drain, then SIGKILL; every child is reaped.
    pub fn stop(&mut self, grace: Duration, on_line: &mut dyn FnMut(usize, &str)) {
        for m in &self.members {
            signal(m.child.id(), libc::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self
                .members
                .iter_mut()
                .all(|m| matches!(m.child.try_wait(), Ok(Some(_))))
            {
                break;
            }
            while let Ok(Event::Line(idx, line)) = self.rx.recv_timeout(Duration::from_millis(20)) {
                on_line(idx, &line);
            }
        }
        for m in &mut self.members {
            if !matches!(m.child.try_wait(), Ok(Some(_))) {
                signal(m.child.id(), libc::SIGKILL);
            }
            let _ = m.child.wait();
        }
        while let Ok(Event::Line(idx, line)) = self.rx.try_recv() {
            on_line(idx, &line);
        }
    }
}

fn signal(pid: u32, sig: i32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) on the service's own process group (it is the leader); no memory.
        unsafe {
            libc::kill(-pid, sig);
        }
    }
}

/// One plain HTTP/1.1 request on loopback; the status code, or `None` when nothing answered.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<u16> {
    exchange(port, method, path, headers, body, false).map(|(status, _)| status)
}

/// As [`http`], with the answer's body (read to the end; the connection is closed).
pub fn http_body(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<(u16, String)> {
    exchange(port, method, path, headers, body, true)
}

fn exchange(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    read_body: bool,
) -> Option<(u16, String)> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).ok()?;
    let mut reader = BufReader::new(s);
    let mut first = String::new();
    reader.read_line(&mut first).ok()?;
    let status = first.split_whitespace().nth(1)?.parse().ok()?;
    if !read_body {
        return Some((status, String::new()));
    }
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).ok()?;
    let body = rest.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Some((status, body.to_string()))
}

/// A service's JSON log line made readable: `INFO listening addr=127.0.0.1:8082`.
pub fn pretty(line: &str) -> String {
    let Ok(serde_json::Value::Object(v)) = serde_json::from_str::<serde_json::Value>(line) else {
        return line.to_string();
    };
    let level = v.get("level").and_then(|l| l.as_str()).unwrap_or("");
    let fields = v.get("fields").and_then(|f| f.as_object());
    let message = fields
        .and_then(|f| f.get("message"))
        .and_then(|m| m.as_str())
        .unwrap_or("");
    let mut out = format!("{level:<5} {message}");
    for (k, val) in fields.into_iter().flatten() {
        if k == "message" {
            continue;
        }
        match val.as_str() {
            Some(s) => out.push_str(&format!(" {k}={s}")),
            None => out.push_str(&format!(" {k}={val}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_logs_read_as_one_line() {
        let l = r#"{"timestamp":"t","level":"INFO","fields":{"message":"listening","addr":"127.0.0.1:1","n":3},"target":"x"}"#;
        assert_eq!(pretty(l), "INFO  listening addr=127.0.0.1:1 n=3");
        assert_eq!(pretty("plain text"), "plain text");
    }

    #[test]
    fn nothing_listening_is_none() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        drop(l);
        assert_eq!(http(port, "GET", "/readyz", &[], ""), None);
    }
}
