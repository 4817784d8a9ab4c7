//! Keeping the database bounded: retention of finished work, returning
//! free space to the file system, and the SQLite size cap; the
//! [`Maintenance`] handle.
//!
//! Three kinds of rows only ever grow: processed outbox events, finished
//! webhook deliveries with their attempts (the delivery log), and the
//! change history. A [`Retention`] says how long each is kept; a
//! [`Pruner`] deletes what it lets go, a small batch at a time
//! ([`Maintenance::prune`]), so that deleting never holds up writers.
//! Work not finished is never deleted: an event not processed yet
//! (pending, or quarantined), a pending delivery, or an event that still
//! has a delivery.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{QueryableByName, RunQueryDsl};

use crate::config::millis;
use crate::connection::DbConnection;
use crate::sql::{self, R};
use crate::{StorageError, Store};

const DAY: Duration = Duration::from_secs(24 * 3600);

/// How long finished work is kept before it is deleted; `None` keeps it
/// forever. The age counts from when the work finished.
///
/// ```
/// use std::time::Duration;
/// use switchboard_storage::Retention;
///
/// let r = Retention::default();
/// assert_eq!(r.deliveries, Some(Duration::from_secs(30 * 24 * 3600)));
/// assert_eq!(Retention::FOREVER.history, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Outbox events (the webhook payloads), from when they were fanned
    /// out to their deliveries. An event stays at least as long as any of
    /// its deliveries. Default: 30 days.
    pub events: Option<Duration>,
    /// Finished webhook deliveries (succeeded, failed or cancelled) with
    /// their attempts, from when they finished: the delivery log and what
    /// can be redelivered. Default: 30 days.
    pub deliveries: Option<Duration>,
    /// Change-history rows, from when the change was made. Default: 90 days.
    pub history: Option<Duration>,
}

impl Retention {
    /// Nothing is ever deleted.
    pub const FOREVER: Self = Self {
        events: None,
        deliveries: None,
        history: None,
    };

    /// The defaults: events and deliveries 30 days, history 90 days.
    pub const DEFAULT: Self = Self {
        events: Some(DAY.saturating_mul(30)),
        deliveries: Some(DAY.saturating_mul(30)),
        history: Some(DAY.saturating_mul(90)),
    };
}

impl Default for Retention {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Rows deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Outbox events.
    pub events: u64,
    /// Webhook deliveries.
    pub deliveries: u64,
    /// Delivery attempts (deleted with their delivery).
    pub attempts: u64,
    /// Change-history rows.
    pub history: u64,
}

impl Pruned {
    /// All rows deleted.
    #[must_use]
    pub const fn total(&self) -> u64 {
        self.events + self.deliveries + self.attempts + self.history
    }
}

impl std::ops::AddAssign for Pruned {
    fn add_assign(&mut self, other: Self) {
        self.events += other.events;
        self.deliveries += other.deliveries;
        self.attempts += other.attempts;
        self.history += other.history;
    }
}

/// What one [`Maintenance::prune`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneStep {
    /// Rows deleted by this step.
    pub pruned: Pruned,
    /// Whether the round is over: every kind of row reached rows too young
    /// to go (or keeps them forever). The next step starts a new round from
    /// the oldest rows.
    pub done: bool,
}

/// Where a round of pruning is, for one kind of row.
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    /// The last id looked at.
    after: i64,
    /// Reached rows too young to go.
    done: bool,
}

/// Deletes what a [`Retention`] lets go, a batch of each kind of row per
/// [`Maintenance::prune`] step. It goes through the rows oldest first and
/// remembers where it is, so a round looks at each row once even when
/// some cannot go yet (a pending delivery, an event whose deliveries are
/// kept longer).
#[derive(Debug, Clone)]
pub struct Pruner {
    retention: Retention,
    batch: i64,
    events: Cursor,
    deliveries: Cursor,
    history: Cursor,
}

impl Pruner {
    /// A pruner for `retention` that looks at up to `batch_size` rows
    /// (1-10,000) of each kind per step.
    #[must_use]
    pub fn new(retention: Retention, batch_size: u32) -> Self {
        Self {
            retention,
            batch: i64::from(batch_size.clamp(1, 10_000)),
            events: Cursor::default(),
            deliveries: Cursor::default(),
            history: Cursor::default(),
        }
    }

    /// What it keeps.
    #[must_use]
    pub const fn retention(&self) -> Retention {
        self.retention
    }

