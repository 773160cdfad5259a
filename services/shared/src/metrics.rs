//! In-process Prometheus metrics, rendered as text at `/metrics`.
//!
//! Request counters and latency histograms are kept per (method, route template, status).
//! `http_requests_throttled_per_second` is the rate of 429 answers over the last ten seconds,
//! the number the HPA scales on.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];
const WINDOW_SECS: u64 = 10;

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

pub struct Metrics {
    service: String,
    started: Instant,
    requests: Mutex<BTreeMap<(String, String, u16), Series>>,
    throttled_total: AtomicU64,
    /// (second since start, count) ring for the throttled rate.
    throttled_window: Mutex<[(u64, u64); WINDOW_SECS as usize]>,
    counters: Mutex<BTreeMap<String, u64>>,
    /// Counters a component keeps itself (hot paths count with one atomic add, no lock).
    shared: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
}

impl Metrics {
    pub fn new(service: &str) -> Self {
        Self {
            service: service.to_string(),
            started: Instant::now(),
            requests: Mutex::new(BTreeMap::new()),
            throttled_total: AtomicU64::new(0),
            throttled_window: Mutex::new([(u64::MAX, 0); WINDOW_SECS as usize]),
            counters: Mutex::new(BTreeMap::new()),
            shared: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        if let Ok(mut map) = self.requests.lock() {
            let s = map
                .entry((method.to_string(), route.to_string(), status))
                .or_default();
            s.count += 1;
            s.sum += secs;
            for (i, b) in BUCKETS.iter().enumerate() {
                if secs <= *b {
                    s.buckets[i] += 1;
                }
            }
        }
    }

    pub fn throttled(&self) {
        self.throttled_total.fetch_add(1, Ordering::Relaxed);
        let now = self.started.elapsed().as_secs();
        if let Ok(mut ring) = self.throttled_window.lock() {
            let slot = &mut ring[(now % WINDOW_SECS) as usize];
            if slot.0 != now {
                *slot = (now, 0);
            }
            slot.1 += 1;
        }
    }

    /// Throttled requests per second over the last ten seconds.
    pub fn throttled_per_second(&self) -> f64 {
        let now = self.started.elapsed().as_secs();
        let total: u64 = match self.throttled_window.lock() {
            Ok(ring) => ring
                .iter()
                .filter(|(sec, _)| *sec != u64::MAX && now.saturating_sub(*sec) < WINDOW_SECS)
                .map(|(_, n)| n)
                .sum(),
            Err(_) => 0,
        };
        total as f64 / WINDOW_SECS as f64
    }

    /// Adds to a named business counter (`orders_confirmed_total`, ...).
    pub fn incr(&self, name: &str, by: u64) {
        if let Ok(mut map) = self.counters.lock() {
            *map.entry(name.to_string()).or_default() += by;
        }
    }

    /// A counter its owner adds to directly; rendered with the others.
    pub fn shared_counter(&self, name: &str) -> Arc<AtomicU64> {
        match self.shared.lock() {
            Ok(mut map) => map.entry(name.to_string()).or_default().clone(),
            Err(_) => Arc::default(),
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let svc = &self.service;
        let _ = writeln!(out, "# HELP http_requests_total HTTP requests answered.");
        let _ = writeln!(out, "# TYPE http_requests_total counter");
        let _ = writeln!(
            out,
            "# HELP http_request_duration_seconds Time to answer HTTP requests."
        );
        let _ = writeln!(out, "# TYPE http_request_duration_seconds histogram");
        if let Ok(map) = self.requests.lock() {
            for ((method, route, status), s) in map.iter() {
                let labels = format!(
                    "service=\"{svc}\",method=\"{method}\",route=\"{route}\",status=\"{status}\""
                );
                let _ = writeln!(out, "http_requests_total{{{labels}}} {}", s.count);
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}",
                        s.buckets[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                    s.count
                );
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_sum{{{labels}}} {}",
                    s.sum
                );
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_count{{{labels}}} {}",
                    s.count
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP http_requests_throttled_total Requests answered 429 by the rate limiter."
        );
        let _ = writeln!(out, "# TYPE http_requests_throttled_total counter");
        let _ = writeln!(
            out,
            "http_requests_throttled_total{{service=\"{svc}\"}} {}",
            self.throttled_total.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# HELP http_requests_throttled_per_second Throttled requests per second over the last 10s.");
        let _ = writeln!(out, "# TYPE http_requests_throttled_per_second gauge");
        let _ = writeln!(
            out,
            "http_requests_throttled_per_second{{service=\"{svc}\"}} {}",
            self.throttled_per_second()
        );
        if let Ok(map) = self.counters.lock() {
            for (name, v) in map.iter() {
                let _ = writeln!(out, "# TYPE {name} counter");
                let _ = writeln!(out, "{name}{{service=\"{svc}\"}} {v}");
            }
        }
        if let Ok(map) = self.shared.lock() {
            for (name, v) in map.iter() {
                let v = v.load(Ordering::Relaxed);
                let _ = writeln!(out, "# TYPE {name} counter");
                let _ = writeln!(out, "{name}{{service=\"{svc}\"}} {v}");
            }
        }
        let _ = writeln!(out, "# TYPE process_uptime_seconds gauge");
        let _ = writeln!(
            out,
            "process_uptime_seconds{{service=\"{svc}\"}} {}",
            self.started.elapsed().as_secs()
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_requests_and_throttle_rate() {
        let m = Metrics::new("catalog");
        m.observe("GET", "/v1/products", 200, Duration::from_millis(3));
        m.throttled();
        m.throttled();
        let text = m.render();
        assert!(text.contains(
            "http_requests_total{service=\"catalog\",method=\"GET\",route=\"/v1/products\",status=\"200\"} 1"
        ));
        assert!(
            text.contains("http_requests_throttled_per_second{service=\"catalog\"} 0.2"),
            "{text}"
        );
        assert!(text.contains("http_requests_throttled_total{service=\"catalog\"} 2"));
    }
}
