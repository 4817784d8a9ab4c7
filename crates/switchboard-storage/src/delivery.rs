//! Webhook deliveries: fan-out of outbox events to subscriptions, leased
//! claiming of due deliveries, attempt records, and the subscription health
//! rules (410 Gone deletes, continuous failure disables).
//!
//! The life of an event: a write commits it to the outbox; a worker calls
//! [`Store::fan_out_next`], which in one transaction takes the oldest due
//! events, inserts one delivery per matching active subscription and marks
//! the events processed (optionally leasing the new deliveries to the same
//! worker, so the first attempt needs no second claim). The two-step form,
//! [`Store::claim_outbox`] (a leased claim, its own transaction) and then
//! [`Store::fan_out`], does the same for events claimed earlier. Later
//! attempts are claimed with [`Store::claim_deliveries`]. Each attempt is
//! recorded with [`Store::record_attempts`], which also reschedules,
//! completes or fails the delivery in the same transaction. A lease that
//! expires (the worker crashed) makes the delivery due again, so a delivery
//! is never lost, though a receiver may see it twice.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use diesel::connection::Connection;
use serde_json::Value;
use switchboard_domain::{
    EventId, EventType, SubscriptionId, SubscriptionState, TenantId, Timestamp, WebhookSubscription,
};

use crate::connection::DbConn;
use crate::delivery_repo::{AttemptRow, DeliveryRow, FanOutQueries, NewAttemptRow, NewDeliveryRow};
use crate::rows::{OutboxRow, SubscriptionRow};
use crate::{StorageError, Store, now};

/// Runs `$body` with `$c` bound to the backend's connection and `repo` to
/// the backend's delivery query module.
macro_rules! with_dconn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            DbConn::Sqlite($c) => {
                #[allow(unused_imports, clippy::allow_attributes, reason = "macro")]
                use crate::delivery_repo::sqlite as repo;
                let $c: &mut diesel::sqlite::SqliteConnection = &mut *$c;
                $body
            }
            DbConn::Pg($c) => {
                #[allow(unused_imports, clippy::allow_attributes, reason = "macro")]
                use crate::delivery_repo::pg as repo;
                let $c: &mut diesel::pg::PgConnection = &mut *$c;
                $body
            }
        }
    };
}

/// Like `with_dconn!`, inside a write transaction (`BEGIN IMMEDIATE` on SQLite).
macro_rules! dwrite_tx {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            DbConn::Sqlite(inner) => crate::store::sqlite_transaction(inner, |$c| {
                #[allow(unused_imports, clippy::allow_attributes, reason = "macro")]
                use crate::delivery_repo::sqlite as repo;
                $body
            }),
            DbConn::Pg(inner) => inner.transaction(|$c| {
                #[allow(unused_imports, clippy::allow_attributes, reason = "macro")]
                use crate::delivery_repo::pg as repo;
                $body
            }),
        }
    };
}

/// Identifies one delivery: one event to one subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DeliveryId(i64);

impl DeliveryId {
    /// Wraps a raw database id.
    #[must_use]
    pub const fn new(raw: i64) -> Self {
        Self(raw)
    }

    /// The raw id.
    #[must_use]
    pub const fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A delivery id string that is not a positive decimal integer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a valid delivery id")]
pub struct ParseDeliveryIdError(pub String);

impl FromStr for DeliveryId {
    type Err = ParseDeliveryIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseDeliveryIdError(s.chars().take(64).collect());
        if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        s.parse::<i64>()
            .ok()
            .filter(|v| *v > 0)
            .map(Self)
            .ok_or_else(err)
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Waiting for its next attempt (or being attempted).
    Pending,
    /// A 2xx answer was received.
    Succeeded,
    /// The retry schedule ran out.
    Failed,
    /// Its subscription was disabled or removed before it succeeded.
    Cancelled,
}

impl DeliveryState {
    /// The stored (and shown) name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Result<Self, StorageError> {
        match s {
            "pending" => Ok(Self::Pending),
            "succeeded" => Ok(Self::Succeeded),
            "failed" => Ok(Self::Failed),
            "cancelled" => Ok(Self::Cancelled),
            other => Err(StorageError::internal(format!(
                "unknown delivery state {other:?}"
            ))),
        }
    }
}

