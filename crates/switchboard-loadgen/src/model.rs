//! What a benchmark run measures: the shared vocabulary of the driver, the
//! ceilings, the report and the chart.

use std::fmt;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The database a run uses.
pub use switchboard_storage::Backend;

/// One of the HTTP workloads of issue #8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// 1. SuperOffice `PATCH /api/v1/ChatSession/{id}`: a JSON Patch of one
    ///    `test` and two `replace` operations on a random session.
    SoPatch,
    /// 2. HelpCrunch `PATCH /v1/customers/{id}` (merge) on a random customer.
    HcPatch,
    /// 3. Chatbot `PUT /chatbot/v1/chatlog/email` with an active Zapier
    ///    subscription to `email_updated` on a local receiver.
    ChatbotEmail,
    /// 4. SuperOffice `GET /api/v1/ChatSession/{id}?$select=…` (the read path).
    SoGet,
}

impl Scenario {
    /// Every scenario, in the order.
    pub const ALL: [Self; 4] = [
        Self::SoPatch,
        Self::HcPatch,
        Self::ChatbotEmail,
        Self::SoGet,
    ];

    /// The short name used on the command line and in file names.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::SoPatch => "so-patch",
            Self::HcPatch => "hc-patch",
            Self::ChatbotEmail => "chatbot-email",
            Self::SoGet => "so-get",
        }
    }

    /// A one-line description for tables.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::SoPatch => "1. SuperOffice PATCH (JSON Patch: test + 2 replace)",
            Self::HcPatch => "2. HelpCrunch customer PATCH (merge)",
            Self::ChatbotEmail => "3. Chatbot email PUT + Zapier webhook",
            Self::SoGet => "4. SuperOffice GET with $select",
        }
    }

    /// Whether the scenario writes (and so compares with the write ceiling).
    #[must_use]
    pub fn writes(self) -> bool {
        !matches!(self, Self::SoGet)
    }

    /// Parses [`Scenario::name`].
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What was driven: one of our scenarios, or the database's own ceiling
/// (`pgbench`, or a bare SQLite connection) doing one row UPDATE plus one
/// outbox INSERT per transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "scenario")]
pub enum Subject {
    /// The database alone.
    Ceiling,
    /// Switchboard over HTTP.
    Scenario(Scenario),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ceiling => f.write_str("ceiling"),
            Self::Scenario(s) => s.fmt(f),
        }
    }
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Largest.
    pub max_us: u64,
    /// Mean.
    pub mean_us: f64,
}

impl Latency {
    /// The percentiles of a histogram recorded in microseconds (all zero
    /// when it is empty).
    #[must_use]
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        Self {
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            max_us: h.max(),
            mean_us: h.mean(),
        }
    }
}

/// A new latency histogram: 1 µs to 60 s at 3 significant digits.
///
/// # Errors
///
/// Never with these bounds; the type says so because the constructor does.
pub fn histogram() -> Result<Histogram<u64>, hdrhistogram::CreationError> {
    Histogram::new_with_bounds(1, 60_000_000, 3)
}

/// The outcome of driving one subject for the measured interval.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Requests (or transactions) that succeeded in the interval.
    pub ok: u64,
    /// Requests that failed: a transport error or an unexpected status.
    pub errors: u64,
    /// The measured interval, in seconds (warm-up excluded).
    pub seconds: f64,
    /// Latency of the successful requests.
    pub latency: Latency,
}

impl Measurement {
    /// Successful requests (or transactions) per second.
    #[must_use]
    pub fn throughput(&self) -> f64 {
        if self.seconds > 0.0 {
            self.ok as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// What else the machine was doing during a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Contention {
    /// The 1-minute load average just before the run.
    pub loadavg_before: f64,
    /// CPU time taken by processes that are not part of the benchmark
    /// (neither the load generator, the server, the database nor pgbench),
    /// as a share of the machine's capacity during the run (0.0–1.0).
    pub other_cpu_share: f64,
    /// CPU time the hypervisor gave to other guests while this machine
    /// had work to run (`steal` in `/proc/stat`), as a share of the
    /// machine's capacity during the run (0.0–1.0): a virtual machine
    /// that is slow for reasons no process here shows.
    #[serde(default)]
    pub stolen_cpu_share: f64,
    /// Whether other processes, or other guests, took enough CPU to
    /// distort the run.
    pub contended: bool,
}

/// CPU seconds spent during a run's measured window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuTime {
    /// The server process (on SQLite its database work too).
    pub server_s: f64,
    /// The PostgreSQL cluster (0 on SQLite).
    pub database_s: f64,
    /// The load generator with its waited-for children (for the ceiling:
    /// the in-process SQLite loop, or pgbench).
    pub client_s: f64,
}

/// CPU microseconds per successful request (or ceiling transaction): of
/// one run ([`CpuTime::per_request`]), or in the load benchmark's summary
/// the medians over its rounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CpuPerRequest {
    /// The server process (with SQLite's work on SQLite).
    pub server_us: f64,
    /// The PostgreSQL cluster.
    pub database_us: f64,
    /// The load generator (for the ceiling: the SQLite loop or pgbench).
    pub client_us: f64,
}

