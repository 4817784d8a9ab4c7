//! Test support for Switchboard: a **real** PostgreSQL server for tests.
//!
//! Tests call [`postgres_or_skip`] (or [`postgres`]) to get the process-wide
//! [`PgServer`], then [`PgServer::create_database`] for a fresh, uniquely named
//! database that is dropped again when the returned [`TestDatabase`] goes out of
//! scope:
//!
//! ```no_run
//! use switchboard_testsupport::postgres_or_skip;
//!
//! #[test]
//! fn stores_sessions() -> Result<(), Box<dyn std::error::Error>> {
//!     let Some(server) = postgres_or_skip() else {
//!         return Ok(()); // no PostgreSQL here (and not in CI): skipped, loudly
//!     };
//!     let db = server.create_database()?;
//!     let url: &str = db.url(); // postgres://postgres@127.0.0.1:<port>/sbtest_…
//!     // ... connect to `url`, run migrations, test ...
//!     # let _ = url;
//!     Ok(())
//! }
//! ```
//!
//! # Where the server comes from
//!
//! * If `DATABASE_URL` is set to a `postgres://` or `postgresql://` URL, that
//!   server is used; the URL is the *admin* URL on which test databases are
//!   created with `psql` (which must then be on `PATH` or in [`bin_dir`]).
//! * Otherwise a throwaway cluster is created from the machine's PostgreSQL
//!   binaries (see [`bin_dir`]): `initdb` into `/tmp/switchboard-pg-<pid>-XXXXXX`,
//!   started with `pg_ctl` on a free port of 127.0.0.1 with durability switched
//!   off (`fsync`, `synchronous_commit`, `full_page_writes`), 300 connections
//!   ([`PgServer::start_durable`] leaves durability on, for benchmarks).
//!   As root, `initdb`/`pg_ctl` run as the `postgres` OS user (via `runuser`, or
//!   `su` as a fallback), because PostgreSQL refuses to run as root.
//!
//! The shared cluster is stopped and deleted when the test process exits, even
//! if it is killed: a detached watchdog shell polls the test process and runs
//! `pg_ctl stop -m immediate` + `rm -rf` once it is gone. Leftovers of dead
//! processes whose watchdog died too are swept when the next cluster starts.
//!
//! # Environment variables
//!
//! * `DATABASE_URL` — use this PostgreSQL server instead of starting one.
//! * `CI` — when set (non-empty), missing PostgreSQL binaries make
//!   [`postgres_or_skip`] panic instead of skipping, so CI cannot silently
//!   skip the database tests.
//!
//! [`TestDb`] is a fresh database of either backend for one test (an
//! SQLite file in a temporary directory, or a database on that server),
//! with a raw connection for catalog queries and sabotage.
//!
//! [`receiver`] is a real webhook receiver on loopback (an HTTP/1.1
//! server that records requests and answers from a script).
//!
//! [`ceiling`] is the database's own write ceiling on a bare Diesel
//! connection (one row `UPDATE` plus one outbox `INSERT` per transaction),
//! shared by the storage benchmark and the load benchmark.
//!
//! [`tempfile`] is re-exported for tests that need temporary directories
//! (e.g. for SQLite files) without another dependency line.

mod bin;
pub mod ceiling;
mod cluster;
mod database;
mod error;
pub mod faults;
pub mod query;
pub mod receiver;
mod testdb;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Once, OnceLock};

pub use tempfile;

/// A fixed webhook secret key (`id:base64`) for tests and benchmarks, so
/// that every store and server process on one test database shares it
/// (PostgreSQL has no default key). Public knowledge: never use it in
/// production. As an environment variable: `SWITCHBOARD_SECRETS_KEYS`.
pub const SECRET_KEYS: &str = "test:6J3dGyROIefi18cj/F5KDMfjAJfOP3RqVBiumQ63xyE=";

pub use crate::bin::bin_dir;
pub use crate::database::TestDatabase;
pub use crate::error::Error;
pub use crate::testdb::{RawConnection, TestDb};

