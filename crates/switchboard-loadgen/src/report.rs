//! Turning a [`Report`] into medians, the aims of issue #8, a markdown
//! section for `docs/benchmarks.md` and a table for the terminal.
//!
//! Every figure shown is the median over the rounds of one configuration
//! (backend, subject, concurrency); counts (errors, lost deliveries) are
//! totals and the peak RSS is the largest seen.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

pub use crate::model::CpuPerRequest;
use crate::model::{Backend, CacheUse, Report, Run, Scenario, Subject};

/// Marks the start of the generated section in `docs/benchmarks.md`.
pub const BEGIN_MARKER: &str = "<!-- loadgen:begin -->";
/// Marks the end of the generated section in `docs/benchmarks.md`.
pub const END_MARKER: &str = "<!-- loadgen:end -->";

/// Scenario 1 at these connection counts is compared with pgbench.
const PG_RATIO_CONCURRENCIES: [u32; 2] = [8, 32];
/// PostgreSQL, scenario 1: ours ≥ this × the pgbench ceiling.
const PG_MIN_RATIO: f64 = 0.6;
/// SQLite, scenario 1: ours ≥ this × the bare-connection ceiling.
const SQLITE_MIN_RATIO: f64 = 0.5;
/// PostgreSQL at one connection: our p50 ≤ this × pgbench's p50.
const PG_MAX_P50_FACTOR: f64 = 2.0;
/// The connection count at which the p99 aim applies.
const P99_CONCURRENCY: u32 = 32;
/// The p99 aim, in microseconds (25 ms).
const P99_LIMIT_US: f64 = 25_000.0;
/// The peak RSS aim, in KiB (100 MiB).
const RSS_LIMIT_KIB: u64 = 100 * 1024;
/// The startup aim, in milliseconds.
const STARTUP_LIMIT_MS: f64 = 300.0;

/// The medians over the rounds of one configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The database.
    pub backend: Backend,
    /// Ours or the ceiling.
    pub subject: Subject,
    /// Concurrent connections (or pgbench clients).
    pub concurrency: u32,
    /// How many rounds the medians are over.
    pub rounds: usize,
    /// Median successful requests (or transactions) per second.
    pub throughput: f64,
    /// Median of the rounds' p50 latency, in microseconds.
    pub p50_us: f64,
    /// Median of the rounds' p90 latency, in microseconds.
    pub p90_us: f64,
    /// Median of the rounds' p99 latency, in microseconds.
    pub p99_us: f64,
    /// Median of the rounds' largest latency, in microseconds.
    pub max_us: f64,
    /// Errors over all rounds.
    pub errors: u64,
    /// The largest peak RSS of any round, in KiB (our runs only).
    pub peak_rss_kib: Option<u64>,
    /// Whether other processes (or other guests of the hypervisor) took
    /// the CPU in any round.
    pub contended: bool,
    /// For a writing scenario: the ceiling's median throughput at the same
    /// backend and concurrency, when it was measured.
    pub ceiling_throughput: Option<f64>,
    /// For a writing scenario: ours / the ceiling.
    pub ratio: Option<f64>,
    /// Scenario 3 only: webhook delivery.
    pub delivery: Option<DeliverySummary>,
    /// Median CPU time per successful request (or transaction), when the
    /// runs measured it.
    pub cpu: Option<CpuPerRequest>,
    /// The share of modifies planned on the document cache's copy, over
    /// all rounds' measured windows (our runs on PostgreSQL).
    pub cached: Option<f64>,
}

/// Webhook delivery over the rounds of scenario 3.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DeliverySummary {
    /// Acknowledged updates over all rounds.
    pub acknowledged: u64,
    /// Delivered updates over all rounds.
    pub delivered: u64,
    /// Lost deliveries over all rounds.
    pub lost: u64,
    /// Duplicate deliveries over all rounds.
    pub duplicates: u64,
    /// Median deliveries per second.
    pub rate_per_s: f64,
    /// Median of the rounds' commit-to-delivery p50, in microseconds.
    pub p50_us: f64,
    /// Median of the rounds' commit-to-delivery p99, in microseconds.
    pub p99_us: f64,
}

impl Summary {
    /// The scenario, or `None` for a ceiling row.
    #[must_use]
    pub fn scenario(&self) -> Option<Scenario> {
        match self.subject {
            Subject::Ceiling => None,
            Subject::Scenario(s) => Some(s),
        }
    }
}

/// Two reports side by side, as a markdown table: for each scenario,
/// backend and concurrency in both, the median throughput and (for the
/// writing scenarios) its ratio to the same run's ceiling, before and
/// after, the change of that ratio (of the throughput for the read), and
/// the p99 latencies. Ratios, not raw rates, are what compare across runs:
/// each is against the database's ceiling measured beside it.
#[must_use]
pub fn compare(before: &Report, after: &Report) -> String {
    let (before, after) = (summarize(before), summarize(after));
    let key = |s: &Summary| (s.backend, s.subject, s.concurrency);
    let mut out = String::from(
        "| scenario | backend | conns | before req/s | before ratio | after req/s | after ratio | change | p99 ms before → after |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for b in before.iter().filter(|s| s.scenario().is_some()) {
        let Some(a) = after.iter().find(|a| key(a) == key(b)) else {
            continue;
        };
        let change = match (b.ratio, a.ratio) {
            (Some(rb), Some(ra)) if rb > 0.0 => ra / rb - 1.0,
            _ if b.throughput > 0.0 => a.throughput / b.throughput - 1.0,
            _ => 0.0,
        };
        let label = b.scenario().map_or("ceiling", Scenario::label);
        out.push_str(&format!(
            "| {label} | {} | {} | {} | {} | {} | {} | {:+.0}% | {} → {} |\n",
            b.backend.label(),
            b.concurrency,
            fmt_count(b.throughput),
            fmt_ratio(b.ratio),
            fmt_count(a.throughput),
            fmt_ratio(a.ratio),
            change * 100.0,
            fmt_ms(b.p99_us),
            fmt_ms(a.p99_us),
        ));
    }
    out
}

/// One aim of issue #8, evaluated on the medians.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Aim {
    /// What is aimed at.
    pub name: String,
    /// The bound.
    pub target: String,
    /// What the run measured.
    pub measured: String,
    /// Whether the bound holds (false when it was not measured).
    pub met: bool,
}

/// The median of some values: the mean of the middle two for an even count,
/// 0 for none.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn median_of<'a>(runs: &[&'a Run], f: impl Fn(&'a Run) -> f64) -> f64 {
    median(runs.iter().map(|r| f(r)).collect())
}

fn us(v: u64) -> f64 {
    v as f64
}

