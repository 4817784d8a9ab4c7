//! The retention task inside `switchboard serve`: it deletes finished work
//! once the configured retention lets it go, a small batch at a time, and
//! on SQLite gives the freed space back to the file system (see
//! `docs/webhooks.md`, "Retention").

use std::sync::Arc;
use std::time::Duration;

use switchboard_storage::{Pruned, Pruner, Retention, Store};
use switchboard_webhook::MetricsSink;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The names of the metrics the retention task reports.
pub mod metric {
    /// Rows deleted by retention, by `table` (`outbox`, `deliveries`,
    /// `delivery_attempts`, `change_history`).
    pub const PRUNED: &str = "switchboard_retention_pruned_rows_total";
    /// SQLite pages given back to the file system after pruning.
    pub const RECLAIMED: &str = "switchboard_retention_reclaimed_pages_total";
}

/// Most SQLite pages given back in one write (4 MiB at the default page size).
const RECLAIM_PAGES: u32 = 1024;

/// How retention runs in the server (`[retention]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// Run the retention task inside `switchboard serve`.
    pub enabled: bool,
    /// How long finished work is kept.
    pub keep: Retention,
    /// How long to wait between rounds (a round ends when nothing old
    /// enough is left).
    pub interval: Duration,
    /// Rows of each kind looked at (and at most deleted) per transaction.
    pub batch_size: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            keep: Retention::default(),
            interval: Duration::from_secs(60),
            batch_size: 500,
        }
    }
}

/// A running retention task. [`shutdown`](Self::shutdown) stops it between
/// two batches; dropping the handle stops it too.
#[derive(Debug)]
pub struct RetentionHandle {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl RetentionHandle {
    /// Stops the task (after the batch in progress) and waits for it.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take()
            && let Err(e) = task.await
        {
            tracing::error!(error = %e, "the retention task failed");
        }
    }
}

impl Drop for RetentionHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Starts the retention task on the current Tokio runtime: a round at
/// once, then one every `config.interval`.
#[must_use]
pub fn spawn(
    store: Store,
    config: RetentionConfig,
    metrics: Arc<dyn MetricsSink>,
) -> RetentionHandle {
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(run(store, config, metrics, stopped));
    RetentionHandle {
        stop,
        task: Some(task),
    }
}

fn stopping(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

async fn run(
    store: Store,
    config: RetentionConfig,
    metrics: Arc<dyn MetricsSink>,
    mut stop: watch::Receiver<bool>,
) {
    let mut pruner = Pruner::new(config.keep, config.batch_size);
    while !stopping(&stop) {
        round(&store, &mut pruner, metrics.as_ref(), &stop).await;
        tokio::select! {
            _ = stop.wait_for(|v| *v) => {}
            () = tokio::time::sleep(config.interval) => {}
        }
    }
}

/// One round: prune until nothing old enough is left, then give free
/// space back. Errors are logged and end the round; the next round starts
/// over.
async fn round(
    store: &Store,
    pruner: &mut Pruner,
    metrics: &dyn MetricsSink,
    stop: &watch::Receiver<bool>,
) {
    let mut total = Pruned::default();
    loop {
        if stopping(stop) {
            return;
        }
        match store.maintenance().prune(pruner).await {
            Ok(step) => {
                report(metrics, step.pruned);
                total += step.pruned;
                if step.done {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "retention: pruning failed; trying again next round");
                pruner.restart();
                return;
            }
        }
        // Writers go between the batches.
        tokio::task::yield_now().await;
    }
    if total.total() > 0 {
        tracing::info!(
            events = total.events,
            deliveries = total.deliveries,
            attempts = total.attempts,
            history = total.history,
            "retention: deleted rows older than their retention"
        );
    }
    loop {
        if stopping(stop) {
            return;
        }
        match store.maintenance().reclaim_space(RECLAIM_PAGES).await {
            Ok(0) => return,
            Ok(pages) => metrics.inc(metric::RECLAIMED, "", pages),
            Err(e) => {
                tracing::warn!(error = %e, "retention: giving free space back failed");
                return;
            }
        }
        tokio::task::yield_now().await;
    }
}

fn report(metrics: &dyn MetricsSink, pruned: Pruned) {
    for (table, n) in [
        ("outbox", pruned.events),
        ("deliveries", pruned.deliveries),
        ("delivery_attempts", pruned.attempts),
        ("change_history", pruned.history),
    ] {
        if n > 0 {
            metrics.inc(metric::PRUNED, &format!("table=\"{table}\""), n);
        }
    }
}
