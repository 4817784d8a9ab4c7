//! The rows that record a change: its events for the outbox and one
//! change-history row, written with the change in the same transaction.
//! PostgreSQL sends an update and its records as one statement.

use diesel::prelude::*;
use diesel::query_builder::{QueryFragment, QueryId};
use switchboard_domain::{DomainEvent, EntityKind, Timestamp};

use super::R;
use crate::connection::{DbConnection, native};
use crate::json_column::JsonText;
use crate::rows::{HistoryRow, NewHistoryRow, NewOutboxRow, json};
use crate::schema::change_history;
use crate::{StorageError, WriteContext};

/// Writes `record` alone (a create or a delete).
pub(crate) fn write(c: &mut DbConnection, record: &Record) -> R<()> {
    native!(c, c => c.write_record(record))
}

/// Runs `update` (a single-row `UPDATE … WHERE version = ?`) and writes
/// `record` with it. `false` when the update matched no row; the record
/// may have been written all the same, so the caller must then roll the
/// transaction back (on PostgreSQL the statement is atomic by itself).
pub(crate) fn update_and_write<U>(c: &mut DbConnection, update: U, record: &Record) -> R<bool>
where
    U: QueryFragment<diesel::pg::Pg> + QueryFragment<diesel::sqlite::Sqlite> + QueryId,
{
    native!(c, c => c.update_and_record(update, record))
}

/// One entity's change history, newest first; with `before`, only rows
/// with a smaller id (the next page).
pub(crate) fn history(
    c: &mut DbConnection,
    tenant: i64,
    kind: EntityKind,
    id: i64,
    before: Option<i64>,
    limit: i64,
) -> R<Vec<HistoryRow>> {
    Ok(change_history::table
        .filter(change_history::tenant_id.eq(tenant))
        .filter(change_history::entity_kind.eq(kind.as_str()))
        .filter(change_history::entity_id.eq(id))
        .filter(change_history::id.lt(before.unwrap_or(i64::MAX)))
        .order(change_history::id.desc())
        .limit(limit)
        .select(HistoryRow::as_select())
        .load(c)?)
}

/// The rows that record one change: its events for the outbox and one
/// change-history row.
#[derive(Debug)]
pub(crate) struct Record {
    outbox: Vec<NewOutboxRow>,
    history: NewHistoryRow,
}

impl Record {
    /// The records of a change to entity `id` of `kind` from
    /// `version_before` to `version_after` at `t`, causing `events`.
    pub(crate) fn new(
        ctx: &WriteContext,
        events: Vec<DomainEvent>,
        kind: EntityKind,
        id: i64,
        versions: (Option<i64>, Option<i64>),
        t: Timestamp,
    ) -> Result<Self, StorageError> {
        let (version_before, version_after) = versions;
        // Each diff is written as JSON text, once: the events of one change
        // share theirs, and the history row's is the first event's.
        let mut texts: Vec<JsonText> = Vec::with_capacity(events.len());
        for (i, e) in events.iter().enumerate() {
            let text = match texts.last() {
                Some(text) if events[i - 1].diff == e.diff => text.clone(),
                _ => JsonText(serde_json::to_string(&e.diff)?),
            };
            texts.push(text);
        }
        let diff = texts
            .first()
            .cloned()
            .unwrap_or_else(|| JsonText("[]".to_owned()));
        let outbox = events
            .into_iter()
            .zip(texts)
            .map(|(e, text)| NewOutboxRow::from_event(e, text))
            .collect::<Vec<_>>();
        let history = NewHistoryRow {
            tenant_id: ctx.tenant.id.get(),
            entity_kind: kind.as_str().to_string(),
            entity_id: id,
            actor: json(ctx.actor)?,
            api: ctx.api.clone(),
            diff,
            version_before,
            version_after,
            created_at: t.as_millis(),
        };
        Ok(Self { outbox, history })
    }
}

