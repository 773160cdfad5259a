//! ecomctl's own time in a no-op `ecomctl up` of the three fixture Terraform stages (bootstrap,
//! foundation, app), as a ratio to the Terraform time inside it. Target: under 5 %.
//! Run with `cargo bench -p ecomctl --bench up` (or `scripts/bench up`).
//!
//! Real Terraform 1.0.3 and a moto server from `.tools` (run `scripts/setup`), the S3 backend and
//! DynamoDB lock in moto, exactly as in `tests/orchestrator.rs`. One `up --yes` applies
//! everything; then each measured run is a second `up` that plans, finds nothing and applies
//! nothing. Per run, from the `up_finished` event: `tool_ms` (Terraform child processes),
//! `own_ms` (everything else inside ecomctl), `aws_ms` (how long the STS and S3 checks against
//! moto were in flight: they run on a thread beside start-up, so only the part `up` had to
//! wait for is in `own_ms`) and, measured here, the whole process from spawn to exit.

#[path = "../tests/support/mod.rs"]
mod support;

use support::{events, named, show, tool, Moto, Project};

const RUNS: usize = 10;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let (Some(tf), Some(moto)) = (tool("terraform"), Moto::start()) else {
        eprintln!("bench up: needs .tools/bin/terraform and moto_server (run scripts/setup)");
        std::process::exit(1);
    };
    let p = Project::new(tf, Some(&moto));
    let first = p.run(&["up", "-e", "nonprod", "--yes", "--output", "json"]);
    assert!(first.status.success(), "{}", show(&first));

    let (mut own, mut tools, mut aws, mut whole, mut ratio, mut ratio_whole) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..RUNS {
        let started = std::time::Instant::now();
        let out = p.run(&["up", "-e", "nonprod", "--output", "json"]);
        let wall = started.elapsed().as_secs_f64() * 1000.0;
        assert!(out.status.success(), "{}", show(&out));
        let ev = events(&out);
        assert!(
            named(&ev, "applied").is_empty(),
            "a no-op up applied something"
        );
        let fin = named(&ev, "up_finished")[0].clone();
        let (o, t, a) = (
            fin["own_ms"].as_f64().unwrap(),
            fin["tool_ms"].as_f64().unwrap(),
            fin["aws_ms"].as_f64().unwrap(),
        );
        own.push(o);
        tools.push(t);
        aws.push(a);
        whole.push(wall);
        ratio.push(o / t);
        ratio_whole.push((wall - t) / t);
    }
    println!("no-op up of 3 fixture stages, {RUNS} runs, medians:");
    println!("  terraform (child processes)   {:>8.1} ms", median(tools));
    println!("  ecomctl own time              {:>8.1} ms", median(own));
    println!(
        "  STS/S3 checks in flight       {:>8.1} ms   (overlapping start-up)",
        median(aws)
    );
    println!("  whole process (spawn to exit) {:>8.1} ms", median(whole));
    println!(
        "  own / terraform               {:>8.1} %   (target < 5 %)",
        100.0 * median(ratio)
    );
    println!(
        "  (whole - terraform) / terraform {:>6.1} %",
        100.0 * median(ratio_whole)
    );
}
