//! Claiming outbox events with leases.

use std::collections::BTreeSet;
use std::time::Duration;

use switchboard_domain::EventId;
use switchboard_storage::{OutboxEvent, Store, WriteContext, now};

use super::harness::{draft, for_each_backend, tenant};

const LONG: Duration = Duration::from_secs(60);

/// Creates `n` conversations, one `conversation_created` event each.
async fn make_events(store: &Store, ctx: &WriteContext, prefix: &str, n: usize) {
    for i in 0..n {
        store
            .create_conversation(ctx, draft(ctx.tenant.id, &format!("{prefix}-{i}")))
            .await
            .unwrap();
    }
}

fn ids(events: &[OutboxEvent]) -> Vec<EventId> {
    events.iter().map(|e| e.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claim_complete_release_and_lease_expiry() {
    for_each_backend(|store, label| async move {
        let ctx = tenant(&store, "acme").await;
        make_events(&store, &ctx, "a", 3).await;
        assert_eq!(store.outbox_backlog().await.unwrap(), 3, "{label}");

        let start = now();
        let first = store.claim_outbox("w1", LONG, 2).await.unwrap();
        assert_eq!(first.len(), 2, "{label}: the limit holds");
        assert!(first[0].id < first[1].id, "{label}: oldest first");
        for e in &first {
            assert_eq!(e.claimed_by.as_deref(), Some("w1"), "{label}");
            let lease = e.lease_until.unwrap().as_millis();
            assert!(
                lease >= start.as_millis() + 59_000 && lease <= now().as_millis() + 60_000,
                "{label}: {lease}"
            );
            assert!(e.processed_at.is_none(), "{label}");
        }
        let third = store.claim_outbox("w1", LONG, 10).await.unwrap();
        assert_eq!(third.len(), 1, "{label}");
        assert!(
            store.claim_outbox("w2", LONG, 10).await.unwrap().is_empty(),
            "{label}: leased rows were claimed again"
        );

        // Completed rows are done for good; only the lease holder completes.
        assert_eq!(
            store.complete_outbox("w2", &[first[0].id]).await.unwrap(),
            0,
            "{label}"
        );
        assert_eq!(
            store.complete_outbox("w1", &[first[0].id]).await.unwrap(),
            1,
            "{label}"
        );
        assert_eq!(
            store.complete_outbox("w1", &[first[0].id]).await.unwrap(),
            0,
            "{label}: completed twice"
        );
        assert_eq!(store.outbox_backlog().await.unwrap(), 2, "{label}");

        // Released rows are claimable at once; releasing a processed row does nothing.
        assert_eq!(
            store.release_outbox("w2", &ids(&first)).await.unwrap(),
            0,
            "{label}"
        );
        assert_eq!(
            store.release_outbox("w1", &ids(&first)).await.unwrap(),
            1,
            "{label}"
        );
        let again = store.claim_outbox("w2", LONG, 10).await.unwrap();
        assert_eq!(ids(&again), [first[1].id], "{label}");
        assert_eq!(again[0].claimed_by.as_deref(), Some("w2"), "{label}");
        assert_eq!(
            store.complete_outbox("w1", &[first[1].id]).await.unwrap(),
            0,
            "{label}: w1 gave it away"
        );
        assert_eq!(
            store.complete_outbox("w2", &ids(&again)).await.unwrap(),
            1,
            "{label}"
        );
        assert_eq!(
            store.complete_outbox("w1", &ids(&third)).await.unwrap(),
            1,
            "{label}"
        );
        assert_eq!(store.outbox_backlog().await.unwrap(), 0, "{label}");
        assert!(
            store.claim_outbox("w3", LONG, 10).await.unwrap().is_empty(),
            "{label}"
        );

        // An expired lease (the claimer crashed) is taken over; the old
        // claimer can then neither complete nor release.
        make_events(&store, &ctx, "b", 2).await;
        let short = store
            .claim_outbox("slow", Duration::from_millis(50), 10)
            .await
            .unwrap();
        assert_eq!(short.len(), 2, "{label}");
        // (Exclusivity under an unexpired lease is checked above with long
        // leases; checking it here would race the 50 ms on a busy machine.)
        tokio::time::sleep(Duration::from_millis(100)).await;
        let taken = store.claim_outbox("fast", LONG, 10).await.unwrap();
        assert_eq!(ids(&taken), ids(&short), "{label}");
        assert_eq!(
            store.complete_outbox("slow", &ids(&short)).await.unwrap(),
            0,
            "{label}"
        );
        assert_eq!(
            store.release_outbox("slow", &ids(&short)).await.unwrap(),
            0,
            "{label}"
        );
        assert!(
            store
                .claim_outbox("other", LONG, 10)
                .await
                .unwrap()
                .is_empty(),
            "{label}"
        );
        let events = store
            .events_for(
                ctx.tenant.id,
                switchboard_domain::EntityKind::Conversation,
                short[0].event.entity_id,
            )
            .await
            .unwrap();
        assert_eq!(events[0].claimed_by.as_deref(), Some("fast"), "{label}");
        assert!(events[0].processed_at.is_none(), "{label}");
        assert_eq!(
            store.complete_outbox("fast", &ids(&taken)).await.unwrap(),
            2,
            "{label}"
        );
        let events = store
            .events_for(
                ctx.tenant.id,
                switchboard_domain::EntityKind::Conversation,
                short[0].event.entity_id,
            )
            .await
            .unwrap();
        assert!(events[0].processed_at.is_some(), "{label}");
        assert_eq!(store.outbox_backlog().await.unwrap(), 0, "{label}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claimers_never_share_a_row() {
    const ROWS: usize = 200;
    const ROUNDS: usize = 3;
    for_each_backend(|store, label| async move {
        let ctx = tenant(&store, "acme").await;
        for round in 0..ROUNDS {
            make_events(&store, &ctx, &format!("r{round}"), ROWS).await;
            let claimers: Vec<_> = (0..2)
                .map(|n| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        let worker = format!("w{n}");
                        let mut claimed = Vec::new();
                        loop {
                            let batch = store.claim_outbox(&worker, LONG, 5).await.unwrap();
                            if batch.is_empty() {
                                return claimed;
                            }
                            assert!(batch.len() <= 5);
                            assert!(
                                batch
                                    .iter()
                                    .all(|e| e.claimed_by.as_deref() == Some(worker.as_str()))
                            );
                            claimed.extend(ids(&batch));
                        }
                    })
                })
                .collect();
            let mut sets = Vec::new();
            for claimer in claimers {
                let claimed = claimer.await.unwrap();
                let set: BTreeSet<EventId> = claimed.iter().copied().collect();
                assert_eq!(
                    set.len(),
                    claimed.len(),
                    "{label}: a claimer got a row twice"
                );
                sets.push(set);
            }
            let (a, b) = (&sets[0], &sets[1]);
            assert!(
                a.is_disjoint(b),
                "{label}: round {round}: shared rows {:?}",
                a.intersection(b).collect::<Vec<_>>()
            );
            assert_eq!(
                a.len() + b.len(),
                ROWS,
                "{label}: round {round}: {} + {}",
                a.len(),
                b.len()
            );
            for (n, set) in sets.iter().enumerate() {
                let ids: Vec<EventId> = set.iter().copied().collect();
                assert_eq!(
                    store.complete_outbox(&format!("w{n}"), &ids).await.unwrap(),
                    ids.len(),
                    "{label}"
                );
            }
            assert_eq!(store.outbox_backlog().await.unwrap(), 0, "{label}");
        }
    })
    .await;
}
