//! Where `ecomctl dev` gets PostgreSQL: `DATABASE_URL`; else the server on 127.0.0.1:5432;
//! else a private cluster under the workspace (`initdb` + `pg_ctl`, not as root); else it says
//! what to install. Databases are made and dropped with `psql`.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use crate::exit::{Exit, FAILURE};
use crate::tools::process::{self, Spec};

/// Where the private cluster listens (loopback only).
pub const PRIVATE_PORT: u16 = 55432;

#[derive(Debug)]
pub struct Postgres {
    /// A URL of the server's maintenance database (never printed: it may hold a password).
    pub admin_url: String,
    /// What it is, for people: `DATABASE_URL`, `127.0.0.1:5432`, `private cluster in ...`.
    pub source: String,
    /// The data directory of a cluster this run started (stopped again at the end).
    pub started: Option<PathBuf>,
}

fn reachable(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

/// `url` with its database replaced by `db` (query parameters kept).
pub fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (before_query, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let authority = before_query.split('/').next().unwrap_or(before_query);
    let mut out = format!("{scheme}://{authority}/{db}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

fn find_tool(name: &str) -> Option<PathBuf> {
    if let Ok(p) = which::which(name) {
        return Some(p);
    }
    // Debian keeps the server tools off PATH.
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin").join(name))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop()
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) has no failure mode and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

pub const INSTALL_HINT: &str = "install PostgreSQL (Debian/Ubuntu: `apt-get install postgresql`, \
    macOS: `brew install postgresql@16`) and run ecomctl dev again, or point it at a server with \
    DATABASE_URL=postgres://USER@HOST:5432/postgres";

/// Finds (or starts) a server.
pub fn locate(state_dir: &Path, on_line: &mut dyn FnMut(&str)) -> Result<Postgres> {
    if let Some(url) = std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Exit::new(
                2,
                "DATABASE_URL must start with postgres:// or postgresql://",
            )
            .into());
        }
        return Ok(Postgres {
            admin_url: url,
            source: "DATABASE_URL".into(),
            started: None,
        });
    }
    if reachable(5432) {
        return Ok(Postgres {
            admin_url: "postgres://postgres@127.0.0.1:5432/postgres".into(),
            source: "the server on 127.0.0.1:5432".into(),
            started: None,
        });
    }
    let (Some(initdb), Some(pg_ctl)) = (find_tool("initdb"), find_tool("pg_ctl")) else {
        return Err(Exit::new(FAILURE, "no PostgreSQL found: DATABASE_URL is not set, nothing listens on 127.0.0.1:5432, and initdb/pg_ctl are not installed")
            .hint(INSTALL_HINT)
            .into());
    };
    if is_root() {
        return Err(Exit::new(FAILURE, "no PostgreSQL found, and a private cluster cannot be started as root (initdb refuses)")
            .hint("run ecomctl dev as an ordinary user, start the system's PostgreSQL (`service postgresql start`), or set DATABASE_URL")
            .into());
    }
    start_private(state_dir, &initdb, &pg_ctl, on_line)
}

fn start_private(
    state_dir: &Path,
    initdb: &Path,
    pg_ctl: &Path,
    on_line: &mut dyn FnMut(&str),
) -> Result<Postgres> {
    let data = state_dir.join("postgres");
    let mut lines = |_: process::Stream, l: &str| on_line(l);
    if !data.join("PG_VERSION").is_file() {
        std::fs::create_dir_all(state_dir)
            .with_context(|| format!("creating {}", state_dir.display()))?;
        let spec = Spec::new("initdb", initdb).args([
            "-D".as_ref(),
            data.as_os_str(),
            "-U".as_ref(),
            "postgres".as_ref(),
            "--auth=trust".as_ref(),
            "--no-sync".as_ref(),
        ]);
        process::run(&spec, &mut lines).context("making the private PostgreSQL cluster")?;
    }
    let options = format!(
        "-c listen_addresses=127.0.0.1 -p {PRIVATE_PORT} -k {}",
        data.display()
    );
    if !reachable(PRIVATE_PORT) {
        let log = data.join("server.log");
        let spec = Spec::new("pg_ctl start", pg_ctl).args([
            "start".as_ref(),
            "-w".as_ref(),
            "-D".as_ref(),
            data.as_os_str(),
            "-l".as_ref(),
            log.as_os_str(),
            "-o".as_ref(),
            options.as_ref(),
        ]);
        process::run(&spec, &mut lines).context("starting the private PostgreSQL cluster")?;
    }
    Ok(Postgres {
        admin_url: format!("postgres://postgres@127.0.0.1:{PRIVATE_PORT}/postgres"),
        source: format!("a private cluster in {}", data.display()),
        started: Some(data),
    })
}

/// Stops a cluster [`locate`] started.
pub fn stop(pg: &Postgres) {
    let (Some(data), Some(pg_ctl)) = (&pg.started, find_tool("pg_ctl")) else {
        return;
    };
    let spec = Spec::new("pg_ctl stop", pg_ctl).args([
        "stop".as_ref(),
        "-m".as_ref(),
        "fast".as_ref(),
        "-D".as_ref(),
        data.as_os_str(),
    ]);
    let _ = process::run(&spec, &mut |_, _| {});
}

fn psql(admin_url: &str, sql: &str) -> Result<String> {
    let psql = which::which("psql").map_err(|_| {
        Exit::new(
            FAILURE,
            "psql is not installed (ecomctl dev makes its databases with it)",
        )
        .hint("install the PostgreSQL client (Debian/Ubuntu: `apt-get install postgresql-client`)")
    })?;
    let mut spec = Spec::new("psql", psql).args([
        "-X",
        "-q",
        "-t",
        "-A",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        admin_url,
        "-c",
        sql,
    ]);
    spec.capture_stdout = true;
    let out = process::run(&spec, &mut |_, _| {})?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Makes `db` unless it exists; true when it was made now. Names come from
/// [`super::services::Service::database`], never from input.
pub fn ensure_database(pg: &Postgres, db: &str) -> Result<bool> {
    let exists = psql(
        &pg.admin_url,
        &format!("SELECT 1 FROM pg_database WHERE datname = '{db}'"),
    )
    .with_context(|| format!("checking for database {db}"))?;
    if exists == "1" {
        return Ok(false);
    }
    psql(&pg.admin_url, &format!("CREATE DATABASE {db}"))
        .with_context(|| format!("creating database {db}"))?;
    Ok(true)
}

pub fn drop_database(pg: &Postgres, db: &str) -> Result<()> {
    psql(
        &pg.admin_url,
        &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
    )
    .with_context(|| format!("dropping database {db}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_swapped_in_the_url() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres", "ecom_dev_login"),
            "postgres://u:p@h:5432/ecom_dev_login"
        );
        assert_eq!(
            with_database("postgresql://h?sslmode=require", "x"),
            "postgresql://h/x?sslmode=require"
        );
    }
}
