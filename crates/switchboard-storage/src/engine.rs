//! The one read-modify-write engine, for every entity.
//!
//! A modify reads the row, applies the caller's change and the domain's
//! rules to a copy ([`switchboard_domain::entity::revise_changed`]), and writes the
//! new version with its events and history row only if the row is still at
//! the version it read. Two things keep it fast, for every entity:
//!
//! - **Staged first attempt.** The first attempt reads and computes
//!   outside any transaction. On PostgreSQL it is one blocking hop on one
//!   connection. On SQLite, when the single writer is busy, the read and
//!   the computation run on a pooled connection meanwhile (released before
//!   the write queues), so the writer only writes; when the writer is idle
//!   the whole modify runs in it, one hop and no pooled connection.
//! - **No read on PostgreSQL when this node wrote the row last.** The
//!   first attempt plans on the document cache's copy ([`DocCache`]) when
//!   it has one, and the version check of the write decides whether the
//!   copy was current. Only a plan that ends in a write is taken from a
//!   copy: any other outcome is planned again on the row as read. The
//!   same holds for the rows a change links to that the cache has (a
//!   conversation's customer): the write checks their versions too.
//! - **One statement on PostgreSQL.** When the write needs nothing else in
//!   its transaction (no new link to check, no new tag to record), the
//!   update, its outbox rows and its history row are one data-modifying
//!   statement, atomic by itself, sent without `BEGIN`/`COMMIT`.
//!
//! If another writer got there first, the engine reads again inside a write
//! transaction (on PostgreSQL with the row locked, so a retry always makes
//! progress) and tries again, at most [`MAX_MODIFY_ATTEMPTS`] times, so the
//! change and the precondition are always judged against the row actually
//! written.
//!
//! The entity-specific parts (which table, which links to check, which
//! rows to load for the change) are the private [`Stored`] trait.

use std::sync::Arc;

use switchboard_domain::entity::{Revision, prepare_new, revise_changed};
use switchboard_domain::{DomainError, DomainEvent, Entity, TenantId, Timestamp};

use crate::attributes::Definitions;
use crate::config::Clock;
use crate::connection::{DbConnection, Failure};
use crate::doc_cache::DocCache;
use crate::sql::R;
use crate::sql::record::{self, Record};
use crate::{
    BatchError, ImportError, MAX_MODIFY_ATTEMPTS, ModifyError, Precondition, StorageError, Store,
    WriteContext,
};

/// How an entity is stored: the parts of a write the engine cannot know.
pub(crate) trait Stored: Entity {
    /// The columns a write sends, computed before the write.
    type Write: Send + 'static;
    /// The rows a change may need to see besides the entity itself.
    type Links: Send + 'static;

    /// Whether, on SQLite, a change's reading and computing is worth
    /// moving off the single writer while it is busy. It costs a thread
    /// hop and a pooled connection per write, and pays off when the
    /// computation is heavy: a conversation change may be a JSON Patch of
    /// the whole document; a customer change is a merge of a few fields
    /// (measured in `docs/benchmarks.md`).
    const STAGE_ON_SQLITE: bool;

    /// The running counts of the entity (`sql::counts`).
    const COUNTS: crate::sql::counts::Counts;