/// Writes a [`Record`], alone or with the entity's update, as each backend
/// does best.
trait WriteRecord: diesel::Connection {
    fn write_record(&mut self, record: &Record) -> Result<(), StorageError>;

    /// Runs `update` (a single-row `UPDATE … WHERE version = ?`) and writes
    /// `record` with it. `false` when the update matched no row; the record
    /// may have been written all the same, so the caller must then roll the
    /// transaction back.
    fn update_and_record<U>(&mut self, update: U, record: &Record) -> Result<bool, StorageError>
    where
        U: diesel::query_builder::QueryFragment<Self::Backend> + diesel::query_builder::QueryId;
}

/// SQLite: one statement per table. Statements cost no round trip here, and
/// SQLite has no data-modifying `WITH`.
impl WriteRecord for diesel::sqlite::SqliteConnection {
    fn write_record(&mut self, record: &Record) -> Result<(), StorageError> {
        use diesel::RunQueryDsl;

        // The rows carry the rule of `outbox_unmatched` themselves: an event
        // no subscription matches is inserted done, so the trigger (kept for
        // rows written otherwise) finds nothing to do, and the row never
        // enters the pending index only to leave it in the same statement
        // (a page of the index written by every commit).
        if !record.outbox.is_empty() {
            OutboxInsert(&record.outbox).execute(self)?;
        }
        HistoryInsert(&record.history).execute(self)?;
        Ok(())
    }

    fn update_and_record<U>(&mut self, update: U, record: &Record) -> Result<bool, StorageError>
    where
        U: diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite>
            + diesel::query_builder::QueryId,
    {
        if diesel::query_dsl::methods::ExecuteDsl::execute(update, self)? == 0 {
            return Ok(false);
        }
        self.write_record(record)?;
        Ok(true)
    }
}

/// PostgreSQL: one statement, so one round trip, for all of it:
/// `WITH o AS (INSERT INTO outbox …) INSERT INTO change_history …`, and with
/// the update `WITH u AS (UPDATE … RETURNING 1), o AS (…), h AS (…) SELECT 1
/// FROM u`.
impl WriteRecord for diesel::pg::PgConnection {
    fn write_record(&mut self, record: &Record) -> Result<(), StorageError> {
        use diesel::RunQueryDsl;

        let then = HistoryInsert(&record.history);
        match record.outbox.as_slice() {
            [] => then.execute(self)?,
            rows => WithInsert {
                first: OutboxInsert(rows),
                then,
            }
            .execute(self)?,
        };
        Ok(())
    }

    fn update_and_record<U>(&mut self, update: U, record: &Record) -> Result<bool, StorageError>
    where
        U: diesel::query_builder::QueryFragment<diesel::pg::Pg> + diesel::query_builder::QueryId,
    {
        use diesel::RunQueryDsl;

        let history = HistoryInsert(&record.history);
        let outbox = match record.outbox.as_slice() {
            [] => None,
            rows => Some(OutboxInsert(rows)),
        };
        // A version conflict raises 40001 (see `UpdateAndRecord`).
        let updated = UpdateAndRecord {
            update,
            outbox,
            history,
        }
        .execute(self);
        match updated {
            Ok(n) => Ok(n > 0),
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::SerializationFailure,
                _,
            )) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// The outbox insert of both backends: `INSERT INTO outbox (…,
/// processed_at) VALUES (…, CASE WHEN EXISTS (<an active subscription of
/// the row's tenant and type>) THEN NULL ELSE <created_at> END), …`. An
/// event that no subscription matches when it is written is done at once,
/// so the worker never takes it. It was the `outbox_unmatched` trigger's
/// rule, which PostgreSQL ran as a PL/pgSQL call per row until migration
/// `2026-12-05-000101_outbox_history_unlocked` moved it here; SQLite's
/// trigger (which marked the row in a second step) stays for rows
/// inserted otherwise. The check
/// reads the statement's snapshot, as the trigger did: a subscription
/// committed while the statement runs is concurrent with the event either
/// way. Cached by SQL text, one statement per number of rows.
#[derive(Debug, Clone, Copy)]
struct OutboxInsert<'a>(&'a [NewOutboxRow]);

