//! The async store: the crate's public entry point.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use diesel::RunQueryDsl;
use diesel::connection::Connection;
use switchboard_domain::event::{conversation_events, customer_events};
use switchboard_domain::{
    Actor, Agent, AgentId, ApiKey, AttributeSet, Conversation, ConversationId, CustomAttribute,
    Customer, CustomerId, Department, DepartmentId, DomainError, DomainEvent, EntityKind, EventId,
    Scope, SubscriptionId, Tag, Tenant, TenantId, Timestamp, WebhookSubscription, json::Operation,
};

use crate::connection::{DatabaseUrl, DbConn, DbPool, StoreConfig};
use crate::group_commit::{self, GroupWriter};
use crate::rows::{ConversationWrite, CustomerWrite, json};
use crate::{StorageError, keys};

/// Runs `$body` with `$c` bound to the backend's connection and `repo` to
/// the backend's query module.
macro_rules! with_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            DbConn::Sqlite($c) => {
                #[allow(unused_imports, clippy::allow_attributes, reason = "macro")]
                use crate::repo::sqlite as repo;
                let $c: &mut diesel::sqlite::SqliteConnection = &mut *$c;
                $body
            }
            DbConn::Pg($c) => {
                #[allow(unused_imports, clippy::allow_attributes, reason = "macro")]
                use crate::repo::pg as repo;
                let $c: &mut diesel::pg::PgConnection = &mut *$c;
                $body
            }
        }
    };
}

/// Like `with_conn!`, inside a write transaction: `BEGIN IMMEDIATE` on
/// SQLite (take the write lock before reading), plain `BEGIN` on PostgreSQL.
macro_rules! write_tx {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            DbConn::Sqlite(inner) => crate::store::sqlite_transaction(inner, |$c| {
                #[allow(unused_imports, clippy::allow_attributes, reason = "macro")]
                use crate::repo::sqlite as repo;
                $body
            }),
            DbConn::Pg(inner) => inner.transaction(|$c| {
                #[allow(unused_imports, clippy::allow_attributes, reason = "macro")]
                use crate::repo::pg as repo;
                $body
            }),
        }
    };
}

/// A write transaction on SQLite: `BEGIN IMMEDIATE`, or a `SAVEPOINT` when
/// the connection is already in one (a write in a group commit, see
/// `group_commit`), so each write can fail and roll back alone.
pub(crate) fn sqlite_transaction<T, E, F>(
    conn: &mut diesel::sqlite::SqliteConnection,
    f: F,
) -> Result<T, E>
where
    F: FnOnce(&mut diesel::sqlite::SqliteConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let nested = AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()
        .is_ok_and(|d| d.is_some());
    if nested {
        conn.transaction(f)
    } else {
        conn.immediate_transaction(f)
    }
}

/// The current time in milliseconds.
#[must_use]
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Timestamp::from_millis(ms)
}

/// How many times [`Store::modify_conversation`] and
/// [`Store::modify_customer`] reload and retry after a concurrent writer won.
pub const MAX_MODIFY_ATTEMPTS: usize = 16;

/// Conditions the current row must meet for a write to happen. They are
/// judged against the row that is actually written (after any reload).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Precondition {
    /// The row's `version` must equal this (an `If-Match` ETag).
    pub version: Option<i64>,
    /// The row must not have changed after this instant. HTTP-dates carry
    /// whole seconds, so both sides are truncated to seconds: a row updated
    /// at 12:00:00.900 counts as unmodified since 12:00:00.
    pub unmodified_since: Option<Timestamp>,
}

impl Precondition {
    /// No condition.
    pub const NONE: Self = Self {
        version: None,
        unmodified_since: None,
    };

    /// Whether a row at `version`, last updated at `updated_at`, passes.
    #[must_use]
    pub fn holds(&self, version: i64, updated_at: Timestamp) -> bool {
        self.version.is_none_or(|v| v == version)
            && self.unmodified_since.is_none_or(|since| {
                updated_at.truncated_to_seconds() <= since.truncated_to_seconds()
            })
    }
}

/// Who is writing, for the change history and events.
#[derive(Debug, Clone)]
pub struct WriteContext {
    /// The caller's tenant; every row read or written belongs to it.
    pub tenant: Tenant,
    /// Who made the change.
    pub actor: Actor,
    /// Through which API family (`helpcrunch`, `superoffice`, `zoho`, `chatbot`, `cli`…).
    pub api: String,
}

impl WriteContext {
    /// A context for `tenant`.
    #[must_use]
    pub fn new(tenant: Tenant, actor: Actor, api: impl Into<String>) -> Self {
        Self {
            tenant,
            actor,
            api: api.into(),
        }
    }
}

/// One row of the change history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// Row id (increasing).
    pub id: i64,
    /// Who made the change.
    pub actor: Actor,
    /// Through which API.
    pub api: String,
    /// RFC 6902 diff from the old to the new canonical JSON.
    pub diff: Vec<Operation>,
    /// Version before (`None` on create).
    pub version_before: Option<i64>,
    /// Version after (`None` on delete).
    pub version_after: Option<i64>,
    /// When.
    pub at: Timestamp,
}

/// An event read back from the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// Outbox row id (increasing in commit order per backend sequence).
    pub id: EventId,
    /// The event.
    pub event: DomainEvent,
    /// When it becomes due for processing.
    pub available_at: Timestamp,
    /// Lease expiry while claimed.
    pub lease_until: Option<Timestamp>,
    /// The worker holding the lease.
    pub claimed_by: Option<String>,
    /// When it was fully processed.
    pub processed_at: Option<Timestamp>,
}

/// A newly created API key; `secret` is shown once and never stored.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// The stored key (hash only).
    pub key: ApiKey,
    /// The full secret to hand to the user.
    pub secret: String,
}

