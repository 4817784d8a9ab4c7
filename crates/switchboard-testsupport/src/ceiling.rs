//! The database's own write ceiling: the transaction one conversation update
//! needs, sent on a bare Diesel connection with nothing of ours around it.
//!
//! A [`CeilingWrite`] is one transaction of two statements: a single-row
//! `UPDATE conversations` (new document, `updated_at`, `version + 1`) and one
//! `INSERT INTO outbox` (`conversation_updated` with a precomputed payload
//! and diff). That is the least any implementation of an audited, evented
//! update has to write, so the time it takes is the floor our store is
//! measured against (the storage bench and the load benchmark both use it).
//!
//! * SQLite: the store's pragmas (`busy_timeout = 5000`, WAL, the given
//!   [`Synchronous`], `foreign_keys = ON`) and `BEGIN IMMEDIATE`, as the store
//!   writes.
//! * PostgreSQL: `BEGIN`, `UPDATE`, `INSERT`, `COMMIT`, with the server's
//!   own durability settings (see [`Bare::durability`]).
//!
//! ```no_run
//! use switchboard_testsupport::ceiling::{Bare, CeilingWrite, Synchronous};
//!
//! # fn main() -> Result<(), switchboard_testsupport::ceiling::CeilingError> {
//! let mut bare = Bare::open("sqlite:///tmp/bench.db", Synchronous::Full)?;
//! let (id, doc) = bare.conversation_docs(1)?.swap_remove(0);
//! bare.write(
//!     &CeilingWrite { tenant: 1, id, doc: &doc, payload: "{}", diff: "[]", at_ms: 0 },
//!     true,
//! )?;
//! # Ok(())
//! # }
//! ```

use std::fmt;

use diesel::backend::Backend;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, Text};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryResult, QueryableByName, RunQueryDsl};

/// What can go wrong on a bare connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CeilingError {
    /// The URL names neither SQLite nor PostgreSQL.
    #[error("unsupported database URL {0:?}: use sqlite://, sqlite:, a plain path, or postgres://")]
    Url(String),
    /// The connection could not be established.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The database URL (as given).
        url: String,
        /// Diesel's error.
        #[source]
        source: diesel::ConnectionError,
    },
    /// A statement failed.
    #[error("{context}: {source}")]
    Query {
        /// What was being done.
        context: &'static str,
        /// Diesel's error.
        #[source]
        source: diesel::result::Error,
    },
}

impl CeilingError {
    fn query(context: &'static str) -> impl FnOnce(diesel::result::Error) -> Self {
        move |source| Self::Query { context, source }
    }
}

/// SQLite's `synchronous` setting for [`Bare::open`] (ignored on PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// `PRAGMA synchronous = FULL`: every commit waits for an fsync of the WAL.
    #[default]
    Full,
    /// `PRAGMA synchronous = NORMAL`: no fsync per commit in WAL mode.
    Normal,
}

impl Synchronous {
    /// The pragma's value (`FULL` or `NORMAL`).
    #[must_use]
    pub const fn pragma(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

/// One ceiling transaction: the row to update and what to write.
#[derive(Debug, Clone, Copy)]
pub struct CeilingWrite<'a> {
    /// `conversations.tenant_id` (and the outbox row's tenant).
    pub tenant: i64,
    /// `conversations.id` (and the outbox row's `entity_id`).
    pub id: i64,
    /// The new document (JSON text).
    pub doc: &'a str,
    /// The outbox payload (JSON text).
    pub payload: &'a str,
    /// The outbox diff (JSON text, a JSON Patch).
    pub diff: &'a str,
    /// The time written to `updated_at`, `created_at` and `available_at`, in
    /// milliseconds since the Unix epoch.
    pub at_ms: i64,
}

/// Totals of one tenant, to check that ceiling transactions were written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Rows in `outbox`.
    pub outbox_rows: i64,
    /// The sum of `conversations.version`.
    pub version_sum: i64,
}

/// A bare connection to either backend: no pool, no store, no instrumentation
/// of ours (Diesel's default instrumentation, if one is set, does apply).
pub struct Bare {
    conn: Conn,
}

enum Conn {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

impl fmt::Debug for Bare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = match self.conn {
            Conn::Sqlite(_) => "sqlite",
            Conn::Pg(_) => "postgres",
        };
        f.debug_struct("Bare").field("backend", &backend).finish()
    }
}

const SQLITE_UPDATE: &str = "UPDATE conversations SET doc = ?, updated_at = ?, version = version + 1 \
     WHERE tenant_id = ? AND id = ?";
