//! What a webhook delivery worker calls: the [`Worker`] handle.

use std::time::Duration;

use switchboard_domain::{
    EventId, EventType, SubscriptionId, SubscriptionState, TenantId, Timestamp,
};

use crate::config::millis;
use crate::connection::DbConnection;
use crate::delivery::{
    AttemptOutcome, AttemptReport, DeliveryId, DeliveryState, DueDelivery, FanOut, NextStep,
    Recorded, due_delivery, message_id,
};
use crate::rows::{OutboxRow, SubscriptionRow};
use crate::sql::deliveries::{AttemptChanges, NewAttemptRow, NewDeliveryRow};
use crate::sql::{self, R};
use crate::{StorageError, Store};

/// Fan-out, leased claims and attempt records for delivery workers, in
/// this process or any other on the same database; from [`Store::worker`].
#[derive(Debug, Clone, Copy)]
pub struct Worker<'a> {
    store: &'a Store,
}

impl<'a> Worker<'a> {
    pub(crate) const fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Takes the oldest due outbox events and fans them out, all in one
    /// write transaction.
    ///
    /// Up to `limit` (1-10,000) events are taken in id order: those not yet
    /// processed and available. Each gets one delivery per active
    /// subscription of its tenant to its event type that existed when it
    /// was committed (a delivery that already exists for the event and
    /// subscription is not created again), first due `first_delay` from
    /// now; when that is at once and `claim` is given, the new deliveries
    /// are leased to `worker` for that long and returned in
    /// [`FanOut::claimed`], ready to send. The events are marked processed;
    /// an event without a subscriber is marked processed with no delivery.
    ///
    /// Nothing is held between transactions. If the transaction fails (or
    /// the process dies before it commits) nothing of it remains and the
    /// events stay pending. On PostgreSQL concurrent callers, in any
    /// process, skip each other's rows (`FOR UPDATE SKIP LOCKED`) and never
    /// take the same event; on SQLite the single writer serializes them.
    ///
    /// Returns [`FanOut::default`] when nothing is due.
    pub async fn fan_out_next(
        self,
        worker: &str,
        limit: u32,
        first_delay: Duration,
        claim: Option<Duration>,
    ) -> Result<FanOut, StorageError> {
        let worker = worker.to_string();
        let limit = i64::from(limit.clamp(1, 10_000));
        let first_delay = millis(first_delay);
        let claim = claim.filter(|_| first_delay == 0).map(millis);
        let clock = self.store.clock().clone();
        self.store
            .write(move |c| {
                c.write_tx(|c| {
                    let t = clock.now().as_millis();
                    let rows = sql::outbox::take_due(c, &worker, t, limit)?;
                    if rows.is_empty() {
                        return Ok(FanOut::default());
                    }
                    let mut out = fan_out_rows(c, &worker, &rows, t, first_delay, claim)?;
                    out.events = rows.len();
                    Ok(out)
                })
            })
            .await
    }

