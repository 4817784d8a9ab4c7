//! Retention: finding and deleting rows old enough to go.
//!
//! Each kind of row is scanned in id order (by primary key, from a cursor),
//! which is also the order rows were written in; the scan stops at the
//! first row written after the cutoff. The rows that may go are deleted by
//! id in a short write transaction that checks every condition again (on
//! PostgreSQL under `FOR UPDATE SKIP LOCKED`, so it never waits for a
//! writer and a row changed meanwhile is left alone).
//!
//! The newest row of a table is never deleted: SQLite gives a new row the
//! highest id plus one, so deleting the newest would hand its id out again
//! (these tables are not AUTOINCREMENT).

use std::collections::HashSet;

use diesel::prelude::*;

use super::R;
use crate::connection::DbConnection;
use crate::schema::{change_history, deliveries, delivery_attempts, outbox};

/// The next `limit` change-history rows after id `after`: `(id, created_at)`.
pub(crate) fn history_after(c: &mut DbConnection, after: i64, limit: i64) -> R<Vec<(i64, i64)>> {
    Ok(change_history::table
        .filter(change_history::id.gt(after))
        .order(change_history::id)
        .limit(limit)
        .select((change_history::id, change_history::created_at))
        .load(c)?)
}

/// Deletes those of `ids` written before `cutoff`, except the newest row.
pub(crate) fn delete_history(c: &mut DbConnection, ids: &[i64], cutoff: i64) -> R<usize> {
    let newest: Option<i64> = change_history::table
        .select(diesel::dsl::max(change_history::id))
        .get_result(c)?;
    Ok(diesel::delete(
        change_history::table
            .filter(change_history::id.eq_any(ids))
            .filter(change_history::created_at.lt(cutoff))
            .filter(change_history::id.lt(newest.unwrap_or(0))),
    )
    .execute(c)?)
}

/// A delivery as retention sees it.
pub(crate) struct DeliveryAge {
    pub id: i64,
    pub state: String,
    pub created_at: i64,
    pub completed_at: Option<i64>,
}

/// The next `limit` deliveries after id `after`.
pub(crate) fn deliveries_after(
    c: &mut DbConnection,
    after: i64,
    limit: i64,
) -> R<Vec<DeliveryAge>> {
    let rows: Vec<(i64, String, i64, Option<i64>)> = deliveries::table
        .filter(deliveries::id.gt(after))
        .order(deliveries::id)
        .limit(limit)
        .select((
            deliveries::id,
            deliveries::state,
            deliveries::created_at,
            deliveries::completed_at,
        ))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(id, state, created_at, completed_at)| DeliveryAge {
            id,
            state,
            created_at,
            completed_at,
        })
        .collect())
}

/// Deletes those of `ids` that are finished (not pending) and were
/// completed before `cutoff`, with their attempts; never the newest
/// delivery, nor the one the newest attempt belongs to. Returns
/// `(deliveries, attempts)` deleted.
pub(crate) fn delete_deliveries(
    c: &mut DbConnection,
    ids: &[i64],
    cutoff: i64,
) -> R<(usize, usize)> {
    let newest: Option<i64> = deliveries::table
        .select(diesel::dsl::max(deliveries::id))
        .get_result(c)?;
    let newest_attempt_of: Option<i64> = delivery_attempts::table
        .order(delivery_attempts::id.desc())
        .select(delivery_attempts::delivery_id)
        .first(c)
        .optional()?;
    let finished = deliveries::table
        .filter(deliveries::id.eq_any(ids))
        .filter(deliveries::state.ne("pending"))
        .filter(deliveries::completed_at.lt(cutoff))
        .filter(deliveries::id.lt(newest.unwrap_or(0)))
        .filter(deliveries::id.ne(newest_attempt_of.unwrap_or(0)))
        .select(deliveries::id);
    let ids: Vec<i64> = match c {
        DbConnection::Pg(c) => finished.for_update().skip_locked().load(c)?,
        DbConnection::Sqlite(c) => finished.load(c)?,
    };
    if ids.is_empty() {
        return Ok((0, 0));
    }
    let attempts = diesel::delete(
        delivery_attempts::table.filter(delivery_attempts::delivery_id.eq_any(&ids)),
    )
    .execute(c)?;
    let deleted =
        diesel::delete(deliveries::table.filter(deliveries::id.eq_any(&ids))).execute(c)?;
    Ok((deleted, attempts))
}

/// An outbox row as retention sees it.
pub(crate) struct EventAge {
    pub id: i64,
    pub created_at: i64,
    pub processed_at: Option<i64>,
}

/// The next `limit` outbox rows after id `after`.
pub(crate) fn events_after(c: &mut DbConnection, after: i64, limit: i64) -> R<Vec<EventAge>> {
    let rows: Vec<(i64, i64, Option<i64>)> = outbox::table
        .filter(outbox::id.gt(after))
        .order(outbox::id)
        .limit(limit)
        .select((outbox::id, outbox::created_at, outbox::processed_at))
        .load(c)?;
    Ok(rows
        .into_iter()
        .map(|(id, created_at, processed_at)| EventAge {
            id,
            created_at,
            processed_at,
        })
        .collect())
}

/// Deletes those of `ids` that were processed before `cutoff` and have no
/// delivery left (an event stays as long as any of its deliveries), except
/// the newest row. An event not processed yet (pending, or quarantined:
/// those stay unprocessed until requeued) is never deleted.
pub(crate) fn delete_events(c: &mut DbConnection, ids: &[i64], cutoff: i64) -> R<usize> {
    let newest: Option<i64> = outbox::table
        .select(diesel::dsl::max(outbox::id))
        .get_result(c)?;
    let processed = outbox::table
        .filter(outbox::id.eq_any(ids))
        .filter(outbox::processed_at.is_not_null())
        .filter(outbox::processed_at.lt(cutoff))
        .filter(outbox::id.lt(newest.unwrap_or(0)))
        .select(outbox::id);
    let mut ids: Vec<i64> = match c {
        DbConnection::Pg(c) => processed.for_update().skip_locked().load(c)?,
        DbConnection::Sqlite(c) => processed.load(c)?,
    };
    if ids.is_empty() {
        return Ok(0);
    }
    // Deliveries are only ever created with their event's processing, so
    // none can appear for these rows after this read.
    let delivered: HashSet<i64> = deliveries::table
        .filter(deliveries::outbox_id.eq_any(&ids))
        .select(deliveries::outbox_id)
        .distinct()
        .load::<i64>(c)?
        .into_iter()
        .collect();
    ids.retain(|id| !delivered.contains(id));
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(diesel::delete(outbox::table.filter(outbox::id.eq_any(&ids))).execute(c)?)
}
