//! Customers: the [`Customers`] handle and how a customer is stored.

use std::sync::Arc;

use switchboard_domain::query::{CustomerField, Filter, Query};
use switchboard_domain::{
    AttributeSet, Customer, CustomerId, CustomerRules, CustomerUpdate, EntityKind, TenantId,
    UpdateMode,
};

use crate::attributes::Definitions;
use crate::connection::DbConnection;
use crate::doc_cache::DocCache;
use crate::engine::{self, Request, Stored};
use crate::history::{self, HistoryEntry, OutboxEvent};
use crate::paging::{self, CountedPage, QueryPage};
use crate::rows::CustomerWrite;
use crate::sql::counts::Counts;
use crate::sql::record::Record;
use crate::sql::{self, R};
use crate::{
    BatchError, ImportError, ModifyError, Precondition, StorageError, Store, WriteContext,
};

impl Stored for Customer {
    type Write = CustomerWrite;
    const STAGE_ON_SQLITE: bool = false;
    const COUNTS: Counts = Counts::Customers;
    type Links = ();

    fn load(c: &mut DbConnection, tenant: i64, id: i64, lock: bool) -> R<Option<Self>> {
        sql::customers::load(c, tenant, id, lock)
    }

    /// The tenant's attribute definitions, from the store's cache when
    /// current (`crate::attributes`).
    fn rules(c: &mut DbConnection, tenant: i64, defs: &Definitions) -> R<CustomerRules> {
        let attributes = defs.attributes(c, tenant)?;
        Ok(CustomerRules::new(AttributeSet::clone(&attributes)))
    }

    /// The catalogue's colors of the tags `after` names without a color,
    /// read only when there are such tags the rules do not know yet.
    fn rules_for(
        c: &mut DbConnection,
        tenant: i64,
        rules: &mut CustomerRules,
        after: &Self,
    ) -> R<()> {
        let names: Vec<&str> = after.uncolored_tags(&rules.tags).collect();
        if !names.is_empty() {
            rules
                .tags
                .extend(sql::directory::tag_colors(c, tenant, &names)?);
        }
        Ok(())
    }

    fn links(_: &mut DbConnection, _: i64, _: &Self, _: &DocCache, _: bool) -> R<((), bool)> {
        Ok(((), false))
    }

    fn to_write(&self) -> R<CustomerWrite> {
        CustomerWrite::from_domain(self)
    }

    fn stored_len(write: &CustomerWrite) -> usize {
        write.doc.0.len()
    }

    fn insert(c: &mut DbConnection, write: &CustomerWrite) -> R<i64> {
        sql::customers::insert(c, write)
    }

    /// New tag names go into the tenant's tag list.
    fn needs_prelude(before: Option<&Self>, after: &Self) -> bool {
        new_tags(before, after).next().is_some()
    }

    fn prelude(c: &mut DbConnection, tenant: i64, before: Option<&Self>, after: &Self) -> R<()> {
        sql::directory::ensure_tags(c, tenant, new_tags(before, after))
    }

    fn update(
        c: &mut DbConnection,
        tenant: i64,
        before: &Self,
        write: &CustomerWrite,
        record: &Record,
        (): &(),
    ) -> R<bool> {
        let changes = write.changes_from(before);
        sql::customers::update(c, tenant, before.id.get(), before.version, &changes, record)
    }

    fn delete(c: &mut DbConnection, tenant: i64, id: i64, version: i64) -> R<usize> {
        sql::customers::delete(c, tenant, id, version)
    }
}

/// The tags of `after` whose names `before` did not have (all of them for
/// a new customer). Only names matter: the tenant's catalogue keeps a
/// name's first color (a color sent later shows on that customer only).
fn new_tags<'a>(
    before: Option<&'a Customer>,
    after: &'a Customer,
) -> impl Iterator<Item = &'a switchboard_domain::Tag> {
    after
        .tags
        .iter()
        .filter(move |t| before.is_none_or(|b| !b.tags.iter().any(|o| o.name == t.name)))
}

/// The tenant's customers (contacts); from [`Store::customers`].
#[derive(Debug, Clone, Copy)]
pub struct Customers<'a> {
    store: &'a Store,
}

