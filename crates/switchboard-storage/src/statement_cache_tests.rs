//! Which statements a search page costs, and that each is prepared once
//! per connection, on both backends: a search repeated with other values
//! (and a page linking another number of customers) reuses the prepared
//! statements instead of preparing (and, on PostgreSQL, planning) them
//! again. Counted with Diesel's instrumentation on a connection of its
//! own (an empty statement cache). (Unit tests: the query functions are
//! private to the crate.)

use std::sync::{Arc, Mutex};

use diesel::Connection as _;
use diesel::connection::InstrumentationEvent;
use serde_json::json;
use switchboard_domain::query::{ConversationField as Cv, CustomerField as Cu, Filter, Query};
use switchboard_domain::query::{Page, Sort, Value};
use switchboard_domain::{Actor, Conversation, ConversationStatus, Customer, TenantId};
use switchboard_testsupport::TestDb;
use switchboard_testsupport::query::{eq, text};

use crate::connection::DbConnection;
use crate::conversations::{LinkSet, page_with_links};
use crate::decoded::Decoded;
use crate::directory::DirectoryCache;
use crate::{DatabaseUrl, Store, StoreConfig, WriteContext};

/// Statements started and statements prepared into the connection's
/// cache since the last [`Counter::take`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Counts {
    started: usize,
    cached: usize,
}

#[derive(Clone, Default)]
struct Counter(Arc<Mutex<Counts>>);

