//! The one connection type over both backends, its pool, SQLite settings,
//! write transactions and migrations.
//!
//! [`DbConnection`] is Diesel's `MultiConnection` over PostgreSQL and
//! SQLite: query code is written once against it, and runs on whichever
//! backend the store opened. Where the SQL truly differs (row locks,
//! `SKIP LOCKED`, PostgreSQL's single-statement write, batch inserts), a
//! function matches on the variant and runs the backend's own statement on
//! the inner connection.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::{
    AnsiTransactionManager, Connection, SimpleConnection, TransactionManager,
};
use diesel::pg::PgConnection;
use diesel::r2d2::{CustomizeConnection, ManageConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::StorageError;
use crate::config::{DatabaseUrl, SqliteSync, StoreConfig};

/// Migrations for each backend; the two trees carry identical names.
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
/// See [`SQLITE_MIGRATIONS`].
const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// The PostgreSQL migrations (versions, as Diesel records them) that an
/// older node cannot run beside: applied only when no node is running
/// (`docs/scaling.md`, "Migrations with several nodes up").
/// `2026-12-13-000001_records_as_written` makes columns `json` that an
/// older node reads as `jsonb`.
const STOP_EVERY_NODE: &[&str] = &["20261213000001"];

/// The migration that creates the node membership (`nodes`).
const NODES_MIGRATION: &str = "20261201000060";

/// How long a node must have been silent (no heartbeat, which a running
/// node sends every second) to count as stopped for [`STOP_EVERY_NODE`]. A
/// node that stops cleanly leaves the membership at once.
pub(crate) const STOPPED_FOR: Duration = Duration::from_secs(10);

/// Runs `$body` with `$c` bound to the backend's own connection: the same
/// query, type-checked and executed natively on either backend. For the
/// hot path: a statement run through the multi-backend layer is serialized
/// again on every execution (it costs microseconds a request pays on SQLite's
/// single writer); run natively, a cached statement is only bound and run.
macro_rules! native {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::connection::DbConnection::Pg($c) => $body,
            $crate::connection::DbConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use native;

/// A connection to either backend.
#[derive(diesel::MultiConnection)]
pub(crate) enum DbConnection {
    /// PostgreSQL.
    Pg(PgConnection),
    /// SQLite.
    Sqlite(SqliteConnection),
}

impl DbConnection {
    /// Opens a connection to `url`, of the backend it names.
    pub(crate) fn open(url: &DatabaseUrl) -> diesel::ConnectionResult<Self> {
        match url {
            DatabaseUrl::Postgres(u) => PgConnection::establish(u).map(Self::Pg),
            DatabaseUrl::Sqlite(path) => {
                SqliteConnection::establish(&path.to_string_lossy()).map(Self::Sqlite)
            }
        }
    }

    /// Runs `f` in a write transaction: `BEGIN IMMEDIATE` on SQLite (the
    /// write lock is taken before anything is read), or a `SAVEPOINT` when
    /// the connection is already in a transaction (a write in a group
    /// commit, see `group_commit`), so each write can fail and roll back
    /// alone; a plain `BEGIN` on PostgreSQL.
    pub(crate) fn write_tx<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        let immediate = match self {
            Self::Sqlite(c) => AnsiTransactionManager::transaction_manager_status_mut(c)
                .transaction_depth()
                .is_ok_and(|d| d.is_none()),
            Self::Pg(_) => false,
        };
        if !immediate {
            if let Self::Sqlite(c) = self
                && AnsiTransactionManager::transaction_manager_status_mut(c)
                    .transaction_depth()
                    .is_ok_and(|d| d.is_some())
            {
                return self.savepoint(f);
            }
            return self.transaction(f);
        }
        if let Self::Sqlite(c) = self {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
        }
        // What `Connection::transaction` does after its own BEGIN.
        match f(self) {
            Ok(value) => {
                <Self as Connection>::TransactionManager::commit_transaction(self)?;
                Ok(value)
            }
            Err(error) => {
                match <Self as Connection>::TransactionManager::rollback_transaction(self) {
                    Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
                    Err(rollback) => Err(rollback.into()),
                }
            }
        }
    }

    /// Runs `f` in a `SAVEPOINT` of the SQLite transaction the connection
    /// is in (a write of a group commit): released when `f` succeeds,
    /// rolled back when it fails. Unlike Diesel's nested transaction, a
    /// failure reports `f`'s own error even when the rollback fails: after
    /// some errors (`SQLITE_FULL`, I/O errors) SQLite has already rolled
    /// back the whole transaction, savepoint included, and the caller must
    /// learn that the disk is full, not that the savepoint is gone. The
    /// group commit notices the lost transaction (see `group_commit`).
    fn savepoint<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<diesel::result::Error>,
    {
        <Self as Connection>::TransactionManager::begin_transaction(self)?;
        match f(self) {
            Ok(value) => {
                <Self as Connection>::TransactionManager::commit_transaction(self)?;
                Ok(value)
            }
            Err(error) => {
                let _ = <Self as Connection>::TransactionManager::rollback_transaction(self);
                Err(error)
            }
        }
    }

    /// Applies every pending migration; returns the names applied. On
    /// PostgreSQL, refuses with [`StorageError::NodesRunning`] (applying
    /// nothing) when one of them is in [`STOP_EVERY_NODE`] and a node was
    /// seen alive in the [`STOPPED_FOR`] before `now` (epoch
    /// milliseconds).
    pub(crate) fn run_pending_migrations(&mut self, now: i64) -> Result<Vec<String>, StorageError> {
        if let Self::Pg(c) = self {
            let pending: Vec<String> = match c.pending_migrations(PG_MIGRATIONS) {
                Ok(pending) => pending
                    .iter()
                    .map(|m| m.name().version().to_string())
                    .collect(),
                Err(e) => return Err(self.migration_failed(e)),
            };
            // Before the membership's own migration no node can have
            // registered.
            let has_nodes = !pending.iter().any(|v| v == NODES_MIGRATION);
            if let Some(version) = pending
                .iter()
                .find(|v| STOP_EVERY_NODE.contains(&v.as_str()))
                && has_nodes
            {
                let since = now.saturating_sub(i64::try_from(STOPPED_FOR.as_millis()).unwrap_or(0));
                let live = crate::sql::nodes::live_since(self, since)?;
                if live > 0 {
                    return Err(StorageError::NodesRunning {
                        migration: version.clone(),
                        live,
                        within_secs: STOPPED_FOR.as_secs(),
                    });
                }
            }
        }
        let applied = match self {
            Self::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(names),
            Self::Pg(c) => c.run_pending_migrations(PG_MIGRATIONS).map(names),
        };
        applied.map_err(|e| self.migration_failed(e))
    }

    /// Applies the pending migrations up to and including `last` (a
    /// version as Diesel records it, such as `20261130000004`), to build a
    /// database as an older release left it.
    #[cfg(test)]
    pub(crate) fn run_migrations_through(
        &mut self,
        last: &str,
    ) -> Result<Vec<String>, StorageError> {
        fn through<C, DB>(
            c: &mut C,
            source: EmbeddedMigrations,
            last: &str,
        ) -> diesel::migration::Result<Vec<String>>
        where
            DB: diesel::backend::Backend,
            C: MigrationHarness<DB>,
            EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
        {
            let mut applied = Vec::new();
            for m in c.pending_migrations(source)? {
                if m.name().version().to_string().as_str() > last {
                    break;
                }
                applied.push(c.run_migration(&*m)?.to_string());
            }
            Ok(applied)
        }
        let applied = match self {
            Self::Sqlite(c) => through(c, SQLITE_MIGRATIONS, last),
            Self::Pg(c) => through(c, PG_MIGRATIONS, last),
        };
        applied.map_err(|e| self.migration_failed(e))
    }

    /// Reverts the applied migrations after `keep` (a version as Diesel
    /// records it), newest first; returns the versions reverted.
    #[cfg(test)]
    pub(crate) fn revert_migrations_after(
        &mut self,
        keep: &str,
    ) -> Result<Vec<String>, StorageError> {
        fn after<C, DB>(
            c: &mut C,
            source: fn() -> EmbeddedMigrations,
            keep: &str,
        ) -> diesel::migration::Result<Vec<String>>
        where
            DB: diesel::backend::Backend,
            C: MigrationHarness<DB>,
            EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
        {
            let mut reverted = Vec::new();
            loop {
                let applied = c.applied_migrations()?;
                match applied.iter().map(ToString::to_string).max() {
                    Some(last) if last.as_str() > keep => {
                        reverted.push(c.revert_last_migration(source())?.to_string());
                    }
                    _ => return Ok(reverted),
                }
            }
        }
        let reverted = match self {
            Self::Sqlite(c) => after(c, || SQLITE_MIGRATIONS, keep),
            Self::Pg(c) => after(c, || PG_MIGRATIONS, keep),
        };
        reverted.map_err(|e| self.migration_failed(e))
    }

    /// Reverts every applied migration (for tests and tooling).
    pub(crate) fn revert_all_migrations(&mut self) -> Result<Vec<String>, StorageError> {
        let reverted = match self {
            Self::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS).map(names),
            Self::Pg(c) => c.revert_all_migrations(PG_MIGRATIONS).map(names),
        };
        reverted.map_err(|e| self.migration_failed(e))
    }

    /// Leaves the connection usable after a failed migration. An SQLite
    /// migration that runs outside Diesel's transaction (`run_in_transaction
    /// = false`, to turn foreign keys off) opens its own; a failure inside it
    /// leaves that transaction open and foreign keys off. Both are undone
    /// here; the error is passed on.
    fn migration_failed(&mut self, e: Box<dyn std::error::Error + Send + Sync>) -> StorageError {
        if let Self::Sqlite(c) = self {
            // Fails harmlessly when no transaction is open.
            let _ = c.batch_execute("ROLLBACK");
            let _ = c.batch_execute("PRAGMA foreign_keys = ON");
        }
        StorageError::Internal(e)
    }
}

