//! Imports: many entities in one transaction, checked like creates, kept at
//! their own times, without events or history; all or nothing.

use switchboard_domain::query::{Condition, CustomerField as Cu, Op, Value};
use switchboard_domain::{
    Conversation, ConversationId, Customer, DomainError, EntityKind, Timestamp,
};
use switchboard_storage::{ModifyError, StorageError};

use super::harness::{
    TestDb, assert_not_found, events, for_each_backend_clocked, open, tenant, two_tenants,
};

fn customer(ctx: &switchboard_storage::WriteContext, i: i64, at: Timestamp) -> Customer {
    let mut c = Customer::new(ctx.tenant.id, at);
    c.user_id = Some(format!("user-{i}"));
    c.email = Some(format!("c{i}@import.example.com"));
    c.name = Some(format!("Customer {i}"));
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_import_stores_every_draft_at_its_own_time_without_events() {
    for_each_backend_clocked(|store, label, clock| async move {
        let acme = tenant(&store, "acme").await;
        let now = clock.now().as_millis();
        let times = [now - 3_000_000, now - 2_000_000, now + 60_000];
        let drafts: Vec<Customer> = times
            .iter()
            .zip(1..)
            .map(|(&t, i)| customer(&acme, i, Timestamp::from_millis(t)))
            .collect();
        let stored = store.customers().import(&acme, drafts).await.unwrap();
        assert_eq!(stored.len(), 3, "{label}");
        assert!(
            stored.windows(2).all(|w| w[0].id < w[1].id),
            "{label}: in order"
        );
        for (c, &t) in stored.iter().zip(&times) {
            let back = store.customers().get(acme.tenant.id, c.id).await.unwrap();
            assert_eq!(&back, c, "{label}");
            assert_eq!(back.version, 1, "{label}");
            // A time in the future is taken as now.
            let expected = t.min(now);
            assert_eq!(back.created_at.as_millis(), expected, "{label}");
            assert_eq!(back.updated_at.as_millis(), expected, "{label}");
            let sent = events(&store, acme.tenant.id, EntityKind::Customer, c.id.get()).await;
            assert!(sent.is_empty(), "{label}: an import sends no events");
            let history = store
                .customers()
                .history(acme.tenant.id, c.id, 10)
                .await
                .unwrap();
            assert!(history.is_empty(), "{label}: an import writes no history");
        }
        // The query indexes see imported rows.
        let by_email = Condition::new(
            Cu::Email,
            Op::Eq,
            vec![Value::Text("c2@import.example.com".into())],
        )
        .unwrap()
        .into();
        assert_eq!(
            store
                .customers()
                .count(acme.tenant.id, Some(&by_email))
                .await
                .unwrap(),
            1,
            "{label}"
        );

        // Conversations linked to the imported customers.
        let convs: Vec<Conversation> = stored
            .iter()
            .map(|c| {
                let mut conv = Conversation::new(
                    acme.tenant.id,
                    format!("imported-{}", c.id.get()),
                    c.created_at,
                );
                conv.customer_id = Some(c.id);
                conv
            })
            .collect();
        let convs = store.conversations().import(&acme, convs).await.unwrap();
        assert_eq!(convs.len(), 3, "{label}");
        let first = store
            .conversations()
            .get(acme.tenant.id, convs[0].id)
            .await
            .unwrap();
        assert_eq!(first.customer_id, Some(stored[0].id), "{label}");
        assert_eq!(first.created_at, stored[0].created_at, "{label}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_import_with_one_bad_draft_stores_nothing_and_names_it() {
    for_each_backend_clocked(|store, label, clock| async move {
        let (acme, globex) = two_tenants(&store).await;
        let t = clock.now();

        // A rule broken by the third draft.
        let mut drafts: Vec<Customer> = (1..=4).map(|i| customer(&acme, i, t)).collect();
        drafts[2].email = Some("not an email".into());
        let err = store.customers().import(&acme, drafts).await.unwrap_err();
        assert_eq!(err.index, 2, "{label}");
        assert!(
            matches!(
                err.error,
                ModifyError::Storage(StorageError::Domain(DomainError::Validation(_)))
            ),
            "{label}: {:?}",
            err.error
        );
        assert_eq!(
            store.customers().count(acme.tenant.id, None).await.unwrap(),
            0,
            "{label}"
        );

        // A taken userId in the second draft.
        let mut drafts: Vec<Customer> = (1..=2).map(|i| customer(&acme, i, t)).collect();
        drafts[1].user_id = drafts[0].user_id.clone();
        let err = store.customers().import(&acme, drafts).await.unwrap_err();
        assert_eq!(err.index, 1, "{label}");
        assert!(
            matches!(err.error, ModifyError::Storage(StorageError::Conflict(_))),
            "{label}: {:?}",
            err.error
        );
        assert_eq!(
            store.customers().count(acme.tenant.id, None).await.unwrap(),
            0,
            "{label}"
        );

        // A link to another tenant's customer looks like a missing one.
        let theirs = store
            .customers()
            .import(&globex, vec![customer(&globex, 9, t)])
            .await
            .unwrap();
        let mut ok = Conversation::new(acme.tenant.id, "ok", t);
        ok.customer_id = None;
        let mut foreign = Conversation::new(acme.tenant.id, "foreign", t);
        foreign.customer_id = Some(theirs[0].id);
        let err = store
            .conversations()
            .import(&acme, vec![ok, foreign])
            .await
            .unwrap_err();
        assert_eq!(err.index, 1, "{label}");
        assert_eq!(
            store
                .conversations()
                .count(acme.tenant.id, None)
                .await
                .unwrap(),
            0,
            "{label}: the valid draft was not kept either"
        );
        let missing = store
            .conversations()
            .get(acme.tenant.id, ConversationId::new(1))
            .await;
        assert_not_found(missing, label);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn analyze_after_an_import_gives_the_planner_the_data() {
    for db in TestDb::all() {
        let label = db.label;
        let store = open(&db).await;
        let acme = tenant(&store, "acme").await;
        let t = store.now();
        let drafts: Vec<Customer> = (1..=50).map(|i| customer(&acme, i, t)).collect();
        store.customers().import(&acme, drafts).await.unwrap();
        store.maintenance().analyze().await.unwrap();
        // Statistics exist now (the raw connection panics on an error).
        let mut raw = db.raw();
        if db.is_sqlite() {
            raw.execute("SELECT 1 FROM sqlite_stat1 WHERE tbl = 'customers'");
            // Averages, no samples of values: a kept statement is not
            // prepared again on each run to be planned for its values.
            let counts = raw.lines(
                "SELECT (SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'customers') || ' ' || \
                 (SELECT count(*) FROM sqlite_stat4) AS line",
                "",
            );
            let (averages, samples) = counts[0].split_once(' ').unwrap();
            assert!(averages.parse::<u32>().unwrap() > 0, "{label}: {counts:?}");
            assert_eq!(samples, "0", "{label}: sqlite_stat4 is emptied");
        } else {
            raw.execute(
                "DO $$ BEGIN IF (SELECT reltuples FROM pg_class \
                 WHERE oid = 'customers'::regclass) < 50 \
                 THEN RAISE EXCEPTION 'customers not analyzed'; END IF; END $$",
            );
            // The import added a +1 count row per customer and folded them
            // into one: vacuumed, the tenant's counts index holds that one
            // entry, not 50 dead ones that every total would walk.
            raw.execute(&format!(
                "DO $$ DECLARE l text; found int := 0; BEGIN \
                 SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off; \
                 SET LOCAL enable_indexonlyscan = off; \
                 FOR l IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) \
                   SELECT sum(n) FROM customer_counts WHERE tenant_id = {}' LOOP \
                   IF l LIKE '%Bitmap Index Scan%' THEN found := found + 1; \
                     IF substring(l FROM 'rows=([0-9]+)')::int <> 1 THEN \
                       RAISE EXCEPTION 'dead count rows left: %', l; END IF; END IF; \
                 END LOOP; \
                 IF found = 0 THEN RAISE EXCEPTION 'no bitmap index scan'; END IF; END $$",
                acme.tenant.id.get()
            ));
        }
        assert_eq!(
            store.customers().count(acme.tenant.id, None).await.unwrap(),
            50,
            "{label}"
        );
    }
}
