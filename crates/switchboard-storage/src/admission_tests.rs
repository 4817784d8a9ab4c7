//! Calls are admitted to the pool first come, first served, one per
//! connection they may take: on SQLite the writer thread's own connection
//! is not among them. (Unit tests: `Store::run` is private to the crate.)

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use switchboard_testsupport::TestDb;

use crate::{StorageError, Store, StoreConfig};

/// Runs a call that holds its connection until `release` is dropped or
/// sent to, and returns once the call holds it.
async fn hold(store: &Store) -> (mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let store = store.clone();
    let held = tokio::spawn(async move {
        store
            .run(move |_| {
                let _ = started_tx.send(());
                let _ = release_rx.recv();
                Ok::<_, StorageError>(())
            })
            .await
            .unwrap();
    });
    started_rx.await.unwrap();
    (release_tx, held)
}

/// The smallest pool on SQLite: two connections, one of them the
/// writer's, so calls run one at a time, in the order they came.
#[tokio::test(flavor = "current_thread")]
async fn calls_wait_for_a_connection_in_the_order_they_came() {
    let db = TestDb::sqlite();
    let config = StoreConfig {
        max_connections: 2,
        ..StoreConfig::for_tests()
    };
    let store = Store::open(&db.url, config).await.unwrap();
    let (release, held) = hold(&store).await;

    let order = Arc::new(Mutex::new(Vec::new()));
    let call = |i: usize| {
        let (store, order) = (store.clone(), Arc::clone(&order));
        tokio::spawn(async move {
            store
                .run(move |_| {
                    order.lock().unwrap().push(i);
                    Ok::<_, StorageError>(())
                })
                .await
                .unwrap();
        })
    };
    let mut calls = Vec::new();
    for i in 0..6 {
        calls.push(call(i));
        // On this one-thread runtime the call runs until it waits for
        // its turn before the next one is made.
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
    }
    // None of them took the connection the held call has, nor the
    // writer's.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(order.lock().unwrap().is_empty(), "{order:?}");

    // Calls that come while the connection passes from one waiting call
    // to the next queue behind those already waiting.
    drop(release);
    for i in 6..30 {
        calls.push(call(i));
        tokio::task::yield_now().await;
    }
    held.await.unwrap();
    for c in calls {
        c.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..30).collect::<Vec<_>>());
}

/// A call that gets no connection within the pool's timeout fails as
/// unavailable, and the store serves again once connections are free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_waits_longer_than_the_timeout_fails_as_unavailable() {
    for db in TestDb::all() {
        let config = StoreConfig {
            // PostgreSQL: both connections held; SQLite: the one that is
            // not the writer's.
            max_connections: 2,
            connection_timeout: Duration::from_millis(300),
            ..StoreConfig::for_tests()
        };
        let store = Store::open(&db.url, config).await.unwrap();
        let mut holders = vec![hold(&store).await];
        if !store.is_sqlite() {
            holders.push(hold(&store).await);
        }
        // Refused while waiting for its turn, not by the pool behind it.
        match store.ping().await {
            Err(StorageError::Unavailable(e)) => assert_eq!(
                e.to_string(),
                "no database connection within 300 ms",
                "{}",
                db.label
            ),
            other => panic!("{}: {other:?}", db.label),
        }
        for (release, held) in holders {
            drop(release);
            held.await.unwrap();
        }
        store.ping().await.unwrap();
    }
}