    /// Starts the next step from the oldest rows again.
    pub fn restart(&mut self) {
        self.events = Cursor::default();
        self.deliveries = Cursor::default();
        self.history = Cursor::default();
    }
}

/// How far a scan got: the rows that may go, where to continue, and
/// whether it reached rows too young to go.
struct Scan {
    candidates: Vec<i64>,
    last: i64,
    done: bool,
}

/// Goes through `rows` (id order) until the first one written at or after
/// `cutoff`: ids of those `may_go` says may go.
fn scan<T>(
    rows: &[T],
    batch: i64,
    after: i64,
    cutoff: i64,
    id: impl Fn(&T) -> i64,
    written: impl Fn(&T) -> i64,
    may_go: impl Fn(&T) -> bool,
) -> Scan {
    let mut out = Scan {
        candidates: Vec::new(),
        last: after,
        done: i64::try_from(rows.len()).unwrap_or(i64::MAX) < batch,
    };
    for row in rows {
        if written(row) >= cutoff {
            out.done = true;
            break;
        }
        if may_go(row) {
            out.candidates.push(id(row));
        }
        out.last = id(row);
    }
    out
}

/// How retention finds and deletes one kind of row: rows of type `T`,
/// deleted with a count `D`.
struct RowKind<T, D> {
    /// The next batch of rows (at most `limit`) with ids above `after`.
    read: fn(&mut DbConnection, i64, i64) -> R<Vec<T>>,
    id: fn(&T) -> i64,
    /// When the row was written.
    written: fn(&T) -> i64,
    /// Whether the row may go, given the cutoff.
    may_go: fn(&T, i64) -> bool,
    /// Deletes the rows of these ids that may still go at the cutoff.
    delete: fn(&mut DbConnection, &[i64], i64) -> R<D>,
}

/// `now` minus `keep`, or `None` to keep forever.
fn cutoff(now: i64, keep: Option<Duration>) -> Option<i64> {
    keep.filter(|d| !d.is_zero())
        .map(|d| now.saturating_sub(millis(d)))
}

/// `n` as a count.
fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Database housekeeping; from [`Store::maintenance`].
#[derive(Debug, Clone, Copy)]
pub struct Maintenance<'a> {
    store: &'a Store,
}

impl<'a> Maintenance<'a> {
    pub(crate) const fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// One step of `pruner`: for each kind of row that still has work in
    /// this round, looks at the next batch (oldest first, with a read) and
    /// deletes those that may go in one short write transaction. Ages are
    /// judged by the store's clock.
    ///
    /// Call it again until [`PruneStep::done`]; each call is short, and
    /// writers go between them. On PostgreSQL a row another transaction
    /// holds is skipped, never waited for.
    pub async fn prune(self, pruner: &mut Pruner) -> Result<PruneStep, StorageError> {
        let now = self.store.now().as_millis();
        let batch = pruner.batch;
        let mut pruned = Pruned::default();

        // Deliveries first: an event can go only once its deliveries have.
        let deliveries = RowKind {
            read: sql::retention::deliveries_after,
            id: |d| d.id,
            written: |d| d.created_at,
            may_go: |d, cut| d.state != "pending" && d.completed_at.is_some_and(|t| t < cut),
            delete: sql::retention::delete_deliveries,
        };
        let keep = pruner.retention.deliveries;
        if let Some((deliveries, attempts)) = self
            .prune_kind(&mut pruner.deliveries, keep, now, batch, deliveries)
            .await?
        {
            pruned.deliveries = count(deliveries);
            pruned.attempts = count(attempts);
        }

        let events = RowKind {
            read: sql::retention::events_after,
            id: |e| e.id,
            written: |e| e.created_at,
            may_go: |e, cut| e.processed_at.is_some_and(|t| t < cut),
            delete: sql::retention::delete_events,
        };
        let keep = pruner.retention.events;
        if let Some(events) = self
            .prune_kind(&mut pruner.events, keep, now, batch, events)
            .await?
        {
            pruned.events = count(events);
        }

        let history = RowKind {
            read: sql::retention::history_after,
            id: |h| h.0,
            written: |h| h.1,
            may_go: |_, _| true,
            delete: sql::retention::delete_history,
        };
        let keep = pruner.retention.history;
        if let Some(history) = self
            .prune_kind(&mut pruner.history, keep, now, batch, history)
            .await?
        {
            pruned.history = count(history);
        }

        let done = pruner.events.done && pruner.deliveries.done && pruner.history.done;
        if done {
            pruner.restart();
        }
        Ok(PruneStep { pruned, done })
    }

