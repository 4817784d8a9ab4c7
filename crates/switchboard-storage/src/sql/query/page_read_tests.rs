//! PostgreSQL pages read without their documents (`decoded`, "pages
//! without their documents"): the second statement's rows must be the
//! versions the first one saw, or the page is read again with its
//! documents. (Unit tests: the two statements are private to the module.)

use diesel::connection::SimpleConnection as _;
use switchboard_domain::query::{ConversationField as Cv, Page, Query, Sort};
use switchboard_domain::{Actor, Conversation};
use switchboard_testsupport::TestDb;

use super::{Docs, entities, page, page_rows};
use crate::{StorageError, Store, StoreConfig, WriteContext};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_changed_between_the_two_statements_reads_the_page_again() {
    // Skips (with a loud notice) only outside CI: `TestDb::postgres` panics
    // when CI is set and PostgreSQL is unavailable.
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let store = Store::open(&db.url, StoreConfig::for_tests())
        .await
        .unwrap();
    let tenant = store.admin().create_tenant("pages").await.unwrap();
    let ctx = WriteContext::new(tenant.clone(), Actor::System, "pages");
    let mut ids = Vec::new();
    for key in ["s-1", "s-2", "s-3"] {
        let c = Conversation::new(tenant.id, key.to_string(), store.now());
        ids.push(
            store
                .conversations()
                .create(&ctx, c)
                .await
                .unwrap()
                .id
                .get(),
        );
    }
    let t = tenant.id.get();
    let memo = store.decoded_shared();
    store
        .run(move |c| {
            let q = Query::<Cv>::new(None, Sort::by_id(true), Page::First, 20).unwrap();
            // Read twice with the documents: held, at the versions read.
            let shown = page(c, &memo, t, &q)?;
            assert_eq!(page(c, &memo, t, &q)?, shown);
            assert_eq!(shown.len(), 3);

            // Without the documents, one row not held: its document comes
            // from the second statement, and the page is the same.
            memo.forget::<Conversation>(t, ids[1]);
            let rows = page_rows(c, t, &q, Docs::Versions)?;
            assert!(rows.iter().all(|r| r.doc.is_none() && r.xmin != 0));
            let before = memo.stats();
            let read = entities(c, &memo, t, &q, rows, Docs::Versions)?;
            assert_eq!(read.as_ref(), Some(&shown));
            let after = memo.stats();
            assert_eq!(after.unsent - before.unsent, 2);
            assert_eq!(after.parsed - before.parsed, 1);

            // The row not held changes between the two statements: the
            // second statement sees another row version, so the page is
            // not answered from the two.
            memo.forget::<Conversation>(t, ids[0]);
            let rows = page_rows(c, t, &q, Docs::Versions)?;
            c.batch_execute(&format!(
                "UPDATE conversations SET doc = jsonb_set(doc, '{{rank}}', '5') WHERE id = {}",
                ids[0]
            ))?;
            assert_eq!(entities(c, &memo, t, &q, rows, Docs::Versions)?, None);

            // Deleted in between: the same.
            memo.forget::<Conversation>(t, ids[2]);
            let rows = page_rows(c, t, &q, Docs::Versions)?;
            c.batch_execute(&format!("DELETE FROM conversations WHERE id = {}", ids[2]))?;
            assert_eq!(entities(c, &memo, t, &q, rows, Docs::Versions)?, None);

            // Read whole, the page shows both changes.
            let now = page(c, &memo, t, &q)?;
            assert_eq!(now.len(), 2);
            assert_eq!(
                now.iter().find(|e| e.id.get() == ids[0]).map(|e| e.rank),
                Some(5)
            );
            Ok::<_, StorageError>(())
        })
        .await
        .unwrap();
}

/// A joined page whose rows came out of their order (no plan here gives
/// one, but SQL promises none without an outer `ORDER BY`) is put back in
/// the query's order, each contact staying beside its row.
#[test]
fn a_joined_page_out_of_order_is_put_in_its_order() {
    use switchboard_domain::{ConversationId, TenantId, Timestamp};
    let conv = |id: i64, at: i64| {
        let mut c = Conversation::new(
            TenantId::new(1),
            format!("s-{id}"),
            Timestamp::from_millis(at),
        );
        c.id = ConversationId::new(id);
        c
    };
    for (desc, expected) in [(true, ["a", "d", "c", "b"]), (false, ["b", "c", "d", "a"])] {
        let q = Query::new(
            None,
            Sort::new(Cv::CreatedAt, desc).unwrap(),
            Page::First,
            20,
        )
        .unwrap();
        let items = vec![conv(1, 30), conv(2, 10), conv(3, 20), conv(4, 20)];
        let (items, contacts) = super::in_page_order(&q, items, vec!["a", "b", "c", "d"]);
        assert_eq!(contacts, expected, "descending: {desc}");
        let ids: Vec<i64> = items.iter().map(|c| c.id.get()).collect();
        let by_contact = |c: &str| [1, 2, 3, 4]["abcd".find(c).unwrap()];
        assert_eq!(ids, expected.map(by_contact), "descending: {desc}");
        // Already in order: as read.
        let (again, kept) = super::in_page_order(&q, items.clone(), contacts.clone());
        assert_eq!((again, kept), (items, contacts));
    }
}
