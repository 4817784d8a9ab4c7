//! `Store::modify_conversation` against its raw ceiling, on both backends,
//! with each durability setting that matters.
//!
//! * `<group>/modify_conversation`: one field changed on a random row of
//!   1,000 conversations, so every call writes the row, one outbox event and
//!   one history row in one transaction.
//! * `<group>/raw_ceiling`: the same-shaped transaction on a bare Diesel
//!   connection (`switchboard_testsupport::ceiling`): one single-row
//!   `UPDATE conversations` and one `INSERT INTO outbox` with precomputed
//!   JSON, through `diesel::sql_query` (SQLite: WAL, `BEGIN IMMEDIATE`;
//!   PostgreSQL: `BEGIN`/`UPDATE`/`INSERT`/`COMMIT`).
//! * `<group>/raw_ceiling_prepared`: the same, with both statements prepared
//!   once and cached (`sql_query` parses them again on every call): the
//!   strict floor for four statements.
//!
//! Groups: `sqlite` (`synchronous = FULL`, the store's default) and
//! `sqlite_normal` (`synchronous = NORMAL`), each measured with the store
//! and the ceiling on that setting; `postgres`, a throwaway cluster with
//! durable commits (`fsync`, `synchronous_commit`, `full_page_writes` on,
//! PostgreSQL's defaults); and `postgres_nofsync`, the test suite's cluster
//! with those three off, where round trips and CPU dominate. With
//! `DATABASE_URL` set, both PostgreSQL groups use that server as it is
//! configured (the settings are printed).
//!
//! Before measuring, the statements one `modify_conversation` sends are
//! counted and listed (via Diesel's instrumentation); afterwards a summary
//! prints each group's ratio and what `NORMAL` saves over `FULL`.
//! PostgreSQL is skipped, loudly, when unavailable.
//!
//! Run with `cargo bench -p switchboard-storage --bench modify`. To run
//! some groups only (and skip building the others' fixtures), name them in
//! `MODIFY_BENCH_GROUPS`, e.g. `MODIFY_BENCH_GROUPS=sqlite,postgres`.
#![expect(
    clippy::unwrap_used,
    reason = "a benchmark whose setup fails should stop loudly"
)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use diesel::connection::{Instrumentation, InstrumentationEvent};
use switchboard_domain::{Actor, Conversation, ConversationId};
use switchboard_storage::{
    Precondition, SecretKeySource, SqliteSync, Store, StoreConfig, WriteContext, now,
};
use switchboard_testsupport::ceiling::{Bare, CeilingWrite, Synchronous};
use switchboard_testsupport::{SECRET_KEYS, tempfile};

const ROWS: usize = 1000;

// ---- statement counting ---------------------------------------------------

static STATEMENTS: AtomicUsize = AtomicUsize::new(0);
static RECORDING: AtomicBool = AtomicBool::new(false);
static RECORDED: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn counting() -> Option<Box<dyn Instrumentation>> {
    Some(Box::new(|event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            STATEMENTS.fetch_add(1, Ordering::Relaxed);
            if RECORDING.load(Ordering::Relaxed) {
                let sql: String = query.to_string().chars().take(110).collect();
                RECORDED.lock().unwrap().push(sql);
            }
        }
    }))
}

/// Runs `f`, then prints how many statements it sent and which.
fn profile(label: &str, f: impl FnOnce()) {
    RECORDED.lock().unwrap().clear();
    let before = STATEMENTS.load(Ordering::SeqCst);
    RECORDING.store(true, Ordering::SeqCst);
    f();
    RECORDING.store(false, Ordering::SeqCst);
    let count = STATEMENTS.load(Ordering::SeqCst) - before;
    println!("{label}: {count} statements");
    for sql in RECORDED.lock().unwrap().iter() {
        println!("    {sql}");
    }
}

// ---- fixtures ---------------------------------------------------------------

/// A store with one tenant and `ROWS` conversations, and the rows' documents.
struct Fixture {
    store: Store,
    ctx: WriteContext,
    ids: Vec<ConversationId>,
    docs: Vec<String>,
}

