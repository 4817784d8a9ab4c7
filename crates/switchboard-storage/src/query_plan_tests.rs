//! The plans of the common queries on both backends: each is served by the
//! index made for it, never by a full scan of the table. (Unit tests: the
//! statement builder is private to the crate.)
//!
//! PostgreSQL plans by statistics, and a test database is small enough
//! that a sequential scan is cheapest; the check therefore runs with
//! `enable_seqscan = off`, which asks whether an index *can* serve the
//! query. Set `SWITCHBOARD_QUERY_PLANS=<file>` to seed a larger data set
//! (`SWITCHBOARD_QUERY_PLANS_ROWS`, default 20000 of each for the
//! queried tenant, four times as many for another), plan with the
//! statistics as they are, and write every plan to `<file>` (this is how
//! `docs/query-plans.md` is made).

use std::fmt::Write as _;

use diesel::connection::SimpleConnection;
use serde_json::json;
use switchboard_domain::query::{
    ConversationField as Cv, Cursor, CustomerField as Cu, Field, Filter, Op, Page, Query, Sort,
    Value,
};
use switchboard_domain::{
    Actor, AttributeType, Conversation, ConversationStatus, CustomAttribute, Customer, TenantId,
    Timestamp,
};
use switchboard_testsupport::TestDb;
use switchboard_testsupport::query::{at, cond};

use crate::sql::query::{Target, explain, explain_contacts, joins_contacts, planned_once};
use crate::{Backend, Store, StoreConfig, WriteContext};

/// One common query, and the indexes that may serve it (per backend).
struct Case<F> {
    what: &'static str,
    query: Query<F>,
    sqlite: &'static [&'static str],
    postgres: &'static [&'static str],
    /// What SQLite's plan must also say (a range on the sort key).
    sqlite_detail: Option<&'static str>,
    /// What PostgreSQL's plan must also say (a sort after the lookup).
    postgres_detail: Option<&'static str>,
    /// Whether the index must give the rows in the sort's order (no sort
    /// step in the plan).
    ordered: bool,
    /// Indexes the plan must use besides one of its own (both backends).
    every: &'static [&'static str],
    /// Whether PostgreSQL looks the matches up once (one bitmap index
    /// scan), with its total as without (`sql::query::lookup_counted`).
    postgres_once: bool,
}

fn case<F: Field>(
    what: &'static str,
    filter: Option<Filter<F>>,
    sort: Sort<F>,
    page: Page,
    sqlite: &'static [&'static str],
    postgres: &'static [&'static str],
) -> Case<F> {
    Case {
        what,
        query: Query::new(filter, sort, page, 50).unwrap(),
        sqlite,
        postgres,
        sqlite_detail: None,
        postgres_detail: None,
        ordered: false,
        every: &[],
        postgres_once: false,
    }
}

/// PostgreSQL sorts a custom attribute's or custom info's matches after
/// looking them up, whatever it estimates (`sql::query::sort_after_lookup`):
/// never a walk of the primary key that tests each document.
const SORTED_AFTER_LOOKUP: Option<&str> = Some("id + 0)) DESC");

fn customer_cases(attrs: &switchboard_domain::AttributeSet) -> Vec<Case<Cu>> {
    let plan = Cu::attribute("plan", attrs).unwrap();
    let newest = || Sort::by_id(true);
    vec![
        case(
            "customers: by email",
            Some(cond(
                Cu::Email,
                Op::Eq,
                vec![Value::Text("c7@example.com".into())],
            )),
            newest(),
            Page::First,
            &["customers_tenant_email"],
            &["customers_tenant_email"],
        ),
        case(
            "customers: by user id",
            Some(cond(Cu::UserId, Op::Eq, vec![Value::Text("u-7".into())])),
            newest(),
            Page::First,
            &["sqlite_autoindex_customers_1"],
            &["customers_tenant_id_user_id_key"],
        ),
        Case {
            // The page's ids in order from the value table's index, then
            // its customers by primary key (`sql::query::attribute_page`):
            // no sort, whatever the value's count.
            ordered: true,
            ..case(
                "customers: by a custom attribute",
                Some(cond(plan, Op::Eq, vec![Value::Text("enterprise".into())])),
                newest(),
                Page::First,
                &["customer_attribute_values_lookup"],
                &["customer_attribute_values_lookup"],
            )
        },
        case(
            "customers: created in a range, newest first",
            Some(Filter::all(vec![
                cond(Cu::CreatedAt, Op::Ge, vec![at(1_000)]),
                cond(Cu::CreatedAt, Op::Lt, vec![at(9_000_000_000_000)]),
            ])),
            Sort::new(Cu::CreatedAt, true).unwrap(),
            Page::First,
            &["customers_tenant_created"],
            &["customers_tenant_created"],
        ),
        Case {
            // A page deep in the walk starts at its key: constant cost.
            sqlite_detail: Some("(tenant_id=? AND <expr><?)"),
            ..case(
                "customers: next page by last seen (keyset)",
                None,
                Sort::new(Cu::LastSeen, true).unwrap(),
                Page::After(Cursor { key: 5_000, id: 40 }),
                &["customers_tenant_last_seen"],
                &["customers_tenant_last_seen"],
            )
        },
        case(
            "customers: all, by id, at an offset",
            None,
            Sort::by_id(false),
            Page::Offset(20),
            &["customers_tenant_id"],
            // A small table is read in primary key order, the tenant as a
            // filter, as cheaply: PostgreSQL's choice by cost.
            &["customers_tenant_id", "customers_pkey"],
        ),
    ]
}

