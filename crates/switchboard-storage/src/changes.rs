//! Changes every node of a deployment must learn at once: a key revoked, a
//! tenant removed, subscriptions changed, a tenant's custom attribute
//! definitions changed, and "a write committed" (so that the webhook worker
//! of every node looks for new events).
//!
//! In the process, changes are published on a broadcast channel
//! ([`Store::changes`](crate::Store::changes)). Across processes on
//! PostgreSQL they travel by `LISTEN`/`NOTIFY` on the channel [`CHANNEL`]:
//!
//! * A revocation, a tenant's removal, a change of subscriptions and one
//!   of attribute definitions send their `NOTIFY` inside the writing
//!   transaction (or, for a single
//!   autocommit statement, right after it), so a node hears of it only once
//!   it is committed, and the notification is never lost while the change
//!   commits: PostgreSQL queues notifications with the transaction.
//! * "A write committed" is sent by the node's listener thread, at most
//!   every [`COMMIT_NOTIFY_EVERY`], after [`Store::committed`] was called:
//!   no statement is added to any request's transaction or round trips.
//! * Each node keeps one connection of its own, outside the pool, that
//!   `LISTEN`s ([`Store::listen`](crate::Store::listen)); it polls the
//!   socket every [`POLL`], checks the connection every few seconds, and
//!   reconnects by itself (with a multi-host URL, to the new primary). After
//!   a reconnection it publishes [`Change::Resync`]: notifications sent
//!   while it was away are gone, so caches are dropped.
//!
//! A notification can still be missed (a node's connection drops at the
//! wrong moment); the caches' own expiry stays the fallback.
//!
//! The store's own caches (the attribute definitions, `crate::attributes`;
//! the documents of a removed tenant, `crate::doc_cache`) learn each change
//! before it is published, in the process that made it
//! and in the listener thread of every other node.
//!
//! On SQLite there are no notifications between processes: changes are
//! published in-process only (the attribute cache checks a stamp in the
//! database instead).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};
use switchboard_domain::{ApiKeyId, TenantId};
use tokio::sync::broadcast;

use crate::StorageError;
use crate::attributes::AttributeCache;
use crate::connection::DbConnection;
use crate::decoded::Decoded;
use crate::doc_cache::DocCache;

/// The `LISTEN`/`NOTIFY` channel.
pub const CHANNEL: &str = "switchboard_changes";

/// How often the listener looks for notifications.
pub const POLL: Duration = Duration::from_millis(20);

/// A node sends "a write committed" at most this often.
pub const COMMIT_NOTIFY_EVERY: Duration = Duration::from_millis(20);

/// How often an idle listener checks its connection with `SELECT 1`.
const PING_EVERY: Duration = Duration::from_secs(5);

/// Longest wait between two attempts to reconnect.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A change every node must learn at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A node committed a write (outbox events may be waiting).
    Committed,
    /// An API key was revoked.
    KeyRevoked {
        /// Its tenant.
        tenant: TenantId,
        /// The key.
        key: ApiKeyId,
    },
    /// A tenant was removed with everything it owns.
    TenantRemoved {
        /// The tenant.
        tenant: TenantId,
    },
    /// A tenant's webhook subscriptions changed.
    SubscriptionsChanged {
        /// The tenant.
        tenant: TenantId,
    },
    /// A tenant's custom attribute definitions changed.
    AttributesChanged {
        /// The tenant.
        tenant: TenantId,
    },
    /// Notifications may have been missed: drop whatever is cached.
    Resync,
}

impl Change {
    /// The `NOTIFY` payload.
    fn payload(self) -> String {
        match self {
            Self::Committed => "c".into(),
            Self::KeyRevoked { tenant, key } => format!("k:{}:{}", tenant.get(), key.get()),
            Self::TenantRemoved { tenant } => format!("t:{}", tenant.get()),
            Self::SubscriptionsChanged { tenant } => format!("s:{}", tenant.get()),
            Self::AttributesChanged { tenant } => format!("a:{}", tenant.get()),
            Self::Resync => "r".into(),
        }
    }

