//! The store: the crate's public entry point, and how its calls reach a
//! connection.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use switchboard_domain::Timestamp;

use crate::StorageError;
use crate::admin::Admin;
use crate::attributes::{AttributeCache, Definitions};
use crate::changes::{Change, ChangeBus, Listener};
use crate::config::{Clock, DatabaseUrl, StoreConfig, millis};
use crate::connection::{DbConnection, DbPool, Failure};
use crate::console::Console;
use crate::conversations::Conversations;
use crate::customers::Customers;
use crate::decoded::{Decoded, DecodedStats};
use crate::directory::DirectoryCache;
use crate::doc_cache::{DocCache, DocCacheStats};
use crate::group_commit::{self, GroupWriter};
use crate::health::PgHealth;
use crate::maintenance::Maintenance;
use crate::paging::OffsetCursors;
use crate::secrets::Cipher;
use crate::sql::counts::{self, Counts};
use crate::sql::query::{Target, Total};
use crate::webhooks::Webhooks;
use crate::worker::Worker;

/// Which database a store runs on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Both, SQLite first.
    pub const ALL: [Self; 2] = [Self::Sqlite, Self::Postgres];

    /// `sqlite` or `postgres`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    /// `SQLite` or `PostgreSQL`.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A handle to the database. Cheap to clone; share one per process.
///
/// Its calls are grouped by area, each behind a handle borrowed from the
/// store: [`Store::customers`], [`Store::conversations`], [`Store::admin`]
/// (tenants, keys, agents, departments, attributes, tags),
/// [`Store::webhooks`] (subscriptions and their delivery log) and
/// [`Store::worker`] (what a delivery worker calls).
///
/// Every call is `async` and runs its blocking Diesel work off the async
/// executor, so it never blocks an executor thread, including actix-web's
/// single-threaded ones: reads (and PostgreSQL writes) on Tokio's blocking
/// pool (`spawn_blocking`), SQLite writes on the store's writer thread,
/// which commits the writes that wait together (group commit). Each call
/// holds at most one pooled connection at a time.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: DbPool,
    /// SQLite: the thread that runs every write of this process, committing
    /// the writes that wait together (see `group_commit`). They queue
    /// in-process instead of spinning in SQLite's busy handler.
    writer: Option<GroupWriter>,
    clock: Clock,
    /// Encrypts and decrypts webhook signing secrets.
    cipher: Arc<Cipher>,
    /// The last time a call failed because the database was full.
    disk_full: Mutex<Option<DiskFullSeen>>,
    /// Positions of the offsets served, for offset paging (see `paging`).
    offset_cursors: OffsetCursors,
    /// The running counts being folded now (see `sql::counts`).
    folding: Mutex<HashSet<(Counts, i64)>>,
    /// PostgreSQL: the bounded readiness check (see `health`).
    health: Option<PgHealth>,
    /// Changes every node must learn (see `changes`).
    changes: Arc<ChangeBus>,
    /// The tenants' custom attribute definitions (see `attributes`); the
    /// change bus drops entries as changes arrive.
    attributes: Arc<AttributeCache>,
    /// PostgreSQL: the URL, for the change listener's own connection.
    pg_url: Option<String>,
    /// PostgreSQL: recently written documents, so a modify can skip its
    /// read (see `doc_cache`); off on SQLite.
    doc_cache: Arc<DocCache>,
    /// The documents this node parsed, by the text they were parsed from,
    /// so a read of an unchanged row copies instead of parsing (see
    /// `decoded`); both backends.
    decoded: Arc<Decoded>,
    /// The tenants' agents and departments, each copy checked against the
    /// stamp a chat page's statement reads (see `directory`).
    directory: Arc<DirectoryCache>,
}

/// After a call fails because the database is full, the store reports
/// itself not ready ([`Store::ready`]) until this long has passed without
/// another such failure (by the store's clock).
pub const UNREADY_AFTER_DISK_FULL: Duration = Duration::from_secs(30);

