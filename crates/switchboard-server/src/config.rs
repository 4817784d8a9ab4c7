//! Settings, loaded once in layers: built-in defaults, then the TOML
//! configuration file, then `SWITCHBOARD_*` environment variables, then
//! command-line flags. The result is typed and validated, and passed down
//! explicitly; nothing here is global.
//!
//! # The configuration file
//!
//! Every key is optional; unknown keys are errors (so typos do not pass
//! silently).
//!
//! ```toml
//! bind = "127.0.0.1:8080"            # IP:PORT; port 0 picks a free port
//! database_url = "sqlite://switchboard.db"   # or postgres://user:pass@host/db
//! log = "info"                       # tracing filter, e.g. "info,switchboard_api=debug"
//! log_format = "text"                # "text" or "json"
//! workers = 4                        # HTTP worker threads (default: one per CPU core)
//! shutdown_timeout_secs = 30         # grace period for in-flight requests on shutdown
//!
//! [api]
//! body_limit = 1048576               # largest request body, in bytes
//! rate_limit_per_minute = 120        # per API key
//! rate_limit_burst = 120             # default: rate_limit_per_minute
//! max_batch = 10                     # most items in one batch request
//! key_cache_secs = 30                # remember a verified API key this long (0: look up every request)
//! auth_failures_per_minute = 60      # failed authentications per client address, then 429
//! auth_failure_burst = 20
//! trusted_proxies = ["10.0.0.0/8"]   # believe X-Forwarded-For only from these peers (default: none)
//!
//! [database]
//! max_connections = 8                # pool size (at least 2 are used)
//! connection_timeout_secs = 10       # wait for a free connection
//! sqlite_synchronous = "full"        # "full" (durable) or "normal" (faster)
//! sqlite_busy_timeout_ms = 5000      # wait for another process's write lock
//! sqlite_mmap_mib = 0                 # read the file through a memory map up to this size (0: off)
//! sqlite_cache_mib = 16               # SQLite's page caches, shared out over the connections
//! doc_cache_entries = 20000          # PostgreSQL: recently written documents kept per node (0: off)
//! doc_cache_mib = 64                 # ... and about this much memory for them (0: off)
//! decoded_cache_mib = 32             # documents parsed once, reused while unchanged (0: off)
//!
//! [secrets]                          # keys of the webhook signing secrets (docs/webhooks.md)
//! keys = ["k2:BASE64", "k1:BASE64"]  # `id:base64(32 bytes)`; the first encrypts, all decrypt
//! key_file = "/etc/switchboard/secret.keys"  # or: one `id:base64` a line (instead of keys)
//!                                    # neither: SQLite uses `<database>.keys` beside the database
//!                                    # (created 0600 on first start); PostgreSQL requires one
//!
//! [webhook]                          # the delivery worker (docs/webhooks.md)
//! enabled = true                     # run it inside `switchboard serve`
//! allow_private_targets = false      # allow loopback/private targets: tests and local development only
//! retry_schedule = "0s, 5s, 5m, 30m, 2h, 5h, 10h, 14h, 20h, 24h"  # delay before each attempt
//! jitter = 0.2                       # ±20% on each delay
//! throttle_delay = "60s"             # least delay after a 429 or a timeout
//! retry_after_max = "6h"             # largest Retry-After honoured (429, 503)
//! connect_timeout = "5s"
//! timeout = "15s"                    # whole request, including the capped response read
//! lease = "60s"                      # a crashed worker's deliveries are due again after this
//! poll_interval = "1s"               # look for due retries and other processes' events
//! batch_delay = "5ms"                # gather events this long after a wake-up (fewer, larger transactions)
//! max_concurrency = 64               # attempts in flight in this process
//! per_target_concurrency = 8         # attempts in flight to one target
//! per_target_rate = 30               # attempts per second to one target
//! disable_after = "5d"               # disable a subscription failing continuously this long
//! shutdown_grace = "20s"             # wait for in-flight attempts on shutdown
//!
//! [retention]                        # deleting finished work (docs/webhooks.md, "Retention")
//! enabled = true                     # run the retention task inside `switchboard serve`
//! events = "30d"                     # processed outbox events (webhook payloads); 0 keeps forever
//! deliveries = "30d"                 # finished webhook deliveries and their attempts; 0 keeps forever
//! history = "90d"                    # change history; 0 keeps forever
//! interval = "1m"                    # pause between pruning rounds
//! batch_size = 500                   # rows of each kind per delete transaction
//!
//! [console]                          # the operator console at /console/ (docs/console.md)
//! enabled = true                     # serve it
//! session_idle = "30m"               # a session unused this long ends
//! session_lifetime = "12h"           # a session ends this long after sign-in, used or not
//! sign_in_per_minute = 10            # sign-in attempts per client address (then 429)
//! sign_in_burst = 5                  # attempts a client address may make at once
//! secure_cookies = "auto"            # "auto": Secure over TLS or via a trusted proxy's
//!                                    # X-Forwarded-Proto: https; "always": every cookie Secure
//! page_size = 25                     # conversations per inbox page (1-1000)
//! live_poll = "5s"                   # open pages also look for other processes' changes this often
//! ```
//!
//! Durations are a number with a unit: `ms`, `s`, `m`, `h` or `d`. A
//! retention of `0` (or `"0"`, `"0d"`) keeps that kind of row forever.
//!
//! # Environment variables
//!
//! Each key has a variable: `SWITCHBOARD_` followed by its path in upper case,
//! with `_` between a section and its key: `SWITCHBOARD_BIND`,
//! `SWITCHBOARD_DATABASE_URL`, `SWITCHBOARD_LOG`, `SWITCHBOARD_LOG_FORMAT`,
//! `SWITCHBOARD_WORKERS`, `SWITCHBOARD_SHUTDOWN_TIMEOUT_SECS`,
//! `SWITCHBOARD_API_BODY_LIMIT`, `SWITCHBOARD_API_RATE_LIMIT_PER_MINUTE`,
//! `SWITCHBOARD_API_RATE_LIMIT_BURST`, `SWITCHBOARD_API_MAX_BATCH`, `SWITCHBOARD_API_KEY_CACHE_SECS`,
//! `SWITCHBOARD_API_AUTH_FAILURES_PER_MINUTE`, `SWITCHBOARD_API_AUTH_FAILURE_BURST`,
//! `SWITCHBOARD_API_TRUSTED_PROXIES` (comma-separated),
//! `SWITCHBOARD_DATABASE_MAX_CONNECTIONS`,
//! `SWITCHBOARD_DATABASE_CONNECTION_TIMEOUT_SECS`,
//! `SWITCHBOARD_DATABASE_SQLITE_SYNCHRONOUS`,
//! `SWITCHBOARD_DATABASE_SQLITE_BUSY_TIMEOUT_MS`, `SWITCHBOARD_SECRETS_KEYS`
//! (comma-separated `id:base64` keys), `SWITCHBOARD_SECRETS_KEY_FILE`, and for each `[webhook]`
//! key `SWITCHBOARD_WEBHOOK_<KEY>` (e.g. `SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS=1`,
//! `SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE="0s,1s,1s"`), and for each
//! `[retention]` key `SWITCHBOARD_RETENTION_<KEY>` (e.g.
//! `SWITCHBOARD_RETENTION_HISTORY=0`), and for each `[console]` key
//! `SWITCHBOARD_CONSOLE_<KEY>` (e.g. `SWITCHBOARD_CONSOLE_SESSION_IDLE=15m`,
//! `SWITCHBOARD_CONSOLE_SECURE_COOKIES=always`). `RUST_LOG` is read when
//! `SWITCHBOARD_LOG` is unset. An empty variable counts as unset.
//! `SWITCHBOARD_CONFIG` names the configuration file.

