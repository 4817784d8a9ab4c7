//! Queries, written once and compiled for each backend.
//!
//! `define_repo!` expands the same query code into `repo::sqlite` (over
//! `SqliteConnection`) and `repo::pg` (over `PgConnection`). The only
//! backend-specific tokens are the row-locking clauses passed in: PostgreSQL
//! claims with `FOR UPDATE SKIP LOCKED`, SQLite relies on its single writer
//! (`BEGIN IMMEDIATE`). Every finder takes the tenant.
//!
//! Lookups by a unique key use `get_result`, never `first`: `first` binds
//! `LIMIT ?`, and SQLite (3.4x and later) lets a bound LIMIT shape the query
//! plan, so re-binding it expires the cached statement and every execution
//! would be parsed and planned again.

macro_rules! define_repo {
    ($module:ident, $conn:ty, lock = { $($lock:tt)* }, claim = { $($claim:tt)* }) => {
        pub(crate) mod $module {
            #![allow(clippy::allow_attributes, reason = "generated per backend")]
            use diesel::prelude::*;
            use switchboard_domain::{
                Agent, ApiKey, Conversation, CustomAttribute, Customer, Department, Tag, Tenant,
                WebhookSubscription,
            };

            use crate::rows::*;
            use crate::schema::*;
            use crate::StorageError;

            type Conn = $conn;
            type R<T> = Result<T, StorageError>;

            pub(crate) fn insert_tenant(c: &mut Conn, name: &str, now: i64) -> R<Tenant> {
                let row: TenantRow = diesel::insert_into(tenants::table)
                    .values((tenants::name.eq(name), tenants::created_at.eq(now)))
                    .returning(TenantRow::as_returning())
                    .get_result(c)?;
                Ok(row.into())
            }

            pub(crate) fn tenant_by_name(c: &mut Conn, name: &str) -> R<Option<Tenant>> {
                Ok(tenants::table
                    .filter(tenants::name.eq(name))
                    .select(TenantRow::as_select())
                    .get_result(c)
                    .optional()?
                    .map(Into::into))
            }

            pub(crate) fn tenant_by_id(c: &mut Conn, id: i64) -> R<Option<Tenant>> {
                Ok(tenants::table
                    .find(id)
                    .select(TenantRow::as_select())
                    .get_result(c)
                    .optional()?
                    .map(Into::into))
            }

            pub(crate) fn insert_api_key(
                c: &mut Conn,
                tenant: i64,
                name: &str,
                prefix: &str,
                hash: &str,
                scopes: &crate::json_column::JsonValue,
                now: i64,
            ) -> R<ApiKey> {
                let row: ApiKeyRow = diesel::insert_into(api_keys::table)
                    .values((
                        api_keys::tenant_id.eq(tenant),
                        api_keys::name.eq(name),
                        api_keys::prefix.eq(prefix),
                        api_keys::secret_hash.eq(hash),
                        api_keys::scopes.eq(scopes),
                        api_keys::created_at.eq(now),
                    ))
                    .returning(ApiKeyRow::as_returning())
                    .get_result(c)?;
                row.try_into()
            }

            pub(crate) fn api_key_by_prefix(c: &mut Conn, prefix: &str) -> R<Option<ApiKey>> {
                api_keys::table
                    .filter(api_keys::prefix.eq(prefix))
                    .select(ApiKeyRow::as_select())
                    .get_result(c)
                    .optional()?
                    .map(TryInto::try_into)
                    .transpose()
            }

            pub(crate) fn insert_agent(c: &mut Conn, tenant: i64, name: &str, email: &str, role: &str) -> R<Agent> {
                let row: AgentRow = diesel::insert_into(agents::table)
                    .values((
                        agents::tenant_id.eq(tenant),
                        agents::name.eq(name),
                        agents::email.eq(email),
                        agents::role.eq(role),
                    ))
                    .returning(AgentRow::as_returning())
                    .get_result(c)?;
                Ok(row.into())
            }

            pub(crate) fn list_agents(c: &mut Conn, tenant: i64) -> R<Vec<Agent>> {
                Ok(agents::table
                    .filter(agents::tenant_id.eq(tenant))
                    .order(agents::id)
                    .select(AgentRow::as_select())
                    .load(c)?
                    .into_iter()
                    .map(Into::into)
                    .collect())
            }

            pub(crate) fn agent_by_id(c: &mut Conn, tenant: i64, id: i64) -> R<Option<Agent>> {
                Ok(agents::table
                    .filter(agents::tenant_id.eq(tenant))
                    .filter(agents::id.eq(id))
                    .select(AgentRow::as_select())
                    .get_result(c)
                    .optional()?
                    .map(Into::into))
            }

            pub(crate) fn insert_department(c: &mut Conn, tenant: i64, name: &str) -> R<Department> {
                let row: DepartmentRow = diesel::insert_into(departments::table)
                    .values((departments::tenant_id.eq(tenant), departments::name.eq(name)))
                    .returning(DepartmentRow::as_returning())
                    .get_result(c)?;
                Ok(row.into())
            }

            pub(crate) fn list_departments(c: &mut Conn, tenant: i64) -> R<Vec<Department>> {
                Ok(departments::table
                    .filter(departments::tenant_id.eq(tenant))
                    .order(departments::id)
                    .select(DepartmentRow::as_select())
                    .load(c)?
                    .into_iter()
                    .map(Into::into)
                    .collect())
            }

            pub(crate) fn department_by_id(c: &mut Conn, tenant: i64, id: i64) -> R<Option<Department>> {
                Ok(departments::table
                    .filter(departments::tenant_id.eq(tenant))
                    .filter(departments::id.eq(id))
                    .select(DepartmentRow::as_select())
                    .get_result(c)
                    .optional()?
                    .map(Into::into))
            }

            /// Records tags in the tenant's tag list; existing names are kept as they are.
            pub(crate) fn ensure_tags(c: &mut Conn, tenant: i64, tags: &[Tag]) -> R<()> {
                for tag in tags {
                    diesel::insert_into(tags::table)
                        .values((
                            tags::tenant_id.eq(tenant),
                            tags::name.eq(&tag.name),
                            tags::color.eq(&tag.color),
                        ))
                        .on_conflict((tags::tenant_id, tags::name))
                        .do_nothing()
                        .execute(c)?;
                }
                Ok(())
            }

            pub(crate) fn list_tags(c: &mut Conn, tenant: i64) -> R<Vec<Tag>> {
                Ok(tags::table
                    .filter(tags::tenant_id.eq(tenant))
                    .order(tags::id)
                    .select(TagRow::as_select())
                    .load(c)?
                    .into_iter()
                    .map(Into::into)
                    .collect())
            }

            pub(crate) fn insert_attribute(c: &mut Conn, a: &CustomAttribute) -> R<()> {
                diesel::insert_into(custom_attributes::table)
                    .values((
                        custom_attributes::tenant_id.eq(a.tenant_id.get()),
                        custom_attributes::name.eq(&a.name),
                        custom_attributes::kind.eq(a.kind.as_str()),
                        custom_attributes::label.eq(&a.label),
                    ))
                    .execute(c)?;
                Ok(())
            }

            pub(crate) fn list_attributes(c: &mut Conn, tenant: i64) -> R<Vec<CustomAttribute>> {
                custom_attributes::table
                    .filter(custom_attributes::tenant_id.eq(tenant))
                    .order(custom_attributes::name)
                    .select(AttributeRow::as_select())
                    .load(c)?
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect()
            }

            pub(crate) fn insert_customer(c: &mut Conn, w: &CustomerWrite) -> R<i64> {
                Ok(diesel::insert_into(customers::table)
                    .values(w)
                    .returning(customers::id)
                    .get_result(c)?)
            }

            pub(crate) fn load_customer(c: &mut Conn, tenant: i64, id: i64, lock: bool) -> R<Option<Customer>> {
                let q = customers::table
                    .filter(customers::tenant_id.eq(tenant))
                    .filter(customers::id.eq(id))
                    .select(CustomerRow::as_select());
                let row = if lock { q $($lock)* .get_result(c).optional()? } else { q.get_result(c).optional()? };
                row.map(TryInto::try_into).transpose()
            }

            pub(crate) fn customer_id_by_user_id(c: &mut Conn, tenant: i64, user_id: &str) -> R<Option<i64>> {
                Ok(customers::table
                    .filter(customers::tenant_id.eq(tenant))
                    .filter(customers::user_id.eq(user_id))
                    .select(customers::id)
                    .get_result(c)
                    .optional()?)
            }

            /// Updates the row if it is still at `expected_version` and
            /// writes `record` (see [`super::WriteRecord::update_and_record`]):
            /// `false` when another writer changed the row first, and then
            /// the caller must roll the transaction back.
            pub(crate) fn update_customer_recorded(
                c: &mut Conn,
                tenant: i64,
                id: i64,
                expected_version: i64,
                changes: &CustomerChanges<'_>,
                record: &super::Record,
            ) -> R<bool> {
                let update = super::CachedUpdate::new(
                    customers::table,
                    customers::tenant_id.eq(tenant)
                        .and(customers::id.eq(id))
                        .and(customers::version.eq(expected_version)),
                    changes,
                );
                <Conn as super::WriteRecord>::update_and_record(c, update, record)
            }

            pub(crate) fn delete_customer(c: &mut Conn, tenant: i64, id: i64) -> R<usize> {
                Ok(diesel::delete(
                    customers::table
                        .filter(customers::tenant_id.eq(tenant))
                        .filter(customers::id.eq(id)),
                )
                .execute(c)?)
            }

            pub(crate) fn list_customers(c: &mut Conn, tenant: i64, after_id: i64, limit: i64) -> R<Vec<Customer>> {
                customers::table
                    .filter(customers::tenant_id.eq(tenant))
                    .filter(customers::id.gt(after_id))
                    .order(customers::id)
                    .limit(limit)
                    .select(CustomerRow::as_select())
                    .load(c)?
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect()
            }

            pub(crate) fn insert_conversation(c: &mut Conn, w: &ConversationWrite) -> R<i64> {
                Ok(diesel::insert_into(conversations::table)
                    .values(w)
                    .returning(conversations::id)
                    .get_result(c)?)
            }

            pub(crate) fn load_conversation(c: &mut Conn, tenant: i64, id: i64, lock: bool) -> R<Option<Conversation>> {
                let q = conversations::table
                    .filter(conversations::tenant_id.eq(tenant))
                    .filter(conversations::id.eq(id))
                    .select(ConversationRow::as_select());
                let row = if lock { q $($lock)* .get_result(c).optional()? } else { q.get_result(c).optional()? };
                row.map(TryInto::try_into).transpose()
            }

            pub(crate) fn conversation_id_by_session_key(c: &mut Conn, tenant: i64, key: &str) -> R<Option<i64>> {
                Ok(conversations::table
                    .filter(conversations::tenant_id.eq(tenant))
                    .filter(conversations::session_key.eq(key))
                    .select(conversations::id)
                    .get_result(c)
                    .optional()?)
            }

            /// Updates the row if it is still at `expected_version` and
            /// writes `record` (see [`super::WriteRecord::update_and_record`]):
            /// `false` when another writer changed the row first, and then
            /// the caller must roll the transaction back.
            pub(crate) fn update_conversation_recorded(
                c: &mut Conn,
                tenant: i64,
                id: i64,
                expected_version: i64,
                changes: &ConversationChanges<'_>,
                record: &super::Record,
            ) -> R<bool> {
                let update = super::CachedUpdate::new(
                    conversations::table,
                    conversations::tenant_id.eq(tenant)
                        .and(conversations::id.eq(id))
                        .and(conversations::version.eq(expected_version)),
                    changes,
                );
                <Conn as super::WriteRecord>::update_and_record(c, update, record)
            }

            pub(crate) fn delete_conversation(c: &mut Conn, tenant: i64, id: i64) -> R<usize> {
                Ok(diesel::delete(
                    conversations::table
                        .filter(conversations::tenant_id.eq(tenant))
                        .filter(conversations::id.eq(id)),
                )
                .execute(c)?)
            }

            pub(crate) fn list_conversations(
                c: &mut Conn,
                tenant: i64,
                statuses: &[&str],
                offset: i64,
                limit: i64,
            ) -> R<Vec<Conversation>> {
                let mut q = conversations::table
                    .filter(conversations::tenant_id.eq(tenant))
                    .select(ConversationRow::as_select())
                    .order(conversations::id.desc())
                    .offset(offset)
                    .limit(limit)
                    .into_boxed();
                if !statuses.is_empty() {
                    let owned: Vec<String> = statuses.iter().map(|s| (*s).to_string()).collect();
                    q = q.filter(conversations::status.eq_any(owned));
                }
                q.load(c)?.into_iter().map(TryInto::try_into).collect()
            }

            /// Writes a change's events to the outbox and one history row.
            #[allow(clippy::too_many_arguments, reason = "one call shape per write kind")]
            pub(crate) fn record(
                c: &mut Conn,
                ctx: &crate::WriteContext,
                events: Vec<switchboard_domain::DomainEvent>,
                kind: switchboard_domain::EntityKind,
                id: i64,
                version_before: Option<i64>,
                version_after: Option<i64>,
                t: switchboard_domain::Timestamp,
            ) -> R<()> {
                let record = super::Record::new(ctx, events, kind, id, version_before, version_after, t)?;
                <Conn as super::WriteRecord>::write_record(c, &record)
            }

            pub(crate) fn list_history(c: &mut Conn, tenant: i64, kind: &str, id: i64, limit: i64) -> R<Vec<HistoryRow>> {
                Ok(change_history::table
                    .filter(change_history::tenant_id.eq(tenant))
                    .filter(change_history::entity_kind.eq(kind))
                    .filter(change_history::entity_id.eq(id))
                    .order(change_history::id.desc())
                    .limit(limit)
                    .select(HistoryRow::as_select())
                    .load(c)?)
            }

            /// Claims up to `limit` due, unprocessed outbox rows for `worker`
            /// until `lease_until`. Must run inside a write transaction.
            pub(crate) fn claim_outbox(c: &mut Conn, worker: &str, now: i64, lease_until: i64, limit: i64) -> R<Vec<OutboxRow>> {
                let ids: Vec<i64> = outbox::table
                    .select(outbox::id)
                    .filter(outbox::processed_at.is_null())
                    .filter(outbox::available_at.le(now))
                    .filter(outbox::lease_until.is_null().or(outbox::lease_until.lt(now)))
                    .order(outbox::id)
                    .limit(limit)
                    $($claim)*
                    .load(c)?;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
                    .set((outbox::lease_until.eq(lease_until), outbox::claimed_by.eq(worker)))
                    .execute(c)?;
                Ok(outbox::table
                    .filter(outbox::id.eq_any(&ids))
                    .order(outbox::id)
                    .select(OutboxRow::as_select())
                    .load(c)?)
            }

            /// Marks claimed rows processed, only where `worker` still holds the lease.
            pub(crate) fn complete_outbox(c: &mut Conn, worker: &str, ids: &[i64], now: i64) -> R<usize> {
                Ok(diesel::update(
                    outbox::table
                        .filter(outbox::id.eq_any(ids))
                        .filter(outbox::claimed_by.eq(worker))
                        .filter(outbox::processed_at.is_null()),
                )
                .set((outbox::processed_at.eq(now), outbox::lease_until.eq(None::<i64>)))
                .execute(c)?)
            }

            /// Gives claimed rows back (for example on shutdown).
            pub(crate) fn release_outbox(c: &mut Conn, worker: &str, ids: &[i64]) -> R<usize> {
                Ok(diesel::update(
                    outbox::table
                        .filter(outbox::id.eq_any(ids))
                        .filter(outbox::claimed_by.eq(worker))
                        .filter(outbox::processed_at.is_null()),
                )
                .set((outbox::lease_until.eq(None::<i64>), outbox::claimed_by.eq(None::<String>)))
                .execute(c)?)
            }

            pub(crate) fn outbox_for_entity(c: &mut Conn, tenant: i64, kind: &str, id: i64) -> R<Vec<OutboxRow>> {
                Ok(outbox::table
                    .filter(outbox::tenant_id.eq(tenant))
                    .filter(outbox::entity_kind.eq(kind))
                    .filter(outbox::entity_id.eq(id))
                    .order(outbox::id)
                    .select(OutboxRow::as_select())
                    .load(c)?)
            }

            pub(crate) fn outbox_backlog(c: &mut Conn) -> R<i64> {
                Ok(outbox::table
                    .filter(outbox::processed_at.is_null())
                    .count()
                    .get_result(c)?)
            }

            pub(crate) fn insert_subscription(c: &mut Conn, s: &WebhookSubscription) -> R<i64> {
                Ok(diesel::insert_into(webhook_subscriptions::table)
                    .values((
                        webhook_subscriptions::tenant_id.eq(s.tenant_id.get()),
                        webhook_subscriptions::target_url.eq(&s.target_url),
                        webhook_subscriptions::event.eq(s.event.as_str()),
                        webhook_subscriptions::secret.eq(&s.secret),
                        webhook_subscriptions::state.eq(s.state.as_str()),
                        webhook_subscriptions::created_at.eq(s.created_at.as_millis()),
                    ))
                    .returning(webhook_subscriptions::id)
                    .get_result(c)?)
            }

            pub(crate) fn list_subscriptions(c: &mut Conn, tenant: i64) -> R<Vec<WebhookSubscription>> {
                webhook_subscriptions::table
                    .filter(webhook_subscriptions::tenant_id.eq(tenant))
                    .order(webhook_subscriptions::id)
                    .select(SubscriptionRow::as_select())
                    .load(c)?
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect()
            }

            pub(crate) fn subscription_by_id(c: &mut Conn, tenant: i64, id: i64) -> R<Option<WebhookSubscription>> {
                webhook_subscriptions::table
                    .filter(webhook_subscriptions::tenant_id.eq(tenant))
                    .filter(webhook_subscriptions::id.eq(id))
                    .select(SubscriptionRow::as_select())
                    .get_result(c)
                    .optional()?
                    .map(TryInto::try_into)
                    .transpose()
            }

            pub(crate) fn delete_subscription(c: &mut Conn, tenant: i64, id: i64) -> R<usize> {
                Ok(diesel::delete(
                    webhook_subscriptions::table
                        .filter(webhook_subscriptions::tenant_id.eq(tenant))
                        .filter(webhook_subscriptions::id.eq(id)),
                )
                .execute(c)?)
            }
        }
    };
}

