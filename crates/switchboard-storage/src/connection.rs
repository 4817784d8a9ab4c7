//! Connections, pools, SQLite settings and migrations.

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::StorageError;

/// Migrations for each backend; the two trees carry identical names.
pub(crate) const SQLITE_MIGRATIONS: EmbeddedMigrations =
    embed_migrations!("../../migrations/sqlite");
/// See [`SQLITE_MIGRATIONS`].
pub(crate) const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Which database a URL selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An embedded SQLite file (`sqlite://switchboard.db`, `sqlite:///abs/path.db`,
    /// `sqlite:rel.db`, or a plain path).
    Sqlite(PathBuf),
    /// A PostgreSQL server (`postgres://…` or `postgresql://…`).
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses a database URL.
    ///
    /// ```
    /// use switchboard_storage::DatabaseUrl;
    /// assert!(matches!(DatabaseUrl::parse("sqlite://switchboard.db"), Ok(DatabaseUrl::Sqlite(_))));
    /// assert!(matches!(DatabaseUrl::parse("postgres://u@localhost/db"), Ok(DatabaseUrl::Postgres(_))));
    /// assert!(DatabaseUrl::parse("mysql://x").is_err());
    /// ```
    pub fn parse(url: &str) -> Result<Self, StorageError> {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_string()));
        }
        let path = if let Some(rest) = url.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = url.strip_prefix("sqlite:") {
            rest
        } else if lower.contains("://") {
            return Err(StorageError::internal(format!(
                "unsupported database URL scheme in {:?}; use sqlite:// or postgres://",
                url.split("://").next().unwrap_or_default()
            )));
        } else {
            url
        };
        if path.is_empty() {
            return Err(StorageError::internal("empty SQLite path"));
        }
        Ok(Self::Sqlite(PathBuf::from(path)))
    }
}

/// SQLite's `synchronous` setting (in WAL mode).
///
/// * [`SqliteSync::Full`] (the default): every acknowledged commit survives
///   a power cut or OS crash; each commit waits for an `fsync` of the WAL.
/// * [`SqliteSync::Normal`]: commits survive a crash of the process (including
///   `kill -9`) but the last transactions before a power cut may be lost;
///   no fsync per commit. See `docs/benchmarks.md` for the measured cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteSync {
    /// `PRAGMA synchronous = FULL`.
    #[default]
    Full,
    /// `PRAGMA synchronous = NORMAL`.
    Normal,
}

impl SqliteSync {
    pub(crate) const fn pragma(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

/// How to open a [`Store`](crate::Store).
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Connections per pool; at least 2 (smaller values are raised to 2).
    pub max_connections: u32,
    /// How long to wait for a free connection before `Unavailable`.
    pub connection_timeout: Duration,
    /// SQLite durability setting.
    pub sqlite_synchronous: SqliteSync,
    /// SQLite `busy_timeout`: how long a writer waits for another process's lock.
    pub sqlite_busy_timeout: Duration,
    /// Apply pending migrations when opening.
    pub run_migrations: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            max_connections: 8,
            connection_timeout: Duration::from_secs(10),
            sqlite_synchronous: SqliteSync::Full,
            sqlite_busy_timeout: Duration::from_secs(5),
            run_migrations: true,
        }
    }
}

#[derive(Debug)]
struct SqlitePragmas {
    synchronous: SqliteSync,
    busy_timeout_ms: u128,
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; \
             PRAGMA foreign_keys = ON;",
            self.busy_timeout_ms,
            self.synchronous.pragma()
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// A pool for one of the two backends.
#[derive(Clone)]
pub(crate) enum DbPool {
    Sqlite(Pool<ConnectionManager<SqliteConnection>>),
    Pg(Pool<ConnectionManager<PgConnection>>),
}

impl std::fmt::Debug for DbPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(p) => f.debug_tuple("Sqlite").field(&p.state()).finish(),
            Self::Pg(p) => f.debug_tuple("Pg").field(&p.state()).finish(),
        }
    }
}

/// A pooled connection of either backend.
pub(crate) enum DbConn {
    Sqlite(PooledConnection<ConnectionManager<SqliteConnection>>),
    Pg(PooledConnection<ConnectionManager<PgConnection>>),
}

impl DbPool {
    pub(crate) fn open(url: &DatabaseUrl, cfg: &StoreConfig) -> Result<Self, StorageError> {
        let size = cfg.max_connections.max(2);
        match url {
            DatabaseUrl::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(StorageError::internal)?;
                }
                let manager = ConnectionManager::<SqliteConnection>::new(path.to_string_lossy());
                let pool = Pool::builder()
                    .max_size(size)
                    .min_idle(Some(1))
                    .connection_timeout(cfg.connection_timeout)
                    .connection_customizer(Box::new(SqlitePragmas {
                        synchronous: cfg.sqlite_synchronous,
                        busy_timeout_ms: cfg.sqlite_busy_timeout.as_millis(),
                    }))
                    .build(manager)
                    .map_err(|e| StorageError::Unavailable(Box::new(e)))?;
                Ok(Self::Sqlite(pool))
            }
            DatabaseUrl::Postgres(url) => {
                let manager = ConnectionManager::<PgConnection>::new(url);
                let pool = Pool::builder()
                    .max_size(size)
                    .min_idle(Some(1))
                    .connection_timeout(cfg.connection_timeout)
                    .build(manager)
                    .map_err(|e| StorageError::Unavailable(Box::new(e)))?;
                Ok(Self::Pg(pool))
            }
        }
    }

    pub(crate) fn get(&self) -> Result<DbConn, StorageError> {
        Ok(match self {
            Self::Sqlite(p) => DbConn::Sqlite(p.get()?),
            Self::Pg(p) => DbConn::Pg(p.get()?),
        })
    }

    pub(crate) const fn is_sqlite(&self) -> bool {
        matches!(self, Self::Sqlite(_))
    }
}

impl DbConn {
    /// Applies every pending migration; returns the names applied.
    pub(crate) fn run_pending_migrations(&mut self) -> Result<Vec<String>, StorageError> {
        let applied = match self {
            Self::Sqlite(c) => c
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|v| v.iter().map(ToString::to_string).collect()),
            Self::Pg(c) => c
                .run_pending_migrations(PG_MIGRATIONS)
                .map(|v| v.iter().map(ToString::to_string).collect()),
        };
        applied.map_err(StorageError::Internal)
    }

    /// Reverts every applied migration (for tests and `migrate --down`).
    pub(crate) fn revert_all_migrations(&mut self) -> Result<Vec<String>, StorageError> {
        let reverted = match self {
            Self::Sqlite(c) => c
                .revert_all_migrations(SQLITE_MIGRATIONS)
                .map(|v| v.iter().map(ToString::to_string).collect()),
            Self::Pg(c) => c
                .revert_all_migrations(PG_MIGRATIONS)
                .map(|v| v.iter().map(ToString::to_string).collect()),
        };
        reverted.map_err(StorageError::Internal)
    }
}
