//! PostgreSQL connections that live on the thread that uses them, so a
//! call made on an HTTP worker waits for PostgreSQL without a blocking
//! thread.
//!
//! A call on the pool ([`crate::Store::run`]) hands its work to Tokio's
//! blocking pool: the worker wakes a blocking thread, the thread waits on
//! libpq's socket, and its answer wakes the worker again. Two thread
//! switches and two wake-ups a call, which on a machine that is short of
//! CPU cost about as much as the rest of a simple request
//! (`docs/benchmarks.md`, "Lanes").
//!
//! A *lane* is the set of idle asynchronous connections (`diesel-async`
//! over `tokio-postgres`) of one thread. A connection is opened on the
//! thread that first needs one, its socket is driven by a task of that
//! thread's runtime, and it goes back to that thread's lane after each
//! call: a call of an actix worker (a single-threaded runtime) never
//! leaves its thread. Only single-threaded runtimes use lanes; on any
//! other, and whenever a lane has no connection to give and no more may be
//! opened, the call runs on the pool as before.
//!
//! Lanes do not widen the database's door: a call on a lane takes the
//! pool's admission permit first ([`crate::connection::DbPool::admit`]),
//! so no more calls run at once than before, in the same arrival order.
//! They open at most as many connections as the pool's size, in all
//! threads together, beside the pool's own.
//!
//! A lane serves reads that are one statement. A lane connection found
//! closed (the server restarted, or the runtime that drove it ended) is
//! dropped, and the call runs on the pool instead.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diesel_async::pooled_connection::PoolableConnection;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use thread_local::ThreadLocal;
use tokio::runtime::{Handle, RuntimeFlavor};

/// What a call on a lane connection returns.
pub(crate) type LaneFuture<'c, T> =
    Pin<Box<dyn Future<Output = Result<T, crate::StorageError>> + Send + 'c>>;

/// The `application_name` of every lane connection, so that
/// `pg_stat_activity` tells them from the pool's.
pub(crate) const APPLICATION_NAME: &str = "switchboard lane";

/// After a lane connection could not be opened, lanes open none for this
/// long (calls run on the pool meanwhile).
pub(crate) const RETRY_OPEN_AFTER: Duration = Duration::from_secs(30);

/// The lanes of one store: every thread's idle connections.
pub(crate) struct Lanes {
    url: String,
    /// At most this many lane connections, open or in use, in all threads.
    max_open: usize,
    open: AtomicUsize,
    idle: ThreadLocal<RefCell<Vec<AsyncPgConnection>>>,
    /// No connection is opened before this instant (see [`RETRY_OPEN_AFTER`]).
    closed_until: Mutex<Option<Instant>>,
    /// Whether a failure to open one was logged as a warning (later ones
    /// are logged at debug level: the cause is usually the same).
    warned: AtomicBool,
    /// Calls answered on a lane.
    served: AtomicU64,
    /// Calls that failed on a lane as a lost connection would (the
    /// connection closed) and ran again on the pool.
    retried: AtomicU64,
}

/// What a store's lanes did since it opened
/// ([`Store::lane_stats`](crate::Store::lane_stats)); all zero without
/// lanes ([`StoreConfig::lanes`](crate::StoreConfig::lanes)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LaneStats {
    /// Lane connections open or in use now, in all threads.
    pub open: u64,
    /// Reads answered on a lane connection.
    pub served: u64,
    /// Reads that failed on a lane connection in a way a lost connection
    /// explains (`StorageError::Unavailable` or `Internal`, as the pool
    /// classifies its own failures); the connection was closed and each
    /// read ran again on the pool.
    pub retried: u64,
}

