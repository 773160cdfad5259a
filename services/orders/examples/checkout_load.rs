//! Checkout load generator for `scripts/bench-services`: many concurrent checkouts, each with
//! its own Idempotency-Key, against an orders service on loopback. Bounded by time and count.
//!
//! checkout_load URL BEARER PAYMENT_TOKEN SKU SECONDS CONCURRENCY MAX_REQUESTS
//! SKU is one SKU, or `PREFIX*:N` for a random one of PREFIX0001..PREFIXN per request.
//! Prints one JSON line: requests, ok, errors, rps, p50_ms, p99_ms.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 7 {
        eprintln!(
            "usage: checkout_load URL BEARER PAYMENT_TOKEN SKU SECONDS CONCURRENCY MAX_REQUESTS"
        );
        return std::process::ExitCode::from(2);
    }
    let url = format!("{}/v1/checkout", args[0].trim_end_matches('/'));
    let bearer = args[1].clone();
    let skus: Vec<String> = match args[3].split_once("*:") {
        Some((prefix, n)) => (1..=n.parse::<u32>().unwrap_or(1))
            .map(|i| format!("{prefix}{i:04}"))
            .collect(),
        None => vec![args[3].clone()],
    };
    let bodies: Arc<Vec<String>> = Arc::new(
        skus.iter()
            .map(|sku| {
                serde_json::json!({"payment_token": args[2], "items": [{"sku": sku, "quantity": 1}]})
                    .to_string()
            })
            .collect(),
    );
    let secs: u64 = args[4].parse().unwrap_or(10);
    let concurrency: usize = args[5].parse().unwrap_or(32);
    let max: u64 = args[6].parse().unwrap_or(1_000_000);
    let client = match reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let deadline = Instant::now() + Duration::from_secs(secs);
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, bearer, bodies, issued) = (
            client.clone(),
            url.clone(),
            bearer.clone(),
            bodies.clone(),
            issued.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < max {
                let pick = (uuid::Uuid::new_v4().as_u128() % bodies.len() as u128) as usize;
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .bearer_auth(&bearer)
                    .header("idempotency-key", uuid::Uuid::new_v4().to_string())
                    .header("content-type", "application/json")
                    .body(bodies[pick].clone())
                    .send()
                    .await;
                match r {
                    Ok(res) if res.status().as_u16() == 201 => {
                        let _ = res.bytes().await;
                        lat.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            lat.extend(l);
            errors += e;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1e3)
            .unwrap_or(0.0)
    };
    println!(
        "{}",
        serde_json::json!({
            "requests": lat.len() as u64 + errors, "ok": lat.len(), "errors": errors,
            "rps": lat.len() as f64 / elapsed, "p50_ms": pct(0.50), "p99_ms": pct(0.99),
        })
    );
    std::process::ExitCode::SUCCESS
}
