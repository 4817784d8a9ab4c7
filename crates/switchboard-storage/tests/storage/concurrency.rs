//! Optimistic concurrency: no lost updates under contention, and
//! preconditions judged against the row actually written.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;
use switchboard_domain::{EntityKind, EventType, Timestamp};
use switchboard_storage::{Precondition, StorageError, Store, StoreConfig};

use super::harness::{
    TestDb, assert_all_counted, concurrently, conversation_event_count, conversation_history,
    create_conversation, draft, events, for_each_backend_clocked, for_each_tenant,
    load_conversation, load_customer, open, tenant,
};

const TASKS: i64 = 16;
const INCREMENTS: i64 = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_read_modify_write_loses_no_update() {
    for_each_tenant(|store, label, ctx| async move {
        let mut d = draft(ctx.tenant.id, "counter");
        d.custom_info.insert("counter".into(), json!(0));
        let conv = store.conversations().create(&ctx, d).await.unwrap();
        assert_eq!(conv.version, 1);

        // No retry here: every call must succeed on its own.
        concurrently(
            &store,
            &ctx,
            TASKS,
            INCREMENTS,
            move |store, ctx, _, _| async move {
                store
                    .conversations()
                    .update(&ctx, conv.id, Precondition::NONE, |c| {
                        let n = c.custom_info["counter"].as_i64().unwrap_or_default();
                        c.custom_info.insert("counter".into(), json!(n + 1));
                    })
                    .await
                    .unwrap();
            },
        )
        .await;

        let counted = (EntityKind::Conversation, conv.id.get());
        let history =
            assert_all_counted(&store, ctx.tenant.id, counted, label, TASKS * INCREMENTS).await;
        // An unbroken version chain.
        for (i, entry) in history.iter().rev().enumerate() {
            let v = i as i64;
            assert_eq!(entry.version_after, Some(v + 1), "{label}");
            assert_eq!(entry.version_before, (v > 0).then_some(v), "{label}");
        }
        // created, then conversation_updated + conversation_custom_info_updated per write.
        let events = events(
            &store,
            ctx.tenant.id,
            EntityKind::Conversation,
            conv.id.get(),
        )
        .await;
        assert_eq!(events.len() as i64, 1 + 2 * TASKS * INCREMENTS, "{label}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stale_version_fails_and_writes_nothing() {
    for_each_tenant(|store, label, ctx| async move {
        let conv = create_conversation(&store, &ctx, "s-1").await;
        let v2 = store
            .conversations()
            .update(&ctx, conv.id, Precondition::version(1), |c| {
                c.rating = Some(3);
            })
            .await
            .unwrap();
        assert_eq!(v2.version, 2, "{label}");

        let ran = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        let stale = store
            .conversations()
            .update(&ctx, conv.id, Precondition::version(1), move |c| {
                flag.store(true, Ordering::SeqCst);
                c.rating = Some(1);
            })
            .await;
        assert!(
            matches!(stale, Err(StorageError::PreconditionFailed)),
            "{label}: {stale:?}"
        );
        assert!(
            !ran.load(Ordering::SeqCst),
            "{label}: the change ran against a row it cannot be written to"
        );
        let now = load_conversation(&store, ctx.tenant.id, conv.id).await;
        assert_eq!(now, v2, "{label}: nothing written");
        assert_eq!(conversation_event_count(&store, &conv).await, 2, "{label}");
        let history = conversation_history(&store, &conv, 10).await;
        assert_eq!(history.len(), 2, "{label}");

        // The same with a version from the future, and on customers.
        let future = Precondition::version(99);
        let result = store.conversations().update(&ctx, conv.id, future, |c| {
            c.rating = Some(1);
        });
        assert!(
            matches!(result.await, Err(StorageError::PreconditionFailed)),
            "{label}"
        );
        let customer = store
            .customers()
            .create(
                &ctx,
                switchboard_domain::Customer::new(ctx.tenant.id, Timestamp::from_millis(0)),
            )
            .await
            .unwrap();
        let result = store.customers().update(&ctx, customer.id, future, |c| {
            c.name = Some("x".into());
        });
        assert!(
            matches!(result.await, Err(StorageError::PreconditionFailed)),
            "{label}"
        );
        assert_eq!(
            load_customer(&store, ctx.tenant.id, customer.id).await,
            customer,
            "{label}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unmodified_since_has_second_precision() {
    for_each_backend_clocked(|store, label, clock| async move {
        let ctx = tenant(&store, "acme").await;
        let conv = create_conversation(&store, &ctx, "s-1").await;
        // The update lands in a later second than the creation.
        let next_second = 1000 - conv.updated_at.as_millis().rem_euclid(1000) + 5;
        clock.advance(Duration::from_millis(u64::try_from(next_second).unwrap()));
        let updated = store
            .conversations()
            .update(&ctx, conv.id, Precondition::NONE, |c| {
                c.rating = Some(2);
            })
            .await
            .unwrap();
        let second = updated.updated_at.truncated_to_seconds();
        assert!(second > conv.updated_at, "{label}");

        let set_rating = |rating| {
            move |c: &mut switchboard_domain::Conversation| {
                c.rating = Some(rating);
            }
        };
        // Any instant of an earlier second fails, however close.
        for since in [
            conv.updated_at,
            Timestamp::from_millis(second.as_millis() - 1),
        ] {
            let pre = Precondition {
                version: None,
                unmodified_since: Some(since),
            };
            let result = store
                .conversations()
                .update(&ctx, conv.id, pre, set_rating(4))
                .await;
            assert!(
                matches!(result, Err(StorageError::PreconditionFailed)),
                "{label}: since {since:?}: {result:?}"
            );
        }
        assert_eq!(
            load_conversation(&store, ctx.tenant.id, conv.id).await,
            updated,
            "{label}"
        );

        // The same second passes, even when it is "before" the update in milliseconds.
        let pre = Precondition {
            version: Some(updated.version),
            unmodified_since: Some(second),
        };
        let written = store
            .conversations()
            .update(&ctx, conv.id, pre, set_rating(5))
            .await
            .unwrap();
        assert_eq!((written.rating, written.version), (Some(5), 3), "{label}");
        let pre = Precondition {
            version: None,
            unmodified_since: Some(Timestamp::from_millis(
                written.updated_at.as_millis() + 60_000,
            )),
        };
        let written = store
            .conversations()
            .update(&ctx, conv.id, pre, set_rating(1))
            .await
            .unwrap();
        assert_eq!(written.version, 4, "{label}");
    })
    .await;
}

/// Writes that fail in the middle of others (here: taken session keys)
/// change nothing, and the writes beside them commit with all their rows.
/// On SQLite concurrent writes share one group commit, so this checks that
/// a failing member rolls back alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failing_writes_beside_others_roll_back_alone() {
    for_each_tenant(|store, label, ctx| async move {
        // Every key twice, all at once: exactly one of each pair wins.
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let (store, ctx) = (store.clone(), ctx.clone());
                tokio::spawn(async move {
                    store
                        .conversations()
                        .create(&ctx, draft(ctx.tenant.id, &format!("key-{}", i % 20)))
                        .await
                })
            })
            .collect();
        let (mut created, mut conflicts) = (Vec::new(), 0);
        for t in tasks {
            match t.await.unwrap() {
                Ok(c) => created.push(c),
                Err(StorageError::Conflict(_)) => conflicts += 1,
                Err(e) => panic!("{label}: {e:?}"),
            }
        }
        assert_eq!((created.len(), conflicts), (20, 20), "{label}");
        let listed = store
            .conversations()
            .list(ctx.tenant.id, &[], 0, 100)
            .await
            .unwrap();
        assert_eq!(listed.len(), 20, "{label}");
        // One conversation_created event and one history row per winner,
        // and no event of a loser (the tenant's every event, processed or
        // not: no subscriber takes them).
        let all = store
            .webhooks()
            .recent_payloads(ctx.tenant.id, EventType::ConversationCreated, 100)
            .await
            .unwrap();
        assert_eq!(all.len(), 20, "{label}");
        for c in &created {
            assert_eq!(conversation_event_count(&store, c).await, 1, "{label}");
            let history = conversation_history(&store, c, 10).await;
            assert_eq!(history.len(), 1, "{label}");
        }
    })
    .await;
}

/// With the smallest pool (2 connections) and more concurrent updates than
/// connections, every update still goes through: the callers that hold a
/// pooled connection while their write waits for the writer must never
/// keep the writer itself from a connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn updates_go_through_with_the_smallest_pool() {
    for db in TestDb::all() {
        let label = db.label;
        let config = StoreConfig {
            max_connections: 2,
            connection_timeout: Duration::from_secs(3),
            ..super::harness::config()
        };
        let setup = open(&db).await;
        let ctx = tenant(&setup, "acme").await;
        let mut ids = Vec::new();
        for i in 0..4 {
            let c = setup
                .conversations()
                .create(&ctx, draft(ctx.tenant.id, &format!("s-{i}")))
                .await
                .unwrap();
            ids.push(c.id);
        }
        drop(setup);
        // A fresh store whose first writes are these concurrent updates.
        let store = Store::open(&db.url, config).await.unwrap();
        let targets = ids.clone();
        concurrently(&store, &ctx, 16, 1, move |store, ctx, task, _| {
            let id = targets[usize::try_from(task).unwrap() % 4];
            async move {
                store
                    .conversations()
                    .update(&ctx, id, Precondition::NONE, |c| {
                        c.rank += 1;
                    })
                    .await
                    .unwrap_or_else(|e| panic!("{label}: {e:?}"));
            }
        })
        .await;
        for id in ids {
            assert_eq!(
                load_conversation(&store, ctx.tenant.id, id).await.rank,
                4,
                "{label}"
            );
        }
    }
}
