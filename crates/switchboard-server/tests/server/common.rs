//! Helpers shared by the modules of this binary: the `switchboard` command,
//! a store opened in the test process, a child's stdout read line by line.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use switchboard_storage::{SecretKeySource, Store, StoreConfig};
use switchboard_testsupport::{SECRET_KEYS, TestDatabase};

pub(super) const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

/// The `switchboard` binary with no `SWITCHBOARD_*` (or `RUST_LOG`)
/// variable inherited from the test's environment, and the test keys.
pub(super) fn switchboard() -> Command {
    let mut command = Command::new(BIN);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SWITCHBOARD_") || key == "RUST_LOG" {
            command.env_remove(key);
        }
    }
    command.env("SWITCHBOARD_SECRETS_KEYS", SECRET_KEYS);
    command
}

/// The store settings the server processes use (the test keys).
pub(super) fn store_config() -> StoreConfig {
    StoreConfig {
        secret_keys: SecretKeySource::keys(SECRET_KEYS).unwrap(),
        ..StoreConfig::default()
    }
}

/// A store on `url` in the test process (as an operator's command has).
pub(super) async fn open_store(url: &str) -> Store {
    Store::open(url, store_config()).await.unwrap()
}

/// A fresh database on the shared PostgreSQL server, or `None` (skipped).
pub(super) async fn shared_database() -> Option<TestDatabase> {
    let server = switchboard_testsupport::postgres_or_skip()?;
    Some(
        tokio::task::spawn_blocking(move || server.create_database().unwrap())
            .await
            .unwrap(),
    )
}

/// The child's stdout, line by line, read on a thread of its own. The
/// thread keeps draining after the receiver is gone, so the child never
/// writes to a closed pipe.
pub(super) fn stdout_lines(child: &mut Child) -> Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    lines
}

/// Reads `lines` until one starts with `prefix`, for at most a minute;
/// the rest of that line, trimmed.
pub(super) fn line_after(
    lines: &Receiver<String>,
    prefix: &str,
) -> Result<String, RecvTimeoutError> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines.recv_timeout(left)?;
        if let Some(rest) = line.strip_prefix(prefix) {
            return Ok(rest.trim().to_string());
        }
    }
}

/// The status of the answer to `request`.
pub(super) async fn status_of(request: reqwest::RequestBuilder) -> u16 {
    request.send().await.unwrap().status().as_u16()
}

/// The value of the series `series` (a metric's name and labels, as
/// written) in `{base}/metrics`, or 0 when it is not there.
pub(super) async fn metric(http: &reqwest::Client, base: &str, series: &str) -> u64 {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0, |n| n.trim().parse().unwrap())
}
