//! What an operator does with a tenant's webhooks: re-enable a disabled
//! subscription, and see and requeue the tenant's quarantined outbox
//! events; tenant-scoped, on both backends.

use std::time::Duration;

use switchboard_domain::{EventId, SubscriptionId, SubscriptionState};
use switchboard_storage::{DeliveryState, StorageError, Store};

use super::harness::{
    TestDb, assert_not_found, create_conversation, fan_out_next, open, subscribe, two_tenants,
};

/// Disables subscription `id` as the worker does after failing too long.
fn disable(db: &TestDb, id: SubscriptionId) {
    db.raw().execute(&format!(
        "UPDATE webhook_subscriptions SET state = 'disabled', failing_since = 1000 WHERE id = {}",
        id.get()
    ));
}

/// Sets outbox row `id` aside as fan-out does with an event it gave up on.
fn quarantine(db: &TestDb, id: i64) {
    db.raw().execute(&format!(
        "UPDATE outbox SET processed_at = NULL, claimed_by = NULL, fan_out_failures = 3, \
         quarantined_at = created_at, last_error = 'cannot read it' WHERE id = {id}"
    ));
}

async fn fan_out(store: &Store) -> switchboard_storage::FanOut {
    fan_out_next(store, "w", 1000, Duration::ZERO, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_disabled_subscription_is_enabled_again_by_its_tenant_only() {
    for db in TestDb::all() {
        let label = db.label;
        let store = open(&db).await;
        let (acme, globex) = two_tenants(&store).await;
        let sub = subscribe(&store, &acme, "https://a.example/h").await;
        create_conversation(&store, &acme, "before").await;
        let fan = fan_out(&store).await;
        assert_eq!(fan.deliveries, 1, "{label}");
        let first = store
            .webhooks()
            .deliveries(acme.tenant.id, sub.id, 10)
            .await
            .unwrap()[0]
            .id;
        disable(&db, sub.id);

        // Disabled: no new deliveries, no redelivery.
        create_conversation(&store, &acme, "while-disabled").await;
        assert_eq!(fan_out(&store).await.deliveries, 0, "{label}");
        assert!(
            matches!(
                store
                    .webhooks()
                    .redeliver(acme.tenant.id, sub.id, first)
                    .await,
                Err(StorageError::Conflict(_))
            ),
            "{label}"
        );

        // Another tenant cannot enable it, nor can anyone enable a missing one.
        for (t, id) in [
            (globex.tenant.id, sub.id),
            (acme.tenant.id, SubscriptionId::new(sub.id.get() + 1000)),
        ] {
            assert_not_found(store.webhooks().enable(t, id).await, label);
        }
        let still = store.webhooks().get(acme.tenant.id, sub.id).await.unwrap();
        assert_eq!(still.state, SubscriptionState::Disabled, "{label}");

        // Enabled: active, its failing period forgotten, its secret intact.
        let enabled = store
            .webhooks()
            .enable(acme.tenant.id, sub.id)
            .await
            .unwrap();
        assert_eq!(
            (enabled.state, enabled.failing_since),
            (SubscriptionState::Active, None),
            "{label}"
        );
        assert_eq!(enabled.secret, sub.secret, "{label}");
        let read = store.webhooks().get(acme.tenant.id, sub.id).await.unwrap();
        assert_eq!(read.state, SubscriptionState::Active, "{label}");

        // New events reach it again, and an old delivery can be redelivered.
        create_conversation(&store, &acme, "after").await;
        assert_eq!(fan_out(&store).await.deliveries, 1, "{label}");
        let again = store
            .webhooks()
            .redeliver(acme.tenant.id, sub.id, first)
            .await
            .unwrap();
        assert_eq!(again.state, DeliveryState::Pending, "{label}");
        // Enabling an active subscription changes nothing.
        let same = store
            .webhooks()
            .enable(acme.tenant.id, sub.id)
            .await
            .unwrap();
        assert_eq!(same.state, SubscriptionState::Active, "{label}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn quarantined_events_are_listed_and_requeued_per_tenant() {
    for db in TestDb::all() {
        let label = db.label;
        let store = open(&db).await;
        let (acme, globex) = two_tenants(&store).await;
        let a = create_conversation(&store, &acme, "a").await;
        let g = create_conversation(&store, &globex, "g").await;
        let a_event = store
            .conversations()
            .events(acme.tenant.id, a.id)
            .await
            .unwrap()[0]
            .id;
        let g_event = store
            .conversations()
            .events(globex.tenant.id, g.id)
            .await
            .unwrap()[0]
            .id;
        quarantine(&db, a_event.get());
        quarantine(&db, g_event.get());

        let mine = store
            .webhooks()
            .quarantined(acme.tenant.id, 100)
            .await
            .unwrap();
        assert_eq!(mine.len(), 1, "{label}: {mine:?}");
        assert_eq!(mine[0].id, a_event, "{label}");
        assert_eq!(mine[0].tenant_id, acme.tenant.id, "{label}");
        assert_eq!(mine[0].error.as_deref(), Some("cannot read it"), "{label}");
        assert_eq!(mine[0].tries, 3, "{label}");

        // Another tenant's event, or one not quarantined: not found, untouched.
        for id in [g_event, EventId::new(a_event.get() + 1000)] {
            assert_not_found(store.webhooks().requeue(acme.tenant.id, id).await, label);
        }
        assert_eq!(
            store
                .webhooks()
                .quarantined(globex.tenant.id, 100)
                .await
                .unwrap()
                .len(),
            1,
            "{label}"
        );

        store
            .webhooks()
            .requeue(acme.tenant.id, a_event)
            .await
            .unwrap();
        assert!(
            store
                .webhooks()
                .quarantined(acme.tenant.id, 100)
                .await
                .unwrap()
                .is_empty(),
            "{label}"
        );
        assert_eq!(
            store.worker().quarantined_count().await.unwrap(),
            1,
            "{label}"
        );
        // The gauges read together: one still quarantined, the requeued
        // one waiting again.
        let gauges = store.worker().gauges().await.unwrap();
        assert_eq!(gauges.quarantined, 1, "{label}");
        assert_eq!(
            gauges.outbox_backlog,
            store.worker().outbox_backlog().await.unwrap(),
            "{label}"
        );
        assert!(gauges.outbox_backlog >= 1, "{label}: {gauges:?}");
        assert_eq!(
            gauges.delivery_backlog,
            store.worker().delivery_backlog().await.unwrap(),
            "{label}"
        );
        // Requeued twice: the second time it is no longer quarantined.
        assert_not_found(
            store.webhooks().requeue(acme.tenant.id, a_event).await,
            label,
        );
    }
}
