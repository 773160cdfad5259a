//! `ecomctl dev`: the whole shop on this machine. Builds the six services, finds or starts
//! PostgreSQL, makes a database per service, starts them on loopback ports, waits for every
//! `/readyz`, stocks the demo catalog, prints the storefront URL, shows their logs, reports a
//! service that dies with its last lines, and stops them all on Ctrl-C.

pub mod postgres;
pub mod secrets;
pub mod services;
pub mod supervise;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;

use crate::exit::{Exit, FAILURE, USAGE};
use crate::tools::process::{self, Spec};
use crate::ui::Ui;
pub use services::Service;
use supervise::Fleet;

/// How long every service gets to answer `/readyz` (a first run migrates and seeds).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// What a service gets to drain after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// `ecomctl dev`'s settings, resolved from flags once.
#[derive(Debug, Clone)]
pub struct DevOptions {
    pub services: Vec<Service>,
    pub port: u16,
    pub reset: bool,
    pub build: bool,
    pub release: bool,
    /// The instance: its databases are `ecom_<name>_<service>`, its state `.ecomctl/<name>/`.
    pub name: String,
}

impl DevOptions {
    /// The services to run, in start order.
    /// Checks what flags alone cannot.
    pub fn validate(&self) -> Result<()> {
        let ok = !self.name.is_empty()
            && self.name.len() <= 20
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err(Exit::new(
                USAGE,
                format!("--name {:?}: use 1 to 20 of a-z, 0-9 and _", self.name),
            )
            .into());
        }
        Ok(())
    }

    pub fn selected(&self) -> Vec<Service> {
        Service::ALL
            .into_iter()
            .filter(|s| self.services.is_empty() || self.services.contains(s))
            .collect()
    }
}

/// The workspace: the nearest directory up from here with `services/shared/Cargo.toml`.
pub fn workspace_root() -> Result<PathBuf> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    cwd.ancestors()
        .find(|d| d.join("services/shared/Cargo.toml").is_file() && d.join("Cargo.toml").is_file())
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            Exit::new(
                USAGE,
                "ecomctl dev runs inside the ecomctl repository (no services/ found here or above)",
            )
            .hint("cd into your clone of the repository and run `cargo run -p ecomctl -- dev`")
            .into()
        })
}

/// Every port is free, or the error names the service that wanted it.
pub fn check_ports(selected: &[Service], base: u16) -> Result<()> {
    for s in selected {
        let port = base.checked_add(s.port_offset()).ok_or_else(|| {
            Exit::new(
                USAGE,
                format!(
                    "--port {base} leaves no room for {} (+{})",
                    s.name(),
                    s.port_offset()
                ),
            )
        })?;
        if TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).is_err() {
            return Err(Exit::new(
                FAILURE,
                format!("port {port} ({}) is already in use", s.name()),
            )
            .hint(format!(
                "stop what listens there (another `ecomctl dev`?), or choose other ports: `ecomctl dev --port {}`",
                base.saturating_add(100)
            ))
            .into());
        }
    }
    Ok(())
}

/// The Cargo target directory (`CARGO_TARGET_DIR` honoured).
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root.join(t) })
        .unwrap_or_else(|| root.join("target"))
}

fn bin_dir(root: &Path, release: bool) -> PathBuf {
    target_dir(root).join(if release { "release" } else { "debug" })
}

fn build(root: &Path, selected: &[Service], release: bool, ui: &Ui) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut spec = Spec::new("cargo build", PathBuf::from(cargo))
        .arg("build")
        .arg("--bins");
    if release {
        spec = spec.arg("--release");
    }
    for s in selected {
        spec = spec.arg("-p").arg(s.crate_name());
    }
    spec.cwd = Some(root.to_path_buf());
    ui.status("building", &format!("{} service(s)", selected.len()));
    process::run(&spec, &mut |_, line| {
        ui.tool_line("dev", "build", true, line)
    })
    .context("building the services")?;
    Ok(())
}

