//! What a webhook delivery worker calls: the [`Worker`] handle.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use switchboard_domain::{
    EventId, EventType, SubscriptionId, SubscriptionState, TenantId, Timestamp,
};

use crate::config::millis;
use crate::connection::DbConnection;
use crate::delivery::{
    AttemptOutcome, AttemptReport, DeliveryId, DeliveryState, DueDelivery, FanOut, FanOutFailure,
    MAX_ERROR_BYTES, MAX_EXCERPT_BYTES, NextStep, OUTBOX_MAX_TRIES, OUTBOX_RETRY_DELAYS,
    QuarantinedEvent, Recorded, due_delivery, message_id, sanitize_text,
};
use crate::rows::SubscriptionRow;
use crate::sql::deliveries::{AttemptChanges, NewAttemptRow, NewDeliveryRow};
use crate::sql::outbox::DueRow;
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
    /// processed, not quarantined and available. Each gets one delivery per
    /// active subscription of its tenant to its event type that existed when
    /// it was committed (a delivery that already exists for the event and
    /// subscription is not created again), first due `first_delay` from
    /// now; when that is at once and `claim` is given, the new deliveries
    /// are leased to `worker` for that long and returned in
    /// [`FanOut::claimed`], ready to send. The events are marked processed;
    /// an event without a subscriber is marked processed with no delivery.
    ///
    /// **Poisoned events.** An event that cannot be fanned out (its payload
    /// cannot be read back, or its own writes fail) never holds up the
    /// others: a payload is parsed row by row, and when the batch's
    /// transaction fails anyway, the batch is fanned out again one event at
    /// a time, each in its own savepoint. An event that fails is put back,
    /// due again after [`OUTBOX_RETRY_DELAYS`], and after
    /// [`OUTBOX_MAX_TRIES`] failed tries it is **quarantined**: set aside
    /// unprocessed (see [`Self::quarantined`]). Each failure is reported in
    /// [`FanOut::failed`]. Failures of the database itself (unreachable, a
    /// serialization conflict) fail the call instead and count against no
    /// event.
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
        let plan = FanOutPlan {
            worker: worker.to_string(),
            limit: i64::from(limit.clamp(1, 10_000)),
            first_delay: millis(first_delay),
            claim: claim.filter(|_| first_delay.is_zero()).map(millis),
        };
        // Most wake-ups find nothing (events no subscription matches are
        // done when written). Ask first without a write transaction: on
        // PostgreSQL one round trip instead of three, on SQLite without the
        // writer. Whatever is due now is still due when the take runs.
        let now = self.store.clock().now().as_millis();
        if !self
            .store
            .run(move |c| sql::outbox::any_due(c, now))
            .await?
        {
            return Ok(FanOut::default());
        }
        let mut out = self
            .batch_or_each(plan, fan_out_batch, fan_out_each, |e| {
                tracing::warn!(
                    error = %describe(e),
                    "fanning out a batch of outbox events failed; fanning them out one by one"
                );
            })
            .await?;
        // The claimed deliveries carry their subscription's secrets in
        // clear. One whose secret cannot be opened is left out: its lease
        // runs out and `claim_deliveries` takes it as unsendable.
        let cipher = self.store.cipher();
        out.claimed.retain_mut(|due| match cipher.reveal(&mut due.subscription) {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(delivery = due.id.get(), error = %e, "cannot open a webhook secret");
                false
            }
        });
        Ok(out)
    }

    /// Up to `limit` (1-1,000) quarantined outbox events, oldest first: the
    /// events fan-out gave up on after [`OUTBOX_MAX_TRIES`] tries, with the
    /// last error. (`switchboard outbox quarantined` lists them.)
    pub async fn quarantined(self, limit: u32) -> Result<Vec<QuarantinedEvent>, StorageError> {
        let limit = i64::from(limit.clamp(1, 1000));
        let rows = self
            .store
            .run(move |c| sql::outbox::quarantined(c, limit))
            .await?;
        Ok(rows.into_iter().map(QuarantinedEvent::from).collect())
    }

    /// How many outbox events are quarantined.
    pub async fn quarantined_count(self) -> Result<i64, StorageError> {
        self.store.run(sql::outbox::quarantined_count).await
    }

    /// Puts a quarantined event back in line (due now, with
    /// [`OUTBOX_MAX_TRIES`] fresh tries), for example after the cause was
    /// fixed. Returns whether `event` was quarantined.
    pub async fn requeue(self, event: EventId) -> Result<bool, StorageError> {
        let clock = self.store.clock().clone();
        self.store
            .write(move |c| sql::outbox::requeue(c, None, event.get(), clock.now().as_millis()))
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
        let cipher = self.store.cipher();
        self.store
            .write(move |c| {
                c.write_tx(|c| {
                    let t = clock.now().as_millis();
                    let ids =
                        sql::deliveries::claim_due(c, &worker, t, t.saturating_add(lease), limit)?;
                    if ids.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut due = Vec::with_capacity(ids.len());
                    for (d, o, s) in sql::deliveries::load_due(c, &ids)? {
                        let id = d.id;
                        let ready = due_delivery(d, o, s).and_then(|mut d| {
                            cipher.reveal(&mut d.subscription)?;
                            Ok(d)
                        });
                        match ready {
                            Ok(d) => due.push(d),
                            // One delivery that cannot be sent never fails the claim.
                            Err(e) => fail_unsendable(c, id, t, &e)?,
                        }
                    }
                    Ok(due)
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
    ///
    /// The texts are stored sanitised ([`sanitize_text`]: no NUL, at most
    /// [`MAX_EXCERPT_BYTES`] of excerpt and [`MAX_ERROR_BYTES`] of error).
    /// **One report never fails the others:** when the batch's transaction
    /// fails, the reports are recorded again one by one, each in its own
    /// savepoint; a report that still fails is recorded without its details
    /// (its attempt count and next step are kept, so the retry schedule
    /// bounds the delivery; [`Recorded::degraded`]), and only if even that
    /// fails is it left out ([`Recorded::unrecorded`]). Failures of the
    /// database itself fail the call.
    pub async fn record_attempts(
        self,
        worker: &str,
        reports: Vec<AttemptReport>,
        disable_after: Duration,
    ) -> Result<Recorded, StorageError> {
        if reports.is_empty() {
            return Ok(Recorded::default());
        }
        let attempts = reports.len();
        let job = RecordJob {
            worker: worker.to_string(),
            reports,
            disable_after: millis(disable_after),
        };
        self.batch_or_each(job, record_batch, record_each, |e| {
            tracing::warn!(
                error = %describe(e), attempts,
                "recording a batch of webhook attempts failed; recording them one by one"
            );
        })
        .await
    }

    /// Runs `batch` over `job` in one write transaction at the store's
    /// time; if that fails, other than transiently, `warn`s and runs `each`
    /// (which writes the rows one at a time) in a new one instead.
    async fn batch_or_each<J, T>(
        self,
        job: J,
        batch: fn(&mut DbConnection, &J, i64) -> R<T>,
        each: fn(&mut DbConnection, &J, i64) -> R<T>,
        warn: impl FnOnce(&StorageError),
    ) -> Result<T, StorageError>
    where
        J: Send + Sync + 'static,
        T: Send + 'static,
    {
        let job = Arc::new(job);
        let clock = self.store.clock().clone();
        let first = {
            let (job, clock) = (Arc::clone(&job), clock.clone());
            self.store
                .write(move |c| c.write_tx(|c| batch(c, &job, clock.now().as_millis())))
                .await
        };
        match first {
            Err(e) if !is_transient(&e) => {
                warn(&e);
                self.store
                    .write(move |c| c.write_tx(|c| each(c, &job, clock.now().as_millis())))
                    .await
            }
            other => other,
        }
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

    /// How many outbox events are waiting to be fanned out (quarantined
    /// events are not counted; see [`Self::quarantined_count`]).
    pub async fn outbox_backlog(self) -> Result<i64, StorageError> {
        self.store.run(sql::outbox::backlog).await
    }

    /// How many deliveries are pending (waiting for an attempt or a retry).
    pub async fn delivery_backlog(self) -> Result<i64, StorageError> {
        self.store.run(sql::deliveries::backlog).await
    }

    /// [`Self::outbox_backlog`], [`Self::delivery_backlog`] and
    /// [`Self::quarantined_count`] read in one statement, so they agree
    /// with each other (an event the worker quarantines meanwhile is
    /// counted once, not as waiting and as quarantined).
    pub async fn gauges(self) -> Result<PipelineGauges, StorageError> {
        let (outbox_backlog, delivery_backlog, quarantined) =
            self.store.run(sql::outbox::gauges).await?;
        Ok(PipelineGauges {
            outbox_backlog,
            delivery_backlog,
            quarantined,
        })
    }
}

/// The webhook pipeline's backlogs at one moment ([`Worker::gauges`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PipelineGauges {
    /// Outbox events waiting to be fanned out (quarantined ones excepted).
    pub outbox_backlog: i64,
    /// Deliveries waiting for an attempt or a retry.
    pub delivery_backlog: i64,
    /// Outbox events quarantined.
    pub quarantined: i64,
}

/// What [`Worker::record_attempts`] records, shared by its tries.
struct RecordJob {
    worker: String,
    reports: Vec<AttemptReport>,
    disable_after: i64,
}

/// Records every report of `job` in the caller's transaction; any failure
/// fails the whole batch.
fn record_batch(c: &mut DbConnection, job: &RecordJob, t: i64) -> R<Recorded> {
    let ids: Vec<i64> = job.reports.iter().map(|r| r.delivery_id.get()).collect();
    let mut known = Known::preload(c, &ids)?;
    let mut out = Recorded::default();
    for r in &job.reports {
        record_one(
            c,
            &mut known,
            &job.worker,
            r,
            t,
            job.disable_after,
            Detail::Full,
            &mut out,
        )?;
    }
    let attempts: Vec<NewAttemptRow<'_>> = known.attempts.iter().map(AttemptDraft::row).collect();
    sql::deliveries::insert_attempts(c, &attempts)?;
    Ok(out)
}

/// The rows a batch of reports reads, read once for the whole batch (two
/// statements instead of two per report), and its attempt rows, written
/// with one statement at the end. Empty (see [`Known::none`]), every read
/// goes to the database and every attempt row is written at once.
struct Known {
    deliveries: HashMap<i64, sql::deliveries::DeliveryRow>,
    subscriptions: HashMap<i64, SubscriptionRow>,
    /// The batch's attempt rows, when `collect`; otherwise each is
    /// inserted as it comes.
    attempts: Vec<AttemptDraft>,
    collect: bool,
}

impl Known {
    /// Nothing read ahead: one report at a time, each in a savepoint of
    /// its own that may roll back.
    fn none() -> Self {
        Self {
            deliveries: HashMap::new(),
            subscriptions: HashMap::new(),
            attempts: Vec::new(),
            collect: false,
        }
    }

    /// Reads the deliveries `ids` and their subscriptions (on PostgreSQL
    /// locked `FOR KEY SHARE`, see `sql::subscriptions::lock_and_load`).
    fn preload(c: &mut DbConnection, ids: &[i64]) -> R<Self> {
        let deliveries: HashMap<i64, _> = sql::deliveries::by_ids(c, ids)?
            .into_iter()
            .map(|d| (d.id, d))
            .collect();
        let mut subs: Vec<i64> = deliveries.values().map(|d| d.subscription_id).collect();
        subs.sort_unstable();
        subs.dedup();
        let subscriptions = if subs.is_empty() {
            HashMap::new()
        } else {
            sql::subscriptions::lock_and_load(c, &subs)?
                .into_iter()
                .map(|s| (s.id, s))
                .collect()
        };
        Ok(Self {
            deliveries,
            subscriptions,
            attempts: Vec::new(),
            collect: true,
        })
    }

    /// Delivery `id` as read ahead, taken (a second report of the same
    /// delivery reads it again); otherwise read now.
    fn delivery(
        &mut self,
        c: &mut DbConnection,
        id: i64,
    ) -> R<Option<sql::deliveries::DeliveryRow>> {
        match self.deliveries.remove(&id) {
            Some(d) => Ok(Some(d)),
            None => sql::deliveries::by_id(c, id),
        }
    }

    /// Subscription `id` as read ahead, otherwise read now.
    fn subscription(&self, c: &mut DbConnection, id: i64) -> R<Option<SubscriptionRow>> {
        match self.subscriptions.get(&id) {
            Some(s) => Ok(Some(s.clone())),
            None => sql::subscriptions::by_id(c, id),
        }
    }

    /// Subscription `id` changed: read it again when next asked.
    fn forget_subscription(&mut self, id: i64) {
        self.subscriptions.remove(&id);
    }
}

/// An attempt row waiting for the batch's insert.
struct AttemptDraft {
    delivery_id: i64,
    attempt_no: i32,
    started_at: i64,
    duration_ms: i64,
    status_code: Option<i32>,
    outcome: &'static str,
    error: Option<String>,
    response_excerpt: Option<String>,
}

impl AttemptDraft {
    fn row(&self) -> NewAttemptRow<'_> {
        NewAttemptRow {
            delivery_id: self.delivery_id,
            attempt_no: self.attempt_no,
            started_at: self.started_at,
            duration_ms: self.duration_ms,
            status_code: self.status_code,
            outcome: self.outcome,
            error: self.error.as_deref(),
            response_excerpt: self.response_excerpt.as_deref(),
        }
    }
}

/// Records the reports of `job` one by one, each in its own savepoint: a
/// report that fails is tried again without its details, and left out
/// only when even that fails.
fn record_each(c: &mut DbConnection, job: &RecordJob, t: i64) -> R<Recorded> {
    let ids: Vec<i64> = job.reports.iter().map(|r| r.delivery_id.get()).collect();
    // Only for its locks: each report reads its own rows, in a savepoint
    // that may roll back.
    Known::preload(c, &ids)?;
    let mut out = Recorded::default();
    for r in &job.reports {
        let tried = |c: &mut DbConnection, detail: Detail| {
            c.write_tx(|c| -> R<Recorded> {
                let mut one = Recorded::default();
                let known = &mut Known::none();
                record_one(
                    c,
                    known,
                    &job.worker,
                    r,
                    t,
                    job.disable_after,
                    detail,
                    &mut one,
                )?;
                Ok(one)
            })
        };
        let full_error = match tried(c, Detail::Full) {
            Ok(one) => {
                out.absorb(one);
                continue;
            }
            Err(e) if is_transient(&e) => return Err(e),
            Err(e) => e,
        };
        match tried(c, Detail::Bare) {
            Ok(one) => {
                tracing::warn!(
                    delivery = %r.delivery_id, error = %describe(&full_error),
                    "a webhook attempt was recorded without its details"
                );
                out.degraded.push(r.delivery_id);
                out.absorb(one);
            }
            Err(e) if is_transient(&e) => return Err(e),
            Err(e) => {
                tracing::error!(
                    delivery = %r.delivery_id, error = %describe(&e),
                    "a webhook attempt cannot be recorded; its lease will expire"
                );
                out.unrecorded.push(r.delivery_id);
            }
        }
    }
    Ok(out)
}

/// How much of a report [`record_one`] stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// Everything; any failure fails the report.
    Full,
    /// What bounds the delivery (its attempt count and next step); the
    /// attempt's row in the delivery log (without excerpt or error) and the
    /// subscription's health are stored only if they can be.
    Bare,
}

/// Stored as the error of an attempt recorded without its details.
const DETAILS_LOST: &str = "the attempt's details could not be recorded";

/// Records one report inside [`Worker::record_attempts`]' transaction.
#[expect(
    clippy::too_many_arguments,
    reason = "one report, the batch's rows and the batch's settings"
)]
fn record_one(
    c: &mut DbConnection,
    known: &mut Known,
    worker: &str,
    r: &AttemptReport,
    t: i64,
    disable_after: i64,
    detail: Detail,
    out: &mut Recorded,
) -> R<()> {
    let Some(d) = known.delivery(c, r.delivery_id.get())? else {
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
    let error = r
        .error
        .as_deref()
        .map(|e| sanitize_text(e, MAX_ERROR_BYTES));
    let excerpt = r
        .response_excerpt
        .as_deref()
        .map(|e| sanitize_text(e, MAX_EXCERPT_BYTES));
    let draft = AttemptDraft {
        delivery_id: d.id,
        attempt_no: attempts,
        started_at: r.started_at.as_millis(),
        duration_ms: millis(r.duration),
        status_code: status,
        outcome: r.outcome.as_str(),
        error: error.map(Cow::into_owned),
        response_excerpt: excerpt.map(Cow::into_owned),
    };
    out.recorded += 1;
    if detail == Detail::Bare {
        let mut row = draft.row();
        row.error = Some(DETAILS_LOST);
        row.response_excerpt = None;
        // Best effort from here on: the delivery's own update above is what
        // bounds it. But the database's own trouble (a full disk) fails the
        // whole record: on SQLite it may have rolled back the transaction.
        let best_effort = |done: R<()>| match done {
            Err(e) if is_transient(&e) => Err(e),
            _ => Ok(()),
        };
        best_effort(c.write_tx(|c| -> R<()> { sql::deliveries::insert_attempt(c, &row) }))?;
        return best_effort(c.write_tx(|c| -> R<()> {
            subscription_health(c, known, r, &d, t, disable_after, out)
        }));
    }
    if known.collect {
        known.attempts.push(draft);
    } else {
        sql::deliveries::insert_attempt(c, &draft.row())?;
    }
    subscription_health(c, known, r, &d, t, disable_after, out)
}

/// What an attempt means for its subscription: 410 deletes it, a success
/// ends its failing period, a failure starts or continues it and may
/// disable it.
fn subscription_health(
    c: &mut DbConnection,
    known: &mut Known,
    r: &AttemptReport,
    d: &sql::deliveries::DeliveryRow,
    t: i64,
    disable_after: i64,
    out: &mut Recorded,
) -> R<()> {
    if r.next == NextStep::Gone {
        known.forget_subscription(d.subscription_id);
        if sql::subscriptions::delete(c, d.subscription_id)? > 0 {
            out.deleted.push(SubscriptionId::new(d.subscription_id));
        }
        return Ok(());
    }
    let Some(sub) = known.subscription(c, d.subscription_id)? else {
        return Ok(());
    };
    if r.outcome == AttemptOutcome::Success {
        if sub.failing_since.is_some() {
            known.forget_subscription(sub.id);
            sql::subscriptions::set_failing_since(c, sub.id, None)?;
        }
        return Ok(());
    }
    let since = match sub.failing_since {
        Some(since) => since,
        None => {
            let since = r.started_at.as_millis();
            known.forget_subscription(sub.id);
            sql::subscriptions::set_failing_since(c, sub.id, Some(since))?;
            since
        }
    };
    if sub.state == SubscriptionState::Active.as_str() && t.saturating_sub(since) >= disable_after {
        known.forget_subscription(sub.id);
        sql::subscriptions::disable(c, sub.id)?;
        sql::deliveries::cancel_pending(c, sub.id, t)?;
        out.disabled.push(SubscriptionId::new(sub.id));
    }
    Ok(())
}

/// What [`Worker::fan_out_next`] asked for, shared by its tries.
struct FanOutPlan {
    worker: String,
    limit: i64,
    first_delay: i64,
    claim: Option<i64>,
}

/// An outbox row read for fan-out.
struct Event {
    id: i64,
    tenant_id: i64,
    event_type: EventType,
    payload: Value,
    created_at: i64,
}

/// Reads a taken row; a row that cannot be read is an error of its own.
fn read_event(row: DueRow) -> Result<Event, String> {
    let event_type = row
        .event_type
        .parse::<EventType>()
        .map_err(|e| format!("unknown event type: {e}"))?;
    let payload = serde_json::from_str(&row.payload.0)
        .map_err(|e| format!("the payload cannot be read back: {e}"))?;
    // Delivered with the event's id, as every later attempt is (`delivery::due_delivery`).
    let payload = switchboard_domain::event::with_event_id(payload, row.id);
    Ok(Event {
        id: row.id,
        tenant_id: row.tenant_id,
        event_type,
        payload,
        created_at: row.created_at,
    })
}

/// Takes and fans out a batch in the caller's transaction. Rows whose
/// payload cannot be read are put back (or quarantined) in the same
/// transaction; any other failure fails the whole batch.
fn fan_out_batch(c: &mut DbConnection, plan: &FanOutPlan, t: i64) -> R<FanOut> {
    let rows = sql::outbox::take_due(c, &plan.worker, t, plan.limit)?;
    if rows.is_empty() {
        return Ok(FanOut::default());
    }
    let mut events = Vec::with_capacity(rows.len());
    let mut failed = Vec::new();
    for row in rows {
        let id = row.id;
        match read_event(row) {
            Ok(e) => events.push(e),
            Err(why) => failed.extend(fan_out_failed(c, id, t, &why)?),
        }
    }
    let mut out = fan_out_rows(c, plan, &events, t)?;
    out.events = events.len();
    out.failed = failed;
    Ok(out)
}

/// Fans out the due rows one at a time in the caller's transaction, each
/// in its own savepoint, after the batch failed: a row that fails is put
/// back (or quarantined) and the others go on.
fn fan_out_each(c: &mut DbConnection, plan: &FanOutPlan, t: i64) -> R<FanOut> {
    let mut out = FanOut::default();
    for id in sql::outbox::due_ids(c, t, plan.limit)? {
        let one = c.write_tx(|c| -> R<FanOut> {
            let Some(row) = sql::outbox::take_one(c, &plan.worker, t, id)? else {
                return Ok(FanOut::default());
            };
            let event = match read_event(row) {
                Ok(e) => e,
                Err(why) => {
                    return Ok(FanOut {
                        failed: fan_out_failed(c, id, t, &why)?.into_iter().collect(),
                        ..FanOut::default()
                    });
                }
            };
            let mut one = fan_out_rows(c, plan, std::slice::from_ref(&event), t)?;
            one.events = 1;
            Ok(one)
        });
        match one {
            Ok(one) => out.absorb(one),
            Err(e) if is_transient(&e) => return Err(e),
            Err(e) => out.failed.extend(fan_out_failed(c, id, t, &describe(&e))?),
        }
    }
    Ok(out)
}

/// Records a failed fan-out of outbox row `id`: due again after the next
/// of [`OUTBOX_RETRY_DELAYS`], or quarantined at the last try.
fn fan_out_failed(c: &mut DbConnection, id: i64, t: i64, why: &str) -> R<Option<FanOutFailure>> {
    let error = sanitize_text(why, MAX_ERROR_BYTES);
    let mut retry_at = None;
    let noted = sql::outbox::note_failure(c, id, t, &error, |failures| {
        let tries = u32::try_from(failures).unwrap_or(u32::MAX);
        if tries >= OUTBOX_MAX_TRIES {
            return None;
        }
        let delay = OUTBOX_RETRY_DELAYS
            .get(usize::try_from(tries.saturating_sub(1)).unwrap_or(usize::MAX))
            .or(OUTBOX_RETRY_DELAYS.last())
            .copied()
            .unwrap_or(Duration::from_secs(1));
        let delay = millis(delay);
        retry_at = Some(Timestamp::from_millis(t.saturating_add(delay)));
        Some(delay)
    })?;
    Ok(noted.map(|(tenant, failures)| FanOutFailure {
        event_id: EventId::new(id),
        tenant_id: TenantId::new(tenant),
        tries: u32::try_from(failures).unwrap_or(u32::MAX),
        quarantined: retry_at.is_none(),
        retry_at,
        error: error.into_owned(),
    }))
}

/// Ends a claimed delivery that cannot be sent (its event cannot be read
/// back): failed, with a row in the delivery log saying why.
fn fail_unsendable(c: &mut DbConnection, id: i64, t: i64, e: &StorageError) -> R<()> {
    let why = sanitize_text(
        &format!("the event cannot be sent: {}", describe(e)),
        MAX_ERROR_BYTES,
    )
    .into_owned();
    tracing::error!(delivery = id, error = %why, "a webhook delivery cannot be sent; marked failed");
    if sql::deliveries::fail_unsendable(c, id, t)? == 0 {
        return Ok(());
    }
    let attempt_no = sql::deliveries::by_id(c, id)?.map_or(1, |d| d.attempt_count);
    sql::deliveries::insert_attempt(
        c,
        &NewAttemptRow {
            delivery_id: id,
            attempt_no,
            started_at: t,
            duration_ms: 0,
            status_code: None,
            outcome: AttemptOutcome::Refused.as_str(),
            error: Some(&why),
            response_excerpt: None,
        },
    )
}

/// Whether `e` is the database's trouble rather than a row's: such a
/// failure counts against no event or report.
fn is_transient(e: &StorageError) -> bool {
    use diesel::result::{DatabaseErrorKind as K, Error as E};
    match e {
        // A full disk is the database's too: no event is quarantined, and no
        // attempt recorded without its details, because the disk filled up.
        StorageError::Unavailable(_) | StorageError::Contention | StorageError::DiskFull { .. } => {
            true
        }
        StorageError::Internal(source) => source.downcast_ref::<E>().is_some_and(|d| {
            matches!(
                d,
                E::DatabaseError(
                    K::SerializationFailure | K::ClosedConnection | K::UnableToSendCommand,
                    _
                ) | E::BrokenTransactionManager
                    | E::AlreadyInTransaction
            )
        }),
        _ => false,
    }
}

/// `e` with its causes, for logs and the quarantine record.
fn describe(e: &StorageError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The fan-out itself: for each of `events` (taken outbox rows, in id
/// order), one delivery per active subscription of the same tenant to the
/// same event type created no later than the event, first due
/// `plan.first_delay` ms after `t`; with `plan.claim` (ms) the new
/// deliveries are leased to `plan.worker` and returned. A delivery that
/// already exists for the event and subscription is not created again.
/// Leaves [`FanOut::events`] to the caller.
fn fan_out_rows(c: &mut DbConnection, plan: &FanOutPlan, events: &[Event], t: i64) -> R<FanOut> {
    let mut out = FanOut::default();
    if events.is_empty() {
        return Ok(out);
    }
    let mut tenants: Vec<i64> = events.iter().map(|e| e.tenant_id).collect();
    tenants.sort_unstable();
    tenants.dedup();
    let mut types: Vec<String> = events
        .iter()
        .map(|e| e.event_type.as_str().to_string())
        .collect();
    types.sort_unstable();
    types.dedup();
    let subs = sql::subscriptions::active(c, &tenants, &types)?;
    let lease_until = plan.claim.map(|l| t.saturating_add(l));
    // Every (event, subscription) pair that matches, each with its message
    // id, inserted with one statement.
    let mut pairs: Vec<(&Event, &SubscriptionRow, String)> = Vec::new();
    for event in events {
        for sub in subs.iter().filter(|s| {
            s.tenant_id == event.tenant_id
                && s.event == event.event_type.as_str()
                && s.created_at <= event.created_at
        }) {
            pairs.push((event, sub, message_id()?));
        }
    }
    let rows: Vec<NewDeliveryRow<'_>> = pairs
        .iter()
        .map(|(event, sub, message_id)| NewDeliveryRow {
            tenant_id: event.tenant_id,
            outbox_id: event.id,
            subscription_id: sub.id,
            message_id,
            state: DeliveryState::Pending.as_str(),
            attempt_count: 0,
            next_attempt_at: t.saturating_add(plan.first_delay),
            lease_until,
            claimed_by: lease_until.map(|_| plan.worker.as_str()),
            created_at: t,
        })
        .collect();
    let created = sql::deliveries::insert_many(c, &rows)?;
    out.deliveries = created.len();
    let Some(lease) = lease_until else {
        return Ok(out);
    };
    // Claimed in the order of the events and subscriptions.
    let new: HashMap<(i64, i64), i64> = created
        .into_iter()
        .map(|(id, event, sub)| ((event, sub), id))
        .collect();
    for (event, sub, message_id) in pairs {
        let Some(&id) = new.get(&(event.id, sub.id)) else {
            continue;
        };
        out.claimed.push(DueDelivery {
            id: DeliveryId::new(id),
            tenant_id: TenantId::new(event.tenant_id),
            event_id: EventId::new(event.id),
            message_id,
            event_type: event.event_type,
            payload: event.payload.clone(),
            committed_at: Timestamp::from_millis(event.created_at),
            subscription: SubscriptionRow::clone(sub).try_into()?,
            attempt_count: 0,
            lease_until: Timestamp::from_millis(lease),
        });
    }
    Ok(out)
}