/// `UPDATE <table> SET <changes> WHERE <filter>`, the statement
/// `diesel::update(table.filter(filter)).set(changes)` builds, but one whose
/// prepared statement Diesel may cache. Diesel never caches its own UPDATE
/// statements (a changeset's `None` fields change the SQL), so each one was
/// parsed again, and on PostgreSQL planned again; this one is cached under
/// its SQL text: one statement per set of changed columns.
#[derive(Debug)]
pub(crate) struct CachedUpdate<From, Filter, Changes> {
    from: From,
    filter: Filter,
    changes: Changes,
}

impl<From, Filter, Changes> CachedUpdate<From, Filter, Changes> {
    pub(crate) fn new<T, C>(table: T, filter: Filter, changes: C) -> Self
    where
        T: diesel::QuerySource<FromClause = From>,
        C: diesel::AsChangeset<Target = T, Changeset = Changes>,
    {
        Self {
            from: table.from_clause(),
            filter,
            changes: changes.as_changeset(),
        }
    }
}

/// Not a static query id: the statement cache keys it by its SQL text.
impl<From, Filter, Changes> diesel::query_builder::QueryId for CachedUpdate<From, Filter, Changes> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB, From, Filter, Changes> diesel::query_builder::QueryFragment<DB>
    for CachedUpdate<From, Filter, Changes>
