//! `Worker::fan_out_next`: taking due outbox events and fanning them out in
//! one transaction, alone and with concurrent callers, on both backends.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use switchboard_domain::{EventId, WebhookSubscription};
use switchboard_storage::{DeliveryId, FanOut, Store, WriteContext, now};

use super::harness::{
    TestDb, assert_delivery_backlog, claim, create_conversation, fan_out_next, for_each_backend,
    for_each_tenant, open, open_clocked, subscribe, tenant, two_tenants,
};

const LONG: Duration = Duration::from_secs(60);

/// Creates `n` conversations (one `conversation_created` event each) and
/// returns their event ids, oldest first.
async fn make_events(store: &Store, ctx: &WriteContext, prefix: &str, n: usize) -> Vec<EventId> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let conv = create_conversation(store, ctx, &format!("{prefix}-{i}")).await;
        let events = store
            .conversations()
            .events(ctx.tenant.id, conv.id)
            .await
            .unwrap();
        ids.extend(events.iter().map(|e| e.id));
    }
    ids
}

/// The events of the claimed deliveries, in the order returned.
fn claimed_events(fan: &FanOut) -> Vec<EventId> {
    fan.claimed.iter().map(|d| d.event_id).collect()
}

/// Each subscription's deliveries as (event → message id).
async fn deliveries_by_subscription(
    store: &Store,
    ctx: &WriteContext,
    subs: &[&WebhookSubscription],
) -> Vec<BTreeMap<EventId, String>> {
    let mut out = Vec::new();
    for sub in subs {
        let list = store
            .webhooks()
            .deliveries(ctx.tenant.id, sub.id, 1000)
            .await
            .unwrap();
        let map: BTreeMap<EventId, String> = list
            .iter()
            .map(|d| (d.event_id, d.message_id.clone()))
            .collect();
        assert_eq!(map.len(), list.len(), "one delivery per event");
        out.push(map);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fans_out_once_in_id_order_and_marks_processed() {
    for_each_backend(|store, label| async move {
        let (ctx, other) = two_tenants(&store).await;

        // Nothing due: nothing happens.
        assert_eq!(
            fan_out_next(&store, "w", 10, Duration::ZERO, Some(LONG)).await,
            FanOut::default(),
            "{label}"
        );

        // No subscriber: done when written, nothing to take.
        make_events(&store, &ctx, "none", 2).await;
        let fan = fan_out_next(&store, "w", 10, Duration::ZERO, Some(LONG)).await;
        assert_eq!((fan.events, fan.deliveries), (0, 0), "{label}");
        assert!(fan.claimed.is_empty(), "{label}");
        assert_eq!(store.worker().outbox_backlog().await.unwrap(), 0, "{label}");

        let a = subscribe(&store, &ctx, "https://a.example/h").await;
        let b = subscribe(&store, &ctx, "https://b.example/h").await;
        let _other_tenant = subscribe(&store, &other, "https://c.example/h").await;
        let events = make_events(&store, &ctx, "x", 5).await;

        // The limit holds, oldest first; the deliveries come back leased.
        let start = now().as_millis();
        let first = fan_out_next(&store, "w", 3, Duration::ZERO, Some(LONG)).await;
        assert_eq!((first.events, first.deliveries), (3, 6), "{label}");
        assert_eq!(
            claimed_events(&first),
            [
                events[0], events[0], events[1], events[1], events[2], events[2]
            ],
            "{label}: in id order"
        );
        for d in &first.claimed {
            assert_eq!(d.tenant_id, ctx.tenant.id, "{label}");
            assert_eq!(d.attempt_count, 0, "{label}");
            assert!(d.message_id.starts_with("msg_"), "{label}");
            let lease = d.lease_until.as_millis();
            assert!(lease >= start + 59_000, "{label}: leased for `claim`");
        }
        // Leased to the caller: nobody else can claim them now.
        assert!(
            claim(&store, "other", LONG, 100).await.is_empty(),
            "{label}"
        );
        assert_eq!(store.worker().outbox_backlog().await.unwrap(), 2, "{label}");

        let rest = fan_out_next(&store, "w", 3, Duration::ZERO, Some(LONG)).await;
        assert_eq!((rest.events, rest.deliveries), (2, 4), "{label}");
        assert_eq!(
            claimed_events(&rest),
            [events[3], events[3], events[4], events[4]],
            "{label}"
        );
        // A second call finds nothing new.
        assert_eq!(
            fan_out_next(&store, "w", 3, Duration::ZERO, Some(LONG)).await,
            FanOut::default(),
            "{label}"
        );
        assert_eq!(store.worker().outbox_backlog().await.unwrap(), 0, "{label}");

        // Exactly one delivery per (event, subscription), distinct message ids.
        let per_sub = deliveries_by_subscription(&store, &ctx, &[&a, &b]).await;
        let all: BTreeSet<EventId> = events.iter().copied().collect();
        for map in &per_sub {
            assert_eq!(map.keys().copied().collect::<BTreeSet<_>>(), all, "{label}");
        }
        let message_ids: BTreeSet<&String> = per_sub.iter().flat_map(|m| m.values()).collect();
        assert_eq!(message_ids.len(), 10, "{label}");
        let returned: BTreeSet<String> = first
            .claimed
            .iter()
            .chain(&rest.claimed)
            .map(|d| d.message_id.clone())
            .collect();
        assert_eq!(
            returned,
            message_ids.into_iter().cloned().collect(),
            "{label}: the claimed deliveries are the stored ones"
        );

        // Processed and marked with the worker that fanned them out.
        for d in first.claimed.iter().chain(&rest.claimed) {
            let conv = d.payload["conversation"]["id"].as_i64().unwrap();
            let stored = store
                .conversations()
                .events(ctx.tenant.id, switchboard_domain::ConversationId::new(conv))
                .await
                .unwrap();
            assert!(stored.iter().all(|s| s.processed_at.is_some()), "{label}");
            assert!(
                stored.iter().all(|s| s.claimed_by.as_deref() == Some("w")),
                "{label}"
            );
        }
        // Nothing is left to fan out.
        assert_eq!(
            fan_out_next(&store, "w2", 10, Duration::ZERO, Some(LONG)).await,
            FanOut::default(),
            "{label}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn first_delay_and_no_claim_leave_deliveries_to_claim_later() {
    for_each_tenant(|store, label, ctx| async move {
        subscribe(&store, &ctx, "https://a.example/h").await;

        // Not due at once: `claim` is ignored, nothing is leased or due.
        make_events(&store, &ctx, "later", 2).await;
        let fan = fan_out_next(&store, "w", 10, Duration::from_secs(30), Some(LONG)).await;
        assert_eq!((fan.events, fan.deliveries), (2, 2), "{label}");
        assert!(fan.claimed.is_empty(), "{label}");
        assert!(
            claim(&store, "w", LONG, 10).await.is_empty(),
            "{label}: not due yet"
        );

        // Due at once without `claim`: left for `claim_deliveries`.
        make_events(&store, &ctx, "now", 3).await;
        let fan = fan_out_next(&store, "w", 10, Duration::ZERO, None).await;
        assert_eq!((fan.events, fan.deliveries), (3, 3), "{label}");
        assert!(fan.claimed.is_empty(), "{label}");
        let due = claim(&store, "w2", LONG, 10).await;
        assert_eq!(due.len(), 3, "{label}");
        assert!(
            claim(&store, "w3", LONG, 10).await.is_empty(),
            "{label}: leased to w2"
        );
        assert_delivery_backlog(&store, 5, label).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn future_events_wait_until_they_are_available() {
    for db in TestDb::all() {
        let label = db.label;
        let (store, clock) = open_clocked(&db).await;
        let ctx = tenant(&store, "acme").await;
        subscribe(&store, &ctx, "https://a.example/h").await;
        let events = make_events(&store, &ctx, "x", 3).await;

        // Not available for an hour yet: skipped, and still pending.
        db.raw().execute(&format!(
            "UPDATE outbox SET available_at = available_at + 3600000 WHERE id = {}",
            events[2].get()
        ));
        let fan = fan_out_next(&store, "w", 10, Duration::ZERO, Some(LONG)).await;
        assert_eq!(claimed_events(&fan), [events[0], events[1]], "{label}");
        assert_eq!(fan.events, 2, "{label}");
        assert_eq!(store.worker().outbox_backlog().await.unwrap(), 1, "{label}");

        // An hour later it is due.
        clock.advance(Duration::from_secs(3600));
        let fan = fan_out_next(&store, "w", 10, Duration::ZERO, Some(LONG)).await;
        assert_eq!(claimed_events(&fan), [events[2]], "{label}");
        assert_eq!(store.worker().outbox_backlog().await.unwrap(), 0, "{label}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_fan_out_each_event_once() {
    const EVENTS: usize = 500;
    for db in TestDb::all() {
        let label = db.label;
        let store = open(&db).await;
        let ctx = tenant(&store, "acme").await;
        let a = subscribe(&store, &ctx, "https://a.example/h").await;
        let b = subscribe(&store, &ctx, "https://b.example/h").await;
        let events = make_events(&store, &ctx, "c", EVENTS).await;

        // Two "processes": two stores, each with its own pool.
        let second = open(&db).await;
        let callers: Vec<_> = [store.clone(), second]
            .into_iter()
            .enumerate()
            .map(|(n, store)| {
                tokio::spawn(async move {
                    let worker = format!("w{n}");
                    let mut events = 0;
                    let mut deliveries = Vec::new();
                    loop {
                        let fan =
                            fan_out_next(&store, &worker, 7, Duration::ZERO, Some(LONG)).await;
                        if fan.events == 0 {
                            return (events, deliveries);
                        }
                        assert!(fan.events <= 7);
                        assert_eq!(fan.deliveries, fan.claimed.len());
                        events += fan.events;
                        deliveries.extend(fan.claimed.into_iter().map(|d| (d.id, d.event_id)));
                    }
                })
            })
            .collect();
        let mut total_events = 0;
        let mut all: Vec<(DeliveryId, EventId)> = Vec::new();
        for caller in callers {
            let (events, deliveries) = caller.await.unwrap();
            total_events += events;
            all.extend(deliveries);
        }
        assert_eq!(total_events, EVENTS, "{label}");
        assert_eq!(all.len(), 2 * EVENTS, "{label}");
        let ids: BTreeSet<DeliveryId> = all.iter().map(|(id, _)| *id).collect();
        assert_eq!(
            ids.len(),
            2 * EVENTS,
            "{label}: a delivery was returned twice"
        );
        let mut per_event: BTreeMap<EventId, usize> = BTreeMap::new();
        for (_, e) in &all {
            *per_event.entry(*e).or_default() += 1;
        }
        assert_eq!(per_event.len(), EVENTS, "{label}");
        assert!(per_event.values().all(|n| *n == 2), "{label}");
        assert_eq!(store.worker().outbox_backlog().await.unwrap(), 0, "{label}");
        assert_delivery_backlog(&store, i64::try_from(2 * EVENTS).unwrap(), label).await;
        let all_events: BTreeSet<EventId> = events.iter().copied().collect();
        for map in deliveries_by_subscription(&store, &ctx, &[&a, &b]).await {
            assert_eq!(map.len(), EVENTS, "{label}");
            assert_eq!(
                map.keys().copied().collect::<BTreeSet<_>>(),
                all_events,
                "{label}"
            );
        }
    }
}