fn names(v: Vec<diesel::migration::MigrationVersion<'_>>) -> Vec<String> {
    v.iter().map(ToString::to_string).collect()
}

/// A connection that has not answered for this long is health-checked
/// (`SELECT 1`) when it is checked out of the pool; see [`Manager`].
pub(crate) const RECHECK_AFTER: Duration = Duration::from_secs(1);

/// A pooled connection and what is known of its health.
pub(crate) struct Checked {
    conn: DbConnection,
    /// When it last proved alive: opened, passed a health check, or a call
    /// on it succeeded. `None` after a failed call.
    alive_at: Option<Instant>,
    /// The pool's failure count when `alive_at` was taken.
    failures_seen: u64,
    /// How many calls on any of the pool's connections failed in a way a
    /// lost connection could explain.
    pool_failures: Arc<AtomicU64>,
}

impl Checked {
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

    /// Records how a call on this connection ended, for the health checks
    /// at checkout (see [`Manager`]): success proves it alive now; a failure
    /// a lost connection could explain makes the pool check every connection
    /// at its next checkout. Errors the database answered with (not found,
    /// conflict, …) change nothing.
    pub(crate) fn note_outcome<T, E: Failure>(&mut self, outcome: &Result<T, E>) {
        match outcome {
            Ok(_) => self.mark_alive(),
            Err(e) if e.may_be_lost_connection() => self.mark_suspect(),
            Err(_) => {}
        }
    }
}