where
    DB: diesel::backend::Backend,
    From: diesel::query_builder::QueryFragment<DB>,
    Filter: diesel::query_builder::QueryFragment<DB>,
    Changes: diesel::query_builder::QueryFragment<DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        out.push_sql("UPDATE ");
        self.from.walk_ast(out.reborrow())?;
        out.push_sql(" SET ");
        self.changes.walk_ast(out.reborrow())?;
        out.push_sql(" WHERE ");
        self.filter.walk_ast(out.reborrow())
    }
}

/// The rows that record one change: its events for the outbox and one
/// change-history row.
#[derive(Debug)]
pub(crate) struct Record {
    outbox: Vec<crate::rows::NewOutboxRow>,
    history: crate::rows::NewHistoryRow,
}

impl Record {
    pub(crate) fn new(
        ctx: &crate::WriteContext,
        events: Vec<switchboard_domain::DomainEvent>,
        kind: switchboard_domain::EntityKind,
        id: i64,
        version_before: Option<i64>,
        version_after: Option<i64>,
        t: switchboard_domain::Timestamp,
    ) -> Result<Self, crate::StorageError> {
        use crate::rows::{NewHistoryRow, NewOutboxRow, json};
        // The history row's diff is the first event's (the events of one
        // change share it).
        let diff = match events.first() {
            Some(e) => json(&e.diff)?,
            None => json(Vec::<switchboard_domain::json::Operation>::new())?,
        };
        let outbox = events
            .into_iter()
            .map(NewOutboxRow::from_event)
            .collect::<Result<Vec<_>, _>>()?;
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
pub(crate) trait WriteRecord: diesel::Connection {
    fn write_record(&mut self, record: &Record) -> Result<(), crate::StorageError>;

    /// Runs `update` (a single-row `UPDATE … WHERE version = ?`) and writes
    /// `record` with it. `false` when the update matched no row; the record
    /// may have been written all the same, so the caller must then roll the
    /// transaction back.
    fn update_and_record<U>(
        &mut self,
        update: U,
        record: &Record,
    ) -> Result<bool, crate::StorageError>
    where
        U: diesel::query_builder::QueryFragment<Self::Backend> + diesel::query_builder::QueryId;
}

/// SQLite: one statement per table. Statements cost no round trip here, and
/// SQLite has no data-modifying `WITH`.
impl WriteRecord for diesel::sqlite::SqliteConnection {
    fn write_record(&mut self, record: &Record) -> Result<(), crate::StorageError> {
        use crate::schema::{change_history, outbox};
        use diesel::RunQueryDsl;

        match record.outbox.as_slice() {
            [] => 0,
            // A single row as a plain INSERT: Diesel caches its prepared
            // statement, and on SQLite a batch would add a SAVEPOINT.
            [row] => diesel::insert_into(outbox::table)
                .values(row)
                .execute(self)?,
            rows => diesel::insert_into(outbox::table)
                .values(rows)
                .execute(self)?,
        };
        diesel::insert_into(change_history::table)
            .values(&record.history)
            .execute(self)?;
        Ok(())
    }

    fn update_and_record<U>(
        &mut self,
        update: U,
        record: &Record,
    ) -> Result<bool, crate::StorageError>
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
    fn write_record(&mut self, record: &Record) -> Result<(), crate::StorageError> {
        use crate::schema::{change_history, outbox};
        use diesel::RunQueryDsl;

        let then = diesel::insert_into(change_history::table).values(&record.history);
        match record.outbox.as_slice() {
            [] => then.execute(self)?,
            // One row as a plain insert, whose prepared statement is cached.
            [row] => WithInsert {
                first: diesel::insert_into(outbox::table).values(row),
                then,
            }
            .execute(self)?,
            rows => WithInsert {
                first: diesel::insert_into(outbox::table).values(rows),
                then,
            }
            .execute(self)?,
        };
        Ok(())
    }

    fn update_and_record<U>(
        &mut self,
        update: U,
        record: &Record,
    ) -> Result<bool, crate::StorageError>
    where
        U: diesel::query_builder::QueryFragment<diesel::pg::Pg> + diesel::query_builder::QueryId,
    {
        use crate::schema::{change_history, outbox};
        use diesel::RunQueryDsl;

        let history = diesel::insert_into(change_history::table).values(&record.history);
        // A version conflict raises 40001 (see `UpdateAndRecord`).
        let updated = match record.outbox.as_slice() {
            [] => UpdateAndRecord {
                update,
                outbox: None::<NoInsert>,
                history,
            }
            .execute(self),
            [row] => UpdateAndRecord {
                update,
                outbox: Some(diesel::insert_into(outbox::table).values(row)),
                history,
            }
            .execute(self),
            rows => UpdateAndRecord {
                update,
                outbox: Some(diesel::insert_into(outbox::table).values(rows)),
                history,
            }
            .execute(self),
        };
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

/// The outbox insert of a change without events: never written out.
#[derive(Debug, Clone, Copy)]
struct NoInsert;

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for NoInsert {
    fn walk_ast<'b>(
        &'b self,
        _out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        Ok(())
    }
}

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

define_repo!(
    sqlite,
    diesel::sqlite::SqliteConnection,
    lock = {},
    claim = {}
);
define_repo!(
    pg,
    diesel::pg::PgConnection,
    lock = { .for_update() },
    claim = { .for_update().skip_locked() }
);
