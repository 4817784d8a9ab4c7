//! The per-node document cache (`doc_cache`): two stores on one database
//! play two nodes. Node A writes a row (and on PostgreSQL keeps the copy it
//! wrote), node B changes it behind A's back, and A's next modify must be
//! judged against the row as it is, never against A's stale copy: no lost
//! update, no 412, no failed `test`, no no-op that the current row would
//! not give. On SQLite the cache is off and the same contract holds.

use switchboard_domain::{Conversation, Customer};
use switchboard_storage::{ModifyError, Precondition, StorageError, Store, StoreConfig};

use super::harness::{
    TestDb, config, create_conversation, load_conversation, new_agent, open, tenant,
};

/// Two stores ("nodes") on one fresh database of each backend.
async fn for_two_nodes<F, Fut>(mut test: F)
where
    F: FnMut(Store, Store, &'static str) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for db in TestDb::all() {
        let a = open(&db).await;
        let b = open(&db).await;
        test(a, b, db.label).await;
    }
}

/// Sets the conversation's rank on `store`.
async fn set_rank(
    store: &Store,
    ctx: &switchboard_storage::WriteContext,
    id: switchboard_domain::ConversationId,
    rank: i32,
) -> Conversation {
    store
        .conversations()
        .update(ctx, id, Precondition::NONE, move |c| c.rank = rank)
        .await
        .unwrap()
}

/// A JSON Patch `test` of the rank (`expected`) followed by a `replace`
/// (`rank`), on `store`.
async fn test_then_set_rank(
    store: &Store,
    ctx: &switchboard_storage::WriteContext,
    id: switchboard_domain::ConversationId,
    (expected, rank): (i32, i32),
) -> Result<Conversation, ModifyError<&'static str>> {
    store
        .conversations()
        .modify(ctx, id, Precondition::NONE, move |c| {
            if c.rank != expected {
                return Err("test failed");
            }
            c.rank = rank;
            Ok(())
        })
        .await
}

/// A customer created and then written on `store` (which keeps its copy).
async fn written_customer(store: &Store, ctx: &switchboard_storage::WriteContext) -> Customer {
    let c = store
        .customers()
        .create(ctx, Customer::new(ctx.tenant.id, store.now()))
        .await
        .unwrap();
    set_company(store, ctx, c.id, "Acme").await.unwrap()
}