/// What a finished run leaves to `main`: nothing (Ctrl-C) or the error.
pub fn run(opts: &DevOptions, ui: &Ui) -> Result<()> {
    opts.validate()?;
    process::install_signal_handlers();
    let root = workspace_root()?;
    let selected = opts.selected();
    check_ports(&selected, opts.port)?;
    if opts.build {
        build(&root, &selected, opts.release, ui)?;
    }
    let bins = bin_dir(&root, opts.release);
    for s in &selected {
        if !bins.join(s.crate_name()).is_file() {
            return Err(Exit::new(
                FAILURE,
                format!(
                    "{} is not built ({} is missing)",
                    s.name(),
                    bins.join(s.crate_name()).display()
                ),
            )
            .hint("run ecomctl dev without --no-build")
            .into());
        }
    }
    let state_dir = root.join(".ecomctl").join(&opts.name);
    let pg = postgres::locate(&state_dir, &mut |l| {
        ui.tool_line("dev", "postgres", true, l)
    })?;
    ui.status("using", &format!("PostgreSQL: {}", pg.source));
    let outcome = with_postgres(opts, ui, &selected, &bins, &state_dir, &pg);
    postgres::stop(&pg);
    outcome
}

fn with_postgres(
    opts: &DevOptions,
    ui: &Ui,
    selected: &[Service],
    bins: &Path,
    state_dir: &Path,
    pg: &postgres::Postgres,
) -> Result<()> {
    let secrets = secrets::load_or_create(&state_dir.join("secrets.env"), opts.reset)?;
    if opts.reset {
        for s in selected {
            postgres::drop_database(pg, &s.database(&opts.name))?;
        }
        ui.status("dropped", "the dev databases (--reset)");
    }
    let mut fresh = Vec::new();
    for s in selected {
        if postgres::ensure_database(pg, &s.database(&opts.name))? {
            fresh.push(*s);
        }
    }
    if !fresh.is_empty() {
        let names: Vec<String> = fresh.iter().map(|s| s.database(&opts.name)).collect();
        ui.status("created", &names.join(", "));
    }
    let mut fleet = Fleet::new();
    let started = Instant::now();
    for s in selected {
        let url = postgres::with_database(&pg.admin_url, &s.database(&opts.name));
        let launch = services::launch(*s, opts.port, &url, &secrets);
        let port = launch.port;
        let pid = fleet
            .spawn(launch, bins)
            .with_context(|| format!("starting {}", s.name()))?;
        ui.event(
            "service_started",
            json!({"service": s.name(), "port": port, "pid": pid}),
        );
    }
    let result = serve(
        opts,
        ui,
        &mut fleet,
        &secrets,
        fresh.contains(&Service::Inventory),
        started,
    );
    ui.settle();
    ui.status("stopping", &format!("{} service(s)", fleet.members.len()));
    fleet.stop(STOP_GRACE, &mut |i, l| {
        log_line(ui, &fleet_name(i, selected), i, l)
    });
    ui.status("stopped", "every service");
    ui.event("stopped", json!({}));
    result
}

fn fleet_name(idx: usize, selected: &[Service]) -> String {
    selected
        .get(idx)
        .map(|s| s.name().to_string())
        .unwrap_or_default()
}

fn log_line(ui: &Ui, name: &str, idx: usize, line: &str) {
    ui.service_line(name, idx, &supervise::pretty(line));
}