    /// Reads one row of the tenant; `lock` holds it until the transaction ends.
    fn load(c: &mut DbConnection, tenant: i64, id: i64, lock: bool) -> R<Option<Self>>;
    /// What the domain rules need ([`Entity::Rules`]) whatever the
    /// change: once per write (or once per import), through the store's
    /// cache of definitions `defs` where it has them.
    fn rules(c: &mut DbConnection, tenant: i64, defs: &Definitions) -> R<Self::Rules>;
    /// Adds to `rules` what the rules need for `after` in particular (a
    /// customer's tags named without a color: their colors in the tenant's
    /// catalogue). Reads only when `after` needs something `rules` lack, so
    /// a write that needs nothing more costs no round trip. Nothing by
    /// default.
    fn rules_for(_: &mut DbConnection, _: i64, _: &mut Self::Rules, _: &Self) -> R<()> {
        Ok(())
    }
    /// Adds to `rules` what the events of writing `after` over `before`
    /// (`None`: a new entity, or events announced about it as it is) need
    /// (a conversation's `email_updated` names the linked customer where
    /// the visitor gave no name or country). Reads only when an event
    /// needs it; not called by an import, which has no events. Nothing by
    /// default.
    fn rules_for_events(
        _: &mut DbConnection,
        _: i64,
        _: &mut Self::Rules,
        _: Option<&Self>,
        _: &Self,
    ) -> R<()> {
        Ok(())
    }
    /// [`Stored::load`] of an unlocked row with the rows [`Stored::links`]
    /// reads (keeping them in `cache`), in fewer statements where the
    /// entity can (a conversation and its customer in one). By default,
    /// the one and then the other.
    fn load_linked(
        c: &mut DbConnection,
        tenant: i64,
        id: i64,
        cache: &DocCache,
    ) -> R<Option<(Self, Self::Links)>> {
        let Some(entity) = Self::load(c, tenant, id, false)? else {
            return Ok(None);
        };
        let (links, _) = Self::links(c, tenant, &entity, cache, false)?;
        Ok(Some((entity, links)))
    }
    /// Reads the rows `entity` links to, for a change that asked for them,
    /// and keeps those it read in `cache`. With `reuse`, a row `cache`
    /// holds is taken from it instead of read; the second value says
    /// whether any was, and then only a write may follow from them, because
    /// [`Stored::update`] checks each such row is still at its version.
    fn links(
        c: &mut DbConnection,
        tenant: i64,
        entity: &Self,
        cache: &DocCache,
        reuse: bool,
    ) -> R<(Self::Links, bool)>;
    /// The columns to write for `self`.
    fn to_write(&self) -> R<Self::Write>;
    /// The length of the stored document in `write`: what the document
    /// cache weighs the entity by.
    fn stored_len(write: &Self::Write) -> usize;
    /// Inserts a new row; returns its id.
    fn insert(c: &mut DbConnection, write: &Self::Write) -> R<i64>;
    /// Whether writing `after` over `before` (`None`: a new row) needs more
    /// than the row itself in its transaction: [`Stored::prelude`].
    fn needs_prelude(before: Option<&Self>, after: &Self) -> bool;
    /// Checks or writes what `after` needs besides its own row, inside the
    /// write's transaction: that links point at rows of the tenant, new tags.
    fn prelude(c: &mut DbConnection, tenant: i64, before: Option<&Self>, after: &Self) -> R<()>;
    /// Writes `write` over `before` with `record`, if the row is still at
    /// `before`'s version and the linked rows in `links` (as the change saw
    /// them; empty when it asked for none) are still at theirs; `false`
    /// when not (roll back and retry).
    fn update(
        c: &mut DbConnection,
        tenant: i64,
        before: &Self,
        write: &Self::Write,
        record: &Record,
        links: &Self::Links,
    ) -> R<bool>;
    /// Deletes the row if it is still at `version`; how many rows went.
    fn delete(c: &mut DbConnection, tenant: i64, id: i64, version: i64) -> R<usize>;
}

/// Why a modify attempt stopped.
enum Abort<X> {
    /// Another writer changed the row after it was read. The rows that
    /// record the change may already be written (on PostgreSQL they go in
    /// the same statement as the update), so the attempt is rolled back
    /// and the caller reloads and tries again.
    Retry,
    /// The call fails with this error.
    Failed(ModifyError<X>),
}

impl<X> From<StorageError> for Abort<X> {
    fn from(e: StorageError) -> Self {
        Self::Failed(ModifyError::Storage(e))
    }
}

impl<X> From<diesel::result::Error> for Abort<X> {
    fn from(e: diesel::result::Error) -> Self {
        StorageError::from(e).into()
    }
}

impl<X> From<ModifyError<X>> for Abort<X> {
    fn from(e: ModifyError<X>) -> Self {
        Self::Failed(e)
    }
}

/// A change that produced a new version, ready to write.
struct Planned<E: Stored> {
    before: E,
    after: E,
    links: E::Links,
    write: E::Write,
    record: Record,
    /// [`Stored::stored_len`] of `write`.
    len: usize,
}