    /// Reads a payload; `None` for one this version does not know.
    fn parse(payload: &str) -> Option<Self> {
        let mut parts = payload.split(':');
        let kind = parts.next()?;
        let mut id = || parts.next()?.parse::<i64>().ok();
        let change = match kind {
            "c" => Self::Committed,
            "r" => Self::Resync,
            "k" => Self::KeyRevoked {
                tenant: TenantId::new(id()?),
                key: ApiKeyId::new(id()?),
            },
            "t" => Self::TenantRemoved {
                tenant: TenantId::new(id()?),
            },
            "s" => Self::SubscriptionsChanged {
                tenant: TenantId::new(id()?),
            },
            "a" => Self::AttributesChanged {
                tenant: TenantId::new(id()?),
            },
            _ => return None,
        };
        Some(change)
    }
}

/// The process's side of the changes: the store's caches, the broadcast
/// channel, and the listener thread's "a write committed" signal while one
/// runs.
#[derive(Debug)]
pub(crate) struct ChangeBus {
    tx: broadcast::Sender<Change>,
    commits: Mutex<Option<SyncSender<()>>>,
    attributes: Arc<AttributeCache>,
    docs: Arc<DocCache>,
    decoded: Arc<Decoded>,
}

impl ChangeBus {
    /// A bus whose changes the store's caches, `attributes`, `docs` and
    /// `decoded`, learn first.
    pub(crate) fn new(
        attributes: Arc<AttributeCache>,
        docs: Arc<DocCache>,
        decoded: Arc<Decoded>,
    ) -> Self {
        Self {
            tx: broadcast::channel(1024).0,
            commits: Mutex::new(None),
            attributes,
            docs,
            decoded,
        }
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.tx.subscribe()
    }

    /// Applies `change` to the store's caches, then publishes it to this
    /// process's receivers.
    pub(crate) fn publish(&self, change: Change) {
        self.attributes.apply(change);
        if let Change::TenantRemoved { tenant } = change {
            // Its rows are gone: a copy would only cost a conflict, but
            // it would keep its memory until evicted.
            self.docs.forget_tenant(tenant.get());
            self.decoded.forget_tenant(tenant.get());
        }
        // No receiver is not an error.
        let _ = self.tx.send(change);
    }

    /// Asks the listener thread (if one runs) to tell the other nodes that
    /// a write committed. Never blocks: signals that arrive while one is
    /// pending are merged.
    pub(crate) fn committed(&self) {
        let commits = self.commits.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = commits.as_ref() {
            // Full: a signal is pending already; disconnected: stopped.
            let _ = tx.try_send(());
        }
    }
}

/// Sends `change` to every node's listener from within `c`'s transaction
/// (PostgreSQL; delivered when it commits). Nothing on SQLite.
pub(crate) fn notify(c: &mut DbConnection, change: Change) -> Result<(), StorageError> {
    if let DbConnection::Pg(pg) = c {
        diesel::sql_query("SELECT pg_notify($1, $2)")
            .bind::<diesel::sql_types::Text, _>(CHANNEL)
            .bind::<diesel::sql_types::Text, _>(change.payload())
            .execute(pg)?;
    }
    Ok(())
}

/// A running listener; dropping it stops the thread (within one poll
/// interval, 20 ms).
#[derive(Debug)]
pub struct Listener {
    stop: Arc<AtomicBool>,
}

