//! The worker's settings, and the duration syntax the server's
//! configuration uses for them (`500ms`, `5s`, `5m`, `2h`, `1d`).

use std::time::Duration;

use crate::target::TargetPolicy;

/// The default retry schedule: the delay before each attempt, the first
/// one immediate. Ten attempts over about three days (before jitter).
pub const DEFAULT_SCHEDULE: [Duration; 10] = [
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
    Duration::from_secs(20 * 3600),
    Duration::from_secs(24 * 3600),
];

/// How the delivery worker behaves. `WebhookConfig::default()` is the
/// production default; tests shorten the schedule and the waits.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    /// Run the delivery worker in `switchboard serve`.
    pub enabled: bool,
    /// Which targets may be reached (the SSRF guard).
    pub targets: TargetPolicy,
    /// The delay before each attempt: entry 0 before the first attempt,
    /// entry n before attempt n+1. Its length is the number of attempts.
    pub schedule: Vec<Duration>,
    /// Random spread of each delay, as a fraction: 0.2 means ±20%.
    pub jitter: f64,
    /// Minimum delay after a 429 or a timeout.
    pub throttle_delay: Duration,
    /// Upper bound on a `Retry-After` the worker honours (429 and 503).
    pub retry_after_max: Duration,
    /// TCP and TLS connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout, including reading the (capped) response.
    pub timeout: Duration,
    /// How long a claimed delivery stays leased; must exceed `timeout`
    /// with room for queueing. An expired lease makes the delivery due again.
    pub lease: Duration,
    /// How often to look for due work when nothing wakes the worker.
    pub poll_interval: Duration,
    /// After a wake-up, and after a batch smaller than `batch_size`, how
    /// long the worker waits for more events before it takes them, so that
    /// a busy server fans out many events per transaction instead of a few.
    /// Adds at most this much to the commit-to-delivery latency; zero takes
    /// events as soon as they are committed.
    pub batch_delay: Duration,
    /// Most attempts in flight in this process.
    pub max_concurrency: usize,
    /// Most attempts in flight to one target (scheme, host and port).
    pub per_target_concurrency: usize,
    /// Most attempts per second to one target.
    pub per_target_rate: f64,
    /// How many outbox events or deliveries one claim takes.
    pub batch_size: u32,
    /// A subscription failing continuously this long is disabled.
    pub disable_after: Duration,
    /// Most response bytes read (the rest is not read).
    pub response_read_limit: usize,
    /// Most response bytes kept in an attempt's excerpt.
    pub excerpt_limit: usize,
    /// How long shutdown waits for in-flight attempts before releasing them.
    pub shutdown_grace: Duration,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            targets: TargetPolicy::default(),
            schedule: DEFAULT_SCHEDULE.to_vec(),
            jitter: 0.2,
            throttle_delay: Duration::from_secs(60),
            retry_after_max: Duration::from_secs(6 * 3600),
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(15),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            batch_delay: Duration::from_millis(5),
            max_concurrency: 64,
            per_target_concurrency: 8,
            per_target_rate: 30.0,
            batch_size: 100,
            disable_after: Duration::from_secs(5 * 24 * 3600),
            response_read_limit: 16 * 1024,
            excerpt_limit: 1024,
            shutdown_grace: Duration::from_secs(20),
            user_agent: concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// A setting out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid webhook setting `{key}`: {reason}")]
pub struct ConfigError {
    /// The key, as the configuration file spells it.
    pub key: &'static str,
    /// What is wrong.
    pub reason: String,
}

fn bad(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        key,
        reason: reason.into(),
    }
}

impl WebhookConfig {
    /// Checks the settings against each other.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.schedule.is_empty() || self.schedule.len() > 100 {
            return Err(bad("retry_schedule", "needs 1 to 100 entries"));
        }
        if !(0.0..=0.9).contains(&self.jitter) || self.jitter.is_nan() {
            return Err(bad("jitter", "must be between 0 and 0.9"));
        }
        if self.connect_timeout.is_zero() || self.timeout.is_zero() {
            return Err(bad("timeout", "timeouts must be positive"));
        }
        if self.lease <= self.timeout {
            return Err(bad(
                "lease",
                "must be longer than the request timeout (leave room for queueing)",
            ));
        }
        if self.poll_interval.is_zero() {
            return Err(bad("poll_interval", "must be positive"));
        }
        if self.max_concurrency == 0 || self.per_target_concurrency == 0 {
            return Err(bad("max_concurrency", "must be at least 1"));
        }
        if self.per_target_rate.is_nan() || self.per_target_rate <= 0.0 {
            return Err(bad("per_target_rate", "must be positive"));
        }
        if self.batch_size == 0 {
            return Err(bad("batch_size", "must be at least 1"));
        }
        Ok(())
    }
}

/// Parses a duration: a number with an optional unit `ms`, `s` (the
/// default), `m`, `h` or `d`, e.g. `250ms`, `5s`, `30m`, `2h`, `5d`, `1.5s`.
///
/// ```
/// use std::time::Duration;
/// use switchboard_webhook::config::parse_duration;
/// assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
/// assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
/// assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
/// assert!(parse_duration("soon").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 500ms, 5s, 5m, 2h or 1d"))?;
    let scale = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        other => return Err(format!("unknown unit {other:?}; use ms, s, m, h or d")),
    };
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("{text:?}: {e}"))
}

/// Parses a comma-separated list of durations (a retry schedule).
///
/// ```
/// use std::time::Duration;
/// use switchboard_webhook::config::parse_schedule;
/// assert_eq!(parse_schedule("0, 5s, 5m").unwrap(), vec![Duration::ZERO, Duration::from_secs(5), Duration::from_secs(300)]);
/// ```
pub fn parse_schedule(text: &str) -> Result<Vec<Duration>, String> {
    text.split(',').map(parse_duration).collect()
}
