//! How database and domain failures map to `StorageError`.

use switchboard_domain::{AttributeType, CustomAttribute, Customer, DomainError, EntityKind};
use switchboard_storage::{Precondition, StorageError, now};

use super::harness::{
    assert_not_found, create_conversation, create_customer, draft, event_count, for_each_tenant,
    load_conversation, new_agent,
};

/// The violation paths of a validation error.
fn violations<T: std::fmt::Debug>(label: &str, result: Result<T, StorageError>) -> Vec<String> {
    match result {
        Err(StorageError::Domain(DomainError::Validation(v))) => {
            v.violations().iter().map(|v| v.path.clone()).collect()
        }
        other => panic!("{label}: expected a validation error, got {other:?}"),
    }
}

fn conflict<T: std::fmt::Debug>(label: &str, what: &str, result: Result<T, StorageError>) {
    assert!(
        matches!(result, Err(StorageError::Conflict(_))),
        "{label}: {what}: {result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unique_values_conflict() {
    for_each_tenant(|store, label, ctx| async move {
        let t = ctx.tenant.id;
        conflict(
            label,
            "tenant name",
            store.admin().create_tenant("acme").await,
        );

        let first = create_conversation(&store, &ctx, "s-1").await;
        conflict(
            label,
            "session key",
            store.conversations().create(&ctx, draft(t, "s-1")).await,
        );
        let second = create_conversation(&store, &ctx, "s-2").await;
        let renamed = store
            .conversations()
            .update(&ctx, second.id, Precondition::NONE, |c| {
                c.session_key = "s-1".into();
            });
        conflict(label, "session key on modify", renamed.await);
        assert_eq!(
            load_conversation(&store, t, second.id).await,
            second,
            "{label}"
        );
        assert_eq!(
            event_count(&store, t, EntityKind::Conversation, second.id.get()).await,
            1,
            "{label}"
        );
        assert_eq!(
            store
                .conversations()
                .id_by_session_key(t, "s-1")
                .await
                .unwrap(),
            Some(first.id),
            "{label}"
        );

        let mut customer = Customer::new(t, now());
        customer.user_id = Some("u-1".into());
        store
            .customers()
            .create(&ctx, customer.clone())
            .await
            .unwrap();
        conflict(
            label,
            "user id",
            store.customers().create(&ctx, customer).await,
        );

        new_agent(&store, t, "Ada").await;
        conflict(
            label,
            "agent email",
            store
                .admin()
                .create_agent(t, "Ada 2", "ada@example.com", "agent")
                .await,
        );
        store.admin().create_department(t, "Sales").await.unwrap();
        conflict(
            label,
            "department",
            store.admin().create_department(t, "Sales").await,
        );
        let attribute = CustomAttribute::new(t, "plan", AttributeType::String, "Plan");
        store
            .admin()
            .create_attribute(attribute.clone())
            .await
            .unwrap();
        conflict(
            label,
            "attribute",
            store.admin().create_attribute(attribute).await,
        );

        // The store still works after the failed statements (no broken transaction).
        let third = store
            .conversations()
            .create(&ctx, draft(t, "s-3"))
            .await
            .unwrap();
        assert_eq!(third.version, 1, "{label}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_input_is_a_validation_error_naming_the_field() {
    for_each_tenant(|store, label, ctx| async move {
        let t = ctx.tenant.id;

        let mut customer = Customer::new(t, now());
        customer.email = Some("ada@".into());
        customer
            .custom_data
            .insert("undefined".into(), serde_json::json!(1));
        assert_eq!(
            violations(label, store.customers().create(&ctx, customer).await),
            ["/email", "/customData/undefined"],
            "{label}"
        );
        assert!(
            store
                .customers()
                .list(t, None, 10)
                .await
                .unwrap()
                .is_empty(),
            "{label}"
        );

        let created = create_customer(&store, &ctx).await;
        let bad = store
            .customers()
            .update(&ctx, created.id, Precondition::NONE, |c| {
                c.email = Some("not an email".into());
            });
        assert_eq!(violations(label, bad.await), ["/email"], "{label}");

        let mut conv = draft(t, "bad key with spaces");
        conv.visitor.email = Some("nope".into());
        assert_eq!(
            violations(label, store.conversations().create(&ctx, conv).await),
            ["/sessionKey", "/visitor/email"],
            "{label}"
        );

        assert_eq!(
            violations(label, store.admin().create_tenant("Not A Name!").await),
            ["/name"],
            "{label}"
        );
        assert_eq!(
            violations(label, store.admin().create_agent(t, "", "x", "agent").await),
            ["/email", "/name"],
            "{label}"
        );
        assert_eq!(
            violations(label, store.admin().create_department(t, " ").await),
            ["/name"],
            "{label}"
        );

        assert_not_found(
            store
                .customers()
                .get(t, switchboard_domain::CustomerId::new(999))
                .await,
            label,
        );
        let missing = store.conversations().update(
            &ctx,
            switchboard_domain::ConversationId::new(999),
            Precondition::NONE,
            |_| {},
        );
        assert_not_found(missing.await, label);
    })
    .await;
}
