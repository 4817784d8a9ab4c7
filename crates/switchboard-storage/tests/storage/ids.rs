//! Ids are never reused: a deleted row's id is never given to a new row,
//! on either backend (SQLite reused the highest id once its row was gone).

use switchboard_domain::{EventType, WebhookSubscription};
use switchboard_storage::{Precondition, now};

use super::harness::{create_customer, draft, for_each_tenant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_the_newest_row_does_not_free_its_id() {
    for_each_tenant(|store, label, ctx| async move {
        let t = ctx.tenant.id;
        let customers = store.customers();
        let conversations = store.conversations();
        let webhooks = store.webhooks();

        for round in 0..3 {
            let customer = create_customer(&store, &ctx).await;
            customers
                .delete(&ctx, customer.id, Precondition::NONE)
                .await
                .unwrap();
            let next = create_customer(&store, &ctx).await;
            assert!(
                next.id > customer.id,
                "{label} round {round}: customer {:?} was given the deleted {:?}'s id",
                next.id,
                customer.id
            );
            customers
                .delete(&ctx, next.id, Precondition::NONE)
                .await
                .unwrap();

            let conv = conversations
                .create(&ctx, draft(t, &format!("s-{round}")))
                .await
                .unwrap();
            conversations
                .delete(&ctx, conv.id, Precondition::NONE)
                .await
                .unwrap();
            let next = conversations
                .create(&ctx, draft(t, &format!("s-{round}-again")))
                .await
                .unwrap();
            assert!(
                next.id > conv.id,
                "{label} round {round}: conversation {:?} was given the deleted {:?}'s id",
                next.id,
                conv.id
            );

            let sub = |url: &str| {
                WebhookSubscription::new(
                    t,
                    url,
                    EventType::CustomerCreated,
                    "whsec_c2VjcmV0",
                    now(),
                )
            };
            let hook = webhooks
                .create(sub("https://hooks.example.com/a"))
                .await
                .unwrap();
            webhooks.delete(t, hook.id).await.unwrap();
            let next = webhooks
                .create(sub("https://hooks.example.com/b"))
                .await
                .unwrap();
            assert!(
                next.id > hook.id,
                "{label} round {round}: subscription {:?} was given the deleted {:?}'s id",
                next.id,
                hook.id
            );
            webhooks.delete(t, next.id).await.unwrap();
        }
    })
    .await;
}
