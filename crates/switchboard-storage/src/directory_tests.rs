//! The directory's stamps and copies (`crate::directory`), on both
//! backends: every change of a shown agent or department column moves the
//! tenant's stamp, whoever makes it, and a chat page shows the change at
//! once. (Unit tests: the stamp is read by crate-private statements.)

use switchboard_domain::query::{ConversationField as Cv, Page, Query, Sort};
use switchboard_domain::{
    Actor, AgentId, Conversation, ConversationStatus, Customer, DepartmentId, TenantId,
};
use switchboard_testsupport::TestDb;
use switchboard_testsupport::query::{eq, text};

use crate::{AgentChange, LinkSet, Store, StoreConfig, WriteContext};

async fn stamp(store: &Store, tenant: TenantId) -> i64 {
    store
        .run(move |c| crate::sql::query::whole_directory(c, tenant.get()))
        .await
        .unwrap()
        .stamp
}

/// Asserts the tenant's stamp moved past `last` (and moves `last`).
async fn moved(store: &Store, tenant: TenantId, last: &mut i64, why: &str) {
    let now = stamp(store, tenant).await;
    assert!(
        now > *last,
        "{}: {why} left the stamp at {now}",
        store.backend().name()
    );
    *last = now;
}

/// Renames agent `id` of `tenant` through `store`'s admin API.
async fn rename(store: &Store, tenant: TenantId, id: AgentId, name: &str) {
    store
        .admin()
        .update_agent(
            tenant,
            id,
            AgentChange {
                name: Some(name.into()),
                email: None,
                role: None,
            },
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shown_change_of_the_directory_moves_the_tenants_stamp() {
    for db in TestDb::all() {
        let store = Store::open(&db.url, StoreConfig::for_tests())
            .await
            .unwrap();
        let label = store.backend().name();
        let admin = store.admin();
        let acme = admin.create_tenant("acme").await.unwrap().id;
        let other = admin.create_tenant("other").await.unwrap().id;
        assert_eq!(stamp(&store, acme).await, 0, "{label}: before any row");

        let mut last = 0;
        let agent = admin
            .create_agent(acme, "Ann", "ann@example.com", "agent")
            .await
            .unwrap();
        moved(&store, acme, &mut last, "a new agent").await;
        rename(&store, acme, agent.id, "Anne").await;
        moved(&store, acme, &mut last, "a renamed agent").await;
        let dept = admin.create_department(acme, "Sales").await.unwrap();
        moved(&store, acme, &mut last, "a new department").await;
        let mut raw = db.raw();
        raw.execute(&format!(
            "UPDATE departments SET name = 'Support' WHERE id = {}",
            dept.id.get()
        ));
        moved(&store, acme, &mut last, "a department renamed by hand").await;
        raw.execute(&format!(
            "UPDATE agents SET role = 'admin' WHERE id = {}",
            agent.id.get()
        ));
        moved(&store, acme, &mut last, "a role changed by hand").await;

        // Not shown on a page: the stamp stays.
        store
            .console()
            .set_password(acme, "ann@example.com", "correct horse battery staple")
            .await
            .unwrap();
        assert_eq!(stamp(&store, acme).await, last, "{label}: a password");
        // Another tenant's directory is its own.
        admin
            .create_agent(other, "Bob", "bob@example.com", "agent")
            .await
            .unwrap();
        assert_eq!(stamp(&store, acme).await, last, "{label}: another tenant");
        assert!(stamp(&store, other).await > 0, "{label}");

        admin
            .delete_department(acme, DepartmentId::new(dept.id.get()))
            .await
            .unwrap();
        moved(&store, acme, &mut last, "a deleted department").await;
        admin
            .delete_agent(acme, AgentId::new(agent.id.get()))
            .await
            .unwrap();
        moved(&store, acme, &mut last, "a deleted agent").await;
        let whole = store
            .run(move |c| crate::sql::query::whole_directory(c, acme.get()))
            .await
            .unwrap();
        assert_eq!(
            whole.rows.map(|(a, d)| (a.len(), d.len())),
            Some((0, 0)),
            "{label}"
        );

        // A row moved to another tenant by hand moves both tenants' stamps.
        let moving = admin
            .create_agent(acme, "Cy", "cy@example.com", "agent")
            .await
            .unwrap();
        moved(&store, acme, &mut last, "a new agent").await;
        let mut other_last = stamp(&store, other).await;
        raw.execute(&format!(
            "UPDATE agents SET tenant_id = {} WHERE id = {}",
            other.get(),
            moving.id.get()
        ));
        moved(&store, acme, &mut last, "an agent moved away").await;
        moved(&store, other, &mut other_last, "an agent moved in").await;
    }
}

/// The agent and department names on the first page of the tenant's
/// opened chats (HelpCrunch's chat search), read as the dialect reads it.
async fn names_on_a_page(store: &Store, tenant: TenantId) -> Vec<String> {
    let q = Query::new(
        Some(eq(Cv::Status, text("opened"))),
        Sort::by_id(true),
        Page::First,
        20,
    )
    .unwrap();
    let (page, links) = store
        .conversations()
        .query_counted(tenant, &q, LinkSet::CONTACT)
        .await
        .unwrap();
    assert_eq!(page.page.items.len(), links.len());
    assert!(!links.is_empty(), "no chat on the page");
    let mut names: Vec<String> = links
        .iter()
        .flat_map(|l| {
            l.agents
                .iter()
                .map(|a| a.name.clone())
                .chain(l.department.iter().map(|d| d.name.clone()))
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_page_shows_a_directory_change_at_once_whoever_makes_it() {
    for db in TestDb::all() {
        let store = Store::open(&db.url, StoreConfig::for_tests())
            .await
            .unwrap();
        let label = store.backend().name();
        let admin = store.admin();
        let tenant = admin.create_tenant("acme").await.unwrap();
        let acme = tenant.id;
        let ctx = WriteContext::new(tenant.clone(), Actor::System, "test");
        let ann = admin
            .create_agent(acme, "Ann", "ann@example.com", "agent")
            .await
            .unwrap();
        let sales = admin.create_department(acme, "Sales").await.unwrap();
        let customer = store
            .customers()
            .create(&ctx, Customer::new(acme, store.now()))
            .await
            .unwrap();
        for i in 0..3 {
            let mut v = Conversation::new(acme, format!("s-{i}"), store.now());
            v.status = ConversationStatus::Opened;
            v.assignee_id = Some(ann.id);
            v.department_id = Some(sales.id);
            v.customer_id = Some(customer.id);
            store.conversations().create(&ctx, v).await.unwrap();
        }
        assert_eq!(
            names_on_a_page(&store, acme).await,
            ["Ann", "Sales"],
            "{label}"
        );
        // The copy is kept and serves the next page alike.
        assert_eq!(
            names_on_a_page(&store, acme).await,
            ["Ann", "Sales"],
            "{label}"
        );

        // Through this store.
        rename(&store, acme, ann.id, "Anne").await;
        assert_eq!(
            names_on_a_page(&store, acme).await,
            ["Anne", "Sales"],
            "{label}"
        );

        // Through another store on the same database: another process
        // beside this one on SQLite, another node on PostgreSQL.
        let beside = Store::open(&db.url, StoreConfig::for_tests())
            .await
            .unwrap();
        rename(&beside, acme, ann.id, "Annie").await;
        assert_eq!(
            names_on_a_page(&store, acme).await,
            ["Annie", "Sales"],
            "{label}"
        );

        // By hand, in SQL.
        db.raw().execute(&format!(
            "UPDATE departments SET name = 'Support' WHERE id = {}",
            sales.id.get()
        ));
        assert_eq!(
            names_on_a_page(&store, acme).await,
            ["Annie", "Support"],
            "{label}"
        );
    }
}