impl CpuPerRequest {
    /// Everything the machine spent on one request.
    #[must_use]
    pub fn total_us(&self) -> f64 {
        self.server_us + self.database_us + self.client_us
    }
}

impl CpuTime {
    /// These seconds over `ok` successful requests, in microseconds each;
    /// `None` when nothing succeeded.
    #[must_use]
    pub fn per_request(&self, ok: u64) -> Option<CpuPerRequest> {
        let ok = ok as f64;
        let us = |seconds: f64| seconds * 1e6 / ok;
        (ok > 0.0).then(|| CpuPerRequest {
            server_us: us(self.server_s),
            database_us: us(self.database_s),
            client_us: us(self.client_s),
        })
    }
}

/// The value of counter `name{outcome="<outcome>"}` in a Prometheus text
/// exposition.
fn outcome_counter(metrics: &str, name: &str, outcome: &str) -> Option<u64> {
    let line = format!("{name}{{outcome=\"{outcome}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(line.as_str()))
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// What the server's document cache did for the modifies of a run's
/// measured window (PostgreSQL; from the server's `/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheUse {
    /// Modifies planned on a cached copy and written: no read.
    pub written: u64,
    /// Cached copies that could not be written (read again).
    pub stale: u64,
    /// Modifies that found no copy and read the row.
    pub missed: u64,
}

impl CacheUse {
    /// The counters of a Prometheus text exposition (`None` without them:
    /// a server without the cache's metrics).
    #[must_use]
    pub fn parse(metrics: &str) -> Option<Self> {
        let counter =
            |outcome| outcome_counter(metrics, "switchboard_doc_cache_modifies_total", outcome);
        Some(Self {
            written: counter("written")?,
            stale: counter("stale")?,
            missed: counter("missed")?,
        })
    }

    /// What happened between `earlier` and `self` (counters only grow; a
    /// restart in between would make a difference negative, so it
    /// saturates).
    #[must_use]
    pub fn since(self, earlier: Self) -> Self {
        Self {
            written: self.written.saturating_sub(earlier.written),
            stale: self.stale.saturating_sub(earlier.stale),
            missed: self.missed.saturating_sub(earlier.missed),
        }
    }

    /// The share of modifies written from a cached copy, when there were any.
    #[must_use]
    pub fn hit_share(self) -> Option<f64> {
        let all = self.written + self.stale + self.missed;
        #[expect(clippy::cast_precision_loss, reason = "a share")]
        (all > 0).then(|| self.written as f64 / all as f64)
    }
}

/// What the server's memo of parsed documents did for the pages and
/// searches of a run (from the server's `/metrics`): how many documents
/// it parsed, and how many it copied because it had parsed the same text
/// before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentsRead {
    /// Documents parsed.
    pub parsed: u64,
    /// Documents copied from the memo instead of parsed.
    pub reused: u64,
}

impl DocumentsRead {
    /// The counters of a Prometheus text exposition (`None` without them:
    /// a server without the memo's metrics).
    #[must_use]
    pub fn parse(metrics: &str) -> Option<Self> {
        let counter =
            |outcome| outcome_counter(metrics, "switchboard_documents_read_total", outcome);
        Some(Self {
            parsed: counter("parsed")?,
            reused: counter("reused")?,
        })
    }

    /// What happened between `earlier` and `self` (saturating, as
    /// [`CacheUse::since`]).
    #[must_use]
    pub fn since(self, earlier: Self) -> Self {
        Self {
            parsed: self.parsed.saturating_sub(earlier.parsed),
            reused: self.reused.saturating_sub(earlier.reused),
        }
    }

    /// The share of documents copied, when any were read.
    #[must_use]
    pub fn reused_share(self) -> Option<f64> {
        let all = self.parsed + self.reused;
        #[expect(clippy::cast_precision_loss, reason = "a share")]
        (all > 0).then(|| self.reused as f64 / all as f64)
    }
}