/// On PostgreSQL, [`Store::ready`] answers within this long; its result is
/// reused for half a second.
pub const READY_ANSWER_WITHIN: Duration = crate::health::ANSWER_WITHIN;

/// While [`Store::migrate`] waits for the nodes listed as running to
/// count as stopped, it looks for a new heartbeat this often.
const WATCH_NODES_EVERY: Duration = Duration::from_millis(250);

/// A call that failed because the database was full.
#[derive(Debug, Clone, Copy)]
struct DiskFullSeen {
    at: Timestamp,
    code: &'static str,
}

impl Inner {
    /// Notes how a call ended: a full database starts (or extends) the
    /// time the store reports itself not ready, and is logged when it
    /// begins.
    fn note<T, E: Failure>(&self, outcome: &Result<T, E>) {
        let Some(StorageError::DiskFull { code, cause }) =
            outcome.as_ref().err().and_then(Failure::storage_error)
        else {
            return;
        };
        let now = self.clock.now();
        let mut seen = self
            .disk_full
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.is_none() {
            tracing::error!(
                code = *code,
                error = %cause,
                "the database is full ({code}): writes fail and /readyz reports unready \
                 until space is freed"
            );
        }
        *seen = Some(DiskFullSeen { at: now, code });
    }
}

impl Store {
    /// Opens (creating an SQLite file if needed) and, unless disabled,
    /// migrates the database.
    pub async fn open(url: &str, config: StoreConfig) -> Result<Self, StorageError> {
        let url = DatabaseUrl::parse(url)?;
        let (health, pg_url) = match &url {
            DatabaseUrl::Postgres(u) => (Some(PgHealth::new(u)), Some(u.clone())),
            DatabaseUrl::Sqlite(_) => (None, None),
        };
        let run = config.run_migrations;
        let clock = config.clock.clone();
        let doc_cache = Arc::new(match &url {
            DatabaseUrl::Postgres(_) => {
                DocCache::new(config.doc_cache_entries, config.doc_cache_bytes)
            }
            DatabaseUrl::Sqlite(_) => DocCache::off(),
        });
        let decoded = Arc::new(Decoded::new(config.decoded_cache_bytes));
        let (pool, writer, keys) = tokio::task::spawn_blocking(move || {
            let keys = config.secret_keys.resolve(&url)?;
            let pool = DbPool::open(&url, &config)?;
            // SQLite: the writer thread's own connection, for good, and
            // one outside the pool for its checkpoints.
            let writer = match pool.open_own()? {
                Some(checkpointer) => Some(GroupWriter::start(pool.get()?, checkpointer)?),
                None => None,
            };
            Ok::<_, StorageError>((pool, writer, keys))
        })
        .await
        .map_err(StorageError::internal)??;
        let attributes = Arc::new(AttributeCache::default());
        let store = Self {
            inner: Arc::new(Inner {
                pool,
                writer,
                clock,
                disk_full: Mutex::new(None),
                cipher: Arc::new(Cipher::new(keys)),
                offset_cursors: OffsetCursors::default(),
                folding: Mutex::new(HashSet::new()),
                health,
                changes: Arc::new(ChangeBus::new(
                    Arc::clone(&attributes),
                    Arc::clone(&doc_cache),
                    Arc::clone(&decoded),
                )),
                attributes,
                pg_url,
                doc_cache,
                decoded,
                directory: Arc::new(DirectoryCache::default()),
            }),
        };
        if run {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Which database this store runs on.
    #[must_use]
    pub fn backend(&self) -> Backend {
        if self.inner.pool.is_sqlite() {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }

    /// Whether this store is backed by SQLite.
    #[must_use]
    pub fn is_sqlite(&self) -> bool {
        self.inner.pool.is_sqlite()
    }

    /// The store's clock: every write is stamped with its time.
    #[must_use]
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The current time by the store's clock.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// Customers: create, read, change and delete, with their history.
    #[must_use]
    pub const fn customers(&self) -> Customers<'_> {
        Customers::new(self)
    }

    /// Conversations: create, read, change and delete, the rows they link
    /// to, and their history.
    #[must_use]
    pub const fn conversations(&self) -> Conversations<'_> {
        Conversations::new(self)
    }

    /// A tenant's setup: tenants, API keys, agents, departments, custom
    /// attributes and tags.
    #[must_use]
    pub const fn admin(&self) -> Admin<'_> {
        Admin::new(self)
    }

