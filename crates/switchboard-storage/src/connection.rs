//! Connections, pools, SQLite settings and migrations.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{
    ConnectionManager, CustomizeConnection, ManageConnection, Pool, PooledConnection,
    R2D2Connection,
};
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
    /// On SQLite one of them belongs to the writer thread for good.
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

impl CustomizeConnection<Checked<SqliteConnection>, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut Checked<SqliteConnection>) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; \
             PRAGMA foreign_keys = ON;",
            self.busy_timeout_ms,
            self.synchronous.pragma()
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// A connection that has not answered for this long is health-checked
/// (`SELECT 1`) when it is checked out of the pool; see [`Manager`].
pub(crate) const RECHECK_AFTER: Duration = Duration::from_secs(1);

/// A pooled connection and what is known of its health.
pub(crate) struct Checked<C> {
    conn: C,
    /// When it last proved alive: opened, passed a health check, or a call
    /// on it succeeded. `None` after a failed call.
    alive_at: Option<Instant>,
    /// The pool's failure count when `alive_at` was taken.
    failures_seen: u64,
    /// How many calls on any of the pool's connections failed in a way a
    /// lost connection could explain.
    pool_failures: Arc<AtomicU64>,
}

impl<C> Checked<C> {
    fn mark_alive(&mut self) {
        self.alive_at = Some(Instant::now());
        self.failures_seen = self.pool_failures.load(Ordering::Acquire);
    }

    fn mark_suspect(&mut self) {
        self.alive_at = None;
        self.pool_failures.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether to run the health check before handing it out: unless it
    /// proved alive within [`RECHECK_AFTER`] and no call on the pool has
    /// failed since.
    fn needs_check(&self) -> bool {
        !(self.alive_at.is_some_and(|t| t.elapsed() < RECHECK_AFTER)
            && self.failures_seen == self.pool_failures.load(Ordering::Acquire))
    }
}

impl<C> Deref for Checked<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.conn
    }
}

impl<C> DerefMut for Checked<C> {
    fn deref_mut(&mut self) -> &mut C {
        &mut self.conn
    }
}

/// Diesel's r2d2 manager with a cheaper checkout.
///
/// Diesel's manager runs `SELECT 1` on every checkout (r2d2's
/// `test_on_check_out`): a whole round trip on PostgreSQL for each call.
/// This one skips the check for a connection that answered within the last
/// [`RECHECK_AFTER`] when no call on the pool has failed since; any other
/// connection is checked as before, and r2d2 replaces it if the check fails.
///
/// After a server restart, connections idle for more than a second are
/// replaced before use, as before. A call on a connection used within the
/// last second fails instead (as a call always could when the connection
/// was lost between check and use); that failure
/// ([`StorageError::Unavailable`] or [`StorageError::Internal`], see
/// [`DbConn::note_outcome`]) makes every connection of the pool be checked
/// at its next checkout, so a restart costs the calls in flight, not one
/// call per pooled connection. `has_broken` (a connection given back inside
/// or after a failed transaction) is diesel's.
#[derive(Debug)]
pub(crate) struct Manager<C: R2D2Connection + 'static> {
    inner: ConnectionManager<C>,
    failures: Arc<AtomicU64>,
}

impl<C: R2D2Connection + 'static> Manager<C> {
    fn new(url: impl Into<String>) -> Self {
        Self {
            inner: ConnectionManager::new(url),
            failures: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl<C: R2D2Connection + Send + 'static> ManageConnection for Manager<C> {
    type Connection = Checked<C>;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Checked<C>, diesel::r2d2::Error> {
        let mut conn = Checked {
            conn: self.inner.connect()?,
            alive_at: None,
            failures_seen: 0,
            pool_failures: Arc::clone(&self.failures),
        };
        conn.mark_alive();
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut Checked<C>) -> Result<(), diesel::r2d2::Error> {
        if conn.needs_check() {
            self.inner.is_valid(&mut conn.conn)?;
            conn.mark_alive();
        }
        Ok(())
    }

    fn has_broken(&self, conn: &mut Checked<C>) -> bool {
        self.inner.has_broken(&mut conn.conn)
    }
}

/// A pool for one of the two backends.
#[derive(Clone)]
pub(crate) enum DbPool {
    Sqlite(Pool<Manager<SqliteConnection>>),
    Pg(Pool<Manager<PgConnection>>),
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
    Sqlite(PooledConnection<Manager<SqliteConnection>>),
    Pg(PooledConnection<Manager<PgConnection>>),
}

impl DbPool {
    pub(crate) fn open(url: &DatabaseUrl, cfg: &StoreConfig) -> Result<Self, StorageError> {
        let size = cfg.max_connections.max(2);
        match url {
            DatabaseUrl::Sqlite(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(StorageError::internal)?;
                }
                let manager = Manager::<SqliteConnection>::new(path.to_string_lossy());
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
                let manager = Manager::<PgConnection>::new(url);
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
    /// Records how a call on this connection ended, for the health checks
    /// at checkout (see [`Manager`]): success proves it alive now; a failure
    /// a lost connection could explain makes the pool check every connection
    /// at its next checkout. Errors the database answered with (not found,
    /// conflict, …) change nothing.
    pub(crate) fn note_outcome<T>(&mut self, outcome: &Result<T, StorageError>) {
        let alive = match outcome {
            Ok(_) => true,
            Err(StorageError::Unavailable(_) | StorageError::Internal(_)) => false,
            Err(_) => return,
        };
        match (self, alive) {
            (Self::Sqlite(c), true) => c.mark_alive(),
            (Self::Sqlite(c), false) => c.mark_suspect(),
            (Self::Pg(c), true) => c.mark_alive(),
            (Self::Pg(c), false) => c.mark_suspect(),
        }
    }

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
