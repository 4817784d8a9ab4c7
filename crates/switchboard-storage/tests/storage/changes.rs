//! Changes every node must learn: published in the process on both
//! backends, and on PostgreSQL heard by another store that listens.

use std::collections::BTreeSet;
use std::time::Duration;

use switchboard_domain::Scope;
use switchboard_storage::{Change, Store};
use tokio::sync::broadcast::Receiver;

use super::harness::{TestDb, open, subscribe, tenant};

/// The next change on `feed` other than `Committed`/`Resync`, within a second.
async fn next(feed: &mut Receiver<Change>, label: &str) -> Change {
    tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            match feed.recv().await.unwrap() {
                Change::Committed | Change::Resync => {}
                change => return change,
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{label}: no change within a second"))
}

/// Revokes a key, changes subscriptions and removes the tenant on `writer`;
/// `feed` must see each of them, in order.
async fn changes_are_seen(writer: &Store, feed: &mut Receiver<Change>, label: &str) {
    let ctx = tenant(writer, "acme").await;
    let key = writer
        .admin()
        .create_api_key(ctx.tenant.id, "k", BTreeSet::from([Scope::CustomersRead]))
        .await
        .unwrap();
    writer
        .admin()
        .revoke_api_key(ctx.tenant.id, &key.key.id.get().to_string())
        .await
        .unwrap();
    let tenant_id = ctx.tenant.id;
    assert_eq!(
        next(feed, label).await,
        Change::KeyRevoked {
            tenant: tenant_id,
            key: key.key.id
        },
        "{label}"
    );
    let sub = subscribe(writer, &ctx, "https://example.com/hook").await;
    assert_eq!(
        next(feed, label).await,
        Change::SubscriptionsChanged { tenant: tenant_id },
        "{label}"
    );
    writer.webhooks().delete(tenant_id, sub.id).await.unwrap();
    assert_eq!(
        next(feed, label).await,
        Change::SubscriptionsChanged { tenant: tenant_id },
        "{label}"
    );
    writer.admin().delete_tenant("acme").await.unwrap();
    assert_eq!(
        next(feed, label).await,
        Change::TenantRemoved { tenant: tenant_id },
        "{label}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_are_published_in_the_process() {
    for db in TestDb::all() {
        let store = open(&db).await;
        let mut feed = store.changes();
        changes_are_seen(&store, &mut feed, db.label).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_hears_changes_and_commits_through_postgres() {
    let Some(db) = tokio::task::spawn_blocking(TestDb::postgres).await.unwrap() else {
        return;
    };
    let writer = open(&db).await;
    let listener = open(&db).await;
    let _listening = listener.listen().unwrap();
    let mut feed = listener.changes();
    // The listener connects in the background: its first change proves it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    changes_are_seen(&writer, &mut feed, "postgres").await;

    // "A write committed" travels only once the writer listens too.
    let _writer_listening = writer.listen().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    while feed.try_recv().is_ok() {}
    writer.committed();
    let heard = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            if feed.recv().await.unwrap() == Change::Committed {
                return;
            }
        }
    })
    .await;
    assert!(heard.is_ok(), "no Committed within a second");
}
