//! Request metrics in the Prometheus text format: requests by route, method and status, a
//! latency histogram per route, and error answers by route and code. Counting is lock-free on
//! the hot path (one set of atomics per route, fixed when the router is built).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram buckets, in seconds.
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Counters of one route (a route pattern such as `/v1/models/{model}/vectors`, and a method).
#[derive(Debug)]
struct RouteStats {
    /// Answers by status code 100..=599 (index = status - 100).
    statuses: Vec<AtomicU64>,
    /// Cumulative is computed on export; these are per-bucket counts (+1 for +Inf).
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    /// Sum of latencies in nanoseconds.
    sum_nanos: AtomicU64,
}

impl RouteStats {
    fn new() -> Self {
        RouteStats {
            statuses: (100..600).map(|_| AtomicU64::new(0)).collect(),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_nanos: AtomicU64::new(0),
        }
    }
}

/// All counters of a server.
#[derive(Debug)]
pub struct Metrics {
    /// Fixed at construction: route → (method, stats). Unmatched requests go to `unmatched`.
    routes: BTreeMap<String, Vec<(String, RouteStats)>>,
    /// Error answers by (route, code); errors are rare enough for a lock.
    errors: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// Requests being answered right now.
    in_flight: AtomicU64,
}

impl Metrics {
    /// Counters for these (method, route) pairs plus the catch-all `unmatched` route.
    pub fn new<'a>(routes: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut map: BTreeMap<String, Vec<(String, RouteStats)>> = BTreeMap::new();
        for (method, route) in routes {
            map.entry(route.to_string())
                .or_default()
                .push((method.to_string(), RouteStats::new()));
        }
        map.insert("unmatched".into(), vec![("ANY".into(), RouteStats::new())]);
        Metrics {
            routes: map,
            errors: Mutex::new(BTreeMap::new()),
            in_flight: AtomicU64::new(0),
        }
    }

    /// Marks a request as started; the guard marks it finished when dropped.
    pub fn start(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(&self.in_flight)
    }

    /// Counts one answered request. Routes not registered count as `unmatched`.
    pub fn record(
        &self,
        method: &str,
        route: Option<&str>,
        status: u16,
        latency: Duration,
        error_code: Option<&'static str>,
    ) {
        let found = route.and_then(|r| {
            let per_method = self.routes.get(r)?;
            let (_, stats) = per_method.iter().find(|(m, _)| m == method)?;
            Some((r, stats))
        });
        let (key_route, stats) = match found {
            Some(f) => f,
            None => match self.routes.get("unmatched") {
                Some(v) => ("unmatched", &v[0].1),
                None => return,
            },
        };
        if (100..600).contains(&status) {
            stats.statuses[(status - 100) as usize].fetch_add(1, Ordering::Relaxed);
        }
        let secs = latency.as_secs_f64();
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(LATENCY_BUCKETS.len());
        stats.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        stats
            .sum_nanos
            .fetch_add(latency.as_nanos() as u64, Ordering::Relaxed);
        if let Some(code) = error_code {
            let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
            *errors.entry((key_route.to_string(), code)).or_insert(0) += 1;
        }
    }

    fn each(&self) -> impl Iterator<Item = (&str, &str, &RouteStats)> {
        self.routes
            .iter()
            .flat_map(|(r, v)| v.iter().map(move |(m, s)| (r.as_str(), m.as_str(), s)))
    }

    /// The Prometheus text exposition (format 0.0.4) of every counter.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP embers_http_requests_total HTTP requests answered, by route, method and status.\n");
        out.push_str("# TYPE embers_http_requests_total counter\n");
        for (route, method, s) in self.each() {
            for (i, c) in s.statuses.iter().enumerate() {
                let n = c.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "embers_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {n}",
                        escape(route),
                        method,
                        i + 100
                    );
                }
            }
        }
        out.push_str("# HELP embers_http_request_duration_seconds Time to answer a request, by route and method.\n");
        out.push_str("# TYPE embers_http_request_duration_seconds histogram\n");
        for (route, method, s) in self.each() {
            let counts: Vec<u64> = s
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect();
            let total: u64 = counts.iter().sum();
            if total == 0 {
                continue;
            }
            let labels = format!("route=\"{}\",method=\"{}\"", escape(route), method);
            let mut cumulative = 0;
            for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
                cumulative += counts[i];
                let _ = writeln!(
                    out,
                    "embers_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "embers_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {total}"
            );
            let sum = s.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "embers_http_request_duration_seconds_sum{{{labels}}} {sum}"
            );
            let _ = writeln!(
                out,
                "embers_http_request_duration_seconds_count{{{labels}}} {total}"
            );
        }
        out.push_str("# HELP embers_http_errors_total Error answers, by route and error code.\n");
        out.push_str("# TYPE embers_http_errors_total counter\n");
        let errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        for ((route, code), n) in errors.iter() {
            let _ = writeln!(
                out,
                "embers_http_errors_total{{route=\"{}\",code=\"{code}\"}} {n}",
                escape(route)
            );
        }
        drop(errors);
        out.push_str("# HELP embers_http_requests_in_flight Requests being answered now.\n");
        out.push_str("# TYPE embers_http_requests_in_flight gauge\n");
        let _ = writeln!(
            out,
            "embers_http_requests_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        out
    }
}

/// Decrements the in-flight gauge when dropped.
pub struct InFlight<'a>(&'a AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Escapes a label value (backslash, quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_statuses_are_counted() {
        let m = Metrics::new([("GET", "/healthz"), ("POST", "/v1/x")]);
        m.record(
            "GET",
            Some("/healthz"),
            200,
            Duration::from_micros(50),
            None,
        );
        m.record("GET", Some("/healthz"), 200, Duration::from_millis(3), None);
        m.record(
            "POST",
            Some("/v1/x"),
            422,
            Duration::from_millis(20),
            Some("empty_batch"),
        );
        m.record(
            "GET",
            None,
            404,
            Duration::from_micros(10),
            Some("not_found"),
        );
        let text = m.render();
        assert!(text.contains(
            "embers_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 2"
        ));
        // 50 µs falls in the first bucket, 3 ms in the 5 ms one.
        assert!(text.contains(
            "embers_http_request_duration_seconds_bucket{route=\"/healthz\",method=\"GET\",le=\"0.0001\"} 1"
        ));
        assert!(text.contains(
            "embers_http_request_duration_seconds_bucket{route=\"/healthz\",method=\"GET\",le=\"0.0025\"} 1"
        ));
        assert!(text.contains(
            "embers_http_request_duration_seconds_bucket{route=\"/healthz\",method=\"GET\",le=\"0.005\"} 2"
        ));
        assert!(text.contains(
            "embers_http_request_duration_seconds_count{route=\"/healthz\",method=\"GET\"} 2"
        ));
        assert!(text.contains("embers_http_errors_total{route=\"/v1/x\",code=\"empty_batch\"} 1"));
        assert!(text.contains(
            "embers_http_requests_total{route=\"unmatched\",method=\"ANY\",status=\"404\"} 1"
        ));
        assert!(text.contains("embers_http_requests_in_flight 0"));
    }
}
