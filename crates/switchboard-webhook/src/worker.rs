//! The delivery worker.
//!
//! One dispatcher task loops: take new outbox events and fan them out to
//! deliveries in one transaction ([`Worker::fan_out_next`], leasing the new
//! deliveries to itself), claim due retries ([`Worker::claim_deliveries`],
//! which only reads when nothing is due), and hand each delivery to a task
//! bounded by the process-wide and per-target limits. Finished attempts go
//! through a channel to a recorder task that writes them in batches, one
//! transaction per batch. When there is nothing to do it sleeps until woken
//! ([`Wakeup`]), or until the poll interval passes (retries fall due, other
//! processes commit events).
//!
//! No outbox lease is taken: nothing is held between transactions. Each
//! report carries the lease its delivery was sent under, and storage
//! applies it only while this worker still holds that lease
//! ([`Worker::record_attempts`]): an attempt that outlived its lease, while
//! another attempt took over, cannot overwrite the newer outcome.
//!
//! Shutdown stops claiming, lets in-flight attempts finish for up to
//! `shutdown_grace`, releases whatever is still leased, and flushes the
//! recorder. After a crash, leases expire and the work is due again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use switchboard_domain::Timestamp;
use switchboard_storage::{
    AttemptOutcome, AttemptReport, DeliveryId, DueDelivery, FanOutFailure, StorageError, Store,
    Worker,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::limits::TargetLimits;
use crate::{MetricsSink, Wakeup, WebhookConfig, WebhookError, metric, send};

/// Most attempts written in one recording transaction.
const RECORD_BATCH: usize = 512;

struct Shared {
    id: String,
    store: Store,
    config: WebhookConfig,
    client: reqwest::Client,
    limits: TargetLimits,
    metrics: Arc<dyn MetricsSink>,
    /// Deliveries leased to this worker and not yet reported, each with
    /// the lease this worker holds now: a delivery that waited here past
    /// its lease and was claimed again keeps its one attempt task, which
    /// reports under the newer lease.
    inflight: Mutex<HashMap<DeliveryId, Timestamp>>,
}

impl Shared {
    fn worker(&self) -> Worker<'_> {
        self.store.worker()
    }

    fn inflight(&self) -> std::sync::MutexGuard<'_, HashMap<DeliveryId, Timestamp>> {
        self.inflight.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running worker. [`shutdown`](Self::shutdown) stops it gracefully;
/// dropping the handle stops it too (without waiting).
#[derive(Debug)]
pub struct WorkerHandle {
    id: String,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    /// This worker's id (the `claimed_by` of its leases).
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Stops claiming, waits for in-flight attempts (up to the configured
    /// grace), releases the rest, records what finished, and returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take()
            && let Err(e) = task.await
        {
            tracing::error!(error = %e, "the webhook worker task failed");
        }
    }
}

impl Drop for WorkerHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// A new worker id: `sb-<pid>-<random>`.
fn worker_id() -> String {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    format!("sb-{}-{:08x}", std::process::id(), u32::from_le_bytes(b))
}

/// Starts a delivery worker on the current Tokio runtime.
///
/// `wakeup` is poked by writers after a commit so that new events are
/// delivered at once; `metrics` receives attempt counts and latencies.
pub fn spawn(
    store: Store,
    config: WebhookConfig,
    wakeup: Wakeup,
    metrics: Arc<dyn MetricsSink>,
) -> Result<WorkerHandle, WebhookError> {
    config.validate()?;
    let client = send::client(&config).map_err(WebhookError::Client)?;
    let id = worker_id();
    let shared = Arc::new(Shared {
        id: id.clone(),
        store,
        limits: TargetLimits::new(config.per_target_concurrency, config.per_target_rate),
        config,
        client,
        metrics,
        inflight: Mutex::new(HashMap::new()),
    });
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(run(shared, wakeup, stopped));
    Ok(WorkerHandle {
        id,
        stop,
        task: Some(task),
    })
}

/// Resolves once a stop is requested (or the handle is gone).
async fn stop_requested(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|v| *v).await;
}

