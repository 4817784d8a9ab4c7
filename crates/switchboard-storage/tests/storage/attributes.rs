//! The per-node cache of custom attribute definitions: a change is seen by
//! the next customer write and search of the same node at once, by another
//! node (PostgreSQL, by NOTIFY) or another process on the same file
//! (SQLite, by the trigger-kept stamp) without waiting for the cache to
//! expire; a node that hears nothing uses its definitions until they do.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_domain::query::{CustomerField, Query};
use switchboard_domain::{AttributeType, Customer, CustomerId, TenantId, Timestamp};
use switchboard_storage::{
    ATTRIBUTE_CACHE_TTL, Change, Precondition, StorageError, Store, WriteContext,
};
use tokio::sync::broadcast::Receiver;

use super::harness::{TestDb, define, for_each_backend, open, open_clocked, tenant};

/// Sets (or with `Null`, clears) the customer's `name` attribute through
/// `store`: `Ok` when stored, `Err` when the rules refused it.
async fn write(
    store: &Store,
    ctx: &WriteContext,
    id: CustomerId,
    name: &str,
    value: Value,
) -> Result<(), StorageError> {
    let name = name.to_string();
    let outcome = store
        .customers()
        .update(ctx, id, Precondition::NONE, move |c| {
            if value.is_null() {
                c.custom_data.remove(&name);
            } else {
                c.custom_data.insert(name.clone(), value.clone());
            }
        })
        .await;
    match outcome {
        Ok(_) => Ok(()),
        Err(e @ StorageError::Domain(_)) => Err(e),
        Err(e) => panic!("not a refusal: {e:?}"),
    }
}

/// The names `store` types a search of the tenant's customers by: those a
/// search's query is built from (read in the page's own call; the build
/// fails on purpose, so no page is read), and the same as the definitions
/// `attributes` answers, asked second so that it cannot have refreshed
/// the first one's copy.
async fn names(store: &Store, tenant: TenantId) -> Vec<String> {
    let built = store
        .customers()
        .query_counted_by(tenant, |attrs| {
            Err::<Query<CustomerField>, _>(attrs.keys().cloned().collect::<Vec<_>>())
        })
        .await
        .unwrap();
    let Err(searched) = built else {
        panic!("a page was read although the query's build failed");
    };
    let set = store.customers().attributes(tenant).await.unwrap();
    assert_eq!(searched, set.keys().cloned().collect::<Vec<_>>());
    searched
}

/// A new customer of the context's tenant.
async fn customer(store: &Store, ctx: &WriteContext) -> CustomerId {
    let draft = Customer::new(ctx.tenant.id, Timestamp::from_millis(0));
    store.customers().create(ctx, draft).await.unwrap().id
}