fn fixture(rt: &tokio::runtime::Runtime, url: &str, sync: SqliteSync) -> Fixture {
    rt.block_on(async {
        let config = StoreConfig {
            sqlite_synchronous: sync,
            ..bench_config()
        };
        let store = Store::open(url, config).await.unwrap();
        let tenant = store.admin().create_tenant("bench").await.unwrap();
        let ctx = WriteContext::new(tenant, Actor::System, "bench");
        let mut ids = Vec::with_capacity(ROWS);
        let mut docs = Vec::with_capacity(ROWS);
        for i in 0..ROWS {
            let mut draft = Conversation::new(ctx.tenant.id, format!("session-{i}"), now());
            draft.visitor.name = Some(format!("Visitor {i}"));
            draft.visitor.email = Some(format!("visitor{i}@example.com"));
            draft.first_message = Some("Hello, I have a question about my order.".into());
            draft.custom_info.insert(
                "plan".into(),
                serde_json::json!({"tier": i % 3, "seats": 10}),
            );
            let conv = store.conversations().create(&ctx, draft).await.unwrap();
            docs.push(serde_json::to_string(&conv).unwrap());
            ids.push(conv.id);
        }
        Fixture {
            store,
            ctx,
            ids,
            docs,
        }
    })
}

/// A small xorshift generator: random rows without another dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % n as u64).unwrap()
    }
}

/// The outbox payload and diff the store would write for a one-field change.
fn event_json(doc: &str) -> (String, String) {
    let payload = format!(
        r#"{{"event":"conversation_updated","company_username":"bench","conversation":{doc},"changed_fields":["rank"]}}"#
    );
    (
        payload,
        r#"[{"op":"replace","path":"/rank","value":1}]"#.to_string(),
    )
}

// ---- the operations -----------------------------------------------------------

fn modify(rt: &tokio::runtime::Runtime, f: &Fixture, rng: &mut Rng) {
    let id = f.ids[rng.below(ROWS)];
    rt.block_on(
        f.store
            .conversations()
            .update(&f.ctx, id, Precondition::NONE, |c| {
                c.rank += 1;
            }),
    )
    .unwrap();
}

/// One ceiling transaction on a random row (see
/// [`switchboard_testsupport::ceiling`]); with `prepared`, its statements
/// are prepared once and cached instead of parsed each time.
fn write(raw: &mut Bare, f: &Fixture, rng: &mut Rng, prepared: bool) {
    let i = rng.below(ROWS);
    let (payload, diff) = event_json(&f.docs[i]);
    let w = CeilingWrite {
        tenant: f.ctx.tenant.id.get(),
        id: f.ids[i].get(),
        doc: &f.docs[i],
        payload: &payload,
        diff: &diff,
        at_ms: now().as_millis(),
    };
    raw.write(&w, prepared).unwrap();
}

/// A bare connection; on SQLite with the store's pragmas and `sync`.
fn open_raw(url: &str, sync: SqliteSync) -> Bare {
    let sync = match sync {
        SqliteSync::Full => Synchronous::Full,
        SqliteSync::Normal => Synchronous::Normal,
    };
    Bare::open(url, sync).unwrap()
}

// ---- measurement ----------------------------------------------------------------

/// Registers a benchmark and returns its mean time per operation over every
/// iteration criterion ran (warm-up included).
fn measure(group: &mut BenchmarkGroup<'_, WallTime>, id: &str, mut op: impl FnMut()) -> Duration {
    let (mut iterations, mut total) = (0u32, Duration::ZERO);
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                op();
            }
            let elapsed = start.elapsed();
            iterations = iterations.saturating_add(u32::try_from(iters).unwrap_or(u32::MAX));
            total += elapsed;
            elapsed
        });
    });
    total / iterations.max(1)
}

struct Row {
    group: &'static str,
    settings: String,
    ours: Duration,
    ceiling: Duration,
    prepared: Duration,
}

