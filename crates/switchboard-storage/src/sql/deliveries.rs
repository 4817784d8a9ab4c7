//! Webhook delivery queries, written once and compiled for each backend.
//!
//! Like `repo.rs`: `define_delivery_repo!` expands the same code into
//! `delivery_repo::sqlite` and `delivery_repo::pg`; the only backend tokens
//! are the row-locking clauses. PostgreSQL takes due outbox rows and claims
//! due deliveries with `FOR UPDATE SKIP LOCKED`, so several processes fan
//! out and deliver side by side; SQLite relies on its single writer
//! (`BEGIN IMMEDIATE`).

use diesel::prelude::*;

use crate::StorageError;
use crate::json_column::JsonValue;
use crate::rows::SubscriptionRow;
use crate::schema::{deliveries, delivery_attempts};

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

/// The outbox columns a delivery needs: the event and when it was committed.
pub(crate) type OutboxPart = (String, JsonValue, i64);

/// The queries a fan-out makes, so that the fan-out itself
/// (`delivery::fan_out_rows`) is written once for both backends.
pub(crate) trait FanOutQueries {
    /// Active subscriptions of any of `tenants` to any of `events`.
    fn active_subscriptions(
        &mut self,
        tenants: &[i64],
        events: &[String],
    ) -> Result<Vec<SubscriptionRow>, StorageError>;

