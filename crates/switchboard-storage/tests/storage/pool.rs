//! The pool's health check: connections the server ended are replaced.

use std::time::Duration;

use switchboard_storage::{StorageError, Store, StoreConfig};

use super::harness::TestDb;

/// Ends every other session on the test database and waits until they are gone.
const END_SESSIONS: &str = "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
     WHERE datname = current_database() AND pid <> pg_backend_pid()";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_ended_by_the_server_are_replaced() {
    let Some(db) = TestDb::postgres() else { return };
    let config = StoreConfig {
        max_connections: 2,
        ..super::harness::config()
    };
    let store = Store::open(&db.url, config).await.unwrap();
    store.ping().await.unwrap();

    // Idle for longer than the recheck interval: the health check at
    // checkout finds the dead connection, and the call never sees it.
    db.raw().execute(END_SESSIONS);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    store.ping().await.unwrap();
    store.admin().tenant_by_name("acme").await.unwrap();

    // Used just now, so not checked at checkout: the next call may fail,
    // which makes the pool check every connection; after that it is healthy.
    db.raw().execute(END_SESSIONS);
    match store.ping().await {
        Ok(()) | Err(StorageError::Unavailable(_) | StorageError::Internal(_)) => {}
        Err(other) => panic!("{other:?}"),
    }
    for _ in 0..5 {
        store.ping().await.unwrap();
        store.admin().tenant_by_name("acme").await.unwrap();
    }
}