/// Sets the customer's company on `store`.
async fn set_company(
    store: &Store,
    ctx: &switchboard_storage::WriteContext,
    id: switchboard_domain::CustomerId,
    company: &'static str,
) -> Result<Customer, StorageError> {
    store
        .customers()
        .update(ctx, id, Precondition::NONE, move |c| {
            c.company = Some(company.into());
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_on_another_node_is_not_lost() {
    for_two_nodes(|a, b, label| async move {
        let ctx = tenant(&a, "acme").await;
        let conv = create_conversation(&a, &ctx, "s-1").await;
        // A writes (and keeps its copy), B writes over it, A writes again:
        // A's increment applies to B's row, not to A's copy.
        for (node, expected) in [(&a, 1), (&b, 2), (&a, 3), (&a, 4), (&b, 5), (&a, 6)] {
            let written = node
                .conversations()
                .update(&ctx, conv.id, Precondition::NONE, |c| c.rank += 1)
                .await
                .unwrap();
            assert_eq!(written.rank, expected, "{label}");
        }
        let now = load_conversation(&b, ctx.tenant.id, conv.id).await;
        assert_eq!((now.rank, now.version), (6, 7), "{label}");
        let stats = a.doc_cache_stats();
        if label == "postgres" {
            // A's writes after its own were planned on its copy (two of
            // them), the one after B's was stale.
            assert_eq!((stats.written, stats.stale), (1, 2), "{label}: {stats:?}");
        } else {
            assert_eq!(stats, Default::default(), "{label}: off on SQLite");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stale_copy_fails_no_precondition() {
    for_two_nodes(|a, b, label| async move {
        let ctx = tenant(&a, "acme").await;
        let conv = create_conversation(&a, &ctx, "s-1").await;
        set_rank(&a, &ctx, conv.id, 1).await;
        let on_b = set_rank(&b, &ctx, conv.id, 2).await;
        // The client saw B's version (its ETag) and writes through A.
        let written = a
            .conversations()
            .update(&ctx, conv.id, Precondition::version(on_b.version), |c| {
                c.rank = 3
            })
            .await
            .unwrap_or_else(|e| panic!("{label}: {e:?}"));
        assert_eq!(
            (written.rank, written.version),
            (3, on_b.version + 1),
            "{label}"
        );
        // And the version A had cached is refused, as the row says.
        let stale = a
            .conversations()
            .update(&ctx, conv.id, Precondition::version(on_b.version), |c| {
                c.rank = 4;
            })
            .await;
        assert!(
            matches!(stale, Err(StorageError::PreconditionFailed)),
            "{label}: {stale:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stale_copy_rejects_nothing_the_row_would_pass() {
    for_two_nodes(|a, b, label| async move {
        let ctx = tenant(&a, "acme").await;
        let conv = create_conversation(&a, &ctx, "s-1").await;
        set_rank(&a, &ctx, conv.id, 1).await;
        set_rank(&b, &ctx, conv.id, 2).await;
        // A JSON Patch `test` of the rank against the row's value passes.
        let passes = test_then_set_rank(&a, &ctx, conv.id, (2, 3)).await;
        assert_eq!(passes.map(|c| c.rank).ok(), Some(3), "{label}");
        set_rank(&b, &ctx, conv.id, 4).await;
        // And one against A's last copy fails, as the row says.
        let fails = test_then_set_rank(&a, &ctx, conv.id, (3, 5)).await;
        assert!(
            matches!(fails, Err(ModifyError::Rejected("test failed"))),
            "{label}: {fails:?}"
        );
        assert_eq!(
            load_conversation(&a, ctx.tenant.id, conv.id).await.rank,
            4,
            "{label}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stale_copy_makes_no_no_op() {
    for_two_nodes(|a, b, label| async move {
        let ctx = tenant(&a, "acme").await;
        let conv = create_conversation(&a, &ctx, "s-1").await;
        set_rank(&a, &ctx, conv.id, 5).await;
        set_rank(&b, &ctx, conv.id, 7).await;
        // To A's copy, rank 5 is no change; to the row it is one.
        let written = set_rank(&a, &ctx, conv.id, 5).await;
        assert_eq!((written.rank, written.version), (5, 4), "{label}");
        let now = load_conversation(&b, ctx.tenant.id, conv.id).await;
        assert_eq!((now.rank, now.version), (5, 4), "{label}");
    })
    .await;
}

/// Deleting a customer clears the conversations' link (`ON DELETE SET
/// NULL`) without a new version: the one change a version check alone
/// cannot see. A change that needs the old link must be refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_link_cleared_by_a_delete_is_seen() {
    for_two_nodes(|a, b, label| async move {
        let ctx = tenant(&a, "acme").await;
        let customer = a
            .customers()
            .create(&ctx, Customer::new(ctx.tenant.id, a.now()))
            .await
            .unwrap();
        let conv = create_conversation(&a, &ctx, "s-1").await;
        let linked = a
            .conversations()
            .update(&ctx, conv.id, Precondition::NONE, move |c| {
                c.customer_id = Some(customer.id);
            })
            .await
            .unwrap();
        assert_eq!(linked.customer_id, Some(customer.id), "{label}");
        b.customers()
            .delete(&ctx, customer.id, Precondition::NONE)
            .await
            .unwrap();
        let needs_link = a
            .conversations()
            .modify(&ctx, conv.id, Precondition::NONE, move |c| {
                if c.customer_id != Some(customer.id) {
                    return Err("not linked");
                }
                c.rank = 9;
                Ok(())
            })
            .await;
        assert!(
            matches!(needs_link, Err(ModifyError::Rejected("not linked"))),
            "{label}: {needs_link:?}"
        );
        let written = set_rank(&a, &ctx, conv.id, 10).await;
        assert_eq!((written.customer_id, written.rank), (None, 10), "{label}");
        let now = load_conversation(&b, ctx.tenant.id, conv.id).await;
        assert_eq!((now.customer_id, now.rank), (None, 10), "{label}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_row_deleted_on_either_node_is_not_found() {
    for_two_nodes(|a, b, label| async move {
        let ctx = tenant(&a, "acme").await;
        for deleter in [&a, &b] {
            let c = written_customer(&a, &ctx).await;
            deleter
                .customers()
                .delete(&ctx, c.id, Precondition::NONE)
                .await
                .unwrap();
            let gone = set_company(&a, &ctx, c.id, "Globex").await;
            assert!(
                matches!(gone, Err(StorageError::NotFound)),
                "{label}: {gone:?}"
            );
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_removed_tenant_takes_its_copies_along() {
    for_two_nodes(|a, b, label| async move {
        for remover in [&a, &b] {
            let ctx = tenant(&a, "acme").await;
            let c = written_customer(&a, &ctx).await;
            remover.admin().delete_tenant("acme").await.unwrap();
            let gone = set_company(&a, &ctx, c.id, "Globex").await;
            assert!(
                matches!(gone, Err(StorageError::NotFound | StorageError::TenantGone)),
                "{label}: {gone:?}"
            );
        }
        if label == "postgres" {
            assert_eq!(a.doc_cache_stats().entries, 0, "{label}");
        }
    })
    .await;
}

/// A read served to a client comes from the database: a client that wrote
/// through B and reads through A sees its write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_are_never_served_from_the_cache() {
    for_two_nodes(|a, b, label| async move {
        let ctx = tenant(&a, "acme").await;
        let conv = create_conversation(&a, &ctx, "s-1").await;
        set_rank(&a, &ctx, conv.id, 1).await;
        let on_b = set_rank(&b, &ctx, conv.id, 2).await;
        let read = load_conversation(&a, ctx.tenant.id, conv.id).await;
        assert_eq!((read.rank, read.version), (2, on_b.version), "{label}");
    })
    .await;
}

/// A failed write drops the copy: a unique `userId` taken by another
/// customer fails the write, and the next write is planned on the row.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_write_drops_the_copy() {
    for_two_nodes(|a, _b, label| async move {
        let ctx = tenant(&a, "acme").await;
        let mut taken = Customer::new(ctx.tenant.id, a.now());
        taken.user_id = Some("u-1".into());
        a.customers().create(&ctx, taken).await.unwrap();
        let c = written_customer(&a, &ctx).await;
        let before = a.doc_cache_stats();
        let clash = a
            .customers()
            .update(&ctx, c.id, Precondition::NONE, |c| {
                c.user_id = Some("u-1".into());
            })
            .await;
        assert!(clash.is_err(), "{label}: {clash:?}");
        let after = a.doc_cache_stats();
        let written = set_company(&a, &ctx, c.id, "Globex").await.unwrap();
        assert_eq!(
            (
                written.company.as_deref(),
                written.user_id.as_deref(),
                written.version
            ),
            (Some("Globex"), None, 3),
            "{label}"
        );
        if label == "postgres" {
            assert_eq!(after.entries + 1, before.entries, "{label}: {after:?}");
            assert_eq!(a.doc_cache_stats().missed, after.missed + 1, "{label}");
        }
    })
    .await;
}

/// With the cache off (0 entries) every modify reads the row; nothing is
/// kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cache_can_be_switched_off() {
    for db in TestDb::all() {
        let store = Store::open(
            &db.url,
            StoreConfig {
                doc_cache_entries: 0,
                ..config()
            },
        )
        .await
        .unwrap();
        let ctx = tenant(&store, "acme").await;
        let conv = create_conversation(&store, &ctx, "s-1").await;
        for rank in 1..=3 {
            set_rank(&store, &ctx, conv.id, rank).await;
        }
        assert_eq!(store.doc_cache_stats(), Default::default(), "{}", db.label);
    }
}

/// A write planned on a stale copy that fails for a reason the row would
/// not give (here: a participant the copy lacks looks new, and is looked
/// up, but has been deleted since another node added it) is planned again
/// on the row, where it goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stale_copy_fails_no_write_the_row_would_pass() {
    for_two_nodes(|a, b, label| async move {
        let ctx = tenant(&a, "acme").await;
        let agent = new_agent(&a, ctx.tenant.id, "Ada").await;
        let conv = create_conversation(&a, &ctx, "s-1").await;
        set_rank(&a, &ctx, conv.id, 1).await;
        b.conversations()
            .update(&ctx, conv.id, Precondition::NONE, move |c| {
                c.agent_ids.push(agent.id);
            })
            .await
            .unwrap();
        // A participant only: it may be deleted, the conversation keeps it.
        b.admin()
            .delete_agent(ctx.tenant.id, agent.id)
            .await
            .unwrap();
        let written = a
            .conversations()
            .update(&ctx, conv.id, Precondition::NONE, move |c| {
                if !c.agent_ids.contains(&agent.id) {
                    c.agent_ids.push(agent.id);
                }
                c.rank = 2;
            })
            .await
            .unwrap_or_else(|e| panic!("{label}: {e:?}"));
        assert_eq!(
            (written.rank, written.agent_ids.clone()),
            (2, vec![agent.id]),
            "{label}"
        );
    })
    .await;
}

/// A conversation of the tenant linked to `customer`, created on `store`.
async fn linked_conversation(
    store: &Store,
    ctx: &switchboard_storage::WriteContext,
    customer: switchboard_domain::CustomerId,
) -> Conversation {
    let conv = create_conversation(store, ctx, "s-1").await;
    store
        .conversations()
        .update(ctx, conv.id, Precondition::NONE, move |c| {
            c.customer_id = Some(customer);
        })
        .await
        .unwrap()
}

/// A linked change on `store`: sets the rank to `rank` if the linked
/// customer's company (as the change sees it) is `company`, and refuses
/// otherwise (a JSON Patch `test` of the SuperOffice `Person`). Returns the
/// conversation as written and the company the change saw.
async fn rank_if_company(
    store: &Store,
    ctx: &switchboard_storage::WriteContext,
    id: switchboard_domain::ConversationId,
    (company, rank): (&'static str, i32),
) -> Result<(Conversation, Option<String>), ModifyError<String>> {
    store
        .conversations()
        .modify_linked(ctx, id, Precondition::NONE, move |c, links| {
            let seen = links.customer.as_ref().and_then(|x| x.company.clone());
            if seen.as_deref() != Some(company) {
                return Err(format!("saw {seen:?}"));
            }
            c.rank = rank;
            Ok(())
        })
        .await
        .map(|(c, links)| (c, links.customer.and_then(|x| x.company)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_linked_customer_is_taken_from_the_cache_only_while_current() {
    for_two_nodes(|a, b, label| async move {
        let ctx = tenant(&a, "acme").await;
        let customer = written_customer(&a, &ctx).await;
        let conv = linked_conversation(&a, &ctx, customer.id).await;
        // A keeps the customer it wrote: the linked change sees it as it is.
        let (written, seen) = rank_if_company(&a, &ctx, conv.id, ("Acme", 1))
            .await
            .unwrap_or_else(|e| panic!("{label}: {e:?}"));
        assert_eq!(
            (written.rank, seen.as_deref()),
            (1, Some("Acme")),
            "{label}"
        );
        // B changes the customer behind A's back: A's copy is stale, and
        // the change must see B's customer, never A's copy.
        set_company(&b, &ctx, customer.id, "Globex").await.unwrap();
        let (written, seen) = rank_if_company(&a, &ctx, conv.id, ("Globex", 2))
            .await
            .unwrap_or_else(|e| panic!("{label}: {e:?}"));
        assert_eq!(
            (written.rank, seen.as_deref()),
            (2, Some("Globex")),
            "{label}"
        );
        // And again, now that A read it afresh.
        let (written, seen) = rank_if_company(&a, &ctx, conv.id, ("Globex", 3))
            .await
            .unwrap_or_else(|e| panic!("{label}: {e:?}"));
        assert_eq!(
            (written.rank, seen.as_deref()),
            (3, Some("Globex")),
            "{label}"
        );
        let stats = a.doc_cache_stats();
        if label == "postgres" {
            // Taken from the cache three times: the first and the third
            // were current; the second was stale and judged again.
            assert_eq!((stats.linked, stats.stale), (3, 1), "{label}: {stats:?}");
        } else {
            assert_eq!(stats, Default::default(), "{label}: off on SQLite");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_planned_on_a_stale_linked_customer_is_not_written() {
    for_two_nodes(|a, b, label| async move {
        let ctx = tenant(&a, "acme").await;
        let customer = written_customer(&a, &ctx).await;
        let conv = linked_conversation(&a, &ctx, customer.id).await;
        // B changes the customer; A's copy says "Acme". A change that
        // copies what it sees of the customer into the conversation must
        // copy B's company: a write planned on the stale copy is refused
        // by its version check and planned again.
        set_company(&b, &ctx, customer.id, "Globex").await.unwrap();
        let (written, links) = a
            .conversations()
            .modify_linked(&ctx, conv.id, Precondition::NONE, |c, links| {
                let seen = links.customer.as_ref().and_then(|x| x.company.clone());
                c.visitor.company = seen;
                Ok::<_, ()>(())
            })
            .await
            .unwrap_or_else(|e| panic!("{label}: {e:?}"));
        assert_eq!(
            written.visitor.company.as_deref(),
            Some("Globex"),
            "{label}"
        );
        let company = links.customer.and_then(|x| x.company);
        assert_eq!(company.as_deref(), Some("Globex"), "{label}");
        let now = load_conversation(&b, ctx.tenant.id, conv.id).await;
        assert_eq!(now.visitor.company.as_deref(), Some("Globex"), "{label}");
    })
    .await;
}
