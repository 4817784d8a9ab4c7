//! The whole benchmark: for each backend, a fresh database with the
//! dataset; then, round after round and for each concurrency, the ceiling
//! first (server stopped) and then every scenario against a freshly started
//! server. Every run is recorded with the machine's state.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use hyper::{Method, StatusCode};
use switchboard_testsupport::PgServer;
use switchboard_testsupport::receiver::Receiver;

use crate::ceiling::{self, Target};
use crate::dataset::{self, Dataset, Size};
use crate::load::{self, Plan, call_once, drive};
use crate::model::{
    Backend, CacheUse, Delivery, Latency, Measurement, Report, Run, Scenario, Startup, Subject,
    histogram,
};
use crate::scenario::{self, workload};
use crate::server::{self, Launch};
use crate::system::{CpuSubjects, CpuWatch, CpuWindow, Participants, machine, peak_rss_kib};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `switchboard` binary.
    pub server_binary: PathBuf,
    /// Extra environment for the server (after the benchmark's own).
    pub server_env: Vec<(String, String)>,
    /// Backends, in order.
    pub backends: Vec<Backend>,
    /// Scenarios, in order.
    pub scenarios: Vec<Scenario>,
    /// Connection counts.
    pub concurrency: Vec<u32>,
    /// Rounds of every configuration.
    pub rounds: u32,
    /// Not measured, before each run.
    pub warmup: Duration,
    /// Measured, per run.
    pub duration: Duration,
    /// The dataset.
    pub size: Size,
    /// pgbench threads (`-j`).
    pub pgbench_threads: u32,
    /// Databases, logs and pgbench logs go here.
    pub work_dir: PathBuf,
    /// How long scenario 3 waits for outstanding webhooks after a run.
    pub drain_timeout: Duration,
    /// Whether each fresh PostgreSQL server is primed before each scenario
    /// that writes (every row it writes, written once through the server:
    /// [`crate::scenario::priming`]); off (the default) measures what a
    /// freshly started server does.
    pub prime: bool,
    /// WAL segments the benchmark's own PostgreSQL cluster gets ready for
    /// reuse before the first round ([`ceiling::ready_wal`]), so that the
    /// runs see a cluster past its first checkpoint instead of one that
    /// creates a new segment file (zero-filled, every commit waiting) every
    /// 16 MB; 0 measures a brand-new cluster. Not done to a cluster given by
    /// `DATABASE_URL`.
    pub ready_wal_segments: u32,
    /// The command line, for the report.
    pub command: String,
}

/// SQLite's durability in the server (its default) and in the ceiling.
const SQLITE_SYNCHRONOUS: &str = "full";

/// One backend's database, kept alive for the backend's runs.
pub(crate) struct Database {
    pub(crate) url: String,
    /// The cluster and database handles (dropped = deleted).
    _pg: Option<(PgServer, switchboard_testsupport::TestDatabase)>,
    pgbench: Option<PathBuf>,
}

impl Database {
    /// The benchmark's own PostgreSQL cluster's postmaster, for its CPU time.
    pub(crate) fn postmaster(&self) -> Option<u32> {
        self.server().and_then(PgServer::postmaster_pid)
    }

    /// The PostgreSQL server; `None` for SQLite.
    fn server(&self) -> Option<&PgServer> {
        self._pg.as_ref().map(|(server, _)| server)
    }

    /// Bytes an unprivileged writer may still use on the file system of
    /// the benchmark's own cluster; `None` for SQLite or `DATABASE_URL`.
    fn cluster_free_bytes(&self) -> Option<u64> {
        let stat = rustix::fs::statvfs(self.server()?.cluster_dir()?).ok()?;
        Some(stat.f_bavail.saturating_mul(stat.f_frsize))
    }

