//! How to open a store: the database URL, pool and SQLite settings, and
//! the clock every write is stamped with.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use switchboard_domain::Timestamp;

use crate::StorageError;
use crate::secrets::SecretKeySource;

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

/// The time source of a store: when writes happen, when leases and retries
/// fall due. [`Clock::system`] in production; [`Clock::manual`] lets tests
/// move time instead of sleeping.
///
/// ```
/// use std::time::Duration;
/// use switchboard_domain::Timestamp;
/// use switchboard_storage::Clock;
///
/// let clock = Clock::manual(Timestamp::from_millis(1_000));
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(clock.now(), Timestamp::from_millis(3_000));
/// assert!(Clock::system().now() > Timestamp::from_millis(1_700_000_000_000));
/// ```
#[derive(Clone, Default)]
pub struct Clock(Source);

#[derive(Clone, Default)]
enum Source {
    #[default]
    System,
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// The machine's clock.
    #[must_use]
    pub fn system() -> Self {
        Self(Source::System)
    }

    /// A clock that stands still at `start` until moved with
    /// [`Clock::advance`] or [`Clock::set`]. Clones share the time.
    #[must_use]
    pub fn manual(start: Timestamp) -> Self {
        Self(Source::Manual(Arc::new(AtomicI64::new(start.as_millis()))))
    }

    /// The current time in milliseconds.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        match &self.0 {
            Source::System => now(),
            Source::Manual(t) => Timestamp::from_millis(t.load(Ordering::Acquire)),
        }
    }

    /// Moves a manual clock forward by `by`; a system clock cannot be moved
    /// and ignores it.
    pub fn advance(&self, by: Duration) {
        if let Source::Manual(t) = &self.0 {
            t.fetch_add(millis(by), Ordering::AcqRel);
        }
    }

    /// Sets a manual clock to `at`; a system clock ignores it.
    pub fn set(&self, at: Timestamp) {
        if let Source::Manual(t) = &self.0 {
            t.store(at.as_millis(), Ordering::Release);
        }
    }

    /// Whether this is the machine's clock.
    #[must_use]
    pub fn is_system(&self) -> bool {
        matches!(self.0, Source::System)
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Source::System => f.write_str("Clock::System"),
            Source::Manual(t) => write!(f, "Clock::Manual({})", t.load(Ordering::Acquire)),
        }
    }
}

/// The machine's current time in milliseconds. Prefer the store's clock
/// ([`Store::now`](crate::Store::now)), which tests can move.
#[must_use]
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Timestamp::from_millis(ms)
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// The document cache's default bound on entries ([`StoreConfig::doc_cache_entries`]).
pub const DOC_CACHE_ENTRIES: usize = 20_000;

/// The document cache's default bound on memory ([`StoreConfig::doc_cache_bytes`]): 64 MiB,
/// enough for [`DOC_CACHE_ENTRIES`] documents of a few KB (a conversation
/// with a little custom info weighs 2.5–3 KB), so that the entry bound is
/// the one a typical node meets.
pub const DOC_CACHE_BYTES: u64 = 64 << 20;

/// The default bound on the memory of the memo of parsed documents
/// ([`StoreConfig::decoded_cache_bytes`]): 32 MiB.
pub const DECODED_CACHE_BYTES: u64 = 32 << 20;

/// The default memory for SQLite's page caches, over all the pool's
/// connections ([`StoreConfig::sqlite_cache_bytes`]): 16 MiB, SQLite's own
/// 2 MiB for each of the default 8 connections.
pub const SQLITE_CACHE_BYTES: u64 = 16 << 20;

