//! SQLite group commit: one thread runs every write of the process.
//!
//! SQLite has one writer at a time, and with `synchronous = FULL` every
//! commit waits for an fsync. Writers taking turns on a lock each pay for
//! their own commit and for the hand-over of the lock between threads. Here
//! a single thread owns a connection and takes the writes that are waiting,
//! up to [`MAX_GROUP`], into one `BEGIN IMMEDIATE` transaction: each write
//! runs inside it as a nested transaction (a `SAVEPOINT`, so a failing write
//! rolls back alone), then one `COMMIT` makes them all durable with one
//! fsync. Every caller gets its answer only after that commit, so an
//! acknowledged write is as durable as before; if the commit fails, every
//! write of the group fails.
//!
//! The WAL is not checkpointed by the commit that made it long (SQLite's
//! automatic checkpoint), which copied its pages into the database file
//! before the commit's callers heard back. A second thread with a
//! connection of its own copies them instead, every [`CHECKPOINT_EVERY`]
//! after writes, beside the writer (`PASSIVE`: it waits for no reader and
//! no writer). SQLite starts the WAL over from its beginning only when a
//! write transaction begins with every committed page copied, which writes
//! committed during such a pass prevent; so after each pass the writer,
//! once its group's callers have their answers, copies the few pages
//! committed since (a `PASSIVE` checkpoint of its own), and its next write
//! starts the WAL over. The WAL stays about one pass long.
//!
//! PostgreSQL does not use this: its writers run side by side and the
//! server groups concurrent commits itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::Duration;

use diesel::RunQueryDsl;
use diesel::connection::{
    AnsiTransactionManager, SimpleConnection, TransactionManager, TransactionManagerStatus,
};
use diesel::sqlite::SqliteConnection;

use crate::StorageError;
use crate::connection::{DbConnection, Failure, Pooled};

/// Most writes committed together.
pub(crate) const MAX_GROUP: usize = 64;

/// How often the checkpoint thread copies what was committed since its
/// last look from the WAL into the database file. At the highest write
/// rates measured here (about 3,000 writes a second of some 15 pages each)
/// the WAL grows by about 18 MB in that time; SQLite's own automatic
/// checkpoint, which this replaces, ran every 1,000 pages (4 MB).
pub(crate) const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// What a write hands back after running: called once with the group's
/// commit result (`None` when it committed).
pub(crate) type Completion = Box<dyn FnOnce(Option<&StorageError>) + Send>;

/// A write that ran: its completion, and when the database failed it, the
/// error to give the other writes of its group should the failure have
/// taken the group's transaction with it (see [`commit_group`]).
pub(crate) struct Ran {
    done: Completion,
    failed: Option<StorageError>,
}

/// A write: runs on the writer's connection inside the group transaction,
/// or is told why it cannot run.
pub(crate) type Job = Box<dyn FnOnce(Result<&mut DbConnection, &StorageError>) -> Ran + Send>;

/// The handle writers send their jobs to; the thread stops when the last
/// handle is dropped.
#[derive(Debug)]
pub(crate) struct GroupWriter {
    jobs: Sender<Job>,
    /// Writes queued or running: submitted and not yet answered.
    pending: Arc<AtomicUsize>,
    /// Dropped with the writer: tells the checkpoint thread to stop.
    _checkpoints: Sender<()>,
}

/// What the writer and the checkpoint thread share.
#[derive(Debug, Default)]
struct Checkpoints {
    /// Groups committed.
    commits: AtomicU64,
    /// Whether the checkpoint thread finished a pass the writer has not
    /// topped up yet.
    passed: AtomicBool,
}

impl GroupWriter {
    /// Starts the writer thread on `conn`, which it keeps for its whole
    /// life: taken from the pool up front, so callers that hold pooled
    /// connections while they wait for the writer can never starve it.
    /// The checkpoint thread keeps `checkpointer`, a connection to the
    /// same file outside the pool.
    pub(crate) fn start(conn: Pooled, checkpointer: DbConnection) -> Result<Self, StorageError> {
        let (jobs, queue) = channel::<Job>();
        let (checkpoints, stop) = channel::<()>();
        let pending = Arc::new(AtomicUsize::new(0));
        let shared = Arc::new(Checkpoints::default());
        let counted = Arc::clone(&pending);
        let writer = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint(checkpointer, &stop, &shared))
            .map_err(StorageError::internal)?;
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, &queue, &counted, &writer))
            .map_err(StorageError::internal)?;
        Ok(Self {
            jobs,
            pending,
            _checkpoints: checkpoints,
        })
    }

    /// Queues a job.
    pub(crate) fn submit(&self, job: Job) -> Result<(), StorageError> {
        self.pending.fetch_add(1, Ordering::AcqRel);
        self.jobs.send(job).map_err(|_| {
            self.pending.fetch_sub(1, Ordering::AcqRel);
            StorageError::internal("the SQLite writer thread has stopped")
        })
    }

    /// Whether no write is queued or running: a write submitted now runs
    /// at once, in a group of its own.
    pub(crate) fn is_idle(&self) -> bool {
        self.pending.load(Ordering::Acquire) == 0
    }
}

