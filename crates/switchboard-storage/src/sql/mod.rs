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
/// Writes `items` once for each backend, with `DB` naming it: the
/// hand-written statements of the write path (`updates`, `record`) have
/// one text for both, each backend writing its own placeholders, and are
/// implemented for the two concrete backends rather than for any `DB`
/// with a long list of `ToSql` bounds.
macro_rules! for_each_backend {
    ($($item:item)*) => {
        const _: () = {
            type DB = diesel::pg::Pg;
            $($item)*
        };
        const _: () = {
            type DB = diesel::sqlite::Sqlite;
            $($item)*
        };
    };
}

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
pub(crate) mod updates;

use crate::StorageError;

/// The result of a query function.
pub(crate) type R<T> = Result<T, StorageError>;