/// A delivery leased to a worker, with everything needed to send it.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    /// The delivery.
    pub id: DeliveryId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// The outbox event delivered.
    pub event_id: EventId,
    /// The `webhook-id`: stable across every attempt of this delivery.
    pub message_id: String,
    /// The event type.
    pub event_type: EventType,
    /// The exact payload to send.
    pub payload: Value,
    /// When the event was committed (for commit-to-delivery latency).
    pub committed_at: Timestamp,
    /// The subscription: target URL and signing secrets.
    pub subscription: WebhookSubscription,
    /// Attempts already made.
    pub attempt_count: u32,
    /// The lease held by the worker that claimed it.
    pub lease_until: Timestamp,
}

/// What [`Store::fan_out`] or [`Store::fan_out_next`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FanOut {
    /// Outbox events marked processed.
    pub events: usize,
    /// Deliveries created.
    pub deliveries: usize,
    /// The new deliveries leased to the caller (when a lease was asked for
    /// and the first attempt is due at once).
    pub claimed: Vec<DueDelivery>,
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    /// 2xx.
    Success,
    /// Any other status code.
    HttpError,
    /// No complete answer within the timeout.
    Timeout,
    /// Connection refused, DNS failure, TLS error…
    NetworkError,
    /// The target was refused before sending (SSRF guard, bad URL).
    Refused,
}

impl AttemptOutcome {
    /// The stored (and shown) name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::HttpError => "http_error",
            Self::Timeout => "timeout",
            Self::NetworkError => "network_error",
            Self::Refused => "refused",
        }
    }
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Done: the attempt succeeded.
    Succeeded,
    /// Try again at this time.
    RetryAt(Timestamp),
    /// Give up: the schedule ran out.
    Failed,
    /// The receiver answered 410 Gone: delete the subscription now.
    Gone,
}

/// One attempt, as a worker reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptReport {
    /// The delivery attempted.
    pub delivery_id: DeliveryId,
    /// When the request started.
    pub started_at: Timestamp,
    /// How long it took.
    pub duration: Duration,
    /// The response status, if one arrived.
    pub status_code: Option<u16>,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// A short description of a failure (never the response body).
    pub error: Option<String>,
    /// The start of the response body (capped by the worker).
    pub response_excerpt: Option<String>,
    /// What to do next.
    pub next: NextStep,
}

/// What [`Store::record_attempts`] did besides recording.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Attempts recorded (attempts of deliveries that no longer exist are skipped).
    pub recorded: usize,
    /// Subscriptions disabled after failing continuously for too long.
    pub disabled: Vec<SubscriptionId>,
    /// Subscriptions deleted because the receiver answered 410 Gone.
    pub deleted: Vec<SubscriptionId>,
}

/// One recorded attempt, for the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// Attempt id (increasing; the paging cursor).
    pub id: i64,
    /// The delivery.
    pub delivery_id: DeliveryId,
    /// The delivery's `webhook-id`.
    pub message_id: String,
    /// The event type delivered.
    pub event_type: String,
    /// 1 for the first attempt of the delivery.
    pub attempt_no: u32,
    /// When the request started.
    pub started_at: Timestamp,
    /// How long it took, in milliseconds.
    pub duration_ms: i64,
    /// The response status, if one arrived.
    pub status_code: Option<u16>,
    /// `success`, `http_error`, `timeout`, `network_error` or `refused`.
    pub outcome: String,
    /// A short description of a failure.
    pub error: Option<String>,
    /// The start of the response body.
    pub response_excerpt: Option<String>,
}

/// A delivery's current state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The delivery.
    pub id: DeliveryId,
    /// Its subscription.
    pub subscription_id: SubscriptionId,
    /// The outbox event delivered.
    pub event_id: EventId,
    /// The `webhook-id`.
    pub message_id: String,
    /// The event type.
    pub event_type: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempt_count: u32,
    /// When the next attempt is due (meaningful while pending).
    pub next_attempt_at: Timestamp,
    /// The last response status.
    pub last_status_code: Option<u16>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it succeeded, failed or was cancelled.
    pub completed_at: Option<Timestamp>,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

fn status_u16(s: Option<i32>) -> Option<u16> {
    s.and_then(|v| u16::try_from(v).ok())
}

fn attempts_u32(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// A new `webhook-id`: `msg_` and 128 random bits in hex.
fn message_id() -> Result<String, StorageError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(StorageError::internal)?;
    Ok(b.iter().fold(String::from("msg_"), |mut s, x| {
        use std::fmt::Write as _;
        let _ = write!(s, "{x:02x}");
        s
    }))
}

