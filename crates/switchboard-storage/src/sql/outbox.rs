//! The transactional outbox: events committed with the writes that caused
//! them, taken by the webhook worker.

use diesel::prelude::*;
use switchboard_domain::EntityKind;

use super::R;
use crate::connection::{DbConnection, native};
use crate::json_column::JsonText;
use crate::rows::OutboxRow;
use crate::schema::outbox;

/// An outbox row as fan-out takes it. The payload stays the stored text
/// and is parsed row by row, so one unreadable payload fails its own row,
/// never the statement that takes the batch.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub(crate) struct DueRow {
    pub id: i64,
    pub tenant_id: i64,
    pub event_type: String,
    pub payload: JsonText,
    pub created_at: i64,
}

/// On PostgreSQL, has the rest of the caller's transaction read indexes
/// with plain index scans only (`SET LOCAL enable_bitmapscan = off`).
///
/// A queue's index of pending rows keeps an entry for every row taken
/// since the last vacuum, pointing at its dead version. A plain index scan
/// marks such entries dead as it passes (so the next scan skips them); a
/// bitmap scan never does, and reads every one of them, and their heap
/// pages, on every call. The planner prefers the bitmap scan for the few
/// rows its statistics promise, so without this each take of a handful of
/// events revisited every event processed since the last vacuum (measured:
/// 4–13 ms a take with 20,000 processed events, against 0.2 ms).
pub(crate) fn plain_index_scans(c: &mut DbConnection) -> R<()> {
    if let DbConnection::Pg(c) = c {
        use diesel::connection::SimpleConnection as _;
        c.batch_execute("SET LOCAL enable_bitmapscan = off")?;
    }
    Ok(())
}

/// Takes up to `limit` due outbox rows, oldest first, and marks them
/// processed by `worker` at `now`, in one statement: `UPDATE outbox SET
/// processed_at = now … WHERE id IN (SELECT id … ORDER BY id LIMIT n [FOR
/// UPDATE SKIP LOCKED]) RETURNING …`. Due means unprocessed, not
/// quarantined and available at `now`. On PostgreSQL concurrent takers skip
/// each other's rows; on SQLite the single writer serializes them. Must run
/// inside the write transaction that fans the rows out, so that a failure
/// rolls the marking back. Returns the rows in id order.
pub(crate) fn take_due(c: &mut DbConnection, worker: &str, now: i64, limit: i64) -> R<Vec<DueRow>> {
    plain_index_scans(c)?;
    // The subquery reads the same table under another name: the ids of
    // up to `limit` due rows, oldest first.
    let pending = diesel::alias!(outbox as pending);
    let due = pending
        .select(pending.field(outbox::id))
        .filter(pending.field(outbox::processed_at).is_null())
        .filter(pending.field(outbox::quarantined_at).is_null())
        .filter(pending.field(outbox::available_at).le(now))
        .order(pending.field(outbox::id))
        .limit(limit);
    let marked = (outbox::processed_at.eq(now), outbox::claimed_by.eq(worker));
    let mut rows: Vec<DueRow> = match c {
        DbConnection::Pg(c) => {
            diesel::update(outbox::table.filter(outbox::id.eq_any(due.for_update().skip_locked())))
                .set(marked)
                .returning(DueRow::as_returning())
                .get_results(c)?
        }
        DbConnection::Sqlite(c) => diesel::update(outbox::table.filter(outbox::id.eq_any(due)))
            .set(marked)
            .returning(DueRow::as_returning())
            .get_results(c)?,
    };
    // RETURNING follows no particular order.
    rows.sort_unstable_by_key(|r| r.id);
    Ok(rows)
}

/// A row waiting to be fanned out: not processed and not quarantined.
fn waiting() -> diesel::dsl::And<
    diesel::dsl::IsNull<outbox::processed_at>,
    diesel::dsl::IsNull<outbox::quarantined_at>,
> {
    outbox::processed_at
        .is_null()
        .and(outbox::quarantined_at.is_null())
}

/// A row set aside for failing to fan out too often ([`note_failure`]).
fn quarantined_row() -> diesel::dsl::IsNotNull<outbox::quarantined_at> {
    outbox::quarantined_at.is_not_null()
}