/// How to open a [`Store`](crate::Store).
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Connections per pool; at least 2 (smaller values are raised to 2).
    /// On SQLite one of them belongs to the writer thread for good.
    pub max_connections: u32,
    /// Idle connections the pool keeps open (default 1), opening a new
    /// one in the background when a call takes the last. A short-lived
    /// process (an admin command) sets 0: a connection still being opened
    /// in the background when the process exits can abort it inside
    /// libpq's Kerberos support.
    pub min_idle_connections: u32,
    /// How long to wait for a free connection before `Unavailable`.
    pub connection_timeout: Duration,
    /// SQLite durability setting.
    pub sqlite_synchronous: SqliteSync,
    /// SQLite `busy_timeout`: how long a writer waits for another process's lock.
    pub sqlite_busy_timeout: Duration,
    /// SQLite `mmap_size`: how many bytes of the database file each
    /// connection reads through a memory map instead of `read` calls
    /// (default 0: off, every page is read with `read`). Pages come from the
    /// operating system's page cache either way; a map saves a system
    /// call and a copy per page read (searches over a large database
    /// gain most, see `docs/benchmarks.md`). Writes do not go through it.
    /// The cost is in what the process's RSS shows: every connection's
    /// map counts the file pages it touched, so RSS can read several
    /// times the database's size though no memory is used twice; and an
    /// I/O error reading the file ends the process (`SIGBUS`) instead of
    /// failing one call.
    pub sqlite_mmap_size: u64,
    /// How many bytes of database pages SQLite may keep in memory, over all
    /// the pool's connections: each connection's page cache (`PRAGMA
    /// cache_size`) gets an equal share of it, at least 64 KiB. A page a
    /// connection does not hold is read from the operating system's page
    /// cache (a system call and a copy); a search of a large database that
    /// reads rows all over the file gains from more (`docs/scaling.md`).
    /// The caches fill only as far as reads use them. Default
    /// [`SQLITE_CACHE_BYTES`].
    pub sqlite_cache_bytes: u64,
    /// Apply pending migrations when opening.
    pub run_migrations: bool,
    /// The time source (the machine's clock unless a test moves its own).
    pub clock: Clock,
    /// The keys webhook signing secrets are encrypted under (see
    /// [`crate::secrets`]): by default a key file beside the SQLite
    /// database; PostgreSQL needs them configured.
    pub secret_keys: SecretKeySource,
    /// At most how many recently written documents (customers and
    /// conversations) the per-node document cache keeps, so that a modify
    /// on PostgreSQL can skip its read (see `doc_cache`); 0 switches the
    /// cache off. Unused on SQLite.
    pub doc_cache_entries: usize,
    /// About how many bytes of memory those documents may take (an
    /// estimate from their stored size and the objects and arrays of their
    /// free-form members); 0 switches the cache off.
    pub doc_cache_bytes: u64,
    /// About how many bytes of memory the per-node memo of parsed
    /// documents may take (see `decoded`): a read of a row whose stored
    /// document is byte for byte the text this node last parsed and kept
    /// for it (a row is kept from its second read on) copies the parsed
    /// entity instead of parsing again. 0 switches it off. Both backends.
    pub decoded_cache_bytes: u64,
}

impl StoreConfig {
    /// The default configuration with the tests' secret key (PostgreSQL
    /// has no default key), for the crate's own tests; connections are
    /// waited for up to a minute, for a machine busy with many tests.
    #[cfg(test)]
    pub(crate) fn for_tests() -> Self {
        Self {
            connection_timeout: std::time::Duration::from_secs(60),
            secret_keys: crate::SecretKeySource::keys(switchboard_testsupport::SECRET_KEYS)
                .unwrap_or_else(|e| panic!("the tests' secret keys: {e}")),
            ..Self::default()
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            max_connections: 8,
            min_idle_connections: 1,
            connection_timeout: Duration::from_secs(10),
            sqlite_synchronous: SqliteSync::Full,
            sqlite_busy_timeout: Duration::from_secs(5),
            sqlite_mmap_size: 0,
            sqlite_cache_bytes: SQLITE_CACHE_BYTES,
            run_migrations: true,
            clock: Clock::system(),
            secret_keys: SecretKeySource::Auto,
            doc_cache_entries: DOC_CACHE_ENTRIES,
            doc_cache_bytes: DOC_CACHE_BYTES,
            decoded_cache_bytes: DECODED_CACHE_BYTES,
        }
    }
}