    /// [`Self::prune`]'s step for one kind of row, kept `keep` after it
    /// was written (forever with `None`): reads the batch after `cursor`,
    /// deletes those that may go in one short write transaction, and moves
    /// `cursor` on. Returns what the delete counted, if it ran.
    async fn prune_kind<T, D>(
        self,
        cursor: &mut Cursor,
        keep: Option<Duration>,
        now: i64,
        batch: i64,
        kind: RowKind<T, D>,
    ) -> Result<Option<D>, StorageError>
    where
        T: Send + 'static,
        D: Send + 'static,
    {
        let Some(cut) = cutoff(now, keep) else {
            cursor.done = true;
            return Ok(None);
        };
        if cursor.done {
            return Ok(None);
        }
        let after = cursor.after;
        let read = kind.read;
        let rows = self.store.run(move |c| read(c, after, batch)).await?;
        let s = scan(&rows, batch, after, cut, kind.id, kind.written, |row| {
            (kind.may_go)(row, cut)
        });
        let mut deleted = None;
        if !s.candidates.is_empty() {
            let (ids, delete) = (s.candidates, kind.delete);
            deleted = Some(
                self.store
                    .write(move |c| c.write_tx(|c| delete(c, &ids, cut)))
                    .await?,
            );
        }
        *cursor = Cursor {
            after: s.last,
            done: s.done,
        };
        Ok(deleted)
    }

    /// A whole round of `pruner` ([`Self::prune`] until it is done),
    /// yielding to other tasks between steps. Returns the rows deleted.
    pub async fn prune_all(self, pruner: &mut Pruner) -> Result<Pruned, StorageError> {
        let mut total = Pruned::default();
        loop {
            let step = self.prune(pruner).await?;
            total += step.pruned;
            if step.done {
                return Ok(total);
            }
            tokio::task::yield_now().await;
        }
    }

