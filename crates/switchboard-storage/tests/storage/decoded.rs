//! The memo of parsed documents (`decoded`): a page read again copies the
//! documents this node parsed instead of parsing them, and never answers
//! anything but what parsing the row as stored gives. Two stores on one
//! database play two nodes; a raw connection edits a row behind both,
//! without a new version.

use switchboard_domain::query::{ConversationField as Cv, Page, Query, Sort};
use switchboard_domain::{Conversation, TenantId};
use switchboard_storage::{DecodedStats, LinkSet, Precondition, Store, StoreConfig};

use super::harness::{
    TestDb, config, create_conversation, create_customer, delete_customer, open, tenant,
};

/// The tenant's conversations, newest first, as a chat page reads them.
async fn page(store: &Store, tenant: TenantId) -> Vec<Conversation> {
    let q = Query::<Cv>::new(None, Sort::by_id(true), Page::First, 20).unwrap();
    let (page, _links) = store
        .conversations()
        .query_counted(tenant, &q, LinkSet::CONTACT)
        .await
        .unwrap();
    page.page.items
}

/// How many documents `store` parsed and reused since `before`.
fn since(store: &Store, before: DecodedStats) -> (u64, u64) {
    let now = store.decoded_stats();
    (now.parsed - before.parsed, now.reused - before.reused)
}

#[tokio::test]
async fn a_page_read_again_copies_what_it_parsed_and_shows_every_change() {
    for db in TestDb::all() {
        let label = db.label;
        let a = open(&db).await;
        let b = open(&db).await;
        let ctx = tenant(&a, "acme").await;
        let t = ctx.tenant.id;
        let customer = create_customer(&a, &ctx).await;
        let mut ids = Vec::new();
        for key in ["s-1", "s-2", "s-3"] {
            let c = create_conversation(&a, &ctx, key).await;
            let linked = a
                .conversations()
                .update(&ctx, c.id, Precondition::NONE, move |c| {
                    c.customer_id = Some(customer.id);
                })
                .await
                .unwrap();
            ids.push(linked.id);
        }

        // The first two reads parse every row (the second keeps them); the
        // same page again parses none.
        let start = a.decoded_stats();
        let first = page(&a, t).await;
        assert_eq!(first.len(), 3, "{label}");
        assert_eq!(since(&a, start), (3, 0), "{label}");
        assert_eq!(page(&a, t).await, first, "{label}");
        assert_eq!(since(&a, start), (6, 0), "{label}");
        assert_eq!(a.decoded_stats().entries, 3, "{label}");
        let again = page(&a, t).await;
        assert_eq!(again, first, "{label}");
        assert_eq!(since(&a, start), (6, 3), "{label}");

        // Another node changes a row: this node parses that row again.
        let changed = b
            .conversations()
            .update(&ctx, ids[0], Precondition::NONE, |c| c.rank = 7)
            .await
            .unwrap();
        let read = page(&a, t).await;
        let row = read.iter().find(|c| c.id == ids[0]).unwrap();
        assert_eq!(*row, changed, "{label}");
        assert_eq!(since(&a, start), (7, 5), "{label}");

        // A change that keeps the version (made by hand, behind every
        // node): the text differs, so the row is parsed, not copied.
        let done = db.raw().lines(
            &format!(
                "UPDATE conversations SET doc = json_set(doc, '$.rank', 42) \
                 WHERE id = {} RETURNING 'done' AS line",
                ids[1].get()
            ),
            &format!(
                "UPDATE conversations SET doc = jsonb_set(doc, '{{rank}}', '42') \
                 WHERE id = {} RETURNING 'done' AS line",
                ids[1].get()
            ),
        );
        assert_eq!(done, ["done"], "{label}");
        let read = page(&a, t).await;
        let row = read.iter().find(|c| c.id == ids[1]).unwrap();
        assert_eq!(row.rank, 42, "{label}: a copy of the old text was served");
        assert_eq!(row.version, first[1].version, "{label}");

        // The customer deleted on the other node: the column clears the
        // link (`ON DELETE SET NULL`) while the documents keep their text,
        // so the copies are taken, and the link comes from the column.
        let before = a.decoded_stats();
        delete_customer(&b, &ctx, customer.id).await.unwrap();
        let read = page(&a, t).await;
        assert!(read.iter().all(|c| c.customer_id.is_none()), "{label}");
        assert_eq!(since(&a, before), (0, 3), "{label}");

        // A row this node deletes is dropped from the memo.
        let held = a.decoded_stats().entries;
        a.conversations()
            .delete(&ctx, ids[2], Precondition::NONE)
            .await
            .unwrap();
        assert_eq!(a.decoded_stats().entries, held - 1, "{label}");
        assert_eq!(page(&a, t).await.len(), 2, "{label}");
    }
}

#[tokio::test]
async fn off_parses_every_document_and_answers_the_same() {
    for db in TestDb::all() {
        let label = db.label;
        let on = open(&db).await;
        let off = Store::open(
            &db.url,
            StoreConfig {
                decoded_cache_bytes: 0,
                ..config()
            },
        )
        .await
        .unwrap();
        let ctx = tenant(&on, "acme").await;
        for key in ["s-1", "s-2"] {
            create_conversation(&on, &ctx, key).await;
        }
        for _ in 0..3 {
            assert_eq!(
                page(&off, ctx.tenant.id).await,
                page(&on, ctx.tenant.id).await,
                "{label}"
            );
        }
        assert_eq!(off.decoded_stats(), DecodedStats::default(), "{label}");
        assert_eq!(on.decoded_stats().reused, 2, "{label}");
    }
}
