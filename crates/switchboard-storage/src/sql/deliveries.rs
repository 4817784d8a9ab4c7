//! Webhook deliveries and their attempts.
//!
//! PostgreSQL claims due deliveries with `FOR UPDATE SKIP LOCKED`, so
//! several processes deliver side by side; SQLite relies on its single
//! writer (`BEGIN IMMEDIATE`).

use diesel::prelude::*;

use super::R;
use crate::connection::{DbConnection, native};
use crate::json_column::JsonText;
use crate::rows::SubscriptionRow;
use crate::schema::{deliveries, delivery_attempts, outbox, webhook_subscriptions};

/// A `deliveries` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = deliveries)]
pub(crate) struct DeliveryRow {
    pub id: i64,
    pub tenant_id: i64,
    pub outbox_id: i64,
    pub subscription_id: i64,
    pub message_id: String,
    pub state: String,
    pub attempt_count: i32,
    pub next_attempt_at: i64,
    pub lease_until: Option<i64>,
    #[expect(
        dead_code,
        reason = "selected for completeness; claims filter on it in SQL"
    )]
    pub claimed_by: Option<String>,
    pub last_status_code: Option<i32>,
    pub created_at: i64,
    pub completed_at: Option<i64>,
}

/// A new `deliveries` row.
#[derive(Debug, Insertable)]
#[diesel(table_name = deliveries)]
pub(crate) struct NewDeliveryRow<'a> {
    pub tenant_id: i64,
    pub outbox_id: i64,
    pub subscription_id: i64,
    pub message_id: &'a str,
    pub state: &'a str,
    pub attempt_count: i32,
    pub next_attempt_at: i64,
    pub lease_until: Option<i64>,
    pub claimed_by: Option<&'a str>,
    pub created_at: i64,
}

/// A new `delivery_attempts` row.
#[derive(Debug, Insertable)]
#[diesel(table_name = delivery_attempts)]
pub(crate) struct NewAttemptRow<'a> {
    pub delivery_id: i64,
    pub attempt_no: i32,
    pub started_at: i64,
    pub duration_ms: i64,
    pub status_code: Option<i32>,
    pub outcome: &'a str,
    pub error: Option<&'a str>,
    pub response_excerpt: Option<&'a str>,
}

/// A `delivery_attempts` row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = delivery_attempts)]
pub(crate) struct AttemptRow {
    pub id: i64,
    pub delivery_id: i64,
    pub attempt_no: i32,
    pub started_at: i64,
    pub duration_ms: i64,
    pub status_code: Option<i32>,
    pub outcome: String,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
}

/// The outbox columns a delivery needs: the event (its payload as stored
/// text, parsed per delivery, so that one unreadable payload cannot fail a
/// whole claim) and when it was committed.
pub(crate) type OutboxPart = (String, JsonText, i64);

/// Inserts `rows` with one statement, each unless a delivery exists for
/// the same event and subscription; returns `(id, outbox_id,
/// subscription_id)` of each new one, in no particular order.
pub(crate) fn insert_many(
    c: &mut DbConnection,
    rows: &[NewDeliveryRow<'_>],
) -> R<Vec<(i64, i64, i64)>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let returned = (
        deliveries::id,
        deliveries::outbox_id,
        deliveries::subscription_id,
    );
    Ok(
        crate::connection::native!(c, c => diesel::insert_into(deliveries::table)
        .values(rows)
        .on_conflict((deliveries::outbox_id, deliveries::subscription_id))
        .do_nothing()
        .returning(returned)
        .get_results(c))?,
    )
}

/// A delivery waiting for an attempt or a retry.
pub(super) fn pending() -> diesel::dsl::Eq<deliveries::state, &'static str> {
    deliveries::state.eq("pending")
}

/// Pending deliveries due at `now` and not leased.
#[diesel::dsl::auto_type]
fn due(now: i64) -> _ {
    deliveries::table
        .filter(deliveries::state.eq("pending"))
        .filter(deliveries::next_attempt_at.le(now))
        .filter(
            deliveries::lease_until
                .is_null()
                .or(deliveries::lease_until.lt(now)),
        )
}

/// Whether a pending delivery is due and not leased: what [`claim_due`]
/// would find, read without locking anything. Run on the backend's own
/// connection: the worker asks after every wake-up, and the multi-backend
/// layer would build the statement's text again each time.
pub(crate) fn any_due(c: &mut DbConnection, now: i64) -> R<bool> {
    Ok(native!(c, c => diesel::select(diesel::dsl::exists(due(now))).get_result(c))?)
}