    /// `error` with the last lines of the benchmark's own cluster's log,
    /// which say why a connection was closed under it (a full disk, a
    /// crash); `error` itself for SQLite or `DATABASE_URL`.
    fn with_server_log(&self, error: anyhow::Error) -> anyhow::Error {
        let Some(path) = self.server().and_then(PgServer::log_file) else {
            return error;
        };
        let Ok(log) = std::fs::read_to_string(&path) else {
            return error;
        };
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(SERVER_LOG_TAIL)..].join("\n");
        error.context(format!(
            "the last lines of the cluster's log ({}):\n{tail}\n(end of the log) and the error",
            path.display()
        ))
    }
}

/// Lines of the cluster's log quoted in an error.
const SERVER_LOG_TAIL: usize = 20;

/// Bytes of one WAL segment (`initdb`'s default `--wal-segsize`, which
/// the benchmark's own cluster keeps).
const WAL_SEGMENT_BYTES: u64 = 16 << 20;

/// Space readying WAL segments leaves free on the cluster's file system,
/// for the dataset, the runs' own WAL before they reach the readied
/// segments, and the server logs.
const WAL_RESERVE_BYTES: u64 = 512 << 20;

/// How many of `asked` WAL segments fit in `free` bytes with
/// [`WAL_RESERVE_BYTES`] left over.
fn wal_segments_that_fit(asked: u32, free: u64) -> u32 {
    let spare = free.saturating_sub(WAL_RESERVE_BYTES) / WAL_SEGMENT_BYTES;
    u32::try_from(spare).map_or(asked, |spare| asked.min(spare))
}

/// Readies up to `asked` WAL segments in the benchmark's own cluster (as
/// many as fit on its file system, see [`wal_segments_that_fit`]: a full
/// disk under `pg_wal` stops the server) and says what was done, for the
/// report's durability line.
fn ready_wal(db: &Database, asked: u32) -> anyhow::Result<String> {
    let free = db.cluster_free_bytes();
    let segments = free.map_or(asked, |free| wal_segments_that_fit(asked, free));
    let limit = match free {
        Some(free) if segments < asked => format!(
            " ({asked} asked for; {} MiB free on the cluster's file system, \
             {} MiB kept free)",
            free >> 20,
            WAL_RESERVE_BYTES >> 20
        ),
        _ => String::new(),
    };
    if segments == 0 {
        return Ok(format!("no WAL segments readied{limit}"));
    }
    let started = Instant::now();
    let ready = ceiling::ready_wal(&db.url, segments)?.unwrap_or(0);
    eprintln!(
        "[postgres] {segments} WAL segments written and checkpointed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(format!(
        "{ready} WAL segments ready for reuse before the first round{limit}"
    ))
}

pub(crate) fn prepare_database(backend: Backend, work_dir: &Path) -> anyhow::Result<Database> {
    match backend {
        Backend::Sqlite => {
            let path = work_dir.join("sqlite").join("bench.db");
            std::fs::create_dir_all(path.parent().unwrap_or(work_dir))?;
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
            Ok(Database {
                url: format!("sqlite://{}", path.display()),
                _pg: None,
                pgbench: None,
            })
        }
        Backend::Postgres => {
            let server = PgServer::start_durable()
                .map_err(|e| anyhow!("cannot start PostgreSQL: {e}"))?
                .ok_or_else(|| {
                    anyhow!("no PostgreSQL: set DATABASE_URL or install the server binaries")
                })?;
            let db = server
                .create_database()
                .map_err(|e| anyhow!("cannot create the database: {e}"))?;
            let pgbench = server
                .bin_dir()
                .map(|d| d.join("pgbench"))
                .or_else(|| switchboard_testsupport::bin_dir().map(|d| d.join("pgbench")))
                .unwrap_or_else(|| PathBuf::from("pgbench"));
            Ok(Database {
                url: db.url().to_string(),
                _pg: Some((server, db)),
                pgbench: Some(pgbench),
            })
        }
    }
}

