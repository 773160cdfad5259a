//! A real orders process killed with SIGKILL while checkouts are in flight, then a fresh
//! process on the same database: every saga ends confirmed or compensated, and stock and
//! payments agree with the orders.
//!
//! How the processes are laid out: orders runs as a child process, the binary Cargo builds for
//! this crate's integration tests (`CARGO_BIN_EXE_ecom-orders`), so the kill is a real process
//! death (no destructors, no drained requests, open transactions dropped by PostgreSQL).
//! Inventory, payments and a catalog price stub are served in-process on loopback ports of the
//! test: they stay up across the kill, as they would in production, and Cargo does not build
//! other crates' binaries for this test, so serving their routers here is both robust (no
//! dependence on what happens to be in `target/`) and the same code their binaries run.
//!
//! To kill mid-saga deterministically, the first orders process runs with the fault-injection
//! setting `ORDERS_FAULT_STEP_DELAY_MS` (a pause before every saga step and between payment and
//! confirmation; zero by default), and the test kills it as soon as the first payment is
//! captured; it then asserts that sagas were unfinished at the kill, including one that had
//! paid but was not confirmed, so the test cannot pass without actually interrupting one.
//!
//! Needs PostgreSQL like every service test: without it the test fails, it never skips.

mod support;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ecom_shared::testing::TestDb;
use serde_json::{json, Value};
use support::{count, CARD_DECLINED, CARD_OK};
use uuid::Uuid;

const CHECKOUTS: usize = 40;
const STOCK: [(&str, i32, i64); 2] = [("crash-a", 15, 1_200), ("crash-b", 15, 3_400)];

/// An orders child process, killed when dropped so a failing test leaves nothing behind.
struct OrdersProcess {
    child: Child,
    url: String,
}