/// The medians of every configuration in the report, ordered by backend,
/// then the ceiling and the scenarios in the issue's order, then
/// concurrency.
#[must_use]
pub fn summarize(report: &Report) -> Vec<Summary> {
    let mut groups: BTreeMap<(Backend, Subject, u32), Vec<&Run>> = BTreeMap::new();
    for run in &report.runs {
        groups
            .entry((run.backend, run.subject, run.concurrency))
            .or_default()
            .push(run);
    }
    let mut rows: Vec<Summary> = groups
        .into_iter()
        .map(|((backend, subject, concurrency), runs)| {
            summarize_group(backend, subject, concurrency, &runs)
        })
        .collect();

    let ceilings: BTreeMap<(Backend, u32), f64> = rows
        .iter()
        .filter(|s| s.subject == Subject::Ceiling)
        .map(|s| ((s.backend, s.concurrency), s.throughput))
        .collect();
    for row in &mut rows {
        let Subject::Scenario(scenario) = row.subject else {
            continue;
        };
        if !scenario.writes() {
            continue;
        }
        row.ceiling_throughput = ceilings.get(&(row.backend, row.concurrency)).copied();
        row.ratio = row
            .ceiling_throughput
            .filter(|c| *c > 0.0)
            .map(|c| row.throughput / c);
    }
    rows
}

fn summarize_group(backend: Backend, subject: Subject, concurrency: u32, runs: &[&Run]) -> Summary {
    let deliveries: Vec<_> = runs.iter().filter_map(|r| r.delivery).collect();
    let delivery = (!deliveries.is_empty()).then(|| DeliverySummary {
        acknowledged: deliveries.iter().map(|d| d.acknowledged).sum(),
        delivered: deliveries.iter().map(|d| d.delivered).sum(),
        lost: deliveries.iter().map(|d| d.lost).sum(),
        duplicates: deliveries.iter().map(|d| d.duplicates).sum(),
        rate_per_s: median(deliveries.iter().map(|d| d.rate_per_s).collect()),
        p50_us: median(deliveries.iter().map(|d| us(d.latency.p50_us)).collect()),
        p99_us: median(deliveries.iter().map(|d| us(d.latency.p99_us)).collect()),
    });
    Summary {
        backend,
        subject,
        concurrency,
        rounds: runs.len(),
        throughput: median_of(runs, |r| r.measurement.throughput()),
        p50_us: median_of(runs, |r| us(r.measurement.latency.p50_us)),
        p90_us: median_of(runs, |r| us(r.measurement.latency.p90_us)),
        p99_us: median_of(runs, |r| us(r.measurement.latency.p99_us)),
        max_us: median_of(runs, |r| us(r.measurement.latency.max_us)),
        errors: runs.iter().map(|r| r.measurement.errors).sum(),
        peak_rss_kib: runs.iter().filter_map(|r| r.peak_rss_kib).max(),
        contended: runs.iter().any(|r| r.contention.contended),
        ceiling_throughput: None,
        ratio: None,
        delivery,
        cpu: cpu_per_request(runs),
        cached: runs
            .iter()
            .filter_map(|r| r.cache)
            .reduce(|a, b| CacheUse {
                written: a.written + b.written,
                stale: a.stale + b.stale,
                missed: a.missed + b.missed,
            })
            .and_then(CacheUse::hit_share),
    }
}

/// The medians of the rounds' CPU time per successful request; `None`
/// unless every round measured it and served something.
fn cpu_per_request(runs: &[&Run]) -> Option<CpuPerRequest> {
    let per: Vec<CpuPerRequest> = runs
        .iter()
        .map(|r| r.cpu?.per_request(r.measurement.ok))
        .collect::<Option<_>>()?;
    if per.is_empty() {
        return None;
    }
    Some(CpuPerRequest {
        server_us: median(per.iter().map(|p| p.server_us).collect()),
        database_us: median(per.iter().map(|p| p.database_us).collect()),
        client_us: median(per.iter().map(|p| p.client_us).collect()),
    })
}

/// Medians of the server's startup time per backend: (backend, starts,
/// median ms, max ms).
fn startups(report: &Report) -> Vec<(Backend, usize, f64, f64)> {
    Backend::ALL
        .into_iter()
        .filter_map(|backend| {
            let times: Vec<f64> = report
                .startups
                .iter()
                .filter(|s| s.backend == backend)
                .map(|s| s.ready_ms)
                .collect();
            if times.is_empty() {
                return None;
            }
            let max = times.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            Some((backend, times.len(), median(times.clone()), max))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Formatting

/// Whole units with thousands separators: `12,345`.
pub(crate) fn fmt_count(v: f64) -> String {
    if !v.is_finite() {
        return "—".to_owned();
    }
    let rounded = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in rounded.chars().enumerate() {
        if i > 0 && (rounded.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 && rounded != "0" {
        out.insert(0, '-');
    }
    out
}

fn fmt_int(v: u64) -> String {
    fmt_count(v as f64)
}

/// Microseconds as milliseconds with two decimals.
fn fmt_ms(us: f64) -> String {
    format!("{:.2}", us / 1000.0)
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "—".to_owned(), |r| format!("{r:.2}"))
}

fn fmt_mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "—".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0))
}

/// Keeps text from a report (a machine description, a setting) from being
/// read as HTML by a markdown renderer.
fn text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Makes text safe inside a markdown table cell.
fn cell(raw: &str) -> String {
    text(raw).replace('|', "\\|").replace('\n', " ")
}

fn ceiling_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "pgbench",
        Backend::Sqlite => "the bare-connection ceiling",
    }
}

fn find(
    rows: &[Summary],
    backend: Backend,
    subject: Subject,
    concurrency: u32,
) -> Option<&Summary> {
    rows.iter()
        .find(|s| s.backend == backend && s.subject == subject && s.concurrency == concurrency)
}

fn present_backends(rows: &[Summary]) -> Vec<Backend> {
    Backend::ALL
        .into_iter()
        .filter(|b| rows.iter().any(|s| s.backend == *b))
        .collect()
}

// ---------------------------------------------------------------------------
// Aims

const NOT_MEASURED: &str = "not measured";

/// Evaluates the aims of issue #8 on the medians of the report.
///
/// Aims about a backend that was not run at all are left out; an aim whose
/// configuration was not run on a backend that was is reported as not met.
#[must_use]
pub fn aims(report: &Report) -> Vec<Aim> {
    let rows = summarize(report);
    let backends = present_backends(&rows);
    let has = |b: Backend| backends.contains(&b);
    let mut out = Vec::new();

    if has(Backend::Postgres) {
        for conns in PG_RATIO_CONCURRENCIES {
            out.push(ratio_aim(&rows, Backend::Postgres, conns, PG_MIN_RATIO));
        }
    }
    if has(Backend::Sqlite) {
        let mut conns: Vec<u32> = rows
            .iter()
            .filter(|s| s.backend == Backend::Sqlite)
            .map(|s| s.concurrency)
            .collect();
        conns.sort_unstable();
        conns.dedup();
        for c in conns {
            out.push(ratio_aim(&rows, Backend::Sqlite, c, SQLITE_MIN_RATIO));
        }
    }
    if has(Backend::Postgres) {
        out.push(pg_p50_aim(&rows));
    }
    for &backend in &backends {
        out.push(p99_aim(&rows, backend));
    }
    for &backend in &backends {
        out.push(rss_aim(&rows, backend));
    }
    for (backend, _, _, max) in startups(report) {
        out.push(Aim {
            name: format!(
                "{} startup to 200 from /readyz (slowest start)",
                backend.label()
            ),
            target: format!("< {STARTUP_LIMIT_MS:.0} ms"),
            measured: format!("{max:.1} ms"),
            met: max < STARTUP_LIMIT_MS,
        });
    }
    for &backend in &backends {
        out.push(errors_aim(&rows, backend));
    }
    for &backend in &backends {
        if let Some(aim) = lost_aim(&rows, backend) {
            out.push(aim);
        }
    }
    out
}