/// An error a call on a connection can end with.
pub(crate) trait Failure {
    /// Whether a lost connection could explain it.
    fn may_be_lost_connection(&self) -> bool;

    /// The storage error it carries, if any (not a caller's own rejection).
    fn storage_error(&self) -> Option<&StorageError>;

    /// The store's own error inside it, if it is one (not a change's
    /// rejection), to classify further.
    fn storage_error_mut(&mut self) -> Option<&mut StorageError>;
}

impl Failure for StorageError {
    fn may_be_lost_connection(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Internal(_))
    }

    fn storage_error(&self) -> Option<&StorageError> {
        Some(self)
    }

    fn storage_error_mut(&mut self) -> Option<&mut StorageError> {
        Some(self)
    }
}

impl Deref for Checked {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl DerefMut for Checked {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// The pool's connection manager: opens connections of the store's
/// backend, and checks them at checkout more cheaply than Diesel's.
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
/// [`Checked::note_outcome`]) makes every connection of the pool be checked
/// at its next checkout, so a restart costs the calls in flight, not one
/// call per pooled connection.
#[derive(Debug)]
pub(crate) struct Manager {
    url: DatabaseUrl,
    failures: Arc<AtomicU64>,
}

impl ManageConnection for Manager {
    type Connection = Checked;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Checked, diesel::r2d2::Error> {
        let conn = DbConnection::open(&self.url).map_err(diesel::r2d2::Error::ConnectionError)?;
        let mut conn = Checked {
            conn,
            alive_at: None,
            failures_seen: 0,
            pool_failures: Arc::clone(&self.failures),
        };
        conn.mark_alive();
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut Checked) -> Result<(), diesel::r2d2::Error> {
        if conn.needs_check() {
            conn.conn
                .batch_execute("SELECT 1")
                .map_err(diesel::r2d2::Error::QueryError)?;
            conn.mark_alive();
        }
        Ok(())
    }

