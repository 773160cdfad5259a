//! Every Terraform rule over a generated 2,000-resource plan: the work of the policy gate before
//! an apply. Target: median under 1 s. Run with `cargo bench -p ecomctl --bench policy`.
//!
//! The plan is the two platform fixtures' resources copied under `module.gen<k>` until there are
//! 2,000 of them. Phases: `engine` (parse the rule files), `evaluate` (input conversion and every
//! deny and warn), `total` (what `policy::gate` does, catalogue and waivers included).

use ecomctl::policy::{self, eval, Bundle, Date, Domain, Input, Waivers};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

const RESOURCES: usize = 2_000;

fn stats(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

fn generated_plan(repo: &Path) -> Value {
    let read = |name: &str| -> Value {
        let path = repo.join("policy/fixtures").join(name);
        let text = std::fs::read_to_string(&path).expect("read fixture");
        serde_json::from_str(&text).expect("fixture is JSON")
    };
    let base = read("plan-noncompliant.json");
    let other = read("plan-compliant.json");
    let templates: Vec<Value> = [&base, &other]
        .iter()
        .flat_map(|p| {
            p["resource_changes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    let mut changes = Vec::with_capacity(RESOURCES);
    let mut k = 0;
    while changes.len() < RESOURCES {
        for t in &templates {
            if changes.len() == RESOURCES {
                break;
            }
            let mut rc = t.clone();
            let address = rc["address"].as_str().unwrap_or("").to_string();
            let module = rc["module_address"].as_str().map(str::to_string);
            rc["address"] = json!(format!("module.gen{k}.{address}"));
            rc["module_address"] = json!(match module {
                Some(m) => format!("module.gen{k}.{m}"),
                None => format!("module.gen{k}"),
            });
            changes.push(rc);
        }
        k += 1;
    }
    let mut plan = base.clone();
    plan["resource_changes"] = Value::Array(changes);
    plan
}

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf();
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(9);
    let plan = generated_plan(&repo);
    let bytes = serde_json::to_string(&plan).map(|s| s.len()).unwrap_or(0);
    let bundle = Bundle::embedded();
    let waivers = Waivers::parse("waivers.yaml", "waivers: []\n").expect("waivers");
    let context = eval::Context::for_env(Some("prod"));
    let (mut engine, mut evaluate, mut total) = (Vec::new(), Vec::new(), Vec::new());
    let mut findings = 0;
    for _ in 0..runs {
        let t0 = Instant::now();
        let _ = bundle.engine(Domain::Terraform, false).expect("engine");
        engine.push(t0.elapsed());

        let input = Input::plan(plan.clone(), "generated.json").expect("plan");
        let t1 = Instant::now();
        let found = eval::check(&bundle, Domain::Terraform, &input, &context).expect("check");
        evaluate.push(t1.elapsed());
        findings = found.findings.len();

        let t2 = Instant::now();
        let gated =
            policy::gate_with(&bundle, &waivers, &plan, "prod", None, Date::today()).expect("gate");
        total.push(t2.elapsed());
        assert_eq!(gated.findings.len(), findings);
    }
    let show = |name: &str, v: Vec<Duration>| {
        let (min, med, max) = stats(v);
        println!(
            "policy {name:<9} median {:>7.1} ms  (min {:.1}, max {:.1}, {runs} runs)",
            med.as_secs_f64() * 1e3,
            min.as_secs_f64() * 1e3,
            max.as_secs_f64() * 1e3
        );
    };
    println!(
        "policy: {RESOURCES} resources ({:.1} MB plan), {} Terraform rules, {findings} findings",
        bytes as f64 / 1e6,
        bundle
            .catalogue()
            .map(|c| c.iter().filter(|r| r.domain == Domain::Terraform).count())
            .unwrap_or(0)
    );
    show("engine", engine);
    show("evaluate", evaluate);
    show("total", total);
}
