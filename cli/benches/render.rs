//! Load + validate + render of `examples/full.yaml`, the work behind every `ecomctl render`.
//! Target: median under 20 ms. Run with `scripts/bench` or `cargo bench -p ecomctl --bench render`.
//!
//! Prints the median and the spread of each phase over many runs (a plain harness: the numbers
//! are what matters, and it costs no extra dependencies to build).

use ecomctl::config;
use ecomctl::render::{RenderOptions, Renderer};
use ecomctl::tools::version::Version;
use std::path::Path;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    (v[0], v[v.len() / 2], v[v.len() * 9 / 10])
}

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf();
    let cfg = repo.join("examples/full.yaml");
    let state = tempfile_dir();
    let opts = RenderOptions {
        env: None,
        stage: None,
        terraform: Version(vec![1, 0, 3]),
        state_dir: state.clone(),
        aws_endpoint: None,
        assume_roles: true,
    };
    let runs = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(60);
    let (mut load, mut templates, mut render, mut total) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut files = 0;
    for _ in 0..runs {
        let t0 = Instant::now();
        let loaded = config::load(&cfg).expect("full.yaml loads");
        let t1 = Instant::now();
        let renderer = Renderer::new(&repo).expect("templates load");
        let t2 = Instant::now();
        files = renderer.render(&loaded, &opts).expect("renders").len();
        let t3 = Instant::now();
        load.push(t1 - t0);
        templates.push(t2 - t1);
        render.push(t3 - t2);
        total.push(t3 - t0);
    }
    println!("render bench: examples/full.yaml -> {files} files, {runs} runs (min / median / p90)");
    for (name, v) in [
        ("load+validate", load),
        ("templates+stacks", templates),
        ("render+check", render),
        ("total", total),
    ] {
        let (min, med, p90) = median(v);
        println!("  {name:<17} {:>8.2?} {:>8.2?} {:>8.2?}", min, med, p90);
    }
    let _ = std::fs::remove_dir_all(state);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ecomctl-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}
