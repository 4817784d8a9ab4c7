//! The delivery worker against a real store (SQLite, and PostgreSQL when
//! available) and a real receiver on loopback: wake-up on commit, graceful
//! shutdown, secret rotation, redirects, and the per-target rate limit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_domain::{Actor, Conversation, EventType, WebhookSubscription};
use switchboard_storage::{SecretKeySource, Store, StoreConfig, WriteContext, now};

use switchboard_testsupport::receiver::{Receiver, Reply};
use switchboard_testsupport::tempfile::TempDir;
use switchboard_webhook::{NoMetrics, TargetPolicy, Wakeup, WebhookConfig, WorkerHandle};

const WAIT: Duration = Duration::from_secs(30);

/// The default store settings with the tests' secret key.
fn test_config() -> StoreConfig {
    StoreConfig {
        secret_keys: SecretKeySource::keys(switchboard_testsupport::SECRET_KEYS).unwrap(),
        ..StoreConfig::default()
    }
}

/// A store on a fresh database of each available backend.
async fn stores() -> Vec<(Store, &'static str, Keep)> {
    let dir = switchboard_testsupport::tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("wh.db").display());
    let mut out = vec![(
        Store::open(&url, test_config()).await.unwrap(),
        "sqlite",
        Keep::Dir(dir),
    )];
    if let Some(server) = switchboard_testsupport::postgres_or_skip() {
        let db = tokio::task::spawn_blocking(move || server.create_database().unwrap())
            .await
            .unwrap();
        let store = Store::open(db.url(), test_config()).await.unwrap();
        out.push((store, "postgres", Keep::Db(db)));
    }
    out
}

#[expect(dead_code, reason = "held for its Drop")]
enum Keep {
    Dir(TempDir),
    Db(switchboard_testsupport::TestDatabase),
}

fn config() -> WebhookConfig {
    WebhookConfig {
        targets: TargetPolicy {
            allow_private: true,
        },
        schedule: vec![Duration::ZERO, Duration::from_millis(200)],
        timeout: Duration::from_secs(3),
        lease: Duration::from_secs(20),
        // Long: only the wake-up (or an explicit claim) makes work happen.
        poll_interval: Duration::from_secs(3600),
        shutdown_grace: Duration::from_secs(10),
        ..WebhookConfig::default()
    }
}

async fn setup(store: &Store, target: &str) -> (WriteContext, WebhookSubscription) {
    let tenant = store.admin().create_tenant("acme").await.unwrap();
    let ctx = WriteContext::new(tenant.clone(), Actor::System, "test");
    let sub = store
        .webhooks()
        .create(WebhookSubscription::new(
            tenant.id,
            target.to_string(),
            EventType::ConversationCreated,
            switchboard_webhook::generate_secret().unwrap(),
            now(),
        ))
        .await
        .unwrap();
    (ctx, sub)
}

async fn event(store: &Store, ctx: &WriteContext, key: &str) {
    store
        .conversations()
        .create(ctx, Conversation::new(ctx.tenant.id, key, now()))
        .await
        .unwrap();
}

fn start(store: &Store, config: WebhookConfig, wakeup: &Wakeup) -> WorkerHandle {
    switchboard_webhook::spawn(store.clone(), config, wakeup.clone(), Arc::new(NoMetrics)).unwrap()
}