    fn has_broken(&self, conn: &mut Checked) -> bool {
        use diesel::r2d2::R2D2Connection;
        conn.conn.is_broken()
    }
}

/// SQLite's settings, applied to every connection the pool opens (and to
/// the store's own checkpoint connection, see `group_commit`).
#[derive(Debug, Clone)]
struct SqlitePragmas {
    synchronous: SqliteSync,
    busy_timeout_ms: u128,
    mmap_size: u64,
    /// Each connection's page cache, in KiB.
    cache_kib: u64,
}

impl SqlitePragmas {
    /// The smallest page cache a connection gets, in KiB.
    const MIN_CACHE_KIB: u64 = 64;

    /// Each of `connections`' share of `total_bytes` of page cache, in KiB
    /// (at most what SQLite's `cache_size`, an `int`, can hold).
    fn cache_kib(total_bytes: u64, connections: u32) -> u64 {
        (total_bytes / 1024 / u64::from(connections.max(1)))
            .clamp(Self::MIN_CACHE_KIB, i32::MAX.unsigned_abs().into())
    }
}

impl CustomizeConnection<Checked, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut Checked) -> Result<(), diesel::r2d2::Error> {
        self.apply(conn).map_err(diesel::r2d2::Error::QueryError)
    }
}

impl SqlitePragmas {
    /// Sets `conn` up.
    ///
    /// No connection checkpoints the WAL when its commit makes it long
    /// (`wal_autocheckpoint = 0`): that work would hold up the commit's
    /// callers on the writer thread. The store's checkpoint thread does it
    /// instead, beside the writes (see `group_commit`). Statement journals
    /// and temporary tables stay in memory (`temp_store = MEMORY`): a write
    /// of a group commit runs in a savepoint, and a savepoint's journal
    /// spilled to a temporary file (created, unlinked, written and closed
    /// for most writes) once it held 16 pages.
    fn apply(&self, conn: &mut DbConnection) -> diesel::QueryResult<()> {
        #[derive(diesel::QueryableByName)]
        struct Pages {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            page_count: i64,
        }
        use diesel::RunQueryDsl;
        conn.batch_execute(&format!("PRAGMA busy_timeout = {};", self.busy_timeout_ms))?;
        // A new database (no page written yet) gives the space of deleted
        // rows back to the file system on request (`PRAGMA
        // incremental_vacuum`; see `docs/webhooks.md`, "Retention"). This
        // must come before anything is written (switching to WAL writes the
        // header), and only then: on a database that has pages the pragma
        // opens a write transaction to store the mode, and it can switch an
        // existing database only with a VACUUM.
        let pages: Pages = diesel::sql_query("PRAGMA page_count").get_result(conn)?;
        if pages.page_count == 0 {
            conn.batch_execute("PRAGMA auto_vacuum = INCREMENTAL;")?;
        }
        conn.batch_execute(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA foreign_keys = ON; \
             PRAGMA mmap_size = {}; PRAGMA cache_size = -{}; \
             PRAGMA wal_autocheckpoint = 0; PRAGMA temp_store = MEMORY;",
            self.synchronous.pragma(),
            self.mmap_size,
            self.cache_kib
        ))
    }
}