enum Plan<E: Stored> {
    /// The change leaves the row equal: nothing to write.
    Unchanged(E, E::Links),
    /// Write this (if the row is still at `before.version`).
    Write(Box<Planned<E>>),
}

/// What one modify asks for, besides the change itself.
#[derive(Clone)]
pub(crate) struct Request {
    pub ctx: WriteContext,
    pub id: i64,
    pub precondition: Precondition,
    /// Load the entity's links and give them to the change.
    pub links: bool,
    pub clock: Clock,
    /// The store's cached definitions, for the rules.
    pub defs: Definitions,
    /// The store's document cache, for linked rows.
    pub cache: Arc<DocCache>,
}

impl Request {
    /// A request of `ctx` to modify entity `id`, on the store's clock.
    pub(crate) fn new(
        store: &Store,
        ctx: &WriteContext,
        id: i64,
        precondition: Precondition,
        links: bool,
    ) -> Self {
        Self {
            ctx: ctx.clone(),
            id,
            precondition,
            links,
            clock: store.clock().clone(),
            defs: store.definitions(),
            cache: store.doc_cache_shared(),
        }
    }
}

/// A change that cannot fail, as a change [`modify`] takes (the domain's
/// rules still apply to its result).
pub(crate) fn infallible<E>(
    mut change: impl FnMut(&mut E) + Send + 'static,
) -> impl FnMut(&mut E) -> Result<(), DomainError> + Send + 'static {
    move |e| {
        change(e);
        Ok(())
    }
}

/// Entity `id` of the tenant, read outside any transaction.
pub(crate) async fn get<E: Stored>(
    store: &Store,
    tenant: TenantId,
    id: i64,
) -> Result<E, StorageError> {
    store
        .run(move |c| E::load(c, tenant.get(), id, false))
        .await?
        .ok_or(StorageError::NotFound)
}

/// Where a plan's linked rows come from ([`Stored::links`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Linked {
    /// Read, every one: an attempt inside a write transaction.
    Read,
    /// From the document cache where it has them: a first attempt, whose
    /// write checks their versions.
    Reuse,
}

/// Reads the row (`lock`: locked, inside the caller's transaction; else
/// with its links, if asked for, in as few statements as it can: see
/// [`Stored::load_linked`]), checks the precondition, applies `change` and
/// the rules, and prepares the write.
fn plan<E, X, F>(
    c: &mut DbConnection,
    req: &Request,
    lock: bool,
    change: &mut F,
) -> Result<Plan<E>, ModifyError<X>>
where
    E: Stored,
    E::Links: Default,
    F: FnMut(&mut E, &E::Links) -> Result<(), X>,
{
    let tenant = req.ctx.tenant.id.get();
    if req.links && !lock {
        let (before, links) =
            E::load_linked(c, tenant, req.id, &req.cache)?.ok_or(StorageError::NotFound)?;
        check_precondition(&before, req.precondition)?;
        return plan_linked(c, req, before, links, change);
    }
    let before = load_checked::<E>(c, tenant, req.id, lock, req.precondition)?;
    plan_on(c, req, before, Linked::Read, change)
}

/// [`plan`] on `before`, read already (and the precondition checked).
///
/// Linked rows taken from the document cache are checked by the write
/// only, so a plan on them that ends in anything else (no change, a
/// rejection, an error) is made again on the rows as read.
fn plan_on<E, X, F>(
    c: &mut DbConnection,
    req: &Request,
    before: E,
    linked: Linked,
    change: &mut F,
) -> Result<Plan<E>, ModifyError<X>>
where
    E: Stored,
    E::Links: Default,
    F: FnMut(&mut E, &E::Links) -> Result<(), X>,
{
    if !req.links {
        return plan_linked(c, req, before, E::Links::default(), change);
    }
    let tenant = req.ctx.tenant.id.get();
    let reuse = linked == Linked::Reuse;
    let (links, reused) = E::links(c, tenant, &before, &req.cache, reuse)?;
    if !reused {
        return plan_linked(c, req, before, links, change);
    }
    let again = before.clone();
    match plan_linked(c, req, before, links, change) {
        Ok(Plan::Write(p)) => Ok(Plan::Write(p)),
        _ => {
            req.cache.note_stale();
            let (links, _) = E::links(c, tenant, &again, &req.cache, false)?;
            plan_linked(c, req, again, links, change)
        }
    }
}

