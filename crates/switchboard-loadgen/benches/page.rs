//! A page of the query benchmark's searches through the storage crate
//! alone, against a point read in the same run: what a page costs the
//! store, without HTTP, the dialect or other connections in the way.
//!
//! The dataset is the query benchmark's (`switchboard-loadgen query`,
//! [`switchboard_loadgen::query::seed`]), imported once per backend:
//! `PAGE_BENCH_ROWS` customers and as many conversations (default
//! 100,000; 2,000 under `cargo test --benches`), linked round-robin to 50
//! agents and 5 departments.
//!
//! * `<backend>/point_get`: one customer by id (`Customers::get`), a
//!   different one each time.
//! * `<backend>/chat_page`: the chats of one status and one agent, 20 in
//!   id order, with their total and each chat's contact, agent and
//!   department (`Conversations::query_counted` with `LinkSet::CONTACT`):
//!   what `POST /v1/chats/search` asks the store for. The pair changes each
//!   time, cycling through 50 that each hold rows.
//!
//! Afterwards it prints each backend's mean times and the page's ratio to
//! the point read. Run with `cargo bench -p switchboard-loadgen --bench
//! page`; `PAGE_BENCH_BACKENDS=sqlite` (or `postgres`) runs one backend.
//! PostgreSQL is the throwaway cluster the tests use (or `DATABASE_URL`),
//! skipped, loudly, when unavailable.
#![expect(
    clippy::unwrap_used,
    reason = "a benchmark whose setup fails should stop loudly"
)]

use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use switchboard_domain::query::{
    Condition, ConversationField, Filter, Op, Page, Query, Sort, Value,
};
use switchboard_domain::{CustomerId, TenantId};
use switchboard_loadgen::dataset::{TENANT, open_for_seeding};
use switchboard_loadgen::query::{AGENTS, STATUSES, seed};
use switchboard_storage::{LinkSet, Store};
use switchboard_testsupport::tempfile;

/// A seeded store and what the operations pick from.
struct Fixture {
    store: Store,
    tenant: TenantId,
    customers: Vec<i64>,
    /// One query per (status, agent) pair that holds rows.
    pages: Vec<Query<ConversationField>>,
}

fn fixture(rt: &tokio::runtime::Runtime, url: &str, rows: usize) -> Fixture {
    rt.block_on(async {
        let (data, _, _) = seed(url, rows, rows).await.unwrap();
        let store = open_for_seeding(url, 8).await.unwrap();
        let tenant = store.admin().tenant_by_name(TENANT).await.unwrap().unwrap();
        // Conversation `i` has status `i % 4` and agent `i % 50`: a pair
        // holds rows when both indexes have the same parity.
        let pages = (0..AGENTS)
            .map(|a| {
                let status = STATUSES[a % STATUSES.len()];
                let agent = data.agents[a];
                let filter = Filter::all(vec![
                    Condition::new(
                        ConversationField::Status,
                        Op::Eq,
                        vec![Value::Status(status)],
                    )
                    .unwrap()
                    .into(),
                    Condition::new(ConversationField::Assignee, Op::Eq, vec![Value::Int(agent)])
                        .unwrap()
                        .into(),
                ]);
                Query::new(Some(filter), Sort::by_id(false), Page::First, 20).unwrap()
            })
            .collect();
        Fixture {
            store,
            tenant: tenant.id,
            customers: data.customers,
            pages,
        }
    })
}

fn point_get(rt: &tokio::runtime::Runtime, f: &Fixture, i: usize) {
    let id = CustomerId::new(f.customers[i % f.customers.len()]);
    rt.block_on(f.store.customers().get(f.tenant, id)).unwrap();
}

/// One page; panics unless it is full and its rows carry their links.
fn chat_page(rt: &tokio::runtime::Runtime, f: &Fixture, i: usize) {
    let q = &f.pages[i % f.pages.len()];
    let (page, links) = rt
        .block_on(
            f.store
                .conversations()
                .query_counted(f.tenant, q, LinkSet::CONTACT),
        )
        .unwrap();
    assert_eq!(page.page.items.len(), 20, "a full page");
    assert!(page.total >= 20, "a total of at least the page");
    assert!(
        links.iter().all(|l| l
            .customer
            .as_ref()
            .is_some_and(|c| c.name.is_some() && c.email.is_some())
            && l.department.is_some()
            && !l.agents.is_empty()),
        "every chat with its contact (named, with an email), agent and department"
    );
}

/// Registers a benchmark and returns its mean time per operation over every
/// iteration criterion ran (warm-up included); `None` when it ran none (a
/// filter on the command line left it out).
fn measure(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: &str,
    mut op: impl FnMut(usize),
) -> Option<Duration> {
    let (mut iterations, mut total) = (0usize, Duration::ZERO);
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                op(iterations);
                iterations += 1;
            }
            let elapsed = start.elapsed();
            total += elapsed;
            elapsed
        });
    });
    let iterations = u32::try_from(iterations).unwrap_or(u32::MAX);
    (iterations > 0).then(|| total / iterations)
}

fn bench_backend(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &'static str,
    url: &str,
    rows: usize,
) -> (&'static str, Option<Duration>, Option<Duration>) {
    let started = Instant::now();
    let f = fixture(rt, url, rows);
    println!(
        "{name}: {rows} customers and conversations imported in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    chat_page(rt, &f, 0);
    let mut group = c.benchmark_group(name);
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let get = measure(&mut group, "point_get", |i| point_get(rt, &f, i));
    let page = measure(&mut group, "chat_page", |i| chat_page(rt, &f, i));
    group.finish();
    (name, get, page)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut criterion = Criterion::default().configure_from_args();
    // `cargo test --benches` runs each routine once, on a small dataset.
    let measuring = std::env::args().any(|arg| arg == "--bench");
    let rows = std::env::var("PAGE_BENCH_ROWS")
        .ok()
        .map_or(if measuring { 100_000 } else { 2_000 }, |v| {
            v.parse().unwrap()
        });
    let selected = std::env::var("PAGE_BENCH_BACKENDS").unwrap_or_default();
    let wanted =
        |backend: &str| selected.is_empty() || selected.split(',').any(|b| b.trim() == backend);

    let mut results = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    if wanted("sqlite") {
        let url = format!("sqlite://{}", dir.path().join("page.db").display());
        results.push(bench_backend(&mut criterion, &rt, "sqlite", &url, rows));
    }
    if wanted("postgres")
        && let Some(server) = switchboard_testsupport::postgres_or_skip()
    {
        let db = server.create_database().unwrap();
        results.push(bench_backend(
            &mut criterion,
            &rt,
            "postgres",
            db.url(),
            rows,
        ));
    }
    criterion.final_summary();

    if !measuring {
        return;
    }
    println!("\nbackend    point_get     chat_page     page / get");
    let micros = |d: Option<Duration>| {
        d.map_or_else(
            || "—".to_string(),
            |d| format!("{:.1} µs", d.as_secs_f64() * 1e6),
        )
    };
    for (name, get, page) in results {
        let ratio = match (get, page) {
            (Some(get), Some(page)) => format!("{:.2}×", page.as_secs_f64() / get.as_secs_f64()),
            _ => "—".to_string(),
        };
        println!(
            "{name:<10} {:>11}  {:>11}  {ratio:>8}",
            micros(get),
            micros(page)
        );
    }
}