fn died(d: supervise::Death) -> anyhow::Error {
    let mut msg = d.to_string();
    if !d.tail.is_empty() {
        msg.push_str("; its last lines:\n");
        msg.push_str(
            &d.tail
                .iter()
                .map(|l| supervise::pretty(l))
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
    Exit::new(FAILURE, msg)
        .hint(
            "fix the cause above and run ecomctl dev again (`--reset` starts from empty databases)",
        )
        .into()
}

fn serve(
    opts: &DevOptions,
    ui: &Ui,
    fleet: &mut Fleet,
    secrets: &services::DevSecrets,
    stock_demo: bool,
    started: Instant,
) -> Result<()> {
    let selected = opts.selected();
    let mut show = |i: usize, l: &str| log_line(ui, &fleet_name(i, &selected), i, l);
    ui.status("waiting", "for every service's /readyz");
    let mut waiting: Vec<(Service, u16)> = fleet
        .members
        .iter()
        .map(|m| (m.launch.service, m.launch.port))
        .collect();
    while !waiting.is_empty() {
        if process::interrupted() {
            return Ok(());
        }
        if let Some(d) = fleet.poll(Duration::from_millis(25), &mut show) {
            return Err(died(d));
        }
        waiting.retain(|(_, port)| supervise::http(*port, "GET", "/readyz", &[], "") != Some(200));
        if started.elapsed() > READY_TIMEOUT {
            let names: Vec<&str> = waiting.iter().map(|(s, _)| s.name()).collect();
            return Err(Exit::new(
                FAILURE,
                format!(
                    "not ready after {} s: {}",
                    READY_TIMEOUT.as_secs(),
                    names.join(", ")
                ),
            )
            .into());
        }
    }
    let ready = started.elapsed();
    if stock_demo {
        stock(opts.port, secrets)?;
    }
    let url = format!(
        "http://127.0.0.1:{}/",
        opts.port + Service::Frontend.port_offset()
    );
    ui.settle();
    ui.status(
        "ready",
        &format!(
            "{} service(s) in {:.2} s",
            selected.len(),
            ready.as_secs_f64()
        ),
    );
    ui.event("ready", json!({"url": url, "seconds": ready.as_secs_f64(), "services": selected.iter().map(|s| s.name()).collect::<Vec<_>>()}));
    if selected.contains(&Service::Frontend) {
        ui.status("storefront", &url);
        ui.data(&url);
    }
    ui.status("press", "Ctrl-C to stop every service");
    loop {
        if process::interrupted() {
            return Ok(());
        }
        if let Some(d) = fleet.poll(Duration::from_millis(100), &mut show) {
            return Err(died(d));
        }
    }
}

/// Puts 100 of every demo product on hand (a fresh inventory database only), as the
/// `ecomctl-dev` client: its token for inventory comes from login.
fn stock(base: u16, secrets: &services::DevSecrets) -> Result<()> {
    let port = base + Service::Inventory.port_offset();
    let token = tools_token(base, secrets)?;
    let bearer = format!("Bearer {token}");
    for i in 1..=services::DEMO_PRODUCTS {
        let path = format!("/v1/stock/DEMO-{i:04}");
        let status = supervise::http(
            port,
            "PUT",
            &path,
            &[
                ("authorization", &bearer),
                ("content-type", "application/json"),
            ],
            r#"{"on_hand":100}"#,
        );
        if status != Some(200) {
            return Err(Exit::new(
                FAILURE,
                format!(
                    "inventory answered {status:?} to PUT {path} while stocking the demo catalog"
                ),
            )
            .into());
        }
    }
    Ok(())
}

/// `ecomctl dev`'s own token for inventory (client credentials at login).
fn tools_token(base: u16, secrets: &services::DevSecrets) -> Result<String> {
    let body = json!({
        "client_id": services::TOOLS_CLIENT,
        "client_secret": secrets.tools_client_secret,
        "audience": "inventory",
    })
    .to_string();
    let answer = supervise::http_body(
        base + Service::Login.port_offset(),
        "POST",
        "/v1/service-tokens",
        &[("content-type", "application/json")],
        &body,
    );
    let token = match &answer {
        Some((200, text)) => serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v["access_token"].as_str().map(str::to_string)),
        _ => None,
    };
    token.ok_or_else(|| {
        Exit::new(
            FAILURE,
            format!(
                "login answered {:?} when asked for a token to stock the demo catalog",
                answer.map(|(s, _)| s)
            ),
        )
        .hint("stocking needs login running too (leave --service unset, or include login)")
        .into()
    })
}