const SQLITE_INSERT: &str = "INSERT INTO outbox (tenant_id, event_type, entity_kind, entity_id, version_before, \
     version_after, payload, diff, created_at, available_at) \
     VALUES (?, 'conversation_updated', 'conversation', ?, NULL, NULL, ?, ?, ?, ?)";
const PG_UPDATE: &str = "UPDATE conversations SET doc = $1::jsonb, updated_at = $2, version = version + 1 \
     WHERE tenant_id = $3 AND id = $4";
const PG_INSERT: &str = "INSERT INTO outbox (tenant_id, event_type, entity_kind, entity_id, version_before, \
     version_after, payload, diff, created_at, available_at) \
     VALUES ($1, 'conversation_updated', 'conversation', $2, NULL, NULL, $3::json, $4::json, $5, $6)";

/// A bind value of [`Cached`].
enum Arg<'a> {
    Text(&'a str),
    Int(i64),
}

/// One of the SQL constants above with its binds, as a statement Diesel
/// prepares once and caches under its SQL text (`diesel::sql_query` is never
/// cached, so its statements are parsed again on every call). Each
/// placeholder (`?`, or `$n` in order) becomes Diesel's bind of the next
/// argument.
struct Cached<'s, 'a> {
    sql: &'static str,
    args: &'s [Arg<'a>],
}

impl QueryId for Cached<'_, '_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB> QueryFragment<DB> for Cached<'_, '_>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<BigInt>,
    str: ToSql<Text, DB>,
    i64: ToSql<BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        let mut args = self.args.iter();
        let mut rest = self.sql;
        while let Some(at) = rest.find(['?', '$']) {
            out.push_sql(&rest[..at]);
            let after = &rest[at + 1..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            rest = &after[digits..];
            match args.next() {
                Some(Arg::Text(text)) => out.push_bind_param::<Text, str>(text)?,
                Some(Arg::Int(n)) => out.push_bind_param::<BigInt, i64>(n)?,
                None => {
                    return Err(diesel::result::Error::QueryBuilderError(
                        format!("fewer binds than placeholders in {:?}", self.sql).into(),
                    ));
                }
            }
        }
        if args.next().is_some() {
            return Err(diesel::result::Error::QueryBuilderError(
                format!("more binds than placeholders in {:?}", self.sql).into(),
            ));
        }
        out.push_sql(rest);
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for Cached<'_, '_> {}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = Text)]
    setting: String,
}

#[derive(QueryableByName)]
struct DocRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    doc: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct CountsRow {
    #[diesel(sql_type = BigInt)]
    outbox_rows: i64,
    #[diesel(sql_type = BigInt)]
    version_sum: i64,
}