use crate::bin::tool;
use crate::cluster::LocalCluster;
use crate::database::{is_postgres_url, run_sql};

/// A PostgreSQL server to create test databases on: either the one named by
/// `DATABASE_URL` or a throwaway cluster owned by this handle.
///
/// Dropping a handle that owns a cluster stops the server immediately and
/// deletes its files. The shared handle ([`PgServer::shared`]) lives in a
/// static and is cleaned up by its watchdog when the process exits.
#[derive(Debug)]
pub struct PgServer {
    admin_url: String,
    bin_dir: Option<PathBuf>,
    psql: PathBuf,
    cluster: Option<LocalCluster>,
}

impl PgServer {
    /// A server of its own: `DATABASE_URL` if it is a PostgreSQL URL, else a
    /// new throwaway cluster (stopped and deleted when the handle is dropped).
    ///
    /// Returns `Ok(None)` when there is no `DATABASE_URL` and no PostgreSQL
    /// server binaries were found.
    ///
    /// # Errors
    ///
    /// When the cluster cannot be created or started (the error carries the
    /// server log), or the `DATABASE_URL` server does not answer `SELECT 1`.
    pub fn start() -> Result<Option<Self>, Error> {
        let bin_dir = bin_dir();
        let database_url = std::env::var("DATABASE_URL").unwrap_or_default();
        if is_postgres_url(&database_url) {
            let psql = tool(bin_dir.as_deref(), "psql");
            run_sql(&psql, &database_url, "SELECT 1")?;
            return Ok(Some(Self {
                admin_url: database_url,
                bin_dir,
                psql,
                cluster: None,
            }));
        }
        let Some(bin) = bin_dir else {
            return Ok(None);
        };
        let cluster = LocalCluster::start(&bin)?;
        Ok(Some(Self::on_cluster(bin, cluster)))
    }

    /// The server of a cluster started here from the tools in `bin`.
    fn on_cluster(bin: PathBuf, cluster: LocalCluster) -> Self {
        Self {
            admin_url: format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port()),
            psql: tool(Some(&bin), "psql"),
            bin_dir: Some(bin),
            cluster: Some(cluster),
        }
    }

    /// Like [`PgServer::start`], but a cluster this call starts has durable
    /// commits (`fsync`, `synchronous_commit` and `full_page_writes` on, as
    /// PostgreSQL ships), for benchmarks whose figures must include what a
    /// production commit pays. A `DATABASE_URL` server is used as it is
    /// configured.
    ///
    /// # Errors
    ///
    /// As [`PgServer::start`].
    pub fn start_durable() -> Result<Option<Self>, Error> {
        let database_url = std::env::var("DATABASE_URL").unwrap_or_default();
        if is_postgres_url(&database_url) {
            return Self::start();
        }
        let Some(bin) = bin_dir() else {
            return Ok(None);
        };
        let cluster = LocalCluster::start_durable(&bin)?;
        Ok(Some(Self::on_cluster(bin, cluster)))
    }

    /// The process-wide server, started on first use (see [`PgServer::start`]).
    ///
    /// # Errors
    ///
    /// As [`PgServer::start`]; a failure is remembered and returned to every caller.
    pub fn shared() -> Result<Option<&'static Self>, Error> {
        static SHARED: OnceLock<Result<Option<PgServer>, Error>> = OnceLock::new();
        match SHARED.get_or_init(Self::start) {
            Ok(server) => Ok(server.as_ref()),
            Err(error) => Err(error.clone()),
        }
    }

    /// Creates a fresh, uniquely named database (`sbtest_<pid>_<counter>_<nanos>`).
    ///
    /// # Errors
    ///
    /// When `psql` cannot be run or `CREATE DATABASE` fails.
    pub fn create_database(&self) -> Result<TestDatabase, Error> {
        TestDatabase::create(&self.admin_url, &self.psql)
    }

    /// URL of the maintenance database, for administrative statements.
    #[must_use]
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// The PostgreSQL binary directory in use, if one was found.
    #[must_use]
    pub fn bin_dir(&self) -> Option<&Path> {
        self.bin_dir.as_deref()
    }

    /// Runs `sql` with `psql` on `url` (a database of this server); returns
    /// the unaligned, tuples-only output, trimmed.
    ///
    /// # Errors
    /// When `psql` cannot run or the statement fails (stderr is in the error).
    pub fn psql(&self, url: &str, sql: &str) -> Result<String, Error> {
        run_sql(&self.psql, url, sql)
    }

    /// The `psql` used for administration (from [`bin_dir`], else `PATH`).
    #[must_use]
    pub fn psql_binary(&self) -> &Path {
        &self.psql
    }

    /// Root directory of the throwaway cluster; `None` when using `DATABASE_URL`.
    #[must_use]
    pub fn cluster_dir(&self) -> Option<&Path> {
        self.cluster.as_ref().map(LocalCluster::root)
    }

    /// The throwaway cluster's server log, which says why a connection was
    /// closed under a client (a full disk, a crash); `None` when using
    /// `DATABASE_URL`.
    #[must_use]
    pub fn log_file(&self) -> Option<PathBuf> {
        self.cluster.as_ref().map(LocalCluster::log_file)
    }

    /// The process id of this handle's own cluster's postmaster (the first
    /// line of its `postmaster.pid`), for measuring the cluster's CPU time;
    /// `None` when using `DATABASE_URL` or when the cluster is not running.
    #[must_use]
    pub fn postmaster_pid(&self) -> Option<u32> {
        let cluster = self.cluster.as_ref()?;
        let text = std::fs::read_to_string(cluster.data_dir().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }
}