impl Listener {
    /// A listener that does nothing (SQLite: one process).
    pub(crate) fn none() -> Self {
        Self {
            stop: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Starts the listener thread on `url`, publishing on `bus`.
    pub(crate) fn start(url: &str, bus: Arc<ChangeBus>) -> Result<Self, StorageError> {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = sync_channel(1);
        *bus.commits.lock().unwrap_or_else(PoisonError::into_inner) = Some(tx);
        let url = crate::health::with_param(url, "connect_timeout", "2");
        let thread_stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("switchboard-listen".into())
            .spawn(move || listen_loop(&url, &bus, &rx, &thread_stop))
            .map_err(StorageError::internal)?;
        Ok(Self { stop })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

fn connect(url: &str) -> Result<PgConnection, String> {
    let mut conn = PgConnection::establish(url).map_err(|e| e.to_string())?;
    conn.batch_execute(&format!(
        "SET application_name = 'switchboard-listen'; LISTEN {CHANNEL}"
    ))
    .map_err(|e| e.to_string())?;
    Ok(conn)
}

fn listen_loop(url: &str, bus: &ChangeBus, commits: &Receiver<()>, stop: &AtomicBool) {
    let mut connected_before = false;
    let mut backoff = Duration::from_millis(100);
    let mut warned = false;
    while !stop.load(Ordering::Acquire) {
        let mut conn = match connect(url) {
            Ok(conn) => conn,
            Err(error) => {
                if !warned {
                    tracing::warn!(%error, "cannot listen for changes; retrying");
                    warned = true;
                }
                let until = Instant::now() + backoff;
                while Instant::now() < until && !stop.load(Ordering::Acquire) {
                    std::thread::sleep(POLL);
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        warned = false;
        if connected_before {
            tracing::info!("listening for changes again; dropping cached keys");
            bus.publish(Change::Resync);
        } else {
            tracing::debug!("listening for changes");
        }
        connected_before = true;
        if let Err(error) = serve(&mut conn, bus, commits, stop) {
            tracing::warn!(%error, "the change listener lost its connection; reconnecting");
        }
    }
}

/// Listens on `conn` until it fails or a stop is requested.
fn serve(
    conn: &mut PgConnection,
    bus: &ChangeBus,
    commits: &Receiver<()>,
    stop: &AtomicBool,
) -> Result<(), String> {
    let mut checked = Instant::now();
    let mut last_commit_notify: Option<Instant> = None;
    loop {
        if stop.load(Ordering::Acquire) {
            return Ok(());
        }
        match commits.recv_timeout(POLL) {
            Ok(()) => {
                if let Some(at) = last_commit_notify {
                    let wait = COMMIT_NOTIFY_EVERY.saturating_sub(at.elapsed());
                    if !wait.is_zero() {
                        std::thread::sleep(wait);
                    }
                }
                while commits.try_recv().is_ok() {}
                conn.batch_execute(&format!("NOTIFY {CHANNEL}, 'c'"))
                    .map_err(|e| e.to_string())?;
                last_commit_notify = Some(Instant::now());
                checked = Instant::now();
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
        for received in conn.notifications_iter() {
            let notification = received.map_err(|e| e.to_string())?;
            if let Some(change) = Change::parse(&notification.payload) {
                bus.publish(change);
            }
        }
        if checked.elapsed() >= PING_EVERY {
            conn.batch_execute("SELECT 1").map_err(|e| e.to_string())?;
            checked = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip() {
        let tenant = TenantId::new(7);
        for change in [
            Change::Committed,
            Change::Resync,
            Change::KeyRevoked {
                tenant,
                key: ApiKeyId::new(9),
            },
            Change::TenantRemoved { tenant },
            Change::SubscriptionsChanged { tenant },
            Change::AttributesChanged { tenant },
        ] {
            assert_eq!(Change::parse(&change.payload()), Some(change));
        }
        assert_eq!(Change::parse("x:1"), None);
        assert_eq!(Change::parse("k:1"), None);
        assert_eq!(Change::parse("t:nope"), None);
    }

    /// A removed tenant's document copies go with it, whichever node
    /// removed it (the listener publishes what other nodes send); another
    /// tenant's stay.
    #[test]
    fn a_tenant_removal_drops_its_document_copies() {
        use switchboard_domain::{Customer, Entity as _, Timestamp};

        let docs = Arc::new(DocCache::new(10, 1 << 20));
        let decoded = Arc::new(Decoded::new(1 << 20));
        let bus = ChangeBus::new(Arc::default(), Arc::clone(&docs), Arc::clone(&decoded));
        for tenant in [1, 2] {
            let mut c = Customer::new(TenantId::new(tenant), Timestamp::from_millis(1));
            c.set_id(7);
            c.stamp(2, Timestamp::from_millis(2));
            docs.put(tenant, &c, 100);
            // Read twice: kept.
            for _ in 0..2 {
                let text = serde_json::to_string(&c).unwrap_or_default();
                assert!(decoded.decode::<Customer>(tenant, 7, text).is_ok());
            }
        }
        assert_eq!(decoded.stats().entries, 2);
        bus.publish(Change::TenantRemoved {
            tenant: TenantId::new(1),
        });
        assert!(docs.get::<Customer>(1, 7).is_none());
        assert!(docs.get::<Customer>(2, 7).is_some());
        // Of the parsed documents, the other tenant's alone is left.
        assert_eq!(decoded.stats().entries, 1);
    }
}