/// The pool of either backend.
///
/// Calls are admitted to it in arrival order ([`DbPool::admit`]): a call
/// waits for a permit, asynchronously and first come first served, before
/// it takes a blocking thread and a connection. r2d2 alone is not fair: a
/// connection handed back is often taken by a call that just arrived rather
/// than by one that has waited, which under load stretches the slowest
/// requests (the p99) far beyond the median.
#[derive(Clone)]
pub(crate) struct DbPool {
    pool: Pool<Manager>,
    sqlite: bool,
    /// SQLite: the file and its settings, for a connection of the store's
    /// own outside the pool ([`DbPool::open_own`]).
    own: Option<Arc<(DatabaseUrl, SqlitePragmas)>>,
    /// One permit per connection calls may take (the SQLite writer's own
    /// is not among them).
    admission: Arc<tokio::sync::Semaphore>,
    /// How long a call may wait for a permit (the pool's own timeout).
    admission_timeout: Duration,
}

impl std::fmt::Debug for DbPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbPool")
            .field("backend", &if self.sqlite { "sqlite" } else { "postgres" })
            .field("state", &self.pool.state())
            .finish()
    }
}

/// A connection checked out of a [`DbPool`].
pub(crate) type Pooled = PooledConnection<Manager>;

impl DbPool {
    pub(crate) fn open(url: &DatabaseUrl, cfg: &StoreConfig) -> Result<Self, StorageError> {
        let sqlite = matches!(url, DatabaseUrl::Sqlite(_));
        if let DatabaseUrl::Sqlite(path) = url
            && let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(StorageError::internal)?;
        }
        let manager = Manager {
            url: url.clone(),
            failures: Arc::new(AtomicU64::new(0)),
        };
        let mut builder = Pool::builder()
            .max_size(cfg.max_connections.max(2))
            .min_idle(Some(cfg.min_idle_connections))
            .connection_timeout(cfg.connection_timeout);
        let own = sqlite.then(|| {
            let pragmas = SqlitePragmas {
                synchronous: cfg.sqlite_synchronous,
                busy_timeout_ms: cfg.sqlite_busy_timeout.as_millis(),
                mmap_size: cfg.sqlite_mmap_size,
                cache_kib: SqlitePragmas::cache_kib(
                    cfg.sqlite_cache_bytes,
                    cfg.max_connections.max(2),
                ),
            };
            Arc::new((url.clone(), pragmas))
        });
        if let Some(own) = &own {
            builder = builder.connection_customizer(Box::new(own.1.clone()));
        }
        let pool = builder
            .build(manager)
            .map_err(|e| StorageError::Unavailable(Box::new(e)))?;
        // SQLite's writer thread keeps one connection for good.
        let permits = pool.max_size() - u32::from(sqlite);
        Ok(Self {
            pool,
            sqlite,
            own,
            admission: Arc::new(tokio::sync::Semaphore::new(permits as usize)),
            admission_timeout: cfg.connection_timeout,
        })
    }

    /// Waits, first come first served, until a call may take a connection;
    /// the permit is held until the call ends. Fails as a pool timeout does
    /// when the wait is longer than the pool's connection timeout.
    pub(crate) async fn admit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, StorageError> {
        let acquire = Arc::clone(&self.admission).acquire_owned();
        match tokio::time::timeout(self.admission_timeout, acquire).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(closed)) => Err(StorageError::Unavailable(Box::new(closed))),
            Err(_) => Err(StorageError::Unavailable(
                format!(
                    "no database connection within {} ms",
                    self.admission_timeout.as_millis()
                )
                .into(),
            )),
        }
    }

    pub(crate) fn get(&self) -> Result<Pooled, StorageError> {
        Ok(self.pool.get()?)
    }

    pub(crate) const fn is_sqlite(&self) -> bool {
        self.sqlite
    }

    /// SQLite: a connection to the pool's file, set up as the pool's are,
    /// that belongs to no pool (none on PostgreSQL).
    pub(crate) fn open_own(&self) -> Result<Option<DbConnection>, StorageError> {
        let Some(own) = &self.own else {
            return Ok(None);
        };
        let (url, pragmas) = &**own;
        let mut conn =
            DbConnection::open(url).map_err(|e| StorageError::Unavailable(Box::new(e)))?;
        pragmas.apply(&mut conn)?;
        Ok(Some(conn))
    }
}

