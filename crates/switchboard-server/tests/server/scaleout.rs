//! Several `switchboard serve` processes on one PostgreSQL acting as one
//! service: readiness while the database is down, changes that reach every
//! node at once, rate limits that hold across nodes, and a failover of a
//! primary with a synchronous standby that loses nothing.

use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard_testsupport::PgServer;
use switchboard_testsupport::tempfile::tempdir;

use super::webhook_processes::{Served, client};

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