impl PgServer {
    /// Stops this handle's own cluster at once (`pg_ctl stop -m
    /// immediate`), keeping its files, so that tests can see what the
    /// server does while the database is down. Does nothing for a
    /// `DATABASE_URL` server.
    pub fn stop(&self) {
        if let Some(cluster) = &self.cluster {
            cluster.stop();
        }
    }

    /// Starts this handle's own cluster again after [`PgServer::stop`].
    ///
    /// # Errors
    ///
    /// When the server does not start.
    pub fn restart(&self) -> Result<(), Error> {
        match (&self.cluster, &self.bin_dir) {
            (Some(cluster), Some(bin)) => cluster.restart(bin),
            _ => Ok(()),
        }
    }
}

/// A primary with a synchronous hot standby, both throwaway clusters from
/// the machine's binaries: `initdb` for the primary (`wal_level =
/// replica`, `synchronous_standby_names = '*'`, durable commits), then
/// `pg_basebackup -R` for the standby. A commit on the primary is
/// acknowledged only once the standby has flushed it, so promoting the
/// standby after the primary dies loses no acknowledged commit.
#[derive(Debug)]
pub struct ReplicatedPostgres {
    primary: LocalCluster,
    standby: LocalCluster,
    bin: PathBuf,
    psql: PathBuf,
}

impl ReplicatedPostgres {
    /// Starts both; `Ok(None)` when no PostgreSQL binaries were found.
    ///
    /// # Errors
    ///
    /// When either cluster cannot be created or started.
    pub fn start() -> Result<Option<Self>, Error> {
        let Some(bin) = bin_dir() else {
            return Ok(None);
        };
        let primary = LocalCluster::start_primary(&bin)?;
        let standby = LocalCluster::start_standby(&bin, &primary)?;
        Ok(Some(Self {
            psql: tool(Some(&bin), "psql"),
            primary,
            standby,
            bin,
        }))
    }

    /// The primary's and the standby's ports.
    #[must_use]
    pub fn ports(&self) -> (u16, u16) {
        (self.primary.port(), self.standby.port())
    }

    /// Creates database `name` on the primary (the standby replays it).
    ///
    /// # Errors
    ///
    /// When `psql` fails.
    pub fn create_database(&self, name: &str) -> Result<(), Error> {
        run_sql(
            &self.psql,
            &self.primary_url("postgres"),
            &format!("CREATE DATABASE \"{name}\""),
        )
        .map(drop)
    }