/// Runs everything in `options` and returns the report. Progress goes to
/// stderr, one line per run.
///
/// # Errors
///
/// When a database, the server or pgbench cannot be started; errors of
/// requests are counted, not raised.
pub async fn run(options: &Options) -> anyhow::Result<Report> {
    std::fs::create_dir_all(&options.work_dir)?;
    let mut report = Report {
        machine: machine(),
        command: options.command.clone(),
        started_at: jiff::Timestamp::now()
            .round(jiff::Unit::Second)?
            .to_string(),
        duration_s: options.duration.as_secs_f64(),
        durability: Vec::new(),
        ceilings: Vec::new(),
        startups: Vec::new(),
        runs: Vec::new(),
        primed: options.prime && options.backends.contains(&Backend::Postgres),
    };
    for &backend in &options.backends {
        run_backend(options, backend, &mut report)
            .await
            .with_context(|| format!("{} benchmark failed", backend.label()))?;
    }
    Ok(report)
}

async fn run_backend(
    options: &Options,
    backend: Backend,
    report: &mut Report,
) -> anyhow::Result<()> {
    let db = prepare_database(backend, &options.work_dir)?;
    run_on(options, backend, &db, report)
        .await
        .map_err(|e| db.with_server_log(e))
}

/// Everything of one backend on its database `db`: the dataset, then
/// every round.
async fn run_on(
    options: &Options,
    backend: Backend,
    db: &Database,
    report: &mut Report,
) -> anyhow::Result<()> {
    eprintln!(
        "[{backend}] seeding {} customers and {} conversations…",
        options.size.customers, options.size.conversations
    );
    let data = dataset::seed(&db.url, options.size).await?;
    // The seed's events are history, not a backlog for the server under test.
    let settled = ceiling::settle_outbox(&db.url)?;
    eprintln!(
        "[{backend}] seeded in {:.1} s ({settled} seed events marked delivered)",
        data.seed_seconds
    );
    let target = Target::load(&db.url, data.tenant_id, dataset::TENANT)
        .map_err(|e| anyhow!("cannot read the rows for the ceiling: {e}"))?;
    let mut durability = ceiling::durability(&db.url, SQLITE_SYNCHRONOUS)?;
    if db.postmaster().is_some() && options.ready_wal_segments > 0 {
        let readied =
            ready_wal(db, options.ready_wal_segments).context("readying the cluster's WAL")?;
        eprintln!("[{backend}] {readied}");
        durability.push_str(&format!("; {readied}"));
    }
    report.durability.push((backend, durability));
    report
        .ceilings
        .push((backend, ceiling::describe(backend, options.pgbench_threads)));

    let mut env = Launch::bench_env();
    env.push((
        "SWITCHBOARD_DATABASE_SQLITE_SYNCHRONOUS".into(),
        SQLITE_SYNCHRONOUS.into(),
    ));
    env.extend(options.server_env.iter().cloned());
    let launch = Launch {
        binary: options.server_binary.clone(),
        database_url: db.url.clone(),
        log: options.work_dir.join(format!("server-{backend}.log")),
        env,
    };
    let receiver = Receiver::start().await;
    let plan_of = |c| Plan::new(c, options.warmup, options.duration);

    for round in 1..=options.rounds {
        for &concurrency in &options.concurrency {
            // The ceiling, with the server stopped.
            let watch = CpuWatch::start(Participants::with([]));
            let cpu = CpuWindow::after(
                options.warmup,
                CpuSubjects {
                    server: None,
                    postmaster: db.postmaster(),
                },
            );
            let measurement = match backend {
                Backend::Sqlite => {
                    let (url, target, w, d) = (
                        db.url.clone(),
                        target.clone(),
                        options.warmup,
                        options.duration,
                    );
                    tokio::task::spawn_blocking(move || {
                        ceiling::sqlite(&url, SQLITE_SYNCHRONOUS, &target, w, d)
                    })
                    .await??
                }
                Backend::Postgres => {
                    let bin = db
                        .pgbench
                        .clone()
                        .unwrap_or_else(|| PathBuf::from("pgbench"));
                    let (url, target, w, d) = (
                        db.url.clone(),
                        target.clone(),
                        options.warmup,
                        options.duration,
                    );
                    let (threads, dir) = (
                        options.pgbench_threads.min(concurrency),
                        options.work_dir.join("pgbench"),
                    );
                    tokio::task::spawn_blocking(move || {
                        std::fs::create_dir_all(&dir)?;
                        ceiling::pgbench(&bin, &url, &target, concurrency, threads, w, d, &dir)
                    })
                    .await??
                }
            };
            let contention = watch.finish();
            let cpu = cpu.finish();
            // The ceiling's outbox rows are synthetic: no backlog for the server.
            ceiling::settle_outbox(&db.url)?;
            let run = Run {
                backend,
                subject: Subject::Ceiling,
                concurrency,
                round,
                measurement,
                contention,
                delivery: None,
                peak_rss_kib: None,
                cpu: Some(cpu),
                cache: None,
            };
            progress(&run);
            report.runs.push(run);

            // Ours, on a fresh server process.
            let server = server::start(&launch).await?;
            report.startups.push(Startup {
                backend,
                ready_ms: server.ready.as_secs_f64() * 1000.0,
            });
            for &scenario in &options.scenarios {
                if options.prime && backend == Backend::Postgres {
                    prime(server.addr, &data, scenario, concurrency).await?;
                }
                let endpoint = Endpoint {
                    backend,
                    addr: server.addr,
                    pid: Some(server.pid),
                    postmaster: db.postmaster(),
                };
                let run = run_scenario(
                    endpoint,
                    &data,
                    &receiver,
                    scenario,
                    &plan_of(concurrency),
                    round,
                    options.drain_timeout,
                )
                .await
                .with_context(|| format!("{scenario} at {concurrency} connections"))?;
                progress(&run);
                report.runs.push(run);
            }
            server.stop().await?;
        }
    }
    Ok(())
}