/// [`plan_on`] with the linked rows `links` (the default when the change
/// asked for none).
fn plan_linked<E, X, F>(
    c: &mut DbConnection,
    req: &Request,
    before: E,
    links: E::Links,
    change: &mut F,
) -> Result<Plan<E>, ModifyError<X>>
where
    E: Stored,
    E::Links: Default,
    F: FnMut(&mut E, &E::Links) -> Result<(), X>,
{
    let tenant = req.ctx.tenant.id.get();
    let mut rules = E::rules(c, tenant, &req.defs)?;
    // The change first, so that the rules can be completed for its result
    // (a lookup only when the result needs one).
    let mut changed = before.clone();
    change(&mut changed, &links).map_err(ModifyError::Rejected)?;
    E::rules_for(c, tenant, &mut rules, &changed)?;
    E::rules_for_events(c, tenant, &mut rules, Some(&before), &changed)?;
    let revision = revise_changed(
        before,
        changed,
        &rules,
        req.ctx.actor,
        &req.ctx.tenant.name,
        req.clock.now(),
    )
    .map_err(|d| ModifyError::Storage(d.into()))?;
    match revision {
        Revision::Unchanged(e) => Ok(Plan::Unchanged(e, links)),
        Revision::Changed(changed) => {
            let changed = *changed;
            let write = changed.after.to_write()?;
            let len = E::stored_len(&write);
            let record = Record::new(
                &req.ctx,
                changed.events,
                E::KIND,
                req.id,
                (
                    Some(changed.before.version()),
                    Some(changed.after.version()),
                ),
                changed.at,
            )?;
            Ok(Plan::Write(Box::new(Planned {
                before: changed.before,
                after: changed.after,
                links,
                write,
                record,
                len,
            })))
        }
    }
}

/// Writes a planned change inside the caller's transaction:
/// [`Abort::Retry`] if the row is no longer at the version it was planned on.
fn commit<E: Stored, X>(
    c: &mut DbConnection,
    tenant: i64,
    p: Planned<E>,
) -> Result<(E, E::Links), Abort<X>> {
    E::prelude(c, tenant, Some(&p.before), &p.after)?;
    if E::update(c, tenant, &p.before, &p.write, &p.record, &p.links)? {
        Ok((p.after, p.links))
    } else {
        Err(Abort::Retry)
    }
}

/// The first write of a staged modify: on PostgreSQL, one autocommit
/// statement when nothing else must happen in its transaction; otherwise
/// [`commit`] in a write transaction.
fn commit_first<E: Stored, X>(
    c: &mut DbConnection,
    tenant: i64,
    p: Planned<E>,
) -> Result<(E, E::Links), Abort<X>> {
    if matches!(c, DbConnection::Pg(_)) && !E::needs_prelude(Some(&p.before), &p.after) {
        // The statement is atomic by itself: a version conflict aborts all
        // of it, outbox and history rows included.
        return if E::update(c, tenant, &p.before, &p.write, &p.record, &p.links)? {
            Ok((p.after, p.links))
        } else {
            Err(Abort::Retry)
        };
    }
    c.write_tx(|c| commit(c, tenant, p))
}