/// A handle to the database. Cheap to clone; share one per process.
///
/// Every method is `async` and runs its blocking Diesel work off the async
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
}

impl Store {
    /// Opens (creating an SQLite file if needed) and, unless disabled,
    /// migrates the database.
    pub async fn open(url: &str, config: StoreConfig) -> Result<Self, StorageError> {
        let url = DatabaseUrl::parse(url)?;
        let run = config.run_migrations;
        let (pool, writer) = tokio::task::spawn_blocking(move || {
            let pool = DbPool::open(&url, &config)?;
            // SQLite: the writer thread's own connection, for good.
            let writer = if pool.is_sqlite() {
                Some(GroupWriter::start(pool.get()?)?)
            } else {
                None
            };
            Ok::<_, StorageError>((pool, writer))
        })
        .await
        .map_err(StorageError::internal)??;
        let store = Self {
            inner: Arc::new(Inner { pool, writer }),
        };
        if run {
            store.migrate().await?;
        }
        Ok(store)
    }

    /// Whether this store is backed by SQLite.
    #[must_use]
    pub fn is_sqlite(&self) -> bool {
        self.inner.pool.is_sqlite()
    }

    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, StorageError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.pool.get()?;
            let outcome = f(&mut conn);
            conn.note_outcome(&outcome);
            outcome
        })
        .await
        .map_err(StorageError::internal)?
    }

    /// Like [`Self::run`] for writers. On SQLite the write runs on the
    /// group-commit thread and returns once its group has committed.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, StorageError> + Send + 'static,
    {
        if let Some(writer) = &self.inner.writer {
            let (tx, rx) = tokio::sync::oneshot::channel();
            writer.submit(group_commit::job(f, move |r| {
                let _ = tx.send(r);
            }))?;
            return rx
                .await
                .map_err(|_| StorageError::internal("the SQLite writer thread dropped a write"))?;
        }
        self.run(f).await
    }

    /// Like [`Self::write`], but the closure reads and computes first on a
    /// pooled connection and hands the part that writes to
    /// [`Writer::run`] (on SQLite, the group-commit thread).
    pub(crate) async fn write_staged<T, F>(&self, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn, &Writer<'_>) -> Result<T, StorageError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.pool.get()?;
            let writer = Writer {
                group: inner.writer.as_ref(),
            };
            let outcome = f(&mut conn, &writer);
            conn.note_outcome(&outcome);
            outcome
        })
        .await
        .map_err(StorageError::internal)?
    }

    /// Applies pending migrations; returns the names applied.
    pub async fn migrate(&self) -> Result<Vec<String>, StorageError> {
        // Not through the group writer: migrations manage their own
        // transactions (and run before the server takes traffic).
        self.run(|c| c.run_pending_migrations()).await
    }

    /// Reverts every migration (drops all tables). For tests and tooling.
    pub async fn revert_all_migrations(&self) -> Result<Vec<String>, StorageError> {
        self.run(|c| c.revert_all_migrations()).await
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.run(|c| {
            with_conn!(c, c => {
                diesel::sql_query("SELECT 1").execute(c)?;
                Ok(())
            })
        })
        .await
    }

    // ---- tenants and keys -------------------------------------------------

    /// Creates a tenant. The name must satisfy [`switchboard_domain::validate::tenant_name`].
    pub async fn create_tenant(&self, name: &str) -> Result<Tenant, StorageError> {
        if !switchboard_domain::validate::tenant_name(name) {
            return Err(DomainError::Validation(switchboard_domain::validate::ValidationErrors::single(
                "/name",
                "tenant_name",
                "must be 1-63 characters of a-z, 0-9, '-' and '_', starting with a letter or digit",
            ))
            .into());
        }
        let name = name.to_string();
        self.write(move |c| with_conn!(c, c => repo::insert_tenant(c, &name, now().as_millis())))
            .await
    }

    /// Finds a tenant by name.
    pub async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>, StorageError> {
        let name = name.to_string();
        self.run(move |c| with_conn!(c, c => repo::tenant_by_name(c, &name)))
            .await
    }

    /// Finds a tenant by id.
    pub async fn tenant(&self, id: TenantId) -> Result<Option<Tenant>, StorageError> {
        self.run(move |c| with_conn!(c, c => repo::tenant_by_id(c, id.get())))
            .await
    }

    /// Creates an API key for `tenant`. An empty `scopes` set means every scope.
    pub async fn create_api_key(
        &self,
        tenant: TenantId,
        name: &str,
        scopes: BTreeSet<Scope>,
    ) -> Result<CreatedKey, StorageError> {
        let scopes = if scopes.is_empty() {
            Scope::ALL.into_iter().collect()
        } else {
            scopes
        };
        let generated = keys::generate().map_err(StorageError::internal)?;
        let name = name.to_string();
        let scopes_json = json(&scopes)?;
        let secret = generated.secret.clone();
        let key = self
            .write(move |c| {
                with_conn!(c, c => repo::insert_api_key(
                    c, tenant.get(), &name, &generated.prefix, &generated.hash, &scopes_json, now().as_millis()
                ))
            })
            .await?;
        Ok(CreatedKey { key, secret })
    }

    /// Looks up a presented key and verifies it in constant time. Returns the
    /// key and its tenant, or `None` for any unknown, malformed or wrong key.
    pub async fn authenticate(
        &self,
        presented: &str,
    ) -> Result<Option<(ApiKey, Tenant)>, StorageError> {
        let Some(prefix) = keys::prefix_of(presented).map(str::to_string) else {
            return Ok(None);
        };
        let presented = presented.to_string();
        self.run(move |c| {
            with_conn!(c, c => {
                let Some(key) = repo::api_key_by_prefix(c, &prefix)? else { return Ok(None) };
                if !keys::verify(&presented, &key.secret_hash) {
                    return Ok(None);
                }
                let tenant = repo::tenant_by_id(c, key.tenant_id.get())?.ok_or(StorageError::NotFound)?;
                Ok(Some((key, tenant)))
            })
        })
        .await
    }

    // ---- agents, departments, attributes, tags ----------------------------

    /// Creates an agent.
    pub async fn create_agent(
        &self,
        tenant: TenantId,
        name: &str,
        email: &str,
        role: &str,
    ) -> Result<Agent, StorageError> {
        let mut errors = switchboard_domain::validate::ValidationErrors::new();
        if !switchboard_domain::validate::email(email) {
            errors.push("/email", "email", "must be a valid email address");
        }
        if name.trim().is_empty() {
            errors.push("/name", "required", "must not be empty");
        }
        switchboard_domain::validate::no_nul(
            &mut errors,
            &serde_json::json!({"name": name, "role": role}),
        );
        errors.into_result().map_err(DomainError::Validation)?;
        let (name, email, role) = (name.to_string(), email.to_string(), role.to_string());
        self.write(
            move |c| with_conn!(c, c => repo::insert_agent(c, tenant.get(), &name, &email, &role)),
        )
        .await
    }

    /// The tenant's agents.
    pub async fn agents(&self, tenant: TenantId) -> Result<Vec<Agent>, StorageError> {
        self.run(move |c| with_conn!(c, c => repo::list_agents(c, tenant.get())))
            .await
    }

    /// One agent of the tenant.
    pub async fn agent(&self, tenant: TenantId, id: AgentId) -> Result<Agent, StorageError> {
        self.run(move |c| with_conn!(c, c => repo::agent_by_id(c, tenant.get(), id.get())))
            .await?
            .ok_or(StorageError::NotFound)
    }

    /// Creates a department.
    pub async fn create_department(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> Result<Department, StorageError> {
        if name.trim().is_empty() || name.contains('\0') {
            return Err(DomainError::Validation(
                switchboard_domain::validate::ValidationErrors::single(
                    "/name",
                    "required",
                    "must not be empty",
                ),
            )
            .into());
        }
        let name = name.to_string();
        self.write(move |c| with_conn!(c, c => repo::insert_department(c, tenant.get(), &name)))
            .await
    }

    /// The tenant's departments.
    pub async fn departments(&self, tenant: TenantId) -> Result<Vec<Department>, StorageError> {
        self.run(move |c| with_conn!(c, c => repo::list_departments(c, tenant.get())))
            .await
    }

    /// One department of the tenant.
    pub async fn department(
        &self,
        tenant: TenantId,
        id: DepartmentId,
    ) -> Result<Department, StorageError> {
        self.run(move |c| with_conn!(c, c => repo::department_by_id(c, tenant.get(), id.get())))
            .await?
            .ok_or(StorageError::NotFound)
    }

    /// Defines a custom attribute.
    pub async fn create_attribute(&self, attribute: CustomAttribute) -> Result<(), StorageError> {
        if attribute.name.trim().is_empty() || attribute.name.chars().count() > 100 {
            return Err(DomainError::Validation(
                switchboard_domain::validate::ValidationErrors::single(
                    "/name",
                    "length",
                    "must be 1-100 characters",
                ),
            )
            .into());
        }
        self.write(move |c| with_conn!(c, c => repo::insert_attribute(c, &attribute)))
            .await
    }

    /// The tenant's custom attribute definitions.
    pub async fn attributes(&self, tenant: TenantId) -> Result<AttributeSet, StorageError> {
        self.run(move |c| with_conn!(c, c => repo::list_attributes(c, tenant.get())))
            .await
            .map(|v| v.into_iter().map(|a| (a.name.clone(), a)).collect())
    }

    /// The tenant's tag list (every tag ever used, with its first color).
    pub async fn tags(&self, tenant: TenantId) -> Result<Vec<Tag>, StorageError> {
        self.run(move |c| with_conn!(c, c => repo::list_tags(c, tenant.get())))
            .await
    }

    // ---- customers ----------------------------------------------------------

    /// Creates a customer from `draft` (its id, version and times are
    /// assigned here). Validates against the tenant's attributes, records
    /// new tags, and writes `customer_created` to the outbox in the same
    /// transaction.
    pub async fn create_customer(
        &self,
        ctx: &WriteContext,
        draft: Customer,
    ) -> Result<Customer, StorageError> {
        let ctx = ctx.clone();
        self.write(move |c| {
            write_tx!(c, c => {
                let tenant = ctx.tenant.id.get();
                let attributes: AttributeSet = repo::list_attributes(c, tenant)?
                    .into_iter().map(|a| (a.name.clone(), a)).collect();
                let t = now();
                let mut customer = draft;
                customer.tenant_id = ctx.tenant.id;
                customer.version = 1;
                customer.created_at = t;
                customer.updated_at = t;
                customer.validate(&attributes).map_err(DomainError::Validation)?;
                let id = repo::insert_customer(c, &CustomerWrite::from_domain(&customer)?)?;
                customer.id = CustomerId::new(id);
                repo::ensure_tags(c, tenant, &customer.tags)?;
                let events = customer_events(&ctx.tenant.name, None, Some(&customer), t);
                repo::record(c, &ctx, events, EntityKind::Customer, id, None, Some(1), t)?;
                Ok(customer)
            })
        })
        .await
    }

    /// One customer of the tenant.
    pub async fn customer(
        &self,
        tenant: TenantId,
        id: CustomerId,
    ) -> Result<Customer, StorageError> {
        self.run(move |c| with_conn!(c, c => repo::load_customer(c, tenant.get(), id.get(), false)))
            .await?
            .ok_or(StorageError::NotFound)
    }

    /// The id of the tenant's customer with this `userId`.
    pub async fn customer_id_by_user_id(
        &self,
        tenant: TenantId,
        user_id: &str,
    ) -> Result<Option<CustomerId>, StorageError> {
        let user_id = user_id.to_string();
        self.run(
            move |c| with_conn!(c, c => repo::customer_id_by_user_id(c, tenant.get(), &user_id)),
        )
        .await
        .map(|o| o.map(CustomerId::new))
    }

    /// A page of the tenant's customers with ids greater than `after`.
    pub async fn customers(
        &self,
        tenant: TenantId,
        after: Option<CustomerId>,
        limit: u32,
    ) -> Result<Vec<Customer>, StorageError> {
        let after = after.map_or(0, CustomerId::get);
        let limit = i64::from(limit.clamp(1, 1000));
        self.run(move |c| with_conn!(c, c => repo::list_customers(c, tenant.get(), after, limit)))
            .await
    }

    /// Read-modify-write of one customer with optimistic concurrency.
    ///
    /// Loads the row, checks `precondition`, applies `change` to a copy,
    /// validates the result against the tenant's attributes, and writes it
    /// only if the stored version is still the one read. If another writer
    /// got there first, it reloads and runs `change` again (at most
    /// [`MAX_MODIFY_ATTEMPTS`] times), so `change` and the precondition are
    /// always judged against the row actually written. Events and a history
    /// row are committed in the same transaction. A change that leaves the
    /// customer equal writes nothing and returns it unchanged.
    pub async fn modify_customer<F>(
        &self,
        ctx: &WriteContext,
        id: CustomerId,
        precondition: Precondition,
        mut change: F,
    ) -> Result<Customer, StorageError>
    where
        F: FnMut(&mut Customer) -> Result<(), DomainError> + Send + 'static,
    {
        let ctx = ctx.clone();
        self.write(move |conn| {
            for attempt in 0..MAX_MODIFY_ATTEMPTS {
                let lock = attempt > 0;
                let outcome: Result<Outcome<Customer>, Abort> = write_tx!(conn, c => {
                    let tenant = ctx.tenant.id.get();
                    let before = repo::load_customer(c, tenant, id.get(), lock)?.ok_or(StorageError::NotFound)?;
                    if !precondition.holds(before.version, before.updated_at) {
                        return Err(StorageError::PreconditionFailed.into());
                    }
                    let mut after = before.clone();
                    change(&mut after)?;
                    pin_identity_customer(&before, &mut after);
                    let attributes: AttributeSet = repo::list_attributes(c, tenant)?
                        .into_iter().map(|a| (a.name.clone(), a)).collect();
                    after.validate(&attributes).map_err(DomainError::Validation)?;
                    if after == before {
                        return Ok(Outcome::Unchanged(before));
                    }
                    let t = now().max(before.updated_at);
                    after.version = before.version + 1;
                    after.updated_at = t;
                    let write = CustomerWrite::from_domain(&after)?;
                    repo::ensure_tags(c, tenant, &after.tags)?;
                    let events = customer_events(&ctx.tenant.name, Some(&before), Some(&after), t);
                    let record = crate::repo::Record::new(&ctx, events, EntityKind::Customer, id.get(), Some(before.version), Some(after.version), t)?;
                    if !repo::update_customer_recorded(c, tenant, id.get(), before.version, &write.changes_from(&before), &record)? {
                        return Err(Abort::Retry);
                    }
                    Ok(Outcome::Written(after))
                });
                match outcome {
                    Ok(Outcome::Written(v) | Outcome::Unchanged(v)) => return Ok(v),
                    Err(Abort::Retry) => continue,
                    Err(Abort::Failed(e)) => return Err(e),
                }
            }
            Err(StorageError::Contention)
        })
        .await
    }

    /// Applies several customer changes in **one transaction**: either every
    /// change is written (with its events and history) or none is.
    ///
    /// Rows are locked in ascending id order (PostgreSQL `FOR UPDATE`), so
    /// concurrent batches cannot deadlock and no retry is needed. On failure
    /// the error carries the index (in `changes`) of the first failing item.
    pub async fn modify_customers<F>(
        &self,
        ctx: &WriteContext,
        changes: Vec<(CustomerId, F)>,
    ) -> Result<Vec<Customer>, (usize, StorageError)>
    where
        F: FnMut(&mut Customer) -> Result<(), DomainError> + Send + 'static,
    {
        let ctx = ctx.clone();
        let result = self
            .write(move |conn| {
                let mut order: Vec<usize> = (0..changes.len()).collect();
                order.sort_by_key(|&i| changes[i].0);
                let mut changes = changes;
                let outcome: Result<Vec<(usize, Customer)>, BatchFailure> = write_tx!(conn, c => {
                    let tenant = ctx.tenant.id.get();
                    let attributes: AttributeSet = repo::list_attributes(c, tenant)?
                        .into_iter().map(|a| (a.name.clone(), a)).collect();
                    let mut done = Vec::with_capacity(order.len());
                    for &i in &order {
                        let fail = |error: StorageError| BatchFailure { index: i, error };
                        let (id, change) = &mut changes[i];
                        let before = repo::load_customer(c, tenant, id.get(), true)
                            .map_err(fail)?
                            .ok_or_else(|| fail(StorageError::NotFound))?;
                        let mut after = before.clone();
                        change(&mut after).map_err(|e| fail(e.into()))?;
                        pin_identity_customer(&before, &mut after);
                        after.validate(&attributes).map_err(|e| fail(DomainError::Validation(e).into()))?;
                        if after == before {
                            done.push((i, before));
                            continue;
                        }
                        let t = now().max(before.updated_at);
                        after.version = before.version + 1;
                        after.updated_at = t;
                        let write = CustomerWrite::from_domain(&after).map_err(fail)?;
                        repo::ensure_tags(c, tenant, &after.tags).map_err(fail)?;
                        let events = customer_events(&ctx.tenant.name, Some(&before), Some(&after), t);
                        let record = crate::repo::Record::new(&ctx, events, EntityKind::Customer, id.get(), Some(before.version), Some(after.version), t).map_err(fail)?;
                        if !repo::update_customer_recorded(c, tenant, id.get(), before.version, &write.changes_from(&before), &record).map_err(fail)? {
                            return Err(fail(StorageError::Contention));
                        }
                        done.push((i, after));
                    }
                    Ok(done)
                });
                Ok(outcome)
            })
            .await
            .map_err(|e| (0, e))?;
        let mut done = result.map_err(|f| (f.index, f.error))?;
        done.sort_by_key(|(i, _)| *i);
        Ok(done.into_iter().map(|(_, c)| c).collect())
    }

    /// Deletes a customer, writing `customer_deleted` to the outbox.
    pub async fn delete_customer(
        &self,
        ctx: &WriteContext,
        id: CustomerId,
    ) -> Result<(), StorageError> {
        let ctx = ctx.clone();
        self.write(move |c| {
            write_tx!(c, c => {
                let tenant = ctx.tenant.id.get();
                let before = repo::load_customer(c, tenant, id.get(), true)?.ok_or(StorageError::NotFound)?;
                if repo::delete_customer(c, tenant, id.get())? == 0 {
                    return Err(StorageError::NotFound);
                }
                let t = now();
                let events = customer_events(&ctx.tenant.name, Some(&before), None, t);
                repo::record(c, &ctx, events, EntityKind::Customer, id.get(), Some(before.version), None, t)?;
                Ok(())
            })
        })
        .await
    }

    // ---- conversations ------------------------------------------------------

    /// Creates a conversation from `draft`. The session key must be unique
    /// in the tenant ([`StorageError::Conflict`] otherwise). Writes
    /// `conversation_created` (and `email_updated` when the visitor has an
    /// email) in the same transaction.
    pub async fn create_conversation(
        &self,
        ctx: &WriteContext,
        draft: Conversation,
    ) -> Result<Conversation, StorageError> {
        let ctx = ctx.clone();
        self.write(move |c| {
            write_tx!(c, c => {
                let tenant = ctx.tenant.id.get();
                let t = now();
                let mut conv = draft;
                conv.tenant_id = ctx.tenant.id;
                conv.version = 1;
                conv.created_at = t;
                conv.updated_at = t;
                conv.normalize_closure(ctx.actor, t);
                conv.validate().map_err(DomainError::Validation)?;
                check_links(c, None, &conv, |c, id| repo::load_customer(c, tenant, id, false).map(|o| o.is_some()), |c, id| repo::agent_by_id(c, tenant, id).map(|o| o.is_some()), |c, id| repo::department_by_id(c, tenant, id).map(|o| o.is_some()))?;
                let id = repo::insert_conversation(c, &ConversationWrite::from_domain(&conv)?)?;
                conv.id = ConversationId::new(id);
                let events = conversation_events(&ctx.tenant.name, None, Some(&conv), t);
                repo::record(c, &ctx, events, EntityKind::Conversation, id, None, Some(1), t)?;
                Ok(conv)
            })
        })
        .await
    }

    /// One conversation of the tenant.
    pub async fn conversation(
        &self,
        tenant: TenantId,
        id: ConversationId,
    ) -> Result<Conversation, StorageError> {
        self.run(
            move |c| with_conn!(c, c => repo::load_conversation(c, tenant.get(), id.get(), false)),
        )
        .await?
        .ok_or(StorageError::NotFound)
    }

    /// The id of the tenant's conversation with this session key.
    pub async fn conversation_id_by_session_key(
        &self,
        tenant: TenantId,
        key: &str,
    ) -> Result<Option<ConversationId>, StorageError> {
        let key = key.to_string();
        self.run(move |c| with_conn!(c, c => repo::conversation_id_by_session_key(c, tenant.get(), &key)))
            .await
            .map(|o| o.map(ConversationId::new))
    }

    /// A page of the tenant's conversations, newest first, optionally by status.
    pub async fn conversations(
        &self,
        tenant: TenantId,
        status: Option<switchboard_domain::ConversationStatus>,
        offset: u32,
        limit: u32,
    ) -> Result<Vec<Conversation>, StorageError> {
        let statuses: Vec<_> = status.into_iter().collect();
        self.conversations_in(tenant, &statuses, offset, limit)
            .await
    }

    /// A page of the tenant's conversations in any of `statuses` (all when
    /// empty), newest first.
    pub async fn conversations_in(
        &self,
        tenant: TenantId,
        statuses: &[switchboard_domain::ConversationStatus],
        offset: u32,
        limit: u32,
    ) -> Result<Vec<Conversation>, StorageError> {
        let limit = i64::from(limit.clamp(1, 1000));
        let offset = i64::from(offset);
        let statuses: Vec<&'static str> = statuses.iter().map(|s| s.as_str()).collect();
        self.run(move |c| {
            with_conn!(c, c => repo::list_conversations(c, tenant.get(), &statuses, offset, limit))
        })
        .await
    }

    /// Read-modify-write of one conversation; see [`Store::modify_customer`]
    /// for the guarantees. Links to customers, agents and departments are
    /// checked to belong to the tenant; closure fields are kept consistent
    /// with the status.
    pub async fn modify_conversation<F>(
        &self,
        ctx: &WriteContext,
        id: ConversationId,
        precondition: Precondition,
        mut change: F,
    ) -> Result<Conversation, StorageError>
    where
        F: FnMut(&mut Conversation) -> Result<(), DomainError> + Send + 'static,
    {
        let ctx = ctx.clone();
        let tenant = ctx.tenant.id.get();
        self.write_staged(move |conn, writer| {
            // First attempt: read the row and compute the change, events and
            // history on a pooled connection, outside the writer (a committed
            // snapshot); the writer then writes only if nobody changed the
            // row since.
            let staged = with_conn!(conn, c => repo::load_conversation(c, tenant, id.get(), false))?
                .ok_or(StorageError::NotFound)?;
            let plan = match plan_conversation(&ctx, staged, precondition, &mut change).map_err(Abort::into_error)? {
                Plan::Unchanged(v) => return Ok(*v),
                Plan::Write(p) => p,
            };
            writer.run(conn, move |conn| {
                let p = plan;
                let outcome: Result<Conversation, Abort> = match &mut *conn {
                    // On PostgreSQL the write is one statement, atomic by
                    // itself (a version conflict aborts all of it), so
                    // without links to check it needs no BEGIN/COMMIT.
                    DbConn::Pg(c) if !adds_links(&p.before, &p.after) => {
                        let c: &mut diesel::pg::PgConnection = &mut *c;
                        let changes = p.write.changes_from(&p.before);
                        match crate::repo::pg::update_conversation_recorded(c, tenant, id.get(), p.before.version, &changes, &p.record) {
                            Ok(true) => Ok(p.after),
                            Ok(false) => Err(Abort::Retry),
                            Err(e) => Err(Abort::Failed(e)),
                        }
                    }
                    other => write_tx!(other, c => {
                        commit_conversation(c, tenant, id, p, repo::update_conversation_recorded, |c, id| repo::load_customer(c, tenant, id, false).map(|o| o.is_some()), |c, id| repo::agent_by_id(c, tenant, id).map(|o| o.is_some()), |c, id| repo::department_by_id(c, tenant, id).map(|o| o.is_some()))
                    }),
                };
                match outcome {
                    Ok(v) => return Ok(v),
                    Err(Abort::Retry) => {}
                    Err(Abort::Failed(e)) => return Err(e),
                }
                // Someone else wrote in between: read, compute and write in
                // one transaction (on PostgreSQL with the row locked).
                for _ in 1..MAX_MODIFY_ATTEMPTS {
                    let outcome: Result<Conversation, Abort> = write_tx!(conn, c => {
                        let before = repo::load_conversation(c, tenant, id.get(), true)?.ok_or(StorageError::NotFound)?;
                        match plan_conversation(&ctx, before, precondition, &mut change)? {
                            Plan::Unchanged(v) => Ok(*v),
                            Plan::Write(p) => commit_conversation(c, tenant, id, p, repo::update_conversation_recorded, |c, id| repo::load_customer(c, tenant, id, false).map(|o| o.is_some()), |c, id| repo::agent_by_id(c, tenant, id).map(|o| o.is_some()), |c, id| repo::department_by_id(c, tenant, id).map(|o| o.is_some())),
                        }
                    });
                    match outcome {
                        Ok(v) => return Ok(v),
                        Err(Abort::Retry) => continue,
                        Err(Abort::Failed(e)) => return Err(e),
                    }
                }
                Err(StorageError::Contention)
            })
        })
        .await
    }

    /// Deletes a conversation, writing `conversation_deleted` to the outbox.
    pub async fn delete_conversation(
        &self,
        ctx: &WriteContext,
        id: ConversationId,
    ) -> Result<(), StorageError> {
        let ctx = ctx.clone();
        self.write(move |c| {
            write_tx!(c, c => {
                let tenant = ctx.tenant.id.get();
                let before = repo::load_conversation(c, tenant, id.get(), true)?.ok_or(StorageError::NotFound)?;
                if repo::delete_conversation(c, tenant, id.get())? == 0 {
                    return Err(StorageError::NotFound);
                }
                let t = now();
                let events = conversation_events(&ctx.tenant.name, Some(&before), None, t);
                repo::record(c, &ctx, events, EntityKind::Conversation, id.get(), Some(before.version), None, t)?;
                Ok(())
            })
        })
        .await
    }

    /// The change history of one entity, newest first.
    pub async fn history(
        &self,
        tenant: TenantId,
        kind: EntityKind,
        id: i64,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, StorageError> {
        let limit = i64::from(limit.clamp(1, 1000));
        self.run(move |c| with_conn!(c, c => repo::list_history(c, tenant.get(), kind.as_str(), id, limit)))
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    // ---- outbox ---------------------------------------------------------------

    /// Every outbox event of one entity, oldest first (processed or not).
    pub async fn events_for(
        &self,
        tenant: TenantId,
        kind: EntityKind,
        id: i64,
    ) -> Result<Vec<OutboxEvent>, StorageError> {
        self.run(move |c| with_conn!(c, c => repo::outbox_for_entity(c, tenant.get(), kind.as_str(), id)))
            .await?
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }

    /// Claims up to `limit` due outbox events for `worker` with a lease of
    /// `lease`. On PostgreSQL, concurrent claimers (in any process) skip each
    /// other's locked rows (`FOR UPDATE SKIP LOCKED`) and never receive the
    /// same row; on SQLite the single writer serializes claimers. A row whose
    /// lease expired (its claimer crashed) is due again.
    pub async fn claim_outbox(
        &self,
        worker: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, StorageError> {
        let worker = worker.to_string();
        let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
        let limit = i64::from(limit.clamp(1, 10_000));
        self.write(move |c| {
            let t = now().as_millis();
            let rows = write_tx!(c, c => repo::claim_outbox(c, &worker, t, t.saturating_add(lease_ms), limit))?;
            rows.into_iter().map(TryInto::try_into).collect()
        })
        .await
    }

    /// Marks claimed events processed; only rows still leased to `worker`
    /// change. Returns how many did.
    pub async fn complete_outbox(
        &self,
        worker: &str,
        ids: &[EventId],
    ) -> Result<usize, StorageError> {
        let worker = worker.to_string();
        let ids: Vec<i64> = ids.iter().map(|i| i.get()).collect();
        self.write(
            move |c| with_conn!(c, c => repo::complete_outbox(c, &worker, &ids, now().as_millis())),
        )
        .await
    }

    /// Releases claimed events so another worker can take them at once.
    pub async fn release_outbox(
        &self,
        worker: &str,
        ids: &[EventId],
    ) -> Result<usize, StorageError> {
        let worker = worker.to_string();
        let ids: Vec<i64> = ids.iter().map(|i| i.get()).collect();
        self.write(move |c| with_conn!(c, c => repo::release_outbox(c, &worker, &ids)))
            .await
    }

    /// How many outbox events are not yet processed.
    pub async fn outbox_backlog(&self) -> Result<i64, StorageError> {
        self.run(|c| with_conn!(c, c => repo::outbox_backlog(c)))
            .await
    }

    // ---- webhook subscriptions ------------------------------------------------

    /// Stores a subscription (its id is assigned here).
    pub async fn create_subscription(
        &self,
        mut sub: WebhookSubscription,
    ) -> Result<WebhookSubscription, StorageError> {
        self.write(move |c| {
            let id = with_conn!(c, c => repo::insert_subscription(c, &sub))?;
            sub.id = SubscriptionId::new(id);
            Ok(sub)
        })
        .await
    }

    /// The tenant's subscriptions.
    pub async fn subscriptions(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<WebhookSubscription>, StorageError> {
        self.run(move |c| with_conn!(c, c => repo::list_subscriptions(c, tenant.get())))
            .await
    }

    /// One subscription of the tenant.
    pub async fn subscription(
        &self,
        tenant: TenantId,
        id: SubscriptionId,
    ) -> Result<WebhookSubscription, StorageError> {
        self.run(move |c| with_conn!(c, c => repo::subscription_by_id(c, tenant.get(), id.get())))
            .await?
            .ok_or(StorageError::NotFound)
    }

    /// Deletes a subscription; its pending deliveries go with it.
    pub async fn delete_subscription(
        &self,
        tenant: TenantId,
        id: SubscriptionId,
    ) -> Result<(), StorageError> {
        let n = self
            .write(
                move |c| with_conn!(c, c => repo::delete_subscription(c, tenant.get(), id.get())),
            )
            .await?;
        if n == 0 {
            Err(StorageError::NotFound)
        } else {
            Ok(())
        }
    }
}

/// Why a batch failed, and at which item.
#[derive(Debug)]
struct BatchFailure {
    index: usize,
    error: StorageError,
}

impl From<StorageError> for BatchFailure {
    fn from(error: StorageError) -> Self {
        Self { index: 0, error }
    }
}

impl From<diesel::result::Error> for BatchFailure {
    fn from(e: diesel::result::Error) -> Self {
        Self {
            index: 0,
            error: e.into(),
        }
    }
}

enum Outcome<T> {
    Written(T),
    Unchanged(T),
}

/// Why a modify attempt's transaction was rolled back.
#[derive(Debug)]
enum Abort {
    /// Another writer changed the row after it was read. The rows that
    /// record the change may already be written (on PostgreSQL they go in
    /// the same statement as the update), so the attempt is rolled back
    /// and the caller reloads and tries again.
    Retry,
    /// The call fails with this error.
    Failed(StorageError),
}

impl Abort {
    /// The error a caller sees (a retry that cannot happen here counts as
    /// contention).
    fn into_error(self) -> StorageError {
        match self {
            Self::Retry => StorageError::Contention,
            Self::Failed(e) => e,
        }
    }
}

impl From<StorageError> for Abort {
    fn from(e: StorageError) -> Self {
        Self::Failed(e)
    }
}

impl From<DomainError> for Abort {
    fn from(e: DomainError) -> Self {
        Self::Failed(e.into())
    }
}

impl From<diesel::result::Error> for Abort {
    fn from(e: diesel::result::Error) -> Self {
        Self::Failed(e.into())
    }
}

/// Keeps the identity and bookkeeping fields of `before` whatever a change did.
fn pin_identity_customer(before: &Customer, after: &mut Customer) {
    after.id = before.id;
    after.tenant_id = before.tenant_id;
    after.created_at = before.created_at;
    after.updated_at = before.updated_at;
    after.version = before.version;
}

fn pin_identity_conversation(before: &Conversation, after: &mut Conversation) {
    after.id = before.id;
    after.tenant_id = before.tenant_id;
    after.created_at = before.created_at;
    after.updated_at = before.updated_at;
    after.version = before.version;
}

/// Where a [`Store::write_staged`] closure sends its write.
pub(crate) struct Writer<'a> {
    group: Option<&'a GroupWriter>,
}

impl Writer<'_> {
    /// Runs `f`: on SQLite in the next group commit (blocking until it has
    /// committed), on PostgreSQL on `conn` right away.
    pub(crate) fn run<T, F>(&self, conn: &mut DbConn, f: F) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, StorageError> + Send + 'static,
    {
        match self.group {
            Some(group) => group.run_blocking(f),
            None => f(conn),
        }
    }
}

/// What a conversation update will write, computed from the row it read.
struct ConversationPlan {
    before: Conversation,
    after: Conversation,
    write: ConversationWrite,
    record: crate::repo::Record,
}

enum Plan {
    /// The change leaves the row equal: nothing to write.
    Unchanged(Box<Conversation>),
    /// Write this (if the row is still at `before.version`).
    Write(Box<ConversationPlan>),
}

/// Applies `change` to `before` and derives the new version, its events
/// and its history row. Pure: no database access.
fn plan_conversation<F>(
    ctx: &WriteContext,
    before: Conversation,
    precondition: Precondition,
    change: &mut F,
) -> Result<Plan, Abort>
where
    F: FnMut(&mut Conversation) -> Result<(), DomainError>,
{
    if !precondition.holds(before.version, before.updated_at) {
        return Err(StorageError::PreconditionFailed.into());
    }
    let mut after = before.clone();
    change(&mut after)?;
    pin_identity_conversation(&before, &mut after);
    let t = now().max(before.updated_at);
    after.normalize_closure(ctx.actor, t);
    after.validate().map_err(DomainError::Validation)?;
    if after == before {
        return Ok(Plan::Unchanged(Box::new(before)));
    }
    after.version = before.version + 1;
    after.updated_at = t;
    let write = ConversationWrite::from_domain(&after)?;
    let events = conversation_events(&ctx.tenant.name, Some(&before), Some(&after), t);
    let record = crate::repo::Record::new(
        ctx,
        events,
        EntityKind::Conversation,
        before.id.get(),
        Some(before.version),
        Some(after.version),
        t,
    )?;
    Ok(Plan::Write(Box::new(ConversationPlan {
        before,
        after,
        write,
        record,
    })))
}

/// Writes a planned conversation update inside the caller's transaction:
/// checks the links it adds, then updates the row only if it is still at
/// the version the plan was computed from ([`Abort::Retry`] if not).
#[expect(
    clippy::too_many_arguments,
    reason = "the per-backend repo functions are passed in, as for check_links"
)]
fn commit_conversation<C>(
    c: &mut C,
    tenant: i64,
    id: ConversationId,
    plan: Box<ConversationPlan>,
    update: impl Fn(
        &mut C,
        i64,
        i64,
        i64,
        &crate::rows::ConversationChanges<'_>,
        &crate::repo::Record,
    ) -> Result<bool, StorageError>,
    customer_exists: impl Fn(&mut C, i64) -> Result<bool, StorageError>,
    agent_exists: impl Fn(&mut C, i64) -> Result<bool, StorageError>,
    department_exists: impl Fn(&mut C, i64) -> Result<bool, StorageError>,
) -> Result<Conversation, Abort> {
    check_links(
        c,
        Some(&plan.before),
        &plan.after,
        customer_exists,
        agent_exists,
        department_exists,
    )?;
    let changes = plan.write.changes_from(&plan.before);
    if !update(
        c,
        tenant,
        id.get(),
        plan.before.version,
        &changes,
        &plan.record,
    )? {
        return Err(Abort::Retry);
    }
    Ok(plan.after)
}