/// Whether any row is due at `now` (see [`take_due`]): one indexed read,
/// outside any transaction.
pub(crate) fn any_due(c: &mut DbConnection, now: i64) -> R<bool> {
    let due = outbox::table
        .select(outbox::id)
        .filter(waiting())
        .filter(outbox::available_at.le(now));
    // On the backend's own connection, as `deliveries::any_due`.
    Ok(native!(c, c => diesel::select(diesel::dsl::exists(due)).get_result(c))?)
}

/// The ids of up to `limit` due rows, oldest first, without taking them;
/// on PostgreSQL they are locked for the caller's transaction (skipping
/// rows other takers hold).
pub(crate) fn due_ids(c: &mut DbConnection, now: i64, limit: i64) -> R<Vec<i64>> {
    plain_index_scans(c)?;
    let due = outbox::table
        .select(outbox::id)
        .filter(waiting())
        .filter(outbox::available_at.le(now))
        .order(outbox::id)
        .limit(limit);
    Ok(match c {
        DbConnection::Pg(c) => due.for_update().skip_locked().load(c)?,
        DbConnection::Sqlite(c) => due.load(c)?,
    })
}

/// [`take_due`] for one row: marks it processed by `worker` if it is still
/// unprocessed and not quarantined.
pub(crate) fn take_one(c: &mut DbConnection, worker: &str, now: i64, id: i64) -> R<Option<DueRow>> {
    let take = diesel::update(outbox::table.filter(outbox::id.eq(id)).filter(waiting()))
        .set((outbox::processed_at.eq(now), outbox::claimed_by.eq(worker)));
    // RETURNING is written per backend (the multi-backend builder has none).
    Ok(match c {
        DbConnection::Pg(c) => take
            .returning(DueRow::as_returning())
            .get_result(c)
            .optional()?,
        DbConnection::Sqlite(c) => take
            .returning(DueRow::as_returning())
            .get_result(c)
            .optional()?,
    })
}

/// Records a failed fan-out of row `id` at `now`: the row is unprocessed
/// again with one more failure and `error`; it becomes available again
/// after `retry_in` ms, or, with `retry_in` `None`, it is quarantined.
/// Returns the row's tenant and its failures so far, `None` when it does
/// not exist.
pub(crate) fn note_failure(
    c: &mut DbConnection,
    id: i64,
    now: i64,
    error: &str,
    retry_in: impl FnOnce(i32) -> Option<i64>,
) -> R<Option<(i64, i32)>> {
    let Some((tenant, failures)) = outbox::table
        .find(id)
        .select((outbox::tenant_id, outbox::fan_out_failures))
        .get_result::<(i64, i32)>(c)
        .optional()?
    else {
        return Ok(None);
    };
    let failures = failures.saturating_add(1);
    let failed = (
        outbox::processed_at.eq(None::<i64>),
        outbox::claimed_by.eq(None::<String>),
        outbox::fan_out_failures.eq(failures),
        outbox::last_error.eq(Some(error)),
    );
    let row = outbox::table.filter(outbox::id.eq(id));
    match retry_in(failures) {
        Some(delay) => diesel::update(row)
            .set((failed, outbox::available_at.eq(now.saturating_add(delay))))
            .execute(c)?,
        None => diesel::update(row)
            .set((failed, outbox::quarantined_at.eq(Some(now))))
            .execute(c)?,
    };
    Ok(Some((tenant, failures)))
}

/// A quarantined row, for operators.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub(crate) struct QuarantinedRow {
    pub id: i64,
    pub tenant_id: i64,
    pub event_type: String,
    pub entity_kind: String,
    pub entity_id: i64,
    pub created_at: i64,
    pub fan_out_failures: i32,
    pub last_error: Option<String>,
    pub quarantined_at: Option<i64>,
}