fn due_delivery(
    d: DeliveryRow,
    (event_type, payload, committed_at): (String, crate::json_column::JsonValue, i64),
    sub: SubscriptionRow,
) -> Result<DueDelivery, StorageError> {
    Ok(DueDelivery {
        id: DeliveryId(d.id),
        tenant_id: TenantId::new(d.tenant_id),
        event_id: EventId::new(d.outbox_id),
        message_id: d.message_id,
        event_type: event_type
            .parse::<EventType>()
            .map_err(StorageError::internal)?,
        payload: payload.0,
        committed_at: Timestamp::from_millis(committed_at),
        subscription: sub.try_into()?,
        attempt_count: attempts_u32(d.attempt_count),
        lease_until: Timestamp::from_millis(d.lease_until.unwrap_or(d.next_attempt_at)),
    })
}

fn delivery(d: DeliveryRow, event_type: String) -> Result<Delivery, StorageError> {
    Ok(Delivery {
        id: DeliveryId(d.id),
        subscription_id: SubscriptionId::new(d.subscription_id),
        event_id: EventId::new(d.outbox_id),
        message_id: d.message_id,
        event_type,
        state: DeliveryState::parse(&d.state)?,
        attempt_count: attempts_u32(d.attempt_count),
        next_attempt_at: Timestamp::from_millis(d.next_attempt_at),
        last_status_code: status_u16(d.last_status_code),
        created_at: Timestamp::from_millis(d.created_at),
        completed_at: d.completed_at.map(Timestamp::from_millis),
    })
}

fn attempt((a, message_id, event_type): (AttemptRow, String, String)) -> DeliveryAttempt {
    DeliveryAttempt {
        id: a.id,
        delivery_id: DeliveryId(a.delivery_id),
        message_id,
        event_type,
        attempt_no: attempts_u32(a.attempt_no),
        started_at: Timestamp::from_millis(a.started_at),
        duration_ms: a.duration_ms,
        status_code: status_u16(a.status_code),
        outcome: a.outcome,
        error: a.error,
        response_excerpt: a.response_excerpt,
    }
}

impl Store {
    /// Fans claimed outbox events out to deliveries, in one transaction:
    /// for each event still leased to `worker`, one delivery per active
    /// subscription of the same tenant to the same event type that existed
    /// when the event was committed; then the events are marked processed.
    /// Running it twice for the same event creates nothing twice.
    ///
    /// The first attempt is due `first_delay` after now. When it is due at
    /// once and `claim` is given, the new deliveries are leased to `worker`
    /// for that long and returned, ready to send.
    pub async fn fan_out(
        &self,
        worker: &str,
        events: &[EventId],
        first_delay: Duration,
        claim: Option<Duration>,
    ) -> Result<FanOut, StorageError> {
        let worker = worker.to_string();
        let ids: Vec<i64> = events.iter().map(|e| e.get()).collect();
        if ids.is_empty() {
            return Ok(FanOut::default());
        }
        let first_delay = millis(first_delay);
        let claim = claim.filter(|_| first_delay == 0).map(millis);
        self.write(move |c| {
            dwrite_tx!(c, c => {
                let t = now().as_millis();
                let rows = repo::leased_outbox(c, &worker, &ids)?;
                if rows.is_empty() {
                    return Ok(FanOut::default());
                }
                let mut out = fan_out_rows(c, &worker, &rows, t, first_delay, claim)?;
                let processed: Vec<i64> = rows.iter().map(|r| r.id).collect();
                out.events = repo::mark_outbox_processed(c, &worker, &processed, t)?;
                Ok(out)
            })
        })
        .await
    }