fn conversation_cases(agent: i64, department: i64) -> Vec<Case<Cv>> {
    let newest = || Sort::by_id(true);
    let status = |s: &str| cond(Cv::Status, Op::Eq, vec![Value::Text(s.into())]);
    let assignee = || cond(Cv::Assignee, Op::Eq, vec![Value::Int(agent)]);
    vec![
        case(
            "conversations: by status",
            Some(status("pending")),
            newest(),
            Page::First,
            &["conversations_tenant_status"],
            &["conversations_tenant_status"],
        ),
        case(
            "conversations: by assignee",
            Some(assignee()),
            newest(),
            Page::First,
            &["conversations_tenant_assignee"],
            &["conversations_tenant_assignee"],
        ),
        Case {
            // Read in id order from the pair's own index: a page's rows
            // and no more, whether the agent has many chats of the status
            // or none (migration 2026-12-06-000001; on PostgreSQL keyed by
            // `id + 0`, 2026-12-07-000001, and planned once).
            ordered: true,
            ..case(
                "conversations: by status and assignee",
                Some(Filter::all(vec![status("opened"), assignee()])),
                newest(),
                Page::First,
                &["conversations_tenant_status_assignee_id"],
                &["conversations_tenant_status_assignee_id"],
            )
        },
        Case {
            ordered: true,
            ..case(
                "conversations: an agent's of a status, newest activity first (the console's inbox)",
                Some(Filter::all(vec![status("opened"), assignee()])),
                Sort::new(Cv::UpdatedAt, true).unwrap(),
                Page::First,
                &["conversations_tenant_status_assignee"],
                &["conversations_tenant_status_assignee"],
            )
        },
        case(
            "conversations: by department",
            Some(cond(Cv::Department, Op::Eq, vec![Value::Int(department)])),
            newest(),
            Page::First,
            &["conversations_tenant_department"],
            &["conversations_tenant_department"],
        ),
        case(
            "conversations: unassigned",
            Some(cond(Cv::Assignee, Op::IsNull, vec![])),
            newest(),
            Page::First,
            &["conversations_tenant_assignee"],
            &["conversations_tenant_assignee"],
        ),
        case(
            "conversations: by visitor email",
            Some(cond(
                Cv::VisitorEmail,
                Op::Eq,
                vec![Value::Text("v7@example.com".into())],
            )),
            newest(),
            Page::First,
            &["conversations_tenant_visitor_email"],
            &["conversations_tenant_visitor_email"],
        ),
        Case {
            // The visitor's email or the linked customer's (HelpCrunch's
            // `chats.customer.email`, SalesIQ's `email`): one lookup in
            // each email index and one in the customer link's, combined.
            every: &[
                "conversations_tenant_visitor_email",
                "customers_tenant_email",
                "conversations_customer",
            ],
            ..case(
                "conversations: by the visitor's or the linked customer's email",
                Some(cond(
                    Cv::ContactEmail,
                    Op::In,
                    vec![
                        Value::Text("c7@example.com".into()),
                        Value::Text("v9@example.com".into()),
                    ],
                )),
                newest(),
                Page::First,
                &["conversations_tenant_visitor_email"],
                &["conversations_tenant_visitor_email"],
            )
        },
        case(
            "conversations: updated in a range, by update time",
            Some(Filter::all(vec![
                cond(Cv::UpdatedAt, Op::Ge, vec![at(1_000)]),
                cond(Cv::UpdatedAt, Op::Le, vec![at(9_000_000_000_000)]),
            ])),
            Sort::new(Cv::UpdatedAt, false).unwrap(),
            Page::First,
            &["conversations_tenant_updated"],
            &["conversations_tenant_updated"],
        ),
        case(
            "conversations: next page by creation time (keyset)",
            Some(cond(Cv::CreatedAt, Op::Ge, vec![at(1_000)])),
            Sort::new(Cv::CreatedAt, true).unwrap(),
            Page::After(Cursor {
                key: 9_000_000_000_000,
                id: 40,
            }),
            &["conversations_tenant_created"],
            &["conversations_tenant_created"],
        ),
        case(
            "conversations: closed in a range, by closing time",
            Some(cond(Cv::ClosedAt, Op::Ge, vec![at(1_000)])),
            Sort::new(Cv::ClosedAt, true).unwrap(),
            Page::First,
            &["conversations_tenant_closed"],
            &["conversations_tenant_closed"],
        ),
        Case {
            postgres_detail: SORTED_AFTER_LOOKUP,
            postgres_once: true,
            ..case(
                // SQLite: the trigger-kept values (each candidate's document
                // is then tested for the exact JSON type).
                "conversations: by a custom info value",
                Some(cond(
                    Cv::info("Model").unwrap(),
                    Op::Eq,
                    vec![Value::Text("X9".into())],
                )),
                newest(),
                Page::First,
                &["conversation_info_values_lookup"],
                &["conversations_custom_info_by_tenant"],
            )
        },
    ]
}