fn is_stopping(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

async fn run(shared: Arc<Shared>, wakeup: Wakeup, mut stop: watch::Receiver<bool>) {
    tracing::info!(worker = %shared.id, "webhook worker started");
    let (tx, rx) = mpsc::channel::<AttemptReport>(4096);
    let recorder = tokio::spawn(record_loop(Arc::clone(&shared), rx));
    let permits = Arc::new(Semaphore::new(shared.config.max_concurrency));
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut failures: u32 = 0;
    while !is_stopping(&stop) {
        while tasks.try_join_next().is_some() {}
        match tick(&shared, &permits, &mut tasks, &tx, &mut stop).await {
            // A full batch: more are probably waiting, take them at once.
            Ok(Tick::Worked { full: true }) => {
                failures = 0;
                continue;
            }
            // Otherwise wait for the next wake-up: one sent while this
            // round ran is kept, so nothing committed meanwhile waits for
            // the poll; and no empty round follows every busy one (at one
            // request at a time, that round was half the worker's cost).
            Ok(Tick::Worked { full: false } | Tick::Idle) => failures = 0,
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::warn!(worker = %shared.id, error = %e, failures, "webhook worker: storage error; retrying");
                let backoff = shared
                    .config
                    .poll_interval
                    .saturating_mul(1 << failures.min(5))
                    .min(Duration::from_secs(30));
                tokio::select! {
                    () = stop_requested(&mut stop) => {}
                    () = tokio::time::sleep(backoff) => {}
                }
                continue;
            }
        }
        tokio::select! {
            () = stop_requested(&mut stop) => {}
            () = wakeup.notified() => gather(&shared, &mut stop).await,
            () = tokio::time::sleep(shared.config.poll_interval) => {}
        }
    }

    // Graceful stop: in-flight attempts finish (bounded), the rest is released.
    let in_flight = shared.inflight().len();
    tracing::info!(worker = %shared.id, in_flight, "webhook worker stopping");
    let drained = tokio::time::timeout(shared.config.shutdown_grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
    let leftover: Vec<DeliveryId> = shared.inflight().drain().map(|(id, _)| id).collect();
    if !leftover.is_empty() {
        match shared
            .worker()
            .release_deliveries(&shared.id, &leftover)
            .await
        {
            Ok(n) => {
                tracing::info!(worker = %shared.id, released = n, "released unfinished deliveries")
            }
            Err(e) => {
                tracing::warn!(worker = %shared.id, error = %e, "cannot release deliveries; their leases will expire")
            }
        }
    }
    drop(tx);
    if let Err(e) = recorder.await {
        tracing::error!(error = %e, "the webhook recorder task failed");
    }
    tracing::info!(worker = %shared.id, "webhook worker stopped");
}

/// What one round of claiming found.
enum Tick {
    /// Nothing to do.
    Idle,
    /// Events or deliveries were taken; `full` when the events filled a
    /// whole batch or the due deliveries every free slot (more are
    /// probably waiting).
    Worked { full: bool },
}

/// Waits [`WebhookConfig::batch_delay`](crate::WebhookConfig) so that the
/// next transaction takes the events committed meanwhile too (or until a
/// stop is requested).
async fn gather(shared: &Shared, stop: &mut watch::Receiver<bool>) {
    let delay = shared.config.batch_delay;
    if delay.is_zero() {
        return;
    }
    tokio::select! {
        () = stop_requested(stop) => {}
        () = tokio::time::sleep(delay) => {}
    }
}

/// One round of claiming.
async fn tick(
    shared: &Arc<Shared>,
    permits: &Arc<Semaphore>,
    tasks: &mut JoinSet<()>,
    tx: &mpsc::Sender<AttemptReport>,
    stop: &mut watch::Receiver<bool>,
) -> Result<Tick, StorageError> {
    // Backpressure: claim nothing until an attempt slot is free.
    let slot = tokio::select! {
        biased;
        () = stop_requested(stop) => return Ok(Tick::Idle),
        p = Arc::clone(permits).acquire_owned() => p,
    };
    drop(slot);
    let c = &shared.config;
    let mut worked = false;
    let mut full = false;

    // New events: taken, fanned out and marked processed in one
    // transaction; the first attempts come back leased to this worker. An
    // event that cannot be fanned out is put back for a later try, or
    // quarantined after a few, without holding up the others (storage
    // isolates it); a database failure rolls all of it back.
    let first_delay = c.schedule.first().copied().unwrap_or_default();
    let fan = shared
        .worker()
        .fan_out_next(&shared.id, c.batch_size, first_delay, Some(c.lease))
        .await?;
    report_fan_out_failures(shared, &fan.failed);
    let taken = fan.events + fan.failed.len();
    if taken > 0 {
        worked = true;
        full = taken >= usize::try_from(c.batch_size).unwrap_or(usize::MAX);
    }
    if fan.events > 0 {
        shared
            .metrics
            .inc(metric::EVENTS, "", u64::try_from(fan.events).unwrap_or(0));
        shared.metrics.inc(
            metric::DELIVERIES,
            "",
            u64::try_from(fan.deliveries).unwrap_or(0),
        );
        dispatch(shared, permits, tasks, tx, stop, fan.claimed).await?;
    }

    let free = u32::try_from(permits.available_permits()).unwrap_or(u32::MAX);
    if free > 0 && !is_stopping(stop) {
        let asked = free.min(c.batch_size);
        let due = shared
            .worker()
            .claim_deliveries(&shared.id, c.lease, asked)
            .await?;
        if !due.is_empty() {
            worked = true;
            // As many as asked for: more are probably due (a backlog of
            // retries drains without waiting for a wake-up).
            full |= due.len() >= usize::try_from(asked).unwrap_or(usize::MAX);
            dispatch(shared, permits, tasks, tx, stop, due).await?;
        }
    }
    Ok(if worked {
        Tick::Worked { full }
    } else {
        Tick::Idle
    })
}

/// Logs (with the event's id) and counts the outbox events a fan-out could
/// not process: a warning while they will be tried again, an error when
/// one is quarantined.
fn report_fan_out_failures(shared: &Shared, failed: &[FanOutFailure]) {
    for f in failed {
        if f.quarantined {
            tracing::error!(
                worker = %shared.id, event = %f.event_id, tenant = %f.tenant_id, tries = f.tries,
                error = %f.error,
                "outbox event quarantined: it cannot be fanned out; see `switchboard outbox quarantined`"
            );
            shared.metrics.inc(metric::QUARANTINED, "", 1);
        } else {
            tracing::warn!(
                worker = %shared.id, event = %f.event_id, tenant = %f.tenant_id, tries = f.tries,
                error = %f.error,
                "cannot fan out an outbox event; it will be tried again"
            );
            shared.metrics.inc(metric::FAN_OUT_FAILURES, "", 1);
        }
    }
}

/// Starts an attempt task per delivery, each holding a process slot; on a
/// stop request the deliveries not started are released.
///
/// A delivery this worker already has in flight was claimed again because
/// its lease ran out while it waited here for its target's slot: its task
/// goes on under the new lease, and no second attempt starts.
async fn dispatch(
    shared: &Arc<Shared>,
    permits: &Arc<Semaphore>,
    tasks: &mut JoinSet<()>,
    tx: &mpsc::Sender<AttemptReport>,
    stop: &mut watch::Receiver<bool>,
    deliveries: Vec<DueDelivery>,
) -> Result<(), StorageError> {
    let mut pending = deliveries.into_iter();
    while let Some(d) = pending.next() {
        if let Some(lease) = shared.inflight().get_mut(&d.id) {
            *lease = d.lease_until;
            continue;
        }
        let permit = tokio::select! {
            biased;
            () = stop_requested(stop) => None,
            p = Arc::clone(permits).acquire_owned() => p.ok(),
        };
        let Some(permit) = permit else {
            let rest: Vec<DeliveryId> =
                std::iter::once(d.id).chain(pending.map(|d| d.id)).collect();
            shared
                .worker()
                .release_deliveries(&shared.id, &rest)
                .await?;
            return Ok(());
        };
        shared.inflight().insert(d.id, d.lease_until);
        tasks.spawn(attempt_task(Arc::clone(shared), d, permit, tx.clone()));
    }
    Ok(())
}

async fn attempt_task(
    shared: Arc<Shared>,
    d: DueDelivery,
    permit: OwnedSemaphorePermit,
    tx: mpsc::Sender<AttemptReport>,
) {
    let target = send::target_key(&d.subscription.target_url);
    let slot = shared.limits.acquire(&target).await;
    // Its lease ran out while it waited for the slot, and this worker has
    // not claimed it again: another worker may have, so it is not sent
    // here. It stays pending, due to whoever claims it next.
    let held = shared.inflight().get(&d.id).copied();
    if held.is_none_or(|lease| lease <= shared.store.now()) {
        tracing::debug!(delivery = %d.id, "lease ran out before the attempt could start; left to the next claim");
        shared.inflight().remove(&d.id);
        drop(slot);
        drop(permit);
        return;
    }
    let mut report = send::attempt(&shared.client, &shared.config, shared.store.clock(), &d).await;
    drop(slot);
    // Reported under the lease held now (claimed again meanwhile: the newer).
    if let Some(lease) = shared.inflight().remove(&d.id) {
        report.lease_until = lease;
    }
    let m = &shared.metrics;
    m.inc(
        metric::ATTEMPTS,
        &format!("outcome=\"{}\"", report.outcome.as_str()),
        1,
    );
    m.observe(metric::ATTEMPT_DURATION, report.duration.as_secs_f64());
    let attempt_no = d.attempt_count.saturating_add(1);
    if report.outcome == AttemptOutcome::Success {
        #[expect(clippy::cast_precision_loss, reason = "a latency in seconds")]
        let latency = shared
            .store
            .now()
            .as_millis()
            .saturating_sub(d.committed_at.as_millis())
            .max(0) as f64
            / 1000.0;
        m.observe(metric::LATENCY, latency);
        tracing::debug!(
            delivery = %d.id, subscription = %d.subscription.id, webhook_id = %d.message_id,
            status = report.status_code, attempt = attempt_no, "webhook delivered"
        );
    } else {
        tracing::warn!(
            delivery = %d.id,
            subscription = %d.subscription.id,
            webhook_id = %d.message_id,
            event = %d.event_type,
            status = report.status_code,
            outcome = report.outcome.as_str(),
            error = report.error.as_deref().unwrap_or(""),
            attempt = attempt_no,
            next = ?report.next,
            "webhook delivery attempt failed"
        );
    }
    if tx.send(report).await.is_err() {
        tracing::warn!(delivery = %d.id, "recorder gone; the lease will expire and the delivery will be retried");
    }
    drop(permit);
}

async fn record_loop(shared: Arc<Shared>, mut rx: mpsc::Receiver<AttemptReport>) {
    let mut batch: Vec<AttemptReport> = Vec::new();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < RECORD_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let mut tries: u32 = 0;
        loop {
            match shared
                .worker()
                .record_attempts(&shared.id, batch.clone(), shared.config.disable_after)
                .await
            {
                Ok(recorded) => {
                    if !recorded.degraded.is_empty() || !recorded.unrecorded.is_empty() {
                        tracing::warn!(
                            worker = %shared.id,
                            degraded = ?recorded.degraded,
                            unrecorded = ?recorded.unrecorded,
                            "some webhook attempts could not be recorded in full; the others were"
                        );
                    }
                    if recorded.stale > 0 {
                        tracing::info!(
                            worker = %shared.id, stale = recorded.stale,
                            "late webhook attempt reports skipped: their leases had passed to another attempt"
                        );
                    }
                    for id in &recorded.deleted {
                        tracing::info!(subscription = %id, "webhook subscription deleted: the receiver answered 410 Gone");
                        shared.metrics.inc(metric::REMOVED, "reason=\"gone\"", 1);
                    }
                    for id in &recorded.disabled {
                        tracing::warn!(subscription = %id, "webhook subscription disabled after failing continuously");
                        shared
                            .metrics
                            .inc(metric::REMOVED, "reason=\"disabled\"", 1);
                    }
                    break;
                }
                Err(e) if tries < 5 => {
                    tries += 1;
                    tracing::warn!(error = %e, tries, "cannot record webhook attempts; retrying");
                    tokio::time::sleep(Duration::from_millis(200) * tries).await;
                }
                Err(e) => {
                    tracing::error!(
                        error = %e, attempts = batch.len(),
                        "cannot record webhook attempts; their leases will expire and they will be sent again"
                    );
                    break;
                }
            }
        }
        batch.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use switchboard_domain::{Actor, Conversation, EventType, Timestamp, WebhookSubscription};
    use switchboard_storage::{DueDelivery, SecretKeySource, Store, StoreConfig, WriteContext};
    use switchboard_testsupport::receiver::Receiver;
    use tokio::sync::{Semaphore, mpsc};

    use super::{Shared, attempt_task};
    use crate::limits::TargetLimits;
    use crate::{NoMetrics, TargetPolicy, WebhookConfig, send};

    /// A worker's shared state on a fresh SQLite store, and one delivery
    /// of a new conversation to `target`, leased to it.
    async fn leased(dir: &std::path::Path, target: &str) -> (Arc<Shared>, DueDelivery) {
        let url = format!("sqlite://{}", dir.join("w.db").display());
        let config = StoreConfig {
            secret_keys: SecretKeySource::keys(switchboard_testsupport::SECRET_KEYS).unwrap(),
            ..StoreConfig::default()
        };
        let store = Store::open(&url, config).await.unwrap();
        let tenant = store.admin().create_tenant("acme").await.unwrap();
        store
            .webhooks()
            .create(WebhookSubscription::new(
                tenant.id,
                target.to_string(),
                EventType::ConversationCreated,
                crate::generate_secret().unwrap(),
                store.now(),
            ))
            .await
            .unwrap();
        let ctx = WriteContext::new(tenant.clone(), Actor::System, "test");
        store
            .conversations()
            .create(&ctx, Conversation::new(tenant.id, "k-1", store.now()))
            .await
            .unwrap();
        let lease = Duration::from_secs(60);
        let fan = store
            .worker()
            .fan_out_next("w", 10, Duration::ZERO, Some(lease))
            .await
            .unwrap();
        let d = fan.claimed.into_iter().next().unwrap();
        let config = WebhookConfig {
            targets: TargetPolicy {
                allow_private: true,
            },
            ..WebhookConfig::default()
        };
        let shared = Arc::new(Shared {
            id: "w".into(),
            store,
            client: send::client(&config).unwrap(),
            limits: TargetLimits::new(1, config.per_target_rate),
            config,
            metrics: Arc::new(NoMetrics),
            inflight: Mutex::new(HashMap::new()),
        });
        (shared, d)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_attempt_whose_lease_ran_out_unrenewed_is_not_sent() {
        let dir = switchboard_testsupport::tempfile::tempdir().unwrap();
        let receiver = Receiver::start().await;
        let (shared, d) = leased(dir.path(), &receiver.url("/w")).await;
        // The lease this worker holds ran out while the task waited, and
        // no claim renewed it: another worker may hold the delivery now.
        shared.inflight().insert(d.id, Timestamp::from_millis(0));
        let (tx, mut rx) = mpsc::channel(4);
        let permit = Arc::new(Semaphore::new(1)).acquire_owned().await.unwrap();
        attempt_task(Arc::clone(&shared), d, permit, tx).await;
        assert!(receiver.requests_to("/w").is_empty(), "it was sent");
        assert!(rx.try_recv().is_err(), "an attempt was reported");
        assert!(shared.inflight().is_empty(), "it is still held in flight");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_attempt_reports_under_the_lease_held_when_it_ends() {
        let dir = switchboard_testsupport::tempfile::tempdir().unwrap();
        let receiver = Receiver::start().await;
        let (shared, d) = leased(dir.path(), &receiver.url("/w")).await;
        // Claimed again while it waited: the newer lease is the one held.
        let renewed = Timestamp::from_millis(d.lease_until.as_millis() + 5_000);
        shared.inflight().insert(d.id, renewed);
        let (tx, mut rx) = mpsc::channel(4);
        let permit = Arc::new(Semaphore::new(1)).acquire_owned().await.unwrap();
        attempt_task(Arc::clone(&shared), d, permit, tx).await;
        assert_eq!(receiver.requests_to("/w").len(), 1);
        let report = rx.try_recv().unwrap();
        assert_eq!(report.lease_until, renewed);
        assert!(shared.inflight().is_empty());
    }
}
