//! # switchboard-webhook
//!
//! Signed, retried, never-lost webhook delivery from Switchboard's
//! transactional outbox.
//!
//! * [`signing`]: [Standard Webhooks](https://www.standardwebhooks.com/)
//!   signatures (`webhook-id`, `webhook-timestamp`, `webhook-signature`),
//!   secret generation, and [`signing::verify`] for receivers.
//! * [`target`]: the SSRF guard, at subscribe time and on every delivery.
//! * [`spawn`]: the delivery worker. It claims outbox events with a lease,
//!   fans each out to one delivery per matching subscription (in the same
//!   transaction that marks the event processed), and sends them with a
//!   dedicated HTTP client, retrying on the configured schedule.
//!
//! Delivery is **at least once**: an event committed with a write is never
//! lost (the outbox row commits with the write, and a crashed worker's
//! leases expire), but a receiver may see a delivery twice after a crash.
//! The `webhook-id` header is stable across retries; receivers use it to
//! drop duplicates.
//!
//! This crate uses the storage crate's API only; it knows no SQL and no
//! HTTP server (`.ci/check-architecture` checks that diesel and actix-web
//! stay out of its dependency graph).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use switchboard_storage::{Store, StoreConfig};
//! use switchboard_webhook::{NoMetrics, Wakeup, WebhookConfig};
//!
//! let store = Store::open("sqlite://switchboard.db", StoreConfig::default()).await?;
//! let wakeup = Wakeup::new(); // poke it after a write commits
//! let worker = switchboard_webhook::spawn(store, WebhookConfig::default(), wakeup.clone(), Arc::new(NoMetrics))?;
//! // ... serve requests; call wakeup.notify() after each write ...
//! worker.shutdown().await; // finish or release in-flight attempts
//! # Ok(()) }
//! ```

pub mod config;
pub mod limits;
pub mod retry;
mod send;
pub mod signing;
pub mod target;
mod worker;

use std::fmt;
use std::sync::Arc;

use tokio::sync::Notify;

pub use config::WebhookConfig;
pub use reqwest::Url;
pub use signing::{VerifyError, generate_secret, verify};
pub use target::{TargetError, TargetPolicy, check_target};
pub use worker::{WorkerHandle, spawn};

/// Why the worker could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// A setting is out of range.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The HTTP client could not be built.
    #[error("cannot build the webhook HTTP client")]
    Client(#[source] reqwest::Error),
}

/// Wakes the worker when an event was committed, so that it is delivered
/// at once instead of on the next poll, and tells every subscriber (the
/// console's live pages) that something was written. Cheap to clone; a
/// wake-up sent while the worker is busy is kept until it next waits.
#[derive(Debug, Clone)]
pub struct Wakeup {
    worker: Arc<Notify>,
    /// A counter bumped on every [`notify`](Self::notify): a subscriber
    /// sees that it moved, however many wake-ups it missed.
    writes: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Default for Wakeup {
    fn default() -> Self {
        Self {
            worker: Arc::default(),
            writes: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }
}

impl Wakeup {
    /// A new wake-up signal.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Wakes the worker (or makes its next wait return at once) and every
    /// subscriber.
    pub fn notify(&self) {
        self.worker.notify_one();
        self.writes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Waits for [`notify`](Self::notify) (the worker's side: one waiter).
    pub async fn notified(&self) {
        self.worker.notified().await;
    }

    /// A receiver that sees every later [`notify`](Self::notify)
    /// (`changed().await`), for any number of subscribers; a subscriber
    /// never takes a wake-up from the worker.
    #[must_use]
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.writes.subscribe()
    }
}

/// Where the worker reports its metrics. The API crate's Prometheus
/// registry implements it; [`NoMetrics`] discards everything.
pub trait MetricsSink: Send + Sync + fmt::Debug {
    /// Adds `by` to a counter with Prometheus `labels` (e.g. `outcome="success"`).
    fn inc(&self, name: &str, labels: &str, by: u64);
    /// Records a value, in seconds, in a histogram.
    fn observe(&self, name: &str, secs: f64);
}

/// A [`MetricsSink`] that discards everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMetrics;

impl MetricsSink for NoMetrics {
    fn inc(&self, _name: &str, _labels: &str, _by: u64) {}
    fn observe(&self, _name: &str, _secs: f64) {}
}

/// The names of the metrics the worker reports.
pub mod metric {
    /// Attempts by `outcome` (`success`, `http_error`, `timeout`, `network_error`, `refused`).
    pub const ATTEMPTS: &str = "switchboard_webhook_attempts_total";
    /// Outbox events fanned out.
    pub const EVENTS: &str = "switchboard_webhook_events_total";
    /// Deliveries created by fan-out.
    pub const DELIVERIES: &str = "switchboard_webhook_deliveries_total";
    /// Subscriptions removed by `reason` (`gone`: 410; `disabled`: failing too long).
    pub const REMOVED: &str = "switchboard_webhook_subscriptions_removed_total";
    /// Histogram: from the event's commit to its successful delivery.
    pub const LATENCY: &str = "switchboard_webhook_delivery_latency_seconds";
    /// Histogram: the duration of one attempt.
    pub const ATTEMPT_DURATION: &str = "switchboard_webhook_attempt_duration_seconds";
    /// Outbox events that could not be fanned out and will be tried again.
    pub const FAN_OUT_FAILURES: &str = "switchboard_webhook_fan_out_failures_total";
    /// Outbox events quarantined (dead-lettered) after failing every try.
    pub const QUARANTINED: &str = "switchboard_webhook_outbox_quarantined_total";
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Wakeup;

    #[tokio::test]
    async fn a_notify_wakes_the_worker_and_every_subscriber() {
        let wakeup = Wakeup::new();
        let mut pages = [wakeup.subscribe(), wakeup.subscribe()];
        wakeup.notify();
        for page in &mut pages {
            tokio::time::timeout(Duration::from_secs(5), page.changed())
                .await
                .expect("a subscriber is woken")
                .expect("the sender lives");
        }
        // The worker's wake-up was kept for it: subscribers took nothing.
        tokio::time::timeout(Duration::from_secs(5), wakeup.notified())
            .await
            .expect("the worker is woken");
    }
}