/// Leases up to `limit` due pending deliveries to `worker`, oldest due
/// first. Must run inside a write transaction.
pub(crate) fn claim_due(
    c: &mut DbConnection,
    worker: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> R<Vec<i64>> {
    // Its index holds an entry for every delivery finished since the last
    // vacuum; see `outbox::plain_index_scans`.
    super::outbox::plain_index_scans(c)?;
    let order = (deliveries::next_attempt_at, deliveries::id);
    let ids: Vec<i64> = match c {
        DbConnection::Pg(c) => due(now)
            .select(deliveries::id)
            .order(order)
            .limit(limit)
            .for_update()
            .skip_locked()
            .load(c)?,
        DbConnection::Sqlite(c) => due(now)
            .select(deliveries::id)
            .order(order)
            .limit(limit)
            .load(c)?,
    };
    if !ids.is_empty() {
        diesel::update(deliveries::table.filter(deliveries::id.eq_any(&ids)))
            .set((
                deliveries::lease_until.eq(lease_until),
                deliveries::claimed_by.eq(worker),
            ))
            .execute(c)?;
    }
    Ok(ids)
}

/// The deliveries `ids` with their event and subscription.
pub(crate) fn load_due(
    c: &mut DbConnection,
    ids: &[i64],
) -> R<Vec<(DeliveryRow, OutboxPart, SubscriptionRow)>> {
    Ok(deliveries::table
        .inner_join(outbox::table)
        .inner_join(webhook_subscriptions::table)
        .filter(deliveries::id.eq_any(ids))
        .order((deliveries::next_attempt_at, deliveries::id))
        .select((
            DeliveryRow::as_select(),
            (outbox::event_type, outbox::payload, outbox::created_at),
            SubscriptionRow::as_select(),
        ))
        .load::<(DeliveryRow, OutboxPart, SubscriptionRow)>(c)?)
}

pub(crate) fn by_id(c: &mut DbConnection, id: i64) -> R<Option<DeliveryRow>> {
    Ok(deliveries::table
        .find(id)
        .select(DeliveryRow::as_select())
        .get_result(c)
        .optional()?)
}

/// The deliveries `ids` (those that exist), in no particular order.
pub(crate) fn by_ids(c: &mut DbConnection, ids: &[i64]) -> R<Vec<DeliveryRow>> {
    Ok(deliveries::table
        .filter(deliveries::id.eq_any(ids))
        .select(DeliveryRow::as_select())
        .load(c)?)
}

/// Inserts attempt rows with one statement.
pub(crate) fn insert_attempts(c: &mut DbConnection, rows: &[NewAttemptRow<'_>]) -> R<()> {
    match rows {
        [] => {}
        [row] => insert_attempt(c, row)?,
        rows => {
            crate::connection::native!(c, c => diesel::insert_into(delivery_attempts::table)
                .values(rows)
                .execute(c))?;
        }
    }
    Ok(())
}

pub(crate) fn insert_attempt(c: &mut DbConnection, row: &NewAttemptRow<'_>) -> R<()> {
    diesel::insert_into(delivery_attempts::table)
        .values(row)
        .execute(c)?;
    Ok(())
}

/// What an attempt changes on its delivery.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = deliveries, treat_none_as_null = true)]
pub(crate) struct AttemptChanges<'a> {
    pub state: &'a str,
    pub attempt_count: i32,
    pub last_status_code: Option<i32>,
    pub next_attempt_at: i64,
    pub completed_at: Option<i64>,
    pub lease_until: Option<i64>,
    pub claimed_by: Option<&'a str>,
}

/// Applies an attempt's outcome to the delivery, if `worker` still holds
/// the lease it sent under (`lease_until`): a report that comes after the
/// lease expired and another worker took the delivery changes nothing.
/// Returns whether the delivery changed.
pub(crate) fn finish_attempt(
    c: &mut DbConnection,
    id: i64,
    worker: &str,
    lease_until: i64,
    changes: &AttemptChanges<'_>,
) -> R<bool> {
    Ok(diesel::update(
        deliveries::table
            .filter(deliveries::id.eq(id))
            .filter(deliveries::state.eq("pending"))
            .filter(deliveries::claimed_by.eq(worker))
            .filter(deliveries::lease_until.eq(lease_until)),
    )
    .set(changes)
    .execute(c)?
        > 0)
}

/// Ends a pending delivery that cannot be sent (its event cannot be read
/// back): `failed` at `now`, unleased, with one more attempt counted.
pub(crate) fn fail_unsendable(c: &mut DbConnection, id: i64, now: i64) -> R<usize> {
    Ok(diesel::update(
        deliveries::table
            .filter(deliveries::id.eq(id))
            .filter(deliveries::state.eq("pending")),
    )
    .set((
        deliveries::state.eq("failed"),
        deliveries::attempt_count.eq(deliveries::attempt_count + 1),
        deliveries::completed_at.eq(Some(now)),
        deliveries::lease_until.eq(None::<i64>),
        deliveries::claimed_by.eq(None::<String>),
    ))
    .execute(c)?)
}

/// Gives leased, still pending deliveries back, due at once.
pub(crate) fn release(c: &mut DbConnection, worker: &str, ids: &[i64]) -> R<usize> {
    Ok(diesel::update(
        deliveries::table
            .filter(deliveries::id.eq_any(ids))
            .filter(deliveries::claimed_by.eq(worker))
            .filter(deliveries::state.eq("pending")),
    )
    .set((
        deliveries::lease_until.eq(None::<i64>),
        deliveries::claimed_by.eq(None::<String>),
    ))
    .execute(c)?)
}

/// Cancels a subscription's pending deliveries.
pub(crate) fn cancel_pending(c: &mut DbConnection, subscription: i64, now: i64) -> R<usize> {
    Ok(diesel::update(
        deliveries::table
            .filter(deliveries::subscription_id.eq(subscription))
            .filter(deliveries::state.eq("pending")),
    )
    .set((
        deliveries::state.eq("cancelled"),
        deliveries::completed_at.eq(Some(now)),
        deliveries::lease_until.eq(None::<i64>),
        deliveries::claimed_by.eq(None::<String>),
    ))
    .execute(c)?)
}

/// How many deliveries are pending.
pub(crate) fn backlog(c: &mut DbConnection) -> R<i64> {
    Ok(deliveries::table.filter(pending()).count().get_result(c)?)
}

/// A page of one subscription's attempts, newest first, with the
/// delivery's message id and event type.
pub(crate) fn attempts_page(
    c: &mut DbConnection,
    tenant: i64,
    subscription: i64,
    before: Option<i64>,
    limit: i64,
) -> R<Vec<(AttemptRow, String, String)>> {
    let mut q = delivery_attempts::table
        .inner_join(deliveries::table.inner_join(outbox::table))
        .filter(deliveries::tenant_id.eq(tenant))
        .filter(deliveries::subscription_id.eq(subscription))
        .order(delivery_attempts::id.desc())
        .limit(limit)
        .select((
            AttemptRow::as_select(),
            deliveries::message_id,
            outbox::event_type,
        ))
        .into_boxed();
    if let Some(before) = before {
        q = q.filter(delivery_attempts::id.lt(before));
    }
    Ok(q.load(c)?)
}

/// One delivery of the tenant's subscription, with its event type.
pub(crate) fn of_subscription(
    c: &mut DbConnection,
    tenant: i64,
    subscription: i64,
    id: i64,
) -> R<Option<(DeliveryRow, String)>> {
    Ok(deliveries::table
        .inner_join(outbox::table)
        .filter(deliveries::tenant_id.eq(tenant))
        .filter(deliveries::subscription_id.eq(subscription))
        .filter(deliveries::id.eq(id))
        .select((DeliveryRow::as_select(), outbox::event_type))
        .get_result(c)
        .optional()?)
}

/// A subscription's deliveries, newest first.
pub(crate) fn list(
    c: &mut DbConnection,
    tenant: i64,
    subscription: i64,
    limit: i64,
) -> R<Vec<(DeliveryRow, String)>> {
    Ok(deliveries::table
        .inner_join(outbox::table)
        .filter(deliveries::tenant_id.eq(tenant))
        .filter(deliveries::subscription_id.eq(subscription))
        .order(deliveries::id.desc())
        .limit(limit)
        .select((DeliveryRow::as_select(), outbox::event_type))
        .load(c)?)
}

/// Makes a delivery due again now.
pub(crate) fn make_due(c: &mut DbConnection, id: i64, now: i64) -> R<usize> {
    Ok(diesel::update(deliveries::table.find(id))
        .set((
            deliveries::state.eq("pending"),
            deliveries::next_attempt_at.eq(now),
            deliveries::completed_at.eq(None::<i64>),
            deliveries::lease_until.eq(None::<i64>),
            deliveries::claimed_by.eq(None::<String>),
        ))
        .execute(c)?)
}