/// Wraps `f` as a [`Job`] whose result, once the group committed (or
/// failed), goes to `reply`.
pub(crate) fn job<T, E, F, R>(f: F, reply: R) -> Job
where
    T: Send + 'static,
    E: From<StorageError> + Failure + Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    R: FnOnce(Result<T, E>) + Send + 'static,
{
    // The write runs inside its caller's tracing span, on this thread.
    let span = tracing::Span::current();
    Box::new(move |conn: Result<&mut DbConnection, &StorageError>| {
        let outcome = match conn {
            Ok(c) => span.in_scope(|| f(c)),
            Err(e) if e.is_disk_full() => Err(E::from(e.caused("the write could not start"))),
            Err(e) => Err(E::from(StorageError::Unavailable(e.to_string().into()))),
        };
        // Only the database's own failures can abort the transaction; a
        // refusal (not found, a conflict, the rules, the caller's own
        // error) cannot.
        let failed = outcome
            .as_ref()
            .err()
            .and_then(Failure::storage_error)
            .filter(|e| e.is_disk_full() || e.may_be_lost_connection())
            .map(|e| e.caused("another write of the group failed"));
        let done = Box::new(move |commit: Option<&StorageError>| {
            reply(match (outcome, commit) {
                (Ok(_), Some(e)) => Err(E::from(e.caused("the group commit failed"))),
                (outcome, _) => outcome,
            });
        }) as Completion;
        Ran { done, failed }
    })
}

fn sqlite(conn: &mut DbConnection) -> Option<&mut SqliteConnection> {
    match conn {
        DbConnection::Sqlite(c) => Some(c),
        DbConnection::Pg(_) => None,
    }
}

fn run(mut conn: Pooled, queue: &Receiver<Job>, pending: &AtomicUsize, shared: &Checkpoints) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let n = group.len();
        commit_group(&mut conn, group);
        shared.commits.fetch_add(1, Ordering::Release);
        pending.fetch_sub(n, Ordering::AcqRel);
        if shared.passed.swap(false, Ordering::AcqRel)
            && let Err(e) = wal_checkpoint(&mut conn)
        {
            // The checkpoint thread reports lasting failures.
            tracing::debug!(error = %e, "the writer's top-up checkpoint failed");
        }
    }
}

/// The checkpoint thread: every [`CHECKPOINT_EVERY`], when a group was
/// committed since its last look, copies the WAL's committed pages into
/// the database file (as far as no reader still reads the older ones; the
/// rest at a later look), then lets the writer top up. Ends when the
/// writer is dropped.
fn checkpoint(mut conn: DbConnection, stop: &Receiver<()>, shared: &Checkpoints) {
    let mut seen = 0;
    let mut failing = false;
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        let now = shared.commits.load(Ordering::Acquire);
        if now == seen {
            continue;
        }
        seen = now;
        // Pages committed during a pass are copied by another, as long as
        // there were many, so that the writer's top-up stays short; after
        // the last pass the writer tops up whatever is left, so that the
        // WAL starts over even when writes never slow down.
        let mut before = None;
        for pass in 1..=MAX_PASSES {
            let wal = match wal_checkpoint(&mut conn) {
                Ok(wal) => wal,
                // Nothing is lost: the WAL only stays longer until a pass
                // succeeds. Said once for a run of failures.
                Err(e) if failing => {
                    tracing::debug!(error = %e, "checkpointing the SQLite WAL failed again");
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "checkpointing the SQLite WAL failed; \
                        it grows until a later pass succeeds");
                    failing = true;
                    break;
                }
            };
            failing = false;
            let added = before.map_or(wal, |b| wal.saturating_sub(b));
            before = Some(wal);
            if added <= TOP_UP_FRAMES || pass == MAX_PASSES {
                shared.passed.store(true, Ordering::Release);
                break;
            }
        }
    }
}

/// Most passes of one background checkpoint.
const MAX_PASSES: usize = 4;

