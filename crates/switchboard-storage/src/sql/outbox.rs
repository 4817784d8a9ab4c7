//! The transactional outbox: events committed with the writes that caused
//! them, taken by the webhook worker.

use diesel::prelude::*;
use switchboard_domain::EntityKind;

use super::R;
use crate::connection::DbConnection;
use crate::json_column::JsonValue;
use crate::rows::OutboxRow;
use crate::schema::outbox;

/// Takes up to `limit` due outbox rows, oldest first, and marks them
/// processed by `worker` at `now`, in one statement: `UPDATE outbox SET
/// processed_at = now … WHERE id IN (SELECT id … ORDER BY id LIMIT n [FOR
/// UPDATE SKIP LOCKED]) RETURNING …`. On PostgreSQL concurrent takers skip
/// each other's rows; on SQLite the single writer serializes them. Must run
/// inside the write transaction that fans the rows out, so that a failure
/// rolls the marking back. Returns the rows in id order.
pub(crate) fn take_due(
    c: &mut DbConnection,
    worker: &str,
    now: i64,
    limit: i64,
) -> R<Vec<OutboxRow>> {
    // The subquery reads the same table under another name: the ids of
    // up to `limit` unprocessed rows available at `now`, oldest first.
    let pending = diesel::alias!(outbox as pending);
    let due = pending
        .select(pending.field(outbox::id))
        .filter(pending.field(outbox::processed_at).is_null())
        .filter(pending.field(outbox::available_at).le(now))
        .order(pending.field(outbox::id))
        .limit(limit);
    let marked = (outbox::processed_at.eq(now), outbox::claimed_by.eq(worker));
    let mut rows: Vec<OutboxRow> = match c {
        DbConnection::Pg(c) => {
            diesel::update(outbox::table.filter(outbox::id.eq_any(due.for_update().skip_locked())))
                .set(marked)
                .returning(OutboxRow::as_returning())
                .get_results(c)?
        }
        DbConnection::Sqlite(c) => diesel::update(outbox::table.filter(outbox::id.eq_any(due)))
            .set(marked)
            .returning(OutboxRow::as_returning())
            .get_results(c)?,
    };
    // RETURNING follows no particular order.
    rows.sort_unstable_by_key(|r| r.id);
    Ok(rows)
}

/// Every outbox row of one entity, oldest first.
pub(crate) fn of_entity(
    c: &mut DbConnection,
    tenant: i64,
    kind: EntityKind,
    id: i64,
) -> R<Vec<OutboxRow>> {
    Ok(outbox::table
        .filter(outbox::tenant_id.eq(tenant))
        .filter(outbox::entity_kind.eq(kind.as_str()))
        .filter(outbox::entity_id.eq(id))
        .order(outbox::id)
        .select(OutboxRow::as_select())
        .load(c)?)
}

/// How many rows are not processed yet.
pub(crate) fn backlog(c: &mut DbConnection) -> R<i64> {
    Ok(outbox::table
        .filter(outbox::processed_at.is_null())
        .count()
        .get_result(c)?)
}

/// The newest payloads of one event type of the tenant.
pub(crate) fn recent_payloads(
    c: &mut DbConnection,
    tenant: i64,
    event: &str,
    limit: i64,
) -> R<Vec<JsonValue>> {
    Ok(outbox::table
        .filter(outbox::tenant_id.eq(tenant))
        .filter(outbox::event_type.eq(event))
        .order(outbox::id.desc())
        .limit(limit)
        .select(outbox::payload)
        .load(c)?)
}