fn ratio_aim(rows: &[Summary], backend: Backend, conns: u32, min: f64) -> Aim {
    let name = format!(
        "{} scenario 1 at {conns} conn{} vs {}",
        backend.label(),
        if conns == 1 { "" } else { "s" },
        ceiling_name(backend)
    );
    let target = format!("≥ {min:.2} × ceiling");
    let ours = find(rows, backend, Subject::Scenario(Scenario::SoPatch), conns);
    match ours.and_then(|s| s.ratio.map(|r| (s, r))) {
        Some((s, r)) => Aim {
            name,
            target,
            measured: format!(
                "{r:.2} × ({} req/s vs {} tx/s)",
                fmt_count(s.throughput),
                fmt_count(s.ceiling_throughput.unwrap_or(0.0))
            ),
            met: r >= min,
        },
        None => Aim {
            name,
            target,
            measured: NOT_MEASURED.to_owned(),
            met: false,
        },
    }
}

fn pg_p50_aim(rows: &[Summary]) -> Aim {
    let backend = Backend::Postgres;
    let name = "PostgreSQL scenario 1 at 1 conn: p50 vs pgbench's p50".to_owned();
    let target = format!("≤ {PG_MAX_P50_FACTOR:.0} × pgbench p50");
    let ours = find(rows, backend, Subject::Scenario(Scenario::SoPatch), 1);
    let ceiling = find(rows, backend, Subject::Ceiling, 1);
    match (ours, ceiling) {
        (Some(o), Some(c)) if c.p50_us > 0.0 => {
            let factor = o.p50_us / c.p50_us;
            Aim {
                name,
                target,
                measured: format!(
                    "{factor:.2} × ({} ms vs {} ms)",
                    fmt_ms(o.p50_us),
                    fmt_ms(c.p50_us)
                ),
                met: o.p50_us <= PG_MAX_P50_FACTOR * c.p50_us,
            }
        }
        _ => Aim {
            name,
            target,
            measured: NOT_MEASURED.to_owned(),
            met: false,
        },
    }
}

fn p99_aim(rows: &[Summary], backend: Backend) -> Aim {
    let name = format!(
        "{} p99 at {P99_CONCURRENCY} conns, every scenario",
        backend.label()
    );
    let target = format!("< {:.0} ms", P99_LIMIT_US / 1000.0);
    // Every scenario run on this backend must have been run at 32 too.
    let scenarios: Vec<Scenario> = Scenario::ALL
        .into_iter()
        .filter(|sc| {
            rows.iter()
                .any(|s| s.backend == backend && s.subject == Subject::Scenario(*sc))
        })
        .collect();
    let mut parts = Vec::new();
    let mut met = !scenarios.is_empty();
    for sc in scenarios {
        match find(rows, backend, Subject::Scenario(sc), P99_CONCURRENCY) {
            Some(s) => {
                met &= s.p99_us < P99_LIMIT_US;
                parts.push(format!("{} {} ms", sc.name(), fmt_ms(s.p99_us)));
            }
            None => {
                met = false;
                parts.push(format!("{} {NOT_MEASURED} at {P99_CONCURRENCY}", sc.name()));
            }
        }
    }
    let measured = if parts.is_empty() {
        NOT_MEASURED.to_owned()
    } else {
        parts.join(" · ")
    };
    Aim {
        name,
        target,
        measured,
        met,
    }
}

fn rss_aim(rows: &[Summary], backend: Backend) -> Aim {
    let peak = rows
        .iter()
        .filter(|s| s.backend == backend)
        .filter_map(|s| s.peak_rss_kib)
        .max();
    Aim {
        name: format!("{} server peak RSS", backend.label()),
        target: format!("< {} MiB", RSS_LIMIT_KIB / 1024),
        measured: peak.map_or_else(
            || NOT_MEASURED.to_owned(),
            |k| format!("{} MiB", fmt_mib(Some(k))),
        ),
        met: peak.is_some_and(|k| k < RSS_LIMIT_KIB),
    }
}

fn errors_aim(rows: &[Summary], backend: Backend) -> Aim {
    let ours: Vec<&Summary> = rows
        .iter()
        .filter(|s| s.backend == backend && s.scenario().is_some())
        .collect();
    let total: u64 = ours.iter().map(|s| s.errors).sum();
    let runs: usize = ours.iter().map(|s| s.rounds).sum();
    let worst: Vec<String> = ours
        .iter()
        .filter(|s| s.errors > 0)
        .map(|s| format!("{}@{}: {}", s.subject, s.concurrency, fmt_int(s.errors)))
        .collect();
    let measured = if ours.is_empty() {
        NOT_MEASURED.to_owned()
    } else if worst.is_empty() {
        format!("0 in {runs} runs")
    } else {
        format!("{} ({})", fmt_int(total), worst.join(", "))
    };
    Aim {
        name: format!("{} errors, every scenario", backend.label()),
        target: "0".to_owned(),
        measured,
        met: !ours.is_empty() && total == 0,
    }
}

fn lost_aim(rows: &[Summary], backend: Backend) -> Option<Aim> {
    let webhook: Vec<&Summary> = rows
        .iter()
        .filter(|s| s.backend == backend && s.subject == Subject::Scenario(Scenario::ChatbotEmail))
        .collect();
    if webhook.is_empty() {
        return None;
    }
    let name = format!("{} lost webhook events (scenario 3)", backend.label());
    let target = "0".to_owned();
    if webhook.iter().any(|s| s.delivery.is_none()) {
        return Some(Aim {
            name,
            target,
            measured: NOT_MEASURED.to_owned(),
            met: false,
        });
    }
    let lost: u64 = webhook
        .iter()
        .filter_map(|s| s.delivery)
        .map(|d| d.lost)
        .sum();
    let acknowledged: u64 = webhook
        .iter()
        .filter_map(|s| s.delivery)
        .map(|d| d.acknowledged)
        .sum();
    Some(Aim {
        name,
        target,
        measured: format!(
            "{} of {} acknowledged",
            fmt_int(lost),
            fmt_int(acknowledged)
        ),
        met: lost == 0,
    })
}

// ---------------------------------------------------------------------------
// Markdown

/// "3 rounds", or "2–3 rounds" when configurations differ.
pub(crate) fn rounds_phrase(rows: &[Summary]) -> String {
    let min = rows.iter().map(|s| s.rounds).min().unwrap_or(0);
    let max = rows.iter().map(|s| s.rounds).max().unwrap_or(0);
    if min == max {
        format!("{max} round{}", if max == 1 { "" } else { "s" })
    } else {
        format!("{min}–{max} rounds")
    }
}

/// The report as a markdown section for `docs/benchmarks.md` (its headings
/// are level 3, to sit under the document's own level-2 heading).
#[must_use]
pub fn markdown(report: &Report) -> String {
    let rows = summarize(report);
    let mut md = String::new();
    // `write!` to a `String` cannot fail.
    let _ = write_markdown(&mut md, report, &rows);
    md
}

