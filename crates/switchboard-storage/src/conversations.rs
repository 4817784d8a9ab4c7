//! Conversations: the [`Conversations`] handle, how a conversation is
//! stored, and the batched loader of the rows conversations link to.

use std::collections::BTreeSet;
use std::sync::Arc;

use switchboard_domain::query::{ConversationField, Filter, Query};
use switchboard_domain::validate::ValidationErrors;
use switchboard_domain::{
    Agent, AgentId, Conversation, ConversationId, ConversationLinks, ConversationRules,
    ConversationStatus, ConversationUpdate, Customer, CustomerId, Department, DepartmentId,
    DomainError, EntityKind, TenantId, UpdateMode,
};

use crate::attributes::Definitions;
use crate::connection::DbConnection;
use crate::decoded::Decoded;
use crate::directory::DirectoryCache;
use crate::doc_cache::DocCache;
use crate::engine::{self, Request, Stored};
use crate::history::{self, HistoryEntry, OutboxEvent};
use crate::paging::{self, CountedPage, QueryPage};
use crate::rows::{ConversationWrite, Weighed};
use crate::sql::counts::Counts;
use crate::sql::record::Record;
use crate::sql::{self, R};
use crate::{ImportError, ModifyError, Precondition, StorageError, Store, WriteContext};

/// Which linked rows to load with [`Conversations::links`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkSet {
    /// The linked customer (a whole customer document, unless
    /// [`Self::contact_only`]).
    pub customer: bool,
    /// Of the linked customer, only what the conversation's contact
    /// ([`Conversation::contact`]) reads: its id, user id, name, email,
    /// phone, company and country, every other member at its default
    /// (drawn from the document by the database, the rest of it neither
    /// sent nor decoded): what a list of chats shows of its customers.
    pub contact_only: bool,
    /// The assignee, the transfer target and the participating agents.
    pub agents: bool,
    /// The department.
    pub department: bool,
}

impl LinkSet {
    /// Every link, each row whole.
    pub const ALL: Self = Self {
        customer: true,
        contact_only: false,
        agents: true,
        department: true,
    };

    /// Every link, of the customer only its contact ([`Self::contact_only`]).
    pub const CONTACT: Self = Self {
        contact_only: true,
        ..Self::ALL
    };
}

impl Stored for Conversation {
    type Write = ConversationWrite;
    const STAGE_ON_SQLITE: bool = true;
    const COUNTS: Counts = Counts::Conversations;
    type Links = ConversationLinks;

    fn load(c: &mut DbConnection, tenant: i64, id: i64, lock: bool) -> R<Option<Self>> {
        sql::conversations::load(c, tenant, id, lock)
    }

    fn rules(_: &mut DbConnection, _: i64, _: &Definitions) -> R<ConversationRules> {
        Ok(ConversationRules::default())
    }

    /// The linked customer, when an `email_updated` needs its name or
    /// country ([`switchboard_domain::event::customer_needed`]).
    fn rules_for_events(
        c: &mut DbConnection,
        tenant: i64,
        rules: &mut ConversationRules,
        before: Option<&Self>,
        after: &Self,
    ) -> R<()> {
        if let Some(id) = switchboard_domain::event::customer_needed(before, after)
            && rules.customer.as_ref().is_none_or(|x| x.id != id)
        {
            rules.customer = sql::customers::load(c, tenant, id.get(), false)?;
        }
        Ok(())
    }

    /// The conversation and its customer in one statement (the customer
    /// kept in `cache`); agents and a department, if any, after it.
    fn load_linked(
        c: &mut DbConnection,
        tenant: i64,
        id: i64,
        cache: &DocCache,
    ) -> R<Option<(Self, ConversationLinks)>> {
        let Some((conv, customer)) = sql::conversations::load_with_customer(c, tenant, id)? else {
            return Ok(None);
        };
        let links = links_besides(c, tenant, &conv, kept(cache, tenant, customer))?;
        Ok(Some((conv, links)))
    }

