//! `ecomctl dev` with the real services and the local PostgreSQL: Ctrl-C leaves no child
//! behind, a port in use is named with its service, a dying service is reported with its last
//! lines, and `--reset` starts from empty databases.

mod devshop;

use std::net::TcpListener;
use std::process::Stdio;

use devshop::{alive, ecomctl, forget, free_base, psql, DevShop};

#[test]
fn ctrl_c_stops_every_service_and_leaves_no_child() {
    let name = devshop::unique_name("tctrlc");
    forget(&name);
    let mut shop = DevShop::start(&name, &[]);
    assert_eq!(shop.pids.len(), 6, "six services: {:?}", shop.pids);
    assert_eq!(shop.url, format!("http://127.0.0.1:{}/", shop.base));
    for (service, pid) in &shop.pids {
        assert!(alive(*pid), "{service} ({pid}) is running");
    }
    eprintln!(
        "measured: all six ready {:.2} s after start",
        shop.ready_seconds
    );
    let status = shop.interrupt();
    assert!(
        status.success(),
        "Ctrl-C is the normal way out: {status}\n{}",
        shop.stderr()
    );
    for (service, pid) in &shop.pids {
        assert!(!alive(*pid), "{service} ({pid}) was left running");
    }
    let events = shop.drain_events();
    assert!(events.iter().any(|e| e["event"] == "stopped"), "{events:?}");
}

#[test]
fn a_port_in_use_is_reported_with_the_service_name() {
    let base = free_base();
    let _taken = TcpListener::bind(("127.0.0.1", base + 2)).expect("take catalog's port");
    let out = ecomctl("tport")
        .args(["dev", "--port", &base.to_string(), "--no-build"])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: port {} (catalog) is already in use",
            base + 2
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint:") && stderr.contains("--port"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no URL printed");
}

#[test]
fn a_service_that_dies_is_reported_with_its_last_lines_and_the_rest_stopped() {
    let name = devshop::unique_name("tdies");
    forget(&name);
    let base = free_base();
    let out = ecomctl(&name)
        .args(["dev", "--port", &base.to_string(), "--no-build"])
        // login refuses to start on a setting it cannot read.
        .env("ARGON2_MEMORY_KIB", "plenty")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    forget(&name);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: login exited (exit 1); its last lines:"),
        "{stderr}"
    );
    assert!(stderr.contains("ARGON2_MEMORY_KIB is invalid"), "{stderr}");
    assert!(stderr.contains("stopped every service"), "{stderr}");
    for port in base..base + 6 {
        assert!(
            TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} still held"
        );
    }
}

#[test]
fn reset_drops_the_dev_databases() {
    let name = devshop::unique_name("treset");
    forget(&name);
    let db = format!("ecom_{name}_catalog");
    let url = format!("postgres://postgres@127.0.0.1:5432/{db}");
    let query = |sql: &str| {
        let out = std::process::Command::new("psql")
            .args([
                "-X",
                "-q",
                "-t",
                "-A",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &url,
                "-c",
                sql,
            ])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    psql(&format!("CREATE DATABASE {db}"));
    query("CREATE TABLE left_from_before (x int)");
    let mut shop = DevShop::start(&name, &["--service", "catalog", "--reset"]);
    assert_eq!(shop.pids.len(), 1, "only catalog: {:?}", shop.pids);
    assert_eq!(
        query("SELECT count(*) FROM pg_tables WHERE tablename = 'left_from_before'"),
        "0"
    );
    assert_eq!(
        query("SELECT count(*) FROM products"),
        "200",
        "demo catalog seeded"
    );
    assert!(shop.interrupt().success());
}

/// The build step, with a FAKE cargo (failure injection): `dev` builds exactly the selected
/// services' binaries before anything starts, and a failed build ends the run with its lines.
#[test]
fn the_selected_services_are_built_first_and_a_failed_build_stops_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = dir.path().join("args");
    let fake = dir.path().join("cargo");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" > '{}'\necho 'error: fake build failure' >&2\nexit 7\n",
            args.display()
        ),
    )
    .expect("write fake cargo");
    let mut perm = std::fs::metadata(&fake).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&fake, perm).expect("chmod");
    let base = free_base();
    let out = ecomctl("tbuild")
        .args(["dev", "--port", &base.to_string(), "--service", "catalog"])
        .env("CARGO", &fake)
        .stdin(Stdio::null())
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let called = std::fs::read_to_string(&args).expect("dev ran cargo");
    assert_eq!(called.trim(), "build --bins -p ecom-catalog", "{stderr}");
    assert!(stderr.contains("fake build failure"), "{stderr}");
    assert!(stderr.contains("building the services"), "{stderr}");
    assert!(
        TcpListener::bind(("127.0.0.1", base + 2)).is_ok(),
        "nothing started on catalog's port"
    );
}
