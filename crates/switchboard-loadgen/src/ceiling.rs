//! The database's own ceiling, measured in the same run as our server: the
//! least a conversation update with a transactional outbox can cost, one
//! single-row `UPDATE conversations` plus one `INSERT INTO outbox` per
//! transaction, with nothing of ours in between.
//!
//! * [`sqlite`]: one bare connection ([`switchboard_testsupport::ceiling`]),
//!   the store's pragmas, `BEGIN IMMEDIATE`, statements prepared once. SQLite
//!   has one writer, so one connection is its ceiling at any concurrency.
//! * [`pgbench`]: PostgreSQL's own benchmark tool with a custom script
//!   ([`pgbench_script`]), `-M prepared`, one client per connection, its
//!   per-transaction log parsed so that warm-up and tail are left out exactly
//!   as for our runs.
//!
//! Both pick a random conversation of the [`Target`] per transaction, set its
//! `rank`, bump its version, and write an outbox row with a payload the size
//! of a real `conversation_updated` event.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow, bail, ensure};
use hdrhistogram::Histogram;
use switchboard_testsupport::ceiling::{Bare, CeilingWrite, Synchronous};

use crate::load::Rng;
use crate::model::{Backend, Latency, Measurement, histogram};

/// The rows the ceiling writes: one tenant's conversations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The tenant's id.
    pub tenant: i64,
    /// The tenant's name (`company_username` in the outbox payload).
    pub tenant_name: String,
    /// `(conversation id, document JSON)`, as stored.
    pub rows: Vec<(i64, String)>,
}

impl Target {
    /// Reads the tenant's conversations from the database at `url` (the
    /// store's URL forms) on a bare connection.
    ///
    /// # Errors
    ///
    /// When the database cannot be read or the tenant has no conversations.
    pub fn load(url: &str, tenant: i64, tenant_name: &str) -> anyhow::Result<Self> {
        let mut bare = Bare::open(url, Synchronous::Full)?;
        let rows = bare.conversation_docs(tenant)?;
        ensure!(!rows.is_empty(), "tenant {tenant} has no conversations");
        Ok(Self {
            tenant,
            tenant_name: tenant_name.to_owned(),
            rows,
        })
    }

    /// The outbox payload of a `conversation_updated` event that changed
    /// `rank` of the conversation `doc`: the members every real payload has,
    /// with the whole document.
    #[must_use]
    pub fn payload(&self, doc: &str) -> String {
        let company = serde_json::Value::from(self.tenant_name.as_str());
        format!(
            r#"{{"event":"conversation_updated","company_username":{company},"conversation":{doc},"changed_fields":["rank"]}}"#
        )
    }

    /// The conversation ids as `(min, max)`, which must be contiguous (for
    /// pgbench's `random(min, max)`).
    ///
    /// # Errors
    ///
    /// When there are no rows or the ids have gaps.
    pub fn id_range(&self) -> anyhow::Result<(i64, i64)> {
        let mut ids: Vec<i64> = self.rows.iter().map(|(id, _)| *id).collect();
        ids.sort_unstable();
        let (Some(&min), Some(&max)) = (ids.first(), ids.last()) else {
            bail!("tenant {} has no conversations", self.tenant);
        };
        let gap = ids
            .windows(2)
            .find(|pair| pair[1] != pair[0] + 1)
            .map(|pair| (pair[0], pair[1]));
        if let Some((before, after)) = gap {
            bail!(
                "the conversation ids of tenant {} are not contiguous ({before} is followed by \
                 {after}); pgbench draws ids from random({min}, {max}) and would miss rows",
                self.tenant
            );
        }
        Ok((min, max))
    }
}

