//! A fresh database of either backend per test, and a raw connection to it.

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sql_types::Text;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use tempfile::TempDir;

use crate::TestDatabase;

/// A fresh, empty database of one backend, deleted when dropped: a new
/// SQLite file in a new temporary directory, or a new database on the
/// shared PostgreSQL server ([`crate::postgres_or_skip`]).
///
/// Setup failures panic with a message: this is test support.
#[derive(Debug)]
pub struct TestDb {
    /// `sqlite` or `postgres`, for assertion messages.
    pub label: &'static str,
    /// The URL to open a store on (`sqlite://…` or `postgres://…`).
    pub url: String,
    _keep: Keep,
}

/// Keeps the database alive: the temporary directory or the PostgreSQL database.
#[derive(Debug)]
enum Keep {
    Sqlite(#[expect(dead_code, reason = "held for its Drop")] TempDir),
    Postgres(#[expect(dead_code, reason = "held for its Drop")] TestDatabase),
}

impl TestDb {
    /// A new SQLite file (`switchboard.db`) in a new temporary directory.
    ///
    /// # Panics
    ///
    /// When no temporary directory can be created.
    #[must_use]
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        let path = dir.path().join("switchboard.db");
        Self {
            label: "sqlite",
            url: format!("sqlite://{}", path.display()),
            _keep: Keep::Sqlite(dir),
        }
    }

    /// A new PostgreSQL database, or `None` (after a loud notice) when
    /// PostgreSQL is unavailable outside CI. Blocks while the shared server
    /// starts; from async code, call it on a blocking thread.
    ///
    /// # Panics
    ///
    /// As [`crate::postgres_or_skip`], and when the database cannot be created.
    #[must_use]
    pub fn postgres() -> Option<Self> {
        let server = crate::postgres_or_skip()?;
        let db = server
            .create_database()
            .unwrap_or_else(|e| panic!("cannot create a PostgreSQL test database: {e}"));
        Some(Self {
            label: "postgres",
            url: db.url().to_string(),
            _keep: Keep::Postgres(db),
        })
    }

    /// One fresh database per available backend: SQLite, then PostgreSQL.
    #[must_use]
    pub fn all() -> Vec<Self> {
        std::iter::once(Self::sqlite())
            .chain(Self::postgres())
            .collect()
    }

    /// Whether this is the SQLite database.
    #[must_use]
    pub const fn is_sqlite(&self) -> bool {
        matches!(self._keep, Keep::Sqlite(_))
    }

    /// A plain Diesel connection to the same database, outside any store:
    /// for catalog queries and for sabotage.
    ///
    /// # Panics
    ///
    /// When the database cannot be reached.
    #[must_use]
    pub fn raw(&self) -> RawConnection {
        RawConnection::open(&self.url)
    }
}

/// A raw connection of either backend; see [`TestDb::raw`].
#[expect(
    missing_debug_implementations,
    reason = "Diesel's connections are not Debug"
)]
pub enum RawConnection {
    /// SQLite.
    Sqlite(SqliteConnection),
    /// PostgreSQL.
    Pg(PgConnection),
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

impl RawConnection {
    /// A plain Diesel connection to `url` (`sqlite://PATH` or
    /// `postgres://…`), for a database a test made some other way (a
    /// command's `--database-url`).
    ///
    /// # Panics
    ///
    /// When the database cannot be reached.
    #[must_use]
    pub fn open(url: &str) -> Self {
        match url.strip_prefix("sqlite://") {
            Some(path) => {
                let mut c = SqliteConnection::establish(path)
                    .unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
                // A store dropped just before may still be closing its
                // connections: wait for their locks instead of failing.
                c.batch_execute("PRAGMA busy_timeout = 10000")
                    .unwrap_or_else(|e| panic!("cannot set busy_timeout on {path}: {e}"));
                Self::Sqlite(c)
            }
            None => Self::Pg(
                PgConnection::establish(url)
                    .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}")),
            ),
        }
    }

    /// Runs a query returning one text column named `line`: `sqlite` on
    /// SQLite, `postgres` on PostgreSQL.
    ///
    /// # Panics
    ///
    /// When the query fails.
    pub fn lines(&mut self, sqlite: &str, postgres: &str) -> Vec<String> {
        let rows: Result<Vec<Line>, _> = match self {
            Self::Sqlite(c) => diesel::sql_query(sqlite).load(c),
            Self::Pg(c) => diesel::sql_query(postgres).load(c),
        };
        rows.unwrap_or_else(|e| panic!("query failed: {e}"))
            .into_iter()
            .map(|r| r.line)
            .collect()
    }

    /// Runs statements that work on both backends.
    ///
    /// # Panics
    ///
    /// When they fail.
    pub fn execute(&mut self, sql: &str) {
        let done = match self {
            Self::Sqlite(c) => c.batch_execute(sql),
            Self::Pg(c) => c.batch_execute(sql),
        };
        done.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}
