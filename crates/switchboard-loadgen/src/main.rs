//! `switchboard-loadgen`: the load benchmark of issue #8.
//!
//! `switchboard-loadgen run` seeds a dataset, starts the real `switchboard`
//! binary on SQLite and then on a throwaway PostgreSQL cluster, drives it over
//! HTTP, measures the database's own ceiling in the same run, and writes
//! `report.json`, `report.md` and `throughput.svg` (and, with
//! `--update-docs`, the section of `docs/benchmarks.md` between its markers).
//! `switchboard-loadgen render` redoes the outputs from a saved `report.json`;
//! `switchboard-loadgen compare --before A --after B` puts two of them side
//! by side, each scenario against its own run's ceiling.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use switchboard_loadgen::bench::{self, Options};
use switchboard_loadgen::dataset::Size;
use switchboard_loadgen::model::{Backend, Report, Scenario};
use switchboard_loadgen::query::{self, QueryOptions, QueryReport};
use switchboard_loadgen::{chart, report, server};

#[derive(Debug, Parser)]
#[command(
    name = "switchboard-loadgen",
    version,
    about = "Switchboard's load benchmark: ours against the database's ceiling, in the same run"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the benchmark and write the report.
    Run(RunArgs),
    /// Compare two saved reports (before and after a change): each
    /// scenario's throughput and its ratio to its own run's ceiling.
    Compare {
        /// The report before the change.
        #[arg(long)]
        before: PathBuf,
        /// The report after the change.
        #[arg(long)]
        after: PathBuf,
    },
    /// The query benchmark: a large dataset imported in bulk, the common
    /// searches against a point GET in the same run, and page walks.
    Query(QueryArgs),
    /// Write the report's outputs again from a saved report.json.
    Render {
        /// The saved report.
        #[arg(long, default_value = "target/loadgen/report.json")]
        report: PathBuf,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Args)]
struct Output {
    /// Where report.json, report.md and throughput.svg go.
    #[arg(long, default_value = "target/loadgen")]
    out: PathBuf,
    /// Also replace the section between `<!-- loadgen:begin -->` and
    /// `<!-- loadgen:end -->` in this file, and copy the chart beside it.
    #[arg(long)]
    update_docs: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The `switchboard` binary (default: the one next to this executable).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Backends to run, in order.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    backends: Vec<String>,
    /// Scenarios to run: so-patch, hc-patch, chatbot-email, so-get.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "so-patch,hc-patch,chatbot-email,so-get"
    )]
    scenarios: Vec<String>,
    /// Concurrent connections.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    concurrency: Vec<u32>,
    /// Rounds of every configuration (medians are reported).
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Seconds of warm-up before each run.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Seconds measured per run.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Customers in the dataset.
    #[arg(long, default_value_t = 10_000)]
    customers: usize,
    /// Conversations in the dataset.
    #[arg(long, default_value_t = 10_000)]
    conversations: usize,
    /// Threads of the load generator (pgbench gets the same `-j`).
    #[arg(long, default_value_t = 1)]
    threads: u32,
    /// Seconds scenario 3 waits for outstanding webhooks without progress.
    #[arg(long, default_value_t = 30.0)]
    drain_timeout: f64,
    /// Prime each fresh PostgreSQL server before each scenario that
    /// writes: every row it writes, written once through the server (not
    /// measured), so that its document cache holds them.
    #[arg(long)]
    prime: bool,
    /// WAL segments (16 MB each) the benchmark's own PostgreSQL cluster
    /// gets ready for reuse before the first round, as a cluster past its
    /// first checkpoint has them (64: PostgreSQL's default `max_wal_size`,
    /// 1 GB); 0 measures a brand-new cluster, which creates and zero-fills a
    /// new segment file every 16 MB of WAL while every commit waits.
    #[arg(long, default_value_t = 64)]
    ready_wal_segments: u32,
    /// Extra server settings, `NAME=VALUE` (e.g. `SWITCHBOARD_WEBHOOK_ENABLED=false`),
    /// for comparing configurations; recorded in the report's command.
    #[arg(long = "server-env", value_name = "NAME=VALUE")]
    server_env: Vec<String>,
    /// Databases and logs (default: `<out>/work`; the SQLite file is replaced).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, Args)]