    /// A URL of database `name` on the primary only.
    #[must_use]
    pub fn primary_url(&self, name: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{name}",
            self.primary.port()
        )
    }

    /// A URL of database `name` on the standby only.
    #[must_use]
    pub fn standby_url(&self, name: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{name}",
            self.standby.port()
        )
    }

    /// The multi-host URL of database `name`, as libpq takes it: both
    /// servers, and only a read-write session is accepted
    /// (`target_session_attrs=read-write`).
    #[must_use]
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/{name}?target_session_attrs=read-write",
            self.primary.port(),
            self.standby.port()
        )
    }

    /// Runs `sql` with `psql` on `url`; returns its unaligned output.
    ///
    /// # Errors
    ///
    /// When `psql` cannot run or the statement fails.
    pub fn psql(&self, url: &str, sql: &str) -> Result<String, Error> {
        run_sql(&self.psql, url, sql)
    }

    /// `kill -9` of the primary's postmaster and all its processes.
    ///
    /// # Errors
    ///
    /// When its pid cannot be read.
    pub fn kill_primary(&self) -> Result<(), Error> {
        self.primary.kill9()
    }

    /// Promotes the standby; returns once it accepts writes.
    ///
    /// # Errors
    ///
    /// When `pg_ctl promote` fails.
    pub fn promote_standby(&self) -> Result<(), Error> {
        self.standby.promote()
    }

    /// The binary directory in use.
    #[must_use]
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }
}

/// The process-wide server; the same as [`PgServer::shared`].
///
/// # Errors
///
/// As [`PgServer::start`].
pub fn postgres() -> Result<Option<&'static PgServer>, Error> {
    PgServer::shared()
}

/// The process-wide server, or `None` (after a loud notice on stderr) when
/// PostgreSQL is unavailable: no `DATABASE_URL` and no binaries found.
///
/// # Panics
///
/// * When PostgreSQL is unavailable and `CI` is set: CI must not skip silently.
/// * When the binaries exist but the server fails to start (with the server
///   log), or `DATABASE_URL` is unusable: a real error is never skipped.
#[must_use]
pub fn postgres_or_skip() -> Option<&'static PgServer> {
    match postgres() {
        Ok(Some(server)) => Some(server),
        Ok(None) => skipped(),
        Err(error) => panic!("PostgreSQL for tests is unavailable: {error}"),
    }
}

/// A server of the test's own ([`PgServer::start`]), or `None` (after the
/// same loud notice as [`postgres_or_skip`]) when PostgreSQL is unavailable.
///
/// # Panics
///
/// As [`postgres_or_skip`]: when PostgreSQL is unavailable and `CI` is set,
/// or when the server fails to start.
#[must_use]
pub fn own_postgres_or_skip() -> Option<PgServer> {
    match PgServer::start() {
        Ok(Some(server)) => Some(server),
        Ok(None) => skipped(),
        Err(error) => panic!("PostgreSQL for tests is unavailable: {error}"),
    }
}

/// The skip of a test that needs PostgreSQL where there is none: `None`
/// after a notice on the real stderr (once a process), a panic under `CI`.
fn skipped<T>() -> Option<T> {
    let message = format!(
        "POSTGRESQL TESTS SKIPPED: no PostgreSQL binaries found (looked in {}). \
         Set DATABASE_URL or install postgresql.",
        bin::SEARCHED
    );
    if std::env::var_os("CI").is_some_and(|ci| !ci.is_empty()) {
        panic!("{message} (CI is set, so this is an error)");
    }
    static NOTICE: Once = Once::new();
    NOTICE.call_once(|| {
        let line = "*".repeat(78);
        // Written to the real stderr, bypassing the test harness's
        // output capture, so the skip is visible even when tests pass.
        let _ = writeln!(std::io::stderr().lock(), "\n{line}\n* {message}\n{line}\n");
    });
    None
}