use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;
use switchboard_api::ApiConfig;
use switchboard_console::{ConsoleConfig, SecureCookies};
use switchboard_storage::{DatabaseUrl, Retention, SecretKeySource, SqliteSync, StoreConfig};
use switchboard_webhook::{TargetPolicy, WebhookConfig};

use crate::ServerConfig;
use crate::retention::RetentionConfig;

/// The default listen address.
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// The default database: an SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://switchboard.db";
/// The default grace period for in-flight requests on shutdown.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything the binary needs: the server's settings and the logging setup.
#[derive(Debug, Clone)]
pub struct Settings {
    /// What [`start`](crate::start) takes.
    pub server: ServerConfig,
    /// How to log.
    pub log: LogConfig,
}

/// How to log (see [`crate::logging::init`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// A `tracing` filter (`RUST_LOG` syntax); `None` means the caller's default.
    pub filter: Option<String>,
}

/// The log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            _ => Err("expected \"text\" or \"json\"".into()),
        }
    }
}

/// SQLite's `synchronous` setting as spelled in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Synchronous {
    Full,
    Normal,
}

impl FromStr for Synchronous {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "full" => Ok(Self::Full),
            "normal" => Ok(Self::Normal),
            _ => Err("expected \"full\" or \"normal\"".into()),
        }
    }
}