/// Read-modify-write of one entity with optimistic concurrency; see the
/// module documentation. Returns the entity as written and the rows it
/// links to as the change saw them (the default when not asked for).
pub(crate) async fn modify<E, X, F>(
    store: &Store,
    req: Request,
    mut change: F,
) -> Result<(E, E::Links), ModifyError<X>>
where
    E: Stored,
    E::Links: Default,
    X: Send + 'static,
    F: FnMut(&mut E, &E::Links) -> Result<(), X> + Send + 'static,
{
    let tenant = req.ctx.tenant.id.get();
    match store.sqlite_writer() {
        // PostgreSQL: one connection, one blocking hop. The first attempt
        // reads outside a transaction (or takes the row from the document
        // cache), and its write is one statement when it can be.
        None => {
            store
                .run_for(tenant, move |conn| {
                    if let Some(planned) = plan_cached(conn, &req, &mut change) {
                        return first_write(conn, &req, (planned, true), &mut change);
                    }
                    let planned = match plan(conn, &req, false, &mut change)? {
                        Plan::Unchanged(e, links) => return Ok((e, links)),
                        Plan::Write(p) => p,
                    };
                    first_write(conn, &req, (planned, false), &mut change)
                })
                .await
        }
        // SQLite, the writer idle (or the change cheap): the whole modify in
        // the writer, one hop.
        Some(writer) if writer.is_idle() || !E::STAGE_ON_SQLITE => {
            store
                .write_for(tenant, move |conn| retry(conn, &req, &mut change))
                .await
        }
        // SQLite, the writer busy: read and compute on a pooled connection
        // meanwhile (released before the write queues), so the single
        // writer only writes.
        Some(_) => {
            let (planned, req, change) = store
                .run(move |conn| {
                    let planned = plan(conn, &req, false, &mut change)?;
                    Ok::<_, ModifyError<X>>((planned, req, change))
                })
                .await?;
            let planned = match planned {
                Plan::Unchanged(e, links) => return Ok((e, links)),
                Plan::Write(p) => p,
            };
            let mut change = change;
            store
                .write_for(tenant, move |conn| {
                    match commit_first(conn, tenant, *planned) {
                        Ok(done) => Ok(done),
                        Err(Abort::Retry) => retry(conn, &req, &mut change),
                        Err(Abort::Failed(e)) => Err(e),
                    }
                })
                .await
        }
    }
}

/// The first attempt's plan on the document cache's copy of the row, if
/// it has one and the plan ends in a write; see `doc_cache`. Any other
/// outcome (a failed precondition, a rejected or refused change, no change,
/// an error) drops the entry and gives `None`: the caller plans again on
/// the row as read, so that only the current row answers without a write.
fn plan_cached<E, X, F>(
    conn: &mut DbConnection,
    req: &Request,
    change: &mut F,
) -> Option<Box<Planned<E>>>
where
    E: Stored,
    E::Links: Default,
    F: FnMut(&mut E, &E::Links) -> Result<(), X>,
{
    let tenant = req.ctx.tenant.id.get();
    let cache = &req.cache;
    let cached = cache.get::<E>(tenant, req.id)?;
    if req
        .precondition
        .holds(cached.version(), cached.updated_at())
        && let Ok(Plan::Write(p)) = plan_on(conn, req, cached, Linked::Reuse, change)
    {
        return Some(p);
    }
    cache.note_stale();
    cache.forget::<E>(tenant, req.id);
    None
}

/// Writes the first attempt's plan ([`commit_first`]; `from_cache`: planned
/// on the document cache's copy), and on a conflict
/// goes on with [`retry`]; the document cache keeps what was written and
/// forgets the row on a conflict or a failure.
fn first_write<E, X, F>(
    conn: &mut DbConnection,
    req: &Request,
    (planned, from_cache): (Box<Planned<E>>, bool),
    change: &mut F,
) -> Result<(E, E::Links), ModifyError<X>>
where
    E: Stored,
    E::Links: Default,
    F: FnMut(&mut E, &E::Links) -> Result<(), X>,
{
    let tenant = req.ctx.tenant.id.get();
    let cache = &req.cache;
    let len = planned.len;
    let outcome = match commit_first(conn, tenant, *planned) {
        Ok(done) => {
            if from_cache {
                cache.note_written();
            }
            Ok((done, Some(len)))
        }
        Err(Abort::Retry) => {
            if from_cache {
                cache.note_stale();
            }
            cache.forget::<E>(tenant, req.id);
            retry_weighed(conn, req, change)
        }
        // A write planned on a copy may fail where the row would not (a
        // link the copy lacks is looked up as new): the failure is judged
        // again on the row, read locked. Rolled back, it left nothing.
        Err(Abort::Failed(_)) if from_cache => {
            cache.note_stale();
            cache.forget::<E>(tenant, req.id);
            retry_weighed(conn, req, change)
        }
        Err(Abort::Failed(e)) => Err(e),
    };
    match outcome {
        Ok(((entity, links), Some(len))) => {
            cache.put(tenant, &entity, len);
            Ok((entity, links))
        }
        Ok((done, None)) => Ok(done),
        Err(e) => {
            cache.forget::<E>(tenant, req.id);
            Err(e)
        }
    }
}