    /// Leases up to `limit` due deliveries to `worker` for `lease`, oldest
    /// due first. On PostgreSQL, concurrent claimers in any process skip each
    /// other's rows (`FOR UPDATE SKIP LOCKED`); a delivery whose lease
    /// expired is due again. When nothing is due it only reads: no write
    /// transaction, and on SQLite no writer lock.
    pub async fn claim_deliveries(
        self,
        worker: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StorageError> {
        let worker = worker.to_string();
        let lease = millis(lease);
        let limit = i64::from(limit.clamp(1, 10_000));
        let now = self.store.now().as_millis();
        // Most calls find nothing due. Ask first without a write transaction
        // (on SQLite, without the writer lock); whatever is due now is still
        // due when the claim below runs.
        let any = self
            .store
            .run(move |c| sql::deliveries::any_due(c, now))
            .await?;
        if !any {
            return Ok(Vec::new());
        }
        let clock = self.store.clock().clone();
        self.store
            .write(move |c| {
                c.write_tx(|c| {
                    let t = clock.now().as_millis();
                    let ids =
                        sql::deliveries::claim_due(c, &worker, t, t.saturating_add(lease), limit)?;
                    if ids.is_empty() {
                        return Ok(Vec::new());
                    }
                    sql::deliveries::load_due(c, &ids)?
                        .into_iter()
                        .map(|(d, o, s)| due_delivery(d, o, s))
                        .collect()
                })
            })
            .await
    }

    /// Records attempts by `worker` and applies their [`NextStep`] in one
    /// transaction.
    ///
    /// A report applies only if `worker` still holds the lease it sent the
    /// delivery under ([`AttemptReport::lease_until`]) and the delivery is
    /// still pending: a worker whose lease expired while it waited for a
    /// slow receiver, and whose delivery another worker has taken since,
    /// cannot overwrite the newer outcome. Such reports, and those of
    /// deliveries that no longer exist, are skipped and counted in
    /// [`Recorded::stale`].
    ///
    /// A failure starts (or continues) the subscription's failing period; a
    /// subscription failing for `disable_after` or longer is disabled and its
    /// pending deliveries are cancelled. A success ends the failing period.
    /// [`NextStep::Gone`] deletes the subscription at once (with its
    /// deliveries).
    pub async fn record_attempts(
        self,
        worker: &str,
        reports: Vec<AttemptReport>,
        disable_after: Duration,
    ) -> Result<Recorded, StorageError> {
        if reports.is_empty() {
            return Ok(Recorded::default());
        }
        let worker = worker.to_string();
        let disable_after = millis(disable_after);
        let clock = self.store.clock().clone();
        self.store
            .write(move |c| {
                c.write_tx(|c| {
                    let t = clock.now().as_millis();
                    let ids: Vec<i64> = reports.iter().map(|r| r.delivery_id.get()).collect();
                    sql::subscriptions::lock_for_deliveries(c, &ids)?;
                    let mut out = Recorded::default();
                    for r in &reports {
                        record_one(c, &worker, r, t, disable_after, &mut out)?;
                    }
                    Ok(out)
                })
            })
            .await
    }

    /// Gives leased deliveries back (for example on shutdown), due at once;
    /// only those still leased to `worker` and pending change.
    pub async fn release_deliveries(
        self,
        worker: &str,
        ids: &[DeliveryId],
    ) -> Result<usize, StorageError> {
        let worker = worker.to_string();
        let ids: Vec<i64> = ids.iter().map(|i| i.get()).collect();
        if ids.is_empty() {
            return Ok(0);
        }
        self.store
            .write(move |c| sql::deliveries::release(c, &worker, &ids))
            .await
    }

    /// How many outbox events are not yet fanned out.
    pub async fn outbox_backlog(self) -> Result<i64, StorageError> {
        self.store.run(sql::outbox::backlog).await
    }

    /// How many deliveries are pending (waiting for an attempt or a retry).
    pub async fn delivery_backlog(self) -> Result<i64, StorageError> {
        self.store.run(sql::deliveries::backlog).await
    }
}

/// Records one report inside [`Worker::record_attempts`]' transaction.
fn record_one(
    c: &mut DbConnection,
    worker: &str,
    r: &AttemptReport,
    t: i64,
    disable_after: i64,
    out: &mut Recorded,
) -> R<()> {
    let Some(d) = sql::deliveries::by_id(c, r.delivery_id.get())? else {
        out.stale += 1;
        return Ok(());
    };
    let attempts = d.attempt_count.saturating_add(1);
    let status = r.status_code.map(i32::from);
    let (state, next_attempt_at, completed_at) = match r.next {
        NextStep::Succeeded => (DeliveryState::Succeeded, d.next_attempt_at, Some(t)),
        NextStep::RetryAt(at) => (DeliveryState::Pending, at.as_millis(), None),
        NextStep::Failed => (DeliveryState::Failed, d.next_attempt_at, Some(t)),
        NextStep::Gone => (DeliveryState::Cancelled, d.next_attempt_at, Some(t)),
    };
    let changes = AttemptChanges {
        state: state.as_str(),
        attempt_count: attempts,
        last_status_code: status,
        next_attempt_at,
        completed_at,
        lease_until: None,
        claimed_by: None,
    };
    if !sql::deliveries::finish_attempt(c, d.id, worker, r.lease_until.as_millis(), &changes)? {
        out.stale += 1;
        return Ok(());
    }
    sql::deliveries::insert_attempt(
        c,
        &NewAttemptRow {
            delivery_id: d.id,
            attempt_no: attempts,
            started_at: r.started_at.as_millis(),
            duration_ms: millis(r.duration),
            status_code: status,
            outcome: r.outcome.as_str(),
            error: r.error.as_deref(),
            response_excerpt: r.response_excerpt.as_deref(),
        },
    )?;
    out.recorded += 1;
    if r.next == NextStep::Gone {
        if sql::subscriptions::delete(c, d.subscription_id)? > 0 {
            out.deleted.push(SubscriptionId::new(d.subscription_id));
        }
        return Ok(());
    }
    let Some(sub) = sql::subscriptions::by_id(c, d.subscription_id)? else {
        return Ok(());
    };
    if r.outcome == AttemptOutcome::Success {
        if sub.failing_since.is_some() {
            sql::subscriptions::set_failing_since(c, sub.id, None)?;
        }
        return Ok(());
    }
    let since = match sub.failing_since {
        Some(since) => since,
        None => {
            let since = r.started_at.as_millis();
            sql::subscriptions::set_failing_since(c, sub.id, Some(since))?;
            since
        }
    };
    if sub.state == SubscriptionState::Active.as_str() && t.saturating_sub(since) >= disable_after {
        sql::subscriptions::disable(c, sub.id)?;
        sql::deliveries::cancel_pending(c, sub.id, t)?;
        out.disabled.push(SubscriptionId::new(sub.id));
    }
    Ok(())
}

/// The fan-out itself: for each of `rows` (unprocessed outbox rows that
/// the caller's transaction holds, in id order), one delivery per active
/// subscription of the same tenant to the same event type created no later
/// than the event, first due `first_delay` ms after `t`; with `claim` (ms)
/// the new deliveries are leased to `worker` and returned. A delivery that
/// already exists for the event and subscription is not created again.
/// Leaves [`FanOut::events`] to the caller.
fn fan_out_rows(
    c: &mut DbConnection,
    worker: &str,
    rows: &[OutboxRow],
    t: i64,
    first_delay: i64,
    claim: Option<i64>,
) -> R<FanOut> {
    let mut tenants: Vec<i64> = rows.iter().map(|r| r.tenant_id).collect();
    tenants.sort_unstable();
    tenants.dedup();
    let mut types: Vec<String> = rows.iter().map(|r| r.event_type.clone()).collect();
    types.sort_unstable();
    types.dedup();
    let subs = sql::subscriptions::active(c, &tenants, &types)?;
    let lease_until = claim.map(|l| t.saturating_add(l));
    let mut out = FanOut::default();
    for row in rows {
        for sub in subs.iter().filter(|s| {
            s.tenant_id == row.tenant_id
                && s.event == row.event_type
                && s.created_at <= row.created_at
        }) {
            let message_id = message_id()?;
            let new = NewDeliveryRow {
                tenant_id: row.tenant_id,
                outbox_id: row.id,
                subscription_id: sub.id,
                message_id: &message_id,
                state: DeliveryState::Pending.as_str(),
                attempt_count: 0,
                next_attempt_at: t.saturating_add(first_delay),
                lease_until,
                claimed_by: lease_until.map(|_| worker),
                created_at: t,
            };
            let Some(id) = sql::deliveries::insert(c, &new)? else {
                continue;
            };
            out.deliveries += 1;
            if let Some(lease) = lease_until {
                out.claimed.push(DueDelivery {
                    id: DeliveryId::new(id),
                    tenant_id: TenantId::new(row.tenant_id),
                    event_id: EventId::new(row.id),
                    message_id,
                    event_type: row
                        .event_type
                        .parse::<EventType>()
                        .map_err(StorageError::internal)?,
                    payload: row.payload.0.clone(),
                    committed_at: Timestamp::from_millis(row.created_at),
                    subscription: SubscriptionRow::clone(sub).try_into()?,
                    attempt_count: 0,
                    lease_until: Timestamp::from_millis(lease),
                });
            }
        }
    }
    Ok(out)
}
