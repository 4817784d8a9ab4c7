//! The memo of parsed documents (`decoded`): a page read again copies the
//! documents this node parsed instead of parsing them, and never answers
//! anything but what parsing the row as stored gives. Two stores on one
//! database play two nodes; a raw connection edits a row behind both,
//! without a new version.

use switchboard_domain::query::{ConversationField as Cv, Page, Query, Sort};
use switchboard_domain::{Conversation, ConversationId, TenantId};
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

/// Sets conversation `id`'s rank in its stored document by hand in SQL,
/// behind every node, keeping its version and time.
fn rank_by_hand(db: &TestDb, id: ConversationId, rank: i64) {
    let done = db.raw().lines(
        &format!(
            "UPDATE conversations SET doc = json_set(doc, '$.rank', {rank}) \
             WHERE id = {} RETURNING 'done' AS line",
            id.get()
        ),
        &format!(
            "UPDATE conversations SET doc = jsonb_set(doc, '{{rank}}', '{rank}') \
             WHERE id = {} RETURNING 'done' AS line",
            id.get()
        ),
    );
    assert_eq!(done, ["done"], "{}", db.label);
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
        rank_by_hand(&db, ids[1], 42);
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

/// How many documents `store` copied without PostgreSQL sending them, since
/// `before`.
fn unsent_since(store: &Store, before: DecodedStats) -> u64 {
    store.decoded_stats().unsent - before.unsent
}

/// On PostgreSQL, once most rows of recent pages were held, a page asks for
/// its rows' versions only and copies the rows held at those versions; the
/// others' documents come by a second statement. A change through another
/// node, and one made by hand that keeps the version and the time, write a
/// new row version, so the changed row is read and shown. SQLite reads
/// every document, always.
#[tokio::test]
async fn pages_without_documents_copy_only_rows_held_at_their_version() {
    for db in TestDb::all() {
        let label = db.label;
        let pg = !db.is_sqlite();
        let a = open(&db).await;
        let b = open(&db).await;
        let ctx = tenant(&a, "acme").await;
        let t = ctx.tenant.id;
        let mut ids = Vec::new();
        for key in ["s-1", "s-2", "s-3", "s-4"] {
            ids.push(create_conversation(&a, &ctx, key).await.id);
        }
        let first = page(&a, t).await;
        assert_eq!(first.len(), 4, "{label}");
        // Pages that hold every row: within a few, PostgreSQL stops sending
        // the documents.
        let start = a.decoded_stats();
        for _ in 0..12 {
            assert_eq!(page(&a, t).await, first, "{label}");
        }
        let unsent = unsent_since(&a, start);
        if pg {
            assert!(unsent >= 4 * 4, "{label}: {unsent} documents unsent");
        } else {
            assert_eq!(unsent, 0, "{label}");
        }
        assert_eq!(
            since(&a, start).0,
            4,
            "{label}: parsed after the first read"
        );

        // Another node changes a row: its new version is read and parsed;
        // the three others are copied without being sent.
        let changed = b
            .conversations()
            .update(&ctx, ids[0], Precondition::NONE, |c| c.rank = 7)
            .await
            .unwrap();
        let before = a.decoded_stats();
        let read = page(&a, t).await;
        assert_eq!(
            read.iter().find(|c| c.id == ids[0]),
            Some(&changed),
            "{label}"
        );
        assert_eq!(since(&a, before), (1, 3), "{label}");
        assert_eq!(unsent_since(&a, before), if pg { 3 } else { 0 }, "{label}");

        // By hand, keeping the version and the time: a new row version all
        // the same, so the row is read and its new text parsed.
        rank_by_hand(&db, ids[1], 42);
        let before = a.decoded_stats();
        let read = page(&a, t).await;
        let row = read.iter().find(|c| c.id == ids[1]).unwrap();
        assert_eq!(row.rank, 42, "{label}: a copy of the old text was served");
        assert_eq!(
            row.version,
            first.iter().find(|c| c.id == ids[1]).unwrap().version,
            "{label}"
        );
        assert_eq!(since(&a, before).0, 1, "{label}");
        assert_eq!(read.len(), 4, "{label}");
    }
}