struct QueryArgs {
    /// The `switchboard` binary (default: the one next to this executable).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Backends to run, in order.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    backends: Vec<String>,
    /// Concurrent connections.
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    concurrency: Vec<u32>,
    /// Seconds of warm-up before each run.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Seconds measured per run.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Seconds each search and the page walk run unmeasured, at the largest
    /// connection count, before a backend's first measured run (0: none).
    #[arg(long, default_value_t = 3.0)]
    warm: f64,
    /// Customers in the dataset.
    #[arg(long, default_value_t = 1_000_000)]
    customers: usize,
    /// Conversations in the dataset.
    #[arg(long, default_value_t = 1_000_000)]
    conversations: usize,
    /// Rows one page walk covers (100 per page).
    #[arg(long, default_value_t = 10_000)]
    walk_rows: usize,
    /// Databases and logs (default: `<out>/work`; the SQLite file is replaced).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Where report.json and report.md go.
    #[arg(long, default_value = "target/loadgen-query")]
    out: PathBuf,
    /// Also replace the section between `<!-- loadgen-query:begin -->` and
    /// `<!-- loadgen-query:end -->` in this file.
    #[arg(long)]
    update_docs: Option<PathBuf>,
}

fn backends(names: &[String]) -> anyhow::Result<Vec<Backend>> {
    names
        .iter()
        .map(|b| match b.trim() {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            other => bail!("unknown backend {other:?} (sqlite, postgres)"),
        })
        .collect()
}

fn server_binary(given: Option<&PathBuf>) -> anyhow::Result<PathBuf> {
    match given {
        Some(p) => Ok(p.clone()),
        None => server::sibling_binary().context(
            "no switchboard binary next to this one: build it (cargo build --release -p switchboard-server) or pass --server-bin",
        ),
    }
}

fn query_options(args: &QueryArgs) -> anyhow::Result<QueryOptions> {
    if args.concurrency.is_empty() || args.concurrency.contains(&0) {
        bail!("--concurrency needs positive connection counts");
    }
    if args.customers == 0 || args.conversations == 0 {
        bail!("the dataset needs at least one customer and one conversation");
    }
    Ok(QueryOptions {
        server_binary: server_binary(args.server_bin.as_ref())?,
        backends: backends(&args.backends)?,
        concurrency: args.concurrency.clone(),
        warmup: seconds(args.warmup, "warmup")?,
        duration: seconds(args.duration, "duration")?,
        warm: seconds(args.warm, "warm")?,
        customers: args.customers,
        conversations: args.conversations,
        walk_rows: args.walk_rows,
        work_dir: args
            .work_dir
            .clone()
            .unwrap_or_else(|| args.out.join("work")),
        command: std::env::args().collect::<Vec<_>>().join(" "),
    })
}

