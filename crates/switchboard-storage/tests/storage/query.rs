//! Queries on both backends: every filter against a known data set, sorts
//! and cursors, counts, tenant scoping, and pages that stay stable while
//! rows are inserted and deleted between them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use switchboard_domain::query::{
    ConversationField as Cv, Cursor, CustomerField as Cu, Field, Filter, Op, Page, Query, Sort,
    Value,
};
use switchboard_domain::{
    AttributeType, ConversationStatus, Customer, CustomerId, Tag, TenantId, Timestamp,
};
use switchboard_storage::{Clock, LinkSet, Precondition, Store, WriteContext};
use switchboard_testsupport::query::{at, cond, eq, text};

use super::harness::{
    create_conversation, create_customer, define, delete_customer, draft, for_each_backend_clocked,
    new_agent, tenant, two_tenants,
};

/// Every match of `filter`, in id order, through pages of 2 (so every
/// test also walks cursors).
async fn all_customers(
    store: &Store,
    tenant: TenantId,
    filter: Option<Filter<Cu>>,
) -> Vec<Customer> {
    let mut q = Query::new(filter, Sort::by_id(false), Page::First, 2).unwrap();
    let mut out = Vec::new();
    loop {
        let page = store.customers().query(tenant, &q).await.unwrap();
        out.extend(page.items);
        match page.next {
            Some(c) => q = q.at(Page::After(c)),
            None => return out,
        }
    }
}

/// The session keys of the conversations `q` finds for `tenant`, in order.
async fn session_keys(store: &Store, tenant: TenantId, q: &Query<Cv>) -> Vec<String> {
    store
        .conversations()
        .query(tenant, q)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.session_key)
        .collect()
}

async fn customer_names(store: &Store, tenant: TenantId, filter: Filter<Cu>) -> Vec<String> {
    all_customers(store, tenant, Some(filter))
        .await
        .into_iter()
        .map(|c| c.name.unwrap_or_default())
        .collect()
}

async fn customer(
    store: &Store,
    ctx: &WriteContext,
    clock: &Clock,
    name: &str,
    build: impl FnOnce(&mut Customer),
) -> Customer {
    clock.advance(Duration::from_millis(10));
    let mut c = Customer::new(ctx.tenant.id, store.now());
    c.name = Some(name.into());
    build(&mut c);
    store.customers().create(ctx, c).await.unwrap()
}