impl Counter {
    fn attach(&self, c: &mut DbConnection) {
        let seen = Arc::clone(&self.0);
        c.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            let mut seen = seen.lock().unwrap();
            match event {
                InstrumentationEvent::StartQuery { .. } => seen.started += 1,
                InstrumentationEvent::CacheQuery { .. } => seen.cached += 1,
                _ => {}
            }
        });
    }

    fn take(&self) -> Counts {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

struct Seeded {
    tenant: i64,
    agents: [i64; 2],
}

/// Customers by their custom attribute `plan`, newest first (HelpCrunch's
/// search by `customData`).
async fn by_plan(store: &Store, tenant: i64, plan: &str) -> Query<Cu> {
    let attrs = store
        .admin()
        .attributes(TenantId::new(tenant))
        .await
        .unwrap();
    let field = Cu::attribute("plan", &attrs).unwrap();
    Query::new(
        Some(eq(field, text(plan))),
        Sort::by_id(true),
        Page::First,
        20,
    )
    .unwrap()
}

/// Two agents, a department, five customers (of custom attribute `plan`
/// `free` or `pro`, by turns) and twelve conversations:
/// conversation `i` is of status `i % 2`, assigned to agent `i % 2`, in
/// the department, and linked to customer `i % 5`.
async fn seed(store: &Store) -> Seeded {
    let tenant = store.admin().create_tenant("acme").await.unwrap();
    let mut agents = Vec::new();
    for i in 0..2 {
        let a = store
            .admin()
            .create_agent(tenant.id, &format!("A{i}"), &format!("a{i}@x.io"), "agent")
            .await
            .unwrap();
        agents.push(a.id);
    }
    let dept = store
        .admin()
        .create_department(tenant.id, "Sales")
        .await
        .unwrap()
        .id;
    crate::query_plan_tests::define_plan(store, tenant.id).await;
    let ctx = WriteContext::new(tenant.clone(), Actor::System, "statements");
    let mut customers = Vec::new();
    for i in 0..5 {
        let mut c = Customer::new(tenant.id, store.now());
        c.email = Some(format!("c{i}@example.com"));
        c.custom_data
            .insert("plan".into(), json!(["free", "pro"][i % 2]));
        customers.push(store.customers().create(&ctx, c).await.unwrap().id);
    }
    for i in 0..12 {
        let mut v = Conversation::new(tenant.id, format!("s-{i}"), store.now());
        v.status = [ConversationStatus::Opened, ConversationStatus::Closed][i % 2];
        v.assignee_id = Some(agents[i % 2]);
        v.department_id = Some(dept);
        v.customer_id = Some(customers[i % 5]);
        store.conversations().create(&ctx, v).await.unwrap();
    }
    Seeded {
        tenant: tenant.id.get(),
        agents: [agents[0].get(), agents[1].get()],
    }
}

/// Chats of a status and an assignee, newest first (HelpCrunch's search).
fn status_assignee(status: &str, agent: i64, limit: u32) -> Query<Cv> {
    let filter = Filter::all(vec![
        eq(Cv::Status, text(status)),
        eq(Cv::Assignee, Value::Int(agent)),
    ]);
    Query::new(Some(filter), Sort::by_id(true), Page::First, limit).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_page_and_its_links_are_prepared_once_per_connection() {
    for db in TestDb::all() {
        let store = Store::open(&db.url, StoreConfig::for_tests())
            .await
            .unwrap();
        let seeded = seed(&store).await;
        let mut c = DbConnection::open(&DatabaseUrl::parse(&db.url).unwrap()).unwrap();
        let counter = Counter::default();
        counter.attach(&mut c);
        let copies = DirectoryCache::default();
        let [a0, a1] = seeded.agents;
        // Pages linking 5, 2 and 3 customers (each with one agent and the
        // department), and a customer search by two emails.
        let mut runs = Vec::new();
        for (status, agent, limit, customers) in [
            ("opened", a0, 20, 5),
            ("opened", a0, 2, 2),
            ("closed", a1, 3, 3),
            ("closed", a1, 20, 5),
        ] {
            let q = status_assignee(status, agent, limit);
            let (items, total, links) = page_with_links(
                &mut c,
                &Decoded::off(),
                &copies,
                seeded.tenant,
                &q,
                LinkSet::ALL,
            )
            .unwrap();
            assert_eq!(items.len(), usize::try_from(limit.min(6)).unwrap());
            assert_eq!(total.n, 6, "{}", db.label);
            // The agents and the department come from one statement: each
            // row into its own kind, whole.
            assert!(
                links.iter().all(|l| l.customer.is_some()
                    && matches!(l.agents.as_slice(), [a] if a.id.get() == agent && !a.email.is_empty())
                    && l.department.as_ref().is_some_and(|d| !d.name.is_empty())),
                "{}: {links:?}",
                db.label
            );
            let distinct: std::collections::BTreeSet<_> = links
                .iter()
                .filter_map(|l| l.customer.as_ref().map(|x| x.id))
                .collect();
            assert_eq!(distinct.len(), customers, "{}", db.label);
            runs.push(counter.take());
        }
        // The page with its total, the customers, the agents and the
        // department together. On PostgreSQL too a status + assignee page
        // is kept, and planned once for every pair (`sql::query::
        // fenced_lookup`).
        assert_eq!(
            runs[0],
            Counts {
                started: 3,
                cached: 3
            },
            "{}: the first page prepares and keeps each of its statements",
            db.label
        );
        // Both backends are given the page's limit in the text (a bound one
        // is planned again on every run): a new limit is a new page
        // statement, kept as well. The other statements are reused.
        for (run, cached) in runs[1..].iter().zip([1, 1, 0]) {
            assert_eq!(
                *run,
                Counts { started: 3, cached },
                "{}: the next pages reuse them",
                db.label
            );
        }
        // HelpCrunch's pages link only their customers' contacts: those,
        // the agents and the department come from one statement, prepared
        // once as well (the page's own is reused): two statements a page.
        for (i, (status, agent, limit, customers)) in [
            ("opened", a0, 20, 5),
            ("opened", a0, 2, 2),
            ("closed", a1, 3, 3),
        ]
        .into_iter()
        .enumerate()
        {
            let q = status_assignee(status, agent, limit);
            let (_, total, links) = page_with_links(
                &mut c,
                &Decoded::off(),
                &copies,
                seeded.tenant,
                &q,
                LinkSet::CONTACT,
            )
            .unwrap();
            assert_eq!(total.n, 6, "{}", db.label);
            let distinct: std::collections::BTreeSet<_> = links
                .iter()
                .filter_map(|l| l.customer.as_ref().map(|x| x.id))
                .collect();
            assert_eq!(distinct.len(), customers, "{}", db.label);
            // Each row of the one statement lands in its own kind, whole.
            assert!(
                links.iter().all(|l| l.customer.as_ref().is_some_and(|x| x
                    .email
                    .as_deref()
                    .is_some_and(|e| e.ends_with("@example.com")))
                    && matches!(l.agents.as_slice(), [a] if a.id.get() == agent
                        && a.email.starts_with('a') && a.role == "agent")
                    && l.department.as_ref().is_some_and(|d| d.name == "Sales")),
                "{}: {links:?}",
                db.label
            );
            // The contacts are read by the page's statement itself
            // (`page_counted_contacts`), a statement of its own for each
            // limit, as above, and so is the directory's stamp: the first
            // page reads the whole directory (one statement, prepared
            // then), the next ones find their agents and departments in
            // the copy: one statement a page.
            let first = usize::from(i == 0);
            assert_eq!(
                counter.take(),
                Counts {
                    started: 1 + first,
                    cached: 1 + first
                },
                "{}: a page and its contacts in one statement",
                db.label
            );
        }
        {
            assert_eq!(copies.len(), (1, 3), "{}", db.label);
            let page = |c: &mut DbConnection| {
                let q = status_assignee("opened", a0, 20);
                let (_, _, links) = page_with_links(
                    c,
                    &Decoded::off(),
                    &copies,
                    seeded.tenant,
                    &q,
                    LinkSet::CONTACT,
                )
                .unwrap();
                let names: std::collections::BTreeSet<String> = links
                    .iter()
                    .flat_map(|l| l.agents.iter().map(|a| a.name.clone()))
                    .chain(
                        links
                            .iter()
                            .filter_map(|l| l.department.as_ref().map(|d| d.name.clone())),
                    )
                    .collect();
                names
            };
            let before = page(&mut c);
            assert_eq!(counter.take().started, 1, "{}: the copy serves", db.label);
            // Another process changes the directory by hand: the stamp the
            // page reads has moved, so the copy is read again, at once.
            let mut raw = db.raw();
            raw.execute(&format!(
                "UPDATE agents SET name = 'Renamed' WHERE id = {a0}"
            ));
            let after = page(&mut c);
            assert_eq!(
                counter.take(),
                Counts {
                    started: 2,
                    cached: 0
                },
                "{}: a changed directory is read again",
                db.label
            );
            assert!(!before.contains("Renamed"), "{before:?}");
            assert!(after.contains("Renamed"), "{after:?}");
            raw.execute(&format!(
                "UPDATE departments SET name = 'Support' WHERE tenant_id = {}",
                seeded.tenant
            ));
            assert!(page(&mut c).contains("Support"), "{}", db.label);
            assert_eq!(counter.take().started, 2, "{}", db.label);
            // An agent's console password is not shown: no new read.
            raw.execute(&format!(
                "UPDATE agents SET password_hash = 'x' WHERE id = {a0}"
            ));
            assert!(page(&mut c).contains("Renamed"), "{}", db.label);
            assert_eq!(counter.take().started, 1, "{}", db.label);
            // A deleted department is seen as well.
            raw.execute(&format!(
                "DELETE FROM departments WHERE tenant_id = {}",
                seeded.tenant
            ));
            let gone = page(&mut c);
            assert!(!gone.contains("Support"), "{gone:?}");
            assert_eq!(counter.take().started, 2, "{}", db.label);
        }
        for email in ["c1@example.com", "c2@example.com"] {
            let q = Query::new(
                Some(eq(Cu::Email, text(email))),
                Sort::by_id(false),
                Page::First,
                20,
            )
            .unwrap();
            let (items, total) =
                crate::sql::query::page_counted(&mut c, &Decoded::off(), seeded.tenant, &q)
                    .unwrap();
            assert_eq!((items.len(), total.n), (1, 1), "{}", db.label);
        }
        assert_eq!(
            counter.take(),
            Counts {
                started: 2,
                cached: 1
            },
            "{}: a search by email is prepared once",
            db.label
        );
        // By a custom attribute: on PostgreSQL written to be planned once
        // for every tenant and value (`sql::query::attribute_lookup`), so
        // kept like the others.
        for (plan, n) in [("free", 3), ("pro", 2)] {
            let q = by_plan(&store, seeded.tenant, plan).await;
            let (items, total) =
                crate::sql::query::page_counted(&mut c, &Decoded::off(), seeded.tenant, &q)
                    .unwrap();
            assert_eq!((items.len(), total.n), (n, n as u64), "{}", db.label);
        }
        assert_eq!(
            counter.take(),
            Counts {
                started: 2,
                cached: 1
            },
            "{}: a search by a custom attribute is prepared once",
            db.label
        );
    }
}
