//! The queries: ordinary functions over
//! [`DbConnection`](crate::connection::DbConnection), one module per
//! area, every finder scoped to a tenant.
//!
//! Each query is written once and runs on either backend. A function
//! matches on the connection's variant only where the SQL truly differs:
//! row locks (`FOR UPDATE`, `FOR KEY SHARE`) and `SKIP LOCKED`, which
//! PostgreSQL needs for concurrent writers and SQLite's single writer does
//! not; PostgreSQL's single-statement write of an update with its outbox
//! and history rows; and multi-row inserts. The hot path of a modify (the
//! row read and the write) also runs on the inner connection, which skips
//! the multi-backend layer's re-serialization of each statement.
//!
//! Lookups by a unique key use `get_result`, never `first`: `first` binds
//! `LIMIT ?`, and SQLite (3.4x and later) lets a bound LIMIT shape the query
//! plan, so re-binding it expires the cached statement and every execution
//! would be parsed and planned again.

pub(crate) mod console;
pub(crate) mod conversations;
pub(crate) mod counts;
pub(crate) mod customers;
pub(crate) mod deliveries;
pub(crate) mod directory;
pub(crate) mod nodes;
pub(crate) mod outbox;
pub(crate) mod query;
pub(crate) mod record;
pub(crate) mod retention;
pub(crate) mod subscriptions;
pub(crate) mod tenants;

use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

use crate::StorageError;

/// The result of a query function.
pub(crate) type R<T> = Result<T, StorageError>;

/// `UPDATE <table> SET <changes> WHERE <filter>`, the statement
/// `diesel::update(table.filter(filter)).set(changes)` builds, but one whose
/// prepared statement Diesel may cache. Diesel never caches its own UPDATE
/// statements (a changeset's `None` fields change the SQL), so each one was
/// parsed again, and on PostgreSQL planned again; this one is cached under
/// its SQL text: one statement per set of changed columns.
#[derive(Debug)]
pub(crate) struct CachedUpdate<From, Filter, Changes> {
    from: From,
    filter: Filter,
    changes: Changes,
}

impl<From, Filter, Changes> CachedUpdate<From, Filter, Changes> {
    pub(crate) fn new<T, C>(table: T, filter: Filter, changes: C) -> Self
    where
        T: diesel::QuerySource<FromClause = From>,
        C: diesel::AsChangeset<Target = T, Changeset = Changes>,
    {
        Self {
            from: table.from_clause(),
            filter,
            changes: changes.as_changeset(),
        }
    }
}

/// Not a static query id: the statement cache keys it by its SQL text.
impl<From, Filter, Changes> QueryId for CachedUpdate<From, Filter, Changes> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB, From, Filter, Changes> QueryFragment<DB> for CachedUpdate<From, Filter, Changes>
where
    DB: diesel::backend::Backend,
    From: QueryFragment<DB>,
    Filter: QueryFragment<DB>,
    Changes: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE ");
        self.from.walk_ast(out.reborrow())?;
        out.push_sql(" SET ");
        self.changes.walk_ast(out.reborrow())?;
        out.push_sql(" WHERE ");
        self.filter.walk_ast(out.reborrow())
    }
}

impl<From, Filter, Changes, C: diesel::Connection> RunQueryDsl<C>
    for CachedUpdate<From, Filter, Changes>
{
}