    /// The customer may come from the document cache (with `reuse`) and
    /// goes into it when read: [`Stored::update`] checks its version. The
    /// agents and the department are always read.
    fn links(
        c: &mut DbConnection,
        tenant: i64,
        entity: &Self,
        cache: &DocCache,
        reuse: bool,
    ) -> R<(ConversationLinks, bool)> {
        let (customer, reused) = match entity.customer_id.map(CustomerId::get) {
            None => (None, false),
            Some(id) => match reuse
                .then(|| cache.linked::<Customer>(tenant, id))
                .flatten()
            {
                Some(found) => (Some(found), true),
                None => {
                    let found = sql::customers::load_sized(c, tenant, id)?;
                    (kept(cache, tenant, found), false)
                }
            },
        };
        Ok((links_besides(c, tenant, entity, customer)?, reused))
    }

    fn to_write(&self) -> R<ConversationWrite> {
        ConversationWrite::from_domain(self)
    }

    fn stored_len(write: &ConversationWrite) -> usize {
        write.doc.0.len()
    }

    fn insert(c: &mut DbConnection, write: &ConversationWrite) -> R<i64> {
        sql::conversations::insert(c, write)
    }

    /// Links the conversation did not have are checked to exist.
    fn needs_prelude(before: Option<&Self>, after: &Self) -> bool {
        adds_links(before, after)
    }

    fn prelude(c: &mut DbConnection, tenant: i64, before: Option<&Self>, after: &Self) -> R<()> {
        check_links(c, tenant, before, after)
    }

    fn update(
        c: &mut DbConnection,
        tenant: i64,
        before: &Self,
        write: &ConversationWrite,
        record: &Record,
        links: &ConversationLinks,
    ) -> R<bool> {
        let changes = write.changes_from(before);
        let customer = before.customer_id.map(|id| {
            let seen = links
                .customer
                .as_ref()
                .filter(|x| x.id == id)
                .map(|x| x.version);
            (id.get(), seen)
        });
        sql::conversations::update(
            c,
            tenant,
            (before.id.get(), before.version),
            customer,
            &changes,
            record,
        )
    }

    fn delete(c: &mut DbConnection, tenant: i64, id: i64, version: i64) -> R<usize> {
        sql::conversations::delete(c, tenant, id, version)
    }
}

/// A linked customer just read (if any), kept in `cache` for the next
/// linked change.
fn kept(cache: &DocCache, tenant: i64, read: Option<Weighed<Customer>>) -> Option<Customer> {
    read.map(|(customer, len)| {
        cache.put(tenant, &customer, len);
        customer
    })
}

/// The links of `conv` with its `customer` as given: its agents and its
/// department read (no statement when it has none).
fn links_besides(
    c: &mut DbConnection,
    tenant: i64,
    conv: &Conversation,
    customer: Option<Customer>,
) -> R<ConversationLinks> {
    let mut wanted = LinkIds::of(conv, LinkSet::ALL);
    wanted.customer = None;
    let mut links = if wanted.is_empty() {
        ConversationLinks::default()
    } else {
        load_links(
            c,
            &Decoded::off(),
            tenant,
            std::slice::from_ref(&wanted),
            CustomersFrom::Whole,
        )?
        .pop()
        .unwrap_or_default()
    };
    links.customer = customer;
    Ok(links)
}

/// Whether `conv` names agent `id` (assignee, transfer target or participant).
fn links_agent(conv: &Conversation, id: AgentId) -> bool {
    conv.assignee_id == Some(id) || conv.transfer_to == Some(id) || conv.agent_ids.contains(&id)
}

/// Whether `after` links a customer, agent or department that `before`
/// did not, or a new assignee or transfer target (the only links
/// [`check_links`] looks up).
fn adds_links(before: Option<&Conversation>, after: &Conversation) -> bool {
    let had = |id: AgentId| before.is_some_and(|b| links_agent(b, id));
    after
        .customer_id
        .is_some_and(|id| before.is_none_or(|b| b.customer_id != Some(id)))
        || after
            .department_id
            .is_some_and(|id| before.is_none_or(|b| b.department_id != Some(id)))
        || after
            .assignee_id
            .is_some_and(|id| before.is_none_or(|b| b.assignee_id != Some(id)))
        || after
            .transfer_to
            .is_some_and(|id| before.is_none_or(|b| b.transfer_to != Some(id)))
        || after.agent_ids.iter().any(|id| !had(*id))
}