impl std::fmt::Debug for Lanes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lanes")
            .field("max_open", &self.max_open)
            .field("open", &self.open.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Lanes {
    /// Lanes to the PostgreSQL server at `url`, at most `max_open`
    /// connections in all; `None` when `url` asks for TLS (`sslmode`
    /// `require`, `verify-ca` or `verify-full`), which lane connections
    /// do not speak: every call then runs on the pool.
    pub(crate) fn new(url: &str, max_open: usize) -> Option<Self> {
        if wants_tls(url) {
            tracing::info!(
                "the database URL asks for TLS: calls use the blocking pool only (no lanes)"
            );
            return None;
        }
        Some(Self {
            url: url.to_owned(),
            max_open,
            open: AtomicUsize::new(0),
            idle: ThreadLocal::new(),
            closed_until: Mutex::new(None),
            warned: AtomicBool::new(false),
            served: AtomicU64::new(0),
            retried: AtomicU64::new(0),
        })
    }

    /// A connection of this thread's lane: an idle one, or a new one. `None`
    /// off a single-threaded runtime, when the lanes hold their most
    /// connections, or while a recent failure to open one holds them shut.
    pub(crate) async fn take(&self) -> Option<LaneConn<'_>> {
        let flavor = Handle::try_current().ok()?.runtime_flavor();
        if flavor != RuntimeFlavor::CurrentThread {
            return None;
        }
        loop {
            let Some(mut conn) = self.idle.get_or_default().borrow_mut().pop() else {
                break;
            };
            if conn.is_broken() {
                self.open.fetch_sub(1, Ordering::Relaxed);
                continue;
            }
            return Some(LaneConn {
                conn: Some(conn),
                lanes: self,
            });
        }
        if self.shut() {
            return None;
        }
        if self.open.fetch_add(1, Ordering::Relaxed) >= self.max_open {
            self.open.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        match open(&self.url).await {
            Ok(conn) => Some(LaneConn {
                conn: Some(conn),
                lanes: self,
            }),
            Err(e) => {
                self.open.fetch_sub(1, Ordering::Relaxed);
                self.shut_for_a_while(&e);
                None
            }
        }
    }

    /// Whether a recent failure to open a connection holds the lanes shut.
    fn shut(&self) -> bool {
        let mut until = self
            .closed_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match *until {
            Some(t) if Instant::now() < t => true,
            Some(_) => {
                *until = None;
                false
            }
            None => false,
        }
    }

    fn shut_for_a_while(&self, e: &diesel::ConnectionError) {
        let mut until = self
            .closed_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let retry_in_s = RETRY_OPEN_AFTER.as_secs();
        let message = "cannot open an asynchronous PostgreSQL connection (a lane); calls use the blocking pool meanwhile";
        if self.warned.swap(true, Ordering::Relaxed) {
            tracing::debug!(error = %e, retry_in_s, "{message}");
        } else {
            tracing::warn!(error = %e, retry_in_s, "{message}");
        }
        *until = Some(Instant::now() + RETRY_OPEN_AFTER);
    }

    /// What the lanes did so far.
    pub(crate) fn stats(&self) -> LaneStats {
        LaneStats {
            open: u64::try_from(self.open.load(Ordering::Relaxed)).unwrap_or(u64::MAX),
            served: self.served.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
        }
    }

    /// Counts a call answered on a lane.
    pub(crate) fn note_served(&self) {
        self.served.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a call run again on the pool after it failed on a lane.
    pub(crate) fn note_retried(&self) {
        self.retried.fetch_add(1, Ordering::Relaxed);
    }
}

/// Whether the PostgreSQL URL `url` requires TLS.
fn wants_tls(url: &str) -> bool {
    let Some((_, query)) = url.split_once('?') else {
        return false;
    };
    query.split('&').any(|pair| {
        pair.split_once('=').is_some_and(|(key, value)| {
            key == "sslmode" && matches!(value, "require" | "verify-ca" | "verify-full")
        })
    })
}

/// Opens a lane connection to `url`, named [`APPLICATION_NAME`].
async fn open(url: &str) -> diesel::ConnectionResult<AsyncPgConnection> {
    let mut conn = AsyncPgConnection::establish(url).await?;
    conn.batch_execute(&format!("SET application_name = '{APPLICATION_NAME}'"))
        .await
        .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

/// A lane connection in use; back to the lane of the thread that drops it,
/// unless broken or [`discard`](Self::discard)ed.
pub(crate) struct LaneConn<'a> {
    conn: Option<AsyncPgConnection>,
    lanes: &'a Lanes,
}

impl LaneConn<'_> {
    /// The connection.
    pub(crate) fn get(&mut self) -> Option<&mut AsyncPgConnection> {
        self.conn.as_mut()
    }

    /// Closes the connection instead of giving it back (a call on it failed
    /// in a way a lost connection could explain).
    pub(crate) fn discard(mut self) {
        if self.conn.take().is_some() {
            self.lanes.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for LaneConn<'_> {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if conn.is_broken() {
            self.lanes.open.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        self.lanes.idle.get_or_default().borrow_mut().push(conn);
    }
}

#[cfg(test)]
mod tests {
    use super::wants_tls;

    #[test]
    fn a_url_that_requires_tls_has_no_lanes() {
        for (url, tls) in [
            ("postgres://u@h/db", false),
            ("postgres://u@h/db?sslmode=disable", false),
            ("postgres://u@h/db?sslmode=prefer", false),
            ("postgres://u@h/db?sslmode=allow&application_name=x", false),
            ("postgres://u@h/db?sslmode=require", true),
            (
                "postgres://u@h1,h2/db?target_session_attrs=read-write&sslmode=verify-full",
                true,
            ),
            ("postgres://u@h/db?sslmode=verify-ca", true),
        ] {
            assert_eq!(wants_tls(url), tls, "{url}");
        }
    }
}