/// Reads, computes and writes in one transaction (on PostgreSQL with the
/// row locked), again while another writer wins, at most
/// [`MAX_MODIFY_ATTEMPTS`] times.
fn retry<E, X, F>(
    conn: &mut DbConnection,
    req: &Request,
    change: &mut F,
) -> Result<(E, E::Links), ModifyError<X>>
where
    E: Stored,
    E::Links: Default,
    F: FnMut(&mut E, &E::Links) -> Result<(), X>,
{
    retry_weighed(conn, req, change).map(|(done, _)| done)
}

/// [`retry`], with the [`Stored::stored_len`] of what it wrote (`None`
/// when the change left the row as it was).
#[expect(clippy::type_complexity, reason = "a private helper's result")]
fn retry_weighed<E, X, F>(
    conn: &mut DbConnection,
    req: &Request,
    change: &mut F,
) -> Result<((E, E::Links), Option<usize>), ModifyError<X>>
where
    E: Stored,
    E::Links: Default,
    F: FnMut(&mut E, &E::Links) -> Result<(), X>,
{
    let tenant = req.ctx.tenant.id.get();
    for _ in 0..MAX_MODIFY_ATTEMPTS {
        let outcome = conn.write_tx(|c| match plan(c, req, true, change)? {
            Plan::Unchanged(e, links) => Ok(((e, links), None)),
            Plan::Write(p) => {
                let len = p.len;
                commit(c, tenant, *p).map(|done| (done, Some(len)))
            }
        });
        match outcome {
            Ok(done) => return Ok(done),
            Err(Abort::Retry) => {}
            Err(Abort::Failed(e)) => return Err(e),
        }
    }
    Err(StorageError::Contention.into())
}

/// Applies several changes in **one transaction**: either every change is
/// written (with its events and history) or none is.
///
/// Rows are read locked in ascending id order (PostgreSQL `FOR UPDATE`),
/// so concurrent batches cannot deadlock and no retry is needed. The
/// results are in the order of `changes`.
pub(crate) async fn modify_many<E, X, F>(
    store: &Store,
    ctx: WriteContext,
    clock: Clock,
    changes: Vec<(i64, F)>,
) -> Result<Vec<E>, BatchError<X>>
where
    E: Stored,
    E::Links: Default,
    X: Send + 'static,
    F: FnMut(&mut E, &E::Links) -> Result<(), X> + Send + 'static,
{
    let tenant = ctx.tenant.id.get();
    let defs = store.definitions();
    let cache = store.doc_cache_shared();
    // The rows get new versions: the document cache's copies would only
    // cost a conflict each, but are dropped now.
    for (id, _) in &changes {
        store.doc_cache().forget::<E>(tenant, *id);
    }
    store
        .write_for(tenant, move |conn| {
            let mut order: Vec<usize> = (0..changes.len()).collect();
            order.sort_by_key(|&i| changes[i].0);
            let mut changes = changes;
            let tenant = ctx.tenant.id.get();
            let mut done = conn.write_tx(|c| {
                let mut done = Vec::with_capacity(order.len());
                // Every item is planned, so that each refused change is
                // reported; nothing is written once one has failed (the
                // transaction is rolled back).
                let mut failed: Vec<(usize, ModifyError<X>)> = Vec::new();
                for &index in &order {
                    let (id, change) = &mut changes[index];
                    let req = Request {
                        ctx: ctx.clone(),
                        id: *id,
                        precondition: Precondition::NONE,
                        links: false,
                        clock: clock.clone(),
                        defs: defs.clone(),
                        cache: Arc::clone(&cache),
                    };
                    let planned = match plan(c, &req, true, change) {
                        Ok(p) => p,
                        Err(e) if e.storage_error().is_none_or(refusal) => {
                            failed.push((index, e));
                            continue;
                        }
                        Err(e) => {
                            return Err(BatchError {
                                index,
                                error: e,
                                more: Vec::new(),
                            });
                        }
                    };
                    if !failed.is_empty() {
                        continue;
                    }
                    let written = match planned {
                        Plan::Unchanged(e, _) => e,
                        Plan::Write(p) => match commit(c, tenant, *p) {
                            Ok((e, _)) => e,
                            // The row is locked: nobody can have changed it.
                            Err(Abort::Retry) => {
                                return Err(BatchError {
                                    index,
                                    error: StorageError::Contention.into(),
                                    more: Vec::new(),
                                });
                            }
                            Err(Abort::Failed(e)) => {
                                return Err(BatchError {
                                    index,
                                    error: e,
                                    more: Vec::new(),
                                });
                            }
                        },
                    };
                    done.push((index, written));
                }
                match BatchError::of(failed) {
                    Some(e) => Err(e),
                    None => Ok::<_, BatchError<X>>(done),
                }
            })?;
            done.sort_by_key(|(i, _)| *i);
            Ok(done.into_iter().map(|(_, e)| e).collect())
        })
        .await
}