impl<'a> Customers<'a> {
    pub(crate) const fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Creates a customer from `draft` (its id, version and times are
    /// assigned here). Validates against the tenant's attributes, records
    /// new tags, and writes `customer_created` to the outbox in the same
    /// transaction.
    pub async fn create(
        self,
        ctx: &WriteContext,
        draft: Customer,
    ) -> Result<Customer, StorageError> {
        engine::create(self.store, ctx.clone(), draft).await
    }

    /// Imports existing customers (from a vendor being replaced, or a
    /// benchmark's dataset): every draft is checked like [`Self::create`]
    /// and keeps its own time (`updated_at`, which `Customer::new` sets) as
    /// its creation time, but no events are sent and no history is
    /// written: an import is not a change. One transaction: all drafts are
    /// stored or none, and the error names the first failing one. Returns
    /// the stored customers in the order given.
    pub async fn import(
        self,
        ctx: &WriteContext,
        drafts: Vec<Customer>,
    ) -> Result<Vec<Customer>, ImportError> {
        engine::import(self.store, ctx.clone(), drafts).await
    }

    /// The tenant's custom attribute definitions, as the customer rules
    /// see them: from this store's cache while it is current (on
    /// PostgreSQL without a round trip), read otherwise. Every change made
    /// through [`Admin`](crate::Admin) is seen by this node's next call;
    /// on PostgreSQL other nodes see it once they hear of it by `NOTIFY`
    /// ([`Store::listen`]; a missed notification for at most
    /// [`ATTRIBUTE_CACHE_TTL`](crate::ATTRIBUTE_CACHE_TTL)), and on SQLite
    /// other processes at once (a trigger-kept stamp is read each time).
    /// For typing a search's custom attribute values.
    pub async fn attributes(self, tenant: TenantId) -> Result<Arc<AttributeSet>, StorageError> {
        let defs = self.store.definitions();
        if let Some(set) = defs.cached(tenant.get()) {
            return Ok(set);
        }
        self.store
            .run(move |c| defs.attributes(c, tenant.get()))
            .await
    }

    /// One customer of the tenant.
    pub async fn get(self, tenant: TenantId, id: CustomerId) -> Result<Customer, StorageError> {
        engine::get(self.store, tenant, id.get()).await
    }

    /// The id of the tenant's customer with this `userId`.
    pub async fn id_by_user_id(
        self,
        tenant: TenantId,
        user_id: &str,
    ) -> Result<Option<CustomerId>, StorageError> {
        let user_id = user_id.to_string();
        self.store
            .run(move |c| sql::customers::id_by_user_id(c, tenant.get(), &user_id))
            .await
            .map(|o| o.map(CustomerId::new))
    }

    /// A page of the tenant's customers with ids greater than `after`, at
    /// most `limit` (1-1000), in id order.
    pub async fn list(
        self,
        tenant: TenantId,
        after: Option<CustomerId>,
        limit: u32,
    ) -> Result<Vec<Customer>, StorageError> {
        let after = after.map_or(0, CustomerId::get);
        let limit = i64::from(limit.clamp(1, 1000));
        self.store
            .run(move |c| sql::customers::list(c, tenant.get(), after, limit))
            .await
    }

    /// A page of the tenant's customers matching `query`, in its order.
    ///
    /// Compiled to parameterised SQL (see the domain's
    /// [`query`](switchboard_domain::query) module); the common filters
    /// (email, user id, times, custom attribute equality) and every sort
    /// are served by an index. Keyset pages ([`Page::After`]) are stable
    /// under concurrent writes; an offset ([`Page::Offset`]) continues from
    /// the cursor the store remembered after serving the previous offset of
    /// the same query, or falls back to SQL `OFFSET`.
    ///
    /// [`Page::After`]: switchboard_domain::query::Page::After
    /// [`Page::Offset`]: switchboard_domain::query::Page::Offset
    pub async fn query(
        self,
        tenant: TenantId,
        query: &Query<CustomerField>,
    ) -> Result<QueryPage<Customer>, StorageError> {
        paging::run(self.store, "customers", tenant, query, sql::query::page).await
    }

    /// A page of [`Self::query`] and how many customers match its filter
    /// in all ([`Self::count`]), read in one statement: the total and the
    /// page come from the same snapshot, in one round trip.
    pub async fn query_counted(
        self,
        tenant: TenantId,
        query: &Query<CustomerField>,
    ) -> Result<CountedPage<Customer>, StorageError> {
        let (page, total) = paging::run_with(
            self.store,
            "customers",
            tenant,
            query,
            sql::query::page_counted,
        )
        .await?;
        self.store.after_total::<CustomerField>(tenant.get(), total);
        Ok(CountedPage {
            page,
            total: total.n,
        })
    }

    /// Like [`query_counted`](Self::query_counted), for a query `build`
    /// makes from the tenant's custom attribute definitions (a search that
    /// names a custom attribute types its value by them).
    ///
    /// The definitions are read, or their cached copy checked, on the
    /// page's own connection in the same call, so the search costs one
    /// trip to the database's thread pool, not two (on SQLite the copy's
    /// check is a statement: another process may have changed them).
    /// When `build` fails, its error is returned as it is and no page is
    /// read.
    ///
    /// # Errors
    /// [`StorageError`] when the definitions or the page cannot be read.
    pub async fn query_counted_by<E, B>(
        self,
        tenant: TenantId,
        build: B,
    ) -> Result<Result<CountedPage<Customer>, E>, StorageError>
    where
        E: Send + 'static,
        B: FnOnce(&AttributeSet) -> Result<Query<CustomerField>, E> + Send + 'static,
    {
        let defs = self.store.definitions();
        let built = paging::run_built(
            self.store,
            "customers",
            tenant,
            move |c| Ok(build(defs.attributes(c, tenant.get())?.as_ref())),
            sql::query::page_counted,
        )
        .await?;
        Ok(built.map(|(page, total)| {
            self.store.after_total::<CustomerField>(tenant.get(), total);
            CountedPage {
                page,
                total: total.n,
            }
        }))
    }

    /// How many of the tenant's customers match `filter` (all with `None`).
    pub async fn count(
        self,
        tenant: TenantId,
        filter: Option<&Filter<CustomerField>>,
    ) -> Result<u64, StorageError> {
        paging::count(self.store, tenant, filter).await
    }

    /// Read-modify-write of one customer with optimistic concurrency.
    ///
    /// Loads the row, checks `precondition`, applies `change` to a copy,
    /// validates the result against the tenant's attributes, and writes it
    /// only if the stored version is still the one read. If another writer
    /// got there first, it reloads and runs `change` again (at most
    /// [`MAX_MODIFY_ATTEMPTS`](crate::MAX_MODIFY_ATTEMPTS) times), so
    /// `change` and the precondition are always judged against the row
    /// actually written. Events and a history row are committed in the same
    /// transaction. A change that leaves the customer equal writes nothing
    /// and returns it unchanged.
    ///
    /// `change` may refuse with an error of the caller's own type `X`,
    /// which comes back as [`ModifyError::Rejected`]; see
    /// [`Customers::update`] for changes that cannot fail.
    pub async fn modify<X, F>(
        self,
        ctx: &WriteContext,
        id: CustomerId,
        precondition: Precondition,
        mut change: F,
    ) -> Result<Customer, ModifyError<X>>
    where
        X: Send + 'static,
        F: FnMut(&mut Customer) -> Result<(), X> + Send + 'static,
    {
        let req = Request::new(self.store, ctx, id.get(), precondition, false);
        engine::modify(self.store, req, move |c: &mut Customer, (): &()| change(c))
            .await
            .map(|(c, ())| c)
    }

    /// [`Customers::modify`] with a change that cannot fail (the domain's
    /// rules still apply to its result).
    pub async fn update<F>(
        self,
        ctx: &WriteContext,
        id: CustomerId,
        precondition: Precondition,
        change: F,
    ) -> Result<Customer, StorageError>
    where
        F: FnMut(&mut Customer) + Send + 'static,
    {
        self.modify(ctx, id, precondition, engine::infallible(change))
            .await
            .map_err(Into::into)
    }

    /// Applies a typed update with `mode` (PUT replaces, PATCH merges),
    /// after checking the read-only members it echoes
    /// ([`CustomerUpdate::apply_checked`]); see [`Customers::update`].
    pub async fn apply(
        self,
        ctx: &WriteContext,
        id: CustomerId,
        precondition: Precondition,
        update: CustomerUpdate,
        mode: UpdateMode,
    ) -> Result<Customer, StorageError> {
        self.modify(ctx, id, precondition, move |c| {
            update.clone().apply_checked(c, mode)
        })
        .await
        .map_err(Into::into)
    }

    /// Applies several customer changes in **one transaction**: either every
    /// change is written (with its events and history) or none is.
    ///
    /// Rows are locked in ascending id order (PostgreSQL `FOR UPDATE`), so
    /// concurrent batches cannot deadlock and no retry is needed. On failure
    /// the error carries the index (in `changes`) of the first failing
    /// item. The results are in the order of `changes`.
    pub async fn modify_many<X, F>(
        self,
        ctx: &WriteContext,
        changes: Vec<(CustomerId, F)>,
    ) -> Result<Vec<Customer>, BatchError<X>>
    where
        X: Send + 'static,
        F: FnMut(&mut Customer) -> Result<(), X> + Send + 'static,
    {
        let changes = changes
            .into_iter()
            .map(|(id, mut change)| (id.get(), move |c: &mut Customer, (): &()| change(c)))
            .collect();
        engine::modify_many(self.store, ctx.clone(), self.store.clock().clone(), changes).await
    }

    /// Deletes a customer if `precondition` holds (checked and deleted in
    /// one transaction), writing `customer_deleted` to the outbox.
    /// Conversations linked to it lose the link.
    pub async fn delete(
        self,
        ctx: &WriteContext,
        id: CustomerId,
        precondition: Precondition,
    ) -> Result<(), StorageError> {
        engine::delete::<Customer>(self.store, ctx.clone(), id.get(), precondition).await
    }

    /// The customer's change history, newest first (at most `limit`, 1-1000).
    pub async fn history(
        self,
        tenant: TenantId,
        id: CustomerId,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, StorageError> {
        history::entries(self.store, tenant, EntityKind::Customer, id.get(), limit).await
    }

    /// Every outbox event of the customer, oldest first (delivered or not).
    pub async fn events(
        self,
        tenant: TenantId,
        id: CustomerId,
    ) -> Result<Vec<OutboxEvent>, StorageError> {
        history::events(self.store, tenant, EntityKind::Customer, id.get()).await
    }
}