fn write_markdown(md: &mut String, report: &Report, rows: &[Summary]) -> std::fmt::Result {
    writeln!(md, "- **Machine:** {}", text(report.machine.trim()))?;
    writeln!(md, "- **Started:** {}", text(&report.started_at))?;
    writeln!(
        md,
        "- **Runs:** {} s measured per run after warm-up; {} per configuration, ours and the \
         ceiling alternating. Every figure is the median over the rounds; errors and lost \
         deliveries are totals, peak RSS the largest.",
        report.duration_s,
        rounds_phrase(rows)
    )?;
    if report.primed {
        writeln!(
            md,
            "- **Primed (PostgreSQL, `--prime`):** before each scenario that writes, every row \
             it writes was written once through the fresh server, not measured, so that its \
             document cache holds them as a node that served these rows before would; the CPU \
             table shows the share of modifies the cache served."
        )?;
    }
    writeln!(md)?;
    writeln!(md, "Command:")?;
    writeln!(md)?;
    let fence = fence_for(&report.command);
    writeln!(md, "{fence}sh\n{}\n{fence}", report.command.trim())?;

    write_settings(md, report)?;
    write_startups(md, report)?;
    write_main_table(md, rows)?;
    write_ceilings(md, rows)?;
    write_cpu(md, rows)?;
    write_webhooks(md, rows)?;
    write_aims(md, &aims(report))?;
    write_runs(md, report)?;
    Ok(())
}

