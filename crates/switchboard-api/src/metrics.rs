//! Prometheus metrics, rendered in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Latency histogram bucket upper bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.counts[i] += 1;
            }
        }
        self.sum += secs;
        self.count += 1;
    }
}

/// Request counters and latency histograms by route, plus gauges and
/// counters other components (the webhook worker) report.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    counters: Mutex<BTreeMap<(String, String), u64>>,
    histograms: Mutex<BTreeMap<String, Histogram>>,
}

/// A counter kept by another component, read when the metrics are
/// rendered: its name, its help text, and each series' labels (`""` for
/// none) and value.
pub type ExternalCounter<'a> = (&'a str, &'a str, &'a [(&'a str, u64)]);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Metrics {
    /// Records one HTTP request.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        *lock(&self.requests)
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        lock(&self.latency)
            .entry(route.to_string())
            .or_default()
            .observe(elapsed.as_secs_f64());
    }

    /// Adds to a labelled counter, e.g. `("switchboard_webhook_attempts_total", "outcome=\"success\"")`.
    pub fn inc(&self, name: &str, labels: &str, by: u64) {
        *lock(&self.counters)
            .entry((name.to_string(), labels.to_string()))
            .or_default() += by;
    }

    /// Records a value in a named histogram (seconds).
    pub fn observe(&self, name: &str, secs: f64) {
        lock(&self.histograms)
            .entry(name.to_string())
            .or_default()
            .observe(secs);
    }

    /// Renders everything, plus the given gauges (name, help, value) and
    /// counters other components keep themselves (name, help, and each
    /// series' labels and value), as Prometheus text.
    #[must_use]
    pub fn render(&self, gauges: &[(&str, &str, f64)], external: &[ExternalCounter<'_>]) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP switchboard_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE switchboard_http_requests_total counter\n");
        for ((method, route, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "switchboard_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(route)
            );
        }
        out.push_str(
            "# HELP switchboard_http_request_duration_seconds HTTP request latency by route.\n",
        );
        out.push_str("# TYPE switchboard_http_request_duration_seconds histogram\n");
        for (route, h) in lock(&self.latency).iter() {
            write_histogram(
                &mut out,
                "switchboard_http_request_duration_seconds",
                &format!("route=\"{}\"", escape(route)),
                h,
            );
        }
        let counters = lock(&self.counters);
        let mut last = "";
        for ((name, labels), n) in counters.iter() {
            if name != last {
                let _ = writeln!(out, "# TYPE {name} counter");
                last = name;
            }
            write_sample(&mut out, name, labels, *n);
        }
        drop(counters);
        for (name, h) in lock(&self.histograms).iter() {
            let _ = writeln!(out, "# TYPE {name} histogram");
            write_histogram(&mut out, name, "", h);
        }
        for (name, help, series) in external {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, n) in *series {
                write_sample(&mut out, name, labels, *n);
            }
        }
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}

impl switchboard_webhook::MetricsSink for Metrics {
    fn inc(&self, name: &str, labels: &str, by: u64) {
        Self::inc(self, name, labels, by);
    }

    fn observe(&self, name: &str, secs: f64) {
        Self::observe(self, name, secs);
    }
}

/// One sample line: `name value`, or `name{labels} value`.
fn write_sample(out: &mut String, name: &str, labels: &str, value: u64) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

fn write_histogram(out: &mut String, name: &str, labels: &str, h: &Histogram) {
    let sep = if labels.is_empty() { "" } else { "," };
    for (bound, count) in BUCKETS.iter().zip(h.counts) {
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", h.count);
    let braces = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let _ = writeln!(out, "{name}_sum{braces} {}", h.sum);
    let _ = writeln!(out, "{name}_count{braces} {}", h.count);
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.observe_request("GET", "/v1/customers/{id}", 200, Duration::from_millis(3));
        m.observe_request("GET", "/v1/customers/{id}", 200, Duration::from_millis(30));
        let text = m.render(
            &[(
                "switchboard_outbox_backlog",
                "Unprocessed outbox events.",
                4.0,
            )],
            &[(
                "switchboard_doc_cache_modifies_total",
                "Modifies by what the document cache did.",
                &[("outcome=\"written\"", 7), ("outcome=\"missed\"", 3)],
            )],
        );
        assert!(text.contains("switchboard_http_requests_total{method=\"GET\",route=\"/v1/customers/{id}\",status=\"200\"} 2"));
        assert!(text.contains("switchboard_http_request_duration_seconds_bucket{route=\"/v1/customers/{id}\",le=\"0.005\"} 1"));
        assert!(text.contains(
            "switchboard_http_request_duration_seconds_count{route=\"/v1/customers/{id}\"} 2"
        ));
        assert!(text.contains("switchboard_outbox_backlog 4"));
        assert!(text.contains("# TYPE switchboard_doc_cache_modifies_total counter\n"));
        assert!(text.contains("switchboard_doc_cache_modifies_total{outcome=\"written\"} 7\n"));
        assert!(text.contains("switchboard_doc_cache_modifies_total{outcome=\"missed\"} 3\n"));
    }
}