/// How many pages committed during a background pass the writer copies
/// itself (more take another pass first).
const TOP_UP_FRAMES: i64 = 256;

/// A `PASSIVE` checkpoint on `conn`: how many frames the WAL holds.
fn wal_checkpoint(conn: &mut DbConnection) -> diesel::QueryResult<i64> {
    #[derive(diesel::QueryableByName)]
    struct Checkpointed {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        log: i64,
    }
    diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)")
        .get_result::<Checkpointed>(conn)
        .map(|c| c.log)
}

/// Runs `group` in one transaction on `conn` and completes every job. A
/// failed group is rolled back and the connection kept (an SQLite
/// connection is a file handle: a busy lock or a full disk is the file's
/// state, not the connection's).
///
/// After some errors (`SQLITE_FULL`, I/O errors, out of memory) SQLite
/// rolls back the whole transaction, not just the failing statement. So
/// after a write fails, the writer checks that its transaction is still
/// open; if SQLite rolled it back, the writes of the group that ran before
/// are lost with it: they are answered with the failing write's error (a
/// full disk stays a full disk), and the writes still waiting run in a new
/// transaction. No write is ever answered as failed while SQLite committed
/// it on its own, nor as committed while it was rolled back.
fn commit_group(conn: &mut DbConnection, group: Vec<Job>) {
    let Some(c) = sqlite(conn) else {
        fail(group, &StorageError::internal("group commit is for SQLite"));
        return;
    };
    if let Err(e) = AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE") {
        fail(group, &StorageError::from(e));
        return;
    }
    let mut completions = Vec::with_capacity(group.len());
    let mut panicked = false;
    let mut jobs = group.into_iter();
    while let Some(job) = jobs.next() {
        // A panicking write (a bug) leaves the transaction in an unknown
        // state: the whole group is rolled back. Its own caller sees its
        // reply channel closed.
        let ran =
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(Ok(&mut *conn)))) {
                Ok(ran) => ran,
                Err(_) => {
                    panicked = true;
                    continue;
                }
            };
        completions.push(ran.done);
        let Some(cause) = ran.failed else {
            continue;
        };
        let Some(c) = sqlite(conn) else {
            return;
        };
        if !transaction_lost(c) {
            continue;
        }
        tracing::warn!(error = %cause, writes = completions.len() - 1,
            "SQLite rolled back the group's transaction after a failed write; \
             the group's earlier writes fail with it");
        for done in completions.drain(..) {
            done(Some(&cause));
        }
        // Nothing of a write that panicked before remains either.
        panicked = false;
        if let Err(e) = AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE") {
            fail(jobs.collect(), &StorageError::from(e));
            return;
        }
    }
    let Some(c) = sqlite(conn) else {
        return;
    };
    let error = if panicked {
        let _ = AnsiTransactionManager::rollback_transaction(c);
        recover(c);
        Some(StorageError::internal(
            "a write in the group panicked; the group was rolled back",
        ))
    } else {
        let committed = AnsiTransactionManager::commit_transaction(c).map_err(StorageError::from);
        let error = committed.err();
        if let Some(e) = &error {
            tracing::warn!(error = %e, writes = completions.len(), "SQLite group commit failed");
            let _ = AnsiTransactionManager::rollback_transaction(c);
            recover(c);
        }
        error
    };
    for done in completions {
        done(error.as_ref());
    }
}

/// Whether SQLite rolled back the transaction the connection was in (after
/// an error that aborts the whole transaction). If it did, Diesel's record
/// of it is reset, so the connection can begin a new one.
fn transaction_lost(c: &mut SqliteConnection) -> bool {
    // `BEGIN` fails inside a transaction; if it succeeds there was none.
    if c.batch_execute("BEGIN").is_err() {
        return false;
    }
    recover(c);
    true
}

/// Leaves the connection outside any transaction, with Diesel's record of
/// it reset to match: after a failed commit or rollback, Diesel may
/// consider the connection broken for good, and this one is the writer's
/// for the life of the store.
fn recover(c: &mut SqliteConnection) {
    // Fails harmlessly when no transaction is open.
    let _ = c.batch_execute("ROLLBACK");
    *AnsiTransactionManager::transaction_manager_status_mut(c) =
        TransactionManagerStatus::default();
}

/// Fails every job of a group that could not start.
fn fail(group: Vec<Job>, e: &StorageError) {
    tracing::warn!(error = %e, writes = group.len(), "SQLite group commit could not start");
    for job in group {
        (job(Err(e)).done)(None);
    }
}