/// Webhook delivery under scenario 3.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// Email updates acknowledged with 200 (each must produce one delivery).
    pub acknowledged: u64,
    /// Distinct acknowledged updates whose delivery arrived.
    pub delivered: u64,
    /// Acknowledged updates whose delivery never arrived within the drain time.
    pub lost: u64,
    /// Deliveries that arrived more than once (allowed: at-least-once).
    pub duplicates: u64,
    /// Deliveries per second over the measured interval plus the drain.
    pub rate_per_s: f64,
    /// From the client receiving the 200 to the receiver getting the
    /// webhook (0 when the webhook overtook the response).
    pub latency: Latency,
}

/// One measured run of one configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// The database.
    pub backend: Backend,
    /// Ours or the ceiling.
    pub subject: Subject,
    /// Concurrent connections (pgbench clients for the PostgreSQL ceiling;
    /// the SQLite ceiling always has one writer).
    pub concurrency: u32,
    /// Which repetition (1-based).
    pub round: u32,
    /// Throughput, latency and errors.
    pub measurement: Measurement,
    /// The machine's state.
    pub contention: Contention,
    /// Scenario 3 only.
    pub delivery: Option<Delivery>,
    /// The server's peak resident set size so far, in KiB (our runs only).
    pub peak_rss_kib: Option<u64>,
    /// CPU time in the measured window (absent in older reports).
    #[serde(default)]
    pub cpu: Option<CpuTime>,
    /// The document cache in the measured window (our runs on PostgreSQL;
    /// absent in older reports).
    #[serde(default)]
    pub cache: Option<CacheUse>,
}

/// How long a server start took until `/readyz` answered 200.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Startup {
    /// The database.
    pub backend: Backend,
    /// Milliseconds from spawning the process to the first 200.
    pub ready_ms: f64,
}

/// Everything one `switchboard-loadgen run` measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// CPU model, cores, memory, kernel.
    pub machine: String,
    /// The command line that produced the report.
    pub command: String,
    /// UTC start time (RFC 3339).
    pub started_at: String,
    /// Seconds measured per run (after warm-up).
    pub duration_s: f64,
    /// The durability settings each backend ran with.
    pub durability: Vec<(Backend, String)>,
    /// The ceiling's definition per backend.
    pub ceilings: Vec<(Backend, String)>,
    /// Every server start.
    pub startups: Vec<Startup>,
    /// Every run, in the order they ran.
    pub runs: Vec<Run>,
    /// Whether each PostgreSQL server was primed before each scenario that
    /// writes (every row it writes, written once; absent in older reports,
    /// which did not prime).
    #[serde(default)]
    pub primed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    const METRICS: &str = "\
# TYPE switchboard_doc_cache_modifies_total counter
switchboard_doc_cache_modifies_total{outcome=\"written\"} 90
switchboard_doc_cache_modifies_total{outcome=\"stale\"} 2
switchboard_doc_cache_modifies_total{outcome=\"missed\"} 8
switchboard_doc_cache_entries 100
";

    #[test]
    fn cache_use_is_read_from_metrics_and_differenced() {
        let after = CacheUse::parse(METRICS).unwrap_or_default();
        assert_eq!(
            after,
            CacheUse {
                written: 90,
                stale: 2,
                missed: 8
            }
        );
        let before = CacheUse {
            written: 40,
            stale: 2,
            missed: 8,
        };
        let window = after.since(before);
        assert_eq!(window.hit_share(), Some(1.0));
        assert_eq!(after.hit_share(), Some(0.9));
        assert_eq!(CacheUse::default().hit_share(), None);
    }

    #[test]
    fn documents_read_are_read_from_metrics_and_differenced() {
        let metrics = "switchboard_documents_read_total{outcome=\"parsed\"} 30\n\
                       switchboard_documents_read_total{outcome=\"reused\"} 170\n";
        let after = DocumentsRead::parse(metrics).unwrap_or_default();
        assert_eq!(
            after,
            DocumentsRead {
                parsed: 30,
                reused: 170
            }
        );
        let window = after.since(DocumentsRead {
            parsed: 30,
            reused: 70,
        });
        assert_eq!(window.reused_share(), Some(1.0));
        assert_eq!(after.reused_share(), Some(0.85));
        assert_eq!(DocumentsRead::default().reused_share(), None);
        assert_eq!(DocumentsRead::parse(METRICS), None);
    }

    #[test]
    fn metrics_without_the_cache_give_no_figures() {
        assert_eq!(CacheUse::parse("switchboard_doc_cache_entries 0\n"), None);
        let partial = "switchboard_doc_cache_modifies_total{outcome=\"written\"} 1\n";
        assert_eq!(CacheUse::parse(partial), None);
    }
}