#[cfg(test)]
mod tests {
    use diesel::RunQueryDsl;

    use super::*;

    /// A SQLite database named `name` in `dir`.
    fn sqlite_url(dir: &std::path::Path, name: &str) -> DatabaseUrl {
        DatabaseUrl::parse(&dir.join(name).display().to_string()).unwrap()
    }

    /// The SQLite connection a SQLite pool handed out.
    fn as_sqlite(c: &mut DbConnection) -> &mut diesel::SqliteConnection {
        let DbConnection::Sqlite(c) = c else {
            panic!("a SQLite pool gave another connection");
        };
        c
    }

    /// `read` on each of two connections of a pool opened with `cfg`,
    /// taken at once: each is set up on its own.
    fn on_two_connections<T>(
        url: &DatabaseUrl,
        cfg: &StoreConfig,
        read: impl Fn(&mut diesel::SqliteConnection) -> T,
    ) -> [T; 2] {
        let pool = DbPool::open(url, cfg).unwrap();
        let (mut a, mut b) = (pool.get().unwrap(), pool.get().unwrap());
        [read(as_sqlite(&mut a)), read(as_sqlite(&mut b))]
    }

    #[derive(diesel::QueryableByName)]
    struct MmapSize {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        mmap_size: i64,
    }

    /// Every pooled SQLite connection reads through a memory map of the
    /// configured size; none by default.
    #[test]
    fn sqlite_connections_read_through_the_configured_memory_map() {
        let dir = switchboard_testsupport::tempfile::tempdir().unwrap();
        let url = sqlite_url(dir.path(), "mmap.db");
        for (size, expected) in [
            (None, 0_i64),
            (Some(1 << 30), 1 << 30),
            (Some(64 << 20), 64 << 20),
        ] {
            let mut cfg = StoreConfig::for_tests();
            if let Some(size) = size {
                cfg.sqlite_mmap_size = size;
            }
            for got in on_two_connections(&url, &cfg, |c| {
                let got: MmapSize = diesel::sql_query("PRAGMA mmap_size").get_result(c).unwrap();
                got.mmap_size
            }) {
                assert_eq!(got, expected, "{size:?}");
            }
        }
    }

    #[derive(diesel::QueryableByName)]
    struct CacheSize {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        cache_size: i64,
    }

