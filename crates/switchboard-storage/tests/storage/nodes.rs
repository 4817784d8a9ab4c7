//! Heartbeat membership of the nodes on one database.

use std::time::Duration;

use super::harness::for_each_backend_clocked;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_nodes_are_those_heard_from_recently() {
    const LIVE: Duration = Duration::from_secs(3);
    for_each_backend_clocked(|store, label, clock| async move {
        assert_eq!(store.heartbeat("a", LIVE).await.unwrap(), 1, "{label}");
        assert_eq!(store.heartbeat("b", LIVE).await.unwrap(), 2, "{label}");
        assert_eq!(store.heartbeat("a", LIVE).await.unwrap(), 2, "{label}");
        // b falls silent: a counts alone once b's beat is older than LIVE.
        clock.advance(Duration::from_secs(2));
        assert_eq!(store.heartbeat("a", LIVE).await.unwrap(), 2, "{label}");
        clock.advance(Duration::from_millis(1500));
        assert_eq!(store.heartbeat("a", LIVE).await.unwrap(), 1, "{label}");
        // A node that leaves stops counting at once.
        assert_eq!(store.heartbeat("c", LIVE).await.unwrap(), 2, "{label}");
        store.leave("c").await.unwrap();
        assert_eq!(store.heartbeat("a", LIVE).await.unwrap(), 1, "{label}");
    })
    .await;
}