fn unix_now() -> i64 {
    now().as_unix_seconds()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wakeup_delivers_at_once_and_shutdown_finishes_in_flight() {
    for (store, label, _keep) in stores().await {
        let receiver = Receiver::start().await;
        receiver.set_default_all(Reply::status(200).delay(Duration::from_millis(800)));
        let (ctx, sub) = setup(&store, &receiver.url("/w")).await;
        let wakeup = Wakeup::new();
        let worker = start(&store, config(), &wakeup);
        // Let the worker reach its idle wait (the first round finds nothing).
        tokio::time::sleep(Duration::from_millis(300)).await;
        event(&store, &ctx, "k-1").await;
        let t0 = Instant::now();
        wakeup.notify();
        receiver.wait_for("/w", 1, WAIT).await;
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{label}: the wake-up did not deliver promptly ({:?}); the poll interval is an hour",
            t0.elapsed()
        );
        // Shut down while the receiver is still answering: the attempt finishes and is recorded.
        worker.shutdown().await;
        let log = store
            .webhooks()
            .attempts(ctx.tenant.id, sub.id, None, 10)
            .await
            .unwrap();
        assert_eq!(log.len(), 1, "{label}: {log:?}");
        assert_eq!(log[0].outcome, "success", "{label}");
        assert_eq!(
            store.worker().delivery_backlog().await.unwrap(),
            0,
            "{label}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_past_the_grace_releases_what_is_in_flight() {
    for (store, label, _keep) in stores().await {
        let receiver = Receiver::start().await;
        receiver.set_default_all(Reply::status(200).delay(Duration::from_secs(20)));
        let (ctx, sub) = setup(&store, &receiver.url("/stuck")).await;
        let wakeup = Wakeup::new();
        let worker = start(
            &store,
            WebhookConfig {
                timeout: Duration::from_secs(30),
                lease: Duration::from_secs(60),
                shutdown_grace: Duration::from_millis(300),
                ..config()
            },
            &wakeup,
        );
        event(&store, &ctx, "k-1").await;
        wakeup.notify();
        receiver.wait_for("/stuck", 1, WAIT).await;
        let t0 = Instant::now();
        worker.shutdown().await;
        assert!(t0.elapsed() < Duration::from_secs(10), "{label}");
        // Released: due at once for the next worker, not stuck behind a 60 s lease.
        let due = store
            .worker()
            .claim_deliveries("next", Duration::from_secs(60), 10)
            .await
            .unwrap();
        assert_eq!(due.len(), 1, "{label}: the delivery was not released");
        assert_eq!(due[0].subscription.id, sub.id, "{label}");
        assert_eq!(due[0].attempt_count, 0, "{label}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_signs_with_both_secrets_during_the_grace_period() {
    for (store, label, _keep) in stores().await {
        let receiver = Receiver::start().await;
        let (ctx, sub) = setup(&store, &receiver.url("/rot")).await;
        let new_secret = switchboard_webhook::generate_secret().unwrap();
        store
            .webhooks()
            .rotate_secret(
                ctx.tenant.id,
                sub.id,
                &new_secret,
                Duration::from_secs(3600),
            )
            .await
            .unwrap();
        let wakeup = Wakeup::new();
        let worker = start(&store, config(), &wakeup);
        event(&store, &ctx, "k-1").await;
        wakeup.notify();
        let got = receiver.wait_for("/rot", 1, WAIT).await;
        let r = &got[0];
        let signature = r.header("webhook-signature").unwrap();
        assert_eq!(signature.split(' ').count(), 2, "{label}: {signature}");
        for secret in [&new_secret, &sub.secret] {
            switchboard_webhook::verify(
                secret,
                r.header("webhook-id").unwrap(),
                r.header("webhook-timestamp").unwrap(),
                signature,
                &r.body,
                unix_now(),
                Duration::from_secs(300),
            )
            .unwrap();
        }
        worker.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed_and_rate_limits_hold() {
    let (store, _, _keep) = stores().await.into_iter().next().unwrap();
    let receiver = Receiver::start().await;
    receiver.script(
        "/moved",
        [Reply::status(307).header("Location", &receiver.url("/elsewhere"))],
    );
    receiver.set_default("/moved", Reply::status(500));
    let (ctx, sub) = setup(&store, &receiver.url("/moved")).await;
    // A second subscription on the same target (scheme, host and port),
    // which the per-target rate limit covers as a whole.
    let limited = store
        .webhooks()
        .create(WebhookSubscription {
            target_url: receiver.url("/limited"),
            ..sub.clone()
        })
        .await
        .unwrap();
    let wakeup = Wakeup::new();
    let worker = start(
        &store,
        WebhookConfig {
            per_target_rate: 4.0,
            schedule: vec![Duration::ZERO],
            poll_interval: Duration::from_millis(100),
            ..config()
        },
        &wakeup,
    );
    for i in 0..10 {
        event(&store, &ctx, &format!("k-{i}")).await;
    }
    wakeup.notify();
    let got = receiver.wait_for("/limited", 10, WAIT).await;
    // 4 per second with a burst of 4 for the whole target: 20 requests take
    // over 4 s, so ten of them span well over a second.
    let span = got[9].at.duration_since(got[0].at);
    assert!(
        span >= Duration::from_millis(1300),
        "rate limit not applied: {span:?}"
    );
    receiver.wait_for("/moved", 10, WAIT).await;
    worker.shutdown().await;
    assert!(
        receiver.requests_to("/elsewhere").is_empty(),
        "a redirect was followed"
    );
    let log = store
        .webhooks()
        .attempts(ctx.tenant.id, sub.id, None, 100)
        .await
        .unwrap();
    assert!(
        log.iter()
            .any(|a| a.status_code == Some(307) && a.outcome == "http_error"),
        "{log:?}"
    );
    assert_eq!(
        store
            .webhooks()
            .attempts(ctx.tenant.id, limited.id, None, 100)
            .await
            .unwrap()
            .len(),
        10
    );
}

/// Deliveries that wait in this process for a slow target's slot longer
/// than their lease are claimed again by the same worker when it polls;
/// each is still sent once, and every report lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_queued_past_its_lease_is_sent_once() {
    const EVENTS: usize = 16;
    for (store, label, _keep) in stores().await {
        let receiver = Receiver::start().await;
        // One at a time, 250 ms each: the last waits about 4 s for its turn,
        // twice its lease.
        receiver.set_default_all(Reply::status(200).delay(Duration::from_millis(250)));
        let (ctx, sub) = setup(&store, &receiver.url("/slow")).await;
        for i in 0..EVENTS {
            event(&store, &ctx, &format!("k-{i}")).await;
        }
        let wakeup = Wakeup::new();
        let worker = start(
            &store,
            WebhookConfig {
                per_target_concurrency: 1,
                timeout: Duration::from_secs(1),
                lease: Duration::from_millis(1500),
                poll_interval: Duration::from_millis(100),
                ..config()
            },
            &wakeup,
        );
        wakeup.notify();
        receiver.wait_for("/slow", EVENTS, WAIT).await;
        // Time for any second attempt of a re-claimed delivery to show.
        tokio::time::sleep(Duration::from_secs(2)).await;
        worker.shutdown().await;
        let got = receiver.requests_to("/slow");
        let ids: std::collections::BTreeSet<&str> = got
            .iter()
            .map(|r| r.header("webhook-id").unwrap())
            .collect();
        assert_eq!(ids.len(), EVENTS, "{label}: events not all delivered");
        assert_eq!(
            got.len(),
            EVENTS,
            "{label}: {} deliveries sent twice",
            got.len() - EVENTS
        );
        // Every attempt was recorded under the lease it held: none is
        // left pending to be sent again.
        assert_eq!(
            store.worker().delivery_backlog().await.unwrap(),
            0,
            "{label}"
        );
        let log = store
            .webhooks()
            .attempts(ctx.tenant.id, sub.id, None, 100)
            .await
            .unwrap();
        assert_eq!(log.len(), EVENTS, "{label}: {log:?}");
        assert!(log.iter().all(|a| a.outcome == "success"), "{label}");
    }
}