/// Whether a storage error refuses one item of a batch (the item is
/// reported and the others still checked), rather than failing the batch.
fn refusal(e: &StorageError) -> bool {
    matches!(e, StorageError::NotFound | StorageError::Domain(_))
}

/// Creates an entity from `draft` (its id, version and times are assigned
/// here): checks the rules and links, inserts it, and writes its events and
/// history in the same transaction.
pub(crate) async fn create<E: Stored>(
    store: &Store,
    ctx: WriteContext,
    draft: E,
) -> Result<E, StorageError> {
    let defs = store.definitions();
    in_write_tx(store, ctx, move |c, ctx, tenant, clock| {
        let mut rules = E::rules(c, tenant, &defs)?;
        E::rules_for(c, tenant, &mut rules, &draft)?;
        E::rules_for_events(c, tenant, &mut rules, None, &draft)?;
        let t = clock.now();
        let mut entity = prepare_new(draft, &rules, ctx.tenant.id, ctx.actor, t)?;
        E::prelude(c, tenant, None, &entity)?;
        let id = E::insert(c, &entity.to_write()?)?;
        entity.set_id(id);
        let events = E::events(&ctx.tenant.name, &rules, None, Some(&entity), t);
        let record = Record::new(ctx, events, E::KIND, id, (None, Some(1)), t)?;
        record::write(c, &record)?;
        Ok(entity)
    })
    .await
}

/// Runs `f` in a write transaction of the context's tenant (on SQLite in
/// the single writer), with the tenant's id and the store's clock.
async fn in_write_tx<T, Err, F>(store: &Store, ctx: WriteContext, f: F) -> Result<T, Err>
where
    T: Send + 'static,
    Err: From<StorageError> + From<diesel::result::Error> + Failure + Send + 'static,
    F: FnOnce(&mut DbConnection, &WriteContext, i64, &Clock) -> Result<T, Err> + Send + 'static,
{
    let clock = store.clock().clone();
    let tenant = ctx.tenant.id.get();
    store
        .write_for(tenant, move |conn| {
            conn.write_tx(|c| f(c, &ctx, tenant, &clock))
        })
        .await
}

/// Reads entity `id` of the tenant (`lock`: locked until the transaction
/// ends) and checks that `precondition` holds for it.
fn load_checked<E: Stored>(
    c: &mut DbConnection,
    tenant: i64,
    id: i64,
    lock: bool,
    precondition: Precondition,
) -> R<E> {
    let current = E::load(c, tenant, id, lock)?.ok_or(StorageError::NotFound)?;
    check_precondition(&current, precondition)?;
    Ok(current)
}

/// [`StorageError::PreconditionFailed`] unless `precondition` holds for `current`.
fn check_precondition<E: Entity>(current: &E, precondition: Precondition) -> R<()> {
    if precondition.holds(current.version(), current.updated_at()) {
        Ok(())
    } else {
        Err(StorageError::PreconditionFailed)
    }
}