/// A code fence longer than any run of backticks in `text`.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut current = 0;
    for c in text.chars() {
        if c == '`' {
            current += 1;
            longest = longest.max(current);
        } else {
            current = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

fn write_settings(md: &mut String, report: &Report) -> std::fmt::Result {
    writeln!(md, "\n### Durability and ceilings\n")?;
    writeln!(md, "| backend | durability | ceiling |")?;
    writeln!(md, "|---|---|---|")?;
    for backend in Backend::ALL {
        let lookup = |list: &[(Backend, String)]| {
            list.iter()
                .find(|(b, _)| *b == backend)
                .map(|(_, text)| cell(text))
        };
        let durability = lookup(&report.durability);
        let ceiling = lookup(&report.ceilings);
        if durability.is_none() && ceiling.is_none() {
            continue;
        }
        writeln!(
            md,
            "| {} | {} | {} |",
            backend.label(),
            durability.unwrap_or_else(|| "—".to_owned()),
            ceiling.unwrap_or_else(|| "—".to_owned())
        )?;
    }
    Ok(())
}

fn write_startups(md: &mut String, report: &Report) -> std::fmt::Result {
    let startups = startups(report);
    if startups.is_empty() {
        return Ok(());
    }
    writeln!(
        md,
        "\n### Server startup (process start to 200 from `/readyz`)\n"
    )?;
    writeln!(md, "| backend | starts | median ms | max ms |")?;
    writeln!(md, "|---|---:|---:|---:|")?;
    for (backend, n, median, max) in startups {
        writeln!(md, "| {} | {n} | {median:.1} | {max:.1} |", backend.label())?;
    }
    Ok(())
}

fn write_main_table(md: &mut String, rows: &[Summary]) -> std::fmt::Result {
    writeln!(
        md,
        "\n### Throughput and latency ({})\n",
        rounds_phrase(rows)
    )?;
    writeln!(
        md,
        "| scenario | backend | conns | ours req/s | ceiling tx/s | ratio | p50 ms | p99 ms | max ms | errors | peak RSS MiB |"
    )?;
    writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    let mut any_contended = false;
    for s in rows {
        let Some(scenario) = s.scenario() else {
            continue;
        };
        any_contended |= s.contended;
        writeln!(
            md,
            "| {} | {} | {} | {}{} | {} | {} | {} | {} | {} | {} | {} |",
            scenario.label(),
            s.backend.label(),
            s.concurrency,
            fmt_count(s.throughput),
            if s.contended { " ⚠" } else { "" },
            s.ceiling_throughput
                .map_or_else(|| "—".to_owned(), fmt_count),
            fmt_ratio(s.ratio),
            fmt_ms(s.p50_us),
            fmt_ms(s.p99_us),
            fmt_ms(s.max_us),
            fmt_int(s.errors),
            fmt_mib(s.peak_rss_kib),
        )?;
    }
    writeln!(
        md,
        "\nThe ratio is ours over the ceiling's median at the same backend and connection \
         count; the read (scenario 4) has none."
    )?;
    if any_contended {
        writeln!(
            md,
            "⚠ marks a configuration where other processes, or the hypervisor's other guests (stolen CPU), took the CPU in at least one round."
        )?;
    }
    Ok(())
}

fn write_ceilings(md: &mut String, rows: &[Summary]) -> std::fmt::Result {
    let ceilings: Vec<&Summary> = rows
        .iter()
        .filter(|s| s.subject == Subject::Ceiling)
        .collect();
    if ceilings.is_empty() {
        return Ok(());
    }
    writeln!(md, "\n### Ceilings\n")?;
    writeln!(md, "| backend | conns | tx/s | p50 ms | p99 ms |")?;
    writeln!(md, "|---|---:|---:|---:|---:|")?;
    for s in ceilings {
        writeln!(
            md,
            "| {} | {} | {}{} | {} | {} |",
            s.backend.label(),
            s.concurrency,
            fmt_count(s.throughput),
            if s.contended { " ⚠" } else { "" },
            fmt_ms(s.p50_us),
            fmt_ms(s.p99_us),
        )?;
    }
    Ok(())
}

fn write_cpu(md: &mut String, rows: &[Summary]) -> std::fmt::Result {
    let measured: Vec<(&Summary, CpuPerRequest)> =
        rows.iter().filter_map(|s| s.cpu.map(|c| (s, c))).collect();
    if measured.is_empty() {
        return Ok(());
    }
    writeln!(md, "\n### CPU time per request\n")?;
    writeln!(
        md,
        "| subject | backend | conns | server µs | database µs | client µs | total µs | cached |"
    )?;
    writeln!(md, "|---|---|---:|---:|---:|---:|---:|---:|")?;
    for (s, cpu) in measured {
        let subject = s.scenario().map_or_else(
            || format!("ceiling ({})", ceiling_name(s.backend)),
            |sc| sc.label().to_owned(),
        );
        writeln!(
            md,
            "| {} | {} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {} |",
            subject,
            s.backend.label(),
            s.concurrency,
            cpu.server_us,
            cpu.database_us,
            cpu.client_us,
            cpu.total_us(),
            s.cached
                .map_or_else(|| "—".to_owned(), |c| format!("{:.0}%", c * 100.0)),
        )?;
    }
    writeln!(
        md,
        "\nCPU seconds used during the measured window (from `/proc`, in 10 ms ticks) over \
         the successful requests (ceiling: transactions). *Server* is the `switchboard` \
         process, with SQLite's work on SQLite; *database* is the PostgreSQL cluster (its \
         backends, background processes and ended backends); *client* is the load generator \
         (for the ceilings: the SQLite loop in it, or pgbench). On a machine that is \
         CPU-bound, the total decides throughput. *Cached* is the share of the modifies \
         planned on the server's document cache instead of a read (PostgreSQL), over all \
         rounds."
    )
}

fn write_webhooks(md: &mut String, rows: &[Summary]) -> std::fmt::Result {
    let webhook: Vec<(&Summary, _)> = rows
        .iter()
        .filter_map(|s| s.delivery.map(|d| (s, d)))
        .collect();
    if webhook.is_empty() {
        return Ok(());
    }
    writeln!(md, "\n### Webhook delivery under scenario 3\n")?;
    writeln!(
        md,
        "| backend | conns | acknowledged | delivered | lost | duplicates | delivery rate/s | commit-to-delivery p50 ms | p99 ms |"
    )?;
    writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    for (s, d) in webhook {
        writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.backend.label(),
            s.concurrency,
            fmt_int(d.acknowledged),
            fmt_int(d.delivered),
            fmt_int(d.lost),
            fmt_int(d.duplicates),
            fmt_count(d.rate_per_s),
            fmt_ms(d.p50_us),
            fmt_ms(d.p99_us),
        )?;
    }
    writeln!(
        md,
        "\nCounts are totals over the rounds; the rate and latencies are medians. \
         Duplicates are allowed (at-least-once delivery); lost events are not."
    )?;
    Ok(())
}

fn write_aims(md: &mut String, aims: &[Aim]) -> std::fmt::Result {
    if aims.is_empty() {
        return Ok(());
    }
    writeln!(md, "\n### Aims\n")?;
    writeln!(md, "| aim | target | measured | met |")?;
    writeln!(md, "|---|---|---|:---:|")?;
    for aim in aims {
        writeln!(
            md,
            "| {} | {} | {} | {} |",
            cell(&aim.name),
            cell(&aim.target),
            cell(&aim.measured),
            if aim.met { "✅" } else { "❌" }
        )?;
    }
    Ok(())
}

fn write_runs(md: &mut String, report: &Report) -> std::fmt::Result {
    if report.runs.is_empty() {
        return Ok(());
    }
    writeln!(md, "\n### Every run, in order\n")?;
    writeln!(
        md,
        "| # | backend | subject | conns | round | req/s (tx/s) | p99 ms | errors | loadavg before | other CPU % | stolen CPU % | contended |"
    )?;
    writeln!(
        md,
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|"
    )?;
    for (i, run) in report.runs.iter().enumerate() {
        writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.1} | {:.1} | {} |",
            i + 1,
            run.backend.label(),
            run.subject,
            run.concurrency,
            run.round,
            fmt_count(run.measurement.throughput()),
            fmt_ms(us(run.measurement.latency.p99_us)),
            fmt_int(run.measurement.errors),
            run.contention.loadavg_before,
            run.contention.other_cpu_share * 100.0,
            run.contention.stolen_cpu_share * 100.0,
            if run.contention.contended { "⚠" } else { "" },
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Console

/// A compact plain-text table of the medians for the terminal.
#[must_use]
pub fn console_table(report: &Report) -> String {
    let header = [
        "scenario",
        "backend",
        "conns",
        "ours-req/s",
        "ceiling-tx/s",
        "ratio",
        "p99-ms",
        "errors",
    ];
    let mut table: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    for s in summarize(report) {
        let Some(scenario) = s.scenario() else {
            continue;
        };
        table.push(vec![
            scenario.name().to_owned(),
            s.backend.name().to_owned(),
            s.concurrency.to_string(),
            format!(
                "{}{}",
                fmt_count(s.throughput),
                if s.contended { " !" } else { "" }
            ),
            s.ceiling_throughput
                .map_or_else(|| "-".to_owned(), fmt_count),
            s.ratio
                .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}")),
            fmt_ms(s.p99_us),
            s.errors.to_string(),
        ]);
    }
    let right = [false, false, true, true, true, true, true, true];
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            table
                .iter()
                .map(|row| row[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &table {
        let mut line = String::new();
        for (c, text) in row.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            let pad = " ".repeat(widths[c] - text.chars().count());
            if right[c] {
                line.push_str(&pad);
                line.push_str(text);
            } else {
                line.push_str(text);
                line.push_str(&pad);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------
// Splicing into docs/benchmarks.md

/// Replaces what lies between the marker lines [`BEGIN_MARKER`] and
/// [`END_MARKER`] of `doc` with `section`, keeping the markers; appends the
/// markers and the section when `doc` has none. Splicing the same section
/// twice changes nothing.
#[must_use]
pub fn splice(doc: &str, section: &str) -> String {
    splice_between(doc, section, BEGIN_MARKER, END_MARKER)
}

/// [`splice`] between the marker lines `begin` and `end`.
#[must_use]
pub fn splice_between(doc: &str, section: &str, begin: &str, end: &str) -> String {
    let section = section.trim_end_matches(['\n', '\r']);
    let is = |line: &str, marker: &str| line.trim() == marker;

    let mut offset = 0;
    let mut begin_end = None; // byte offset just after the begin line
    let mut end_start = None; // byte offset of the end line
    for line in doc.split_inclusive('\n') {
        match begin_end {
            None if is(line, begin) => begin_end = Some(offset + line.len()),
            Some(_) if is(line, end) => {
                end_start = Some(offset);
                break;
            }
            _ => {}
        }
        offset += line.len();
    }

    match (begin_end, end_start) {
        (Some(b), Some(e)) => {
            let head = &doc[..b];
            let sep = if head.ends_with('\n') { "" } else { "\n" };
            format!("{head}{sep}{section}\n{}", &doc[e..])
        }
        // A begin marker without an end: the rest of the document was ours.
        (Some(b), None) => {
            let head = &doc[..b];
            let sep = if head.ends_with('\n') { "" } else { "\n" };
            format!("{head}{sep}{section}\n{end}\n")
        }
        _ => format!("{doc}\n{begin}\n{section}\n{end}\n"),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{Contention, CpuTime, Delivery, Latency, Measurement, Startup};

    /// A run that did `rate` requests per second for 10 s with the given
    /// p50 and p99 in milliseconds.
    pub(crate) fn run(
        backend: Backend,
        subject: Subject,
        concurrency: u32,
        round: u32,
        rate: f64,
        p50_ms: f64,
        p99_ms: f64,
    ) -> Run {
        let to_us = |ms: f64| (ms * 1000.0).round() as u64;
        Run {
            backend,
            subject,
            concurrency,
            round,
            measurement: Measurement {
                ok: (rate * 10.0).round() as u64,
                errors: 0,
                seconds: 10.0,
                latency: Latency {
                    p50_us: to_us(p50_ms),
                    p90_us: to_us((p50_ms + p99_ms) / 2.0),
                    p99_us: to_us(p99_ms),
                    max_us: to_us(p99_ms * 2.0),
                    mean_us: p50_ms * 1000.0,
                },
            },
            contention: Contention {
                loadavg_before: 0.5,
                other_cpu_share: 0.02,
                stolen_cpu_share: 0.0,
                contended: false,
            },
            delivery: (subject == Subject::Scenario(Scenario::ChatbotEmail)).then_some(Delivery {
                acknowledged: (rate * 10.0).round() as u64,
                delivered: (rate * 10.0).round() as u64,
                lost: 0,
                duplicates: 1,
                rate_per_s: rate,
                latency: Latency {
                    p50_us: 1500,
                    p99_us: 6000,
                    ..Latency::default()
                },
            }),
            peak_rss_kib: matches!(subject, Subject::Scenario(_)).then_some(40 * 1024),
            // 0.5 ms of server and 0.25 ms of database time per request.
            cpu: Some(CpuTime {
                server_s: rate * 10.0 * 0.000_5,
                database_s: rate * 10.0 * 0.000_25,
                client_s: 0.1,
            }),
            cache: None,
        }
    }

    fn report(runs: Vec<Run>) -> Report {
        Report {
            machine: "Test CPU (2 cores), 24 GiB, Linux 6.1".to_owned(),
            command: "switchboard-loadgen run --rounds 3".to_owned(),
            started_at: "2026-05-01T12:00:00Z".to_owned(),
            duration_s: 10.0,
            durability: vec![
                (Backend::Sqlite, "WAL, synchronous = FULL".to_owned()),
                (
                    Backend::Postgres,
                    "fsync = on, synchronous_commit = on".to_owned(),
                ),
            ],
            ceilings: vec![
                (
                    Backend::Sqlite,
                    "bare connection: 1 UPDATE + 1 INSERT".to_owned(),
                ),
                (Backend::Postgres, "pgbench -f update_outbox.sql".to_owned()),
            ],
            startups: vec![
                Startup {
                    backend: Backend::Sqlite,
                    ready_ms: 40.0,
                },
                Startup {
                    backend: Backend::Sqlite,
                    ready_ms: 60.0,
                },
                Startup {
                    backend: Backend::Postgres,
                    ready_ms: 90.0,
                },
            ],
            runs,
            primed: true,
        }
    }

    /// A full synthetic report: every backend, subject and concurrency at
    /// one round, all aims met. PostgreSQL's ceiling is 1,000 tx/s × conns
    /// (capped), ours 0.7 × that; SQLite's ceiling is 4,000, ours 2,400.
    pub(crate) fn full_report() -> Report {
        let mut runs = Vec::new();
        for backend in Backend::ALL {
            for conns in [1, 8, 32] {
                let ceiling = match backend {
                    Backend::Sqlite => 4000.0,
                    Backend::Postgres => 1000.0 * f64::from(conns.min(4)),
                };
                runs.push(run(backend, Subject::Ceiling, conns, 1, ceiling, 1.0, 3.0));
                for scenario in Scenario::ALL {
                    let rate = if scenario.writes() {
                        ceiling * 0.7
                    } else {
                        ceiling * 3.0
                    };
                    runs.push(run(
                        backend,
                        Subject::Scenario(scenario),
                        conns,
                        1,
                        rate,
                        1.5,
                        10.0,
                    ));
                }
            }
        }
        report(runs)
    }

    #[test]
    fn compare_puts_each_scenario_against_its_own_runs_ceiling() {
        let (sc, get) = (
            Subject::Scenario(Scenario::SoPatch),
            Subject::Scenario(Scenario::SoGet),
        );
        let before = report(vec![
            run(Backend::Sqlite, Subject::Ceiling, 8, 1, 4000.0, 1.0, 2.0),
            run(Backend::Sqlite, sc, 8, 1, 2000.0, 1.0, 10.0),
            run(Backend::Sqlite, get, 8, 1, 9000.0, 1.0, 3.0),
        ]);
        // A faster ceiling in the second run: the same raw rate is a lower ratio.
        let after = report(vec![
            run(Backend::Sqlite, Subject::Ceiling, 8, 1, 5000.0, 1.0, 2.0),
            run(Backend::Sqlite, sc, 8, 1, 2000.0, 1.0, 12.5),
            run(Backend::Sqlite, get, 8, 1, 9900.0, 1.0, 3.0),
            run(Backend::Postgres, sc, 8, 1, 500.0, 1.0, 3.0),
        ]);
        let table = compare(&before, &after);
        let rows: Vec<&str> = table.lines().skip(2).collect();
        assert_eq!(rows.len(), 2, "{table}");
        assert_eq!(
            rows[0],
            "| 1. SuperOffice PATCH (JSON Patch: test + 2 replace) | SQLite | 8 | 2,000 | 0.50 | 2,000 | 0.40 | -20% | 10.00 → 12.50 |"
        );
        assert!(
            rows[1].contains("| 9,000 | — | 9,900 | — | +10% |"),
            "{}",
            rows[1]
        );
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![]), 0.0);
        assert_eq!(median(vec![7.0]), 7.0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(vec![10.0, 1.0]), 5.5);
    }

    #[test]
    fn summarize_takes_medians_totals_and_maxima() {
        let sc = Subject::Scenario(Scenario::SoPatch);
        let mut runs = vec![
            run(Backend::Sqlite, sc, 8, 1, 100.0, 1.0, 10.0),
            run(Backend::Sqlite, sc, 8, 2, 300.0, 3.0, 30.0),
            run(Backend::Sqlite, sc, 8, 3, 200.0, 2.0, 20.0),
        ];
        runs[0].measurement.errors = 2;
        runs[2].measurement.errors = 3;
        runs[1].peak_rss_kib = Some(90_000);
        runs[1].contention.contended = true;
        let rows = summarize(&report(runs));
        assert_eq!(rows.len(), 1);
        let s = &rows[0];
        assert_eq!(s.rounds, 3);
        assert!((s.throughput - 200.0).abs() < 1e-9);
        assert_eq!(s.p50_us, 2000.0);
        assert_eq!(s.p99_us, 20_000.0);
        assert_eq!(s.errors, 5);
        assert_eq!(s.peak_rss_kib, Some(90_000));
        assert!(s.contended);
        // No ceiling measured: no ratio.
        assert_eq!(s.ratio, None);
    }

    #[test]
    fn cpu_per_request_is_the_median_over_rounds_and_absent_when_unmeasured() {
        let mut runs: Vec<Run> = [1000.0, 2000.0, 4000.0]
            .into_iter()
            .enumerate()
            .map(|(i, rate)| {
                run(
                    Backend::Postgres,
                    Subject::Scenario(Scenario::SoPatch),
                    8,
                    u32::try_from(i + 1).unwrap(),
                    rate,
                    1.0,
                    5.0,
                )
            })
            .collect();
        // 10 s of 1,000 requests a second in round 2: 20 s of server time
        // is 2,000 µs a request (rounds 1 and 3 spend 500 µs).
        runs[1].cpu = Some(CpuTime {
            server_s: 20.0,
            database_s: 0.0,
            client_s: 0.0,
        });
        let rows = summarize(&report(runs.clone()));
        let cpu = rows[0].cpu.unwrap();
        assert!((cpu.server_us - 500.0).abs() < 1e-6, "{cpu:?}");
        assert!((cpu.database_us - 250.0).abs() < 1e-6, "{cpu:?}");
        let md = markdown(&report(runs.clone()));
        assert!(md.contains("### CPU time per request"), "{md}");
        assert!(
            md.contains("| 1. SuperOffice PATCH (JSON Patch: test + 2 replace) | PostgreSQL | 8 | 500 | 250 |"),
            "{md}"
        );
        // A round without a measurement leaves the figure out.
        runs[0].cpu = None;
        let rows = summarize(&report(runs));
        assert_eq!(rows[0].cpu, None);
    }

    #[test]
    fn the_document_cache_share_is_over_all_rounds_and_primed_runs_say_so() {
        let mut runs: Vec<Run> = (1..=2)
            .map(|round| {
                run(
                    Backend::Postgres,
                    Subject::Scenario(Scenario::SoPatch),
                    8,
                    round,
                    1000.0,
                    1.0,
                    5.0,
                )
            })
            .collect();
        // 90 of 100 and 30 of 100 planned on the cache: 60% over both.
        runs[0].cache = Some(CacheUse {
            written: 90,
            stale: 1,
            missed: 9,
        });
        runs[1].cache = Some(CacheUse {
            written: 30,
            stale: 0,
            missed: 70,
        });
        let rows = summarize(&report(runs.clone()));
        let cached = rows[0].cached.unwrap_or_default();
        assert!((cached - 0.6).abs() < 1e-9, "{cached}");
        let md = markdown(&report(runs.clone()));
        assert!(md.contains("| 500 | 250 | 10 | 760 | 60% |"), "{md}");
        assert!(md.contains("- **Primed (PostgreSQL, `--prime`):**"), "{md}");
        // Without figures the column says so, and a cold run does not
        // claim priming.
        for r in &mut runs {
            r.cache = None;
        }
        let mut cold = report(runs);
        cold.primed = false;
        let md = markdown(&cold);
        assert!(md.contains("| 500 | 250 | 10 | 760 | — |"), "{md}");
        assert!(!md.contains("Primed"), "{md}");
    }

    #[test]
    fn summarize_orders_by_backend_subject_and_concurrency() {
        let rows = summarize(&full_report());
        let keys: Vec<_> = rows
            .iter()
            .map(|s| (s.backend, s.subject, s.concurrency))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(keys.first(), Some(&(Backend::Sqlite, Subject::Ceiling, 1)));
        assert_eq!(
            keys.last(),
            Some(&(Backend::Postgres, Subject::Scenario(Scenario::SoGet), 32))
        );
        assert_eq!(rows.len(), 2 * 5 * 3);
    }

    #[test]
    fn ratio_uses_the_ceiling_at_the_same_backend_and_concurrency() {
        let patch = Subject::Scenario(Scenario::HcPatch);
        let get = Subject::Scenario(Scenario::SoGet);
        let runs = vec![
            run(Backend::Postgres, Subject::Ceiling, 8, 1, 1000.0, 1.0, 2.0),
            run(Backend::Postgres, Subject::Ceiling, 8, 2, 3000.0, 1.0, 2.0),
            run(Backend::Postgres, Subject::Ceiling, 32, 1, 5000.0, 1.0, 2.0),
            run(Backend::Sqlite, Subject::Ceiling, 8, 1, 9000.0, 1.0, 2.0),
            run(Backend::Postgres, patch, 8, 1, 1000.0, 1.0, 2.0),
            run(Backend::Postgres, patch, 1, 1, 1000.0, 1.0, 2.0),
            run(Backend::Postgres, get, 8, 1, 4000.0, 1.0, 2.0),
        ];
        let rows = summarize(&report(runs));
        let at = |subject, conns| {
            rows.iter()
                .find(|s| {
                    s.backend == Backend::Postgres && s.subject == subject && s.concurrency == conns
                })
                .cloned()
        };
        let ours = at(patch, 8);
        // Ceiling median of 1,000 and 3,000 is 2,000.
        assert_eq!(
            ours.as_ref().and_then(|s| s.ceiling_throughput),
            Some(2000.0)
        );
        assert_eq!(ours.as_ref().and_then(|s| s.ratio), Some(0.5));
        // No PostgreSQL ceiling at 1 connection.
        assert_eq!(at(patch, 1).and_then(|s| s.ratio), None);
        // Reads have no ratio.
        let read = at(get, 8);
        assert!(read.is_some());
        assert_eq!(read.and_then(|s| s.ratio), None);
        // Ceilings have none either.
        assert_eq!(at(Subject::Ceiling, 8).and_then(|s| s.ratio), None);
    }

    fn find_aim<'a>(aims: &'a [Aim], needle: &str) -> &'a Aim {
        let found = aims.iter().find(|a| a.name.contains(needle));
        assert!(found.is_some(), "no aim named like {needle:?} in {aims:#?}");
        let Some(aim) = found else { unreachable!() };
        aim
    }

    #[test]
    fn aims_all_met() {
        let aims = aims(&full_report());
        for aim in &aims {
            assert!(aim.met, "{aim:?}");
        }
        // PG ratio at 8 and 32, SQLite at 1, 8, 32, PG p50, p99 ×2, RSS ×2,
        // startup ×2, errors ×2, lost ×2.
        assert_eq!(aims.len(), 2 + 3 + 1 + 2 + 2 + 2 + 2 + 2);
        let pg8 = find_aim(&aims, "PostgreSQL scenario 1 at 8 conns");
        assert_eq!(pg8.measured, "0.70 × (2,800 req/s vs 4,000 tx/s)");
        let p50 = find_aim(&aims, "p50");
        assert_eq!(p50.measured, "1.50 × (1.50 ms vs 1.00 ms)");
        let p99 = find_aim(&aims, "SQLite p99");
        assert_eq!(
            p99.measured,
            "so-patch 10.00 ms · hc-patch 10.00 ms · chatbot-email 10.00 ms · so-get 10.00 ms"
        );
        assert_eq!(find_aim(&aims, "SQLite startup").measured, "60.0 ms");
        assert_eq!(
            find_aim(&aims, "SQLite server peak RSS").measured,
            "40.0 MiB"
        );
    }

    #[test]
    fn aims_missed() {
        let mut report = full_report();
        for run in &mut report.runs {
            let so_patch = run.subject == Subject::Scenario(Scenario::SoPatch);
            match (run.backend, run.subject, run.concurrency) {
                // PostgreSQL scenario 1 at 32: 0.5 × the ceiling.
                (Backend::Postgres, _, 32) if so_patch => {
                    run.measurement.ok = 20_000;
                }
                // PostgreSQL scenario 1 at 1: p50 2.5 × pgbench's.
                (Backend::Postgres, _, 1) if so_patch => {
                    run.measurement.latency.p50_us = 2500;
                }
                // SQLite scenario 1 at 8: 0.4 × the ceiling.
                (Backend::Sqlite, _, 8) if so_patch => {
                    run.measurement.ok = 16_000;
                }
                // SQLite scenario 4 at 32: p99 of exactly 25 ms, and errors.
                (Backend::Sqlite, Subject::Scenario(Scenario::SoGet), 32) => {
                    run.measurement.latency.p99_us = 25_000;
                    run.measurement.errors = 3;
                    run.peak_rss_kib = Some(100 * 1024);
                }
                (Backend::Postgres, Subject::Scenario(Scenario::ChatbotEmail), 8) => {
                    if let Some(d) = run.delivery.as_mut() {
                        d.lost = 4;
                    }
                }
                _ => {}
            }
        }
        report.startups.push(Startup {
            backend: Backend::Postgres,
            ready_ms: 300.0,
        });
        let aims = aims(&report);
        let missed: Vec<&str> = aims
            .iter()
            .filter(|a| !a.met)
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(
            missed,
            [
                "PostgreSQL scenario 1 at 32 conns vs pgbench",
                "SQLite scenario 1 at 8 conns vs the bare-connection ceiling",
                "PostgreSQL scenario 1 at 1 conn: p50 vs pgbench's p50",
                "SQLite p99 at 32 conns, every scenario",
                "SQLite server peak RSS",
                "PostgreSQL startup to 200 from /readyz (slowest start)",
                "SQLite errors, every scenario",
                "PostgreSQL lost webhook events (scenario 3)",
            ]
        );
        assert_eq!(
            find_aim(&aims, "PostgreSQL scenario 1 at 32").measured,
            "0.50 × (2,000 req/s vs 4,000 tx/s)"
        );
        assert_eq!(
            find_aim(&aims, "SQLite errors").measured,
            "3 (so-get@32: 3)"
        );
        assert_eq!(
            find_aim(&aims, "PostgreSQL lost").measured,
            "4 of 63,000 acknowledged"
        );
    }

    #[test]
    fn aims_not_measured_are_missed_and_absent_backends_left_out() {
        // SQLite only, scenario 1 only at 1 and 8, no ceiling at 8.
        let sc = Subject::Scenario(Scenario::SoPatch);
        let mut report = report(vec![
            run(Backend::Sqlite, Subject::Ceiling, 1, 1, 1000.0, 1.0, 2.0),
            run(Backend::Sqlite, sc, 1, 1, 900.0, 1.0, 2.0),
            run(Backend::Sqlite, sc, 8, 1, 900.0, 1.0, 2.0),
        ]);
        report.startups.retain(|s| s.backend == Backend::Sqlite);
        let aims = aims(&report);
        assert!(
            aims.iter().all(|a| !a.name.contains("PostgreSQL")),
            "{aims:#?}"
        );
        assert!(find_aim(&aims, "SQLite scenario 1 at 1 conn ").met);
        let at8 = find_aim(&aims, "SQLite scenario 1 at 8 conns");
        assert!(!at8.met);
        assert_eq!(at8.measured, NOT_MEASURED);
        let p99 = find_aim(&aims, "SQLite p99");
        assert!(!p99.met);
        assert_eq!(p99.measured, "so-patch not measured at 32");
    }

    #[test]
    fn splice_replaces_between_markers() {
        let doc = "# Benchmarks\n\nintro\n<!-- loadgen:begin -->\nold\nstuff\n<!-- loadgen:end -->\n\n## After\n";
        let out = splice(doc, "new section\n");
        assert_eq!(
            out,
            "# Benchmarks\n\nintro\n<!-- loadgen:begin -->\nnew section\n<!-- loadgen:end -->\n\n## After\n"
        );
        assert_eq!(splice(&out, "new section"), out);
    }

    #[test]
    fn splice_appends_without_markers() {
        let out = splice("# Benchmarks\n", "section");
        assert_eq!(
            out,
            "# Benchmarks\n\n<!-- loadgen:begin -->\nsection\n<!-- loadgen:end -->\n"
        );
        // Once appended, splicing again replaces in place.
        assert_eq!(splice(&out, "other"), out.replace("section", "other"));
    }

    #[test]
    fn splice_with_only_a_begin_marker_closes_it() {
        let out = splice("a\n<!-- loadgen:begin -->\nleft over", "s");
        assert_eq!(out, "a\n<!-- loadgen:begin -->\ns\n<!-- loadgen:end -->\n");
    }

    #[test]
    fn markdown_has_every_table() {
        let mut report = full_report();
        report.runs[1].contention.contended = true;
        report.command = "just bench | tee log".to_owned();
        report.machine = "Test CPU (2 cores), 24 GiB, Linux 6.1".to_owned();
        let md = markdown(&report);
        let mut odd = full_report();
        odd.machine = "<b>box</b> & co".to_owned();
        assert!(markdown(&odd).contains("- **Machine:** &lt;b&gt;box&lt;/b&gt; &amp; co\n"));
        for expected in [
            "- **Machine:** Test CPU (2 cores), 24 GiB, Linux 6.1",
            "- **Started:** 2026-05-01T12:00:00Z",
            "```sh\njust bench | tee log\n```",
            "| SQLite | WAL, synchronous = FULL | bare connection: 1 UPDATE + 1 INSERT |",
            "| SQLite | 2 | 50.0 | 60.0 |",
            "| PostgreSQL | 1 | 90.0 | 90.0 |",
            "### Throughput and latency (1 round)",
            "| 1. SuperOffice PATCH (JSON Patch: test + 2 replace) | PostgreSQL | 8 | 2,800 | 4,000 | 0.70 | 1.50 | 10.00 | 20.00 | 0 | 40.0 |",
            "| 1. SuperOffice PATCH (JSON Patch: test + 2 replace) | SQLite | 1 | 2,800 ⚠ | 4,000 | 0.70 |",
            "| 4. SuperOffice GET with $select | SQLite | 32 | 12,000 | — | — | 1.50 | 10.00 | 20.00 | 0 | 40.0 |",
            "| PostgreSQL | 32 | 4,000 | 1.00 | 3.00 |",
            "| SQLite | 8 | 28,000 | 28,000 | 0 | 1 | 2,800 | 1.50 | 6.00 |",
            "| PostgreSQL scenario 1 at 8 conns vs pgbench | ≥ 0.60 × ceiling | 0.70 × (2,800 req/s vs 4,000 tx/s) | ✅ |",
            "| 2 | SQLite | so-patch | 1 | 1 | 2,800 | 10.00 | 0 | 0.50 | 2.0 | 0.0 | ⚠ |",
            "| 1 | SQLite | ceiling | 1 | 1 | 4,000 | 3.00 | 0 | 0.50 | 2.0 | 0.0 |  |",
        ] {
            assert!(md.contains(expected), "missing {expected:?} in\n{md}");
        }
        // Ceilings are not rows of the main table.
        let main = md
            .split("### Throughput and latency")
            .nth(1)
            .and_then(|rest| rest.split("### Ceilings").next())
            .unwrap_or_default();
        assert_eq!(
            main.lines().filter(|l| l.starts_with("| ")).count(),
            1 + 2 * 4 * 3
        );
        assert!(!md.contains("❌"));
    }

    #[test]
    fn console_table_lines_up() {
        let table = console_table(&full_report());
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 1 + 2 * 4 * 3);
        assert!(lines[0].starts_with("scenario"));
        assert!(lines[0].ends_with("errors"));
        assert!(table.contains("so-get"));
        let pg = lines
            .iter()
            .find(|l| l.starts_with("so-patch") && l.contains("postgres"));
        assert!(pg.is_some_and(|l| l.contains("0.70")));
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_count(0.4), "0");
        assert_eq!(fmt_count(999.6), "1,000");
        assert_eq!(fmt_count(1_234_567.0), "1,234,567");
        assert_eq!(fmt_ms(1234.0), "1.23");
        assert_eq!(fmt_ratio(Some(0.666)), "0.67");
        assert_eq!(fmt_mib(Some(1536)), "1.5");
        assert_eq!(fence_for("a ``` b"), "````");
    }
}