/// Whether `after` links a customer, agent or department that `before`
/// did not (the only links [`check_links`] looks up on an update).
fn adds_links(before: &Conversation, after: &Conversation) -> bool {
    let had = |id: AgentId| links_agent(before, id);
    after
        .customer_id
        .is_some_and(|id| before.customer_id != Some(id))
        || after
            .department_id
            .is_some_and(|id| before.department_id != Some(id))
        || after.assignee_id.is_some_and(|id| !had(id))
        || after.transfer_to.is_some_and(|id| !had(id))
        || after.agent_ids.iter().any(|id| !had(*id))
}

/// Whether `conv` names agent `id` (assignee, transfer target or participant).
fn links_agent(conv: &Conversation, id: AgentId) -> bool {
    conv.assignee_id == Some(id) || conv.transfer_to == Some(id) || conv.agent_ids.contains(&id)
}

/// Checks that the conversation's links point at rows of the same tenant.
/// With `before` (an update), only links that are new are looked up: the
/// customer link is kept valid by its foreign key (`ON DELETE SET NULL`),
/// and agents and departments cannot be deleted.
fn check_links<C>(
    c: &mut C,
    before: Option<&Conversation>,
    conv: &Conversation,
    customer_exists: impl Fn(&mut C, i64) -> Result<bool, StorageError>,
    agent_exists: impl Fn(&mut C, i64) -> Result<bool, StorageError>,
    department_exists: impl Fn(&mut C, i64) -> Result<bool, StorageError>,
) -> Result<(), StorageError> {
    let mut errors = switchboard_domain::validate::ValidationErrors::new();
    // A link the conversation already had was checked when it was set (and
    // the foreign keys keep it valid), so only new links cost a lookup.
    let had_agent = |id: AgentId| before.is_some_and(|b| links_agent(b, id));
    if let Some(id) = conv.customer_id
        && before.is_none_or(|b| b.customer_id != Some(id))
        && !customer_exists(c, id.get())?
    {
        errors.push(
            "/customerId",
            "not_found",
            format!("customer {id} does not exist"),
        );
    }
    // The assignee and transfer target first: an unknown agent is reported
    // once, at the field the caller set, even if it is also a participant.
    let mut agents: Vec<(String, AgentId)> = Vec::new();
    if let Some(a) = conv.assignee_id {
        agents.push(("/assigneeId".into(), a));
    }
    if let Some(a) = conv.transfer_to {
        agents.push(("/transferTo".into(), a));
    }
    agents.extend(
        conv.agent_ids
            .iter()
            .enumerate()
            .map(|(i, a)| (format!("/agentIds/{i}"), *a)),
    );
    let mut checked: Vec<AgentId> = Vec::new();
    for (path, id) in agents {
        if checked.contains(&id) {
            continue;
        }
        checked.push(id);
        if !had_agent(id) && !agent_exists(c, id.get())? {
            errors.push(path, "not_found", format!("agent {id} does not exist"));
        }
    }
    if let Some(id) = conv.department_id
        && before.is_none_or(|b| b.department_id != Some(id))
        && !department_exists(c, id.get())?
    {
        errors.push(
            "/departmentId",
            "not_found",
            format!("department {id} does not exist"),
        );
    }
    errors
        .into_result()
        .map_err(|e| DomainError::Validation(e).into())
}
