//! Several `switchboard serve` processes on one PostgreSQL acting as one
//! service: readiness while the database is down, changes that reach every
//! node at once, rate limits that hold across nodes, and a failover of a
//! primary with a synchronous standby that loses nothing.

use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard_domain::Scope;
use switchboard_storage::{SecretKeySource, SecretKeys, Store, StoreConfig};
use switchboard_testsupport::receiver::Receiver;
use switchboard_testsupport::tempfile::tempdir;
use switchboard_testsupport::{PgServer, SECRET_KEYS, TestDatabase};

use super::webhook_processes::{
    Served, client, create_chatlog, subscribe, tally, tenant_and_key, update_email,
};

/// A fresh database on the shared PostgreSQL server, or `None` (skipped).
async fn shared_database() -> Option<TestDatabase> {
    let server = switchboard_testsupport::postgres_or_skip()?;
    Some(
        tokio::task::spawn_blocking(move || server.create_database().unwrap())
            .await
            .unwrap(),
    )
}

/// A store on `url` in the test process (as an operator's command has).
async fn open_store(url: &str) -> Store {
    Store::open(
        url,
        StoreConfig {
            secret_keys: SecretKeySource::Keys(SecretKeys::parse(SECRET_KEYS).unwrap()),
            ..StoreConfig::default()
        },
    )
    .await
    .unwrap()
}