impl OrdersProcess {
    /// Starts the binary with `env` (and nothing inherited) and waits for its "listening" log
    /// line, which carries the port it bound (it binds port 0, so there is no port race).
    fn start(env: &[(&str, String)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecom-orders"));
        cmd.env_clear()
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("start ecom-orders");
        let logs = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        // Reads the JSON log lines (stdout): reports the bound address, echoes everything else so a
        // failure shows what the process said.
        std::thread::spawn(move || {
            for line in BufReader::new(logs).lines().map_while(Result::ok) {
                let parsed: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
                let fields = &parsed["fields"];
                if fields["message"] == "listening" {
                    if let Some(addr) = fields["addr"].as_str() {
                        let _ = tx.send(addr.to_string());
                    }
                } else {
                    eprintln!("[orders] {line}");
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                panic!("ecom-orders did not start listening within 30 s (exit: {status:?})");
            }
        };
        Self {
            child,
            url: format!("http://{addr}"),
        }
    }

    /// SIGKILL: the process gets no chance to finish anything.
    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL ecom-orders");
        self.child.wait().expect("reap ecom-orders");
    }
}

impl Drop for OrdersProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One checkout over HTTP; `None` when the connection broke (the process was killed).
async fn checkout(
    http: &reqwest::Client,
    url: &str,
    jwt: &str,
    key: &str,
    token: &str,
    sku: &str,
) -> Option<(u16, Value)> {
    let res = http
        .post(format!("{url}/v1/checkout"))
        .bearer_auth(jwt)
        .header("idempotency-key", key)
        .json(&json!({"payment_token": token, "items": [{"sku": sku, "quantity": 1}]}))
        .send()
        .await
        .ok()?;
    let status = res.status().as_u16();
    let body = res.json::<Value>().await.ok()?;
    Some((status, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_process_killed_mid_saga_recovers_and_stock_and_payments_agree() {
    // --- the services orders depends on, in-process (shared with checkout.rs) ------------
    let deps = support::dependencies(&STOCK).await;
    // Each buyer's own payment token: a token pays for the customer who made it only.
    let mut tokens = HashMap::new();
    for i in 0..CHECKOUTS {
        let card = if i % 5 == 4 { CARD_DECLINED } else { CARD_OK };
        let token = deps.token_for(&format!("crash-user-{i}"), card).await;
        tokens.insert(i, token);
    }
    let (inventory_db, payments_db, auth) = (&deps.inventory_db, &deps.payments_db, &deps.auth);

    // --- orders as a real process ---------------------------------------------------------
    let orders_db = TestDb::new().await.expect("PostgreSQL");
    let jwks = ecom_shared::auth::jwks_document(&[auth.key.jwk()]).to_string();
    let env = |step_delay_ms: u64, recovery_interval_s: u64| {
        vec![
            ("DATABASE_URL", orders_db.url.clone()),
            ("BIND_ADDR", "127.0.0.1:0".to_string()),
            ("CATALOG_URL", deps.urls.0.clone()),
            ("INVENTORY_URL", deps.urls.1.clone()),
            ("PAYMENTS_URL", deps.urls.2.clone()),
            ("SERVICE_CLIENT_SECRET", support::ORDERS_SECRET.to_string()),
            ("LOGIN_URL", deps.login_url.clone()),
            ("JWKS_JSON", jwks.clone()),
            ("LOG_LEVEL", "warn,ecom_shared::app=info".to_string()),
            // A dead process's sagas become claimable one second after their last step.
            ("ORDERS_SAGA_LEASE_SECONDS", "1".to_string()),
            (
                "ORDERS_RECOVERY_INTERVAL_SECONDS",
                recovery_interval_s.to_string(),
            ),
            ("ORDERS_FAULT_STEP_DELAY_MS", step_delay_ms.to_string()),
            ("RATE_LIMIT_PER_SECOND", "10000".to_string()),
            ("RATE_LIMIT_BURST", "10000".to_string()),
            ("SHUTDOWN_GRACE_MS", "0".to_string()),
        ]
    };
    // The first process pauses 250 ms before each step and never runs recovery after its
    // start (an hour's interval), so only the second process can finish what it left.
    let mut first = OrdersProcess::start(&env(250, 3600));

    // 40 concurrent checkouts, each its own user and Idempotency-Key; every fifth card declines.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client");
    let requests: Vec<(String, String, String, &str)> = (0..CHECKOUTS)
        .map(|i| {
            (
                auth.token(&format!("crash-user-{i}"), &["customer"]),
                format!("crash-key-{i}"),
                tokens[&i].clone(),
                STOCK[i % 2].0,
            )
        })
        .collect();
    let mut in_flight = Vec::new();
    for (jwt, key, token, sku) in requests.iter().cloned() {
        let (http, url) = (http.clone(), first.url.clone());
        in_flight.push(tokio::spawn(async move {
            checkout(&http, &url, &jwt, &key, &token, sku).await
        }));
    }

    // Kill once some saga has paid (money taken, a reservation held) and is pausing before
    // its confirmation; the others are then a step or two behind.
    let started = Instant::now();
    loop {
        let n = count(
            payments_db,
            "SELECT count(*) FROM payments WHERE status = 'captured'",
        )
        .await;
        if n > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no saga paid in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill();
    let mut answered_before_kill = 0;
    for t in in_flight {
        if t.await.expect("checkout task").is_some() {
            answered_before_kill += 1;
        }
    }
    let at_kill: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, count(*) FROM orders GROUP BY status ORDER BY status")
            .fetch_all(&orders_db.pool)
            .await
            .expect("statuses");
    let in_step = |names: &[&str]| -> i64 {
        at_kill
            .iter()
            .filter(|(s, _)| names.contains(&s.as_str()))
            .map(|(_, n)| n)
            .sum()
    };
    assert!(
        in_step(&["pending", "reserved", "authorized", "compensating"]) > 0,
        "no saga was in flight at the kill ({at_kill:?}): the test proved nothing"
    );
    assert!(
        in_step(&["reserved", "authorized"]) > 0,
        "no saga was interrupted after a side effect ({at_kill:?})"
    );
    // The hardest case: paid, but not confirmed.
    let confirmed_at_kill: Vec<String> =
        sqlx::query_scalar("SELECT id::text FROM orders WHERE status = 'confirmed'")
            .fetch_all(&orders_db.pool)
            .await
            .expect("confirmed");
    let paid_at_kill: Vec<String> =
        sqlx::query_scalar("SELECT order_ref FROM payments WHERE status = 'captured'")
            .fetch_all(&payments_db.pool)
            .await
            .expect("paid");
    let paid_unconfirmed = paid_at_kill
        .iter()
        .filter(|r| !confirmed_at_kill.contains(r))
        .count();
    assert!(
        paid_unconfirmed > 0,
        "no saga was interrupted between payment and confirmation"
    );
    assert!(
        answered_before_kill < CHECKOUTS,
        "every checkout was answered before the kill"
    );
    eprintln!(
        "killed orders: orders by status {at_kill:?}, {paid_unconfirmed} paid but not confirmed; \
         {answered_before_kill} of {CHECKOUTS} checkouts answered"
    );

    // --- a fresh process on the same database ---------------------------------------------
    let second = OrdersProcess::start(&env(0, 1));
    // Every client retries with its own Idempotency-Key, as a client whose connection broke
    // would: an interrupted order answers with its recovered outcome, a checkout that never
    // reached the database runs now. Nobody gets a second order.
    let mut retries = Vec::new();
    for (jwt, key, token, sku) in requests.iter().cloned() {
        let (http, url) = (http.clone(), second.url.clone());
        retries.push(tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                match checkout(&http, &url, &jwt, &key, &token, sku).await {
                    // "in-progress": the saga waits for its lease to run out and recovery.
                    Some((409, b)) if b["code"] == "in-progress" && Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    None if Instant::now() < deadline => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Some(answer) => return (key, answer),
                    None => panic!("{key}: no answer from the restarted orders within 60 s"),
                }
            }
        }));
    }
    let mut answers = HashMap::new();
    for t in retries {
        let (key, (status, body)) = t.await.expect("retry task");
        assert!(
            matches!(status, 201 | 402 | 409),
            "{key}: unexpected answer {status} {body}"
        );
        answers.insert(key, (status, body));
    }

    // Recovery finishes every saga within a bounded wait (no client needs to ask).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = count(
            &orders_db,
            "SELECT count(*) FROM orders WHERE status NOT IN ('confirmed', 'failed')",
        )
        .await;
        if left == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{left} sagas still unfinished 30 s after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // --- the three databases agree ----------------------------------------------------------
    let orders: Vec<(Uuid, String, String, i64, String, i32)> = sqlx::query_as(
        "SELECT o.id, o.idempotency_key, o.status, o.total_minor, l.sku, l.quantity
         FROM orders o JOIN order_lines l ON l.order_id = o.id",
    )
    .fetch_all(&orders_db.pool)
    .await
    .expect("orders");
    assert_eq!(
        orders.len(),
        CHECKOUTS,
        "one order per Idempotency-Key, no more"
    );
    let keys: HashSet<&str> = orders.iter().map(|o| o.1.as_str()).collect();
    assert_eq!(keys.len(), CHECKOUTS);
    for (id, key, status, ..) in &orders {
        let (code, body) = &answers[key];
        assert_eq!(
            *code == 201,
            status == "confirmed",
            "{key}: answered {code} {body} but the order is {status}"
        );
        if status == "confirmed" {
            assert_eq!(body["id"], json!(id), "{key}: answered with another order");
        }
    }
    let confirmed: Vec<_> = orders.iter().filter(|o| o.2 == "confirmed").collect();
    let failed: Vec<_> = orders.iter().filter(|o| o.2 == "failed").collect();
    assert!(!confirmed.is_empty(), "no order was confirmed");
    assert!(!failed.is_empty(), "no order was compensated");

    // Stock: what is left plus what was committed is what there was; nothing stays reserved.
    for (sku, initial, _) in STOCK {
        let (on_hand, reserved): (i32, i32) =
            sqlx::query_as("SELECT on_hand, reserved FROM stock WHERE sku = $1")
                .bind(sku)
                .fetch_one(&inventory_db.pool)
                .await
                .expect("stock");
        let sold: i32 = confirmed.iter().filter(|o| o.4 == sku).map(|o| o.5).sum();
        let committed: i64 = sqlx::query_scalar(
            "SELECT COALESCE(sum(l.quantity), 0)::bigint FROM reservations r
             JOIN reservation_lines l ON l.reservation_id = r.id
             WHERE r.status = 'committed' AND l.sku = $1",
        )
        .bind(sku)
        .fetch_one(&inventory_db.pool)
        .await
        .expect("committed");
        assert_eq!(reserved, 0, "{sku}: stock left reserved");
        assert_eq!(committed, i64::from(sold), "{sku}: committed vs confirmed");
        assert_eq!(on_hand + sold, initial, "{sku}: on hand + sold != initial");
    }
    let reservations: HashMap<Uuid, String> =
        sqlx::query_as::<_, (Uuid, String)>("SELECT id, status FROM reservations")
            .fetch_all(&inventory_db.pool)
            .await
            .expect("reservations")
            .into_iter()
            .collect();
    for o in &confirmed {
        assert_eq!(
            reservations.get(&o.0).map(String::as_str),
            Some("committed"),
            "confirmed order {}",
            o.0
        );
    }
    for o in &failed {
        let r = reservations.get(&o.0).map(String::as_str);
        assert!(
            matches!(r, None | Some("released")),
            "compensated order {} left its reservation {r:?}",
            o.0
        );
    }

    // Payments: exactly one capture per confirmed order, for its total; nothing kept for the
    // others (never made, declined, voided, or refunded).
    let pays: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT idempotency_key, status, amount_minor FROM payments")
            .fetch_all(&payments_db.pool)
            .await
            .expect("payments");
    let by_key: HashMap<&str, (&str, i64)> = pays
        .iter()
        .map(|(k, s, a)| (k.as_str(), (s.as_str(), *a)))
        .collect();
    assert_eq!(by_key.len(), pays.len());
    for o in &confirmed {
        assert_eq!(
            by_key.get(format!("order-{}", o.0).as_str()),
            Some(&("captured", o.3)),
            "confirmed order {}",
            o.0
        );
    }
    for o in &failed {
        let p = by_key.get(format!("order-{}", o.0).as_str());
        assert!(
            matches!(
                p,
                None | Some(("voided" | "refunded" | "declined" | "requires_action", _))
            ),
            "compensated order {} has payment {p:?}",
            o.0
        );
    }
    let captured = pays.iter().filter(|p| p.1 == "captured").count();
    assert_eq!(captured, confirmed.len(), "captures vs confirmed orders");
    let kept = count(
        payments_db,
        "SELECT count(*) FILTER (WHERE kind = 'captured')
              - count(*) FILTER (WHERE kind = 'refunded') FROM payment_events",
    )
    .await;
    assert_eq!(
        kept as usize,
        confirmed.len(),
        "captures not refunded vs confirmed orders"
    );
    drop(second);
}
