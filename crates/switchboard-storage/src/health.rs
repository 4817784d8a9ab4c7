//! A bounded health check of PostgreSQL, for readiness probes.
//!
//! The pool is the wrong tool to ask "is there a writable primary?": while
//! the server is down, a checkout retries until the pool's connection
//! timeout (10 s by default), so a probe would hang instead of answering.
//! This check owns one connection of its own, outside the pool, opened with
//! a short `connect_timeout` and a short `statement_timeout`, and asks
//! `SELECT pg_is_in_recovery()` (a standby, or a primary being demoted, is
//! not writable). Its result is cached for [`CACHE_FOR`], checks never run
//! side by side, and the caller never waits longer than [`ANSWER_WITHIN`]: a
//! check still running then counts as a failure.

use std::sync::{Arc, Mutex, TryLockError};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};

use crate::StorageError;

/// How long a result is reused.
pub const CACHE_FOR: Duration = Duration::from_millis(500);

/// The longest [`PgHealth::check`] takes.
pub const ANSWER_WITHIN: Duration = Duration::from_millis(800);

/// libpq's `connect_timeout` for the check's connection, in seconds (libpq
/// treats anything below 2 as 2); [`ANSWER_WITHIN`] bounds the wait anyway.
const CONNECT_TIMEOUT_SECS: u32 = 2;

/// `statement_timeout` of the check's connection, in milliseconds.
const STATEMENT_TIMEOUT_MS: u32 = 700;

/// See the module documentation.
pub(crate) struct PgHealth {
    url: String,
    /// Serialises checks; holds the last result.
    last: tokio::sync::Mutex<Option<(Instant, Result<(), String>)>>,
    /// The check's own connection (`None` until opened, and after a failure).
    conn: Arc<Mutex<Option<PgConnection>>>,
}

impl std::fmt::Debug for PgHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgHealth").finish_non_exhaustive()
    }
}

/// `url` with `name=value` added to its query, unless `name` is set already.
pub(crate) fn with_param(url: &str, name: &str, value: &str) -> String {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    if query
        .split('&')
        .any(|pair| pair.split('=').next() == Some(name))
    {
        return url.to_string();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{name}={value}")
}

impl PgHealth {
    pub(crate) fn new(url: &str) -> Self {
        Self {
            url: with_param(url, "connect_timeout", &CONNECT_TIMEOUT_SECS.to_string()),
            last: tokio::sync::Mutex::new(None),
            conn: Arc::new(Mutex::new(None)),
        }
    }

    /// Whether a writable primary answers, within [`ANSWER_WITHIN`].
    pub(crate) async fn check(&self) -> Result<(), StorageError> {
        let deadline = tokio::time::Instant::now() + ANSWER_WITHIN;
        let Ok(mut last) = tokio::time::timeout_at(deadline, self.last.lock()).await else {
            return Err(unavailable("another health check is still running"));
        };
        if let Some((at, result)) = last.as_ref()
            && at.elapsed() < CACHE_FOR
        {
            return result.clone().map_err(|e| unavailable(&e));
        }
        let url = self.url.clone();
        let conn = Arc::clone(&self.conn);
        let probe = tokio::task::spawn_blocking(move || probe(&url, &conn));
        let result = match tokio::time::timeout_at(deadline, probe).await {
            Ok(Ok(result)) => result,
            Ok(Err(e)) => Err(format!("the health check failed: {e}")),
            Err(_) => Err(format!(
                "no answer from PostgreSQL within {} ms",
                ANSWER_WITHIN.as_millis()
            )),
        };
        *last = Some((Instant::now(), result.clone()));
        result.map_err(|e| unavailable(&e))
    }
}

fn unavailable(message: &str) -> StorageError {
    StorageError::Unavailable(message.to_string().into())
}

/// One check on the check's own connection, opening it if needed.
fn probe(url: &str, conn: &Mutex<Option<PgConnection>>) -> Result<(), String> {
    #[derive(diesel::QueryableByName)]
    struct Recovery {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        in_recovery: bool,
    }
    let mut slot = match conn.try_lock() {
        Ok(slot) => slot,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        // A check that timed out is still waiting on its connection.
        Err(TryLockError::WouldBlock) => {
            return Err("the previous health check has not finished".into());
        }
    };
    if slot.is_none() {
        let mut fresh = PgConnection::establish(url).map_err(|e| e.to_string())?;
        fresh
            .batch_execute(&format!(
                "SET statement_timeout = {STATEMENT_TIMEOUT_MS}; \
                 SET application_name = 'switchboard-health'"
            ))
            .map_err(|e| e.to_string())?;
        *slot = Some(fresh);
    }
    let Some(c) = slot.as_mut() else {
        return Err("no connection".into());
    };
    let outcome = diesel::sql_query("SELECT pg_is_in_recovery() AS in_recovery")
        .get_result::<Recovery>(c)
        .map_err(|e| e.to_string());
    match outcome {
        Ok(Recovery { in_recovery: false }) => Ok(()),
        Ok(Recovery { in_recovery: true }) => {
            // Reconnect next time: with several hosts and
            // `target_session_attrs=read-write`, libpq finds the new primary.
            *slot = None;
            Err("the server is a standby (read-only)".into())
        }
        Err(e) => {
            *slot = None;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_added_once() {
        assert_eq!(
            with_param("postgres://h/db", "connect_timeout", "2"),
            "postgres://h/db?connect_timeout=2"
        );
        assert_eq!(
            with_param(
                "postgres://a:1,b:2/db?target_session_attrs=read-write",
                "connect_timeout",
                "2"
            ),
            "postgres://a:1,b:2/db?target_session_attrs=read-write&connect_timeout=2"
        );
        assert_eq!(
            with_param("postgres://h/db?connect_timeout=9", "connect_timeout", "2"),
            "postgres://h/db?connect_timeout=9"
        );
    }
}