/// Ada, Bob, Cyd, Dee and Eve of `acme`, and a Mallory of `globex` who
/// matches nearly every filter.
async fn customers_fixture(store: &Store, clock: &Clock) -> (TenantId, Timestamp) {
    let (acme, globex) = two_tenants(store).await;
    for t in [acme.tenant.id, globex.tenant.id] {
        define(store, t, "plan", AttributeType::String, "plan").await;
        define(store, t, "seats", AttributeType::Number, "seats").await;
        define(store, t, "trial", AttributeType::Boolean, "trial").await;
    }
    let start = store.now();
    let data = |pairs: &[(&str, serde_json::Value)]| -> BTreeMap<String, serde_json::Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect()
    };
    // Mallory has Ada's data, but for her email's case and the trial.
    let ada_like = |email: &'static str, trial: bool| {
        move |c: &mut Customer| {
            c.email = Some(email.into());
            c.user_id = Some("u-ada".into());
            c.company = Some("Analytical Engines".into());
            c.last_seen = Some(Timestamp::from_millis(5_000));
            c.tags = vec![Tag::new("vip"), Tag::new("lead")];
            c.custom_data = data(&[
                ("plan", json!("pro")),
                ("seats", json!(15)),
                ("trial", json!(trial)),
            ]);
        }
    };
    customer(
        store,
        &acme,
        clock,
        "Ada",
        ada_like("Ada@Example.com", false),
    )
    .await;
    customer(store, &acme, clock, "Bob", |c| {
        c.email = Some("bob@gmail.com".into());
        c.phone = Some("+47 555".into());
        c.last_seen = Some(Timestamp::from_millis(9_000));
        c.tags = vec![Tag::new("lead")];
        c.custom_data = data(&[
            ("plan", json!("free")),
            ("seats", json!("15")),
            ("trial", json!("true")),
        ]);
    })
    .await;
    customer(store, &acme, clock, "Cyd", |c| {
        c.email = Some("cyd@gmail.com".into());
        c.custom_data = data(&[("seats", json!(15.5))]);
    })
    .await;
    customer(store, &acme, clock, "Dee", |c| {
        c.user_id = Some("u-dee".into());
        c.company = Some("analytical".into());
        c.last_seen = Some(Timestamp::from_millis(1_000));
        c.custom_data = data(&[("plan", json!("pro")), ("trial", json!(true))]);
    })
    .await;
    customer(store, &acme, clock, "Eve", |_| {}).await;
    customer(
        store,
        &globex,
        clock,
        "Mallory",
        ada_like("ada@example.com", true),
    )
    .await;
    (acme.tenant.id, start)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn customer_filters_match_on_both_backends() {
    for_each_backend_clocked(|store, label, clock| async move {
        let (acme, start) = customers_fixture(&store, &clock).await;
        let attrs = store.admin().attributes(acme).await.unwrap();
        let attr = |name: &str| Cu::attribute(name, &attrs).unwrap();
        let s = start.as_millis();
        let cases: Vec<(&str, Filter<Cu>, &[&str])> = vec![
            (
                "email, any case",
                eq(Cu::Email, text("ADA@example.COM")),
                &["Ada"],
            ),
            (
                "email contains",
                cond(Cu::Email, Op::Contains, vec![text("gmail")]),
                &["Bob", "Cyd"],
            ),
            (
                "email starts",
                cond(Cu::Email, Op::StartsWith, vec![text("b")]),
                &["Bob"],
            ),
            (
                "email null",
                cond(Cu::Email, Op::IsNull, vec![]),
                &["Dee", "Eve"],
            ),
            (
                "email ne: null counts",
                cond(Cu::Email, Op::Ne, vec![text("bob@gmail.com")]),
                &["Ada", "Cyd", "Dee", "Eve"],
            ),
            ("user id", eq(Cu::UserId, text("u-ada")), &["Ada"]),
            (
                "user id in",
                cond(Cu::UserId, Op::In, vec![text("u-dee"), text("u-x")]),
                &["Dee"],
            ),
            ("name exact", eq(Cu::Name, text("ada")), &[]),
            (
                "company contains, case kept",
                cond(Cu::Company, Op::Contains, vec![text("nalytical")]),
                &["Ada", "Dee"],
            ),
            (
                "company starts, case kept",
                cond(Cu::Company, Op::StartsWith, vec![text("Analytical")]),
                &["Ada"],
            ),
            (
                "phone set",
                cond(Cu::Phone, Op::IsNotNull, vec![]),
                &["Bob"],
            ),
            (
                "id",
                cond(Cu::Id, Op::Ge, vec![Value::Int(1)]),
                &["Ada", "Bob", "Cyd", "Dee", "Eve"],
            ),
            (
                "created range",
                Filter::all(vec![
                    cond(Cu::CreatedAt, Op::Gt, vec![at(s + 10)]),
                    cond(Cu::CreatedAt, Op::Le, vec![at(s + 30)]),
                ]),
                &["Bob", "Cyd"],
            ),
            (
                "last seen before",
                cond(Cu::LastSeen, Op::Lt, vec![at(6_000)]),
                &["Ada", "Dee"],
            ),
            (
                "last seen unset",
                cond(Cu::LastSeen, Op::IsNull, vec![]),
                &["Cyd", "Eve"],
            ),
            (
                "last seen ne: unset counts",
                cond(Cu::LastSeen, Op::Ne, vec![at(5_000)]),
                &["Bob", "Cyd", "Dee", "Eve"],
            ),
            ("tag", eq(Cu::Tags, text("vip")), &["Ada"]),
            (
                "tag in",
                cond(Cu::Tags, Op::In, vec![text("vip"), text("lead")]),
                &["Ada", "Bob"],
            ),
            (
                "tag absent",
                cond(Cu::Tags, Op::Ne, vec![text("lead")]),
                &["Cyd", "Dee", "Eve"],
            ),
            (
                "string attribute",
                eq(attr("plan"), text("pro")),
                &["Ada", "Dee"],
            ),
            (
                "string attribute ne",
                cond(attr("plan"), Op::Ne, vec![text("pro")]),
                &["Bob", "Cyd", "Eve"],
            ),
            (
                "string attribute in",
                cond(attr("plan"), Op::In, vec![text("free"), text("x")]),
                &["Bob"],
            ),
            (
                "attribute unset",
                cond(attr("plan"), Op::IsNull, vec![]),
                &["Cyd", "Eve"],
            ),
            (
                "attribute set",
                cond(attr("trial"), Op::IsNotNull, vec![]),
                &["Ada", "Bob", "Dee"],
            ),
            (
                "number attribute, either form",
                eq(attr("seats"), Value::Int(15)),
                &["Ada", "Bob"],
            ),
            (
                "number attribute as text",
                eq(attr("seats"), text("15.0")),
                &["Ada", "Bob"],
            ),
            (
                "number attribute fraction",
                eq(attr("seats"), Value::Float(15.5)),
                &["Cyd"],
            ),
            (
                "boolean attribute, either form",
                eq(attr("trial"), Value::Bool(true)),
                &["Bob", "Dee"],
            ),
            (
                "boolean false",
                eq(attr("trial"), Value::Bool(false)),
                &["Ada"],
            ),
            (
                "or",
                Filter::any(vec![
                    eq(Cu::UserId, text("u-dee")),
                    eq(Cu::Tags, text("vip")),
                ]),
                &["Ada", "Dee"],
            ),
            (
                "not",
                Filter::negate(Filter::any(vec![
                    eq(Cu::UserId, text("u-dee")),
                    eq(Cu::Tags, text("vip")),
                ])),
                &["Bob", "Cyd", "Eve"],
            ),
            (
                "and with not",
                Filter::all(vec![
                    eq(attr("plan"), text("pro")),
                    Filter::negate(eq(Cu::Tags, text("vip"))),
                ]),
                &["Dee"],
            ),
        ];
        for (what, filter, want) in cases {
            let got = customer_names(&store, acme, filter.clone()).await;
            assert_eq!(got, *want, "{label}: {what}");
            let count = store.customers().count(acme, Some(&filter)).await.unwrap();
            assert_eq!(count, want.len() as u64, "{label}: count of {what}");
            // The page and its total in one statement: the first row, and
            // past the end no row but the same total.
            for (page, rows) in [(Page::First, want.len().min(1)), (Page::Offset(10), 0)] {
                let q = Query::new(Some(filter.clone()), Sort::by_id(false), page, 1).unwrap();
                let found = store.customers().query_counted(acme, &q).await.unwrap();
                assert_eq!(found.total, count, "{label}: total of {what} at {page:?}");
                let names: Vec<&str> = found
                    .page
                    .items
                    .iter()
                    .filter_map(|c| c.name.as_deref())
                    .collect();
                assert_eq!(
                    names,
                    want[..rows],
                    "{label}: counted page of {what} at {page:?}"
                );
            }
        }
        assert_eq!(
            store.customers().count(acme, None).await.unwrap(),
            5,
            "{label}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attribute_lookups_follow_updates_and_deletes() {
    for_each_backend_clocked(|store, label, clock| async move {
        let (acme, _) = customers_fixture(&store, &clock).await;
        let attrs = store.admin().attributes(acme).await.unwrap();
        let plan = |v: &str| eq(Cu::attribute("plan", &attrs).unwrap(), text(v));
        let ctx = WriteContext::new(
            store.admin().tenant(acme).await.unwrap().unwrap(),
            switchboard_domain::Actor::System,
            "test",
        );
        let ada = all_customers(&store, acme, Some(eq(Cu::Name, text("Ada"))))
            .await
            .remove(0);
        store
            .customers()
            .update(&ctx, ada.id, Precondition::NONE, |c| {
                c.custom_data.insert("plan".into(), json!("enterprise"));
            })
            .await
            .unwrap();
        assert_eq!(
            customer_names(&store, acme, plan("pro")).await,
            ["Dee"],
            "{label}"
        );
        assert_eq!(
            customer_names(&store, acme, plan("enterprise")).await,
            ["Ada"],
            "{label}"
        );
        // A change elsewhere in the document keeps the values.
        store
            .customers()
            .update(&ctx, ada.id, Precondition::NONE, |c| {
                c.notes = Some("hi".into())
            })
            .await
            .unwrap();
        assert_eq!(
            customer_names(&store, acme, plan("enterprise")).await,
            ["Ada"],
            "{label}"
        );
        // The total beside a page counts the same (on SQLite from the
        // value table alone), before and after the delete.
        let total = |v: &'static str| {
            let q = Query::new(Some(plan(v)), Sort::by_id(false), Page::First, 10).unwrap();
            let store = store.clone();
            async move {
                store
                    .customers()
                    .query_counted(acme, &q)
                    .await
                    .unwrap()
                    .total
            }
        };
        assert_eq!(total("enterprise").await, 1, "{label}");
        assert_eq!(total("pro").await, 1, "{label}");
        delete_customer(&store, &ctx, ada.id).await.unwrap();
        assert!(
            customer_names(&store, acme, plan("enterprise"))
                .await
                .is_empty(),
            "{label}"
        );
        assert_eq!(total("enterprise").await, 0, "{label}");
        assert_eq!(total("pro").await, 1, "{label}");
    })
    .await;
}

/// A page of one custom attribute's matches with its total (PostgreSQL
/// finds the matches once for both, `lookup_counted`), walked in both
/// directions by cursor and by offset: every match once, in order, each
/// page with the same total, none of another tenant's matches (interleaved
/// by id), for `eq` and for `in`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counted_attribute_pages_walk_every_match() {
    for_each_backend_clocked(|store, label, _clock| async move {
        let (acme, globex) = two_tenants(&store).await;
        for t in [acme.tenant.id, globex.tenant.id] {
            define(&store, t, "plan", AttributeType::String, "plan").await;
        }
        let mut want: BTreeMap<&str, Vec<CustomerId>> = BTreeMap::new();
        for i in 0..23 {
            let plan = ["pro", "free", "team"][i % 3];
            for ctx in [&acme, &globex] {
                let mut c = Customer::new(ctx.tenant.id, store.now());
                c.name = Some(format!("c{i}"));
                c.custom_data.insert("plan".into(), json!(plan));
                let c = store.customers().create(ctx, c).await.unwrap();
                if ctx.tenant.id == acme.tenant.id {
                    want.entry(plan).or_default().push(c.id);
                }
            }
        }
        let t = acme.tenant.id;
        let attrs = store.admin().attributes(t).await.unwrap();
        let plan = Cu::attribute("plan", &attrs).unwrap();
        let mut either = want["pro"].clone();
        either.extend(&want["team"]);
        either.sort();
        let cases = [
            ("eq pro", eq(plan.clone(), text("pro")), want["pro"].clone()),
            (
                "in pro, team",
                cond(plan.clone(), Op::In, vec![text("pro"), text("team")]),
                either,
            ),
        ];
        for (what, filter, ids) in cases {
            assert!(ids.len() > 7, "{label}: {what}: more matches than a page");
            for descending in [false, true] {
                let mut expected = ids.clone();
                if descending {
                    expected.reverse();
                }
                for walk in ["cursor", "offset"] {
                    let sort = Sort::by_id(descending);
                    let mut q = Query::new(Some(filter.clone()), sort, Page::First, 7).unwrap();
                    let mut seen = Vec::new();
                    loop {
                        let found = store.customers().query_counted(t, &q).await.unwrap();
                        let at = format!("{label}: {what}, desc {descending}, {walk} at {seen:?}");
                        assert_eq!(found.total, ids.len() as u64, "{at}: total");
                        // The same page, its query built from the
                        // definitions read in the page's own call.
                        let again = q.clone();
                        let built = store
                            .customers()
                            .query_counted_by(t, move |attrs| {
                                attrs
                                    .get("plan")
                                    .map(|_| again)
                                    .ok_or("plan is not defined")
                            })
                            .await
                            .unwrap()
                            .unwrap();
                        let ids_of = |p: &[Customer]| p.iter().map(|c| c.id).collect::<Vec<_>>();
                        assert_eq!(
                            (built.total, ids_of(&built.page.items), &built.page.next),
                            (found.total, ids_of(&found.page.items), &found.page.next),
                            "{at}: built from the definitions"
                        );
                        seen.extend(found.page.items.iter().map(|c| c.id));
                        assert!(seen.len() <= ids.len(), "{at}: too many rows");
                        match (walk, found.page.next) {
                            ("cursor", Some(next)) => q = q.at(Page::After(next)),
                            ("offset", Some(_)) => q = q.at(Page::Offset(seen.len() as u64)),
                            _ => break,
                        }
                    }
                    assert_eq!(seen, expected, "{label}: {what}, desc {descending}, {walk}");
                }
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sorts_are_total_and_cursors_walk_them() {
    for_each_backend_clocked(|store, label, clock| async move {
        let (acme, _) = customers_fixture(&store, &clock).await;
        let names = |items: &[Customer]| -> Vec<String> {
            items
                .iter()
                .map(|c| c.name.clone().unwrap_or_default())
                .collect()
        };
        let cases: Vec<(Cu, bool, &[&str])> = vec![
            (Cu::Id, false, &["Ada", "Bob", "Cyd", "Dee", "Eve"]),
            (Cu::Id, true, &["Eve", "Dee", "Cyd", "Bob", "Ada"]),
            (Cu::CreatedAt, true, &["Eve", "Dee", "Cyd", "Bob", "Ada"]),
            // Unset sorts first ascending (ties by id), last descending.
            (Cu::LastSeen, false, &["Cyd", "Eve", "Dee", "Ada", "Bob"]),
            (Cu::LastSeen, true, &["Bob", "Ada", "Dee", "Eve", "Cyd"]),
            (Cu::FirstSeen, false, &["Ada", "Bob", "Cyd", "Dee", "Eve"]),
        ];
        for (field, desc, want) in cases {
            let what = format!("{} desc={desc}", field.name());
            let sort = Sort::new(field, desc).unwrap();
            // One page of everything, then pages of two through cursors.
            let whole = Query::new(None, sort.clone(), Page::First, 100).unwrap();
            let page = store.customers().query(acme, &whole).await.unwrap();
            assert_eq!(names(&page.items), *want, "{label}: {what}");
            assert_eq!(
                page.next, None,
                "{label}: {what}: a partial page is the last"
            );
            let mut q = Query::new(None, sort, Page::First, 2).unwrap();
            let mut walked = Vec::new();
            while let Some(c) = {
                let page = store.customers().query(acme, &q).await.unwrap();
                walked.extend(page.items);
                page.next
            } {
                q = q.at(Page::After(Cursor::decode(&c.encode()).unwrap()));
            }
            assert_eq!(names(&walked), *want, "{label}: {what} by cursor");
            // Offsets give the same pages.
            let mut offset = Vec::new();
            for n in [0, 2, 4] {
                let page = store
                    .customers()
                    .query(acme, &q.at(Page::Offset(n)))
                    .await
                    .unwrap();
                offset.extend(page.items);
            }
            assert_eq!(names(&offset), *want, "{label}: {what} by offset");
        }
    })
    .await;
}

/// Conversations of `acme`: five chats with statuses, agents, departments,
/// visitors, custom info and closing times; one of `globex` like the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conversation_filters_match_on_both_backends() {
    for_each_backend_clocked(|store, label, clock| async move {
        let (acme, globex) = two_tenants(&store).await;
        let (a, g) = (acme.tenant.id, globex.tenant.id);
        let anna = new_agent(&store, a, "Anna").await;
        let otto = new_agent(&store, a, "Otto").await;
        let theirs = new_agent(&store, g, "Anna").await;
        let sales = store.admin().create_department(a, "Sales").await.unwrap();
        let buyer = create_customer(&store, &acme).await;
        let start = store.now().as_millis();
        let mk = |key: &str, build: &dyn Fn(&mut switchboard_domain::Conversation)| {
            let mut c = draft(a, key);
            build(&mut c);
            c
        };
        let closed_at = |c: &mut switchboard_domain::Conversation, ms: i64| {
            c.status = ConversationStatus::Closed;
            c.closed_at = Some(Timestamp::from_millis(ms));
            c.ended_at = c.closed_at;
            c.closed_by = Some(switchboard_domain::Actor::System);
        };
        let drafts = vec![
            mk("s-1", &|c| {
                c.status = ConversationStatus::Opened;
                c.assignee_id = Some(anna.id);
                c.department_id = Some(sales.id);
                c.visitor.email = Some("Vic@Example.com".into());
                c.visitor.name = Some("Vic".into());
                c.customer_id = Some(buyer.id);
                c.custom_info.insert("Model".into(), json!("X9"));
                c.custom_info.insert("Seats".into(), json!(3));
            }),
            mk("s-2", &|c| {
                c.assignee_id = Some(anna.id);
                closed_at(c, 7_000);
                c.custom_info.insert("Model".into(), json!("X10"));
                c.custom_info.insert("Vip".into(), json!(true));
            }),
            mk("s-3", &|c| {
                c.status = ConversationStatus::Opened;
                c.assignee_id = Some(otto.id);
                c.department_id = Some(sales.id);
                c.custom_info.insert("Seats".into(), json!("3"));
            }),
            mk("s-4", &|c| {
                closed_at(c, 3_000);
                c.visitor.name = Some("Vicky".into());
                c.custom_info.insert("Vip".into(), json!("true"));
            }),
            mk("s-5", &|c| c.status = ConversationStatus::OnHold),
        ];
        for d in drafts {
            clock.advance(Duration::from_millis(10));
            let mut d = d;
            d.created_at = store.now();
            store.conversations().create(&acme, d).await.unwrap();
        }
        let mut other = draft(g, "s-1");
        other.status = ConversationStatus::Opened;
        other.assignee_id = Some(theirs.id);
        other.visitor.email = Some("vic@example.com".into());
        other.custom_info.insert("Model".into(), json!("X9"));
        store.conversations().create(&globex, other).await.unwrap();

        let st = |s: ConversationStatus| Value::Status(s);
        let cases: Vec<(&str, Filter<Cv>, &[&str])> = vec![
            (
                "status",
                eq(Cv::Status, st(ConversationStatus::Opened)),
                &["s-1", "s-3"],
            ),
            ("status alias", eq(Cv::Status, text("on-hold")), &["s-5"]),
            (
                "status in",
                cond(Cv::Status, Op::In, vec![text("closed"), text("new")]),
                &["s-2", "s-4"],
            ),
            (
                "status ne",
                cond(Cv::Status, Op::Ne, vec![text("closed")]),
                &["s-1", "s-3", "s-5"],
            ),
            (
                "assignee",
                eq(Cv::Assignee, Value::Int(anna.id.get())),
                &["s-1", "s-2"],
            ),
            (
                "status and assignee",
                Filter::all(vec![
                    eq(Cv::Status, text("opened")),
                    eq(Cv::Assignee, Value::Int(anna.id.get())),
                ]),
                &["s-1"],
            ),
            (
                "unassigned",
                cond(Cv::Assignee, Op::IsNull, vec![]),
                &["s-4", "s-5"],
            ),
            (
                "assignee ne: unassigned counts",
                cond(Cv::Assignee, Op::Ne, vec![Value::Int(anna.id.get())]),
                &["s-3", "s-4", "s-5"],
            ),
            (
                "assignee below",
                cond(Cv::Assignee, Op::Lt, vec![Value::Int(otto.id.get())]),
                &["s-1", "s-2"],
            ),
            (
                "department",
                eq(Cv::Department, Value::Int(sales.id.get())),
                &["s-1", "s-3"],
            ),
            (
                "contact",
                cond(Cv::Customer, Op::IsNotNull, vec![]),
                &["s-1"],
            ),
            (
                "lead",
                cond(Cv::Customer, Op::IsNull, vec![]),
                &["s-2", "s-3", "s-4", "s-5"],
            ),
            (
                "visitor email, any case",
                eq(Cv::VisitorEmail, text("vic@example.COM")),
                &["s-1"],
            ),
            (
                "visitor name starts",
                cond(Cv::VisitorName, Op::StartsWith, vec![text("Vic")]),
                &["s-1", "s-4"],
            ),
            (
                "closed after",
                cond(Cv::ClosedAt, Op::Ge, vec![at(5_000)]),
                &["s-2"],
            ),
            (
                "closed before",
                cond(Cv::ClosedAt, Op::Lt, vec![at(5_000)]),
                &["s-4"],
            ),
            (
                "open",
                cond(Cv::ClosedAt, Op::IsNull, vec![]),
                &["s-1", "s-3", "s-5"],
            ),
            (
                "created range",
                Filter::all(vec![
                    cond(Cv::CreatedAt, Op::Ge, vec![at(start + 20)]),
                    cond(Cv::CreatedAt, Op::Lt, vec![at(start + 40)]),
                ]),
                &["s-2", "s-3"],
            ),
            (
                "updated since",
                cond(Cv::UpdatedAt, Op::Gt, vec![at(start + 40)]),
                &["s-5"],
            ),
            (
                "info text",
                eq(Cv::info("Model").unwrap(), text("X9")),
                &["s-1"],
            ),
            (
                "info text in",
                cond(
                    Cv::info("Model").unwrap(),
                    Op::In,
                    vec![text("X9"), text("X10")],
                ),
                &["s-1", "s-2"],
            ),
            (
                "info number is not text",
                eq(Cv::info("Seats").unwrap(), Value::Int(3)),
                &["s-1"],
            ),
            (
                "info text is not number",
                eq(Cv::info("Seats").unwrap(), text("3")),
                &["s-3"],
            ),
            (
                "info number as float",
                eq(Cv::info("Seats").unwrap(), Value::Float(3.0)),
                &["s-1"],
            ),
            (
                "info boolean is not text",
                eq(Cv::info("Vip").unwrap(), Value::Bool(true)),
                &["s-2"],
            ),
            (
                "info text is not boolean",
                eq(Cv::info("Vip").unwrap(), text("true")),
                &["s-4"],
            ),
            (
                "info unset",
                cond(Cv::info("Model").unwrap(), Op::IsNull, vec![]),
                &["s-3", "s-4", "s-5"],
            ),
            (
                "info ne",
                cond(Cv::info("Model").unwrap(), Op::Ne, vec![text("X9")]),
                &["s-2", "s-3", "s-4", "s-5"],
            ),
            (
                "another tenant's agent",
                eq(Cv::Assignee, Value::Int(theirs.id.get())),
                &[],
            ),
        ];
        for (what, filter, want) in cases {
            let q = Query::new(Some(filter.clone()), Sort::by_id(false), Page::First, 100).unwrap();
            let got = session_keys(&store, a, &q).await;
            assert_eq!(got, *want, "{label}: {what}");
            let count = store.conversations().count(a, Some(&filter)).await.unwrap();
            assert_eq!(count, want.len() as u64, "{label}: count of {what}");
            // The page, its total and its links in one trip: the first row,
            // and past the end no row but the same total.
            for (page, rows) in [(Page::First, want.len().min(1)), (Page::Offset(10), 0)] {
                let q = Query::new(Some(filter.clone()), Sort::by_id(false), page, 1).unwrap();
                let (found, links) = store
                    .conversations()
                    .query_counted(a, &q, LinkSet::ALL)
                    .await
                    .unwrap();
                assert_eq!(found.total, count, "{label}: total of {what} at {page:?}");
                let keys: Vec<&str> = found
                    .page
                    .items
                    .iter()
                    .map(|c| c.session_key.as_str())
                    .collect();
                assert_eq!(
                    keys,
                    want[..rows],
                    "{label}: counted page of {what} at {page:?}"
                );
                let expected = store
                    .conversations()
                    .links(a, &found.page.items, LinkSet::ALL)
                    .await
                    .unwrap();
                assert_eq!(links, expected, "{label}: links of {what}");
            }
        }
        // Custom info equality follows the documents' changes (SQLite
        // keeps its values in step by triggers).
        let x9 = eq(Cv::info("Model").unwrap(), text("X9"));
        let x9 = Query::new(Some(x9), Sort::by_id(false), Page::First, 100).unwrap();
        for (key, info) in [("s-2", Some(json!("X9"))), ("s-1", None)] {
            let id = store
                .conversations()
                .id_by_session_key(a, key)
                .await
                .unwrap()
                .unwrap();
            store
                .conversations()
                .update(&acme, id, Precondition::NONE, move |c| match &info {
                    Some(v) => {
                        c.custom_info.insert("Model".into(), v.clone());
                    }
                    None => {
                        c.custom_info.remove("Model");
                    }
                })
                .await
                .unwrap();
        }
        let keys = session_keys(&store, a, &x9).await;
        assert_eq!(keys, ["s-2"], "{label}: after updates");
        // Closed time, newest first: open chats sort last.
        let q = Query::new(
            None,
            Sort::new(Cv::ClosedAt, true).unwrap(),
            Page::First,
            100,
        )
        .unwrap();
        let keys = session_keys(&store, a, &q).await;
        assert_eq!(keys, ["s-2", "s-4", "s-5", "s-3", "s-1"], "{label}");
        assert_eq!(
            store.conversations().count(g, None).await.unwrap(),
            1,
            "{label}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queries_never_see_another_tenant() {
    for_each_backend_clocked(|store, label, clock| async move {
        let (acme, _) = customers_fixture(&store, &clock).await;
        let globex = store
            .admin()
            .tenant_by_name("globex")
            .await
            .unwrap()
            .unwrap()
            .id;
        let everything: Vec<String> = all_customers(&store, globex, None)
            .await
            .into_iter()
            .map(|c| c.name.unwrap_or_default())
            .collect();
        assert_eq!(everything, ["Mallory"], "{label}");
        let mallory = all_customers(&store, globex, None).await.remove(0);
        // Our filters on their values, and their ids, find nothing of theirs.
        for filter in [
            eq(Cu::Id, Value::Int(mallory.id.get())),
            eq(Cu::Email, text("ada@example.com")),
        ] {
            let names = customer_names(&store, acme, filter).await;
            assert!(
                !names.contains(&"Mallory".to_string()),
                "{label}: {names:?}"
            );
        }
        let nobody = TenantId::new(999_999);
        assert!(
            all_customers(&store, nobody, None).await.is_empty(),
            "{label}"
        );
        assert_eq!(
            store.customers().count(nobody, None).await.unwrap(),
            0,
            "{label}"
        );
        let q = Query::new(None, Sort::by_id(false), Page::First, 10).unwrap();
        assert!(
            store
                .conversations()
                .query(nobody, &q)
                .await
                .unwrap()
                .items
                .is_empty()
        );
    })
    .await;
}

/// Pages walked while other writers insert and delete rows: a keyset walk
/// and an offset walk both see every row that existed throughout exactly
/// once; plain SQL `OFFSET` (a cold offset) would repeat one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_are_stable_under_concurrent_writes() {
    for_each_backend_clocked(|store, label, clock| async move {
        let ctx = tenant(&store, "acme").await;
        let t = ctx.tenant.id;
        let mut ids: Vec<CustomerId> = Vec::new();
        for i in 0..20 {
            let c = customer(&store, &ctx, &clock, &format!("c{i:02}"), |_| {}).await;
            ids.push(c.id);
        }
        let newest_first = Sort::by_id(true);

        for mode in ["keyset", "offset"] {
            // The rows that exist when the walk starts, newest first.
            let original: Vec<CustomerId> = ids.iter().rev().copied().collect();
            let mut q = Query::new(None, newest_first.clone(), Page::First, 5).unwrap();
            let mut seen: Vec<CustomerId> = Vec::new();
            let mut offset = 0u64;
            let mut round = 0;
            loop {
                let page = store.customers().query(t, &q).await.unwrap();
                seen.extend(page.items.iter().map(|c| c.id));
                offset += page.items.len() as u64;
                let Some(next) = page.next else { break };
                // Between pages: a new row at the head, and one already
                // served removed (it would shift every later offset).
                round += 1;
                let new =
                    customer(&store, &ctx, &clock, &format!("new-{mode}-{round}"), |_| {}).await;
                ids.push(new.id);
                let served = seen[seen.len() - 1];
                if ids.contains(&served) {
                    delete_customer(&store, &ctx, served).await.unwrap();
                    ids.retain(|id| *id != served);
                }
                q = match mode {
                    "keyset" => q.at(Page::After(next)),
                    _ => q.at(Page::Offset(offset)),
                };
            }
            let mut unique = seen.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(
                unique.len(),
                seen.len(),
                "{label} {mode}: a row repeated: {seen:?}"
            );
            let expected: Vec<CustomerId> = original
                .iter()
                .filter(|id| seen.contains(id) || ids.contains(id))
                .copied()
                .collect();
            assert_eq!(
                seen, expected,
                "{label} {mode}: rows skipped or out of order"
            );
            assert!(
                !seen.iter().any(|id| !original.contains(id)),
                "{label} {mode}: a row inserted during the walk appeared"
            );
        }

        // A cold offset is plain SQL OFFSET on the current rows: after one
        // more insert at the head, offset 5 of a fresh query repeats the
        // last row of the first page.
        let q = Query::new(
            Some(cond(Cu::Id, Op::Gt, vec![Value::Int(1)])),
            newest_first,
            Page::First,
            5,
        )
        .unwrap();
        let first = store.customers().query(t, &q).await.unwrap().items;
        customer(&store, &ctx, &clock, "late", |_| {}).await;
        let shape = Query::new(
            Some(Filter::all(vec![
                cond(Cu::Id, Op::Gt, vec![Value::Int(1)]),
                cond(Cu::Id, Op::Ge, vec![Value::Int(1)]),
            ])),
            Sort::by_id(true),
            Page::Offset(5),
            5,
        )
        .unwrap();
        let cold = store.customers().query(t, &shape).await.unwrap().items;
        assert_eq!(cold[0].id, first[4].id, "{label}: cold OFFSET shifts");
        let warm = store
            .customers()
            .query(t, &q.at(Page::Offset(5)))
            .await
            .unwrap()
            .items;
        assert!(
            warm[0].id < first[4].id,
            "{label}: warm offset continues after the page"
        );
    })
    .await;
}

/// An agent's chats of a status, the inbox's question, is the one search
/// PostgreSQL reads in `id + 0` order from its own index and plans once
/// for every pair (`sql::query::fenced_lookup`): walked through cursors
/// and offsets both ways, in pages whose limit is in the statement's text
/// and one whose limit is bound, it gives every match once, in id order,
/// with the pair's total on every page.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agents_chats_of_a_status_walk_in_id_order() {
    for_each_backend_clocked(|store, label, _clock| async move {
        let ctx = tenant(&store, "acme").await;
        let t = ctx.tenant.id;
        let anna = new_agent(&store, t, "Anna").await;
        let otto = new_agent(&store, t, "Otto").await;
        // Interleaved: Anna's open chats among her closed ones and Otto's.
        let mut want = Vec::new();
        for i in 0..21 {
            let (agent, status) = match i % 3 {
                0 => (anna.id, ConversationStatus::Opened),
                1 => (anna.id, ConversationStatus::Closed),
                _ => (otto.id, ConversationStatus::Opened),
            };
            let mut c = draft(t, &format!("s-{i:02}"));
            c.assignee_id = Some(agent);
            c.status = status;
            if status == ConversationStatus::Closed {
                c.closed_at = Some(Timestamp::from_millis(1));
                c.ended_at = c.closed_at;
                c.closed_by = Some(switchboard_domain::Actor::System);
            }
            let made = store.conversations().create(&ctx, c).await.unwrap();
            if i % 3 == 0 {
                want.push(made.session_key);
            }
        }
        assert_eq!(want.len(), 7);
        let pair = Filter::all(vec![
            eq(Cv::Status, text("opened")),
            eq(Cv::Assignee, Value::Int(anna.id.get())),
        ]);
        for newest_first in [false, true] {
            let expected: Vec<String> = if newest_first {
                want.iter().rev().cloned().collect()
            } else {
                want.clone()
            };
            for mode in ["keyset", "offset"] {
                let mut q = Query::new(
                    Some(pair.clone()),
                    Sort::by_id(newest_first),
                    Page::First,
                    2,
                )
                .unwrap();
                let mut seen: Vec<String> = Vec::new();
                loop {
                    let (found, _) = store
                        .conversations()
                        .query_counted(t, &q, LinkSet::ALL)
                        .await
                        .unwrap();
                    assert_eq!(found.total, 7, "{label} {mode}: total");
                    seen.extend(found.page.items.iter().map(|c| c.session_key.clone()));
                    let Some(next) = found.page.next else { break };
                    q = match mode {
                        "keyset" => q.at(Page::After(next)),
                        _ => q.at(Page::Offset(seen.len() as u64)),
                    };
                }
                assert_eq!(
                    seen, expected,
                    "{label}: {mode}, newest first: {newest_first}"
                );
            }
            // A limit above the ones written into the statement is bound.
            let q = Query::new(
                Some(pair.clone()),
                Sort::by_id(newest_first),
                Page::First,
                150,
            )
            .unwrap();
            assert_eq!(
                session_keys(&store, t, &q).await,
                expected,
                "{label}: one page of 150, newest first: {newest_first}"
            );
        }
    })
    .await;
}

/// One conversation of [`contact_links_match_the_whole_links`].
type Spec<'a> = (
    Option<usize>,
    &'a [&'a switchboard_domain::Agent],
    bool,
    Option<i64>,
);

/// A page that links only its customers' contacts (HelpCrunch's,
/// `LinkSet::CONTACT`: on SQLite the contacts read by the page's own
/// statement, on PostgreSQL one statement for the contacts, agents and
/// departments) links what the whole links give: the same contact for
/// each conversation, the same agents in the same order, the same
/// department; with customers shared by several conversations, agents
/// given out of id order, a transfer target, and a conversation linking
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn contact_links_match_the_whole_links() {
    for_each_backend_clocked(|store, label, _clock| async move {
        let ctx = tenant(&store, "acme").await;
        let t = ctx.tenant.id;
        let agents = [
            new_agent(&store, t, "Anna").await,
            new_agent(&store, t, "Bert").await,
            new_agent(&store, t, "Cleo").await,
        ];
        let sales = store.admin().create_department(t, "Sales").await.unwrap();
        let support = store.admin().create_department(t, "Support").await.unwrap();
        let mut customers = Vec::new();
        // A name that JSON must escape: the contact's members are drawn
        // from the document by the database (`json_extract`, `->>`).
        let names = [("Ada \"Ω\" \\ Lovelace\n", Some("DE")), ("Bo", None)];
        for (i, (name, country)) in names.into_iter().enumerate() {
            let mut c = Customer::new(t, store.now());
            c.name = Some(name.into());
            c.email = Some(format!("user{i}@Example.com"));
            c.user_id = Some(format!("user-{i}"));
            c.phone = Some(format!("+49 30 {i}"));
            c.company = Some("Acme".into());
            c.location = country.map(|code| switchboard_domain::Location {
                country_code: Some(code.into()),
                ..Default::default()
            });
            customers.push(store.customers().create(&ctx, c).await.unwrap());
        }
        let [anna, bert, cleo] = &agents;
        // Customer, participants (the first assigned), transfer to Bert,
        // department.
        let specs: [Spec<'_>; 5] = [
            (Some(0), &[cleo, anna], true, Some(sales.id.get())),
            (Some(1), &[bert], false, Some(support.id.get())),
            (Some(0), &[], false, None),
            (None, &[anna], true, Some(sales.id.get())),
            (None, &[], false, None),
        ];
        for (i, (customer, participants, transfer, department)) in specs.into_iter().enumerate() {
            let mut c = draft(t, &format!("s-{i}"));
            c.customer_id = customer.map(|k| customers[k].id);
            c.assignee_id = participants.first().map(|a| a.id);
            c.agent_ids = participants.iter().rev().map(|a| a.id).collect();
            c.transfer_to = transfer.then_some(bert.id);
            c.department_id = department.map(switchboard_domain::DepartmentId::new);
            store.conversations().create(&ctx, c).await.unwrap();
        }
        let whole = assert_contacts_match(&store, t, label).await;
        // The data is what the test says it is: a country, several agents.
        assert!(
            whole[0]
                .customer
                .as_ref()
                .is_some_and(|x| x.location.is_some())
                && whole[0].agents.len() == 3
                && whole[4].customer.is_none(),
            "{label}: {whole:?}"
        );
        // After updates the contacts follow (SQLite stores the members in
        // generated columns): a member changed, members removed, a
        // location added.
        store
            .customers()
            .update(&ctx, customers[0].id, Precondition::NONE, |c| {
                c.name = Some("Ada King".into());
                c.phone = None;
                c.location = None;
            })
            .await
            .unwrap();
        store
            .customers()
            .update(&ctx, customers[1].id, Precondition::NONE, |c| {
                c.email = Some("bo@Example.org".into());
                c.location = Some(switchboard_domain::Location {
                    country_code: Some("FR".into()),
                    ..Default::default()
                });
            })
            .await
            .unwrap();
        let whole = assert_contacts_match(&store, t, label).await;
        let ada = whole[0].customer.as_ref();
        let bo = whole[1].customer.as_ref();
        assert!(
            ada.is_some_and(|x| x.name.as_deref() == Some("Ada King")
                && x.phone.is_none()
                && x.location.is_none())
                && bo.is_some_and(|x| x.email.as_deref() == Some("bo@Example.org")
                    && x.location.as_ref().and_then(|l| l.country_code.as_deref()) == Some("FR")),
            "{label}: {whole:?}"
        );
    })
    .await;
}

/// The first page of the tenant's conversations with `LinkSet::CONTACT`
/// links each to what `LinkSet::ALL` gives: the same contact, customer,
/// agents and department. Returns the whole links.
async fn assert_contacts_match(
    store: &Store,
    t: TenantId,
    label: &str,
) -> Vec<switchboard_domain::ConversationLinks> {
    let q = Query::new(None, Sort::by_id(false), Page::First, 20).unwrap();
    let (found, contact) = store
        .conversations()
        .query_counted(t, &q, LinkSet::CONTACT)
        .await
        .unwrap();
    assert_eq!(found.page.items.len(), 5, "{label}");
    let whole = store
        .conversations()
        .links(t, &found.page.items, LinkSet::ALL)
        .await
        .unwrap();
    for ((conv, c), w) in found.page.items.iter().zip(&contact).zip(&whole) {
        let key = &conv.session_key;
        assert_eq!(
            conv.contact(c.customer.as_ref()),
            conv.contact(w.customer.as_ref()),
            "{label} {key}: contact"
        );
        assert_eq!(
            c.customer.as_ref().map(|x| (x.id, x.user_id.clone())),
            w.customer.as_ref().map(|x| (x.id, x.user_id.clone())),
            "{label} {key}: customer"
        );
        assert_eq!(c.agents, w.agents, "{label} {key}: agents");
        assert_eq!(c.department, w.department, "{label} {key}: department");
    }
    whole
}

/// The totals of filters on status, assignee and department (and of no
/// filter) are sums of running counts kept by triggers; they must equal
/// the rows a query finds after every kind of change: creates, imports,
/// changes of status, assignee and department, other changes, deletes, in
/// two tenants, and across the folds that start once a total sums many
/// count rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn totals_stay_exact_through_every_change() {
    for_each_backend_clocked(|store, label, _clock| async move {
        let acme = tenant(&store, "acme").await;
        let globex = tenant(&store, "globex").await;
        let a = acme.tenant.id;
        let anna = new_agent(&store, a, "Anna").await;
        let otto = new_agent(&store, a, "Otto").await;
        let sales = store.admin().create_department(a, "Sales").await.unwrap();
        let st = |s: ConversationStatus| Value::Status(s);
        let filters: Vec<(&str, Option<Filter<Cv>>)> = vec![
            ("all", None),
            (
                "opened",
                Some(eq(Cv::Status, st(ConversationStatus::Opened))),
            ),
            ("anna", Some(eq(Cv::Assignee, Value::Int(anna.id.get())))),
            ("unassigned", Some(cond(Cv::Assignee, Op::IsNull, vec![]))),
            (
                "sales",
                Some(eq(Cv::Department, Value::Int(sales.id.get()))),
            ),
            (
                "opened and anna",
                Some(Filter::all(vec![
                    eq(Cv::Status, st(ConversationStatus::Opened)),
                    eq(Cv::Assignee, Value::Int(anna.id.get())),
                ])),
            ),
            (
                "not closed, or otto's",
                Some(Filter::any(vec![
                    Filter::negate(eq(Cv::Status, st(ConversationStatus::Closed))),
                    eq(Cv::Assignee, Value::Int(otto.id.get())),
                ])),
            ),
            // Not a sum: counted from the rows.
            (
                "by email",
                Some(eq(Cv::VisitorEmail, text("v@example.com"))),
            ),
        ];
        let check = |step: &'static str| {
            let store = store.clone();
            let filters = filters.clone();
            async move {
                for (what, filter) in &filters {
                    let all =
                        Query::new(filter.clone(), Sort::by_id(false), Page::First, 1000).unwrap();
                    let rows = store
                        .conversations()
                        .query(a, &all)
                        .await
                        .unwrap()
                        .items
                        .len() as u64;
                    let count = store
                        .conversations()
                        .count(a, filter.as_ref())
                        .await
                        .unwrap();
                    assert_eq!(count, rows, "{label}: {step}: count of {what}");
                    let first =
                        Query::new(filter.clone(), Sort::by_id(false), Page::First, 1).unwrap();
                    let (found, _) = store
                        .conversations()
                        .query_counted(a, &first, LinkSet::ALL)
                        .await
                        .unwrap();
                    assert_eq!(found.total, rows, "{label}: {step}: total of {what}");
                }
                let customers = Query::new(None, Sort::by_id(false), Page::First, 1000).unwrap();
                let rows = store
                    .customers()
                    .query(a, &customers)
                    .await
                    .unwrap()
                    .items
                    .len() as u64;
                assert_eq!(
                    store.customers().count(a, None).await.unwrap(),
                    rows,
                    "{label}: {step}: customers"
                );
                rows
            }
        };
        let conversation = |key: String, assignee: Option<switchboard_domain::AgentId>| {
            let mut c = draft(a, &key);
            c.status = ConversationStatus::Opened;
            c.assignee_id = assignee;
            c.visitor.email = Some("v@example.com".into());
            c
        };
        let mut made = Vec::new();
        for i in 0..6 {
            let who = [Some(anna.id), Some(otto.id), None][i % 3];
            made.push(
                store
                    .conversations()
                    .create(&acme, conversation(format!("c-{i}"), who))
                    .await
                    .unwrap(),
            );
            create_customer(&store, &acme).await;
        }
        // Another tenant's rows count for it alone.
        create_conversation(&store, &globex, "g-1").await;
        create_customer(&store, &globex).await;
        assert_eq!(check("created").await, 6, "{label}");

        let update = |id,
                      change: fn(
            &mut switchboard_domain::Conversation,
            switchboard_domain::AgentId,
            switchboard_domain::DepartmentId,
        )| {
            let store = store.clone();
            let acme = acme.clone();
            let (otto, sales) = (otto.id, sales.id);
            async move {
                store
                    .conversations()
                    .update(&acme, id, Precondition::NONE, move |c| {
                        change(c, otto, sales)
                    })
                    .await
                    .unwrap();
            }
        };
        update(made[0].id, |c, _, _| {
            c.status = ConversationStatus::Closed;
            c.closed_at = Some(c.updated_at);
            c.ended_at = c.closed_at;
            c.closed_by = Some(switchboard_domain::Actor::System);
        })
        .await;
        check("closed").await;
        update(made[1].id, |c, otto, _| c.assignee_id = Some(otto)).await;
        check("reassigned").await;
        update(made[2].id, |c, _, sales| c.department_id = Some(sales)).await;
        check("moved to a department").await;
        update(made[3].id, |c, _, _| c.assignee_id = None).await;
        check("unassigned").await;
        update(made[4].id, |c, _, _| c.visitor.name = Some("Vic".into())).await;
        check("another change").await;
        store
            .conversations()
            .delete(&acme, made[5].id, Precondition::NONE)
            .await
            .unwrap();
        let some = store
            .customers()
            .query(
                a,
                &Query::new(None, Sort::by_id(false), Page::First, 1).unwrap(),
            )
            .await
            .unwrap();
        store
            .customers()
            .delete(&acme, some.items[0].id, Precondition::NONE)
            .await
            .unwrap();
        assert_eq!(check("deleted").await, 5, "{label}");
        let imported: Vec<_> = (0..3)
            .map(|i| conversation(format!("i-{i}"), Some(anna.id)))
            .collect();
        store.conversations().import(&acme, imported).await.unwrap();
        check("imported").await;
        // Enough changes that totals sum more rows than the fold threshold;
        // the totals stay exact while the folds run and after them.
        for i in 0..150 {
            let c = store
                .conversations()
                .create(&acme, conversation(format!("m-{i}"), Some(otto.id)))
                .await
                .unwrap();
            create_customer(&store, &acme).await;
            if i % 2 == 0 {
                update(c.id, |c, _, sales| c.department_id = Some(sales)).await;
            }
        }
        for round in 0..20 {
            check(if round == 0 { "many changes" } else { "folded" }).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(check("at the end").await, 155, "{label}");
    })
    .await;
}