/// Checks that the conversation's links point at rows of the same tenant.
/// With `before` (an update), only links that are new are looked up: the
/// customer link is kept valid by its foreign key (`ON DELETE SET NULL`),
/// and an agent or department that a conversation names is not deleted
/// (`Admin::delete_agent`; on PostgreSQL the rows looked up here stay
/// locked `FOR KEY SHARE` until the write commits, so a delete running at
/// the same time sees the new link).
fn check_links(
    c: &mut DbConnection,
    tenant: i64,
    before: Option<&Conversation>,
    conv: &Conversation,
) -> R<()> {
    let mut errors = ValidationErrors::new();
    let had_agent = |id: AgentId| before.is_some_and(|b| links_agent(b, id));
    if let Some(id) = conv.customer_id
        && before.is_none_or(|b| b.customer_id != Some(id))
        && sql::customers::load(c, tenant, id.get(), false)?.is_none()
    {
        errors.push(
            "/customerId",
            "not_found",
            format!("customer {id} does not exist"),
        );
    }
    // The assignee and transfer target first: an unknown agent is reported
    // once, at the field the caller set, even if it is also a participant.
    // A new assignee or transfer target is looked up even if it took part
    // before: a past participant may have been deleted since (only current
    // assignees and transfer targets keep an agent from being deleted).
    let mut agents: Vec<(String, AgentId, bool)> = Vec::new();
    if let Some(a) = conv.assignee_id {
        agents.push((
            "/assigneeId".into(),
            a,
            before.is_some_and(|b| b.assignee_id == Some(a)),
        ));
    }
    if let Some(a) = conv.transfer_to {
        agents.push((
            "/transferTo".into(),
            a,
            before.is_some_and(|b| b.transfer_to == Some(a)),
        ));
    }
    agents.extend(
        conv.agent_ids
            .iter()
            .enumerate()
            .map(|(i, a)| (format!("/agentIds/{i}"), *a, had_agent(*a))),
    );
    let mut checked: Vec<AgentId> = Vec::new();
    for (path, id, kept) in agents {
        if checked.contains(&id) {
            continue;
        }
        checked.push(id);
        if !kept && !sql::directory::agent_for_link(c, tenant, id.get())? {
            errors.push(path, "not_found", format!("agent {id} does not exist"));
        }
    }
    if let Some(id) = conv.department_id
        && before.is_none_or(|b| b.department_id != Some(id))
        && !sql::directory::department_for_link(c, tenant, id.get())?
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

/// The ids a conversation links to, as the loader needs them.
#[derive(Debug, Clone, Default)]
struct LinkIds {
    customer: Option<i64>,
    /// Assignee, transfer target and participants, each once.
    agents: Vec<i64>,
    department: Option<i64>,
}

impl LinkIds {
    fn of(c: &Conversation, set: LinkSet) -> Self {
        let mut agents: Vec<i64> = Vec::new();
        if set.agents {
            for id in c
                .assignee_id
                .iter()
                .chain(&c.transfer_to)
                .chain(&c.agent_ids)
            {
                if !agents.contains(&id.get()) {
                    agents.push(id.get());
                }
            }
        }
        Self {
            customer: c.customer_id.filter(|_| set.customer).map(CustomerId::get),
            agents,
            department: c
                .department_id
                .filter(|_| set.department)
                .map(DepartmentId::get),
        }
    }

    fn is_empty(&self) -> bool {
        self.customer.is_none() && self.agents.is_empty() && self.department.is_none()
    }
}

/// The ids each of `convs` links to (those of `set`), or `None` when
/// there are none to load.
fn wanted_links(convs: &[Conversation], set: LinkSet) -> Option<Vec<LinkIds>> {
    let wanted: Vec<LinkIds> = convs.iter().map(|c| LinkIds::of(c, set)).collect();
    (!wanted.iter().all(LinkIds::is_empty)).then_some(wanted)
}

/// The rows each of `wanted` (at least one id in all: callers skip the
/// call otherwise) links to, in order: whatever the number of
/// conversations, one statement for the contacts, agents and departments
/// when `contact_only`; otherwise at most one for the whole customers and
/// one for the agents and departments (a single id is a point lookup).
/// Every statement is prepared once per connection. Whole customers
/// (several) are decoded through `memo` ([`Decoded`]).
fn load_links(
    c: &mut DbConnection,
    memo: &Decoded,
    tenant: i64,
    wanted: &[LinkIds],
    from: CustomersFrom,
) -> R<Vec<ConversationLinks>> {
    fn distinct(ids: impl Iterator<Item = i64>) -> Vec<i64> {
        ids.collect::<BTreeSet<i64>>().into_iter().collect()
    }
    let agent_ids = distinct(wanted.iter().flat_map(|w| w.agents.iter().copied()));
    let department_ids = distinct(wanted.iter().filter_map(|w| w.department));
    let customer_ids = || distinct(wanted.iter().filter_map(|w| w.customer));
    let (customers, agents, departments) = match from {
        CustomersFrom::Read(customers, at) => {
            let copy = match at {
                Some((copies, stamp)) if !(agent_ids.is_empty() && department_ids.is_empty()) => {
                    copies.at(c, tenant, stamp)?
                }
                _ => None,
            };
            let (agents, departments) = match copy {
                Some(copy) => copy.among(&agent_ids, &department_ids),
                None => shared(directory(c, tenant, &agent_ids, &department_ids)?),
            };
            (customers, agents, departments)
        }
        CustomersFrom::Contacts => {
            // The contacts, agents and departments together: one statement.
            let (contacts, agents, departments) =
                sql::query::links_by_ids(c, tenant, &customer_ids(), &agent_ids, &department_ids)?;
            let (agents, departments) = shared((agents, departments));
            (
                contacts.into_iter().map(Customer::from).collect(),
                agents,
                departments,
            )
        }
        CustomersFrom::Whole => {
            let customers = match customer_ids().as_slice() {
                [] => Vec::new(),
                [one] => sql::customers::load(c, tenant, *one, false)?
                    .into_iter()
                    .collect(),
                many => sql::customers::by_ids(c, memo, tenant, many)?,
            };
            let (agents, departments) = shared(directory(c, tenant, &agent_ids, &department_ids)?);
            (customers, agents, departments)
        }
    };
    if let [w] = wanted {
        // One conversation: its rows move into its links as they are.
        return Ok(vec![ConversationLinks {
            customer: customers
                .into_iter()
                .find(|x| Some(x.id.get()) == w.customer),
            agents,
            department: departments
                .into_iter()
                .find(|d| Some(d.id.get()) == w.department),
        }]);
    }
    // A customer several conversations share is cloned for all but the
    // last of them, which takes the row itself; agents and departments are
    // shared.
    let mut customers = Shared::new(customers, wanted.iter().filter_map(|w| w.customer), |x| {
        x.id.get()
    });
    let mut departments = Shared::new(
        departments,
        wanted.iter().filter_map(|w| w.department),
        |d| d.id.get(),
    );
    Ok(wanted
        .iter()
        .map(|w| ConversationLinks {
            customer: w.customer.and_then(|id| customers.take(id)),
            agents: agents
                .iter()
                .filter(|a| w.agents.contains(&a.id.get()))
                .cloned()
                .collect(),
            department: w.department.and_then(|id| departments.take(id)),
        })
        .collect())
}

/// Agents and departments as links hold them: each row once, shared by
/// every conversation that names it.
fn shared(
    (agents, departments): (Vec<Agent>, Vec<Department>),
) -> (Vec<Arc<Agent>>, Vec<Arc<Department>>) {
    (
        agents.into_iter().map(Arc::new).collect(),
        departments.into_iter().map(Arc::new).collect(),
    )
}

/// Where [`load_links`] takes the linked customers from (and, read with
/// the page, the agents and departments).
enum CustomersFrom<'a> {
    /// Whole customers, read by id.
    Whole,
    /// Only their contacts ([`LinkSet::CONTACT`]), read with the agents
    /// and departments in one statement (`sql::query::links_by_ids`).
    Contacts,
    /// Already read, with the page (`sql::query::page_counted_contacts`):
    /// in id order, each once; with the directory's copies and the stamp
    /// the page read (none for a page without rows), which serve the
    /// agents and departments when the copy is current.
    Read(Vec<Customer>, Option<(&'a DirectoryCache, i64)>),
}

impl CustomersFrom<'_> {
    /// What `set` asks of the customers, none read yet.
    const fn of(set: LinkSet) -> Self {
        if set.contact_only {
            Self::Contacts
        } else {
            Self::Whole
        }
    }
}

/// The tenant's agents among `agent_ids` and departments among
/// `department_ids`: one statement for both when both are wanted.
fn directory(
    c: &mut DbConnection,
    tenant: i64,
    agent_ids: &[i64],
    department_ids: &[i64],
) -> R<(Vec<Agent>, Vec<Department>)> {
    Ok(match (agent_ids, department_ids) {
        ([_, ..], [_, ..]) => sql::query::directory_by_ids(c, tenant, agent_ids, department_ids)?,
        (agent_ids, department_ids) => (
            match agent_ids {
                [] => Vec::new(),
                [one] => sql::directory::agent_by_id(c, tenant, *one)?
                    .into_iter()
                    .collect(),
                many => sql::directory::agents(c, tenant, Some(many))?,
            },
            match department_ids {
                [] => Vec::new(),
                [one] => sql::directory::department_by_id(c, tenant, *one)?
                    .into_iter()
                    .collect(),
                many => sql::directory::departments(c, tenant, Some(many))?,
            },
        ),
    })
}

/// Rows several conversations may link to, handed out in the order of
/// the conversations: cloned while another conversation still wants the
/// row, moved to the last one.
struct Shared<T> {
    /// Each row's id, the row, and how many conversations still want it.
    rows: Vec<(i64, Option<T>, usize)>,
}

impl<T: Clone> Shared<T> {
    fn new(rows: Vec<T>, wanted: impl Iterator<Item = i64>, id: impl Fn(&T) -> i64) -> Self {
        let mut rows: Vec<(i64, Option<T>, usize)> =
            rows.into_iter().map(|r| (id(&r), Some(r), 0)).collect();
        for w in wanted {
            if let Some(r) = rows.iter_mut().find(|r| r.0 == w) {
                r.2 += 1;
            }
        }
        Self { rows }
    }

    fn take(&mut self, id: i64) -> Option<T> {
        let (_, row, left) = self.rows.iter_mut().find(|r| r.0 == id)?;
        *left = left.saturating_sub(1);
        if *left == 0 { row.take() } else { row.clone() }
    }
}

/// A page of `q` with its total and, for each conversation, the rows it
/// links to (those of `set`), on one connection: the page statement, then
/// one for the customers and one for the agents and departments together
/// (one each when only one of them is linked). For `set.contact_only` (a
/// chat page) the page statement reads the contacts and the directory's
/// stamp itself, and the agents and departments come from `directory`'s
/// copy when it is at that stamp: one statement; else from the whole
/// directory read again (one more). A custom info lookup in id order on
/// PostgreSQL reads its contacts, agents and departments by one statement
/// after the page instead ([`sql::query::joins_contacts`]). Each statement
/// is prepared once per connection whatever the values and the number of
/// rows.
pub(crate) fn page_with_links(
    c: &mut DbConnection,
    memo: &Decoded,
    directory: &DirectoryCache,
    tenant: i64,
    q: &Query<ConversationField>,
    set: LinkSet,
) -> R<(Vec<Conversation>, sql::query::Total, Vec<ConversationLinks>)> {
    let (items, total, from) = if set.contact_only && sql::query::joins_contacts(c, q) {
        // The contacts come with the page's rows, from its own statement,
        // and so does the directory's stamp: the agents and departments
        // come from this node's copy when it is current, else from one
        // more statement.
        let page = sql::query::page_counted_contacts(c, memo, tenant, q)?;
        let mut contacts: Vec<_> = page.contacts.into_iter().flatten().collect();
        contacts.sort_unstable_by_key(|x| x.id);
        contacts.dedup_by_key(|x| x.id);
        let read = contacts.into_iter().map(Customer::from).collect();
        let at = page.directory_stamp.map(|stamp| (directory, stamp));
        (page.items, page.total, CustomersFrom::Read(read, at))
    } else {
        let (items, total) = sql::query::page_counted(c, memo, tenant, q)?;
        (items, total, CustomersFrom::of(set))
    };
    let links = match wanted_links(&items, set) {
        Some(wanted) => load_links(c, memo, tenant, &wanted, from)?,
        None => vec![ConversationLinks::default(); items.len()],
    };
    Ok((items, total, links))
}

/// The tenant's conversations (chat sessions); from [`Store::conversations`].
#[derive(Debug, Clone, Copy)]
pub struct Conversations<'a> {
    store: &'a Store,
}

