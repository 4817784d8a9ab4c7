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
//!
//! [database]
//! max_connections = 8                # pool size (at least 2 are used)
//! connection_timeout_secs = 10       # wait for a free connection
//! sqlite_synchronous = "full"        # "full" (durable) or "normal" (faster)
//! sqlite_busy_timeout_ms = 5000      # wait for another process's write lock
//! ```
//!
//! # Environment variables
//!
//! Each key has a variable: `SWITCHBOARD_` followed by its path in upper case,
//! with `_` between a section and its key: `SWITCHBOARD_BIND`,
//! `SWITCHBOARD_DATABASE_URL`, `SWITCHBOARD_LOG`, `SWITCHBOARD_LOG_FORMAT`,
//! `SWITCHBOARD_WORKERS`, `SWITCHBOARD_SHUTDOWN_TIMEOUT_SECS`,
//! `SWITCHBOARD_API_BODY_LIMIT`, `SWITCHBOARD_API_RATE_LIMIT_PER_MINUTE`,
//! `SWITCHBOARD_API_RATE_LIMIT_BURST`, `SWITCHBOARD_API_MAX_BATCH`,
//! `SWITCHBOARD_DATABASE_MAX_CONNECTIONS`,
//! `SWITCHBOARD_DATABASE_CONNECTION_TIMEOUT_SECS`,
//! `SWITCHBOARD_DATABASE_SQLITE_SYNCHRONOUS` and
//! `SWITCHBOARD_DATABASE_SQLITE_BUSY_TIMEOUT_MS`. `RUST_LOG` is read when
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
use switchboard_storage::{DatabaseUrl, SqliteSync, StoreConfig};

use crate::ServerConfig;

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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiLayer {
    body_limit: Option<usize>,
    rate_limit_per_minute: Option<u32>,
    rate_limit_burst: Option<u32>,
    max_batch: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabaseLayer {
    max_connections: Option<u32>,
    connection_timeout_secs: Option<u64>,
    sqlite_synchronous: Option<Synchronous>,
    sqlite_busy_timeout_ms: Option<u64>,
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
    };

    let store_defaults = StoreConfig::default();
    let store = StoreConfig {
        max_connections: at_least_one(
            "database.max_connections",
            database.max_connections,
            store_defaults.max_connections,
        )?,
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
        run_migrations: true,
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
        },
        log: LogConfig {
            format: log_format.unwrap_or_default(),
            filter: log,
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

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
}
