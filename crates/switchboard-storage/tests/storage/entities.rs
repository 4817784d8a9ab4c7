//! Round trips of every entity through both backends.

use std::collections::BTreeSet;

use serde_json::json;
use switchboard_domain::{
    Actor, AttributeType, ConversationStatus, Customer, DEFAULT_TAG_COLOR, Device, EntityKind,
    EventType, Location, Scope, Tag, Timestamp, WebhookSubscription,
};
use switchboard_storage::{Precondition, StorageError, now};

use super::harness::{
    assert_not_found, create_customer, define, delete_customer, draft, event_types,
    for_each_backend, for_each_tenant, load_conversation, load_customer, new_agent, tenant,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tenants_and_api_keys() {
    for_each_backend(|store, label| async move {
        let acme = store.admin().create_tenant("acme").await.unwrap();
        assert_eq!(acme.name, "acme");
        assert_eq!(
            store.admin().tenant_by_name("acme").await.unwrap(),
            Some(acme.clone()),
            "{label}"
        );
        assert_eq!(
            store.admin().tenant(acme.id).await.unwrap(),
            Some(acme.clone()),
            "{label}"
        );
        assert_eq!(
            store.admin().tenant_by_name("nobody").await.unwrap(),
            None,
            "{label}"
        );
        let other = store.admin().create_tenant("globex").await.unwrap();

        let all = store
            .admin()
            .create_api_key(acme.id, "zapier", BTreeSet::new())
            .await
            .unwrap();
        assert_eq!(
            all.key.scopes,
            Scope::DEFAULT.into_iter().collect(),
            "{label}: empty means every data scope"
        );
        assert_eq!(all.key.name, "zapier");
        assert!(
            !all.secret.contains(&all.key.secret_hash),
            "{label}: the secret is not stored"
        );
        let (key, tenant) = store
            .admin()
            .authenticate(&all.secret)
            .await
            .unwrap()
            .expect("valid key");
        assert_eq!((key, tenant), (all.key.clone(), acme.clone()), "{label}");

        let read_only = BTreeSet::from([Scope::CustomersRead]);
        let narrow = store
            .admin()
            .create_api_key(other.id, "crm", read_only.clone())
            .await
            .unwrap();
        let (key, tenant) = store
            .admin()
            .authenticate(&narrow.secret)
            .await
            .unwrap()
            .expect("valid key");
        assert_eq!(key.scopes, read_only, "{label}");
        assert_eq!(tenant, other, "{label}");

        // Right prefix, wrong secret.
        let (head, _) = all.secret.rsplit_once('_').unwrap();
        let wrong = format!("{head}_{}", "0".repeat(40));
        assert_ne!(wrong, all.secret);
        // A prefix that belongs to no key.
        let prefix = &all.key.prefix;
        let unknown_prefix = all.secret.replacen(prefix, &"f".repeat(prefix.len()), 1);
        for presented in [
            wrong.as_str(),
            unknown_prefix.as_str(),
            "",
            "garbage",
            "sbk_",
            "sbk_xyz_123",
            &all.secret[..all.secret.len() - 1],
            &format!("{}x", all.secret),
        ] {
            assert!(
                store
                    .admin()
                    .authenticate(presented)
                    .await
                    .unwrap()
                    .is_none(),
                "{label}: {presented:?} authenticated"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn agents_departments_attributes_and_tags() {
    for_each_tenant(|store, label, ctx| async move {
        let t = ctx.tenant.id;
        let ada = store
            .admin()
            .create_agent(t, "Ada", "ada@example.com", "admin")
            .await
            .unwrap();
        let bob = new_agent(&store, t, "Bob").await;
        assert_eq!(
            (ada.name.as_str(), ada.email.as_str(), ada.role.as_str()),
            ("Ada", "ada@example.com", "admin")
        );
        assert_eq!(
            store.admin().agent(t, ada.id).await.unwrap(),
            ada,
            "{label}"
        );
        assert_eq!(
            store.admin().agents(t).await.unwrap(),
            vec![ada, bob],
            "{label}"
        );

        let sales = store.admin().create_department(t, "Sales").await.unwrap();
        assert_eq!(
            store.admin().department(t, sales.id).await.unwrap(),
            sales,
            "{label}"
        );
        assert_eq!(
            store.admin().departments(t).await.unwrap(),
            vec![sales],
            "{label}"
        );

        for (name, kind) in [
            ("plan", AttributeType::String),
            ("seats", AttributeType::Number),
            ("trial", AttributeType::Boolean),
        ] {
            define(&store, t, name, kind, &name.to_uppercase()).await;
        }
        let attributes = store.admin().attributes(t).await.unwrap();
        assert_eq!(
            attributes.keys().collect::<Vec<_>>(),
            ["plan", "seats", "trial"],
            "{label}"
        );
        assert_eq!(attributes["seats"].kind, AttributeType::Number, "{label}");
        assert_eq!(attributes["seats"].label, "SEATS", "{label}");

        // Tags are recorded in the tenant's list when a customer first uses
        // them, keeping the first color.
        assert!(store.admin().tags(t).await.unwrap().is_empty());
        let mut draft = Customer::new(t, now());
        draft.tags = vec![Tag::new("vip"), Tag::colored("beta", "#00ff00")];
        let customer = store.customers().create(&ctx, draft).await.unwrap();
        store
            .customers()
            .update(&ctx, customer.id, Precondition::NONE, |c| {
                c.add_tags([Tag::colored("vip", "red"), Tag::new("churn-risk")]);
            })
            .await
            .unwrap();
        let tags = store.admin().tags(t).await.unwrap();
        assert_eq!(
            tags,
            vec![
                Tag::new("vip"),
                Tag::colored("beta", "#00ff00"),
                Tag::new("churn-risk")
            ],
            "{label}"
        );
    })
    .await;
}

/// Tags belong to the tenant: a tag named without a color takes the color
/// the tenant's catalogue has for it (on create, update and import), or the
/// default for a new name; another tenant's catalogue never shows through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tag_colors_come_from_the_tenants_catalogue() {
    for_each_backend(|store, label| async move {
        let acme = tenant(&store, "acme").await;
        let other = tenant(&store, "other").await;
        let color = |c: &Customer, name: &str| {
            c.tags
                .iter()
                .find(|t| t.name == name)
                .map(|t| t.color.clone())
        };
        let mut a = Customer::new(acme.tenant.id, now());
        a.tags = vec![Tag::colored("vip", "#ff0000")];
        store.customers().create(&acme, a).await.unwrap();

        let mut b = Customer::new(acme.tenant.id, now());
        b.add_tags([Tag::named("vip")]);
        let b = store.customers().create(&acme, b).await.unwrap();
        assert_eq!(color(&b, "vip").as_deref(), Some("#ff0000"), "{label}");
        let b = store
            .customers()
            .update(&acme, b.id, Precondition::NONE, |c| {
                c.tags.clear();
                c.add_tags([Tag::named("vip"), Tag::named("lead")]);
            })
            .await
            .unwrap();
        assert_eq!(color(&b, "vip").as_deref(), Some("#ff0000"), "{label}");
        assert_eq!(
            color(&b, "lead").as_deref(),
            Some(DEFAULT_TAG_COLOR),
            "{label}"
        );
        let stored = store.customers().get(acme.tenant.id, b.id).await.unwrap();
        assert_eq!(stored, b, "{label}");

        let mut imported = Customer::new(acme.tenant.id, now());
        imported.add_tags([Tag::named("vip")]);
        let imported = store
            .customers()
            .import(&acme, vec![imported])
            .await
            .unwrap();
        assert_eq!(
            color(&imported[0], "vip").as_deref(),
            Some("#ff0000"),
            "{label}"
        );

        // Another tenant's catalogue has no `vip` yet.
        let mut c = Customer::new(other.tenant.id, now());
        c.add_tags([Tag::named("vip")]);
        let c = store.customers().create(&other, c).await.unwrap();
        assert_eq!(
            color(&c, "vip").as_deref(),
            Some(DEFAULT_TAG_COLOR),
            "{label}"
        );
        assert_eq!(
            store.admin().tags(other.tenant.id).await.unwrap(),
            vec![Tag::new("vip")],
            "{label}"
        );
        assert_eq!(
            store.admin().tags(acme.tenant.id).await.unwrap(),
            vec![Tag::colored("vip", "#ff0000"), Tag::new("lead")],
            "{label}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn customers_round_trip_with_json_fields() {
    for_each_tenant(|store, label, ctx| async move {
        let t = ctx.tenant.id;
        define(&store, t, "plan", AttributeType::String, "Plan").await;
        define(&store, t, "seats", AttributeType::Number, "Seats").await;

        let mut draft = Customer::new(t, Timestamp::from_millis(0));
        draft.user_id = Some("u-42".into());
        draft.name = Some("Ada Lovelace ✓".into());
        draft.email = Some("Ada@Example.com".into());
        draft.first_seen = Some(Timestamp::from_millis(1_570_000_000_123));
        draft.tags = vec![Tag::new("vip")];
        draft.custom_data.insert("plan".into(), json!("enterprise"));
        draft.custom_data.insert("seats".into(), json!(12.5));
        draft.location = Some(Location {
            region_code: Some("03".into()),
            country_code: Some("NO".into()),
            city: Some("Oslo".into()),
        });
        draft.device = Some(Device {
            platform: Some("desktop".into()),
            os: None,
            browser: Some("Firefox 140".into()),
            ip_address: Some("192.0.2.1".into()),
            timezone: Some("Europe/Oslo".into()),
            user_agent: Some("Mozilla/5.0".into()),
        });

        let before = now();
        let created = store.customers().create(&ctx, draft.clone()).await.unwrap();
        assert!(created.id.get() > 0, "{label}");
        assert_eq!(created.version, 1, "{label}");
        assert_eq!(created.tenant_id, t);
        assert!(
            created.created_at >= before && created.created_at == created.updated_at,
            "{label}"
        );
        let expected = Customer {
            id: created.id,
            created_at: created.created_at,
            updated_at: created.updated_at,
            version: 1,
            ..draft
        };
        assert_eq!(created, expected, "{label}");
        assert_eq!(
            load_customer(&store, t, created.id).await,
            created,
            "{label}"
        );
        assert_eq!(
            store.customers().id_by_user_id(t, "u-42").await.unwrap(),
            Some(created.id),
            "{label}"
        );
        assert_eq!(
            store.customers().id_by_user_id(t, "u-43").await.unwrap(),
            None,
            "{label}"
        );

        let updated = store
            .customers()
            .update(&ctx, created.id, Precondition::version(1), |c| {
                c.custom_data.insert("seats".into(), json!("13"));
                c.custom_data.remove("plan");
            })
            .await
            .unwrap();
        assert_eq!(updated.version, 2, "{label}");
        assert!(updated.updated_at >= created.updated_at, "{label}");
        assert_eq!(
            load_customer(&store, t, created.id).await,
            updated,
            "{label}"
        );

        let second = create_customer(&store, &ctx).await;
        let page = store.customers().list(t, None, 10).await.unwrap();
        assert_eq!(page, vec![updated.clone(), second.clone()], "{label}");
        assert_eq!(
            store
                .customers()
                .list(t, Some(updated.id), 10)
                .await
                .unwrap(),
            vec![second.clone()],
            "{label}"
        );
        assert_eq!(
            store.customers().list(t, None, 1).await.unwrap(),
            vec![updated],
            "{label}"
        );

        delete_customer(&store, &ctx, second.id).await.unwrap();
        assert_not_found(store.customers().get(t, second.id).await, label);
        assert_not_found(delete_customer(&store, &ctx, second.id).await, label);
        assert_eq!(
            event_types(&store, t, EntityKind::Customer, second.id.get()).await,
            [EventType::CustomerCreated, EventType::CustomerDeleted],
            "{label}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conversations_round_trip_with_links_and_nested_custom_info() {
    for_each_tenant(|store, label, ctx| async move {
        let t = ctx.tenant.id;
        let customer = create_customer(&store, &ctx).await;
        let ada = new_agent(&store, t, "Ada").await;
        let bob = new_agent(&store, t, "Bob").await;
        let sales = store.admin().create_department(t, "Sales").await.unwrap();

        let mut draft = draft(t, "chat-1:a.b_c");
        draft.status = ConversationStatus::Opened;
        draft.visitor.name = Some("Ada".into());
        draft.visitor.email = Some("ada@example.com".into());
        draft.visitor.country = Some("Norway".into());
        draft.visitor.consented = true;
        draft.customer_id = Some(customer.id);
        draft.assignee_id = Some(ada.id);
        draft.agent_ids = vec![ada.id, bob.id];
        draft.department_id = Some(sales.id);
        draft.transfer_to = Some(bob.id);
        draft.topic_id = Some(7);
        draft.rating = Some(5);
        draft.flags = 1 << 40;
        draft.first_message = Some("Hello? «quotes» and 🙂".into());
        draft.started_at = Some(Timestamp::from_millis(1_700_000_000_001));
        draft.last_message_at = Some(Timestamp::from_millis(1_700_000_000_999));
        draft.snoozed_until = Some(Timestamp::from_millis(253_402_300_799_999));
        draft.created_with = Some("api".into());
        draft.custom_info.insert(
            "nested".into(),
            json!({"a": [1, 2.5, "x", null, true, {"deep": [[]]}], "b": {"c": -3, "d": {}}, "e": ""}),
        );
        draft.custom_info.insert("big".into(), json!(u64::MAX));
        draft.custom_info.insert("small".into(), json!(i64::MIN));
        draft.custom_info.insert("fraction".into(), json!(0.1));
        draft.custom_info.insert("quote\"key/with~chars".into(), json!("line\nbreak\ttab\\"));

        let created = store.conversations().create(&ctx, draft.clone()).await.unwrap();
        assert!(created.id.get() > 0);
        assert_eq!(created.version, 1, "{label}");
        assert_eq!(created.created_at, created.updated_at, "{label}");
        let expected = switchboard_domain::Conversation {
            id: created.id,
            created_at: created.created_at,
            updated_at: created.updated_at,
            version: 1,
            ..draft
        };
        assert_eq!(created, expected, "{label}");
        let loaded = load_conversation(&store, t, created.id).await;
        assert_eq!(loaded, created, "{label}");
        assert_eq!(loaded.custom_info["big"], json!(u64::MAX), "{label}");
        assert_eq!(store.conversations().id_by_session_key(t, "chat-1:a.b_c").await.unwrap(), Some(created.id));
        assert_eq!(store.conversations().id_by_session_key(t, "chat-2").await.unwrap(), None);

        // Closing stamps closedAt/closedBy; the list filters by status.
        let other = store.conversations().create(&ctx, super::harness::draft(t, "chat-2")).await.unwrap();
        let closed = store
            .conversations().update(&ctx, other.id, Precondition::NONE, |c| {
                c.status = ConversationStatus::Closed;
            })
            .await
            .unwrap();
        assert_eq!(closed.closed_by, Some(Actor::System), "{label}");
        assert_eq!(closed.closed_at, Some(closed.updated_at), "{label}");
        let all = store.conversations().list(t, &[], 0, 10).await.unwrap();
        assert_eq!(all, vec![closed.clone(), loaded.clone()], "{label}: newest first");
        let open = store.conversations().list(t, &[ConversationStatus::Opened], 0, 10).await.unwrap();
        assert_eq!(open, vec![loaded.clone()], "{label}");
        assert_eq!(store.conversations().list(t, &[], 1, 10).await.unwrap(), vec![loaded.clone()], "{label}");

        store.conversations().delete(&ctx, other.id, Precondition::NONE).await.unwrap();
        assert!(matches!(store.conversations().get(t, other.id).await, Err(StorageError::NotFound)));
        let kinds = event_types(&store, t, EntityKind::Conversation, other.id.get()).await;
        assert_eq!(kinds.last(), Some(&EventType::ConversationDeleted), "{label}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_a_customer_unlinks_its_conversations() {
    for_each_tenant(|store, label, ctx| async move {
        let t = ctx.tenant.id;
        let customer = create_customer(&store, &ctx).await;
        let mut d = draft(t, "s-1");
        d.customer_id = Some(customer.id);
        let conv = store.conversations().create(&ctx, d).await.unwrap();

        delete_customer(&store, &ctx, customer.id).await.unwrap();
        let loaded = load_conversation(&store, t, conv.id).await;
        assert_eq!(
            loaded.customer_id, None,
            "{label}: the conversation still links the deleted customer"
        );
        // And it can still be changed (the link check must not trip on a dangling id).
        let changed = store
            .conversations()
            .update(&ctx, conv.id, Precondition::NONE, |c| {
                c.rating = Some(4);
            })
            .await
            .unwrap();
        assert_eq!(changed.customer_id, None, "{label}");
        assert_eq!(changed.rating, Some(4), "{label}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhook_subscriptions() {
    for_each_tenant(|store, label, ctx| async move {
        let t = ctx.tenant.id;
        let subscription = |event, url: &str| {
            WebhookSubscription::new(
                t,
                url,
                event,
                "whsec_c2VjcmV0",
                Timestamp::from_millis(1_700_000_000_000),
            )
        };
        let a = store
            .webhooks()
            .create(subscription(
                EventType::EmailUpdated,
                "https://hooks.example.com/a",
            ))
            .await
            .unwrap();
        let b = store
            .webhooks()
            .create(subscription(
                EventType::ConversationStatusChanged,
                "https://hooks.example.com/b?x=1",
            ))
            .await
            .unwrap();
        assert!(a.id.get() > 0 && b.id > a.id, "{label}");
        assert_eq!(
            a,
            WebhookSubscription {
                id: a.id,
                ..subscription(EventType::EmailUpdated, "https://hooks.example.com/a")
            }
        );
        assert_eq!(store.webhooks().get(t, a.id).await.unwrap(), a, "{label}");
        assert_eq!(
            store.webhooks().list(t).await.unwrap(),
            vec![a.clone(), b.clone()],
            "{label}"
        );

        store.webhooks().delete(t, a.id).await.unwrap();
        assert_not_found(store.webhooks().get(t, a.id).await, label);
        assert_not_found(store.webhooks().delete(t, a.id).await, label);
        assert_eq!(store.webhooks().list(t).await.unwrap(), vec![b], "{label}");
    })
    .await;
}