/// Brings the server to the state of a node that has served `scenario`'s
/// rows before: each row the scenario writes, written once through it
/// ([`scenario::priming`]), so that its document cache holds them. Only on
/// PostgreSQL, the one backend with the cache. Not measured.
async fn prime(
    addr: SocketAddr,
    data: &Dataset,
    scenario: Scenario,
    concurrency: u32,
) -> anyhow::Result<()> {
    let calls = scenario::priming(scenario, data);
    if calls.is_empty() {
        return Ok(());
    }
    let (count, started) = (calls.len(), Instant::now());
    load::sweep(addr, &data.authorization, calls, concurrency)
        .await
        .with_context(|| format!("priming the server for {scenario}"))?;
    eprintln!(
        "[postgres] primed for {scenario}: {count} documents written once in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A server under test.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    /// Its database.
    pub backend: Backend,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its process, for its memory and CPU (`None` when it runs inside this
    /// process).
    pub pid: Option<u32>,
    /// Its PostgreSQL cluster's postmaster, for the database's CPU time
    /// (`None` on SQLite or a cluster not started by the benchmark).
    pub postmaster: Option<u32>,
}

/// Runs one scenario against `server`. For scenario
/// 3, subscribes `receiver` to `email_updated` first, waits for the
/// deliveries afterwards (up to `drain_timeout` without progress), and
/// unsubscribes.
///
/// # Errors
///
/// When a connection cannot be opened or the subscription fails; request
/// errors are counted in the result instead.
pub async fn run_scenario(
    server: Endpoint,
    data: &Dataset,
    receiver: &Receiver,
    scenario: Scenario,
    plan: &Plan,
    round: u32,
    drain_timeout: Duration,
) -> anyhow::Result<Run> {
    let Endpoint {
        backend,
        addr,
        pid,
        postmaster,
    } = server;
    let hook_path = format!("/hooks/r{round}-c{}", plan.concurrency);
    let subscription = if scenario == Scenario::ChatbotEmail {
        Some(subscribe(addr, data, &receiver.url(&hook_path)).await?)
    } else {
        None
    };
    let run_tag = format!("r{round}c{}", plan.concurrency);
    let work = workload(scenario, data, &run_tag);
    let watch = CpuWatch::start(Participants::with(pid));
    // Opens when `drive` starts measuring.
    let cpu = CpuWindow::after(
        plan.warmup,
        CpuSubjects {
            server: pid,
            postmaster,
        },
    );
    // The cache's counters when the measured window opens and after it
    // (PostgreSQL: SQLite has no document cache).
    let warmup = plan.warmup;
    let cache_before = (backend == Backend::Postgres).then(|| {
        tokio::spawn(async move {
            tokio::time::sleep(warmup).await;
            cache_use(addr).await
        })
    });
    let started = Instant::now();
    let outcome = drive(addr, &data.authorization, work, plan).await?;
    let contention = watch.finish();
    let cpu = cpu.finish();
    let cache = match cache_before {
        Some(before) => match (before.await.ok().flatten(), cache_use(addr).await) {
            (Some(before), Some(after)) => Some(after.since(before)),
            _ => None,
        },
        None => None,
    };
    for failure in &outcome.failures {
        eprintln!("  failure: {failure}");
    }
    let delivery = match subscription {
        Some(id) => {
            let d = drain(receiver, &hook_path, &outcome.acks, started, drain_timeout).await?;
            unsubscribe(addr, data, &id).await?;
            Some(d)
        }
        None => None,
    };
    Ok(Run {
        backend,
        subject: Subject::Scenario(scenario),
        concurrency: plan.concurrency,
        round,
        measurement: outcome.measurement,
        contention,
        delivery,
        peak_rss_kib: pid.and_then(peak_rss_kib),
        cpu: Some(cpu),
        cache,
    })
}

/// The document cache's counters from the server's `/metrics` (`None`
/// when they cannot be read: the figures are then left out, not made up).
async fn cache_use(addr: SocketAddr) -> Option<CacheUse> {
    CacheUse::parse(&load::metrics(addr).await?)
}

async fn subscribe(addr: SocketAddr, data: &Dataset, url: &str) -> anyhow::Result<String> {
    let body = serde_json::json!({"target_url": url, "event": "email_updated"});
    let (status, answer) = call_once(
        addr,
        Some(&data.authorization),
        Method::POST,
        "/zapier/v1/hooks",
        Some(&body),
    )
    .await?;
    if status != StatusCode::CREATED {
        bail!(
            "subscribing answered {status}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&answer)?;
    match &v["id"] {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => bail!("no id in the subscription: {v}"),
    }
}

async fn unsubscribe(addr: SocketAddr, data: &Dataset, id: &str) -> anyhow::Result<()> {
    let (status, answer) = call_once(
        addr,
        Some(&data.authorization),
        Method::DELETE,
        &format!("/zapier/v1/hooks/{id}"),
        None,
    )
    .await?;
    if status != StatusCode::OK {
        bail!(
            "unsubscribing answered {status}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    Ok(())
}

/// Waits until every acknowledged email update was delivered to `path`
/// (or nothing new arrived for `timeout`), then matches deliveries to acks.
async fn drain(
    receiver: &Receiver,
    path: &str,
    acks: &[(String, Instant)],
    started: Instant,
    timeout: Duration,
) -> anyhow::Result<Delivery> {
    let wanted: HashMap<&str, Instant> = acks.iter().map(|(e, t)| (e.as_str(), *t)).collect();
    let mut last_count = 0;
    let mut last_progress = Instant::now();
    let received = loop {
        let received = receiver.requests_to(path);
        let delivered = received
            .iter()
            .filter_map(|r| email_of(&r.body))
            .filter(|e| wanted.contains_key(e.as_str()))
            .collect::<std::collections::HashSet<_>>()
            .len();
        if delivered >= wanted.len() {
            break received;
        }
        if received.len() > last_count {
            last_count = received.len();
            last_progress = Instant::now();
        } else if last_progress.elapsed() > timeout {
            break received;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut first: HashMap<String, Instant> = HashMap::new();
    let mut duplicates = 0u64;
    for r in &received {
        let Some(email) = email_of(&r.body) else {
            continue;
        };
        if !wanted.contains_key(email.as_str()) {
            continue;
        }
        match first.entry(email) {
            Entry::Occupied(_) => duplicates += 1,
            Entry::Vacant(slot) => {
                slot.insert(r.at);
            }
        }
    }
    let mut h = histogram()?;
    let mut last = started;
    for (email, at) in &first {
        if let Some(ack) = wanted.get(email.as_str()) {
            let micros = u64::try_from(at.saturating_duration_since(*ack).as_micros())
                .unwrap_or(u64::MAX)
                .max(1);
            h.saturating_record(micros);
        }
        last = last.max(*at);
    }
    let delivered = first.len() as u64;
    let span = last.saturating_duration_since(started).as_secs_f64();
    Ok(Delivery {
        acknowledged: wanted.len() as u64,
        delivered,
        lost: (wanted.len() as u64).saturating_sub(delivered),
        duplicates,
        rate_per_s: if span > 0.0 {
            delivered as f64 / span
        } else {
            0.0
        },
        latency: Latency::of(&h),
    })
}

fn email_of(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v["receiver_email"].as_str().map(str::to_string)
}

fn progress(run: &Run) {
    let m: &Measurement = &run.measurement;
    let mut line = format!(
        "[{}] round {} {:>14} c={:<3} {:>8.0}/s p50 {:>7.2} ms p99 {:>7.2} ms errors {} load {:.2} other-cpu {:.0}% stolen {:.0}%{}",
        run.backend,
        run.round,
        run.subject.to_string(),
        run.concurrency,
        m.throughput(),
        m.latency.p50_us as f64 / 1000.0,
        m.latency.p99_us as f64 / 1000.0,
        m.errors,
        run.contention.loadavg_before,
        run.contention.other_cpu_share * 100.0,
        run.contention.stolen_cpu_share * 100.0,
        if run.contention.contended {
            " CONTENDED"
        } else {
            ""
        },
    );
    if let Some(rss) = run.peak_rss_kib {
        line.push_str(&format!(" rss {:.1} MiB", rss as f64 / 1024.0));
    }
    if let Some(cpu) = run.cpu.filter(|_| m.ok > 0) {
        let us = |s: f64| s * 1e6 / m.ok as f64;
        line.push_str(&format!(
            " cpu/req server {:.0} db {:.0} client {:.0} µs",
            us(cpu.server_s),
            us(cpu.database_s),
            us(cpu.client_s)
        ));
    }
    if let Some(share) = run.cache.and_then(CacheUse::hit_share) {
        line.push_str(&format!(" cached {:.0}%", share * 100.0));
    }
    if let Some(d) = &run.delivery {
        line.push_str(&format!(
            " | webhooks {}/{} lost {} dup {} {:.0}/s p99 {:.1} ms",
            d.delivered,
            d.acknowledged,
            d.lost,
            d.duplicates,
            d.rate_per_s,
            d.latency.p99_us as f64 / 1000.0
        ));
    }
    eprintln!("{line}");
}

#[cfg(test)]
mod tests {
    use super::{WAL_RESERVE_BYTES, WAL_SEGMENT_BYTES, wal_segments_that_fit};

    #[test]
    fn readied_wal_segments_leave_the_reserve_free() {
        const MIB: u64 = 1 << 20;
        // (asked, free bytes, segments written)
        let cases = [
            (64, 100 * 1024 * MIB, 64),
            (64, WAL_RESERVE_BYTES + 64 * WAL_SEGMENT_BYTES, 64),
            (64, WAL_RESERVE_BYTES + 64 * WAL_SEGMENT_BYTES - 1, 63),
            (64, WAL_RESERVE_BYTES + 10 * WAL_SEGMENT_BYTES + 5, 10),
            (4, WAL_RESERVE_BYTES + 10 * WAL_SEGMENT_BYTES, 4),
            (64, WAL_RESERVE_BYTES + WAL_SEGMENT_BYTES - 1, 0),
            (64, WAL_RESERVE_BYTES, 0),
            (64, 300 * MIB, 0),
            (64, 0, 0),
            (0, u64::MAX, 0),
            (u32::MAX, u64::MAX, u32::MAX),
        ];
        for (asked, free, expected) in cases {
            assert_eq!(
                wal_segments_that_fit(asked, free),
                expected,
                "{asked} asked for, {free} bytes free"
            );
        }
    }
}