impl<'a> Conversations<'a> {
    pub(crate) const fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Creates a conversation from `draft` (its id, version and times are
    /// assigned here). The session key must be unique in the tenant
    /// ([`StorageError::Conflict`] otherwise), and the customer, agents and
    /// department it links to must be the tenant's. Writes
    /// `conversation_created` (and `email_updated` when the visitor has an
    /// email) in the same transaction.
    pub async fn create(
        self,
        ctx: &WriteContext,
        draft: Conversation,
    ) -> Result<Conversation, StorageError> {
        engine::create(self.store, ctx.clone(), draft).await
    }

    /// Imports existing conversations (from a vendor being replaced, or a
    /// benchmark's dataset): every draft is checked like [`Self::create`]
    /// and keeps its own time (`updated_at`, which `Conversation::new` sets) as
    /// its creation time, but no events are sent and no history is
    /// written: an import is not a change. One transaction: all drafts are
    /// stored or none, and the error names the first failing one. Returns
    /// the stored conversations in the order given.
    pub async fn import(
        self,
        ctx: &WriteContext,
        drafts: Vec<Conversation>,
    ) -> Result<Vec<Conversation>, ImportError> {
        engine::import(self.store, ctx.clone(), drafts).await
    }

    /// One conversation of the tenant.
    pub async fn get(
        self,
        tenant: TenantId,
        id: ConversationId,
    ) -> Result<Conversation, StorageError> {
        engine::get(self.store, tenant, id.get()).await
    }

    /// The id of the tenant's conversation with this session key.
    pub async fn id_by_session_key(
        self,
        tenant: TenantId,
        key: &str,
    ) -> Result<Option<ConversationId>, StorageError> {
        let key = key.to_string();
        self.store
            .run(move |c| sql::conversations::id_by_session_key(c, tenant.get(), &key))
            .await
            .map(|o| o.map(ConversationId::new))
    }

    /// A page of the tenant's conversations in any of `statuses` (all when
    /// empty), newest first: `limit` (1-1000) after skipping `offset`.
    pub async fn list(
        self,
        tenant: TenantId,
        statuses: &[ConversationStatus],
        offset: u32,
        limit: u32,
    ) -> Result<Vec<Conversation>, StorageError> {
        let limit = i64::from(limit.clamp(1, 1000));
        let offset = i64::from(offset);
        let statuses: Vec<&'static str> = statuses.iter().map(|s| s.as_str()).collect();
        self.store
            .run(move |c| sql::conversations::list(c, tenant.get(), &statuses, offset, limit))
            .await
    }

    /// A page of the tenant's conversations matching `query`, in its
    /// order; see [`Customers::query`](crate::Customers::query). Status,
    /// assignee, department, visitor email, times and (on PostgreSQL)
    /// custom info equality are served by an index.
    pub async fn query(
        self,
        tenant: TenantId,
        query: &Query<ConversationField>,
    ) -> Result<QueryPage<Conversation>, StorageError> {
        paging::run(self.store, "conversations", tenant, query, sql::query::page).await
    }

    /// A page of [`Self::query`], how many conversations match its filter
    /// in all ([`Self::count`]) and, for each conversation of the page, the
    /// rows it links to (those of `set`, as [`Self::links`]): one trip to
    /// the database, the page and its total in one statement (the same
    /// snapshot).
    pub async fn query_counted(
        self,
        tenant: TenantId,
        query: &Query<ConversationField>,
        set: LinkSet,
    ) -> Result<(CountedPage<Conversation>, Vec<ConversationLinks>), StorageError> {
        let directory = self.store.directory_shared();
        let (page, (total, links)) = paging::run_with(
            self.store,
            "conversations",
            tenant,
            query,
            move |c, memo, t, q| {
                page_with_links(c, memo, &directory, t, q, set)
                    .map(|(items, total, links)| (items, (total, links)))
            },
        )
        .await?;
        self.store
            .after_total::<ConversationField>(tenant.get(), total);
        let total = total.n;
        Ok((CountedPage { page, total }, links))
    }

    /// How many of the tenant's conversations match `filter` (all with `None`).
    pub async fn count(
        self,
        tenant: TenantId,
        filter: Option<&Filter<ConversationField>>,
    ) -> Result<u64, StorageError> {
        paging::count(self.store, tenant, filter).await
    }

    /// The rows each of `convs` links to (those of `set`), in order: at
    /// most one query per kind of link for the whole list. A link whose row
    /// is gone is left out.
    pub async fn links(
        self,
        tenant: TenantId,
        convs: &[Conversation],
        set: LinkSet,
    ) -> Result<Vec<ConversationLinks>, StorageError> {
        let Some(wanted) = wanted_links(convs, set) else {
            return Ok(vec![ConversationLinks::default(); convs.len()]);
        };
        let memo = self.store.decoded_shared();
        self.store
            .run(move |c| load_links(c, &memo, tenant.get(), &wanted, CustomersFrom::of(set)))
            .await
    }

    /// The rows one conversation links to; see [`Conversations::links`].
    pub async fn links_of(
        self,
        tenant: TenantId,
        conv: &Conversation,
        set: LinkSet,
    ) -> Result<ConversationLinks, StorageError> {
        Ok(self
            .links(tenant, std::slice::from_ref(conv), set)
            .await?
            .pop()
            .unwrap_or_default())
    }

    /// Read-modify-write of one conversation; see
    /// [`Customers::modify`](crate::Customers::modify) for the guarantees.
    /// Links to customers, agents and departments are checked to belong to
    /// the tenant; closure members are kept consistent with the status.
    pub async fn modify<X, F>(
        self,
        ctx: &WriteContext,
        id: ConversationId,
        precondition: Precondition,
        mut change: F,
    ) -> Result<Conversation, ModifyError<X>>
    where
        X: Send + 'static,
        F: FnMut(&mut Conversation) -> Result<(), X> + Send + 'static,
    {
        self.run(ctx, id, precondition, false, move |c, _| change(c))
            .await
            .map(|(c, _)| c)
    }

    /// [`Conversations::modify`] with a change that also sees the rows the
    /// conversation links to (every [`LinkSet`] kind, current when the
    /// change is written: read with it, or, on PostgreSQL, the customer
    /// this node last saw, whose version the write checks): what a dialect
    /// needs to apply a patch to the same document it renders. Returns the conversation as
    /// written with the rows it links to now (read again only if the change
    /// linked other rows).
    pub async fn modify_linked<X, F>(
        self,
        ctx: &WriteContext,
        id: ConversationId,
        precondition: Precondition,
        change: F,
    ) -> Result<(Conversation, ConversationLinks), ModifyError<X>>
    where
        X: Send + 'static,
        F: FnMut(&mut Conversation, &ConversationLinks) -> Result<(), X> + Send + 'static,
    {
        let (conv, links) = self.run(ctx, id, precondition, true, change).await?;
        if links.covers(&conv) {
            return Ok((conv, links));
        }
        let links = self.links_of(ctx.tenant.id, &conv, LinkSet::ALL).await?;
        Ok((conv, links))
    }

    /// [`Conversations::modify`] with a change that cannot fail (the
    /// domain's rules still apply to its result).
    pub async fn update<F>(
        self,
        ctx: &WriteContext,
        id: ConversationId,
        precondition: Precondition,
        change: F,
    ) -> Result<Conversation, StorageError>
    where
        F: FnMut(&mut Conversation) + Send + 'static,
    {
        self.modify(ctx, id, precondition, engine::infallible(change))
            .await
            .map_err(Into::into)
    }

    /// Applies a typed update (merge semantics) on behalf of the context's
    /// actor, at the store's time; see [`Conversations::update`].
    pub async fn apply(
        self,
        ctx: &WriteContext,
        id: ConversationId,
        precondition: Precondition,
        update: ConversationUpdate,
    ) -> Result<Conversation, StorageError> {
        let (actor, clock) = (ctx.actor, self.store.clock().clone());
        self.update(ctx, id, precondition, move |c| {
            update
                .clone()
                .apply(c, UpdateMode::Merge, actor, clock.now());
        })
        .await
    }

    async fn run<X, F>(
        self,
        ctx: &WriteContext,
        id: ConversationId,
        precondition: Precondition,
        links: bool,
        change: F,
    ) -> Result<(Conversation, ConversationLinks), ModifyError<X>>
    where
        X: Send + 'static,
        F: FnMut(&mut Conversation, &ConversationLinks) -> Result<(), X> + Send + 'static,
    {
        let req = Request::new(self.store, ctx, id.get(), precondition, links);
        engine::modify(self.store, req, change).await
    }

    /// Announces the conversation's visitor email (`email_updated`)
    /// without changing it, if `precondition` holds: what an email update
    /// that left the email as it was still triggers
    /// ([`switchboard_domain::event::email_confirmed`]). Returns the
    /// conversation as announced.
    pub async fn confirm_email(
        self,
        ctx: &WriteContext,
        id: ConversationId,
        precondition: Precondition,
    ) -> Result<Conversation, StorageError> {
        engine::announce::<Conversation>(
            self.store,
            ctx.clone(),
            id.get(),
            precondition,
            |tenant, rules, c, t| {
                vec![switchboard_domain::event::email_confirmed(
                    tenant,
                    c,
                    rules.customer.as_ref(),
                    t,
                )]
            },
        )
        .await
    }

    /// Deletes a conversation if `precondition` holds (checked and deleted
    /// in one transaction), writing `conversation_deleted` to the outbox.
    pub async fn delete(
        self,
        ctx: &WriteContext,
        id: ConversationId,
        precondition: Precondition,
    ) -> Result<(), StorageError> {
        engine::delete::<Conversation>(self.store, ctx.clone(), id.get(), precondition).await
    }

    /// The conversation's change history, newest first (at most `limit`, 1-1000).
    pub async fn history(
        self,
        tenant: TenantId,
        id: ConversationId,
        limit: u32,
    ) -> Result<Vec<HistoryEntry>, StorageError> {
        history::entries(
            self.store,
            tenant,
            EntityKind::Conversation,
            id.get(),
            limit,
        )
        .await
    }

    /// Every outbox event of the conversation, oldest first (delivered or not).
    pub async fn events(
        self,
        tenant: TenantId,
        id: ConversationId,
    ) -> Result<Vec<OutboxEvent>, StorageError> {
        history::events(self.store, tenant, EntityKind::Conversation, id.get()).await
    }
}