/// The status of `GET {base}/zapier/v1/me` with `key`.
async fn me(http: &reqwest::Client, base: &str, key: &str) -> u16 {
    http.get(format!("{base}/zapier/v1/me"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// How long until every node answers `key` with 401 (polling every 10 ms).
async fn until_refused_everywhere(
    http: &reqwest::Client,
    nodes: &[&Served],
    key: &str,
    limit: Duration,
) -> Duration {
    let start = Instant::now();
    let mut refused = vec![false; nodes.len()];
    while refused.iter().any(|r| !r) {
        for (i, node) in nodes.iter().enumerate() {
            if !refused[i] {
                refused[i] = me(http, &node.base_url, key).await == 401;
            }
        }
        if start.elapsed() > limit {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        refused.iter().all(|r| *r),
        "still accepted after {:?} by nodes {refused:?}",
        start.elapsed()
    );
    start.elapsed()
}

/// Whether tests that need PostgreSQL binaries must run (CI) or may skip.
fn skip_or_panic(what: &str) {
    assert!(
        std::env::var_os("CI").is_none_or(|ci| ci.is_empty()),
        "{what}: no PostgreSQL binaries, and CI is set"
    );
    eprintln!("SKIPPED {what}: no PostgreSQL binaries");
}

/// `GET {base}/readyz`: the status, the body, and how long it took.
async fn readyz(http: &reqwest::Client, base: &str) -> (u16, Value, Duration) {
    let start = Instant::now();
    let response = http.get(format!("{base}/readyz")).send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_unready_within_a_second_while_postgres_is_down() {
    let server = tokio::task::spawn_blocking(PgServer::start)
        .await
        .unwrap()
        .unwrap();
    let Some(server) = server.filter(|s| s.cluster_dir().is_some()) else {
        skip_or_panic("readyz while PostgreSQL is down (needs a cluster of its own)");
        return;
    };
    let db = server.create_database().unwrap();
    let dir = tempdir().unwrap();
    let node = Served::start(db.url(), dir.path(), "node", &[]);
    let http = client();
    let (status, body, _) = readyz(&http, &node.base_url).await;
    assert_eq!(status, 200, "{body}");

    server.stop();
    // A result is reused for half a second.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let (status, body, took) = readyz(&http, &node.base_url).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["reason"], "database_unavailable", "{body}");
        slowest = slowest.max(took);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    println!("readyz while PostgreSQL is down: slowest answer {slowest:?}");
    assert!(
        slowest < Duration::from_secs(1),
        "readyz took {slowest:?}; logs:\n{}",
        node.logs()
    );

    // Back up: ready again by itself, without a restart of the node.
    server.restart().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, _, _) = readyz(&http, &node.base_url).await;
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "not ready again after a restart");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(http);
    node.terminate();
}

/// Keys are cached for ten minutes on both nodes; a revocation and a
/// tenant's removal by another process (the operator's command) still take
/// effect on both within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_and_tenant_removal_reach_both_nodes_within_a_second() {
    let Some(db) = shared_database().await else {
        return;
    };
    let url = db.url().to_string();
    let key = tenant_and_key(&url).await;
    let store = open_store(&url).await;
    let other = store.admin().create_tenant("other").await.unwrap();
    let other_key = store
        .admin()
        .create_api_key(other.id, "k", Scope::ALL.into_iter().collect())
        .await
        .unwrap()
        .secret;
    let dir = tempdir().unwrap();
    let env = [("SWITCHBOARD_API_KEY_CACHE_SECS", "600")];
    let a = Served::start(&url, dir.path(), "a", &env);
    let b = Served::start(&url, dir.path(), "b", &env);
    let http = client();
    for node in [&a, &b] {
        assert_eq!(me(&http, &node.base_url, &key).await, 200);
        assert_eq!(me(&http, &node.base_url, &other_key).await, 200);
    }

    let acme = store.admin().tenant_by_name("acme").await.unwrap().unwrap();
    store
        .admin()
        .revoke_api_key(acme.id, &key[..16])
        .await
        .unwrap();
    let revoked = until_refused_everywhere(&http, &[&a, &b], &key, Duration::from_secs(5)).await;
    store.admin().delete_tenant("other").await.unwrap();
    let removed =
        until_refused_everywhere(&http, &[&a, &b], &other_key, Duration::from_secs(5)).await;
    println!("two nodes: revocation refused everywhere after {revoked:?}, tenant removal after {removed:?}");
    assert!(revoked < Duration::from_secs(1), "{revoked:?}");
    assert!(removed < Duration::from_secs(1), "{removed:?}");
    drop(http);
    a.terminate();
    b.terminate();
}

/// Node A takes the writes and runs no webhook worker; node B holds the
/// delivery work and polls only every 30 s. Each event committed on A is
/// delivered by B at once, because A's commit wakes B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_on_one_node_wakes_the_worker_of_the_other() {
    const UPDATES: usize = 10;
    let Some(db) = shared_database().await else {
        return;
    };
    let url = db.url().to_string();
    let key = tenant_and_key(&url).await;
    let receiver = Receiver::start().await;
    let dir = tempdir().unwrap();
    let a = Served::start(
        &url,
        dir.path(),
        "a",
        &[("SWITCHBOARD_WEBHOOK_ENABLED", "false")],
    );
    let b = Served::start(
        &url,
        dir.path(),
        "b",
        &[("SWITCHBOARD_WEBHOOK_POLL_INTERVAL", "30s")],
    );
    subscribe(&a.base_url, &key, &receiver.url("/wake")).await;
    let http = client();
    create_chatlog(&http, &a.base_url, &key, "wake-1").await;
    // Let B's worker go idle (its first poll has passed).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut slowest = Duration::ZERO;
    for n in 0..UPDATES {
        let email = format!("w{n}@example.com");
        let sent = Instant::now();
        assert!(update_email(&http, &a.base_url, &key, "wake-1", &email).await);
        loop {
            let (emails, _) = tally(&receiver.requests());
            if emails.contains(&email) {
                break;
            }
            assert!(
                sent.elapsed() < Duration::from_secs(10),
                "{email} not delivered; logs b:\n{}",
                b.logs()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        slowest = slowest.max(sent.elapsed());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("commit on A, delivery by B (poll 30 s): slowest of {UPDATES} {slowest:?}");
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");
    drop(http);
    a.terminate();
    b.terminate();
}

/// `switchboard_cluster_live_nodes` from a node's /metrics.
async fn live_nodes(http: &reqwest::Client, base: &str) -> u32 {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("switchboard_cluster_live_nodes "))
        .map_or(0, |n| n.trim().parse().unwrap())
}

/// Sends requests from four lanes, each alternating between the nodes, for
/// `run`; returns how many got each status and how long it took.
async fn hammer(
    nodes: &[&Served],
    key: &str,
    run: Duration,
) -> (std::collections::BTreeMap<u16, usize>, Duration) {
    let start = Instant::now();
    let mut lanes = tokio::task::JoinSet::new();
    for lane in 0..4 {
        let bases: Vec<String> = nodes.iter().map(|n| n.base_url.clone()).collect();
        let key = key.to_string();
        let http = client();
        lanes.spawn(async move {
            let mut statuses = Vec::new();
            let mut i = lane;
            while start.elapsed() < run {
                statuses.push(me(&http, &bases[i % bases.len()], &key).await);
                i += 1;
            }
            statuses
        });
    }
    let mut counts = std::collections::BTreeMap::new();
    while let Some(statuses) = lanes.join_next().await {
        for status in statuses.unwrap() {
            *counts.entry(status).or_insert(0) += 1;
        }
    }
    (counts, start.elapsed())
}

/// Two nodes, a key limited to 600 a minute with bursts of 20, and
/// requests spread over both as fast as they answer: together they allow
/// what one node would (the burst plus 10 a second), within 10 %. The same
/// for failed authentications from one address (60 a minute, bursts of 20).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keys_limit_holds_across_two_nodes() {
    const PER_SECOND: f64 = 10.0;
    const BURST: f64 = 20.0;
    let Some(db) = shared_database().await else {
        return;
    };
    let url = db.url().to_string();
    let key = tenant_and_key(&url).await;
    let dir = tempdir().unwrap();
    let env = [
        ("SWITCHBOARD_API_RATE_LIMIT_PER_MINUTE", "600"),
        ("SWITCHBOARD_API_RATE_LIMIT_BURST", "20"),
        ("SWITCHBOARD_API_AUTH_FAILURES_PER_MINUTE", "60"),
        ("SWITCHBOARD_API_AUTH_FAILURE_BURST", "20"),
    ];
    let a = Served::start(&url, dir.path(), "a", &env);
    let b = Served::start(&url, dir.path(), "b", &env);
    let http = client();
    let deadline = Instant::now() + Duration::from_secs(15);
    while live_nodes(&http, &a.base_url).await != 2 || live_nodes(&http, &b.base_url).await != 2 {
        assert!(Instant::now() < deadline, "the nodes never counted each other");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let (counts, took) = hammer(&[&a, &b], &key, Duration::from_secs(4)).await;
    let allowed = counts.get(&200).copied().unwrap_or(0);
    let one_node = BURST + PER_SECOND * took.as_secs_f64();
    #[expect(clippy::cast_precision_loss, reason = "small counts")]
    let over = allowed as f64 / one_node - 1.0;
    println!(
        "rate limit across two nodes: {allowed} allowed in {took:?} ({counts:?}); \
         one node allows {one_node:.0}: {:+.1} %",
        over * 100.0
    );
    assert!(counts.get(&429).copied().unwrap_or(0) > 0, "{counts:?}");
    assert!(over <= 0.10, "{allowed} allowed, {:+.1} %", over * 100.0);
    assert!(over >= -0.25, "the shares are not used: {allowed} allowed");

    let wrong = "sbk_000000000000_wrongwrongwrongwrong";
    let (counts, took) = hammer(&[&a, &b], wrong, Duration::from_secs(2)).await;
    let failed = counts.get(&401).copied().unwrap_or(0);
    let one_node = BURST + took.as_secs_f64();
    #[expect(clippy::cast_precision_loss, reason = "small counts")]
    let over = failed as f64 / one_node - 1.0;
    println!(
        "failed authentications across two nodes: {failed} looked up in {took:?} ({counts:?}); \
         one node allows {one_node:.0}: {:+.1} %",
        over * 100.0
    );
    assert!(over <= 0.10, "{failed} failures looked up, {:+.1} %", over * 100.0);
    drop(http);
    a.terminate();
    b.terminate();
}