impl diesel::query_builder::QueryId for OutboxInsert<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::RunQueryDsl<diesel::sqlite::SqliteConnection> for OutboxInsert<'_> {}

for_each_backend! {
    impl diesel::query_builder::QueryFragment<DB> for OutboxInsert<'_> {
        fn walk_ast<'b>(
            &'b self,
            mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
        ) -> diesel::QueryResult<()> {
            use crate::schema::sql_types::WrittenJson;
            use diesel::sql_types::{BigInt, Nullable, Text};

            out.push_sql(
                "INSERT INTO outbox (tenant_id, event_type, entity_kind, entity_id, \
                 version_before, version_after, payload, diff, created_at, available_at, \
                 processed_at) VALUES ",
            );
            for (i, row) in self.0.iter().enumerate() {
                // Every member, so that a new one breaks the build here.
                let NewOutboxRow {
                    tenant_id,
                    event_type,
                    entity_kind,
                    entity_id,
                    version_before,
                    version_after,
                    payload,
                    diff,
                    created_at,
                    available_at,
                } = row;
                out.push_sql(if i == 0 { "(" } else { ", (" });
                out.push_bind_param::<BigInt, _>(tenant_id)?;
                out.push_sql(", ");
                out.push_bind_param::<Text, _>(event_type)?;
                out.push_sql(", ");
                out.push_bind_param::<Text, _>(entity_kind)?;
                out.push_sql(", ");
                out.push_bind_param::<BigInt, _>(entity_id)?;
                out.push_sql(", ");
                out.push_bind_param::<Nullable<BigInt>, _>(version_before)?;
                out.push_sql(", ");
                out.push_bind_param::<Nullable<BigInt>, _>(version_after)?;
                out.push_sql(", ");
                out.push_bind_param::<WrittenJson, _>(payload)?;
                out.push_sql(", ");
                out.push_bind_param::<WrittenJson, _>(diff)?;
                out.push_sql(", ");
                out.push_bind_param::<BigInt, _>(created_at)?;
                out.push_sql(", ");
                out.push_bind_param::<BigInt, _>(available_at)?;
                out.push_sql(
                    ", CASE WHEN EXISTS (SELECT 1 FROM webhook_subscriptions s \
                     WHERE s.tenant_id = ",
                );
                out.push_bind_param::<BigInt, _>(tenant_id)?;
                out.push_sql(" AND s.event = ");
                out.push_bind_param::<Text, _>(event_type)?;
                out.push_sql(" AND s.state = 'active') THEN NULL ELSE ");
                out.push_bind_param::<BigInt, _>(created_at)?;
                out.push_sql(" END)");
            }
            Ok(())
        }
    }
}

/// `INSERT INTO change_history (…) VALUES (…)`: the history row of a
/// change, written out as the outbox insert is (see `sql::updates` for
/// why), on both backends.
#[derive(Debug, Clone, Copy)]
struct HistoryInsert<'a>(&'a NewHistoryRow);

impl diesel::query_builder::QueryId for HistoryInsert<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::RunQueryDsl<diesel::sqlite::SqliteConnection> for HistoryInsert<'_> {}
impl diesel::RunQueryDsl<diesel::pg::PgConnection> for HistoryInsert<'_> {}

