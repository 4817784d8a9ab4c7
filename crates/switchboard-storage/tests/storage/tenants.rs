//! Deleting tenants and revoking keys, and what a write for a tenant that
//! vanished gets: a typed `TenantGone`, never a foreign-key failure.

use std::collections::BTreeSet;

use switchboard_domain::{
    AttributeType, Conversation, CustomAttribute, Customer, EventType, Scope, WebhookSubscription,
};
use switchboard_storage::{Precondition, StorageError};

use super::harness::{
    TestDb, assert_not_found, create_conversation, create_customer, delete_customer,
    for_each_backend, open, two_tenants,
};

#[tokio::test]
async fn writes_for_a_deleted_tenant_are_tenant_gone() {
    for_each_backend(|store, backend| async move {
        let (ctx, other) = two_tenants(&store).await;
        let id = ctx.tenant.id;
        let customer = create_customer(&store, &ctx).await;
        create_conversation(&store, &ctx, "s-1").await;
        let deleted = store.admin().delete_tenant("acme").await.unwrap();
        assert_eq!(deleted.id, id, "{backend}");
        assert!(
            store
                .admin()
                .tenant_by_name("acme")
                .await
                .unwrap()
                .is_none(),
            "{backend}"
        );

        // A caller still holding the tenant (a cached API key) writes.
        let gone = |r: Result<(), StorageError>, what: &str| {
            assert!(
                matches!(r, Err(StorageError::TenantGone)),
                "{backend} {what}: {r:?}"
            );
        };
        gone(
            store
                .customers()
                .create(&ctx, Customer::new(id, store.now()))
                .await
                .map(|_| ()),
            "customer",
        );
        gone(
            store
                .conversations()
                .create(&ctx, Conversation::new(id, "s-2", store.now()))
                .await
                .map(|_| ()),
            "conversation",
        );
        gone(
            store
                .webhooks()
                .create(WebhookSubscription::new(
                    id,
                    "https://example.com/hook",
                    EventType::EmailUpdated,
                    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                    store.now(),
                ))
                .await
                .map(|_| ()),
            "subscription",
        );
        gone(
            store
                .admin()
                .create_agent(id, "Grace", "grace@example.com", "agent")
                .await
                .map(|_| ()),
            "agent",
        );
        gone(
            store
                .admin()
                .create_attribute(CustomAttribute::new(
                    id,
                    "plan",
                    AttributeType::String,
                    "Plan",
                ))
                .await,
            "attribute",
        );
        gone(
            store
                .admin()
                .create_api_key(id, "k", BTreeSet::new())
                .await
                .map(|_| ()),
            "api key",
        );
        // Its rows went with it: they are simply not found.
        assert_not_found(delete_customer(&store, &ctx, customer.id).await, backend);
        // Another tenant is untouched.
        create_customer(&store, &other).await;
        assert_not_found(store.admin().delete_tenant("acme").await, backend);
    })
    .await;
}

/// A deleted tenant's outbox and history go with it, although on
/// PostgreSQL those two tables have no foreign key to the tenant (migration
/// `2026-12-05-000101_outbox_history_unlocked`): `delete_tenant` deletes
/// them itself. Another tenant's stay.
#[tokio::test]
async fn a_deleted_tenants_outbox_and_history_go_with_it() {
    for db in tokio::task::spawn_blocking(TestDb::all).await.unwrap() {
        let store = open(&db).await;
        let backend = db.label;
        let (ctx, other) = two_tenants(&store).await;
        for c in [&ctx, &other] {
            let customer = create_customer(&store, c).await;
            store
                .customers()
                .update(c, customer.id, Precondition::NONE, |c| {
                    c.name = Some("Ada".into());
                })
                .await
                .unwrap();
            create_conversation(&store, c, "s-1").await;
        }
        let mut raw = db.raw();
        let mut rows = |table: &str| -> Vec<String> {
            let sql = format!(
                "SELECT CAST(tenant_id AS TEXT) || ' ' || CAST(count(*) AS TEXT) AS line \
                 FROM {table} GROUP BY tenant_id ORDER BY tenant_id"
            );
            raw.lines(&sql, &sql)
        };
        let (mine, theirs) = (ctx.tenant.id.get(), other.tenant.id.get());
        // Two creates and an update each: three history rows, and an event
        // per create and the update at least.
        assert_eq!(
            rows("change_history"),
            [format!("{mine} 3"), format!("{theirs} 3")],
            "{backend}"
        );
        let before = rows("outbox");
        assert_eq!(before.len(), 2, "{backend}: {before:?}");

        store.admin().delete_tenant("acme").await.unwrap();
        assert_eq!(rows("change_history"), [format!("{theirs} 3")], "{backend}");
        assert_eq!(rows("outbox"), before[1..], "{backend}");
    }
}

#[tokio::test]
async fn revoked_keys_no_longer_authenticate() {
    for_each_backend(|store, backend| async move {
        let (ctx, other) = two_tenants(&store).await;
        let admin = store.admin();
        let a = admin
            .create_api_key(ctx.tenant.id, "a", BTreeSet::from([Scope::CustomersRead]))
            .await
            .unwrap();
        let b = admin
            .create_api_key(ctx.tenant.id, "b", BTreeSet::new())
            .await
            .unwrap();
        let listed: Vec<_> = admin
            .api_keys(ctx.tenant.id)
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.id)
            .collect();
        assert_eq!(listed, [a.key.id, b.key.id], "{backend}");

        // Another tenant cannot revoke it, by id or by prefix.
        for name in [a.key.id.get().to_string(), format!("sbk_{}", a.key.prefix)] {
            assert!(
                matches!(
                    admin.revoke_api_key(other.tenant.id, &name).await,
                    Err(StorageError::NotFound)
                ),
                "{backend} {name}"
            );
        }
        let revoked = admin
            .revoke_api_key(ctx.tenant.id, &a.key.id.get().to_string())
            .await
            .unwrap();
        assert_eq!(revoked.id, a.key.id);
        assert!(admin.authenticate(&a.secret).await.unwrap().is_none());
        // By the start of its secret.
        let prefix = b.secret.rsplit_once('_').unwrap().0.to_string();
        admin.revoke_api_key(ctx.tenant.id, &prefix).await.unwrap();
        assert!(admin.authenticate(&b.secret).await.unwrap().is_none());
        assert!(admin.api_keys(ctx.tenant.id).await.unwrap().is_empty());
    })
    .await;
}