/// The JSON Patch of a rank change, as the store writes it.
#[must_use]
pub fn rank_diff(rank: i64) -> String {
    format!(r#"[{{"op":"replace","path":"/rank","value":{rank}}}]"#)
}

/// How each backend's ceiling is defined, for the report.
#[must_use]
pub fn describe(backend: Backend, pgbench_threads: u32) -> String {
    let tx = "one random conversation's doc/updated_at/version UPDATE plus one outbox INSERT \
              (real-sized conversation_updated payload) per transaction";
    match backend {
        Backend::Sqlite => format!(
            "one bare SQLite connection (SQLite has one writer): {tx}; BEGIN IMMEDIATE, \
             statements prepared once, the store's pragmas"
        ),
        Backend::Postgres => format!(
            "pgbench -M prepared -j {pgbench_threads}, one client per connection: {tx}; \
             the rank set with jsonb_set; the outbox row done when written unless a \
             subscription matches (the store's rule)"
        ),
    }
}

/// The durability settings of the database at `url`, as the ceiling runs
/// with them (`synchronous` applies to SQLite only).
///
/// # Errors
///
/// When `synchronous` is neither `full` nor `normal`, or the database
/// cannot be read.
pub fn durability(url: &str, synchronous: &str) -> anyhow::Result<String> {
    let mut bare = Bare::open(url, parse_synchronous(synchronous)?)?;
    Ok(bare.durability()?)
}

/// Marks every unprocessed outbox event of the database at `url` processed
/// (see [`Bare::settle_outbox`]); returns how many there were.
///
/// # Errors
///
/// When the database cannot be opened or updated.
pub fn settle_outbox(url: &str) -> anyhow::Result<usize> {
    let mut bare = Bare::open(url, Synchronous::Full)?;
    Ok(bare.settle_outbox(switchboard_storage::now().as_millis())?)
}

/// Leaves `segments` WAL segments ready for reuse in the PostgreSQL
/// cluster at `url` ([`Bare::ready_wal`]): how many there are after, `None`
/// on SQLite.
///
/// # Errors
///
/// When the database cannot be opened or a statement fails (the URL's role
/// must be allowed to switch the WAL and checkpoint).
pub fn ready_wal(url: &str, segments: u32) -> anyhow::Result<Option<i64>> {
    let mut bare = Bare::open(url, Synchronous::Full)?;
    Ok(bare.ready_wal(segments)?)
}

fn parse_synchronous(name: &str) -> anyhow::Result<Synchronous> {
    match name.to_ascii_lowercase().as_str() {
        "full" => Ok(Synchronous::Full),
        "normal" => Ok(Synchronous::Normal),
        other => bail!("unknown SQLite synchronous setting {other:?} (use full or normal)"),
    }
}

// ---- SQLite: one bare connection --------------------------------------------

/// A row of the target, ready to be written with a new rank.
#[derive(Debug)]
struct Row {
    id: i64,
    /// The document around its top-level `rank` value, or the document
    /// whole (written back unchanged) when it has no `rank`.
    doc: RankedDoc,
    payload: String,
}

#[derive(Debug, PartialEq, Eq)]
enum RankedDoc {
    Split { head: String, tail: String },
    Whole(String),
}

impl RankedDoc {
    /// Splits `doc` around its top-level `rank` member (re-serialized, so
    /// the member order may differ from the stored text; the size does not).
    fn new(doc: &str) -> Self {
        const MARKER: &str = "\u{1}rank\u{1}";
        let split = || {
            let mut value: serde_json::Value = serde_json::from_str(doc).ok()?;
            let member = value.as_object_mut()?.get_mut("rank")?;
            *member = serde_json::Value::from(MARKER);
            let text = serde_json::to_string(&value).ok()?;
            let quoted = serde_json::to_string(MARKER).ok()?;
            let (head, tail) = text.split_once(&quoted)?;
            (!tail.contains(&quoted)).then(|| Self::Split {
                head: head.to_owned(),
                tail: tail.to_owned(),
            })
        };
        split().unwrap_or_else(|| Self::Whole(doc.to_owned()))
    }

    /// The document with `rank`, into `out` (cleared first).
    fn render(&self, rank: i64, out: &mut String) {
        out.clear();
        match self {
            Self::Split { head, tail } => {
                out.push_str(head);
                let _ = write!(out, "{rank}");
                out.push_str(tail);
            }
            Self::Whole(doc) => out.push_str(doc),
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// The SQLite ceiling: one bare connection with the store's pragmas and
/// `synchronous` (`full` or `normal`) writes random rows of `target` back to
/// back, each transaction's latency recorded. Transactions that finish
/// during `warmup` or after `warmup + duration` are not counted.
///
/// # Errors
///
/// When the database cannot be opened, `synchronous` is unknown, or no
/// transaction succeeded although some failed (then with the first
/// failure); later failures are counted in `errors`.
pub fn sqlite(
    url: &str,
    synchronous: &str,
    target: &Target,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Measurement> {
    ensure!(
        !target.rows.is_empty(),
        "the ceiling needs at least one row"
    );
    let rows: Vec<Row> = target
        .rows
        .iter()
        .map(|(id, doc)| Row {
            id: *id,
            doc: RankedDoc::new(doc),
            payload: target.payload(doc),
        })
        .collect();
    let mut bare = Bare::open(url, parse_synchronous(synchronous)?)?;
    ensure!(bare.is_sqlite(), "{url} is not an SQLite database");

    let mut latencies = histogram()?;
    let (mut ok, mut errors) = (0u64, 0u64);
    let mut first_error = None;
    let mut rng = Rng::new(7);
    let mut doc = String::new();
    let start = Instant::now();
    let (from, until) = (start + warmup, start + warmup + duration);
    while Instant::now() < until {
        let row = &rows[rng.below(rows.len())];
        let rank = i64::try_from(rng.next_u64() % 1_000_000).unwrap_or(0) + 1;
        row.doc.render(rank, &mut doc);
        let diff = rank_diff(rank);
        let write = CeilingWrite {
            tenant: target.tenant,
            id: row.id,
            doc: &doc,
            payload: &row.payload,
            diff: &diff,
            at_ms: now_ms(),
        };
        let began = Instant::now();
        let outcome = bare.write(&write, true);
        let finished = Instant::now();
        let counted = finished >= from && finished <= until;
        match outcome {
            Ok(()) if counted => {
                ok += 1;
                latencies.saturating_record(micros(finished - began));
            }
            Ok(()) => {}
            Err(error) => {
                errors += u64::from(counted);
                first_error.get_or_insert(error);
            }
        }
    }
    if ok == 0
        && let Some(error) = first_error
    {
        return Err(anyhow!(error).context("every SQLite ceiling transaction failed"));
    }
    Ok(Measurement {
        ok,
        errors,
        seconds: duration.as_secs_f64(),
        latency: Latency::of(&latencies),
    })
}

// ---- PostgreSQL: pgbench ------------------------------------------------------

/// Rewrites JSON text so that pgbench finds no variable in it. pgbench
/// takes every `:name` of an SQL command for a variable (see
/// [`pgbench_variables`]), inside quoted literals too: in a compact
/// document `"a":true`, `"a":null` or a string `"at 10:30pm"` would be.
/// With `-M prepared` each becomes a bind parameter and the client aborts
/// ("bind message supplies 4 parameters, but prepared statement requires
/// 1"); with `-M simple` a defined variable is silently substituted. So
/// member separators become `": "` and colons inside strings `\u003a` (the
/// same JSON value); then single quotes are doubled for an SQL string
/// literal.
fn pgbench_json_literal(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + json.len() / 8);
    let (mut in_string, mut escaped) = (false, false);
    let mut chars = json.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            _ if escaped => {
                escaped = false;
                out.push(c);
            }
            '\\' if in_string => {
                escaped = true;
                out.push(c);
            }
            '"' => {
                in_string = !in_string;
                out.push(c);
            }
            ':' if in_string => out.push_str("\\u003a"),
            ':' => {
                out.push(':');
                if !chars.peek().is_some_and(|next| next.is_whitespace()) {
                    out.push(' ');
                }
            }
            '\'' => out.push_str("''"),
            _ => out.push(c),
        }
    }
    out
}

/// The variables pgbench would see in one SQL command, found as pgbench
/// itself does: each `:` followed by a name that starts with a letter, `_`
/// or a non-ASCII byte and goes on with those or digits; other colons
/// (`::` casts, `:1`, `: `) are skipped.
fn pgbench_variables(sql: &str) -> Vec<&str> {
    let bytes = sql.as_bytes();
    let starts_name = |b: u8| b.is_ascii_alphabetic() || b == b'_' || b >= 0x80;
    let in_name = |b: u8| starts_name(b) || b.is_ascii_digit();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b':' {
            i += 1;
            continue;
        }
        if !bytes.get(i + 1).is_some_and(|&b| starts_name(b)) {
            while i < bytes.len() && bytes[i] == b':' {
                i += 1;
            }
            continue;
        }
        let len = bytes[i + 1..].iter().take_while(|&&b| in_name(b)).count();
        found.push(&sql[i + 1..i + 1 + len]);
        i += 1 + len;
    }
    found
}

/// Milliseconds since the epoch at the transaction's start, as the store's
/// `now()` writes them.
const PG_NOW_MS: &str = "(extract(epoch FROM now()) * 1000)::bigint";

/// The pgbench script of the PostgreSQL ceiling: a random conversation of
/// `target` gets a random `rank` (`jsonb_set`), a new `updated_at` and
/// `version + 1`, and one outbox row is inserted whose payload is the
/// payload of a real row (a literal: planned once, like the SQLite
/// ceiling's precomputed payload) and whose diff names the new rank.
///
/// # Errors
///
/// When the target's ids are not contiguous, or the payload could not be
/// made free of pgbench variables.
pub fn pgbench_script(target: &Target) -> anyhow::Result<String> {
    let (min, max) = target.id_range()?;
    let tenant = target.tenant;
    let Some((_, doc)) = target.rows.first() else {
        bail!("tenant {tenant} has no conversations");
    };
    let payload = pgbench_json_literal(&target.payload(doc));
    let update = format!(
        "UPDATE conversations SET doc = jsonb_set(doc, '{{rank}}', to_jsonb(:r::int)), \
         updated_at = {PG_NOW_MS}, version = version + 1 WHERE tenant_id = {tenant} AND id = :id;"
    );
    // `processed_at` by the store's own rule (`sql::record`'s outbox insert
    // on PostgreSQL; a trigger on SQLite, which the bare SQLite ceiling
    // fires too): an event no active subscription matches is done when
    // written. Left pending, the ceiling's rows would be settled after it,
    // and the dead entries that leaves in the pending index would be walked
    // by the next run's worker.
    let insert = format!(
        "INSERT INTO outbox (tenant_id, event_type, entity_kind, entity_id, version_before, \
         version_after, payload, diff, created_at, available_at, processed_at) VALUES ({tenant}, \
         'conversation_updated', 'conversation', :id, NULL, NULL, '{payload}'::json, \
         json_build_array(json_build_object('op', 'replace', 'path', '/rank', 'value', :r::int)), \
         {PG_NOW_MS}, {PG_NOW_MS}, CASE WHEN EXISTS (SELECT 1 FROM webhook_subscriptions s \
         WHERE s.tenant_id = {tenant} AND s.event = 'conversation_updated' AND s.state = 'active') \
         THEN NULL ELSE {PG_NOW_MS} END);"
    );
    for sql in [&update, &insert] {
        let unexpected: Vec<&str> = pgbench_variables(sql)
            .into_iter()
            .filter(|v| !matches!(*v, "id" | "r"))
            .collect();
        ensure!(
            unexpected.is_empty(),
            "pgbench would read {unexpected:?} as variables in: {sql}"
        );
    }
    Ok(format!(
        "\\set id random({min}, {max})\n\\set r random(1, 1000000)\nBEGIN;\n{update}\n{insert}\nEND;\n"
    ))
}

/// One line of pgbench's per-transaction log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Logged {
    /// When the transaction finished, in µs since the Unix epoch.
    end_us: i64,
    /// Its latency in µs, or `None` when it failed (or was skipped).
    latency_us: Option<u64>,
}