for_each_backend! {
    impl diesel::query_builder::QueryFragment<DB> for HistoryInsert<'_> {
        fn walk_ast<'b>(
            &'b self,
            mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
        ) -> diesel::QueryResult<()> {
            use crate::schema::sql_types::WrittenJson;
            use diesel::sql_types::{BigInt, Nullable, Text};

            // Every member, so that a new one breaks the build here.
            let NewHistoryRow {
                tenant_id,
                entity_kind,
                entity_id,
                actor,
                api,
                diff,
                version_before,
                version_after,
                created_at,
            } = self.0;
            out.push_sql(
                "INSERT INTO change_history (tenant_id, entity_kind, entity_id, actor, api, \
                 diff, version_before, version_after, created_at) VALUES (",
            );
            out.push_bind_param::<BigInt, _>(tenant_id)?;
            out.push_sql(", ");
            out.push_bind_param::<Text, _>(entity_kind)?;
            out.push_sql(", ");
            out.push_bind_param::<BigInt, _>(entity_id)?;
            out.push_sql(", ");
            out.push_bind_param::<WrittenJson, _>(actor)?;
            out.push_sql(", ");
            out.push_bind_param::<Text, _>(api)?;
            out.push_sql(", ");
            out.push_bind_param::<WrittenJson, _>(diff)?;
            out.push_sql(", ");
            out.push_bind_param::<Nullable<BigInt>, _>(version_before)?;
            out.push_sql(", ");
            out.push_bind_param::<Nullable<BigInt>, _>(version_after)?;
            out.push_sql(", ");
            out.push_bind_param::<BigInt, _>(created_at)?;
            out.push_sql(")");
            Ok(())
        }
    }
}

/// `WITH u AS (<update> RETURNING 1), o AS (<outbox>), h AS (<history>)
/// SELECT CASE WHEN EXISTS (SELECT 1 FROM u) THEN 1 ELSE
/// switchboard_version_conflict() END`: an update and the inserts that
/// record it as one PostgreSQL statement. PostgreSQL runs every
/// data-modifying `WITH` to completion, so when the update matched no row
/// the function raises SQLSTATE 40001 and the whole statement, inserts
/// included, has no effect. The statement is therefore atomic by itself and
/// may run outside a transaction.
#[derive(Debug)]
struct UpdateAndRecord<U, O, H> {
    update: U,
    outbox: Option<O>,
    history: H,
}

/// Not a static query id (`outbox` may be absent): cached by SQL text.
impl<U, O, H> diesel::query_builder::QueryId for UpdateAndRecord<U, O, H> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<U, O, H> diesel::query_builder::QueryFragment<diesel::pg::Pg> for UpdateAndRecord<U, O, H>
where
    U: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
    O: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
    H: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        out.push_sql("WITH u AS (");
        self.update.walk_ast(out.reborrow())?;
        out.push_sql(" RETURNING 1), ");
        if let Some(outbox) = &self.outbox {
            out.push_sql("o AS (");
            outbox.walk_ast(out.reborrow())?;
            out.push_sql("), ");
        }
        out.push_sql("h AS (");
        self.history.walk_ast(out.reborrow())?;
        out.push_sql(
            ") SELECT CASE WHEN EXISTS (SELECT 1 FROM u) THEN 1 \
             ELSE switchboard_version_conflict() END",
        );
        Ok(())
    }
}

impl<U, O, H> diesel::RunQueryDsl<diesel::pg::PgConnection> for UpdateAndRecord<U, O, H> {}

/// `WITH o AS (<first>) <then>`: two PostgreSQL data-modifying statements
/// sent as one. PostgreSQL runs the one inside `WITH` exactly once and to
/// completion, whether or not `then` reads it.
#[derive(Debug, diesel::query_builder::QueryId)]
struct WithInsert<A, B> {
    first: A,
    then: B,
}

impl<A, B> diesel::query_builder::QueryFragment<diesel::pg::Pg> for WithInsert<A, B>
where
    A: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
    B: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        out.push_sql("WITH o AS (");
        self.first.walk_ast(out.reborrow())?;
        out.push_sql(") ");
        self.then.walk_ast(out.reborrow())
    }
}

impl<A, B> diesel::RunQueryDsl<diesel::pg::PgConnection> for WithInsert<A, B> {}
