//! Tenant isolation: another tenant's row behaves exactly like a missing one.

use switchboard_domain::{DomainError, EntityKind, EventType, Timestamp, WebhookSubscription};
use switchboard_storage::{Precondition, StorageError};

use super::harness::{
    create_conversation, create_customer, delete_customer, draft, event_count, for_each_backend,
    load_conversation, load_customer, new_agent, two_tenants,
};

fn not_found<T: std::fmt::Debug>(label: &str, what: &str, result: Result<T, StorageError>) {
    assert!(
        matches!(result, Err(StorageError::NotFound)),
        "{label}: {what}: {result:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_tenants_rows_are_not_found() {
    for_each_backend(|store, label| async move {
        let (ours, theirs) = two_tenants(&store).await;
        let (a, b) = (ours.tenant.id, theirs.tenant.id);

        let customer = create_customer(&store, &theirs).await;
        let conv = create_conversation(&store, &theirs, "s-1").await;
        let agent = new_agent(&store, b, "Bob").await;
        let department = store.admin().create_department(b, "Sales").await.unwrap();
        let subscription = store
            .webhooks()
            .create(WebhookSubscription::new(
                b,
                "https://hooks.example.com/",
                EventType::CustomerCreated,
                "whsec_eA==",
                Timestamp::from_millis(0),
            ))
            .await
            .unwrap();
        // A row of our own with the same session key is fine.
        create_conversation(&store, &ours, "s-1").await;

        not_found(
            label,
            "customer",
            store.customers().get(a, customer.id).await,
        );
        not_found(
            label,
            "conversation",
            store.conversations().get(a, conv.id).await,
        );
        not_found(label, "agent", store.admin().agent(a, agent.id).await);
        not_found(
            label,
            "department",
            store.admin().department(a, department.id).await,
        );
        not_found(
            label,
            "subscription",
            store.webhooks().get(a, subscription.id).await,
        );
        assert_eq!(store.customers().id_by_user_id(a, "u").await.unwrap(), None);
        assert!(
            store
                .customers()
                .list(a, None, 100)
                .await
                .unwrap()
                .is_empty(),
            "{label}"
        );
        assert_eq!(
            store
                .conversations()
                .list(a, &[], 0, 100)
                .await
                .unwrap()
                .len(),
            1,
            "{label}"
        );
        assert!(store.admin().agents(a).await.unwrap().is_empty(), "{label}");
        assert!(
            store.admin().departments(a).await.unwrap().is_empty(),
            "{label}"
        );
        assert!(
            store.webhooks().list(a).await.unwrap().is_empty(),
            "{label}"
        );
        assert!(
            store
                .customers()
                .events(a, customer.id)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .conversations()
                .history(a, conv.id, 10)
                .await
                .unwrap()
                .is_empty()
        );

        let modify_customer = store
            .customers()
            .update(&ours, customer.id, Precondition::NONE, |c| {
                c.name = Some("hijacked".into());
            })
            .await;
        not_found(label, "modify_customer", modify_customer);
        let modify_conversation = store
            .conversations()
            .update(&ours, conv.id, Precondition::NONE, |c| {
                c.visitor.name = Some("hijacked".into());
            })
            .await;
        not_found(label, "modify_conversation", modify_conversation);
        not_found(
            label,
            "delete_customer",
            delete_customer(&store, &ours, customer.id).await,
        );
        not_found(
            label,
            "delete_conversation",
            store
                .conversations()
                .delete(&ours, conv.id, Precondition::NONE)
                .await,
        );
        not_found(
            label,
            "delete_subscription",
            store.webhooks().delete(a, subscription.id).await,
        );

        // Their rows are untouched, with no new events.
        assert_eq!(
            load_customer(&store, b, customer.id).await,
            customer,
            "{label}"
        );
        assert_eq!(load_conversation(&store, b, conv.id).await, conv, "{label}");
        assert_eq!(
            store.webhooks().get(b, subscription.id).await.unwrap(),
            subscription,
            "{label}"
        );
        assert_eq!(
            event_count(&store, b, EntityKind::Customer, customer.id.get()).await,
            1,
            "{label}"
        );
        assert_eq!(
            event_count(&store, b, EntityKind::Conversation, conv.id.get()).await,
            1,
            "{label}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn links_to_another_tenants_rows_are_refused() {
    for_each_backend(|store, label| async move {
        let (ours, theirs) = two_tenants(&store).await;
        let (a, b) = (ours.tenant.id, theirs.tenant.id);
        let customer = create_customer(&store, &theirs).await;
        let agent = new_agent(&store, b, "Bob").await;
        let other_agent = new_agent(&store, b, "Cy").await;
        let department = store.admin().create_department(b, "Sales").await.unwrap();
        let own_agent = new_agent(&store, a, "Ada").await;

        let paths = |result: Result<_, StorageError>| -> Vec<String> {
            match result {
                Err(StorageError::Domain(DomainError::Validation(v))) => {
                    v.violations().iter().map(|v| v.path.clone()).collect()
                }
                other => panic!("{label}: expected a validation error, got {other:?}"),
            }
        };

        let mut d = draft(a, "s-1");
        d.customer_id = Some(customer.id);
        d.assignee_id = Some(agent.id);
        d.agent_ids = vec![own_agent.id, other_agent.id, agent.id];
        d.department_id = Some(department.id);
        d.transfer_to = Some(agent.id);
        // Each foreign id is reported once, at the first field naming it.
        let refused = store.conversations().create(&ours, d).await;
        assert_eq!(
            paths(refused.map(|_| ())),
            ["/customerId", "/assigneeId", "/agentIds/1", "/departmentId"],
            "{label}"
        );
        assert!(
            store
                .conversations()
                .list(a, &[], 0, 10)
                .await
                .unwrap()
                .is_empty(),
            "{label}: nothing written"
        );

        let conv = store
            .conversations()
            .create(&ours, draft(a, "s-1"))
            .await
            .unwrap();
        for (path, change) in [
            (
                "/customerId",
                Box::new(move |c: &mut switchboard_domain::Conversation| {
                    c.customer_id = Some(customer.id)
                })
                    as Box<dyn Fn(&mut switchboard_domain::Conversation) + Send + Sync>,
            ),
            (
                "/assigneeId",
                Box::new(move |c| c.assignee_id = Some(agent.id)),
            ),
            (
                "/agentIds/0",
                Box::new(move |c| c.agent_ids = vec![agent.id]),
            ),
            (
                "/departmentId",
                Box::new(move |c| c.department_id = Some(department.id)),
            ),
        ] {
            let result = store
                .conversations()
                .update(&ours, conv.id, Precondition::NONE, move |c| {
                    change(c);
                })
                .await;
            assert_eq!(paths(result.map(|_| ())), [path], "{label}");
        }
        assert_eq!(
            load_conversation(&store, a, conv.id).await,
            conv,
            "{label}: nothing written"
        );
        assert_eq!(
            event_count(&store, a, EntityKind::Conversation, conv.id.get()).await,
            1,
            "{label}"
        );
    })
    .await;
}