    /// Every pooled SQLite connection's page cache is its share of the
    /// configured total (negative: in KiB), with a floor.
    #[test]
    fn sqlite_connections_share_the_configured_page_cache() {
        let dir = switchboard_testsupport::tempfile::tempdir().unwrap();
        let url = sqlite_url(dir.path(), "cache.db");
        for (total, connections, expected_kib) in [
            (None, 8, 2048_i64),
            (Some(256_u64 << 20), 8, 32_768),
            (Some(256 << 20), 4, 65_536),
            (Some(1 << 20), 8, 128),
            (Some(0), 8, 64),
            (Some(u64::MAX), 8, i64::from(i32::MAX)),
        ] {
            let mut cfg = StoreConfig::for_tests();
            cfg.max_connections = connections;
            if let Some(total) = total {
                cfg.sqlite_cache_bytes = total;
            }
            for got in on_two_connections(&url, &cfg, |c| {
                let got: CacheSize = diesel::sql_query("PRAGMA cache_size")
                    .get_result(c)
                    .unwrap();
                got.cache_size
            }) {
                assert_eq!(got, -expected_kib, "{total:?} over {connections}");
            }
        }
    }

    #[derive(diesel::QueryableByName)]
    struct AutoCheckpoint {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        wal_autocheckpoint: i64,
    }

    #[derive(diesel::QueryableByName)]
    struct TempStore {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        temp_store: i64,
    }

    /// No connection of the store, pooled or its own, checkpoints the WAL
    /// when its commit made it long (the store's checkpoint thread does,
    /// see `group_commit`), and each keeps statement journals in memory
    /// (`temp_store = MEMORY`, 2).
    #[test]
    fn sqlite_connections_leave_checkpoints_to_the_store_and_journals_in_memory() {
        let dir = switchboard_testsupport::tempfile::tempdir().unwrap();
        let pool =
            DbPool::open(&sqlite_url(dir.path(), "wal.db"), &StoreConfig::for_tests()).unwrap();
        let mut own = pool.open_own().unwrap().expect("a connection of its own");
        let (mut a, mut b) = (pool.get().unwrap(), pool.get().unwrap());
        for c in [as_sqlite(&mut a), as_sqlite(&mut b), as_sqlite(&mut own)] {
            let got: AutoCheckpoint = diesel::sql_query("PRAGMA wal_autocheckpoint")
                .get_result(c)
                .unwrap();
            assert_eq!(got.wal_autocheckpoint, 0);
            let got: TempStore = diesel::sql_query("PRAGMA temp_store")
                .get_result(c)
                .unwrap();
            assert_eq!(got.temp_store, 2);
        }
    }

    #[derive(diesel::QueryableByName)]
    struct CompileOption {
        #[diesel(sql_type = diesel::sql_types::Text)]
        compile_options: String,
    }

    /// The workspace builds SQLite in multi-thread mode without memory
    /// statistics and without memory management (`.cargo/config.toml`): no
    /// mutex on every call into a connection, and each connection's page
    /// cache its own, with no process-wide mutex on every page it reads.
    /// Fails if a setting is lost, or ignored by the build.
    #[test]
    fn sqlite_is_built_for_a_pool() {
        let dir = switchboard_testsupport::tempfile::tempdir().unwrap();
        let pool = DbPool::open(
            &sqlite_url(dir.path(), "opts.db"),
            &StoreConfig::for_tests(),
        )
        .unwrap();
        let mut c = pool.get().unwrap();
        let options: Vec<String> = diesel::sql_query("PRAGMA compile_options")
            .load::<CompileOption>(as_sqlite(&mut c))
            .unwrap()
            .into_iter()
            .map(|o| o.compile_options)
            .collect();
        for wanted in ["THREADSAFE=2", "DEFAULT_MEMSTATUS=0"] {
            assert!(
                options.iter().any(|o| o == wanted),
                "{wanted} not among {options:?}"
            );
        }
        // With it, SQLite puts every connection's pages in one shared cache
        // behind one mutex (so that `sqlite3_release_memory` can free any).
        let shared_cache = "ENABLE_MEMORY_MANAGEMENT";
        assert!(
            !options.iter().any(|o| o == shared_cache),
            "{shared_cache} among {options:?}"
        );
    }
}