    /// Inserts a delivery unless one exists for the same event and
    /// subscription; returns the new id.
    fn insert_delivery(&mut self, row: &NewDeliveryRow<'_>) -> Result<Option<i64>, StorageError>;
}

macro_rules! define_delivery_repo {
    ($module:ident, $conn:ty, lock = { $($lock:tt)* }, claim = { $($claim:tt)* }, share = { $($share:tt)* }) => {
        pub(crate) mod $module {
            #![allow(clippy::allow_attributes, reason = "generated per backend")]
            use diesel::prelude::*;

            use super::{AttemptRow, DeliveryRow, NewAttemptRow, NewDeliveryRow, OutboxPart};
            use crate::json_column::JsonValue;
            use crate::rows::{OutboxRow, SubscriptionRow};
            use crate::schema::*;
            use crate::StorageError;

            type Conn = $conn;
            type R<T> = Result<T, StorageError>;

            /// The outbox rows among `ids` still leased to `worker` and not
            /// yet processed, locked against a concurrent fan-out.
            pub(crate) fn leased_outbox(c: &mut Conn, worker: &str, ids: &[i64]) -> R<Vec<OutboxRow>> {
                Ok(outbox::table
                    .filter(outbox::id.eq_any(ids))
                    .filter(outbox::claimed_by.eq(worker))
                    .filter(outbox::processed_at.is_null())
                    .order(outbox::id)
                    .select(OutboxRow::as_select())
                    $($lock)*
                    .load(c)?)
            }

            /// Active subscriptions of any of `tenants` to any of `events`.
            pub(crate) fn active_subscriptions(c: &mut Conn, tenants: &[i64], events: &[String]) -> R<Vec<SubscriptionRow>> {
                Ok(webhook_subscriptions::table
                    .filter(webhook_subscriptions::tenant_id.eq_any(tenants))
                    .filter(webhook_subscriptions::event.eq_any(events))
                    .filter(webhook_subscriptions::state.eq("active"))
                    .order(webhook_subscriptions::id)
                    .select(SubscriptionRow::as_select())
                    .load(c)?)
            }

            /// Inserts a delivery unless one exists for the same event and
            /// subscription; returns the new id.
            pub(crate) fn insert_delivery(c: &mut Conn, row: &NewDeliveryRow<'_>) -> R<Option<i64>> {
                Ok(diesel::insert_into(deliveries::table)
                    .values(row)
                    .on_conflict((deliveries::outbox_id, deliveries::subscription_id))
                    .do_nothing()
                    .returning(deliveries::id)
                    .get_result(c)
                    .optional()?)
            }

            /// Takes up to `limit` due outbox rows, oldest first, and marks
            /// them processed by `worker` at `now`, in one statement:
            /// `UPDATE outbox SET processed_at = now … WHERE id IN (SELECT id
            /// … ORDER BY id LIMIT n [FOR UPDATE SKIP LOCKED]) RETURNING …`.
            /// Due means what `repo::claim_outbox` means: not
            /// processed, available, and not leased (or the lease expired).
            /// On PostgreSQL concurrent takers skip each other's rows; on
            /// SQLite the single writer serializes them. Must run inside the
            /// write transaction that fans the rows out, so that a failure
            /// rolls the marking back. Returns the rows in id order.
            pub(crate) fn take_due_outbox(c: &mut Conn, worker: &str, now: i64, limit: i64) -> R<Vec<OutboxRow>> {
                // The subquery reads the same table under another name.
                let pending = diesel::alias!(outbox as pending);
                let due = pending
                    .select(pending.field(outbox::id))
                    .filter(pending.field(outbox::processed_at).is_null())
                    .filter(pending.field(outbox::available_at).le(now))
                    .filter(
                        pending
                            .field(outbox::lease_until)
                            .is_null()
                            .or(pending.field(outbox::lease_until).lt(now)),
                    )
                    .order(pending.field(outbox::id))
                    .limit(limit)
                    $($claim)*;
                let mut rows: Vec<OutboxRow> = diesel::update(outbox::table.filter(outbox::id.eq_any(due)))
                    .set((
                        outbox::processed_at.eq(now),
                        outbox::lease_until.eq(None::<i64>),
                        outbox::claimed_by.eq(worker),
                    ))
                    .returning(OutboxRow::as_returning())
                    .get_results(c)?;
                // RETURNING follows no particular order.
                rows.sort_unstable_by_key(|r| r.id);
                Ok(rows)
            }

            pub(crate) fn mark_outbox_processed(c: &mut Conn, worker: &str, ids: &[i64], now: i64) -> R<usize> {
                Ok(diesel::update(
                    outbox::table
                        .filter(outbox::id.eq_any(ids))
                        .filter(outbox::claimed_by.eq(worker))
                        .filter(outbox::processed_at.is_null()),
                )
                .set((outbox::processed_at.eq(now), outbox::lease_until.eq(None::<i64>)))
                .execute(c)?)
            }

            /// Whether a pending delivery is due and not leased: what
            /// `claim_due` would find, read without locking anything.
            pub(crate) fn any_due(c: &mut Conn, now: i64) -> R<bool> {
                Ok(diesel::select(diesel::dsl::exists(
                    deliveries::table
                        .filter(deliveries::state.eq("pending"))
                        .filter(deliveries::next_attempt_at.le(now))
                        .filter(deliveries::lease_until.is_null().or(deliveries::lease_until.lt(now))),
                ))
                .get_result(c)?)
            }

            /// Leases up to `limit` due pending deliveries to `worker`.
            /// Must run inside a write transaction.
            pub(crate) fn claim_due(c: &mut Conn, worker: &str, now: i64, lease_until: i64, limit: i64) -> R<Vec<i64>> {
                let ids: Vec<i64> = deliveries::table
                    .select(deliveries::id)
                    .filter(deliveries::state.eq("pending"))
                    .filter(deliveries::next_attempt_at.le(now))
                    .filter(deliveries::lease_until.is_null().or(deliveries::lease_until.lt(now)))
                    .order((deliveries::next_attempt_at, deliveries::id))
                    .limit(limit)
                    $($claim)*
                    .load(c)?;
                if !ids.is_empty() {
                    diesel::update(deliveries::table.filter(deliveries::id.eq_any(&ids)))
                        .set((deliveries::lease_until.eq(lease_until), deliveries::claimed_by.eq(worker)))
                        .execute(c)?;
                }
                Ok(ids)
            }

            /// The deliveries `ids` with their event and subscription.
            pub(crate) fn load_due(c: &mut Conn, ids: &[i64]) -> R<Vec<(DeliveryRow, OutboxPart, SubscriptionRow)>> {
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
                    .load::<(DeliveryRow, (String, JsonValue, i64), SubscriptionRow)>(c)?)
            }

            impl super::FanOutQueries for Conn {
                fn active_subscriptions(&mut self, tenants: &[i64], events: &[String]) -> R<Vec<SubscriptionRow>> {
                    active_subscriptions(self, tenants, events)
                }

                fn insert_delivery(&mut self, row: &NewDeliveryRow<'_>) -> R<Option<i64>> {
                    insert_delivery(self, row)
                }
            }

            /// Locks the subscriptions of the deliveries `ids` against
            /// deletion (PostgreSQL `FOR KEY SHARE`, in id order) before a
            /// transaction touches those deliveries. Deleting a subscription
            /// locks it first and then its deliveries (the cascade), so
            /// taking the subscription first too keeps one lock order and
            /// the two cannot deadlock.
            pub(crate) fn lock_subscriptions_of(c: &mut Conn, ids: &[i64]) -> R<()> {
                let subscriptions: Vec<i64> = deliveries::table
                    .filter(deliveries::id.eq_any(ids))
                    .select(deliveries::subscription_id)
                    .distinct()
                    .load(c)?;
                if subscriptions.is_empty() {
                    return Ok(());
                }
                let _locked: Vec<i64> = webhook_subscriptions::table
                    .filter(webhook_subscriptions::id.eq_any(&subscriptions))
                    .order(webhook_subscriptions::id)
                    .select(webhook_subscriptions::id)
                    $($share)*
                    .load(c)?;
                Ok(())
            }

            pub(crate) fn delivery_by_id(c: &mut Conn, id: i64) -> R<Option<DeliveryRow>> {
                Ok(deliveries::table
                    .find(id)
                    .select(DeliveryRow::as_select())
                    .get_result(c)
                    .optional()?)
            }

            pub(crate) fn insert_attempt(c: &mut Conn, row: &NewAttemptRow<'_>) -> R<()> {
                diesel::insert_into(delivery_attempts::table).values(row).execute(c)?;
                Ok(())
            }

            /// Finishes a delivery (`succeeded`, `failed`, `cancelled`).
            pub(crate) fn finish_delivery(c: &mut Conn, id: i64, state: &str, attempts: i32, status: Option<i32>, now: i64) -> R<usize> {
                Ok(diesel::update(deliveries::table.find(id))
                    .set((
                        deliveries::state.eq(state),
                        deliveries::attempt_count.eq(attempts),
                        deliveries::last_status_code.eq(status),
                        deliveries::completed_at.eq(Some(now)),
                        deliveries::lease_until.eq(None::<i64>),
                        deliveries::claimed_by.eq(None::<String>),
                    ))
                    .execute(c)?)
            }

            /// Schedules the next attempt of a pending delivery.
            pub(crate) fn reschedule_delivery(c: &mut Conn, id: i64, attempts: i32, status: Option<i32>, at: i64) -> R<usize> {
                Ok(diesel::update(deliveries::table.find(id))
                    .set((
                        deliveries::attempt_count.eq(attempts),
                        deliveries::last_status_code.eq(status),
                        deliveries::next_attempt_at.eq(at),
                        deliveries::lease_until.eq(None::<i64>),
                        deliveries::claimed_by.eq(None::<String>),
                    ))
                    .execute(c)?)
            }

            /// Gives leased, still pending deliveries back, due at once.
            pub(crate) fn release(c: &mut Conn, worker: &str, ids: &[i64]) -> R<usize> {
                Ok(diesel::update(
                    deliveries::table
                        .filter(deliveries::id.eq_any(ids))
                        .filter(deliveries::claimed_by.eq(worker))
                        .filter(deliveries::state.eq("pending")),
                )
                .set((deliveries::lease_until.eq(None::<i64>), deliveries::claimed_by.eq(None::<String>)))
                .execute(c)?)
            }

            pub(crate) fn subscription(c: &mut Conn, id: i64) -> R<Option<SubscriptionRow>> {
                Ok(webhook_subscriptions::table
                    .find(id)
                    .select(SubscriptionRow::as_select())
                    .get_result(c)
                    .optional()?)
            }

            pub(crate) fn set_failing_since(c: &mut Conn, id: i64, since: Option<i64>) -> R<usize> {
                Ok(diesel::update(webhook_subscriptions::table.find(id))
                    .set(webhook_subscriptions::failing_since.eq(since))
                    .execute(c)?)
            }

            pub(crate) fn disable_subscription(c: &mut Conn, id: i64) -> R<usize> {
                Ok(diesel::update(webhook_subscriptions::table.find(id))
                    .set(webhook_subscriptions::state.eq("disabled"))
                    .execute(c)?)
            }

            pub(crate) fn delete_subscription(c: &mut Conn, id: i64) -> R<usize> {
                Ok(diesel::delete(webhook_subscriptions::table.find(id)).execute(c)?)
            }

            /// Cancels a subscription's pending deliveries.
            pub(crate) fn cancel_pending(c: &mut Conn, subscription: i64, now: i64) -> R<usize> {
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

            pub(crate) fn backlog(c: &mut Conn) -> R<i64> {
                Ok(deliveries::table
                    .filter(deliveries::state.eq("pending"))
                    .count()
                    .get_result(c)?)
            }

            /// A page of one subscription's attempts, newest first, with the
            /// delivery's message id and event type.
            pub(crate) fn attempts_page(
                c: &mut Conn,
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
                    .select((AttemptRow::as_select(), deliveries::message_id, outbox::event_type))
                    .into_boxed();
                if let Some(before) = before {
                    q = q.filter(delivery_attempts::id.lt(before));
                }
                Ok(q.load(c)?)
            }

            /// One delivery of the tenant's subscription, with its event type.
            pub(crate) fn delivery_of(c: &mut Conn, tenant: i64, subscription: i64, id: i64) -> R<Option<(DeliveryRow, String)>> {
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
            pub(crate) fn deliveries_of(c: &mut Conn, tenant: i64, subscription: i64, limit: i64) -> R<Vec<(DeliveryRow, String)>> {
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
            pub(crate) fn make_due(c: &mut Conn, id: i64, now: i64) -> R<usize> {
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

            /// The newest payloads of one event type of the tenant.
            pub(crate) fn recent_payloads(c: &mut Conn, tenant: i64, event: &str, limit: i64) -> R<Vec<JsonValue>> {
                Ok(outbox::table
                    .filter(outbox::tenant_id.eq(tenant))
                    .filter(outbox::event_type.eq(event))
                    .order(outbox::id.desc())
                    .limit(limit)
                    .select(outbox::payload)
                    .load(c)?)
            }

            pub(crate) fn rotate_secret(c: &mut Conn, tenant: i64, id: i64, secret: &str, previous: &str, expires_at: i64) -> R<usize> {
                Ok(diesel::update(
                    webhook_subscriptions::table
                        .filter(webhook_subscriptions::tenant_id.eq(tenant))
                        .filter(webhook_subscriptions::id.eq(id)),
                )
                .set((
                    webhook_subscriptions::secret.eq(secret),
                    webhook_subscriptions::previous_secret.eq(Some(previous)),
                    webhook_subscriptions::previous_secret_expires_at.eq(Some(expires_at)),
                ))
                .execute(c)?)
            }
        }
    };
}

define_delivery_repo!(
    sqlite,
    diesel::sqlite::SqliteConnection,
    lock = {},
    claim = {},
    share = {}
);
define_delivery_repo!(
    pg,
    diesel::pg::PgConnection,
    lock = { .for_update() },
    claim = { .for_update().skip_locked() },
    share = { .for_key_share() }
);
