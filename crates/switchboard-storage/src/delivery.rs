//! Webhook deliveries: what they are and how their attempts end.
//!
//! The life of an event: a write commits it to the outbox; a worker calls
//! [`Worker::fan_out_next`](crate::Worker::fan_out_next), which in one
//! transaction takes the oldest due events, inserts one delivery per
//! matching active subscription and marks the events processed (optionally
//! leasing the new deliveries to the same worker, so the first attempt
//! needs no second claim). Later attempts are claimed with
//! [`Worker::claim_deliveries`](crate::Worker::claim_deliveries). Each
//! attempt is recorded with
//! [`Worker::record_attempts`](crate::Worker::record_attempts), which also
//! reschedules, completes or fails the delivery in the same transaction,
//! if the reporting worker still holds the lease it sent under. A lease
//! that expires (the worker crashed) makes the delivery due again, so a
//! delivery is never lost, though a receiver may see it twice.

use std::borrow::Cow;
use std::time::Duration;

use serde_json::Value;
pub use switchboard_domain::DeliveryId;
use switchboard_domain::{
    EventId, EventType, SubscriptionId, TenantId, Timestamp, WebhookSubscription,
};

use crate::StorageError;
use crate::rows::SubscriptionRow;
use crate::sql::deliveries::{AttemptRow, DeliveryRow, OutboxPart};

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

    pub(crate) fn parse(s: &str) -> Result<Self, StorageError> {
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

/// What [`Worker::fan_out_next`](crate::Worker::fan_out_next) did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FanOut {
    /// Outbox events marked processed.
    pub events: usize,
    /// Deliveries created.
    pub deliveries: usize,
    /// The new deliveries leased to the caller (when a lease was asked for
    /// and the first attempt is due at once).
    pub claimed: Vec<DueDelivery>,
    /// Events that could not be fanned out this time: each is tried again
    /// later, or quarantined after [`OUTBOX_MAX_TRIES`] tries. The other
    /// events of the batch were fanned out all the same.
    pub failed: Vec<FanOutFailure>,
}

impl FanOut {
    /// Adds what `other` did to `self`.
    pub(crate) fn absorb(&mut self, other: Self) {
        self.events += other.events;
        self.deliveries += other.deliveries;
        self.claimed.extend(other.claimed);
        self.failed.extend(other.failed);
    }
}

/// How many times fan-out tries an outbox event before it quarantines
/// (dead-letters) it: a quarantined event is set aside, unprocessed, and
/// never holds up the events after it; operators list it with
/// [`Worker::quarantined`](crate::Worker::quarantined) and requeue it with
/// [`Worker::requeue`](crate::Worker::requeue).
pub const OUTBOX_MAX_TRIES: u32 = 3;

/// The delay before the next try after each failed fan-out of an event
/// (entry n after n + 1 failures); the last failure quarantines it.
pub const OUTBOX_RETRY_DELAYS: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(2)];

/// An outbox event that one fan-out could not process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FanOutFailure {
    /// The event.
    pub event_id: EventId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Failed tries so far, this one included.
    pub tries: u32,
    /// Whether it is now quarantined (`tries` reached [`OUTBOX_MAX_TRIES`]).
    pub quarantined: bool,
    /// When it is tried again (`None` once quarantined).
    pub retry_at: Option<Timestamp>,
    /// Why it failed.
    pub error: String,
}

/// A quarantined outbox event, for operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantinedEvent {
    /// The event (outbox row id).
    pub id: EventId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Its event type, as stored.
    pub event_type: String,
    /// `customer` or `conversation`.
    pub entity_kind: String,
    /// The entity's id.
    pub entity_id: i64,
    /// When it was committed.
    pub created_at: Timestamp,
    /// When it was quarantined.
    pub quarantined_at: Timestamp,
    /// How many fan-out tries failed.
    pub tries: u32,
    /// Why the last try failed.
    pub error: Option<String>,
}

/// Longest response excerpt stored with an attempt, in bytes.
pub const MAX_EXCERPT_BYTES: usize = 4096;

/// Longest failure description stored with an attempt (or a quarantined
/// event), in bytes.
pub const MAX_ERROR_BYTES: usize = 1024;

