//! The admin handle's changes to a tenant's setup, on both backends:
//! agents changed and deleted (not while conversations are assigned to
//! them), departments and attributes deleted, keys revoked by id, history
//! paged; every one scoped to its tenant.

use std::collections::BTreeSet;

use switchboard_domain::{
    AgentId, ApiKeyId, AttributeType, Customer, DepartmentId, EntityKind, Scope,
};
use switchboard_storage::{AgentChange, Precondition, SessionPolicy, StorageError, now};

use super::harness::{
    assert_not_found, create_conversation, create_customer, define, delete_customer,
    for_each_backend, for_each_tenant, new_agent, two_tenants,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_without_scopes_get_the_data_scopes_not_the_admin_ones() {
    for_each_tenant(|store, label, ctx| async move {
        let created = store
            .admin()
            .create_api_key(ctx.tenant.id, "default", BTreeSet::new())
            .await
            .unwrap();
        assert_eq!(
            created.key.scopes,
            Scope::DEFAULT.into_iter().collect(),
            "{label}"
        );
        assert!(!created.key.allows(Scope::AdminRead), "{label}");
        assert!(!created.key.allows(Scope::AdminWrite), "{label}");
        let admin = store
            .admin()
            .create_api_key(
                ctx.tenant.id,
                "admin",
                BTreeSet::from([Scope::AdminRead, Scope::AdminWrite]),
            )
            .await
            .unwrap();
        let (key, _) = store
            .admin()
            .authenticate(&admin.secret)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            key.scopes,
            BTreeSet::from([Scope::AdminRead, Scope::AdminWrite]),
            "{label}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn agents_are_changed_and_deleted_within_their_tenant() {
    for_each_backend(|store, label| async move {
        let (acme, other) = two_tenants(&store).await;
        let t = acme.tenant.id;
        let ada = new_agent(&store, t, "Ada").await;
        let bob = new_agent(&store, t, "Bob").await;

        let changed = store
            .admin()
            .update_agent(
                t,
                ada.id,
                AgentChange {
                    name: Some("Ada L.".into()),
                    email: Some("  ADA.L@Example.com ".into()),
                    role: Some("admin".into()),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (
                changed.name.as_str(),
                changed.email.as_str(),
                changed.role.as_str()
            ),
            ("Ada L.", "ada.l@example.com", "admin"),
            "{label}"
        );
        assert_eq!(store.admin().agent(t, ada.id).await.unwrap(), changed);
        // Only what is given changes.
        let renamed = store
            .admin()
            .update_agent(
                t,
                ada.id,
                AgentChange {
                    name: Some("Ada".into()),
                    ..AgentChange::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(renamed.email, "ada.l@example.com", "{label}");
        assert_eq!(renamed.role, "admin", "{label}");

        // Another agent's email is taken; bad values are refused.
        let taken = store
            .admin()
            .update_agent(
                t,
                bob.id,
                AgentChange {
                    email: Some("ada.l@example.com".into()),
                    ..AgentChange::default()
                },
            )
            .await;
        assert!(
            matches!(taken, Err(StorageError::Conflict(_))),
            "{label}: {taken:?}"
        );
        for change in [
            AgentChange {
                role: Some("root".into()),
                ..AgentChange::default()
            },
            AgentChange {
                email: Some("not an email".into()),
                ..AgentChange::default()
            },
            AgentChange {
                name: Some("  ".into()),
                ..AgentChange::default()
            },
        ] {
            let refused = store.admin().update_agent(t, bob.id, change.clone()).await;
            assert!(
                matches!(refused, Err(StorageError::Domain(_))),
                "{label}: {change:?} gave {refused:?}"
            );
        }

        // Another tenant's agent looks exactly like a missing one.
        let elsewhere = new_agent(&store, other.tenant.id, "Eve").await;
        for id in [elsewhere.id, AgentId::new(999_999)] {
            let change = store
                .admin()
                .update_agent(t, id, AgentChange::default())
                .await;
            assert!(
                matches!(change, Err(StorageError::NotFound)),
                "{label}: {change:?}"
            );
            let delete = store.admin().delete_agent(t, id).await;
            assert!(
                matches!(delete, Err(StorageError::NotFound)),
                "{label}: {delete:?}"
            );
        }
        assert_eq!(
            store
                .admin()
                .agent(other.tenant.id, elsewhere.id)
                .await
                .unwrap(),
            elsewhere,
            "{label}: untouched"
        );

        // Deleting ends the agent's console sessions.
        store
            .console()
            .set_password(t, &bob.email, "correct horse battery")
            .await
            .unwrap();
        let session = store
            .console()
            .create_session(&bob, SessionPolicy::default())
            .await
            .unwrap();
        assert_eq!(store.admin().delete_agent(t, bob.id).await.unwrap(), bob);
        assert!(
            store
                .console()
                .session(&session.token, SessionPolicy::default())
                .await
                .unwrap()
                .is_none(),
            "{label}: the session ended"
        );
        assert_not_found(store.admin().agent(t, bob.id).await, label);
        assert_eq!(store.admin().agents(t).await.unwrap(), vec![renamed]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn agents_and_departments_with_conversations_are_not_deleted() {
    for_each_tenant(|store, label, ctx| async move {
        let t = ctx.tenant.id;
        let ada = new_agent(&store, t, "Ada").await;
        let bob = new_agent(&store, t, "Bob").await;
        let sales = store.admin().create_department(t, "Sales").await.unwrap();
        let conv = create_conversation(&store, &ctx, "s-1").await;
        let (ada_id, sales_id) = (ada.id, sales.id);
        store
            .conversations()
            .update(&ctx, conv.id, Precondition::NONE, move |c| {
                c.assign(Some(ada_id));
                c.department_id = Some(sales_id);
            })
            .await
            .unwrap();

        let agent = store.admin().delete_agent(t, ada.id).await;
        match &agent {
            Err(StorageError::Conflict(m)) => {
                assert!(m.contains("1 conversation"), "{label}: {m}");
            }
            other => panic!("{label}: {other:?}"),
        }
        let department = store.admin().delete_department(t, sales.id).await;
        match &department {
            Err(StorageError::Conflict(m)) => {
                assert!(m.contains("1 conversation"), "{label}: {m}");
            }
            other => panic!("{label}: {other:?}"),
        }
        assert_eq!(
            store.admin().agent(t, ada.id).await.unwrap(),
            ada,
            "{label}"
        );
        assert_eq!(
            store.admin().department(t, sales.id).await.unwrap(),
            sales,
            "{label}"
        );

        // Being transferred to an agent keeps them too.
        let carol = new_agent(&store, t, "Carol").await;
        let carol_id = carol.id;
        let other_conv = create_conversation(&store, &ctx, "s-2").await;
        store
            .conversations()
            .update(&ctx, other_conv.id, Precondition::NONE, move |c| {
                c.transfer_to = Some(carol_id);
            })
            .await
            .unwrap();
        let transfer = store.admin().delete_agent(t, carol.id).await;
        assert!(
            matches!(&transfer, Err(StorageError::Conflict(m)) if m.contains("1 conversation")),
            "{label}: {transfer:?}"
        );

        // Reassigned and moved: now they go. Ada stays a past participant
        // of the conversation, which does not keep her.
        let bob_id = bob.id;
        store
            .conversations()
            .update(&ctx, conv.id, Precondition::NONE, move |c| {
                c.assign(Some(bob_id));
                c.department_id = None;
            })
            .await
            .unwrap();
        store.admin().delete_agent(t, ada.id).await.unwrap();
        store.admin().delete_department(t, sales.id).await.unwrap();
        let after = store.conversations().get(t, conv.id).await.unwrap();
        assert_eq!(after.assignee_id, Some(bob.id), "{label}");
        assert!(after.agent_ids.contains(&ada.id), "{label}");

        // A deleted agent or department can no longer be linked.
        let ada_id = ada.id;
        let relink = store
            .conversations()
            .update(&ctx, conv.id, Precondition::NONE, move |c| {
                c.assign(Some(ada_id));
            })
            .await;
        assert!(
            matches!(relink, Err(StorageError::Domain(_))),
            "{label}: {relink:?}"
        );
        let gone = DepartmentId::new(sales.id.get());
        let relink = store
            .conversations()
            .update(&ctx, conv.id, Precondition::NONE, move |c| {
                c.department_id = Some(gone);
            })
            .await;
        assert!(
            matches!(relink, Err(StorageError::Domain(_))),
            "{label}: {relink:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn departments_attributes_and_keys_are_deleted_within_their_tenant() {
    for_each_backend(|store, label| async move {
        let (acme, other) = two_tenants(&store).await;
        let (t, o) = (acme.tenant.id, other.tenant.id);
        let sales = store.admin().create_department(t, "Sales").await.unwrap();
        let theirs = store.admin().create_department(o, "Sales").await.unwrap();
        assert_not_found(store.admin().delete_department(t, theirs.id).await, label);
        assert_eq!(
            store.admin().delete_department(t, sales.id).await.unwrap(),
            sales
        );
        assert!(store.admin().departments(t).await.unwrap().is_empty());
        assert_eq!(store.admin().departments(o).await.unwrap(), vec![theirs]);

        for tenant in [t, o] {
            define(&store, tenant, "plan", AttributeType::String, "Plan").await;
        }
        // Not while a customer holds a value for it (that customer could
        // not be changed any more); once the value is cleared, it goes.
        let mut draft = Customer::new(t, now());
        draft
            .custom_data
            .insert("plan".into(), serde_json::json!("pro"));
        let customer = store.customers().create(&acme, draft).await.unwrap();
        match store.admin().delete_attribute(t, "plan").await {
            Err(StorageError::Conflict(m)) => assert!(m.contains("1 customer"), "{label}: {m}"),
            other => panic!("{label}: {other:?}"),
        }
        store
            .customers()
            .update(&acme, customer.id, Precondition::NONE, |c| {
                c.custom_data.remove("plan");
            })
            .await
            .unwrap();
        let removed = store.admin().delete_attribute(t, "plan").await.unwrap();
        assert_eq!(removed.label, "Plan", "{label}");
        assert_not_found(store.admin().delete_attribute(t, "plan").await, label);
        assert_not_found(store.admin().delete_attribute(t, "nothing\0").await, label);
        assert!(store.admin().attributes(t).await.unwrap().is_empty());
        assert_eq!(store.admin().attributes(o).await.unwrap().len(), 1);

        let mine = store
            .admin()
            .create_api_key(t, "mine", BTreeSet::new())
            .await
            .unwrap();
        let theirs = store
            .admin()
            .create_api_key(o, "theirs", BTreeSet::new())
            .await
            .unwrap();
        for id in [theirs.key.id, ApiKeyId::new(999_999)] {
            assert_not_found(store.admin().revoke_api_key_id(t, id).await, label);
        }
        assert_eq!(
            store
                .admin()
                .revoke_api_key_id(t, mine.key.id)
                .await
                .unwrap(),
            mine.key
        );
        assert!(
            store
                .admin()
                .authenticate(&mine.secret)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .admin()
                .authenticate(&theirs.secret)
                .await
                .unwrap()
                .is_some()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn history_is_paged_newest_first_and_outlives_its_entity() {
    for_each_backend(|store, label| async move {
        let (acme, other) = two_tenants(&store).await;
        let t = acme.tenant.id;
        let customer = create_customer(&store, &acme).await;
        for i in 0..4 {
            store
                .customers()
                .update(&acme, customer.id, Precondition::NONE, move |c| {
                    c.name = Some(format!("name {i}"));
                })
                .await
                .unwrap();
        }
        let admin = store.admin();
        let kind = EntityKind::Customer;
        let id = customer.id.get();
        let first = admin.history(t, kind, id, None, 2).await.unwrap();
        assert_eq!(first.len(), 2, "{label}");
        assert!(first[0].id > first[1].id, "{label}: newest first");
        let second = admin
            .history(t, kind, id, Some(first[1].id), 2)
            .await
            .unwrap();
        let third = admin
            .history(t, kind, id, Some(second[1].id), 2)
            .await
            .unwrap();
        assert_eq!(second.len(), 2, "{label}");
        assert_eq!(third.len(), 1, "{label}: the create");
        assert_eq!(third[0].version_before, None, "{label}");
        let all = admin.history(t, kind, id, None, 100).await.unwrap();
        let paged: Vec<i64> = first
            .iter()
            .chain(&second)
            .chain(&third)
            .map(|e| e.id)
            .collect();
        assert_eq!(
            paged,
            all.iter().map(|e| e.id).collect::<Vec<_>>(),
            "{label}"
        );

        // Another tenant's, or no, entity: not found.
        for (tenant, id) in [(other.tenant.id, id), (t, 999_999)] {
            let missing = admin.history(tenant, kind, id, None, 10).await;
            assert!(
                matches!(missing, Err(StorageError::NotFound)),
                "{label}: {missing:?}"
            );
        }
        let conv = create_conversation(&store, &acme, "s-1").await;
        let conv_history = admin
            .history(t, EntityKind::Conversation, conv.id.get(), None, 10)
            .await
            .unwrap();
        assert_eq!(conv_history.len(), 1, "{label}");

        // The history outlives the customer.
        delete_customer(&store, &acme, customer.id).await.unwrap();
        let after = admin.history(t, kind, id, None, 100).await.unwrap();
        assert_eq!(after.len(), all.len() + 1, "{label}");
        assert_eq!(after[0].version_after, None, "{label}: the delete");
    })
    .await;
}