impl From<Synchronous> for SqliteSync {
    fn from(s: Synchronous) -> Self {
        match s {
            Synchronous::Full => Self::Full,
            Synchronous::Normal => Self::Normal,
        }
    }
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--bind`.
    pub bind: Option<String>,
    /// `--database-url`.
    pub database_url: Option<String>,
}

/// Why the settings could not be loaded. Every variant names the file,
/// variable or key at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML or has a wrong key or type.
    #[error("invalid config file {}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// An environment variable does not hold a valid value.
    #[error("invalid environment variable {var}={value:?}: {reason}")]
    Env {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// A setting (from any source) is out of range or malformed.
    #[error("invalid setting `{key}` = {value}: {reason}")]
    Invalid {
        /// The key, as spelled in the file (`api.body_limit`).
        key: &'static str,
        /// The offending value.
        value: String,
        /// What is wrong.
        reason: String,
    },
}

/// One layer of settings: every field optional; a later layer's `Some` wins.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Layer {
    bind: Option<String>,
    database_url: Option<String>,
    log: Option<String>,
    log_format: Option<LogFormat>,
    workers: Option<usize>,
    shutdown_timeout_secs: Option<u64>,
    #[serde(default)]
    api: ApiLayer,
    #[serde(default)]
    database: DatabaseLayer,
    #[serde(default)]
    webhook: WebhookLayer,
    #[serde(default)]
    retention: RetentionLayer,
    #[serde(default)]
    secrets: SecretsLayer,
    #[serde(default)]
    console: ConsoleLayer,
}

/// The operator console (`[console]`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsoleLayer {
    enabled: Option<bool>,
    session_idle: Option<String>,
    session_lifetime: Option<String>,
    sign_in_per_minute: Option<u32>,
    sign_in_burst: Option<u32>,
    secure_cookies: Option<String>,
    page_size: Option<u32>,
    live_poll: Option<String>,
}

impl ConsoleLayer {
    fn merge(self, over: Self) -> Self {
        Self {
            enabled: over.enabled.or(self.enabled),
            session_idle: over.session_idle.or(self.session_idle),
            session_lifetime: over.session_lifetime.or(self.session_lifetime),
            sign_in_per_minute: over.sign_in_per_minute.or(self.sign_in_per_minute),
            sign_in_burst: over.sign_in_burst.or(self.sign_in_burst),
            secure_cookies: over.secure_cookies.or(self.secure_cookies),
            page_size: over.page_size.or(self.page_size),
            live_poll: over.live_poll.or(self.live_poll),
        }
    }

    fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            enabled: parse_env::<Flag>(get, "SWITCHBOARD_CONSOLE_ENABLED")?.map(|f| f.0),
            session_idle: get("SWITCHBOARD_CONSOLE_SESSION_IDLE"),
            session_lifetime: get("SWITCHBOARD_CONSOLE_SESSION_LIFETIME"),
            sign_in_per_minute: parse_env(get, "SWITCHBOARD_CONSOLE_SIGN_IN_PER_MINUTE")?,
            sign_in_burst: parse_env(get, "SWITCHBOARD_CONSOLE_SIGN_IN_BURST")?,
            secure_cookies: get("SWITCHBOARD_CONSOLE_SECURE_COOKIES"),
            page_size: parse_env(get, "SWITCHBOARD_CONSOLE_PAGE_SIZE")?,
            live_poll: get("SWITCHBOARD_CONSOLE_LIVE_POLL"),
        })
    }

    fn resolve(self) -> Result<ConsoleConfig, ConfigError> {
        let Self {
            enabled,
            session_idle,
            session_lifetime,
            sign_in_per_minute,
            sign_in_burst,
            secure_cookies,
            page_size,
            live_poll,
        } = self;
        let d = ConsoleConfig::default();
        // A positive duration.
        let duration = |key: &'static str, v: Option<String>, default: Duration| {
            let value = match v {
                None => default,
                Some(text) => switchboard_webhook::config::parse_duration(&text)
                    .map_err(|e| invalid(key, format!("{text:?}"), e))?,
            };
            if value.is_zero() {
                return Err(invalid(key, "0", "must be positive"));
            }
            Ok(value)
        };
        let idle = duration("console.session_idle", session_idle, d.session.idle)?;
        let max_age = duration(
            "console.session_lifetime",
            session_lifetime,
            d.session.max_age,
        )?;
        if max_age < idle {
            return Err(invalid(
                "console.session_lifetime",
                format!("{max_age:?}"),
                format!("must be at least console.session_idle ({idle:?})"),
            ));
        }
        let live_poll = duration("console.live_poll", live_poll, d.live_poll)?;
        if live_poll < Duration::from_millis(100) || live_poll > Duration::from_secs(3600) {
            return Err(invalid(
                "console.live_poll",
                format!("{live_poll:?}"),
                "must be between 100ms and 1h",
            ));
        }
        let page_size = page_size.unwrap_or(d.page_size);
        if !(1..=switchboard_domain::query::MAX_LIMIT).contains(&page_size) {
            return Err(invalid(
                "console.page_size",
                page_size,
                format!(
                    "must be between 1 and {}",
                    switchboard_domain::query::MAX_LIMIT
                ),
            ));
        }
        let secure_cookies = match secure_cookies {
            None => d.secure_cookies,
            Some(text) => text
                .parse::<SecureCookies>()
                .map_err(|e| invalid("console.secure_cookies", format!("{text:?}"), e))?,
        };
        Ok(ConsoleConfig {
            enabled: enabled.unwrap_or(d.enabled),
            sign_in_per_minute: at_least_one(
                "console.sign_in_per_minute",
                sign_in_per_minute,
                d.sign_in_per_minute,
            )?,
            sign_in_burst: at_least_one("console.sign_in_burst", sign_in_burst, d.sign_in_burst)?,
            session: switchboard_storage::SessionPolicy { idle, max_age },
            page_size,
            live_poll,
            secure_cookies,
        })
    }
}

/// Where the webhook signing-secret keys come from (`[secrets]`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretsLayer {
    keys: Option<Vec<String>>,
    key_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiLayer {
    body_limit: Option<usize>,
    rate_limit_per_minute: Option<u32>,
    rate_limit_burst: Option<u32>,
    max_batch: Option<usize>,
    key_cache_secs: Option<u64>,
    auth_failures_per_minute: Option<u32>,
    auth_failure_burst: Option<u32>,
    trusted_proxies: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabaseLayer {
    max_connections: Option<u32>,
    connection_timeout_secs: Option<u64>,
    sqlite_synchronous: Option<Synchronous>,
    sqlite_busy_timeout_ms: Option<u64>,
    sqlite_mmap_mib: Option<u64>,
    sqlite_cache_mib: Option<u64>,
    doc_cache_entries: Option<usize>,
    doc_cache_mib: Option<u64>,
    decoded_cache_mib: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookLayer {
    enabled: Option<bool>,
    allow_private_targets: Option<bool>,
    retry_schedule: Option<String>,
    jitter: Option<f64>,
    throttle_delay: Option<String>,
    retry_after_max: Option<String>,
    connect_timeout: Option<String>,
    timeout: Option<String>,
    lease: Option<String>,
    poll_interval: Option<String>,
    batch_delay: Option<String>,
    max_concurrency: Option<usize>,
    per_target_concurrency: Option<usize>,
    per_target_rate: Option<f64>,
    disable_after: Option<String>,
    shutdown_grace: Option<String>,
}

impl WebhookLayer {
    fn merge(self, over: Self) -> Self {
        Self {
            enabled: over.enabled.or(self.enabled),
            allow_private_targets: over.allow_private_targets.or(self.allow_private_targets),
            retry_schedule: over.retry_schedule.or(self.retry_schedule),
            jitter: over.jitter.or(self.jitter),
            throttle_delay: over.throttle_delay.or(self.throttle_delay),
            retry_after_max: over.retry_after_max.or(self.retry_after_max),
            connect_timeout: over.connect_timeout.or(self.connect_timeout),
            timeout: over.timeout.or(self.timeout),
            lease: over.lease.or(self.lease),
            poll_interval: over.poll_interval.or(self.poll_interval),
            batch_delay: over.batch_delay.or(self.batch_delay),
            max_concurrency: over.max_concurrency.or(self.max_concurrency),
            per_target_concurrency: over.per_target_concurrency.or(self.per_target_concurrency),
            per_target_rate: over.per_target_rate.or(self.per_target_rate),
            disable_after: over.disable_after.or(self.disable_after),
            shutdown_grace: over.shutdown_grace.or(self.shutdown_grace),
        }
    }

    fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            enabled: parse_env::<Flag>(get, "SWITCHBOARD_WEBHOOK_ENABLED")?.map(|f| f.0),
            allow_private_targets: parse_env::<Flag>(
                get,
                "SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS",
            )?
            .map(|f| f.0),
            retry_schedule: get("SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE"),
            jitter: parse_env(get, "SWITCHBOARD_WEBHOOK_JITTER")?,
            throttle_delay: get("SWITCHBOARD_WEBHOOK_THROTTLE_DELAY"),
            retry_after_max: get("SWITCHBOARD_WEBHOOK_RETRY_AFTER_MAX"),
            connect_timeout: get("SWITCHBOARD_WEBHOOK_CONNECT_TIMEOUT"),
            timeout: get("SWITCHBOARD_WEBHOOK_TIMEOUT"),
            lease: get("SWITCHBOARD_WEBHOOK_LEASE"),
            poll_interval: get("SWITCHBOARD_WEBHOOK_POLL_INTERVAL"),
            batch_delay: get("SWITCHBOARD_WEBHOOK_BATCH_DELAY"),
            max_concurrency: parse_env(get, "SWITCHBOARD_WEBHOOK_MAX_CONCURRENCY")?,
            per_target_concurrency: parse_env(get, "SWITCHBOARD_WEBHOOK_PER_TARGET_CONCURRENCY")?,
            per_target_rate: parse_env(get, "SWITCHBOARD_WEBHOOK_PER_TARGET_RATE")?,
            disable_after: get("SWITCHBOARD_WEBHOOK_DISABLE_AFTER"),
            shutdown_grace: get("SWITCHBOARD_WEBHOOK_SHUTDOWN_GRACE"),
        })
    }

    fn resolve(self) -> Result<WebhookConfig, ConfigError> {
        let Self {
            enabled,
            allow_private_targets,
            retry_schedule,
            jitter,
            throttle_delay,
            retry_after_max,
            connect_timeout,
            timeout,
            lease,
            poll_interval,
            batch_delay,
            max_concurrency,
            per_target_concurrency,
            per_target_rate,
            disable_after,
            shutdown_grace,
        } = self;
        let d = WebhookConfig::default();
        let duration = |key: &'static str, v: Option<String>, default: Duration| match v {
            None => Ok(default),
            Some(text) => switchboard_webhook::config::parse_duration(&text)
                .map_err(|e| invalid(key, format!("{text:?}"), e)),
        };
        let schedule = match retry_schedule {
            None => d.schedule.clone(),
            Some(text) => switchboard_webhook::config::parse_schedule(&text)
                .map_err(|e| invalid("webhook.retry_schedule", format!("{text:?}"), e))?,
        };
        let config = WebhookConfig {
            enabled: enabled.unwrap_or(d.enabled),
            targets: TargetPolicy {
                allow_private: allow_private_targets.unwrap_or(d.targets.allow_private),
            },
            schedule,
            jitter: jitter.unwrap_or(d.jitter),
            throttle_delay: duration("webhook.throttle_delay", throttle_delay, d.throttle_delay)?,
            retry_after_max: duration(
                "webhook.retry_after_max",
                retry_after_max,
                d.retry_after_max,
            )?,
            connect_timeout: duration(
                "webhook.connect_timeout",
                connect_timeout,
                d.connect_timeout,
            )?,
            timeout: duration("webhook.timeout", timeout, d.timeout)?,
            lease: duration("webhook.lease", lease, d.lease)?,
            poll_interval: duration("webhook.poll_interval", poll_interval, d.poll_interval)?,
            batch_delay: duration("webhook.batch_delay", batch_delay, d.batch_delay)?,
            max_concurrency: max_concurrency.unwrap_or(d.max_concurrency),
            per_target_concurrency: per_target_concurrency.unwrap_or(d.per_target_concurrency),
            per_target_rate: per_target_rate.unwrap_or(d.per_target_rate),
            disable_after: duration("webhook.disable_after", disable_after, d.disable_after)?,
            shutdown_grace: duration("webhook.shutdown_grace", shutdown_grace, d.shutdown_grace)?,
            ..d
        };
        config.validate().map_err(|e| {
            let key = match e.key {
                "retry_schedule" => "webhook.retry_schedule",
                "jitter" => "webhook.jitter",
                "timeout" => "webhook.timeout",
                "lease" => "webhook.lease",
                "poll_interval" => "webhook.poll_interval",
                "max_concurrency" => "webhook.max_concurrency",
                "per_target_rate" => "webhook.per_target_rate",
                _ => "webhook",
            };
            let value = match key {
                "webhook.jitter" => config.jitter.to_string(),
                "webhook.lease" => format!("{:?}", config.lease),
                "webhook.max_concurrency" => config.max_concurrency.to_string(),
                "webhook.per_target_rate" => config.per_target_rate.to_string(),
                _ => e.key.to_string(),
            };
            invalid(key, value, e.reason)
        })?;
        Ok(config)
    }
}

/// A retention as the configuration file spells it: a duration (`"30d"`),
/// or `0` to keep forever.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
enum Keep {
    Text(String),
    Number(u64),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionLayer {
    enabled: Option<bool>,
    events: Option<Keep>,
    deliveries: Option<Keep>,
    history: Option<Keep>,
    interval: Option<String>,
    batch_size: Option<u32>,
}

impl RetentionLayer {
    fn merge(self, over: Self) -> Self {
        Self {
            enabled: over.enabled.or(self.enabled),
            events: over.events.or(self.events),
            deliveries: over.deliveries.or(self.deliveries),
            history: over.history.or(self.history),
            interval: over.interval.or(self.interval),
            batch_size: over.batch_size.or(self.batch_size),
        }
    }

    fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            enabled: parse_env::<Flag>(get, "SWITCHBOARD_RETENTION_ENABLED")?.map(|f| f.0),
            events: get("SWITCHBOARD_RETENTION_EVENTS").map(Keep::Text),
            deliveries: get("SWITCHBOARD_RETENTION_DELIVERIES").map(Keep::Text),
            history: get("SWITCHBOARD_RETENTION_HISTORY").map(Keep::Text),
            interval: get("SWITCHBOARD_RETENTION_INTERVAL"),
            batch_size: parse_env(get, "SWITCHBOARD_RETENTION_BATCH_SIZE")?,
        })
    }

    fn resolve(self) -> Result<RetentionConfig, ConfigError> {
        let Self {
            enabled,
            events,
            deliveries,
            history,
            interval,
            batch_size,
        } = self;
        let d = RetentionConfig::default();
        // `None` keeps forever.
        let keep = |key: &'static str,
                    v: Option<Keep>,
                    default: Option<Duration>|
         -> Result<Option<Duration>, ConfigError> {
            let duration = match v {
                None => return Ok(default),
                Some(Keep::Number(0)) => Duration::ZERO,
                Some(Keep::Number(n)) => {
                    return Err(invalid(
                        key,
                        n,
                        "write a duration with its unit (e.g. \"30d\"), or 0 to keep forever",
                    ));
                }
                Some(Keep::Text(text)) => switchboard_webhook::config::parse_duration(&text)
                    .map_err(|e| invalid(key, format!("{text:?}"), e))?,
            };
            Ok(Some(duration).filter(|d| !d.is_zero()))
        };
        let interval = match interval {
            None => d.interval,
            Some(text) => switchboard_webhook::config::parse_duration(&text)
                .map_err(|e| invalid("retention.interval", format!("{text:?}"), e))?,
        };
        if interval.is_zero() {
            return Err(invalid("retention.interval", "0", "must be positive"));
        }
        let batch_size = batch_size.unwrap_or(d.batch_size);
        if !(1..=10_000).contains(&batch_size) {
            return Err(invalid(
                "retention.batch_size",
                batch_size,
                "must be between 1 and 10000",
            ));
        }
        Ok(RetentionConfig {
            enabled: enabled.unwrap_or(d.enabled),
            keep: Retention {
                events: keep("retention.events", events, d.keep.events)?,
                deliveries: keep("retention.deliveries", deliveries, d.keep.deliveries)?,
                history: keep("retention.history", history, d.keep.history)?,
            },
            interval,
            batch_size,
        })
    }
}

/// A boolean as an environment variable spells it: `1`/`0`, `true`/`false`,
/// `yes`/`no`, `on`/`off`.
struct Flag(bool);

impl FromStr for Flag {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(Self(true)),
            "0" | "false" | "no" | "off" => Ok(Self(false)),
            _ => Err("expected 1/0, true/false, yes/no or on/off".into()),
        }
    }
}

impl Layer {
    /// `over` on top of `self`.
    fn merge(self, over: Self) -> Self {
        Self {
            bind: over.bind.or(self.bind),
            database_url: over.database_url.or(self.database_url),
            log: over.log.or(self.log),
            log_format: over.log_format.or(self.log_format),
            workers: over.workers.or(self.workers),
            shutdown_timeout_secs: over.shutdown_timeout_secs.or(self.shutdown_timeout_secs),
            api: ApiLayer {
                body_limit: over.api.body_limit.or(self.api.body_limit),
                rate_limit_per_minute: over
                    .api
                    .rate_limit_per_minute
                    .or(self.api.rate_limit_per_minute),
                rate_limit_burst: over.api.rate_limit_burst.or(self.api.rate_limit_burst),
                max_batch: over.api.max_batch.or(self.api.max_batch),
                key_cache_secs: over.api.key_cache_secs.or(self.api.key_cache_secs),
                auth_failures_per_minute: over
                    .api
                    .auth_failures_per_minute
                    .or(self.api.auth_failures_per_minute),
                auth_failure_burst: over.api.auth_failure_burst.or(self.api.auth_failure_burst),
                trusted_proxies: over.api.trusted_proxies.or(self.api.trusted_proxies),
            },
            database: DatabaseLayer {
                max_connections: over
                    .database
                    .max_connections
                    .or(self.database.max_connections),
                connection_timeout_secs: over
                    .database
                    .connection_timeout_secs
                    .or(self.database.connection_timeout_secs),
                sqlite_synchronous: over
                    .database
                    .sqlite_synchronous
                    .or(self.database.sqlite_synchronous),
                sqlite_busy_timeout_ms: over
                    .database
                    .sqlite_busy_timeout_ms
                    .or(self.database.sqlite_busy_timeout_ms),
                sqlite_mmap_mib: over
                    .database
                    .sqlite_mmap_mib
                    .or(self.database.sqlite_mmap_mib),
                sqlite_cache_mib: over
                    .database
                    .sqlite_cache_mib
                    .or(self.database.sqlite_cache_mib),
                doc_cache_entries: over
                    .database
                    .doc_cache_entries
                    .or(self.database.doc_cache_entries),
                doc_cache_mib: over.database.doc_cache_mib.or(self.database.doc_cache_mib),
                decoded_cache_mib: over
                    .database
                    .decoded_cache_mib
                    .or(self.database.decoded_cache_mib),
            },
            webhook: self.webhook.merge(over.webhook),
            retention: self.retention.merge(over.retention),
            console: self.console.merge(over.console),
            secrets: SecretsLayer {
                keys: over.secrets.keys.or(self.secrets.keys),
                key_file: over.secrets.key_file.or(self.secrets.key_file),
            },
        }
    }

    fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })
    }

    fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |var: &str| env(var).filter(|v| !v.trim().is_empty());
        Ok(Self {
            bind: get("SWITCHBOARD_BIND"),
            database_url: get("SWITCHBOARD_DATABASE_URL"),
            log: get("SWITCHBOARD_LOG").or_else(|| get("RUST_LOG")),
            log_format: parse_env(&get, "SWITCHBOARD_LOG_FORMAT")?,
            workers: parse_env(&get, "SWITCHBOARD_WORKERS")?,
            shutdown_timeout_secs: parse_env(&get, "SWITCHBOARD_SHUTDOWN_TIMEOUT_SECS")?,
            api: ApiLayer {
                body_limit: parse_env(&get, "SWITCHBOARD_API_BODY_LIMIT")?,
                rate_limit_per_minute: parse_env(&get, "SWITCHBOARD_API_RATE_LIMIT_PER_MINUTE")?,
                rate_limit_burst: parse_env(&get, "SWITCHBOARD_API_RATE_LIMIT_BURST")?,
                max_batch: parse_env(&get, "SWITCHBOARD_API_MAX_BATCH")?,
                key_cache_secs: parse_env(&get, "SWITCHBOARD_API_KEY_CACHE_SECS")?,
                auth_failures_per_minute: parse_env(
                    &get,
                    "SWITCHBOARD_API_AUTH_FAILURES_PER_MINUTE",
                )?,
                auth_failure_burst: parse_env(&get, "SWITCHBOARD_API_AUTH_FAILURE_BURST")?,
                trusted_proxies: get("SWITCHBOARD_API_TRUSTED_PROXIES")
                    .map(|v| v.split(',').map(|s| s.trim().to_string()).collect()),
            },
            database: DatabaseLayer {
                max_connections: parse_env(&get, "SWITCHBOARD_DATABASE_MAX_CONNECTIONS")?,
                connection_timeout_secs: parse_env(
                    &get,
                    "SWITCHBOARD_DATABASE_CONNECTION_TIMEOUT_SECS",
                )?,
                sqlite_synchronous: parse_env(&get, "SWITCHBOARD_DATABASE_SQLITE_SYNCHRONOUS")?,
                sqlite_busy_timeout_ms: parse_env(
                    &get,
                    "SWITCHBOARD_DATABASE_SQLITE_BUSY_TIMEOUT_MS",
                )?,
                sqlite_mmap_mib: parse_env(&get, "SWITCHBOARD_DATABASE_SQLITE_MMAP_MIB")?,
                sqlite_cache_mib: parse_env(&get, "SWITCHBOARD_DATABASE_SQLITE_CACHE_MIB")?,
                doc_cache_entries: parse_env(&get, "SWITCHBOARD_DATABASE_DOC_CACHE_ENTRIES")?,
                doc_cache_mib: parse_env(&get, "SWITCHBOARD_DATABASE_DOC_CACHE_MIB")?,
                decoded_cache_mib: parse_env(&get, "SWITCHBOARD_DATABASE_DECODED_CACHE_MIB")?,
            },
            webhook: WebhookLayer::from_env(&get)?,
            retention: RetentionLayer::from_env(&get)?,
            console: ConsoleLayer::from_env(&get)?,
            secrets: SecretsLayer {
                keys: get("SWITCHBOARD_SECRETS_KEYS").map(|k| vec![k]),
                key_file: get("SWITCHBOARD_SECRETS_KEY_FILE").map(PathBuf::from),
            },
        })
    }
}

fn parse_env<T>(
    get: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
) -> Result<Option<T>, ConfigError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    get(var)
        .map(|value| {
            value.trim().parse().map_err(|e: T::Err| ConfigError::Env {
                var,
                reason: e.to_string(),
                value,
            })
        })
        .transpose()
}

fn invalid(key: &'static str, value: impl fmt::Display, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        value: value.to_string(),
        reason: reason.into(),
    }
}

fn at_least_one<T: Copy + PartialOrd + From<u8> + fmt::Display>(
    key: &'static str,
    value: Option<T>,
    default: T,
) -> Result<T, ConfigError> {
    let v = value.unwrap_or(default);
    if v < T::from(1) {
        return Err(invalid(key, v, "must be at least 1"));
    }
    Ok(v)
}

/// The webhook secret keys: `secrets.keys`, or `secrets.key_file`, or by
/// default the key file beside the SQLite database. Key material is never
/// echoed in errors.
fn secret_keys(layer: SecretsLayer) -> Result<SecretKeySource, ConfigError> {
    match (layer.keys, layer.key_file) {
        (Some(_), Some(_)) => Err(invalid(
            "secrets.keys",
            "(redacted)",
            "set either secrets.keys or secrets.key_file, not both",
        )),
        (Some(keys), None) => SecretKeySource::keys(&keys.join("\n"))
            .map_err(|e| invalid("secrets.keys", "(redacted)", e.to_string())),
        (None, Some(path)) => Ok(SecretKeySource::File(path)),
        (None, None) => Ok(SecretKeySource::Auto),
    }
}

/// Loads the settings: defaults, then `config_file` (if any), then the
/// environment as seen through `env` (pass `|k| std::env::var(k).ok()`),
/// then `overrides`.
///
/// # Errors
///
/// A [`ConfigError`] naming the file, variable or key at fault.
pub fn load(
    config_file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    overrides: &Overrides,
) -> Result<Settings, ConfigError> {
    let file = config_file
        .map(Layer::from_file)
        .transpose()?
        .unwrap_or_default();
    let cli = Layer {
        bind: overrides.bind.clone(),
        database_url: overrides.database_url.clone(),
        ..Layer::default()
    };
    resolve(file.merge(Layer::from_env(env)?).merge(cli))
}

fn resolve(layer: Layer) -> Result<Settings, ConfigError> {
    let Layer {
        bind,
        database_url,
        log,
        log_format,
        workers,
        shutdown_timeout_secs,
        api,
        database,
        webhook,
        retention,
        secrets,
        console,
    } = layer;

    let bind_text = bind.unwrap_or_else(|| DEFAULT_BIND.to_string());
    let bind: SocketAddr = bind_text.trim().parse().map_err(|_| {
        invalid(
            "bind",
            format!("{bind_text:?}"),
            "expected IP:PORT, e.g. 127.0.0.1:8080 or [::1]:8080 (port 0 picks a free port)",
        )
    })?;

    let database_url = database_url.unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
    if let Err(e) = DatabaseUrl::parse(&database_url) {
        let reason =
            std::error::Error::source(&e).map_or_else(|| e.to_string(), ToString::to_string);
        return Err(invalid(
            "database_url",
            format!("{:?}", crate::redact_url(&database_url)),
            format!("{reason}; use sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE"),
        ));
    }

    if let Some(filter) = &log {
        tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| {
            invalid(
                "log",
                format!("{filter:?}"),
                format!("not a valid log filter: {e}"),
            )
        })?;
    }

    let workers = match workers {
        None => None,
        Some(n) => {
            Some(NonZeroUsize::new(n).ok_or_else(|| invalid("workers", n, "must be at least 1"))?)
        }
    };

    let defaults = ApiConfig::default();
    let per_minute = at_least_one(
        "api.rate_limit_per_minute",
        api.rate_limit_per_minute,
        defaults.rate_limit_per_minute,
    )?;
    let api = ApiConfig {
        body_limit: at_least_one("api.body_limit", api.body_limit, defaults.body_limit)?,
        rate_limit_per_minute: per_minute,
        rate_limit_burst: at_least_one("api.rate_limit_burst", api.rate_limit_burst, per_minute)?,
        max_batch: at_least_one("api.max_batch", api.max_batch, defaults.max_batch)?,
        key_cache_ttl: api
            .key_cache_secs
            .map_or(defaults.key_cache_ttl, Duration::from_secs),
        auth_failures_per_minute: at_least_one(
            "api.auth_failures_per_minute",
            api.auth_failures_per_minute,
            defaults.auth_failures_per_minute,
        )?,
        auth_failure_burst: at_least_one(
            "api.auth_failure_burst",
            api.auth_failure_burst,
            defaults.auth_failure_burst,
        )?,
        trusted_proxies: api
            .trusted_proxies
            .unwrap_or_default()
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        invalid(
                            "api.trusted_proxies",
                            format!("{s:?}"),
                            "expected an IP address or a CIDR block, e.g. 10.0.0.0/8",
                        )
                    })
            })
            .collect::<Result<_, _>>()?,
    };

    let store_defaults = StoreConfig::default();
    let store = StoreConfig {
        max_connections: at_least_one(
            "database.max_connections",
            database.max_connections,
            store_defaults.max_connections,
        )?,
        min_idle_connections: store_defaults.min_idle_connections,
        connection_timeout: Duration::from_secs(at_least_one(
            "database.connection_timeout_secs",
            database.connection_timeout_secs,
            store_defaults.connection_timeout.as_secs(),
        )?),
        sqlite_synchronous: database
            .sqlite_synchronous
            .map_or(store_defaults.sqlite_synchronous, SqliteSync::from),
        sqlite_busy_timeout: database
            .sqlite_busy_timeout_ms
            .map_or(store_defaults.sqlite_busy_timeout, Duration::from_millis),
        sqlite_mmap_size: database
            .sqlite_mmap_mib
            .map_or(store_defaults.sqlite_mmap_size, |mib| {
                mib.saturating_mul(1 << 20)
            }),
        sqlite_cache_bytes: database
            .sqlite_cache_mib
            .map_or(store_defaults.sqlite_cache_bytes, |mib| {
                mib.saturating_mul(1 << 20)
            }),
        run_migrations: true,
        clock: store_defaults.clock,
        secret_keys: secret_keys(secrets)?,
        doc_cache_entries: database
            .doc_cache_entries
            .unwrap_or(store_defaults.doc_cache_entries),
        doc_cache_bytes: database
            .doc_cache_mib
            .map_or(store_defaults.doc_cache_bytes, |mib| {
                mib.saturating_mul(1 << 20)
            }),
        decoded_cache_bytes: database
            .decoded_cache_mib
            .map_or(store_defaults.decoded_cache_bytes, |mib| {
                mib.saturating_mul(1 << 20)
            }),
    };

    Ok(Settings {
        server: ServerConfig {
            bind,
            database_url,
            api,
            store,
            workers,
            shutdown_timeout: shutdown_timeout_secs
                .map_or(DEFAULT_SHUTDOWN_TIMEOUT, Duration::from_secs),
            webhook: webhook.resolve()?,
            retention: retention.resolve()?,
            console: console.resolve()?,
        },
        log: LogConfig {
            format: log_format.unwrap_or_default(),
            filter: log,
        },
    })
}

#[cfg(test)]
mod tests {

    use std::collections::HashMap;
    use std::io::Write as _;

    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn file_with(text: &str) -> switchboard_testsupport::tempfile::NamedTempFile {
        let mut f = switchboard_testsupport::tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn defaults() {
        let s = load(None, &env_of(&[]), &Overrides::default()).unwrap();
        assert_eq!(s.server.bind.to_string(), DEFAULT_BIND);
        assert_eq!(s.server.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(s.server.shutdown_timeout, DEFAULT_SHUTDOWN_TIMEOUT);
        assert_eq!(
            s.server.api.rate_limit_per_minute,
            ApiConfig::default().rate_limit_per_minute
        );
        assert_eq!(s.server.store.sqlite_synchronous, SqliteSync::Full);
        assert_eq!(s.server.workers, None);
        assert_eq!(s.log, LogConfig::default());
    }

    #[test]
    fn precedence_is_defaults_file_env_flags() {
        let file = file_with(
            r#"
            bind = "127.0.0.1:1000"
            database_url = "sqlite://from-file.db"
            log_format = "json"
            [api]
            rate_limit_per_minute = 600
            body_limit = 2048
            [database]
            sqlite_synchronous = "normal"
            max_connections = 3
            "#,
        );
        // Rows: (env, flags) -> (bind, database_url, body_limit)
        type Env = &'static [(&'static str, &'static str)];
        type Expected = (&'static str, &'static str, usize);
        let cases: &[(Env, Overrides, Expected)] = &[
            (
                &[],
                Overrides::default(),
                ("127.0.0.1:1000", "sqlite://from-file.db", 2048),
            ),
            (
                &[
                    ("SWITCHBOARD_BIND", "127.0.0.1:2000"),
                    ("SWITCHBOARD_API_BODY_LIMIT", "4096"),
                ],
                Overrides::default(),
                ("127.0.0.1:2000", "sqlite://from-file.db", 4096),
            ),
            (
                &[
                    ("SWITCHBOARD_BIND", "127.0.0.1:2000"),
                    ("SWITCHBOARD_DATABASE_URL", "sqlite://env.db"),
                ],
                Overrides {
                    bind: Some("127.0.0.1:3000".into()),
                    database_url: None,
                },
                ("127.0.0.1:3000", "sqlite://env.db", 2048),
            ),
            (
                &[("SWITCHBOARD_BIND", "")],
                Overrides {
                    bind: None,
                    database_url: Some("sqlite://flag.db".into()),
                },
                ("127.0.0.1:1000", "sqlite://flag.db", 2048),
            ),
        ];
        for (env, overrides, (bind, url, body_limit)) in cases {
            let s = load(Some(file.path()), &env_of(env), overrides).unwrap();
            assert_eq!(
                s.server.bind.to_string(),
                *bind,
                "env {env:?}, flags {overrides:?}"
            );
            assert_eq!(
                s.server.database_url, *url,
                "env {env:?}, flags {overrides:?}"
            );
            assert_eq!(
                s.server.api.body_limit, *body_limit,
                "env {env:?}, flags {overrides:?}"
            );
            assert_eq!(s.log.format, LogFormat::Json);
            assert_eq!(s.server.store.sqlite_synchronous, SqliteSync::Normal);
            assert_eq!(s.server.store.max_connections, 3);
            // The burst follows the per-minute limit unless set.
            assert_eq!(s.server.api.rate_limit_burst, 600);
        }
    }

    #[test]
    fn key_cache_ttl_from_file_and_env() {
        let none = load(None, &env_of(&[]), &Overrides::default()).unwrap();
        assert_eq!(none.server.api.key_cache_ttl, Duration::from_secs(30));
        let file = file_with("[api]\nkey_cache_secs = 5\n");
        let s = load(Some(file.path()), &env_of(&[]), &Overrides::default()).unwrap();
        assert_eq!(s.server.api.key_cache_ttl, Duration::from_secs(5));
        let env = [("SWITCHBOARD_API_KEY_CACHE_SECS", "0")];
        let s = load(Some(file.path()), &env_of(&env), &Overrides::default()).unwrap();
        assert_eq!(s.server.api.key_cache_ttl, Duration::ZERO);
    }

    #[test]
    fn sqlite_mmap_from_file_and_env() {
        let none = load(None, &env_of(&[]), &Overrides::default()).unwrap();
        assert_eq!(none.server.store.sqlite_mmap_size, 0, "off by default");
        let file = file_with("[database]\nsqlite_mmap_mib = 1024\n");
        let s = load(Some(file.path()), &env_of(&[]), &Overrides::default()).unwrap();
        assert_eq!(s.server.store.sqlite_mmap_size, 1 << 30);
        let env = [("SWITCHBOARD_DATABASE_SQLITE_MMAP_MIB", "0")];
        let s = load(Some(file.path()), &env_of(&env), &Overrides::default()).unwrap();
        assert_eq!(s.server.store.sqlite_mmap_size, 0);
    }

    #[test]
    fn sqlite_cache_from_file_and_env() {
        let none = load(None, &env_of(&[]), &Overrides::default()).unwrap();
        assert_eq!(
            none.server.store.sqlite_cache_bytes,
            16 << 20,
            "SQLite's own"
        );
        let file = file_with("[database]\nsqlite_cache_mib = 256\n");
        let s = load(Some(file.path()), &env_of(&[]), &Overrides::default()).unwrap();
        assert_eq!(s.server.store.sqlite_cache_bytes, 256 << 20);
        let env = [("SWITCHBOARD_DATABASE_SQLITE_CACHE_MIB", "64")];
        let s = load(Some(file.path()), &env_of(&env), &Overrides::default()).unwrap();
        assert_eq!(s.server.store.sqlite_cache_bytes, 64 << 20);
    }

    #[test]
    fn log_filter_prefers_switchboard_log_over_rust_log() {
        let load_env = |pairs: &[(&str, &str)]| {
            load(None, &env_of(pairs), &Overrides::default())
                .unwrap()
                .log
                .filter
        };
        assert_eq!(load_env(&[("RUST_LOG", "debug")]), Some("debug".into()));
        assert_eq!(
            load_env(&[("RUST_LOG", "debug"), ("SWITCHBOARD_LOG", "warn")]),
            Some("warn".into())
        );
        assert_eq!(load_env(&[]), None);
    }

    #[test]
    fn bad_values_name_their_source() {
        let env_cases: &[(&[(&str, &str)], &str)] = &[
            (&[("SWITCHBOARD_BIND", "localhost")], "`bind`"),
            (
                &[("SWITCHBOARD_DATABASE_URL", "mysql://x")],
                "`database_url`",
            ),
            (
                &[("SWITCHBOARD_API_BODY_LIMIT", "lots")],
                "SWITCHBOARD_API_BODY_LIMIT",
            ),
            (
                &[("SWITCHBOARD_API_RATE_LIMIT_PER_MINUTE", "0")],
                "`api.rate_limit_per_minute`",
            ),
            (
                &[("SWITCHBOARD_LOG_FORMAT", "xml")],
                "SWITCHBOARD_LOG_FORMAT",
            ),
            (
                &[("SWITCHBOARD_DATABASE_SQLITE_SYNCHRONOUS", "off")],
                "SWITCHBOARD_DATABASE_SQLITE_SYNCHRONOUS",
            ),
            (&[("SWITCHBOARD_WORKERS", "0")], "`workers`"),
            (&[("SWITCHBOARD_LOG", "info,[")], "`log`"),
        ];
        for (env, needle) in env_cases {
            let err = load(None, &env_of(env), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{env:?}: {err}");
        }
        for (text, needle) in [
            ("bnid = \"x\"", "bnid"),
            ("[api]\nbody_limit = \"big\"", "body_limit"),
            ("log_format = \"xml\"", "log_format"),
            (
                "[database]\nsqlite_synchronous = \"off\"",
                "sqlite_synchronous",
            ),
        ] {
            let file = file_with(text);
            let err = load(Some(file.path()), &env_of(&[]), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("invalid config file") && err.contains(needle),
                "{text}: {err}"
            );
        }
        let err = load(
            Some(Path::new("/nonexistent/switchboard.toml")),
            &env_of(&[]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("cannot read config file"), "{err}");
    }

    #[test]
    fn webhook_settings_from_file_and_env() {
        let s = load(None, &env_of(&[]), &Overrides::default()).unwrap();
        assert_eq!(s.server.webhook, WebhookConfig::default());
        assert!(!s.server.webhook.targets.allow_private);

        let file = file_with(
            r#"
            [webhook]
            retry_schedule = "0s, 1s, 1m"
            timeout = "3s"
            lease = "30s"
            per_target_rate = 5
            disable_after = "2d"
            batch_delay = "20ms"
            "#,
        );
        let s = load(
            Some(file.path()),
            &env_of(&[
                ("SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS", "1"),
                ("SWITCHBOARD_WEBHOOK_POLL_INTERVAL", "250ms"),
                ("SWITCHBOARD_WEBHOOK_TIMEOUT", "4s"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        let w = &s.server.webhook;
        assert!(w.targets.allow_private);
        assert_eq!(
            w.schedule,
            [
                Duration::ZERO,
                Duration::from_secs(1),
                Duration::from_secs(60)
            ]
        );
        assert_eq!(w.timeout, Duration::from_secs(4), "env wins over the file");
        assert_eq!(w.lease, Duration::from_secs(30));
        assert_eq!(w.poll_interval, Duration::from_millis(250));
        assert!((w.per_target_rate - 5.0).abs() < f64::EPSILON);
        assert_eq!(w.disable_after, Duration::from_secs(2 * 86_400));
        assert_eq!(w.batch_delay, Duration::from_millis(20));

        for (env, needle) in [
            (
                ("SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS", "maybe"),
                "SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS",
            ),
            (
                ("SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE", "0s,soon"),
                "webhook.retry_schedule",
            ),
            (
                ("SWITCHBOARD_WEBHOOK_TIMEOUT", "5 parsecs"),
                "webhook.timeout",
            ),
            (("SWITCHBOARD_WEBHOOK_LEASE", "1s"), "lease"),
            (("SWITCHBOARD_WEBHOOK_JITTER", "2"), "jitter"),
            (
                ("SWITCHBOARD_WEBHOOK_MAX_CONCURRENCY", "0"),
                "max_concurrency",
            ),
        ] {
            let err = load(None, &env_of(&[env]), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{env:?}: {err}");
        }
        let file = file_with("[webhook]\nretries = 3");
        let err = load(Some(file.path()), &env_of(&[]), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("retries"), "{err}");
    }

    #[test]
    fn retention_settings_from_file_and_env() {
        const DAY: Duration = Duration::from_secs(24 * 3600);
        let s = load(None, &env_of(&[]), &Overrides::default()).unwrap();
        assert_eq!(s.server.retention, RetentionConfig::default());
        assert_eq!(
            s.server.retention.keep,
            Retention {
                events: Some(DAY * 30),
                deliveries: Some(DAY * 30),
                history: Some(DAY * 90),
            }
        );
        assert!(s.server.retention.enabled);

        let file = file_with(
            r#"
            [retention]
            events = "7d"
            deliveries = 0
            history = "0d"
            interval = "30s"
            batch_size = 100
            "#,
        );
        let s = load(
            Some(file.path()),
            &env_of(&[
                ("SWITCHBOARD_RETENTION_EVENTS", "12h"),
                ("SWITCHBOARD_RETENTION_ENABLED", "no"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        let r = s.server.retention;
        assert_eq!(
            r.keep,
            Retention {
                events: Some(Duration::from_secs(12 * 3600)),
                deliveries: None,
                history: None,
            }
        );
        assert_eq!(r.interval, Duration::from_secs(30));
        assert_eq!(r.batch_size, 100);
        assert!(!r.enabled);

        for (text, needle) in [
            ("[retention]\nevents = 30", "`retention.events`"),
            ("[retention]\nhistory = \"forever\"", "`retention.history`"),
            ("[retention]\ninterval = \"0s\"", "`retention.interval`"),
            ("[retention]\nbatch_size = 0", "`retention.batch_size`"),
            ("[retention]\nkeep = \"1d\"", "keep"),
        ] {
            let file = file_with(text);
            let err = load(Some(file.path()), &env_of(&[]), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
        let err = load(
            None,
            &env_of(&[("SWITCHBOARD_RETENTION_DELIVERIES", "a month")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("`retention.deliveries`"), "{err}");
    }

    #[test]
    fn secret_keys_from_file_and_env_never_echoed() {
        let key = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let s = load(None, &env_of(&[]), &Overrides::default()).unwrap();
        assert!(matches!(s.server.store.secret_keys, SecretKeySource::Auto));
        let env = [(
            "SWITCHBOARD_SECRETS_KEYS",
            "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=, k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )];
        let s = load(None, &env_of(&env), &Overrides::default()).unwrap();
        let SecretKeySource::Keys(keys) = &s.server.store.secret_keys else {
            panic!("{:?}", s.server.store.secret_keys);
        };
        assert_eq!(keys.ids(), ["k2", "k1"]);
        let file = file_with(&format!("[secrets]\nkeys = [\"{key}\"]\n"));
        let s = load(Some(file.path()), &env_of(&[]), &Overrides::default()).unwrap();
        assert!(matches!(
            s.server.store.secret_keys,
            SecretKeySource::Keys(_)
        ));
        let env = [("SWITCHBOARD_SECRETS_KEY_FILE", "/etc/switchboard/keys")];
        let s = load(None, &env_of(&env), &Overrides::default()).unwrap();
        assert!(matches!(
            s.server.store.secret_keys,
            SecretKeySource::File(_)
        ));
        for (env, needle) in [
            (
                vec![("SWITCHBOARD_SECRETS_KEYS", "k1:c2hvcnQ=")],
                "secrets.keys",
            ),
            (
                vec![
                    ("SWITCHBOARD_SECRETS_KEYS", key),
                    ("SWITCHBOARD_SECRETS_KEY_FILE", "/x"),
                ],
                "not both",
            ),
        ] {
            let err = load(None, &env_of(&env), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{err}");
            assert!(!err.contains("c2hvcnQ") && !err.contains("AAECAw"), "{err}");
        }
    }

    #[test]
    fn auth_failure_limit_and_trusted_proxies() {
        let s = load(None, &env_of(&[]), &Overrides::default()).unwrap();
        assert_eq!(s.server.api.auth_failures_per_minute, 60);
        assert!(s.server.api.trusted_proxies.is_empty());
        let env = [
            ("SWITCHBOARD_API_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.7"),
            ("SWITCHBOARD_API_AUTH_FAILURE_BURST", "5"),
        ];
        let s = load(None, &env_of(&env), &Overrides::default()).unwrap();
        assert_eq!(s.server.api.auth_failure_burst, 5);
        let nets: Vec<String> = s
            .server
            .api
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(nets, ["10.0.0.0/8", "192.0.2.7/32"]);
        let env = [("SWITCHBOARD_API_TRUSTED_PROXIES", "lb.internal")];
        let err = load(None, &env_of(&env), &Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("api.trusted_proxies"), "{err}");
    }

    #[test]
    fn passwords_are_not_echoed_in_errors() {
        let err = load(
            None,
            &env_of(&[]),
            &Overrides {
                bind: None,
                database_url: Some("mysql://user:hunter2@db/x".into()),
            },
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn the_console_section_has_defaults_a_file_and_env_and_is_validated() {
        let s = load(None, &env_of(&[]), &Overrides::default()).unwrap();
        assert_eq!(s.server.console, ConsoleConfig::default());
        assert_eq!(s.server.console.secure_cookies, SecureCookies::Auto);

        let file = file_with(
            r#"
            [console]
            session_idle = "10m"
            session_lifetime = "8h"
            sign_in_per_minute = 20
            sign_in_burst = 4
            secure_cookies = "always"
            page_size = 50
            live_poll = "2s"
            "#,
        );
        let s = load(
            Some(file.path()),
            &env_of(&[
                ("SWITCHBOARD_CONSOLE_SESSION_IDLE", "15m"),
                ("SWITCHBOARD_CONSOLE_ENABLED", "off"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        let c = s.server.console;
        assert!(!c.enabled);
        assert_eq!(c.session.idle, Duration::from_secs(15 * 60));
        assert_eq!(c.session.max_age, Duration::from_secs(8 * 3600));
        assert_eq!((c.sign_in_per_minute, c.sign_in_burst), (20, 4));
        assert_eq!(c.secure_cookies, SecureCookies::Always);
        assert_eq!(c.page_size, 50);
        assert_eq!(c.live_poll, Duration::from_secs(2));

        for (var, value, key) in [
            (
                "SWITCHBOARD_CONSOLE_SESSION_IDLE",
                "0",
                "console.session_idle",
            ),
            (
                "SWITCHBOARD_CONSOLE_SESSION_IDLE",
                "soon",
                "console.session_idle",
            ),
            (
                "SWITCHBOARD_CONSOLE_SESSION_LIFETIME",
                "1m",
                "console.session_lifetime",
            ),
            (
                "SWITCHBOARD_CONSOLE_SIGN_IN_PER_MINUTE",
                "0",
                "console.sign_in_per_minute",
            ),
            (
                "SWITCHBOARD_CONSOLE_SIGN_IN_BURST",
                "0",
                "console.sign_in_burst",
            ),
            (
                "SWITCHBOARD_CONSOLE_SECURE_COOKIES",
                "never",
                "console.secure_cookies",
            ),
            ("SWITCHBOARD_CONSOLE_PAGE_SIZE", "0", "console.page_size"),
            ("SWITCHBOARD_CONSOLE_PAGE_SIZE", "5000", "console.page_size"),
            ("SWITCHBOARD_CONSOLE_LIVE_POLL", "1ms", "console.live_poll"),
        ] {
            let e = load(None, &env_of(&[(var, value)]), &Overrides::default()).unwrap_err();
            assert!(
                matches!(&e, ConfigError::Invalid { key: k, .. } if *k == key),
                "{var}={value}: {e}"
            );
        }
        let e = load(
            None,
            &env_of(&[("SWITCHBOARD_CONSOLE_PAGE_SIZE", "many")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(matches!(e, ConfigError::Env { .. }), "{e}");
        let bad = file_with("[console]\nidle = \"5m\"\n");
        let e = load(Some(bad.path()), &env_of(&[]), &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
    }
}