/// Waits (at most two seconds) until `feed` carries `AttributesChanged`
/// for `tenant`: the node applied it to its cache before publishing it.
async fn heard(feed: &mut Receiver<Change>, tenant: TenantId) {
    let wanted = Change::AttributesChanged { tenant };
    tokio::time::timeout(Duration::from_secs(2), async {
        while feed.recv().await.unwrap() != wanted {}
    })
    .await
    .unwrap_or_else(|_| panic!("no {wanted:?} within two seconds"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_definition_rules_the_next_write_of_the_same_node() {
    for_each_backend(|store, label| async move {
        let ctx = tenant(&store, "acme").await;
        let t = ctx.tenant.id;
        let id = customer(&store, &ctx).await;
        // Read (and cached) without `seats`: refused.
        assert!(
            write(&store, &ctx, id, "seats", json!("a few"))
                .await
                .is_err(),
            "{label}"
        );
        assert!(names(&store, t).await.is_empty(), "{label}");

        define(&store, t, "seats", AttributeType::Number, "Seats").await;
        assert_eq!(names(&store, t).await, ["seats"], "{label}");
        assert!(
            write(&store, &ctx, id, "seats", json!("a few"))
                .await
                .is_err(),
            "{label}: a number now"
        );
        write(&store, &ctx, id, "seats", json!(12)).await.unwrap();

        // Redefined as text: text is accepted at once.
        write(&store, &ctx, id, "seats", Value::Null).await.unwrap();
        store.admin().delete_attribute(t, "seats").await.unwrap();
        assert!(names(&store, t).await.is_empty(), "{label}");
        assert!(
            write(&store, &ctx, id, "seats", json!(12)).await.is_err(),
            "{label}"
        );
        define(&store, t, "seats", AttributeType::String, "Seats").await;
        write(&store, &ctx, id, "seats", json!("a few"))
            .await
            .unwrap();

        // A batch and a create follow it too.
        let other = customer(&store, &ctx).await;
        define(&store, t, "plan", AttributeType::String, "Plan").await;
        let batch = store
            .customers()
            .modify_many(
                &ctx,
                vec![(other, |c: &mut Customer| {
                    c.custom_data.insert("plan".into(), json!("pro"));
                    Ok::<_, ()>(())
                })],
            )
            .await;
        assert!(batch.is_ok(), "{label}");
        let mut draft = Customer::new(t, Timestamp::from_millis(0));
        draft.custom_data.insert("plan".into(), json!("pro"));
        store.customers().create(&ctx, draft).await.unwrap();
    })
    .await;
}

/// Two stores on one database, as two nodes (PostgreSQL, the second one
/// listening) or two processes on one file (SQLite): a definition changed
/// through `a` is seen by `b`'s next customer write and search, for its
/// tenant only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_definition_changed_on_one_node_is_seen_by_the_next_write_of_another() {
    for db in TestDb::all() {
        let label = db.label;
        let a = open(&db).await;
        let b = open(&db).await;
        let _listening = b.listen().unwrap();
        let mut feed = b.changes();
        let pg = !b.is_sqlite();
        let acme = tenant(&a, "acme").await;
        let globex = tenant(&a, "globex").await;
        let (t, g) = (acme.tenant.id, globex.tenant.id);
        let (acme_customer, globex_customer) =
            (customer(&a, &acme).await, customer(&a, &globex).await);

        if pg {
            // The listener connects in the background: wait until it hears.
            let mut n = 0;
            loop {
                n += 1;
                define(&a, g, &format!("probe{n}"), AttributeType::String, "p").await;
                let wanted = Change::AttributesChanged { tenant: g };
                let got = tokio::time::timeout(Duration::from_millis(200), async {
                    while feed.recv().await.unwrap() != wanted {}
                })
                .await;
                if got.is_ok() {
                    break;
                }
                assert!(n < 50, "{label}: the listener never heard");
            }
        }

        // `b` caches both tenants' definitions, without `plan`.
        assert!(
            write(&b, &acme, acme_customer, "plan", json!("pro"))
                .await
                .is_err(),
            "{label}"
        );
        assert!(
            write(&b, &globex, globex_customer, "plan", json!("pro"))
                .await
                .is_err(),
            "{label}"
        );
        assert!(!names(&b, t).await.contains(&"plan".to_string()), "{label}");

        define(&a, t, "plan", AttributeType::String, "Plan").await;
        if pg {
            heard(&mut feed, t).await;
        }
        write(&b, &acme, acme_customer, "plan", json!("pro"))
            .await
            .unwrap();
        assert_eq!(names(&b, t).await, ["plan"], "{label}");
        // Only acme's.
        assert!(
            write(&b, &globex, globex_customer, "plan", json!("pro"))
                .await
                .is_err(),
            "{label}: globex has no plan"
        );
        assert!(!names(&b, g).await.contains(&"plan".to_string()), "{label}");

        // A delete, the same way.
        write(&b, &acme, acme_customer, "plan", Value::Null)
            .await
            .unwrap();
        a.admin().delete_attribute(t, "plan").await.unwrap();
        if pg {
            heard(&mut feed, t).await;
        }
        assert!(
            write(&b, &acme, acme_customer, "plan", json!("pro"))
                .await
                .is_err(),
            "{label}"
        );
        assert!(names(&b, t).await.is_empty(), "{label}");
    }
}

/// PostgreSQL: a node that hears no notification (it does not listen)
/// keeps using its definitions until they are [`ATTRIBUTE_CACHE_TTL`] old
/// by its clock, then reads them again. (SQLite checks its stamp on every
/// use: see the test above.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_hears_nothing_reads_the_definitions_again_once_they_expire() {
    let Some(db) = tokio::task::spawn_blocking(TestDb::postgres).await.unwrap() else {
        return;
    };
    let a = open(&db).await;
    let (b, clock) = open_clocked(&db).await;
    let ctx = tenant(&a, "acme").await;
    let t = ctx.tenant.id;
    let id = customer(&a, &ctx).await;
    assert!(write(&b, &ctx, id, "plan", json!("pro")).await.is_err());

    define(&a, t, "plan", AttributeType::String, "Plan").await;
    assert!(
        write(&b, &ctx, id, "plan", json!("pro")).await.is_err(),
        "cached until it expires"
    );
    assert!(names(&b, t).await.is_empty());
    clock.advance(ATTRIBUTE_CACHE_TTL);
    write(&b, &ctx, id, "plan", json!("pro")).await.unwrap();
    assert_eq!(names(&b, t).await, ["plan"]);
}