/// Writes report.json and report.md (and the docs section), prints the
/// aims; errors fail the run, missed aims are reported.
fn write_query_outputs(report: &QueryReport, args: &QueryArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(
        args.out.join("report.json"),
        serde_json::to_string_pretty(report)?,
    )?;
    let markdown = query::markdown(report);
    std::fs::write(args.out.join("report.md"), &markdown)?;
    if let Some(doc) = &args.update_docs {
        let text = std::fs::read_to_string(doc)
            .with_context(|| format!("cannot read {}", doc.display()))?;
        let spliced = report::splice_between(
            &text,
            &markdown,
            "<!-- loadgen-query:begin -->",
            "<!-- loadgen-query:end -->",
        );
        std::fs::write(doc, spliced)?;
        eprintln!("updated {}", doc.display());
    }
    for (what, measured, met) in query::aims(report) {
        println!(
            "{} {what}: {measured}",
            if met { "met   " } else { "MISSED" }
        );
    }
    eprintln!("wrote {}", args.out.display());
    let errors: u64 = report
        .runs
        .iter()
        .map(|r| r.measurement.errors)
        .sum::<u64>()
        + report
            .walks
            .iter()
            .map(|w| w.measurement.errors)
            .sum::<u64>();
    if errors > 0 {
        eprintln!("FAILED: {errors} request errors");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn seconds(s: f64, what: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s)
        .with_context(|| format!("--{what} must be a non-negative number of seconds"))
}

fn options(args: &RunArgs) -> anyhow::Result<Options> {
    let backends = backends(&args.backends)?;
    let scenarios = args
        .scenarios
        .iter()
        .map(|s| Scenario::from_name(s.trim()).with_context(|| format!("unknown scenario {s:?}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let server_binary = server_binary(args.server_bin.as_ref())?;
    if args.concurrency.is_empty() || args.concurrency.contains(&0) {
        bail!("--concurrency needs positive connection counts");
    }
    if args.customers == 0 || args.conversations == 0 {
        bail!("the dataset needs at least one customer and one conversation");
    }
    let server_env = args
        .server_env
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .with_context(|| format!("--server-env {kv:?}: expected NAME=VALUE"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Options {
        server_env,
        server_binary,
        backends,
        scenarios,
        concurrency: args.concurrency.clone(),
        rounds: args.rounds.max(1),
        warmup: seconds(args.warmup, "warmup")?,
        duration: seconds(args.duration, "duration")?,
        size: Size {
            customers: args.customers,
            conversations: args.conversations,
        },
        pgbench_threads: args.threads.max(1),
        work_dir: args
            .work_dir
            .clone()
            .unwrap_or_else(|| args.output.out.join("work")),
        drain_timeout: seconds(args.drain_timeout, "drain-timeout")?,
        prime: args.prime,
        ready_wal_segments: args.ready_wal_segments,
        command: std::env::args().collect::<Vec<_>>().join(" "),
    })
}

fn write_outputs(report: &Report, output: &Output) -> anyhow::Result<()> {
    std::fs::create_dir_all(&output.out)?;
    let json = serde_json::to_string_pretty(report)?;
    std::fs::write(output.out.join("report.json"), json)?;
    let markdown = report::markdown(report);
    std::fs::write(output.out.join("report.md"), &markdown)?;
    let svg = chart::svg(report);
    std::fs::write(output.out.join("throughput.svg"), &svg)?;
    if let Some(doc) = &output.update_docs {
        let text = std::fs::read_to_string(doc)
            .with_context(|| format!("cannot read {}", doc.display()))?;
        std::fs::write(doc, report::splice(&text, &markdown))?;
        let dir = doc.parent().unwrap_or(Path::new("."));
        std::fs::write(dir.join("load-throughput.svg"), &svg)?;
        eprintln!(
            "updated {} and {}",
            doc.display(),
            dir.join("load-throughput.svg").display()
        );
    }
    println!("{}", report::console_table(report));
    for aim in report::aims(report) {
        println!(
            "{} {}: {} (aim {})",
            if aim.met { "met   " } else { "MISSED" },
            aim.name,
            aim.measured,
            aim.target
        );
    }
    eprintln!("wrote {}", output.out.display());
    Ok(())
}

/// Reads a saved report.json.
fn load(path: &Path) -> anyhow::Result<Report> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a report", path.display()))
}

/// Errors and lost webhook events fail the run; missed aims are reported.
fn verdict(report: &Report) -> ExitCode {
    let errors: u64 = report.runs.iter().map(|r| r.measurement.errors).sum();
    let lost: u64 = report
        .runs
        .iter()
        .filter_map(|r| r.delivery)
        .map(|d| d.lost)
        .sum();
    if errors > 0 || lost > 0 {
        eprintln!("FAILED: {errors} request errors, {lost} lost webhook events");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => {
            let options = options(&args)?;
            let threads = usize::try_from(args.threads.max(1)).unwrap_or(1);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .enable_all()
                .build()?;
            let report = runtime.block_on(bench::run(&options))?;
            write_outputs(&report, &args.output)?;
            Ok(verdict(&report))
        }
        Command::Query(args) => {
            let options = query_options(&args)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()?;
            let report = runtime.block_on(query::run(&options))?;
            write_query_outputs(&report, &args)
        }
        Command::Compare { before, after } => {
            print!("{}", report::compare(&load(&before)?, &load(&after)?));
            Ok(ExitCode::SUCCESS)
        }
        Command::Render { report, output } => {
            let report = load(&report)?;
            write_outputs(&report, &output)?;
            Ok(verdict(&report))
        }
    }
}