    /// SQLite: gives free pages back to the file system, up to `max_pages`
    /// per call (`PRAGMA incremental_vacuum`), keeping a tenth of the
    /// database free for new rows. Rows deleted by pruning leave free pages
    /// that new rows reuse either way; this shrinks the file. Returns the
    /// pages given back: 0 when there is little free, on PostgreSQL (whose
    /// autovacuum makes the space reusable) and on an SQLite database
    /// created before incremental vacuum was switched on (see
    /// `docs/webhooks.md`, "Retention").
    pub async fn reclaim_space(self, max_pages: u32) -> Result<u64, StorageError> {
        if !self.store.is_sqlite() {
            return Ok(0);
        }
        let pages = self.store.run(sqlite_pages).await?;
        if pages.auto_vacuum != 2 {
            return Ok(0);
        }
        let reserve = pages.page_count / 10;
        let n = pages
            .freelist_count
            .saturating_sub(reserve)
            .min(i64::from(max_pages));
        if n <= 0 {
            return Ok(0);
        }
        self.store
            .write(move |c| {
                c.batch_execute(&format!("PRAGMA incremental_vacuum({n})"))?;
                Ok::<_, StorageError>(())
            })
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Refreshes what the query planner knows of the data: on SQLite
    /// `ANALYZE`; on PostgreSQL `VACUUM (ANALYZE)` of the tables, which
    /// also marks their pages all-visible so counts are read from indexes
    /// alone. Run it after a bulk import ([`Customers::import`](crate::Customers::import)):
    /// until then the planner judges queries by the empty tables it last
    /// saw. PostgreSQL's autovacuum does the same on its own, minutes
    /// later; SQLite never does.
    ///
    /// SQLite keeps the averages (`sqlite_stat1`) and drops the samples of
    /// values (`sqlite_stat4`, [`SQLITE_STAT4`]): with samples, a prepared
    /// statement whose bound value is compared to an indexed column (every
    /// search, with its tenant) is prepared again on every run to be
    /// planned for that value, which took a fifth of the server's CPU on a
    /// page of chats; without them, a statement the connection keeps is
    /// prepared once, and planned by the averages.
    ///
    /// [`SQLITE_STAT4`]: https://sqlite.org/compile.html#enable_stat4
    pub async fn analyze(self) -> Result<(), StorageError> {
        let sqlite = self.store.is_sqlite();
        self.store
            .write(move |c| {
                if sqlite {
                    // In the write's transaction: no connection sees the
                    // samples; this one reloads the statistics without them.
                    c.batch_execute("ANALYZE; DELETE FROM sqlite_stat4; ANALYZE sqlite_schema;")?;
                } else {
                    // VACUUM cannot run in a transaction: one statement
                    // each. The running counts too: an import adds and
                    // folds a row per entity, and until they are vacuumed
                    // every total beside a page walks their dead index
                    // entries (a 100,000-row import made the customer
                    // list's first page 25× a point GET).
                    for table in [
                        "customers",
                        "conversations",
                        "customer_counts",
                        "conversation_counts",
                    ] {
                        c.batch_execute(&format!("VACUUM (ANALYZE) {table}"))?;
                    }
                }
                Ok::<_, StorageError>(())
            })
            .await
    }

    /// The database's size in bytes: on SQLite, its pages (the file
    /// without its write-ahead log); on PostgreSQL, the store's tables with
    /// their indexes and TOAST.
    pub async fn database_size(self) -> Result<u64, StorageError> {
        #[derive(QueryableByName)]
        struct Size {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            bytes: i64,
        }
        let sqlite = self.store.is_sqlite();
        let size: Size = self
            .store
            .run(move |c| {
                let q = if sqlite {
                    "SELECT p.page_count * s.page_size AS bytes \
                     FROM pragma_page_count p, pragma_page_size s"
                } else {
                    "SELECT CAST(COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS BIGINT) AS bytes \
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                };
                Ok::<_, StorageError>(diesel::sql_query(q).get_result(c)?)
            })
            .await?;
        Ok(u64::try_from(size.bytes).unwrap_or(0))
    }

    /// SQLite: caps the database at `pages` pages (`PRAGMA max_page_count`
    /// on the connection that makes every write of this store), or lifts
    /// the cap (`None`). A write that would grow the database past it fails
    /// with [`StorageError::DiskFull`] (`SQLITE_FULL`), exactly as on a full
    /// disk: for tests of that path, and for an operator who wants a hard
    /// ceiling while they free space. SQLite never sets the cap below the
    /// database's current size. Returns the cap in force, in pages;
    /// `None` on PostgreSQL, which has no such setting.
    pub async fn set_sqlite_max_pages(
        self,
        pages: Option<u32>,
    ) -> Result<Option<u64>, StorageError> {
        #[derive(QueryableByName)]
        struct Cap {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            max_page_count: i64,
        }
        if !self.store.is_sqlite() {
            return Ok(None);
        }
        // SQLite's largest page count (and its default cap).
        let pages = pages.unwrap_or(u32::MAX - 1);
        self.store
            .write(move |c| {
                let cap: Cap =
                    diesel::sql_query(format!("PRAGMA max_page_count = {pages}")).get_result(c)?;
                Ok(Some(u64::try_from(cap.max_page_count).unwrap_or(0)))
            })
            .await
    }
}

/// SQLite's page counts and vacuum mode.
#[derive(QueryableByName)]
struct Pages {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    auto_vacuum: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    page_count: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    freelist_count: i64,
}

fn sqlite_pages(c: &mut DbConnection) -> Result<Pages, StorageError> {
    Ok(diesel::sql_query(
        "SELECT a.auto_vacuum, p.page_count, f.freelist_count \
         FROM pragma_auto_vacuum a, pragma_page_count p, pragma_freelist_count f",
    )
    .get_result(c)?)
}

#[cfg(test)]
mod tests {
    use super::scan;

    #[test]
    fn a_scan_stops_at_the_first_young_row() {
        // (id, written, may go)
        type Row = (i64, i64, bool);
        let rows: [Row; 5] = [
            (3, 10, true),
            (4, 11, false),
            (6, 12, true),
            (7, 20, true),
            (8, 9, true),
        ];
        let s = scan(&rows, 10, 2, 20, |r| r.0, |r| r.1, |r| r.2);
        assert_eq!(s.candidates, [3, 6]);
        assert_eq!(s.last, 6);
        assert!(s.done);

        // A full batch of old rows: not done, continue after the last.
        let s = scan(&rows[..3], 3, 2, 20, |r| r.0, |r| r.1, |r| r.2);
        assert_eq!(
            (s.candidates.as_slice(), s.last, s.done),
            ([3, 6].as_slice(), 6, false)
        );

        // A short batch: the end of the table.
        let s = scan(&rows[..3], 10, 2, 20, |r| r.0, |r| r.1, |r| r.2);
        assert!(s.done);
        let s = scan::<Row>(&[], 10, 2, 20, |r| r.0, |r| r.1, |r| r.2);
        assert_eq!((s.last, s.done), (2, true));
    }
}