    /// The operator console's sign-in: agents' passwords, console
    /// sessions, and the tenant's newest events for live pages.
    #[must_use]
    pub const fn console(&self) -> Console<'_> {
        Console::new(self)
    }

    /// Webhook subscriptions and their delivery log.
    #[must_use]
    pub const fn webhooks(&self) -> Webhooks<'_> {
        Webhooks::new(self)
    }

    /// What a webhook delivery worker calls: fan-out, claims, attempts.
    #[must_use]
    pub const fn worker(&self) -> Worker<'_> {
        Worker::new(self)
    }

    /// Housekeeping: retention of finished work, giving free space back,
    /// the database's size, SQLite's size cap.
    #[must_use]
    pub const fn maintenance(&self) -> Maintenance<'_> {
        Maintenance::new(self)
    }

    /// Applies pending migrations; returns the names applied. On
    /// PostgreSQL, a migration that an older node cannot run beside is
    /// refused while any node is running ([`StorageError::NodesRunning`];
    /// nothing is applied). Then, a
    /// migration in Rust: brings every stored webhook secret under the
    /// first secret key (encrypting plaintext ones from before encryption,
    /// re-encrypting those under an older key), and fails when a secret
    /// does not decrypt with the configured keys. Idempotent.
    ///
    /// A node that was killed is listed as running until
    /// `connection::STOPPED_FOR` (10 s) after its last heartbeat, and a
    /// running node sends one every second. So before refusing, the
    /// migration watches the membership until the node seen last has been
    /// silent that long: a new heartbeat meanwhile means a node runs, and
    /// the migration is refused at once; none means every node listed has
    /// stopped (a node restarted right after a crash waits at most 10 s),
    /// and it is tried again.
    pub async fn migrate(&self) -> Result<Vec<String>, StorageError> {
        // Not through the group writer: migrations manage their own
        // transactions (and run before the server takes traffic).
        let now = self.now().as_millis();
        let applied = match self.run(move |c| c.run_pending_migrations(now)).await {
            Err(StorageError::NodesRunning { .. }) if self.wait_for_silent_nodes().await? => {
                let now = self.now().as_millis();
                self.run(move |c| c.run_pending_migrations(now)).await?
            }
            applied => applied?,
        };
        let sealed = self.seal_secrets().await?;
        if sealed > 0 {
            tracing::info!(
                secrets = sealed,
                "encrypted webhook secrets under the current key"
            );
        }
        Ok(applied)
    }

    /// After a migration was refused for running nodes: watches the
    /// membership until the node seen last has been silent for
    /// `connection::STOPPED_FOR` or has left (`true`: worth trying again),
    /// or another heartbeat arrives (`false`: a node runs).
    async fn wait_for_silent_nodes(&self) -> Result<bool, StorageError> {
        let Some(first) = self.run(crate::sql::nodes::last_seen).await? else {
            return Ok(false);
        };
        let stopped = millis(crate::connection::STOPPED_FOR);
        tracing::warn!(
            silent_ms = self.now().as_millis().saturating_sub(first),
            "a migration needs every node stopped and a node was seen running lately: \
             waiting until it counts as stopped, or sends another heartbeat"
        );
        loop {
            let silent = self.now().as_millis().saturating_sub(first);
            if silent >= stopped {
                return Ok(true);
            }
            let left = u64::try_from(stopped - silent).unwrap_or(0);
            tokio::time::sleep(WATCH_NODES_EVERY.min(Duration::from_millis(left + 1))).await;
            match self.run(crate::sql::nodes::last_seen).await? {
                // Still silent.
                Some(last) if last == first => {}
                // A heartbeat: a node runs.
                Some(last) if last > first => return Ok(false),
                // The node seen last left (a clean stop): look again now.
                _ => return Ok(true),
            }
        }
    }

    /// See [`Self::migrate`]; returns how many values were rewritten.
    async fn seal_secrets(&self) -> Result<usize, StorageError> {
        const PAGE: i64 = 500;
        let mut after = 0;
        let mut rewritten = 0;
        loop {
            let rows = self
                .run(move |c| crate::sql::subscriptions::secrets_page(c, after, PAGE))
                .await?;
            let Some(last) = rows.last() else {
                return Ok(rewritten);
            };
            after = last.id;
            let mut changes = Vec::new();
            for row in &rows {
                let cipher = &self.inner.cipher;
                let secret = cipher.reseal(row.id, row.tenant_id, &row.secret)?;
                let previous = match &row.previous_secret {
                    Some(p) => cipher.reseal(row.id, row.tenant_id, p)?,
                    None => None,
                };
                if secret.is_some() || previous.is_some() {
                    changes.push((row.clone(), secret, previous));
                }
            }
            if !changes.is_empty() {
                rewritten += self
                    .write(move |c| {
                        c.write_tx(|c| {
                            let mut n = 0;
                            for (row, secret, previous) in &changes {
                                n += crate::sql::subscriptions::replace_secrets(
                                    c,
                                    row,
                                    secret.as_deref(),
                                    previous.as_deref(),
                                )?;
                            }
                            Ok::<_, StorageError>(n)
                        })
                    })
                    .await?;
            }
        }
    }

    /// This process's feed of changes every node must learn at once (see
    /// [`Change`]): those made in this process, and, while a
    /// [`Store::listen`] listener runs, those of every other process on the
    /// same PostgreSQL database. A receiver that falls behind gets
    /// `Lagged`, which means the same as [`Change::Resync`].
    #[must_use]
    pub fn changes(&self) -> tokio::sync::broadcast::Receiver<Change> {
        self.inner.changes.subscribe()
    }

    /// Tells the other nodes that a write committed here, so that their
    /// webhook workers look for new events now rather than at their next
    /// poll. Costs no database round trip: the listener thread sends one
    /// `NOTIFY` for the commits of each short interval (see
    /// [`Store::listen`]). Does nothing without a listener, and on SQLite.
    pub fn committed(&self) {
        self.inner.changes.committed();
    }

    /// Starts listening for the changes of the other processes on the same
    /// PostgreSQL database, on a connection of its own that reconnects by
    /// itself; they are published on [`Store::changes`]. Stops when the
    /// returned [`Listener`] is dropped. On SQLite it does nothing.
    ///
    /// # Errors
    ///
    /// When the thread cannot be started.
    pub fn listen(&self) -> Result<Listener, StorageError> {
        match &self.inner.pg_url {
            Some(url) => Listener::start(url, Arc::clone(&self.inner.changes)),
            None => Ok(Listener::none()),
        }
    }

    /// Heartbeat membership of the nodes on one database: records that
    /// `node` is alive now (by the store's clock) and returns how many nodes
    /// were seen within `live_within`, this one included (at least 1). Nodes
    /// silent for ten times that long are forgotten. A server calls it
    /// every second and shares its per-key rate limits among the live nodes.
    ///
    /// # Errors
    ///
    /// When the database cannot be reached.
    pub async fn heartbeat(&self, node: &str, live_within: Duration) -> Result<u32, StorageError> {
        let node = node.to_string();
        let now = self.now().as_millis();
        let window = millis(live_within);
        let live = self
            .write(move |c| {
                crate::sql::nodes::heartbeat(
                    c,
                    &node,
                    now,
                    now.saturating_sub(window),
                    now.saturating_sub(window.saturating_mul(10)),
                )
            })
            .await?;
        Ok(u32::try_from(live).unwrap_or(u32::MAX).max(1))
    }

    /// Removes `node` from the membership (it stops), so the others count
    /// without it at their next heartbeat.
    ///
    /// # Errors
    ///
    /// When the database cannot be reached.
    pub async fn leave(&self, node: &str) -> Result<(), StorageError> {
        let node = node.to_string();
        self.write(move |c| crate::sql::nodes::leave(c, &node))
            .await
            .map(drop)
    }

    /// Publishes `change` in this process (other processes hear of it by
    /// the `NOTIFY` its transaction sent).
    pub(crate) fn publish(&self, change: Change) {
        self.inner.changes.publish(change);
    }

    /// The webhook secret cipher.
    pub(crate) fn cipher(&self) -> Arc<Cipher> {
        Arc::clone(&self.inner.cipher)
    }

    /// Reverts every migration (drops all tables). For tests and tooling.
    pub async fn revert_all_migrations(&self) -> Result<Vec<String>, StorageError> {
        self.run(DbConnection::revert_all_migrations).await
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.run(|c| Ok(c.batch_execute("SELECT 1")?)).await
    }

    /// Whether the store can serve writes: the database answers
    /// ([`Store::ping`] on SQLite; on PostgreSQL a writable primary answers
    /// a bounded check on a connection of its own, outside the pool, so the
    /// answer comes within a second even while the server is down; see
    /// [`READY_ANSWER_WITHIN`]), and no call failed because the database was full
    /// ([`StorageError::DiskFull`]) within the last
    /// [`UNREADY_AFTER_DISK_FULL`] (by the store's clock). Once that long
    /// passes without another such failure the store is ready again by
    /// itself: no restart, and no write is needed to find out (a write
    /// that fails again starts the wait again).
    pub async fn ready(&self) -> Result<(), StorageError> {
        match &self.inner.health {
            Some(health) => health.check().await?,
            None => self.ping().await?,
        }
        let mut seen = self
            .inner
            .disk_full
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(DiskFullSeen { at, code }) = *seen else {
            return Ok(());
        };
        let since = self.now().as_millis().saturating_sub(at.as_millis());
        if since < millis(UNREADY_AFTER_DISK_FULL) {
            return Err(StorageError::DiskFull {
                code,
                cause: format!("a call failed {since} ms ago because the database is full").into(),
            });
        }
        *seen = None;
        tracing::info!(
            code,
            "no call failed for lack of space for {} s: the store is ready again",
            UNREADY_AFTER_DISK_FULL.as_secs()
        );
        Ok(())
    }

    /// Runs `f` on a pooled connection on Tokio's blocking pool, inside the
    /// caller's tracing span: every read, and PostgreSQL's writes.
    pub(crate) async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Failure + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let span = tracing::Span::current();
        let permit = inner.pool.admit().await.map_err(E::from)?;
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let _permit = permit;
            let outcome = inner.pool.get().map_err(E::from).and_then(|mut conn| {
                let outcome = f(&mut conn);
                conn.note_outcome(&outcome);
                outcome
            });
            inner.note(&outcome);
            outcome
        })
        .await
        .map_err(|e| E::from(StorageError::internal(e)))?
    }

    /// Like [`Self::read`] for writers. On SQLite the write runs on the
    /// group-commit thread and returns once its group has committed.
    pub(crate) async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Failure + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        if let Some(writer) = &self.inner.writer {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let inner = Arc::clone(&self.inner);
            writer.submit(group_commit::job(f, move |r| {
                inner.note(&r);
                let _ = tx.send(r);
            }))?;
            return rx.await.map_err(|_| {
                E::from(StorageError::internal(
                    "the SQLite writer thread dropped a write",
                ))
            })?;
        }
        self.run(f).await
    }

    /// [`Self::write`] of a write for `tenant`: when it fails because a row
    /// it refers to is missing and that row is the tenant's, the failure is
    /// [`StorageError::TenantGone`] (checked on the same connection, after
    /// the failed write rolled back).
    pub(crate) async fn write_for<T, E, F>(&self, tenant: i64, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Failure + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        self.write(move |c| f(c).map_err(|e| tenant_gone(c, tenant, e)))
            .await
    }

    /// [`Self::run`] of a write for `tenant`; see [`Self::write_for`].
    pub(crate) async fn run_for<T, E, F>(&self, tenant: i64, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Failure + Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    {
        self.run(move |c| f(c).map_err(|e| tenant_gone(c, tenant, e)))
            .await
    }

    /// After a total of `F`'s entity summed `total.summed` rows of its
    /// running counts: when that is more than [`counts::FOLD_ABOVE`],
    /// folds the tenant's rows in the background (one fold per tenant and kind at a time; a
    /// failed fold is logged, and the next total tries again).
    pub(crate) fn after_total<F: Target>(&self, tenant: i64, total: Total) {
        let counts = F::COUNTS;
        if total.summed <= counts::FOLD_ABOVE {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        {
            let Ok(mut folding) = self.inner.folding.lock() else {
                return;
            };
            if !folding.insert((counts, tenant)) {
                return;
            }
        }
        let store = self.clone();
        handle.spawn(async move {
            let folded = store.write(move |c| counts::fold(c, counts, tenant)).await;
            if let Err(e) = folded {
                tracing::warn!(error = %e, ?counts, tenant, "folding the running counts failed");
            }
            if let Ok(mut folding) = store.inner.folding.lock() {
                folding.remove(&(counts, tenant));
            }
        });
    }

    /// The tenants' custom attribute definitions through this store's
    /// cache, on its clock (see `attributes`).
    pub(crate) fn definitions(&self) -> Definitions {
        Definitions::new(Arc::clone(&self.inner.attributes), self.inner.clock.clone())
    }

    /// The positions of served offsets (see `paging`).
    pub(crate) fn offset_cursors(&self) -> &OffsetCursors {
        &self.inner.offset_cursors
    }

    /// The per-node document cache (off on SQLite).
    pub(crate) fn doc_cache(&self) -> &DocCache {
        &self.inner.doc_cache
    }

    /// The copies of the tenants' directories (see `directory`), shared.
    pub(crate) fn directory_shared(&self) -> Arc<DirectoryCache> {
        Arc::clone(&self.inner.directory)
    }

    /// [`Store::doc_cache`], shared (for a request that outlives a borrow).
    pub(crate) fn doc_cache_shared(&self) -> Arc<DocCache> {
        Arc::clone(&self.inner.doc_cache)
    }

    /// What this store's document cache did since it opened: how many
    /// modifies it saved a read, found a stale copy or missed. All zero on
    /// SQLite and with the cache off
    /// ([`StoreConfig::doc_cache_entries`](crate::StoreConfig::doc_cache_entries)).
    #[must_use]
    pub fn doc_cache_stats(&self) -> DocCacheStats {
        self.inner.doc_cache.stats()
    }

    /// The memo of parsed documents (see `decoded`).
    pub(crate) fn decoded(&self) -> &Decoded {
        &self.inner.decoded
    }

    /// [`Store::decoded`], shared (for a call on the blocking pool).
    pub(crate) fn decoded_shared(&self) -> Arc<Decoded> {
        Arc::clone(&self.inner.decoded)
    }

    /// What this store's memo of parsed documents did since it opened: how
    /// many documents it holds, and how many reads copied a held one
    /// instead of parsing. All zero with the memo off
    /// ([`StoreConfig::decoded_cache_bytes`](crate::StoreConfig::decoded_cache_bytes)).
    #[must_use]
    pub fn decoded_stats(&self) -> DecodedStats {
        self.inner.decoded.stats()
    }

    /// The SQLite writer, when the store runs on SQLite.
    pub(crate) fn sqlite_writer(&self) -> Option<&GroupWriter> {
        self.inner.writer.as_ref()
    }
}

/// Classifies a failed write for `tenant`: a foreign-key violation while
/// the tenant's row is missing is [`StorageError::TenantGone`]; anything
/// else stays as it is.
fn tenant_gone<E: Failure>(c: &mut DbConnection, tenant: i64, mut e: E) -> E {
    if let Some(error) = e.storage_error_mut()
        && error.is_foreign_key_violation()
        && matches!(crate::sql::tenants::tenant_by_id(c, tenant), Ok(None))
    {
        *error = StorageError::TenantGone;
    }
    e
}