impl From<QuarantinedRow> for crate::QuarantinedEvent {
    fn from(r: QuarantinedRow) -> Self {
        Self {
            id: switchboard_domain::EventId::new(r.id),
            tenant_id: switchboard_domain::TenantId::new(r.tenant_id),
            event_type: r.event_type,
            entity_kind: r.entity_kind,
            entity_id: r.entity_id,
            created_at: switchboard_domain::Timestamp::from_millis(r.created_at),
            quarantined_at: switchboard_domain::Timestamp::from_millis(
                r.quarantined_at.unwrap_or_default(),
            ),
            tries: u32::try_from(r.fan_out_failures).unwrap_or(0),
            error: r.last_error,
        }
    }
}

/// Up to `limit` quarantined rows, oldest first.
pub(crate) fn quarantined(c: &mut DbConnection, limit: i64) -> R<Vec<QuarantinedRow>> {
    Ok(outbox::table
        .filter(quarantined_row())
        .order(outbox::id)
        .limit(limit)
        .select(QuarantinedRow::as_select())
        .load(c)?)
}

/// Up to `limit` of the tenant's quarantined rows, oldest first.
pub(crate) fn quarantined_of_tenant(
    c: &mut DbConnection,
    tenant: i64,
    limit: i64,
) -> R<Vec<QuarantinedRow>> {
    Ok(outbox::table
        .filter(outbox::tenant_id.eq(tenant))
        .filter(quarantined_row())
        .order(outbox::id)
        .limit(limit)
        .select(QuarantinedRow::as_select())
        .load(c)?)
}

/// How many rows are quarantined.
pub(crate) fn quarantined_count(c: &mut DbConnection) -> R<i64> {
    Ok(outbox::table
        .filter(quarantined_row())
        .count()
        .get_result(c)?)
}

/// Puts a quarantined row back in line, due at `now` with its failures
/// reset; returns whether it was quarantined. With `tenant`, only a row of
/// that tenant (another tenant's row is left alone and answers `false`).
pub(crate) fn requeue(c: &mut DbConnection, tenant: Option<i64>, id: i64, now: i64) -> R<bool> {
    let mut update = diesel::update(outbox::table)
        .filter(outbox::id.eq(id))
        .filter(quarantined_row())
        .set((
            outbox::quarantined_at.eq(None::<i64>),
            outbox::fan_out_failures.eq(0),
            outbox::processed_at.eq(None::<i64>),
            outbox::available_at.eq(now),
        ))
        .into_boxed();
    if let Some(tenant) = tenant {
        update = update.filter(outbox::tenant_id.eq(tenant));
    }
    Ok(update.execute(c)? > 0)
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

/// The pipeline's three gauges in one statement, so one snapshot: outbox
/// events waiting to be fanned out, deliveries pending, and quarantined
/// events. Three statements could count an event as waiting and, once the
/// worker set it aside in between, as quarantined too.
pub(crate) fn gauges(c: &mut DbConnection) -> R<(i64, i64, i64)> {
    use crate::schema::deliveries;
    let unsent = outbox::table.filter(waiting()).count().single_value();
    let pending = deliveries::table
        .filter(super::deliveries::pending())
        .count()
        .single_value();
    let quarantined = outbox::table
        .filter(quarantined_row())
        .count()
        .single_value();
    let (w, p, q): (Option<i64>, Option<i64>, Option<i64>) =
        diesel::select((unsent, pending, quarantined)).get_result(c)?;
    Ok((w.unwrap_or(0), p.unwrap_or(0), q.unwrap_or(0)))
}

/// How many rows are waiting to be fanned out ([`waiting`]).
pub(crate) fn backlog(c: &mut DbConnection) -> R<i64> {
    Ok(outbox::table.filter(waiting()).count().get_result(c)?)
}

/// The newest payloads of one event type of the tenant, as stored text
/// (the caller parses them, skipping any it cannot read); quarantined rows
/// are left out.
pub(crate) fn recent_payloads(
    c: &mut DbConnection,
    tenant: i64,
    event: &str,
    limit: i64,
) -> R<Vec<(i64, JsonText)>> {
    Ok(outbox::table
        .filter(outbox::tenant_id.eq(tenant))
        .filter(outbox::event_type.eq(event))
        .filter(outbox::quarantined_at.is_null())
        .order(outbox::id.desc())
        .limit(limit)
        .select((outbox::id, outbox::payload))
        .load(c)?)
}