impl Bare {
    /// Connects to `url`: `postgres://…`/`postgresql://…`, or an SQLite
    /// file as `sqlite://path`, `sqlite:path` or a plain path (the store's
    /// URL forms). SQLite gets the store's pragmas with `synchronous`.
    ///
    /// # Errors
    ///
    /// An unsupported URL scheme, a failed connection, or a failed pragma.
    pub fn open(url: &str, synchronous: Synchronous) -> Result<Self, CeilingError> {
        let connect = |source| CeilingError::Connect {
            url: url.to_owned(),
            source,
        };
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            let conn = PgConnection::establish(url).map_err(connect)?;
            return Ok(Self {
                conn: Conn::Pg(conn),
            });
        }
        let path = match url.strip_prefix("sqlite://") {
            Some(path) => path,
            None => match url.strip_prefix("sqlite:") {
                Some(path) => path,
                None if lower.contains("://") || url.is_empty() => {
                    return Err(CeilingError::Url(url.to_owned()));
                }
                None => url,
            },
        };
        let mut conn = SqliteConnection::establish(path).map_err(connect)?;
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = {}; PRAGMA foreign_keys = ON;",
            synchronous.pragma()
        ))
        .map_err(CeilingError::query("setting the SQLite pragmas"))?;
        Ok(Self {
            conn: Conn::Sqlite(conn),
        })
    }

    /// Whether this is an SQLite connection.
    #[must_use]
    pub fn is_sqlite(&self) -> bool {
        matches!(self.conn, Conn::Sqlite(_))
    }

    /// The durability settings in force, for reports: `synchronous=FULL`
    /// on SQLite; `fsync=on full_page_writes=on synchronous_commit=on` on
    /// PostgreSQL.
    ///
    /// # Errors
    ///
    /// When the settings cannot be read.
    pub fn durability(&mut self) -> Result<String, CeilingError> {
        let context = "reading the durability settings";
        match &mut self.conn {
            Conn::Sqlite(c) => {
                let rows: Vec<Setting> = diesel::sql_query(
                    "SELECT CASE synchronous WHEN 2 THEN 'FULL' WHEN 1 THEN 'NORMAL' \
                     ELSE CAST(synchronous AS TEXT) END AS setting FROM pragma_synchronous",
                )
                .load(c)
                .map_err(CeilingError::query(context))?;
                let setting = rows.into_iter().next().map(|r| r.setting);
                Ok(format!("synchronous={}", setting.unwrap_or_default()))
            }
            Conn::Pg(c) => {
                let rows: Vec<Setting> = diesel::sql_query(
                    "SELECT name || '=' || setting AS setting FROM pg_settings \
                     WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes') \
                     ORDER BY name",
                )
                .load(c)
                .map_err(CeilingError::query(context))?;
                Ok(rows
                    .into_iter()
                    .map(|r| r.setting)
                    .collect::<Vec<_>>()
                    .join(" "))
            }
        }
    }

    /// One ceiling transaction (see the [module](self) documentation). With
    /// `prepared`, both statements are prepared once and cached by Diesel;
    /// without, they go through `diesel::sql_query` and are parsed on every
    /// call.
    ///
    /// A row that does not exist is not an error (the `UPDATE` changes
    /// nothing); the outbox row is written regardless.
    ///
    /// # Errors
    ///
    /// When a statement or the commit fails; the transaction is rolled back.
    pub fn write(&mut self, w: &CeilingWrite<'_>, prepared: bool) -> Result<(), CeilingError> {
        let update_args = [
            Arg::Text(w.doc),
            Arg::Int(w.at_ms),
            Arg::Int(w.tenant),
            Arg::Int(w.id),
        ];
        let insert_args = [
            Arg::Int(w.tenant),
            Arg::Int(w.id),
            Arg::Text(w.payload),
            Arg::Text(w.diff),
            Arg::Int(w.at_ms),
            Arg::Int(w.at_ms),
        ];
        // The same body for both backends, which differ in how the
        // transaction begins and in their placeholders.
        macro_rules! transaction {
            ($conn:expr, $begin:ident, $update:expr, $insert:expr) => {
                $conn.$begin(|c| {
                    if prepared {
                        Cached {
                            sql: $update,
                            args: &update_args,
                        }
                        .execute(c)?;
                        Cached {
                            sql: $insert,
                            args: &insert_args,
                        }
                        .execute(c)?;
                    } else {
                        diesel::sql_query($update)
                            .bind::<Text, _>(w.doc)
                            .bind::<BigInt, _>(w.at_ms)
                            .bind::<BigInt, _>(w.tenant)
                            .bind::<BigInt, _>(w.id)
                            .execute(c)?;
                        diesel::sql_query($insert)
                            .bind::<BigInt, _>(w.tenant)
                            .bind::<BigInt, _>(w.id)
                            .bind::<Text, _>(w.payload)
                            .bind::<Text, _>(w.diff)
                            .bind::<BigInt, _>(w.at_ms)
                            .bind::<BigInt, _>(w.at_ms)
                            .execute(c)?;
                    }
                    Ok::<_, diesel::result::Error>(())
                })
            };
        }
        match &mut self.conn {
            Conn::Sqlite(c) => {
                transaction!(c, immediate_transaction, SQLITE_UPDATE, SQLITE_INSERT)
            }
            Conn::Pg(c) => transaction!(c, transaction, PG_UPDATE, PG_INSERT),
        }
        .map_err(CeilingError::query("a ceiling transaction"))
    }

    /// The tenant's conversations as `(id, document JSON)`, by id. On
    /// PostgreSQL the document is `jsonb`'s text form (`{"a": 1, …}`).
    ///
    /// # Errors
    ///
    /// When the query fails.
    pub fn conversation_docs(&mut self, tenant: i64) -> Result<Vec<(i64, String)>, CeilingError> {
        let context = "reading the conversations";
        let rows: Vec<DocRow> = match &mut self.conn {
            Conn::Sqlite(c) => diesel::sql_query(
                "SELECT id, doc FROM conversations WHERE tenant_id = ? ORDER BY id",
            )
            .bind::<BigInt, _>(tenant)
            .load(c),
            Conn::Pg(c) => diesel::sql_query(
                "SELECT id, doc::text AS doc FROM conversations WHERE tenant_id = $1 ORDER BY id",
            )
            .bind::<BigInt, _>(tenant)
            .load(c),
        }
        .map_err(CeilingError::query(context))?;
        Ok(rows.into_iter().map(|r| (r.id, r.doc)).collect())
    }

    /// The tenant's name (`company_username` in event payloads), if the
    /// tenant exists.
    ///
    /// # Errors
    ///
    /// When the query fails.
    pub fn tenant_name(&mut self, tenant: i64) -> Result<Option<String>, CeilingError> {
        let context = "reading the tenant";
        let rows: Vec<Setting> = match &mut self.conn {
            Conn::Sqlite(c) => {
                diesel::sql_query("SELECT name AS setting FROM tenants WHERE id = ?")
                    .bind::<BigInt, _>(tenant)
                    .load(c)
            }
            Conn::Pg(c) => diesel::sql_query("SELECT name AS setting FROM tenants WHERE id = $1")
                .bind::<BigInt, _>(tenant)
                .load(c),
        }
        .map_err(CeilingError::query(context))?;
        Ok(rows.into_iter().next().map(|r| r.setting))
    }

    /// Marks every unprocessed outbox event processed and returns how many
    /// there were. A benchmark calls it after seeding and after a ceiling
    /// run, so the server under test does not inherit their events as a
    /// delivery backlog.
    ///
    /// # Errors
    ///
    /// When the update fails.
    pub fn settle_outbox(&mut self, at_ms: i64) -> Result<usize, CeilingError> {
        let context = "marking outbox events processed";
        match &mut self.conn {
            Conn::Sqlite(c) => {
                diesel::sql_query("UPDATE outbox SET processed_at = ? WHERE processed_at IS NULL")
                    .bind::<BigInt, _>(at_ms)
                    .execute(c)
            }
            Conn::Pg(c) => {
                diesel::sql_query("UPDATE outbox SET processed_at = $1 WHERE processed_at IS NULL")
                    .bind::<BigInt, _>(at_ms)
                    .execute(c)
            }
        }
        .map_err(CeilingError::query(context))
    }

    /// PostgreSQL: leaves up to `segments` WAL segment files ready for
    /// reuse ahead of the write position, as on a cluster that has been
    /// through a checkpoint cycle, and returns how many there are (`None`
    /// on SQLite). PostgreSQL recycles at most `max_wal_size` of them (63
    /// of 64 asked at its default of 1 GB).
    ///
    /// A brand-new cluster has no such files: each time its WAL reaches the
    /// end of a segment, the committing backend creates the next 16 MB file
    /// and fills it with zeros (`wal_init_zero`) while every other commit
    /// waits. A cluster that has checkpointed renames old segments into
    /// future ones instead. This writes `segments` segments (one small
    /// message and a switch each; the files are created here, once) and
    /// checkpoints, so that they are recycled. Needs the rights to switch
    /// the WAL and to checkpoint (a superuser: the benchmark's own cluster).
    ///
    /// # Errors
    ///
    /// When a statement fails.
    pub fn ready_wal(&mut self, segments: u32) -> Result<Option<i64>, CeilingError> {
        let Conn::Pg(c) = &mut self.conn else {
            return Ok(None);
        };
        // One round trip: a switch at the very start of a segment is a
        // no-op, so each follows a (non-transactional) record of its own.
        c.batch_execute(&format!(
            "DO $$ BEGIN FOR i IN 1..{segments} LOOP \
             PERFORM pg_logical_emit_message(false, 'switchboard-loadgen', 'ready_wal'); \
             PERFORM pg_switch_wal(); END LOOP; END $$"
        ))
        .map_err(CeilingError::query("writing WAL segments"))?;
        c.batch_execute("CHECKPOINT")
            .map_err(CeilingError::query("checkpointing"))?;
        let rows: Vec<Count> = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_ls_waldir() \
             WHERE name ~ '^[0-9A-F]{24}$' AND name > pg_walfile_name(pg_current_wal_lsn())",
        )
        .load(c)
        .map_err(CeilingError::query("counting the WAL segments ready"))?;
        Ok(Some(rows.first().map_or(0, |r| r.n)))
    }

    /// The tenant's outbox rows and the sum of its conversation versions:
    /// after `n` ceiling transactions both have grown by `n`.
    ///
    /// # Errors
    ///
    /// When the query fails.
    pub fn counts(&mut self, tenant: i64) -> Result<Counts, CeilingError> {
        let context = "counting outbox rows and versions";
        let rows: Vec<CountsRow> = match &mut self.conn {
            Conn::Sqlite(c) => diesel::sql_query(
                "SELECT (SELECT COUNT(*) FROM outbox WHERE tenant_id = ?1) AS outbox_rows, \
                 (SELECT COALESCE(SUM(version), 0) FROM conversations WHERE tenant_id = ?1) \
                 AS version_sum",
            )
            .bind::<BigInt, _>(tenant)
            .load(c),
            Conn::Pg(c) => diesel::sql_query(
                "SELECT (SELECT COUNT(*) FROM outbox WHERE tenant_id = $1) AS outbox_rows, \
                 (SELECT COALESCE(SUM(version), 0)::bigint FROM conversations \
                 WHERE tenant_id = $1) AS version_sum",
            )
            .bind::<BigInt, _>(tenant)
            .load(c),
        }
        .map_err(CeilingError::query(context))?;
        Ok(rows
            .into_iter()
            .next()
            .map(|r| Counts {
                outbox_rows: r.outbox_rows,
                version_sum: r.version_sum,
            })
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn schema(bare: &mut Bare) {
        let Conn::Sqlite(c) = &mut bare.conn else {
            panic!("SQLite expected");
        };
        // The columns the ceiling touches, as in migrations/sqlite.
        c.batch_execute(
            "CREATE TABLE tenants (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
             CREATE TABLE conversations (id INTEGER PRIMARY KEY,
                 tenant_id BIGINT NOT NULL REFERENCES tenants(id), doc TEXT NOT NULL,
                 updated_at BIGINT NOT NULL, version BIGINT NOT NULL);
             CREATE TABLE outbox (id INTEGER PRIMARY KEY,
                 tenant_id BIGINT NOT NULL REFERENCES tenants(id), event_type TEXT NOT NULL,
                 entity_kind TEXT NOT NULL, entity_id BIGINT NOT NULL, version_before BIGINT,
                 version_after BIGINT, payload TEXT NOT NULL, diff TEXT NOT NULL,
                 created_at BIGINT NOT NULL, available_at BIGINT NOT NULL);
             INSERT INTO tenants VALUES (7, 'acme');
             INSERT INTO conversations VALUES (1, 7, '{\"rank\":0}', 0, 1), (2, 7, '{}', 0, 1);",
        )
        .unwrap();
    }

    #[test]
    fn writes_one_update_and_one_outbox_row_per_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let mut bare = Bare::open(&url, Synchronous::Normal).unwrap();
        schema(&mut bare);
        assert!(bare.is_sqlite());
        assert_eq!(bare.durability().unwrap(), "synchronous=NORMAL");
        assert_eq!(bare.tenant_name(7).unwrap().as_deref(), Some("acme"));
        assert_eq!(bare.tenant_name(8).unwrap(), None);
        for prepared in [false, true, true] {
            let w = CeilingWrite {
                tenant: 7,
                id: 1,
                doc: r#"{"rank":5}"#,
                payload: "{}",
                diff: "[]",
                at_ms: 42,
            };
            bare.write(&w, prepared).unwrap();
        }
        assert_eq!(
            bare.counts(7).unwrap(),
            Counts {
                outbox_rows: 3,
                version_sum: 5
            }
        );
        assert_eq!(
            bare.conversation_docs(7).unwrap(),
            vec![(1, r#"{"rank":5}"#.to_owned()), (2, "{}".to_owned())]
        );
        assert_eq!(bare.counts(8).unwrap(), Counts::default());
    }

    #[test]
    fn opens_the_store_url_forms_and_rejects_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("forms.db");
        for url in [
            format!("sqlite://{}", path.display()),
            format!("sqlite:{}", path.display()),
            path.display().to_string(),
        ] {
            let mut bare = Bare::open(&url, Synchronous::Full).unwrap();
            assert_eq!(bare.durability().unwrap(), "synchronous=FULL", "{url}");
        }
        for url in ["mysql://x/y", ""] {
            assert!(matches!(
                Bare::open(url, Synchronous::Full),
                Err(CeilingError::Url(_))
            ));
        }
    }

    #[test]
    fn cached_statements_bind_each_placeholder_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut bare = Bare::open(
            &dir.path().join("binds.db").display().to_string(),
            Synchronous::Normal,
        )
        .unwrap();
        let Conn::Sqlite(c) = &mut bare.conn else {
            panic!("SQLite expected");
        };
        c.batch_execute("CREATE TABLE t (a TEXT, b BIGINT)")
            .unwrap();
        let insert = |c: &mut SqliteConnection, args: &[Arg<'_>]| {
            Cached {
                sql: "INSERT INTO t VALUES (?, ?)",
                args,
            }
            .execute(c)
        };
        assert_eq!(insert(c, &[Arg::Text("x"), Arg::Int(1)]).unwrap(), 1);
        assert!(insert(c, &[Arg::Text("x")]).is_err());
        assert!(insert(c, &[Arg::Text("x"), Arg::Int(1), Arg::Int(2)]).is_err());
    }
}