fn bench_group(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    group_name: &'static str,
    url: &str,
    sync: SqliteSync,
) -> Row {
    let fixture = fixture(rt, url, sync);
    let mut raw = open_raw(url, sync);
    let settings = raw.durability().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    modify(rt, &fixture, &mut rng);
    println!("{group_name}: {settings}");
    profile(&format!("{group_name}: one modify_conversation"), || {
        modify(rt, &fixture, &mut rng)
    });
    profile(
        &format!("{group_name}: one raw ceiling transaction"),
        || write(&mut raw, &fixture, &mut rng, false),
    );

    let mut group = c.benchmark_group(group_name);
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    let ours = measure(&mut group, "modify_conversation", || {
        modify(rt, &fixture, &mut rng)
    });
    let ceiling = measure(&mut group, "raw_ceiling", || {
        write(&mut raw, &fixture, &mut rng, false)
    });
    let prepared = measure(&mut group, "raw_ceiling_prepared", || {
        write(&mut raw, &fixture, &mut rng, true)
    });
    group.finish();
    Row {
        group: group_name,
        settings,
        ours,
        ceiling,
        prepared,
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    diesel::connection::set_default_instrumentation(counting).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let mut criterion = Criterion::default().configure_from_args();
    let mut rows = Vec::new();

    let selected = std::env::var("MODIFY_BENCH_GROUPS").unwrap_or_default();
    let wanted =
        |group: &str| selected.is_empty() || selected.split(',').any(|g| g.trim() == group);

    let dir = tempfile::tempdir().unwrap();
    for (group, file, sync) in [
        ("sqlite", "full.db", SqliteSync::Full),
        ("sqlite_normal", "normal.db", SqliteSync::Normal),
    ] {
        if wanted(group) {
            let url = format!("sqlite://{}", dir.path().join(file).display());
            rows.push(bench_group(&mut criterion, &rt, group, &url, sync));
        }
    }

    // Only PostgreSQL's own settings differ between these two groups.
    if wanted("postgres")
        && let Some(durable) = switchboard_testsupport::PgServer::start_durable().unwrap()
    {
        let db = durable.create_database().unwrap();
        rows.push(bench_group(
            &mut criterion,
            &rt,
            "postgres",
            db.url(),
            SqliteSync::Full,
        ));
    }
    if wanted("postgres_nofsync")
        && let Some(server) = switchboard_testsupport::postgres_or_skip()
    {
        let db = server.create_database().unwrap();
        rows.push(bench_group(
            &mut criterion,
            &rt,
            "postgres_nofsync",
            db.url(),
            SqliteSync::Full,
        ));
    }
    criterion.final_summary();

    // `cargo test --benches` runs each routine once: no summary then.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let per_second = |d: Duration| 1.0 / d.as_secs_f64().max(f64::MIN_POSITIVE);
    let ratio = |ceiling: Duration, ours: Duration| {
        100.0 * ceiling.as_secs_f64() / ours.as_secs_f64().max(f64::MIN_POSITIVE)
    };
    println!(
        "\ngroup              modify_conversation          raw ceiling                  ours/ceiling  \
         prepared ceiling   ours/prepared  settings"
    );
    for row in &rows {
        println!(
            "{:<18} {:>9.1} µs {:>9.0} ops/s   {:>9.1} µs {:>9.0} ops/s   {:>5.1} %       \
             {:>9.1} µs       {:>5.1} %        {}",
            row.group,
            micros(row.ours),
            per_second(row.ours),
            micros(row.ceiling),
            per_second(row.ceiling),
            ratio(row.ceiling, row.ours),
            micros(row.prepared),
            ratio(row.prepared, row.ours),
            row.settings,
        );
    }
    let find = |group: &str| rows.iter().find(|r| r.group == group);
    if let (Some(full), Some(normal)) = (find("sqlite"), find("sqlite_normal")) {
        println!("\nSQLite synchronous  modify_conversation   raw ceiling   prepared ceiling");
        for (name, row) in [("FULL", full), ("NORMAL", normal)] {
            println!(
                "{name:<19} {:>9.1} µs {:>9.1} µs {:>9.1} µs",
                micros(row.ours),
                micros(row.ceiling),
                micros(row.prepared)
            );
        }
        println!(
            "FULL costs          {:>+9.1} µs {:>+9.1} µs {:>+9.1} µs per commit",
            micros(full.ours) - micros(normal.ours),
            micros(full.ceiling) - micros(normal.ceiling),
            micros(full.prepared) - micros(normal.prepared),
        );
    }
}

/// The default store settings with the fixed test key (PostgreSQL has no
/// default key; these are throwaway databases).
fn bench_config() -> StoreConfig {
    StoreConfig {
        secret_keys: SecretKeySource::keys(SECRET_KEYS).unwrap_or_else(|e| panic!("{e}")),
        ..StoreConfig::default()
    }
}