    /// Takes the oldest due outbox events and fans them out, all in one
    /// write transaction: the single-step form of [`Self::claim_outbox`]
    /// followed by [`Self::fan_out`], for a worker that fans out at once.
    ///
    /// Up to `limit` (1-10,000) events are taken in id order: those not yet
    /// processed, available, and not leased through [`Self::claim_outbox`]
    /// (or whose lease expired). Each gets one delivery per active
    /// subscription of its tenant to its event type that existed when it was
    /// committed, exactly as [`Self::fan_out`] creates them (`first_delay`,
    /// and with `claim` the new deliveries leased to `worker` and returned in
    /// [`FanOut::claimed`]), and the events are marked processed. An event
    /// without a subscriber is marked processed with no delivery.
    ///
    /// No outbox lease is taken: nothing is held between transactions. If
    /// the transaction fails (or the process dies before it commits) nothing
    /// of it remains and the events stay pending. On PostgreSQL concurrent
    /// callers, in any process, skip each other's rows
    /// (`FOR UPDATE SKIP LOCKED`) and never take the same event; on SQLite
    /// the single writer serializes them.
    ///
    /// Returns [`FanOut::default`] when nothing is due.
    pub async fn fan_out_next(
        &self,
        worker: &str,
        limit: u32,
        first_delay: Duration,
        claim: Option<Duration>,
    ) -> Result<FanOut, StorageError> {
        let worker = worker.to_string();
        let limit = i64::from(limit.clamp(1, 10_000));
        let first_delay = millis(first_delay);
        let claim = claim.filter(|_| first_delay == 0).map(millis);
        self.write(move |c| {
            dwrite_tx!(c, c => {
                let t = now().as_millis();
                let rows = repo::take_due_outbox(c, &worker, t, limit)?;
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
        &self,
        worker: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StorageError> {
        let worker = worker.to_string();
        let lease = millis(lease);
        let limit = i64::from(limit.clamp(1, 10_000));
        // Most calls find nothing due. Ask first without a write transaction
        // (on SQLite, without the writer lock); whatever is due now is still
        // due when the claim below runs.
        let any = self
            .run(move |c| with_dconn!(c, c => repo::any_due(c, now().as_millis())))
            .await?;
        if !any {
            return Ok(Vec::new());
        }
        self.write(move |c| {
            dwrite_tx!(c, c => {
                let t = now().as_millis();
                let ids = repo::claim_due(c, &worker, t, t.saturating_add(lease), limit)?;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                repo::load_due(c, &ids)?
                    .into_iter()
                    .map(|(d, o, s)| due_delivery(d, o, s))
                    .collect()
            })
        })
        .await
    }

    /// Records attempts and applies their [`NextStep`] in one transaction.
    /// A failure starts (or continues) the subscription's failing period; a
    /// subscription failing for `disable_after` or longer is disabled and its
    /// pending deliveries are cancelled. A success ends the failing period.
    /// [`NextStep::Gone`] deletes the subscription at once (with its
    /// deliveries). Attempts of deliveries that no longer exist are skipped.
    pub async fn record_attempts(
        &self,
        reports: Vec<AttemptReport>,
        disable_after: Duration,
    ) -> Result<Recorded, StorageError> {
        if reports.is_empty() {
            return Ok(Recorded::default());
        }
        let disable_after = millis(disable_after);
        self.write(move |c| {
            dwrite_tx!(c, c => {
                let t = now().as_millis();
                let ids: Vec<i64> = reports.iter().map(|r| r.delivery_id.get()).collect();
                repo::lock_subscriptions_of(c, &ids)?;
                let mut out = Recorded::default();
                for r in &reports {
                    let Some(d) = repo::delivery_by_id(c, r.delivery_id.get())? else {
                        continue;
                    };
                    let attempts = d.attempt_count.saturating_add(1);
                    let status = r.status_code.map(i32::from);
                    repo::insert_attempt(c, &NewAttemptRow {
                        delivery_id: d.id,
                        attempt_no: attempts,
                        started_at: r.started_at.as_millis(),
                        duration_ms: millis(r.duration),
                        status_code: status,
                        outcome: r.outcome.as_str(),
                        error: r.error.as_deref(),
                        response_excerpt: r.response_excerpt.as_deref(),
                    })?;
                    out.recorded += 1;
                    match r.next {
                        NextStep::Succeeded => {
                            repo::finish_delivery(c, d.id, DeliveryState::Succeeded.as_str(), attempts, status, t)?;
                        }
                        NextStep::RetryAt(at) => {
                            repo::reschedule_delivery(c, d.id, attempts, status, at.as_millis())?;
                        }
                        NextStep::Failed => {
                            repo::finish_delivery(c, d.id, DeliveryState::Failed.as_str(), attempts, status, t)?;
                        }
                        NextStep::Gone => {
                            repo::finish_delivery(c, d.id, DeliveryState::Cancelled.as_str(), attempts, status, t)?;
                            if repo::delete_subscription(c, d.subscription_id)? > 0 {
                                out.deleted.push(SubscriptionId::new(d.subscription_id));
                            }
                            continue;
                        }
                    }
                    let Some(sub) = repo::subscription(c, d.subscription_id)? else {
                        continue;
                    };
                    if r.outcome == AttemptOutcome::Success {
                        if sub.failing_since.is_some() {
                            repo::set_failing_since(c, sub.id, None)?;
                        }
                        continue;
                    }
                    let since = match sub.failing_since {
                        Some(since) => since,
                        None => {
                            let since = r.started_at.as_millis();
                            repo::set_failing_since(c, sub.id, Some(since))?;
                            since
                        }
                    };
                    if sub.state == SubscriptionState::Active.as_str()
                        && t.saturating_sub(since) >= disable_after
                    {
                        repo::disable_subscription(c, sub.id)?;
                        repo::cancel_pending(c, sub.id, t)?;
                        out.disabled.push(SubscriptionId::new(sub.id));
                    }
                }
                Ok(out)
            })
        })
        .await
    }

    /// Gives leased deliveries back (for example on shutdown), due at once;
    /// only those still leased to `worker` and pending change.
    pub async fn release_deliveries(
        &self,
        worker: &str,
        ids: &[DeliveryId],
    ) -> Result<usize, StorageError> {
        let worker = worker.to_string();
        let ids: Vec<i64> = ids.iter().map(|i| i.get()).collect();
        if ids.is_empty() {
            return Ok(0);
        }
        self.write(move |c| with_dconn!(c, c => repo::release(c, &worker, &ids)))
            .await
    }

    /// How many deliveries are pending (waiting for an attempt or a retry).
    pub async fn delivery_backlog(&self) -> Result<i64, StorageError> {
        self.run(|c| with_dconn!(c, c => repo::backlog(c))).await
    }

    /// A page of a subscription's attempts, newest first: those with an id
    /// below `before` (all when `None`), at most `limit` (1-1000).
    pub async fn delivery_attempts(
        &self,
        tenant: TenantId,
        subscription: SubscriptionId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<DeliveryAttempt>, StorageError> {
        let limit = i64::from(limit.clamp(1, 1000));
        self.run(move |c| {
            with_dconn!(c, c => repo::attempts_page(c, tenant.get(), subscription.get(), before, limit))
        })
        .await
        .map(|rows| rows.into_iter().map(attempt).collect())
    }

    /// A subscription's deliveries, newest first (at most `limit`, 1-1000).
    pub async fn deliveries(
        &self,
        tenant: TenantId,
        subscription: SubscriptionId,
        limit: u32,
    ) -> Result<Vec<Delivery>, StorageError> {
        let limit = i64::from(limit.clamp(1, 1000));
        self.run(move |c| {
            with_dconn!(c, c => repo::deliveries_of(c, tenant.get(), subscription.get(), limit))
        })
        .await?
        .into_iter()
        .map(|(d, e)| delivery(d, e))
        .collect()
    }

    /// One delivery of the tenant's subscription.
    pub async fn delivery(
        &self,
        tenant: TenantId,
        subscription: SubscriptionId,
        id: DeliveryId,
    ) -> Result<Delivery, StorageError> {
        let (d, e) = self
            .run(move |c| {
                with_dconn!(c, c => repo::delivery_of(c, tenant.get(), subscription.get(), id.get()))
            })
            .await?
            .ok_or(StorageError::NotFound)?;
        delivery(d, e)
    }

    /// Makes a delivery due again now, whatever its state: one more
    /// attempt with the same `webhook-id`. If it still had retries left,
    /// its schedule continues after that attempt. A disabled subscription's
    /// deliveries cannot be redelivered ([`StorageError::Conflict`]).
    pub async fn redeliver(
        &self,
        tenant: TenantId,
        subscription: SubscriptionId,
        id: DeliveryId,
    ) -> Result<Delivery, StorageError> {
        self.write(move |c| {
            dwrite_tx!(c, c => {
                let sub = repo::subscription(c, subscription.get())?
                    .filter(|s| s.tenant_id == tenant.get())
                    .ok_or(StorageError::NotFound)?;
                if sub.state != SubscriptionState::Active.as_str() {
                    return Err(StorageError::Conflict("the subscription is disabled".into()));
                }
                if repo::delivery_of(c, tenant.get(), subscription.get(), id.get())?.is_none() {
                    return Err(StorageError::NotFound);
                }
                repo::make_due(c, id.get(), now().as_millis())?;
                let (d, e) = repo::delivery_of(c, tenant.get(), subscription.get(), id.get())?
                    .ok_or(StorageError::NotFound)?;
                delivery(d, e)
            })
        })
        .await
    }

    /// Cancels the pending deliveries of one of the tenant's subscriptions;
    /// returns how many.
    pub async fn cancel_deliveries(
        &self,
        tenant: TenantId,
        subscription: SubscriptionId,
    ) -> Result<usize, StorageError> {
        self.write(move |c| {
            dwrite_tx!(c, c => {
                repo::subscription(c, subscription.get())?
                    .filter(|s| s.tenant_id == tenant.get())
                    .ok_or(StorageError::NotFound)?;
                repo::cancel_pending(c, subscription.get(), now().as_millis())
            })
        })
        .await
    }

    /// The payloads of the tenant's most recent events of one type, newest
    /// first (at most `limit`, 1-100), exactly as they are delivered.
    pub async fn recent_payloads(
        &self,
        tenant: TenantId,
        event: EventType,
        limit: u32,
    ) -> Result<Vec<Value>, StorageError> {
        let limit = i64::from(limit.clamp(1, 100));
        self.run(move |c| {
            with_dconn!(c, c => repo::recent_payloads(c, tenant.get(), event.as_str(), limit))
        })
        .await
        .map(|v| v.into_iter().map(|j| j.0).collect())
    }

    /// Rotates a subscription's signing secret: `secret` becomes current and
    /// the old one stays valid (deliveries carry both signatures) for `grace`.
    pub async fn rotate_subscription_secret(
        &self,
        tenant: TenantId,
        id: SubscriptionId,
        secret: &str,
        grace: Duration,
    ) -> Result<WebhookSubscription, StorageError> {
        let secret = secret.to_string();
        let grace = millis(grace);
        self.write(move |c| {
            dwrite_tx!(c, c => {
                let sub = repo::subscription(c, id.get())?
                    .filter(|s| s.tenant_id == tenant.get())
                    .ok_or(StorageError::NotFound)?;
                let expires = now().as_millis().saturating_add(grace);
                repo::rotate_secret(c, tenant.get(), id.get(), &secret, &sub.secret, expires)?;
                let sub = repo::subscription(c, id.get())?.ok_or(StorageError::NotFound)?;
                sub.try_into()
            })
        })
        .await
    }
}

/// The fan-out itself, shared by [`Store::fan_out`] and
/// [`Store::fan_out_next`]: for each of `rows` (unprocessed outbox rows that
/// the caller's transaction holds, in id order), one delivery per active
/// subscription of the same tenant to the same event type created no later
/// than the event, first due `first_delay` ms after `t`; with `claim` (ms)
/// the new deliveries are leased to `worker` and returned. A delivery that
/// already exists for the event and subscription is not created again.
/// Leaves [`FanOut::events`] (marking the rows processed) to the caller.
fn fan_out_rows<C: FanOutQueries>(
    c: &mut C,
    worker: &str,
    rows: &[OutboxRow],
    t: i64,
    first_delay: i64,
    claim: Option<i64>,
) -> Result<FanOut, StorageError> {
    let mut tenants: Vec<i64> = rows.iter().map(|r| r.tenant_id).collect();
    tenants.sort_unstable();
    tenants.dedup();
    let mut types: Vec<String> = rows.iter().map(|r| r.event_type.clone()).collect();
    types.sort_unstable();
    types.dedup();
    let subs = c.active_subscriptions(&tenants, &types)?;
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
            let Some(id) = c.insert_delivery(&new)? else {
                continue;
            };
            out.deliveries += 1;
            if let Some(lease) = lease_until {
                out.claimed.push(DueDelivery {
                    id: DeliveryId(id),
                    tenant_id: TenantId::new(row.tenant_id),
                    event_id: EventId::new(row.id),
                    message_id,
                    event_type: row
                        .event_type
                        .parse::<EventType>()
                        .map_err(StorageError::internal)?,
                    payload: row.payload.0.clone(),
                    committed_at: Timestamp::from_millis(row.created_at),
                    subscription: subscription_of(sub)?,
                    attempt_count: 0,
                    lease_until: Timestamp::from_millis(lease),
                });
            }
        }
    }
    Ok(out)
}

fn subscription_of(row: &SubscriptionRow) -> Result<WebhookSubscription, StorageError> {
    SubscriptionRow {
        id: row.id,
        tenant_id: row.tenant_id,
        target_url: row.target_url.clone(),
        event: row.event.clone(),
        secret: row.secret.clone(),
        previous_secret: row.previous_secret.clone(),
        previous_secret_expires_at: row.previous_secret_expires_at,
        state: row.state.clone(),
        failing_since: row.failing_since,
        created_at: row.created_at,
    }
    .try_into()
}