/// Creates many entities from `drafts` in one transaction, without events
/// or history (an import of existing data, not a change): each is checked
/// against the rules and its links like [`create`], and keeps the time its
/// draft carries (`updated_at`, which the entities' `new` sets) as its
/// creation and last-write time, unless that lies in the future. Either all
/// are stored or none (one transaction, which on SQLite holds the single
/// writer: callers send batches of a few thousand); the error names the
/// first failing draft.
pub(crate) async fn import<E: Stored>(
    store: &Store,
    ctx: WriteContext,
    drafts: Vec<E>,
) -> Result<Vec<E>, ImportError> {
    let defs = store.definitions();
    in_write_tx(store, ctx, move |c, ctx, tenant, clock| {
        let mut rules = E::rules(c, tenant, &defs)?;
        let now = clock.now();
        let mut stored = Vec::with_capacity(drafts.len());
        for (index, draft) in drafts.into_iter().enumerate() {
            let fail = |e: StorageError| ImportError {
                index,
                more: Vec::new(),
                error: ModifyError::Storage(e),
            };
            let at = draft.updated_at().min(now);
            E::rules_for(c, tenant, &mut rules, &draft).map_err(fail)?;
            let mut entity = prepare_new(draft, &rules, ctx.tenant.id, ctx.actor, at)
                .map_err(|e| fail(e.into()))?;
            E::prelude(c, tenant, None, &entity).map_err(fail)?;
            let id = E::insert(c, &entity.to_write().map_err(fail)?).map_err(fail)?;
            entity.set_id(id);
            stored.push(entity);
        }
        // Each row inserted added a +1 to the running counts: fold them in
        // the same transaction, so a bulk import leaves no pile of them
        // (and, on PostgreSQL, its `VACUUM` afterwards no dead rows).
        crate::sql::counts::fold_in(c, E::COUNTS, tenant).map_err(|error| ImportError {
            index: 0,
            more: Vec::new(),
            error: ModifyError::Storage(error),
        })?;
        Ok(stored)
    })
    .await
}

/// Records `events` about entity `id` without changing it: the row is
/// locked and `precondition` checked in the same transaction, so the
/// events describe exactly the version they name. `events` gets the
/// tenant's name, the rules the events need ([`Stored::rules_for_events`]
/// with no `before`), the entity and the time.
pub(crate) async fn announce<E: Stored>(
    store: &Store,
    ctx: WriteContext,
    id: i64,
    precondition: Precondition,
    events: impl FnOnce(&str, &E::Rules, &E, Timestamp) -> Vec<DomainEvent> + Send + 'static,
) -> Result<E, StorageError> {
    in_write_tx(store, ctx, move |c, ctx, tenant, clock| {
        let current = load_checked::<E>(c, tenant, id, true, precondition)?;
        let mut rules = E::Rules::default();
        E::rules_for_events(c, tenant, &mut rules, None, &current)?;
        let t = clock.now();
        let version = Some(current.version());
        let events = events(&ctx.tenant.name, &rules, &current, t);
        let record = Record::new(ctx, events, E::KIND, id, (version, version), t)?;
        record::write(c, &record)?;
        Ok(current)
    })
    .await
}

/// Deletes an entity if `precondition` holds, checked and deleted in one
/// transaction (the row locked in between), writing its events and
/// history in the same transaction.
pub(crate) async fn delete<E: Stored>(
    store: &Store,
    ctx: WriteContext,
    id: i64,
    precondition: Precondition,
) -> Result<(), StorageError> {
    // Dropped whatever the outcome: a deleted row's copy would only cost a
    // conflict, but takes room. Its parsed document goes too, and again
    // once the delete committed (a read may have parsed it meanwhile): no
    // read will find the row again, and a deleted person's details are
    // not kept in memory until evicted.
    let tenant = ctx.tenant.id.get();
    store.doc_cache().forget::<E>(tenant, id);
    store.decoded().forget::<E>(tenant, id);
    let deleted = in_write_tx(store, ctx, move |c, ctx, tenant, clock| {
        let before = load_checked::<E>(c, tenant, id, true, precondition)?;
        if E::delete(c, tenant, id, before.version())? == 0 {
            return Err(StorageError::NotFound);
        }
        let t = clock.now();
        let events = E::events(
            &ctx.tenant.name,
            &E::Rules::default(),
            Some(&before),
            None,
            t,
        );
        let record = Record::new(ctx, events, E::KIND, id, (Some(before.version()), None), t)?;
        record::write(c, &record)?;
        Ok(())
    })
    .await;
    store.decoded().forget::<E>(tenant, id);
    deleted
}