/// `text` made safe to store on both backends: every NUL (U+0000, which
/// PostgreSQL's `text` refuses) becomes U+FFFD, and the result is cut to
/// at most `max_bytes` on a character boundary. Borrows when nothing
/// changes. (A `&str` is valid UTF-8 already; turn received bytes into text
/// with `String::from_utf8_lossy` first.)
///
/// ```
/// use switchboard_storage::sanitize_text;
/// assert_eq!(sanitize_text("ok\0", 100), "ok\u{fffd}");
/// assert_eq!(sanitize_text("héllo", 2), "h");
/// assert_eq!(sanitize_text("plain", 100), "plain");
/// ```
#[must_use]
pub fn sanitize_text(text: &str, max_bytes: usize) -> Cow<'_, str> {
    let mut cut = text.len().min(max_bytes);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let text = &text[..cut];
    if !text.contains('\0') {
        return Cow::Borrowed(text);
    }
    let replaced = text.replace('\0', "\u{fffd}");
    // U+FFFD takes three bytes where NUL took one: cut again.
    let mut cut = replaced.len().min(max_bytes);
    while !replaced.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(replaced[..cut].to_string())
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
    /// The lease the delivery was sent under
    /// ([`DueDelivery::lease_until`]): the report applies only if the
    /// reporting worker still holds exactly this lease.
    pub lease_until: Timestamp,
}

/// What [`Worker::record_attempts`](crate::Worker::record_attempts) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Attempts recorded.
    pub recorded: usize,
    /// Reports skipped: their delivery no longer exists, is no longer
    /// pending, or is leased to someone else (the worker's lease expired
    /// and another attempt took over), so they must not overwrite its
    /// newer outcome.
    pub stale: usize,
    /// Subscriptions disabled after failing continuously for too long.
    pub disabled: Vec<SubscriptionId>,
    /// Subscriptions deleted because the receiver answered 410 Gone.
    pub deleted: Vec<SubscriptionId>,
    /// Reports recorded in part: their attempt's details (or its row in the
    /// delivery log) could not be stored, but the delivery's attempt count
    /// and next step were, so its retry schedule still bounds it.
    pub degraded: Vec<DeliveryId>,
    /// Reports that could not be recorded at all (their leases expire and
    /// the deliveries are due again). The other reports of the batch were
    /// recorded all the same.
    pub unrecorded: Vec<DeliveryId>,
}

impl Recorded {
    /// Adds what `other` did to `self`.
    pub(crate) fn absorb(&mut self, other: Self) {
        self.recorded += other.recorded;
        self.stale += other.stale;
        self.disabled.extend(other.disabled);
        self.deleted.extend(other.deleted);
        self.degraded.extend(other.degraded);
        self.unrecorded.extend(other.unrecorded);
    }
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

fn status_u16(s: Option<i32>) -> Option<u16> {
    s.and_then(|v| u16::try_from(v).ok())
}

pub(crate) fn attempts_u32(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// A new `webhook-id`: `msg_` and 128 random bits in hex.
pub(crate) fn message_id() -> Result<String, StorageError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(StorageError::internal)?;
    Ok(b.iter().fold(String::from("msg_"), |mut s, x| {
        use std::fmt::Write as _;
        let _ = write!(s, "{x:02x}");
        s
    }))
}

pub(crate) fn due_delivery(
    d: DeliveryRow,
    (event_type, payload, committed_at): OutboxPart,
    sub: SubscriptionRow,
) -> Result<DueDelivery, StorageError> {
    let payload: Value = serde_json::from_str(&payload.0)?;
    let payload = switchboard_domain::event::with_event_id(payload, d.outbox_id);
    Ok(DueDelivery {
        id: DeliveryId::new(d.id),
        tenant_id: TenantId::new(d.tenant_id),
        event_id: EventId::new(d.outbox_id),
        message_id: d.message_id,
        event_type: event_type
            .parse::<EventType>()
            .map_err(StorageError::internal)?,
        payload,
        committed_at: Timestamp::from_millis(committed_at),
        subscription: sub.try_into()?,
        attempt_count: attempts_u32(d.attempt_count),
        lease_until: Timestamp::from_millis(d.lease_until.unwrap_or(d.next_attempt_at)),
    })
}

pub(crate) fn delivery(d: DeliveryRow, event_type: String) -> Result<Delivery, StorageError> {
    Ok(Delivery {
        id: DeliveryId::new(d.id),
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

pub(crate) fn attempt(
    (a, message_id, event_type): (AttemptRow, String, String),
) -> DeliveryAttempt {
    DeliveryAttempt {
        id: a.id,
        delivery_id: DeliveryId::new(a.delivery_id),
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