impl Logged {
    /// When it started (its end for failures, whose latency is not logged).
    fn start_us(self) -> i64 {
        let latency = self
            .latency_us
            .map_or(0, |l| i64::try_from(l).unwrap_or(i64::MAX));
        self.end_us.saturating_sub(latency)
    }
}

/// Parses `client_id transaction_no time script_no time_epoch time_us [...]`,
/// where `time` is the latency in µs, or `failed`/`skipped` (PostgreSQL 15
/// also writes `serialization` or `deadlock` with `--failures-detailed`).
fn parse_log_line(line: &str) -> anyhow::Result<Logged> {
    let fields: Vec<&str> = line.split_ascii_whitespace().collect();
    let bad = || anyhow!("unexpected pgbench log line {line:?}");
    let [_client, _transaction, time, _script, epoch, micros, ..] = fields[..] else {
        return Err(bad());
    };
    let epoch: i64 = epoch.parse().map_err(|_| bad())?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let end_us = epoch
        .checked_mul(1_000_000)
        .and_then(|us| us.checked_add(micros))
        .ok_or_else(bad)?;
    let latency_us = match time.parse::<u64>() {
        Ok(latency) => Some(latency),
        Err(_) if time.bytes().all(|b| b.is_ascii_alphabetic()) => None,
        Err(_) => return Err(bad()),
    };
    Ok(Logged { end_us, latency_us })
}