/// `n` customers and conversations of `acme`, and four times as many of
/// `globex`, interleaved by id: the queries are `acme`'s, so an index that
/// does not start with the tenant reads mostly rows of no use.
async fn seed(store: &Store, n: usize) -> (TenantId, switchboard_domain::AttributeSet, i64, i64) {
    struct Setup {
        ctx: WriteContext,
        agents: Vec<switchboard_domain::AgentId>,
        dept: switchboard_domain::DepartmentId,
    }
    let mut tenants = Vec::new();
    for name in ["acme", "globex"] {
        let tenant = store.admin().create_tenant(name).await.unwrap();
        define_plan(store, tenant.id).await;
        let mut agents = Vec::new();
        for i in 0..20 {
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
        let ctx = WriteContext::new(tenant, Actor::System, "plans");
        tenants.push(std::sync::Arc::new(Setup { ctx, agents, dept }));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..5 * n {
        // Every fifth row is acme's.
        let (setup, i) = if n % 5 == 0 {
            (std::sync::Arc::clone(&tenants[0]), n / 5)
        } else {
            (std::sync::Arc::clone(&tenants[1]), n)
        };
        let store = store.clone();
        tasks.spawn(async move {
            let (ctx, agents) = (&setup.ctx, &setup.agents);
            let now = store.now();
            let mut c = Customer::new(ctx.tenant.id, now);
            c.email = Some(format!("c{i}@example.com"));
            c.user_id = Some(format!("u-{i}"));
            c.last_seen = (i % 3 > 0).then(|| Timestamp::from_millis(1_000 + i as i64));
            let plan = if i == 7 {
                "enterprise"
            } else {
                ["free", "pro", "team"][i % 3]
            };
            c.custom_data.insert("plan".into(), json!(plan));
            store.customers().create(ctx, c).await.unwrap();
            let mut v = Conversation::new(ctx.tenant.id, format!("s-{i}"), now);
            v.status = ConversationStatus::ALL[i % 5];
            v.assignee_id = (i % 4 > 0).then(|| agents[i % agents.len()]);
            v.department_id = (i % 2 == 0).then_some(setup.dept);
            v.visitor.email = Some(format!("v{i}@example.com"));
            v.custom_info
                .insert("Model".into(), json!(format!("X{}", i % 50)));
            store.conversations().create(ctx, v).await.unwrap();
        });
        if tasks.len() >= 64 {
            tasks.join_next().await.unwrap().unwrap();
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let acme = &tenants[0];
    let tenant = acme.ctx.tenant.id;
    let attrs = store.admin().attributes(tenant).await.unwrap();
    (tenant, attrs, acme.agents[1].get(), acme.dept.get())
}

/// Defines the tenant's custom attribute `plan` (text), which the
/// customer cases search by (and the statement-cache test too).
pub(crate) async fn define_plan(store: &Store, tenant: TenantId) {
    store
        .admin()
        .create_attribute(CustomAttribute::new(
            tenant,
            "plan",
            AttributeType::String,
            "Plan",
        ))
        .await
        .unwrap();
}

/// Whether a plan line reads a whole table (the queried one, or
/// customers, which a conversation's query may look up).
fn full_scan(line: &str, table: &str) -> bool {
    let l = line.trim_start_matches(|c: char| !c.is_ascii_alphabetic());
    [table, "customers"]
        .iter()
        .any(|table| l == format!("SCAN {table}") || l.contains(&format!("Seq Scan on {table}")))
}

async fn check<F: Target>(
    store: &Store,
    tenant: TenantId,
    cases: Vec<Case<F>>,
    strict: bool,
    doc: &mut String,
) {
    let pg = store.backend() == Backend::Postgres;
    // Each query as the dialects without totals run it, and with its
    // total (HelpCrunch): the total is read from an index too, as a sum
    // of the running counts where the filter allows.
    // A page's plan with its total must not sort where the page's own
    // plan does not (a join with the total once made SQLite sort every
    // match of a time range).
    // A statement PostgreSQL plans once is checked again in that plan,
    // made for no values (a generic plan).
    let mut sorts_alone = false;
    let runs = cases.iter().flat_map(|c| {
        let generic = pg && planned_once(&c.query);
        [(c, false, false), (c, true, false)].into_iter().chain(
            generic
                .then_some([(c, false, true), (c, true, true)])
                .into_iter()
                .flatten(),
        )
    });
    for (case, counted, generic) in runs {
        let q = case.query.clone();
        let plan = store
            .run(move |c| {
                if pg && strict {
                    c.batch_execute("SET enable_seqscan = off")?;
                }
                let plan = explain(c, tenant.get(), &q, counted, generic);
                if pg && strict {
                    c.batch_execute("RESET enable_seqscan")?;
                }
                plan
            })
            .await
            .unwrap();
        let label = store.backend().name();
        let text = plan.join("\n");
        assert!(
            !plan
                .iter()
                .any(|l| full_scan(l, F::TABLE) || full_scan(l, F::COUNTS.table())),
            "{label}: {} (counted: {counted}, generic: {generic}): a full scan:\n{text}",
            case.what
        );
        let sorts = plan.iter().any(|l| {
            let l = l.trim_start_matches(|c: char| !c.is_ascii_alphabetic());
            l.starts_with("USE TEMP B-TREE FOR ORDER BY")
                || l.starts_with("Sort")
                || l.starts_with("Incremental Sort")
        });
        if counted {
            assert!(
                sorts_alone || !sorts,
                "{label}: {}: sorts with its total, not without:\n{text}",
                case.what
            );
        } else {
            sorts_alone = sorts;
        }
        let wanted = if pg { case.postgres } else { case.sqlite };
        if strict {
            assert!(
                wanted.iter().any(|index| text.contains(index)),
                "{label}: {} (counted: {counted}, generic: {generic}): none of {wanted:?} in\n{text}",
                case.what
            );
            for index in case.every {
                assert!(
                    text.contains(index),
                    "{label}: {}: {index} not in\n{text}",
                    case.what
                );
            }
            if case.ordered {
                assert!(
                    !sorts,
                    "{label}: {} (counted: {counted}, generic: {generic}): sorts instead of reading in order:\n{text}",
                    case.what
                );
            }
            if let (true, Some(detail)) = (pg, case.postgres_detail) {
                assert!(
                    text.contains(detail),
                    "{label}: {} (counted: {counted}, generic: {generic}): no {detail} in\n{text}",
                    case.what
                );
            }
            if pg && case.postgres_once {
                let lookups = text.matches("Bitmap Index Scan").count();
                assert_eq!(
                    lookups, 1,
                    "{label}: {} (counted: {counted}, generic: {generic}): {lookups} lookups in\n{text}",
                    case.what
                );
            }
            if let (false, Some(detail)) = (pg, case.sqlite_detail) {
                assert!(
                    text.contains(detail),
                    "{label}: {}: no {detail} in\n{text}",
                    case.what
                );
            }
        }
        let with = if counted { ", with its total" } else { "" };
        let kept = if generic {
            " (planned once, for every value)"
        } else {
            ""
        };
        let _ = write!(doc, "\n### {}{with}{kept}\n\n```\n{text}\n```\n", case.what);
    }
}

/// A conversation page with its contacts joined in
/// (`page_counted_contacts`, what a chat page reads) finds its rows as the
/// page with its total does, with one key lookup of the customer per row:
/// no full scan, no sort where the page reads in order, its index, and
/// the customer by its key (SQLite's rowid, PostgreSQL's primary key); on
/// PostgreSQL in the plan it keeps too, when it keeps one. (PostgreSQL's
/// custom info lookups in id order are not joined: `joins_contacts`.)
async fn check_contacts(
    store: &Store,
    tenant: TenantId,
    cases: Vec<Case<Cv>>,
    strict: bool,
    doc: &mut String,
) {
    let pg = store.backend() == Backend::Postgres;
    let label = store.backend().name();
    let runs = cases.iter().flat_map(|c| {
        [(c, false)]
            .into_iter()
            .chain((pg && planned_once(&c.query)).then_some((c, true)))
    });
    for (case, generic) in runs {
        let q = case.query.clone();
        let plan = store
            .run(move |c| {
                if !joins_contacts(c, &q) {
                    return Ok(None);
                }
                if pg && strict {
                    c.batch_execute("SET enable_seqscan = off")?;
                }
                let plan = explain_contacts(c, tenant.get(), &q, generic);
                if pg && strict {
                    c.batch_execute("RESET enable_seqscan")?;
                }
                plan.map(Some)
            })
            .await
            .unwrap();
        let Some(plan) = plan else {
            assert!(pg, "{label}: {}: not joined", case.what);
            continue;
        };
        let text = plan.join("\n");
        assert!(
            !plan
                .iter()
                .any(|l| full_scan(l, "conversations") || full_scan(l, "conversation_counts")),
            "{label}: {}, contacts joined: a full scan:\n{text}",
            case.what
        );
        // PostgreSQL: by its primary key, or by `(tenant_id, id)`, and
        // below the join rather than above it: only the page's rows are
        // joined.
        let by_key = if pg {
            (text.contains("Index Scan using customers_pkey on customers t")
                || text.contains("Index Scan using customers_tenant_id on customers t"))
                && text.contains("id = conversations.customer_id)")
                && plan.first().is_some_and(|root| !root.starts_with("Limit"))
                && text.contains("->  Limit")
        } else {
            text.contains("SEARCH customers USING INTEGER PRIMARY KEY (rowid=?)")
        };
        assert!(
            by_key,
            "{label}: {}, contacts joined: the customer not looked up by its key:\n{text}",
            case.what
        );
        if strict {
            let wanted = if pg { case.postgres } else { case.sqlite };
            assert!(
                wanted.iter().any(|index| text.contains(index)),
                "{label}: {} (generic: {generic}), contacts joined: none of {wanted:?} in\n{text}",
                case.what,
            );
            if case.ordered {
                let sorts = plan.iter().any(|l| {
                    let l = l.trim_start_matches(|c: char| !c.is_ascii_alphabetic());
                    l.starts_with("USE TEMP B-TREE FOR ORDER BY")
                        || l.starts_with("Sort")
                        || l.starts_with("Incremental Sort")
                });
                assert!(
                    !sorts,
                    "{label}: {} (generic: {generic}), contacts joined: sorts instead of reading in order:\n{text}",
                    case.what
                );
            }
        }
        let kept = if generic {
            " (planned once, for every value)"
        } else {
            ""
        };
        let _ = write!(
            doc,
            "\n### {}, with its total and its contacts{kept}\n\n```\n{text}\n```\n",
            case.what
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn common_queries_are_served_by_an_index() {
    let out = std::env::var("SWITCHBOARD_QUERY_PLANS").ok();
    let rows = std::env::var("SWITCHBOARD_QUERY_PLANS_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let (rows, strict) = if out.is_some() {
        (rows, false)
    } else {
        (200, true)
    };
    let mut doc = String::new();
    for db in TestDb::all() {
        let store = Store::open(&db.url, StoreConfig::for_tests())
            .await
            .unwrap();
        let (tenant, attrs, agent, dept) = seed(&store, rows).await;
        // Plans by statistics on both backends, as after the bulk import
        // (`Maintenance::analyze`, which on SQLite keeps no samples of
        // values): SQLite plans some joins differently once it has them.
        if store.is_sqlite() {
            store.maintenance().analyze().await.unwrap();
        } else {
            store
                .run(|c| Ok::<_, crate::StorageError>(c.batch_execute("ANALYZE")?))
                .await
                .unwrap();
        }
        let _ = write!(doc, "\n## {}\n", store.backend().label());
        check(&store, tenant, customer_cases(&attrs), strict, &mut doc).await;
        check(
            &store,
            tenant,
            conversation_cases(agent, dept),
            strict,
            &mut doc,
        )
        .await;
        check_contacts(
            &store,
            tenant,
            conversation_cases(agent, dept),
            strict,
            &mut doc,
        )
        .await;
    }
    if let Some(path) = out {
        std::fs::write(path, doc).unwrap();
    }
}

/// The webhook worker takes new events through the outbox's index of
/// pending rows, which keeps an entry for every event processed since the
/// last vacuum. A take must not revisit those entries on every call: after
/// one take has passed them (and marked them dead), the next reads only
/// the live ones. (A bitmap scan, which the planner prefers here, would
/// read all 20,000 each time; see `sql::outbox::plain_index_scans`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taking_events_does_not_revisit_processed_ones() {
    use diesel::RunQueryDsl as _;
    use diesel::sql_types::BigInt;

    #[derive(diesel::QueryableByName)]
    struct Returned {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    // Skips (with a loud notice) only outside CI: `TestDb::postgres` panics
    // when CI is set and PostgreSQL is unavailable.
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let store = Store::open(&db.url, StoreConfig::for_tests())
        .await
        .unwrap();
    let tenant = store.admin().create_tenant("plans").await.unwrap().id.get();
    // 20,000 events processed (no vacuum may clean up behind them), then
    // three new ones, for a subscription.
    store
        .run(move |c| {
            let pending = |n: i64| {
                format!(
                    "INSERT INTO outbox (tenant_id, event_type, entity_kind, entity_id, payload, \
                     diff, created_at, available_at) SELECT {tenant}, 'conversation_updated', \
                     'conversation', g, jsonb_build_object('pad', repeat('x', 600)), '[]', 0, 0 \
                     FROM generate_series(1, {n}) g;"
                )
            };
            // Each in a transaction of its own, as the writes and the takes
            // of a running server are.
            for sql in [
                "ALTER TABLE outbox SET (autovacuum_enabled = off)".to_owned(),
                // A subscriber, as a pending event of a running server has
                // (its writes mark an event nobody subscribed to done when
                // inserting it: `sql::record`).
                format!(
                    "INSERT INTO webhook_subscriptions (tenant_id, target_url, event, secret, \
                     state, created_at) VALUES ({tenant}, 'https://example.com/h', \
                     'conversation_updated', 'x', 'active', 0)"
                ),
                pending(20_000),
                "UPDATE outbox SET processed_at = 1 WHERE processed_at IS NULL".to_owned(),
                pending(3),
            ] {
                c.batch_execute(&sql)?;
            }
            Ok::<_, crate::StorageError>(())
        })
        .await
        .unwrap();
    // How many entries of the pending index a take of up to `limit` reads.
    let index_entries_read = |limit: i64| {
        store.write(move |c| {
            c.write_tx(|c| -> crate::sql::R<(usize, i64)> {
                let crate::connection::DbConnection::Pg(pg) = c else {
                    unreachable!("a PostgreSQL test");
                };
                // The backend's counts, which it flushes only now and then.
                let count = diesel::sql_query(
                    "SELECT pg_stat_get_xact_tuples_returned('outbox_pending'::regclass) AS n",
                );
                let before = count.clone().get_result::<Returned>(pg)?.n;
                let taken = crate::sql::outbox::take_due(c, "w", 10, limit)?.len();
                let crate::connection::DbConnection::Pg(pg) = c else {
                    unreachable!("a PostgreSQL test");
                };
                let read = count.get_result::<Returned>(pg)?.n - before;
                Ok((taken, read))
            })
        })
    };
    let (taken, first) = index_entries_read(1).await.unwrap();
    assert_eq!(taken, 1);
    assert!(
        first > 20_000,
        "the first take passes the processed events: {first}"
    );
    let (taken, read) = index_entries_read(100).await.unwrap();
    assert_eq!(taken, 2, "the two events still pending");
    assert!(
        read < 100,
        "the second take read {read} index entries: it revisited the processed events"
    );
}
