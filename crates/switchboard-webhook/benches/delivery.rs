//! Webhook delivery benchmark: end-to-end throughput (outbox → fan-out →
//! signed POST → recorded attempt) and the latency from a commit to its
//! arrival at a local receiver, on SQLite and PostgreSQL.
//!
//! ```text
//! cargo bench -p switchboard-webhook --bench delivery
//! BENCH_EVENTS=5000 BENCH_LATENCY_SAMPLES=300 cargo bench -p switchboard-webhook --bench delivery
//! ```
//!
//! * Throughput: N events are committed while no worker runs, then a worker
//!   starts and drains them; the time is from its start until the receiver
//!   has every delivery and every attempt is recorded.
//! * Latency: with the worker idle, one event is committed and the worker
//!   woken (as the API does after a write); the time is from the commit's
//!   return to the receiver reading the request. Repeated, then percentiles.
//!
//! The receiver is `switchboard_testsupport::receiver` on loopback (HTTP/1.1
//! keep-alive, answers 200 at once). Results are recorded in docs/benchmarks.md.
#![expect(
    clippy::unwrap_used,
    reason = "a benchmark whose setup fails should stop loudly"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_domain::{Actor, Conversation, EventType, WebhookSubscription};
use switchboard_storage::{SecretKeySource, SqliteSync, Store, StoreConfig, WriteContext, now};
use switchboard_testsupport::SECRET_KEYS;
use switchboard_testsupport::receiver::Receiver;
use switchboard_webhook::{NoMetrics, TargetPolicy, Wakeup, WebhookConfig};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config() -> WebhookConfig {
    WebhookConfig {
        targets: TargetPolicy {
            allow_private: true,
        },
        per_target_rate: 1_000_000.0,
        per_target_concurrency: 64,
        max_concurrency: 64,
        batch_size: 500,
        poll_interval: Duration::from_millis(200),
        ..WebhookConfig::default()
    }
}

async fn setup(store: &Store, receiver: &Receiver, name: &str) -> WriteContext {
    let tenant = store.admin().create_tenant(name).await.unwrap();
    store
        .webhooks()
        .create(WebhookSubscription::new(
            tenant.id,
            receiver.url(&format!("/{name}")),
            EventType::ConversationCreated,
            switchboard_webhook::generate_secret().unwrap(),
            now(),
        ))
        .await
        .unwrap();
    WriteContext::new(tenant, Actor::System, "bench")
}

async fn commit(store: &Store, ctx: &WriteContext, key: String) {
    store
        .conversations()
        .create(ctx, Conversation::new(ctx.tenant.id, key, now()))
        .await
        .unwrap();
}

async fn wait_recorded(store: &Store) {
    while store.worker().delivery_backlog().await.unwrap() > 0
        || store.worker().outbox_backlog().await.unwrap() > 0
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn throughput(store: &Store, events: usize) -> (f64, Duration) {
    let receiver = Receiver::start().await;
    let ctx = setup(store, &receiver, "throughput").await;
    // Commit the events with 8 concurrent writers while no worker runs.
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..8 {
        let (store, ctx) = (store.clone(), ctx.clone());
        writers.spawn(async move {
            for i in (w..events).step_by(8) {
                commit(&store, &ctx, format!("t-{i}")).await;
            }
        });
    }
    while writers.join_next().await.is_some() {}
    let start = Instant::now();
    let worker =
        switchboard_webhook::spawn(store.clone(), config(), Wakeup::new(), Arc::new(NoMetrics))
            .unwrap();
    receiver
        .wait_for("/throughput", events, Duration::from_secs(600))
        .await;
    let delivered = start.elapsed();
    wait_recorded(store).await;
    let recorded = start.elapsed();
    worker.shutdown().await;
    #[expect(clippy::cast_precision_loss, reason = "a rate")]
    let rate = events as f64 / recorded.as_secs_f64();
    (rate, delivered)
}

async fn latency(store: &Store, samples: usize) -> Vec<Duration> {
    let receiver = Receiver::start().await;
    let ctx = setup(store, &receiver, "latency").await;
    let wakeup = Wakeup::new();
    let worker = switchboard_webhook::spawn(
        store.clone(),
        WebhookConfig {
            // Only the wake-up triggers work: the latency is not a poll artefact.
            poll_interval: Duration::from_secs(3600),
            ..config()
        },
        wakeup.clone(),
        Arc::new(NoMetrics),
    )
    .unwrap();
    let mut out = Vec::with_capacity(samples);
    for i in 0..samples {
        // Idle: wait for the previous attempt to be recorded.
        wait_recorded(store).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        commit(store, &ctx, format!("l-{i}")).await;
        let committed = Instant::now();
        wakeup.notify();
        let got = receiver
            .wait_for("/latency", i + 1, Duration::from_secs(60))
            .await;
        out.push(got[i].at.saturating_duration_since(committed));
    }
    worker.shutdown().await;
    out.sort();
    out
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index"
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

async fn run(label: &str, url: &str, store_config: StoreConfig, events: usize, samples: usize) {
    let store = Store::open(url, store_config).await.unwrap();
    let (rate, delivered) = throughput(&store, events).await;
    let lat = latency(&store, samples).await;
    println!(
        "| {label} | {events} | {:.2} s | {rate:.0} /s | {:.2} | {:.2} | {:.2} | {:.2} |",
        delivered.as_secs_f64(),
        pct(&lat, 0.5),
        pct(&lat, 0.9),
        pct(&lat, 0.99),
        pct(&lat, 1.0),
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a list; nothing to list
    }
    let events = env_usize("BENCH_EVENTS", 3000);
    let samples = env_usize("BENCH_LATENCY_SAMPLES", 200);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        println!(
            "| backend | events | all delivered | throughput (recorded) | latency p50 ms | p90 | p99 | max |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        let dir = switchboard_testsupport::tempfile::tempdir().unwrap();
        for (label, sync) in [
            ("SQLite (synchronous=FULL)", SqliteSync::Full),
            ("SQLite (synchronous=NORMAL)", SqliteSync::Normal),
        ] {
            let url = format!(
                "sqlite://{}",
                dir.path().join(format!("{sync:?}.db")).display()
            );
            let store_config = StoreConfig {
                sqlite_synchronous: sync,
                ..bench_config()
            };
            run(label, &url, store_config, events, samples).await;
        }
        match switchboard_testsupport::postgres() {
            Ok(Some(server)) => {
                let db = server.create_database().unwrap();
                run(
                    "PostgreSQL (test cluster, fsync off)",
                    db.url(),
                    bench_config(),
                    events,
                    samples,
                )
                .await;
            }
            _ => println!("(PostgreSQL unavailable: skipped)"),
        }
        if let Ok(Some(durable)) = switchboard_testsupport::PgServer::start_durable() {
            let db = durable.create_database().unwrap();
            run(
                "PostgreSQL (durable: fsync, synchronous_commit on)",
                db.url(),
                bench_config(),
                events,
                samples,
            )
            .await;
            drop(db);
            drop(durable);
        }
    });
}

/// The default store settings with the fixed test key (PostgreSQL has no
/// default key; these are throwaway databases).
fn bench_config() -> StoreConfig {
    StoreConfig {
        secret_keys: SecretKeySource::keys(SECRET_KEYS).unwrap_or_else(|e| panic!("{e}")),
        ..StoreConfig::default()
    }
}