/// The measured window `[from, until)` in µs since the epoch: it opens
/// `warmup` after the first transaction started.
fn window(logged: &[Logged], warmup: Duration, duration: Duration) -> Option<(i64, i64)> {
    let start = logged.iter().map(|l| l.start_us()).min()?;
    let us = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
    let from = start.saturating_add(us(warmup));
    Some((from, from.saturating_add(us(duration))))
}

/// Counts the transactions that finished inside `[from, until)`.
fn tally(
    logged: &[Logged],
    (from, until): (i64, i64),
) -> anyhow::Result<(u64, u64, Histogram<u64>)> {
    let mut latencies = histogram()?;
    let (mut ok, mut failed) = (0, 0);
    for l in logged.iter().filter(|l| (from..until).contains(&l.end_us)) {
        match l.latency_us {
            Some(latency) => {
                ok += 1;
                latencies.saturating_record(latency.max(1));
            }
            None => failed += 1,
        }
    }
    Ok((ok, failed, latencies))
}

/// pgbench's log files of the process `pid`: `<prefix>.<pid>` (thread 0)
/// and `<prefix>.<pid>.<n>` for threads 1 to `threads - 1`.
fn log_files(dir: &Path, prefix: &str, pid: u32, threads: u32) -> anyhow::Result<Vec<PathBuf>> {
    let base = format!("{prefix}.{pid}");
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let ours = match name.strip_prefix(base.as_str()) {
            Some("") => true,
            Some(rest) => rest
                .strip_prefix('.')
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n < threads),
            None => false,
        };
        if ours {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// The seconds pgbench runs (`-T` takes whole seconds): the warm-up and the
/// measured interval, rounded up, plus one so that the window, which opens
/// with the first transaction rather than when pgbench started its clock,
/// is covered to its end.
fn run_seconds(warmup: Duration, duration: Duration) -> u64 {
    let total = warmup + duration;
    total.as_secs() + u64::from(total.subsec_nanos() > 0) + 1
}

/// The PostgreSQL ceiling: `pgbench -n -M prepared -c clients -j threads`
/// with [`pgbench_script`] against `url`, for `warmup + duration` (plus a
/// second, see below). Its per-transaction log (written under `work_dir`
/// as `pgbench.<pid>[.<thread>]` and deleted afterwards) decides what
/// counts: the transactions that finished within `duration` after the
/// first `warmup` (measured from the first transaction's start); failed
/// ones among them are `errors`.
///
/// # Errors
///
/// When the script cannot be written (e.g. the ids are not contiguous),
/// pgbench cannot be run, exits unsuccessfully or reports aborted clients
/// (the error carries its output), or its log cannot be read.
#[expect(clippy::too_many_arguments, reason = "the orchestrator's call shape")]
pub fn pgbench(
    pgbench_bin: &Path,
    url: &str,
    target: &Target,
    clients: u32,
    threads: u32,
    warmup: Duration,
    duration: Duration,
    work_dir: &Path,
) -> anyhow::Result<Measurement> {
    ensure!(clients > 0, "pgbench needs at least one client");
    let threads = threads.clamp(1, clients);
    fs::create_dir_all(work_dir)
        .with_context(|| format!("cannot create {}", work_dir.display()))?;
    let script = work_dir.join("ceiling.pgbench");
    fs::write(&script, pgbench_script(target)?)
        .with_context(|| format!("cannot write {}", script.display()))?;
    let prefix = "pgbench";
    let child = Command::new(pgbench_bin)
        .args(["-n", "-M", "prepared", "-c", &clients.to_string()])
        .args(["-j", &threads.to_string()])
        .args(["-T", &run_seconds(warmup, duration).to_string()])
        .arg("-f")
        .arg(&script)
        .arg("--log")
        .arg(format!("--log-prefix={}", work_dir.join(prefix).display()))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", pgbench_bin.display()))?;
    let pid = child.id();
    let output = child.wait_with_output()?;
    let files = log_files(work_dir, prefix, pid, threads)?;
    let result = measure_pgbench(&output, &files, warmup, duration);
    for file in &files {
        let _ = fs::remove_file(file);
    }
    result
}

fn measure_pgbench(
    output: &std::process::Output,
    files: &[PathBuf],
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Measurement> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let aborted = stderr.contains("aborted") || stdout.contains("aborted");
    if !output.status.success() || aborted {
        bail!(
            "pgbench failed ({}{}):\n{stderr}\n{stdout}",
            output.status,
            if aborted { ", clients aborted" } else { "" }
        );
    }
    ensure!(
        !files.is_empty(),
        "pgbench wrote no log:\n{stderr}\n{stdout}"
    );
    let mut logged = Vec::new();
    for file in files {
        let reader = BufReader::new(
            File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
        );
        for line in reader.lines() {
            let line = line.with_context(|| format!("cannot read {}", file.display()))?;
            if !line.trim().is_empty() {
                logged.push(parse_log_line(&line)?);
            }
        }
    }
    let Some(window) = window(&logged, warmup, duration) else {
        bail!("pgbench logged no transactions:\n{stderr}\n{stdout}");
    };
    let (ok, errors, latencies) = tally(&logged, window)?;
    Ok(Measurement {
        ok,
        errors,
        seconds: duration.as_secs_f64(),
        latency: Latency::of(&latencies),
    })
}

#[cfg(test)]
mod tests {

    use super::*;

    fn target(ids: &[i64]) -> Target {
        Target {
            tenant: 3,
            tenant_name: "acme".into(),
            rows: ids
                .iter()
                .map(|&id| {
                    (
                        id,
                        format!(r#"{{"id":{id},"note":"it's 10:30pm","ok":true,"rank":0}}"#),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn payload_and_diff_have_the_store_shape() {
        let t = target(&[1]);
        let payload: serde_json::Value = serde_json::from_str(&t.payload(&t.rows[0].1)).unwrap();
        assert_eq!(
            payload,
            serde_json::json!({
                "event": "conversation_updated",
                "company_username": "acme",
                "conversation": {"id": 1, "note": "it's 10:30pm", "ok": true, "rank": 0},
                "changed_fields": ["rank"],
            })
        );
        assert_eq!(
            rank_diff(7),
            r#"[{"op":"replace","path":"/rank","value":7}]"#
        );
    }

    #[test]
    fn ranked_docs_set_the_top_level_rank_only() {
        let mut out = String::new();
        let doc = RankedDoc::new(r#"{"custom":{"rank":"x"},"rank":3,"a":1}"#);
        doc.render(42, &mut out);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"custom": {"rank": "x"}, "rank": 42, "a": 1})
        );
        for whole in ["not json", r#"{"no_rank":1}"#, "[1]"] {
            RankedDoc::new(whole).render(42, &mut out);
            assert_eq!(out, whole);
        }
    }

    #[test]
    fn json_literals_hide_colons_from_pgbench() {
        for (json, literal) in [
            (r#"{"a":1}"#, r#"{"a": 1}"#),
            (r#"{"t":"10:30"}"#, r#"{"t": "10\u003a30"}"#),
            (r#"{"q":"it's"}"#, r#"{"q": "it''s"}"#),
            (r#"{"e":"a\"b:c"}"#, r#"{"e": "a\"b\u003ac"}"#),
            (r#"{"e":"a\\":1}"#, r#"{"e": "a\\": 1}"#),
            (r#"{"u":"http://x"}"#, r#"{"u": "http\u003a//x"}"#),
            (r#"{"a": 1, "b":2}"#, r#"{"a": 1, "b": 2}"#),
            (r#"{"a":true,"b":null}"#, r#"{"a": true,"b": null}"#),
        ] {
            let got = pgbench_json_literal(json);
            assert_eq!(got, literal, "{json}");
            assert_eq!(pgbench_variables(&got), Vec::<&str>::new(), "{json}");
            // The same JSON value once the SQL quoting is undone.
            let unquoted = got.replace("''", "'");
            let parsed: Result<serde_json::Value, _> = serde_json::from_str(&unquoted);
            let original: Result<serde_json::Value, _> = serde_json::from_str(json);
            if let (Ok(a), Ok(b)) = (parsed, original) {
                assert_eq!(a, b, "{json}");
            }
        }
    }

    #[test]
    fn finds_variables_as_pgbench_does() {
        for (sql, vars) in [
            ("SELECT :id", vec!["id"]),
            ("SELECT :r::int, '{\"a\":1}'", vec!["r"]),
            (
                "SELECT '{\"a\":true,\"b\":null,\"s\":\"x:r\"}'",
                vec!["true", "null", "r"],
            ),
            ("SELECT :_a1, :1a, :a1", vec!["_a1", "a1"]),
            ("SELECT 'x'::jsonb, :::a", vec![]),
            ("SELECT '{\"a\": \"b\"}', :é", vec!["é"]),
            ("x:", vec![]),
        ] {
            assert_eq!(pgbench_variables(sql), vars, "{sql}");
        }
    }

    #[test]
    fn the_script_draws_contiguous_ids_and_uses_only_its_variables() {
        let script = pgbench_script(&target(&[12, 10, 11])).unwrap();
        let lines: Vec<&str> = script.lines().collect();
        assert_eq!(lines[0], r"\set id random(10, 12)");
        assert_eq!(lines[1], r"\set r random(1, 1000000)");
        assert_eq!(lines[2], "BEGIN;");
        assert!(lines[3].starts_with("UPDATE conversations SET doc = jsonb_set(doc, '{rank}'"));
        assert!(lines[3].ends_with("WHERE tenant_id = 3 AND id = :id;"));
        assert!(
            lines[4].contains(r#"'{"event": "conversation_updated""#),
            "{}",
            lines[4]
        );
        assert!(
            lines[4].contains(r#""note": "it''s 10\u003a30pm","ok": true"#),
            "{}",
            lines[4]
        );
        assert!(
            lines[4].ends_with(
                "CASE WHEN EXISTS (SELECT 1 FROM webhook_subscriptions s WHERE s.tenant_id = 3 \
                 AND s.event = 'conversation_updated' AND s.state = 'active') THEN NULL \
                 ELSE (extract(epoch FROM now()) * 1000)::bigint END);"
            ),
            "{}",
            lines[4]
        );
        assert_eq!(lines[5], "END;");
        assert_eq!(lines.len(), 6);
        for line in &lines[3..5] {
            let mut vars = pgbench_variables(line);
            vars.sort_unstable();
            vars.dedup();
            assert_eq!(vars, ["id", "r"], "{line}");
        }

        let gap = pgbench_script(&target(&[1, 2, 4])).unwrap_err().to_string();
        assert!(gap.contains("not contiguous (2 is followed by 4)"), "{gap}");
        assert!(pgbench_script(&target(&[])).is_err());
    }

    #[test]
    fn parses_log_lines() {
        for (line, expected) in [
            (
                "0 199 2241 0 1175850568 995598",
                Some(Logged {
                    end_us: 1_175_850_568_995_598,
                    latency_us: Some(2241),
                }),
            ),
            (
                "3 7 1520 0 1700000000 5 0 2",
                Some(Logged {
                    end_us: 1_700_000_000_000_005,
                    latency_us: Some(1520),
                }),
            ),
            (
                "1 8 failed 0 1700000001 0",
                Some(Logged {
                    end_us: 1_700_000_001_000_000,
                    latency_us: None,
                }),
            ),
            (
                "1 8 serialization 0 1700000001 0 0 3",
                Some(Logged {
                    end_us: 1_700_000_001_000_000,
                    latency_us: None,
                }),
            ),
            ("1 8 12", None),
            ("1 8 -5 0 1700000001 0", None),
            ("1 8 5 0 17000x0001 0", None),
        ] {
            assert_eq!(parse_log_line(line).ok(), expected, "{line}");
        }
    }

    #[test]
    fn counts_only_what_finished_inside_the_window() {
        let at = |end_s: f64, latency_us: Option<u64>| Logged {
            end_us: (end_s * 1e6) as i64,
            latency_us,
        };
        let logged = [
            at(100.001, Some(1000)), // the first start: 100.000
            at(100.9, Some(500)),    // warm-up
            at(101.0, Some(700)),    // the window opens (inclusive)
            at(101.5, Some(900)),
            at(101.6, None), // failed inside
            at(102.999_999, Some(1100)),
            at(103.0, Some(800)), // closes (exclusive)
            at(100.5, None),      // failed in the warm-up
        ];
        let w = window(&logged, Duration::from_secs(1), Duration::from_secs(2)).unwrap();
        assert_eq!(w, (101_000_000, 103_000_000));
        let (ok, failed, h) = tally(&logged, w).unwrap();
        assert_eq!((ok, failed), (3, 1));
        assert_eq!(h.len(), 3);
        assert_eq!(h.max(), h.highest_equivalent(1100));
        assert_eq!(window(&[], Duration::ZERO, Duration::ZERO), None);
    }

    #[test]
    fn pgbench_runs_whole_seconds_past_the_window() {
        let s = Duration::from_secs;
        assert_eq!(run_seconds(s(2), s(10)), 13);
        assert_eq!(run_seconds(Duration::from_millis(500), s(1)), 3);
    }

    #[test]
    fn finds_this_processs_log_files_only() {
        let dir = switchboard_testsupport::tempfile::tempdir().unwrap();
        for name in [
            "pgbench.42",
            "pgbench.42.1",
            "pgbench.42.2",
            "pgbench.42.9",
            "pgbench.421",
            "pgbench.4",
            "pgbench.42.x",
            "other.42",
        ] {
            fs::write(dir.path().join(name), "").unwrap();
        }
        let names: Vec<String> = log_files(dir.path(), "pgbench", 42, 3)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["pgbench.42", "pgbench.42.1", "pgbench.42.2"]);
    }

    #[test]
    fn rejects_unknown_synchronous_settings() {
        assert_eq!(parse_synchronous("FULL").unwrap(), Synchronous::Full);
        assert_eq!(parse_synchronous("normal").unwrap(), Synchronous::Normal);
        assert!(parse_synchronous("off").is_err());
    }

    // ---- against real databases ---------------------------------------------

    /// Migrates the database at `url` and creates a tenant with `n`
    /// conversations through the store, as the benchmark's dataset does.
    fn seed(url: &str, n: usize) -> Target {
        use switchboard_domain::{Actor, Conversation};
        use switchboard_storage::{Store, StoreConfig, WriteContext, now};

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let tenant = rt.block_on(async {
            let config = StoreConfig {
                secret_keys: switchboard_storage::SecretKeySource::keys(
                    switchboard_testsupport::SECRET_KEYS,
                )
                .unwrap(),
                ..StoreConfig::default()
            };
            let store = Store::open(url, config).await.unwrap();
            store.migrate().await.unwrap();
            let tenant = store.admin().create_tenant("ceiling").await.unwrap();
            let ctx = WriteContext::new(tenant.clone(), Actor::System, "test");
            for i in 0..n {
                let mut c = Conversation::new(tenant.id, format!("s-{i}"), now());
                c.visitor.email = Some(format!("v{i}@example.com"));
                c.first_message = Some("Hello: is 10:30 fine? It's urgent.".into());
                store.conversations().create(&ctx, c).await.unwrap();
            }
            tenant
        });
        Target::load(url, tenant.id.get(), &tenant.name).unwrap()
    }

    fn assert_written(url: &str, target: &Target, before: (i64, i64), m: &Measurement) {
        let mut bare = Bare::open(url, Synchronous::Full).unwrap();
        let after = bare.counts(target.tenant).unwrap();
        let ok = i64::try_from(m.ok).unwrap();
        assert!(ok > 0, "{m:?}");
        assert_eq!(m.errors, 0, "{m:?}");
        assert!(
            after.outbox_rows - before.0 >= ok,
            "{after:?} {before:?} {m:?}"
        );
        assert!(
            after.version_sum - before.1 >= ok,
            "{after:?} {before:?} {m:?}"
        );
        assert!(
            m.latency.p50_us > 0 && m.latency.max_us >= m.latency.p99_us,
            "{m:?}"
        );
        // The documents are still valid JSON, now with ranks above 0.
        let docs = bare.conversation_docs(target.tenant).unwrap();
        let ranked = docs
            .iter()
            .map(|(_, doc)| serde_json::from_str::<serde_json::Value>(doc).unwrap())
            .filter(|doc| doc["rank"].as_i64().unwrap() > 0)
            .count();
        assert!(ranked > 0, "no rank changed");
    }

    fn counts(url: &str, tenant: i64) -> (i64, i64) {
        let c = Bare::open(url, Synchronous::Full)
            .unwrap()
            .counts(tenant)
            .unwrap();
        (c.outbox_rows, c.version_sum)
    }

    #[test]
    fn sqlite_ceiling_writes_through_a_bare_connection() {
        let dir = switchboard_testsupport::tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("ceiling.db").display());
        let target = seed(&url, 20);
        assert_eq!(target.rows.len(), 20);
        assert_eq!(durability(&url, "normal").unwrap(), "synchronous=NORMAL");
        let before = counts(&url, target.tenant);
        let m = sqlite(
            &url,
            "normal",
            &target,
            Duration::from_millis(300),
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(m.seconds, 1.0);
        eprintln!("SQLite ceiling: {m:?}");
        assert_written(&url, &target, before, &m);
    }

    #[test]
    fn pgbench_ceiling_writes_and_counts_the_window() {
        let Some(server) = switchboard_testsupport::postgres_or_skip() else {
            return;
        };
        let db = server.create_database().unwrap();
        let target = seed(db.url(), 20);
        target.id_range().unwrap();
        let pgbench_bin = server
            .bin_dir()
            .map_or_else(|| PathBuf::from("pgbench"), |dir| dir.join("pgbench"));
        let work = switchboard_testsupport::tempfile::tempdir().unwrap();
        let before = counts(db.url(), target.tenant);
        let m = pgbench(
            &pgbench_bin,
            db.url(),
            &target,
            4,
            2,
            Duration::from_millis(500),
            Duration::from_secs(1),
            work.path(),
        )
        .unwrap();
        assert_eq!(m.seconds, 1.0);
        eprintln!("pgbench ceiling: {m:?}");
        assert_written(db.url(), &target, before, &m);
        // The payload went in as the JSON it was, colons and quote included.
        let output = Command::new(server.psql_binary())
            .args(["-X", "-At", "-d", db.url(), "-c"])
            .arg(
                "SELECT DISTINCT payload->'conversation'->>'firstMessage' FROM outbox \
                 WHERE payload->>'changed_fields' = '[\"rank\"]'",
            )
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        assert_eq!(
            String::from_utf8(output.stdout).unwrap().trim(),
            "Hello: is 10:30 fine? It's urgent."
        );
        // Only the script is left behind; the logs are deleted.
        let left: Vec<_> = fs::read_dir(work.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["ceiling.pgbench"]);
    }

    #[test]
    fn pgbench_failures_are_errors_with_its_output() {
        let Some(server) = switchboard_testsupport::postgres_or_skip() else {
            return;
        };
        let db = server.create_database().unwrap();
        // No tables: every client aborts on its first UPDATE.
        let pgbench_bin = server
            .bin_dir()
            .map_or_else(|| PathBuf::from("pgbench"), |dir| dir.join("pgbench"));
        let work = switchboard_testsupport::tempfile::tempdir().unwrap();
        let error = pgbench(
            &pgbench_bin,
            db.url(),
            &target(&[1, 2]),
            1,
            1,
            Duration::ZERO,
            Duration::from_millis(100),
            work.path(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("pgbench failed"), "{error}");
        assert!(error.contains("conversations"), "{error}");
    }
}
