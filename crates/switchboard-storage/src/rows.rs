//! Row structs and their conversions to domain types.

use std::collections::BTreeSet;

use diesel::prelude::*;
use switchboard_domain::entity::Entity;
use switchboard_domain::{
    Agent, AgentId, ApiKey, ApiKeyId, AttributeType, Conversation, CustomAttribute, Customer,
    CustomerId, Department, DepartmentId, DomainEvent, EventType, Scope, SubscriptionId,
    SubscriptionState, Tag, Tenant, TenantId, Timestamp, WebhookSubscription,
};

use crate::StorageError;
use crate::decoded::{Decoded, RowVersion};
use crate::json_column::{JsonText, JsonValue};
use crate::schema::*;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = tenants)]
pub(crate) struct TenantRow {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
}

impl From<TenantRow> for Tenant {
    fn from(r: TenantRow) -> Self {
        Self {
            id: TenantId::new(r.id),
            name: r.name,
            created_at: Timestamp::from_millis(r.created_at),
        }
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub(crate) struct ApiKeyRow {
    pub id: i64,
    pub tenant_id: i64,
    pub name: String,
    pub prefix: String,
    pub secret_hash: String,
    pub scopes: JsonValue,
    pub created_at: i64,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StorageError;
    fn try_from(r: ApiKeyRow) -> Result<Self, StorageError> {
        let scopes: BTreeSet<Scope> = serde_json::from_value(r.scopes.0)?;
        Ok(Self {
            id: ApiKeyId::new(r.id),
            tenant_id: TenantId::new(r.tenant_id),
            name: r.name,
            prefix: r.prefix,
            secret_hash: r.secret_hash,
            scopes,
            created_at: Timestamp::from_millis(r.created_at),
        })
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = agents)]
pub(crate) struct AgentRow {
    pub id: i64,
    pub tenant_id: i64,
    pub name: String,
    pub email: String,
    pub role: String,
}

impl From<AgentRow> for Agent {
    fn from(r: AgentRow) -> Self {
        Self {
            id: AgentId::new(r.id),
            tenant_id: TenantId::new(r.tenant_id),
            name: r.name,
            email: r.email,
            role: r.role,
        }
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = departments)]
pub(crate) struct DepartmentRow {
    pub id: i64,
    pub tenant_id: i64,
    pub name: String,
}

impl From<DepartmentRow> for Department {
    fn from(r: DepartmentRow) -> Self {
        Self {
            id: DepartmentId::new(r.id),
            tenant_id: TenantId::new(r.tenant_id),
            name: r.name,
        }
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = tags)]
pub(crate) struct TagRow {
    #[expect(
        dead_code,
        reason = "selected for completeness; tags are keyed by name"
    )]
    pub id: i64,
    #[expect(dead_code, reason = "always the caller's tenant")]
    pub tenant_id: i64,
    pub name: String,
    pub color: String,
}

impl From<TagRow> for Tag {
    fn from(r: TagRow) -> Self {
        Self {
            name: r.name,
            color: r.color,
        }
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = custom_attributes)]
pub(crate) struct AttributeRow {
    #[expect(dead_code, reason = "attributes are keyed by name")]
    pub id: i64,
    pub tenant_id: i64,
    pub name: String,
    pub kind: String,
    pub label: String,
}

impl TryFrom<AttributeRow> for CustomAttribute {
    type Error = StorageError;
    fn try_from(r: AttributeRow) -> Result<Self, StorageError> {
        Ok(Self {
            tenant_id: TenantId::new(r.tenant_id),
            kind: r
                .kind
                .parse::<AttributeType>()
                .map_err(StorageError::internal)?,
            name: r.name,
            label: r.label,
        })
    }
}

/// An entity read from its stored document (parsed, or a copy of the one
/// `memo` parsed from the same text), with the members only storage
/// assigns taken from its row's columns: `id`, `tenant`, `version` and
/// `[created_at, updated_at]` (the document's own copies may be stale).
fn from_document<E>(
    memo: &Decoded,
    doc: JsonText,
    id: i64,
    tenant: i64,
    version: i64,
    times: [i64; 2],
) -> Result<E, StorageError>
where
    E: Entity + serde::de::DeserializeOwned,
{
    let e: E = memo.decode(tenant, id, doc.0)?;
    Ok(with_columns(e, id, tenant, version, times))
}

/// `e` with the members only storage assigns set from its row's columns.
fn with_columns<E: Entity>(
    mut e: E,
    id: i64,
    tenant: i64,
    version: i64,
    [created_at, updated_at]: [i64; 2],
) -> E {
    e.set_id(id);
    // Stamped as new (tenant, creation time), then as last written.
    e.stamp_new(TenantId::new(tenant), Timestamp::from_millis(created_at));
    e.stamp(version, Timestamp::from_millis(updated_at));
    e
}

/// An entity a page reads ([`PageRow`]).
pub(crate) trait Paged: Entity + serde::de::DeserializeOwned {
    /// Sets the link to a customer from its column (conversations).
    fn link(&mut self, customer_id: Option<i64>);
}

impl Paged for Customer {
    fn link(&mut self, _: Option<i64>) {}
}

impl Paged for Conversation {
    fn link(&mut self, customer_id: Option<i64>) {
        self.customer_id = customer_id.map(CustomerId::new);
    }
}

/// A row of a page of customers or conversations, as every page statement
/// selects it (`sql::query`): the columns of [`CustomerRow`] or
/// [`ConversationRow`] (a customer's `customer_id` is null), the row
/// version's `xmin` on PostgreSQL, and the document unless the page asked
/// for the rows' versions only (see `decoded`).
#[derive(Debug, Queryable)]
pub(crate) struct PageRow {
    pub id: i64,
    pub tenant_id: i64,
    pub customer_id: Option<i64>,
    /// PostgreSQL: the transaction that wrote the row version; 0 on SQLite.
    pub xmin: i64,
    pub doc: Option<JsonText>,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl PageRow {
    /// The row version read (PostgreSQL).
    pub(crate) fn read(&self) -> RowVersion {
        RowVersion {
            xmin: self.xmin,
            version: self.version,
            updated_at: self.updated_at,
        }
    }

    /// The row's entity from its document, `doc` (the row's own when
    /// `None`), parsed or a copy from `memo`, which records the row
    /// version when `pg`; and whether it was a copy.
    pub(crate) fn decode<E: Paged>(
        mut self,
        memo: &Decoded,
        doc: Option<JsonText>,
        pg: bool,
    ) -> Result<(E, bool), StorageError> {
        let read = pg.then(|| self.read());
        let Some(doc) = doc.or_else(|| self.doc.take()) else {
            return Err(StorageError::internal(
                "a page row came without its document",
            ));
        };
        let (e, copied) = memo.decode_read(self.tenant_id, self.id, doc.0, read)?;
        Ok((self.finish(e), copied))
    }

    /// The row's entity when `memo` holds it at the row version read.
    pub(crate) fn held<E: Paged>(&self, memo: &Decoded) -> Option<E> {
        memo.at_version(self.tenant_id, self.id, self.read())
            .map(|e| self.finish(e))
    }

    fn finish<E: Paged>(&self, e: E) -> E {
        let mut e = with_columns(
            e,
            self.id,
            self.tenant_id,
            self.version,
            [self.created_at, self.updated_at],
        );
        e.link(self.customer_id);
        e
    }
}

/// A customer as read: its document and the columns the document does not
/// hold. The columns kept for indexes (`user_id`, `email`, SQLite's contact
/// columns) are not read: the document is authoritative, and each would be
/// one more copy for every row of every page.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = customers)]
pub(crate) struct CustomerRow {
    pub id: i64,
    pub tenant_id: i64,
    pub doc: JsonText,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

/// An entity with the length of its stored document (what the document
/// cache weighs it by).
pub(crate) type Weighed<E> = (E, usize);

impl CustomerRow {
    /// The customer, with the length of its stored document.
    pub(crate) fn weighed(self) -> Result<Weighed<Customer>, StorageError> {
        let len = self.doc.0.len();
        Ok((self.try_into()?, len))
    }
}

/// A row that holds an entity's stored document.
pub(crate) trait DocumentRow {
    /// The entity the row holds.
    type Entity;

    /// The row's entity, its document parsed or taken from `memo`
    /// ([`Decoded`]).
    fn decode(self, memo: &Decoded) -> Result<Self::Entity, StorageError>;
}

impl DocumentRow for CustomerRow {
    type Entity = Customer;

    fn decode(self, memo: &Decoded) -> Result<Customer, StorageError> {
        from_document(
            memo,
            self.doc,
            self.id,
            self.tenant_id,
            self.version,
            [self.created_at, self.updated_at],
        )
    }
}

impl TryFrom<CustomerRow> for Customer {
    type Error = StorageError;
    fn try_from(r: CustomerRow) -> Result<Self, StorageError> {
        r.decode(&Decoded::off())
    }
}

/// The members of a customer that a conversation's contact reads
/// ([`Conversation::contact`](switchboard_domain::Conversation::contact))
/// and a chat shows of it: what a page of chats links, read from the
/// document by the database ([`crate::sql::query::links_by_ids`]).
#[derive(Debug, Queryable)]
pub(crate) struct CustomerContactRow {
    pub id: i64,
    pub tenant_id: i64,
    pub created_at: i64,
    pub user_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub country_code: Option<String>,
}

impl From<CustomerContactRow> for Customer {
    /// A customer with the contact's members and every other member at
    /// its default: a location only for a country.
    fn from(r: CustomerContactRow) -> Self {
        let mut c = Self::new(
            TenantId::new(r.tenant_id),
            Timestamp::from_millis(r.created_at),
        );
        c.id = CustomerId::new(r.id);
        c.user_id = r.user_id;
        c.name = r.name;
        c.email = r.email;
        c.phone = r.phone;
        c.company = r.company;
        c.location = r.country_code.map(|country| switchboard_domain::Location {
            country_code: Some(country),
            ..Default::default()
        });
        c
    }
}

#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = customers)]
pub(crate) struct CustomerWrite {
    pub tenant_id: i64,
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub doc: JsonText,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl CustomerWrite {
    pub(crate) fn from_domain(c: &Customer) -> Result<Self, StorageError> {
        Ok(Self {
            tenant_id: c.tenant_id.get(),
            user_id: c.user_id.clone(),
            email: c.email.as_ref().map(|e| e.to_lowercase()),
            doc: JsonText(serde_json::to_string(c)?),
            created_at: c.created_at.as_millis(),
            updated_at: c.updated_at.as_millis(),
            version: c.version,
        })
    }
}

/// The columns an update of a customer writes. The index columns are set
/// only when their value changes, so the indexes are not rewritten needlessly.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = customers)]
pub(crate) struct CustomerChanges<'a> {
    pub user_id: Option<Option<&'a str>>,
    pub email: Option<Option<&'a str>>,
    pub doc: &'a JsonText,
    pub updated_at: i64,
    pub version: i64,
}

impl CustomerWrite {
    /// The update that turns the stored row of `before` into `self`.
    pub(crate) fn changes_from(&self, before: &Customer) -> CustomerChanges<'_> {
        let before_email = before.email.as_ref().map(|e| e.to_lowercase());
        CustomerChanges {
            user_id: (before.user_id != self.user_id).then_some(self.user_id.as_deref()),
            email: (before_email != self.email).then_some(self.email.as_deref()),
            doc: &self.doc,
            updated_at: self.updated_at,
            version: self.version,
        }
    }
}

/// A conversation as read: its document and the columns the document does
/// not hold, or holds less authoritatively. The columns kept for indexes
/// (`session_key`, `status`, `visitor_email`, …) are not read, as for
/// [`CustomerRow`].
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = conversations)]
pub(crate) struct ConversationRow {
    pub id: i64,
    pub tenant_id: i64,
    /// Authoritative for the link: `ON DELETE SET NULL` clears it when the
    /// customer is deleted, while the document keeps the old id.
    pub customer_id: Option<i64>,
    pub doc: JsonText,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl DocumentRow for ConversationRow {
    type Entity = Conversation;

    fn decode(self, memo: &Decoded) -> Result<Conversation, StorageError> {
        let mut c: Conversation = from_document(
            memo,
            self.doc,
            self.id,
            self.tenant_id,
            self.version,
            [self.created_at, self.updated_at],
        )?;
        c.customer_id = self.customer_id.map(CustomerId::new);
        Ok(c)
    }
}

impl TryFrom<ConversationRow> for Conversation {
    type Error = StorageError;
    fn try_from(r: ConversationRow) -> Result<Self, StorageError> {
        r.decode(&Decoded::off())
    }
}

#[derive(Debug, Insertable, AsChangeset)]
#[diesel(table_name = conversations)]
#[diesel(treat_none_as_null = true)]
pub(crate) struct ConversationWrite {
    pub tenant_id: i64,
    pub session_key: String,
    pub status: String,
    pub customer_id: Option<i64>,
    pub visitor_email: Option<String>,
    pub doc: JsonText,
    pub created_at: i64,
    pub updated_at: i64,
    pub version: i64,
}

impl ConversationWrite {
    pub(crate) fn from_domain(c: &Conversation) -> Result<Self, StorageError> {
        Ok(Self {
            tenant_id: c.tenant_id.get(),
            session_key: c.session_key.clone(),
            status: c.status.as_str().to_string(),
            customer_id: c.customer_id.map(CustomerId::get),
            visitor_email: c.visitor.email.as_ref().map(|e| e.to_lowercase()),
            doc: JsonText(serde_json::to_string(c)?),
            created_at: c.created_at.as_millis(),
            updated_at: c.updated_at.as_millis(),
            version: c.version,
        })
    }
}

/// The columns an update of a conversation writes; see [`CustomerChanges`].
#[derive(Debug, AsChangeset)]
#[diesel(table_name = conversations)]
pub(crate) struct ConversationChanges<'a> {
    pub session_key: Option<&'a str>,
    pub status: Option<&'a str>,
    pub customer_id: Option<Option<i64>>,
    pub visitor_email: Option<Option<&'a str>>,
    pub doc: &'a JsonText,
    pub updated_at: i64,
    pub version: i64,
}

impl ConversationWrite {
    /// The update that turns the stored row of `before` into `self`.
    pub(crate) fn changes_from(&self, before: &Conversation) -> ConversationChanges<'_> {
        let before_email = before.visitor.email.as_ref().map(|e| e.to_lowercase());
        let before_customer = before.customer_id.map(CustomerId::get);
        ConversationChanges {
            session_key: (before.session_key != self.session_key)
                .then_some(self.session_key.as_str()),
            status: (before.status.as_str() != self.status).then_some(self.status.as_str()),
            customer_id: (before_customer != self.customer_id).then_some(self.customer_id),
            visitor_email: (before_email != self.visitor_email)
                .then_some(self.visitor_email.as_deref()),
            doc: &self.doc,
            updated_at: self.updated_at,
            version: self.version,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_subscriptions)]
pub(crate) struct SubscriptionRow {
    pub id: i64,
    pub tenant_id: i64,
    pub target_url: String,
    pub event: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    pub state: String,
    pub failing_since: Option<i64>,
    pub created_at: i64,
}

impl TryFrom<SubscriptionRow> for WebhookSubscription {
    type Error = StorageError;
    fn try_from(r: SubscriptionRow) -> Result<Self, StorageError> {
        Ok(Self {
            id: SubscriptionId::new(r.id),
            tenant_id: TenantId::new(r.tenant_id),
            target_url: r.target_url,
            event: r
                .event
                .parse::<EventType>()
                .map_err(StorageError::internal)?,
            secret: r.secret,
            previous_secret: r.previous_secret,
            previous_secret_expires_at: r.previous_secret_expires_at.map(Timestamp::from_millis),
            state: match r.state.as_str() {
                "disabled" => SubscriptionState::Disabled,
                _ => SubscriptionState::Active,
            },
            failing_since: r.failing_since.map(Timestamp::from_millis),
            created_at: Timestamp::from_millis(r.created_at),
        })
    }
}

/// `None` is written as `NULL` (these columns have no other default), not
/// as `DEFAULT`: Diesel never caches a statement that may say `DEFAULT`.
#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = outbox)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct NewOutboxRow {
    pub tenant_id: i64,
    pub event_type: String,
    pub entity_kind: String,
    pub entity_id: i64,
    pub version_before: Option<i64>,
    pub version_after: Option<i64>,
    pub payload: JsonValue,
    pub diff: JsonText,
    pub created_at: i64,
    pub available_at: i64,
}

impl NewOutboxRow {
    /// The row of `e`, taking its payload (a whole entity snapshot) without
    /// a copy; `diff` is `e.diff` as JSON text.
    pub(crate) fn from_event(e: DomainEvent, diff: JsonText) -> Self {
        Self {
            tenant_id: e.tenant_id.get(),
            event_type: e.event_type.as_str().to_string(),
            entity_kind: e.entity_kind.as_str().to_string(),
            entity_id: e.entity_id,
            version_before: e.version_before,
            version_after: e.version_after,
            diff,
            payload: JsonValue(e.payload),
            created_at: e.occurred_at.as_millis(),
            available_at: e.occurred_at.as_millis(),
        }
    }
}

/// An outbox row as read: its id, what was inserted, and how far it got.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub(crate) struct OutboxRow {
    pub id: i64,
    #[diesel(embed)]
    pub new: NewOutboxRow,
    pub claimed_by: Option<String>,
    pub processed_at: Option<i64>,
}

impl TryFrom<OutboxRow> for crate::OutboxEvent {
    type Error = StorageError;
    fn try_from(
        OutboxRow {
            id,
            new: r,
            claimed_by,
            processed_at,
        }: OutboxRow,
    ) -> Result<Self, StorageError> {
        let kind = match r.entity_kind.as_str() {
            "customer" => switchboard_domain::EntityKind::Customer,
            _ => switchboard_domain::EntityKind::Conversation,
        };
        Ok(Self {
            id: switchboard_domain::EventId::new(id),
            available_at: Timestamp::from_millis(r.available_at),
            claimed_by,
            processed_at: processed_at.map(Timestamp::from_millis),
            event: DomainEvent {
                event_type: r
                    .event_type
                    .parse::<EventType>()
                    .map_err(StorageError::internal)?,
                tenant_id: TenantId::new(r.tenant_id),
                entity_kind: kind,
                entity_id: r.entity_id,
                version_before: r.version_before,
                version_after: r.version_after,
                diff: serde_json::from_str(&r.diff.0)?,
                payload: r.payload.0,
                occurred_at: Timestamp::from_millis(r.created_at),
            },
        })
    }
}

/// `None` is written as `NULL`, as for [`NewOutboxRow`].
#[derive(Debug, Insertable, Queryable, Selectable)]
#[diesel(table_name = change_history)]
#[diesel(treat_none_as_default_value = false)]
pub(crate) struct NewHistoryRow {
    pub tenant_id: i64,
    pub entity_kind: String,
    pub entity_id: i64,
    pub actor: JsonValue,
    pub api: String,
    pub diff: JsonText,
    pub version_before: Option<i64>,
    pub version_after: Option<i64>,
    pub created_at: i64,
}

/// A history row as read: its id and what was inserted.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = change_history)]
pub(crate) struct HistoryRow {
    pub id: i64,
    #[diesel(embed)]
    pub new: NewHistoryRow,
}

impl TryFrom<HistoryRow> for crate::HistoryEntry {
    type Error = StorageError;
    fn try_from(HistoryRow { id, new: r }: HistoryRow) -> Result<Self, StorageError> {
        Ok(Self {
            id,
            actor: serde_json::from_value(r.actor.0)?,
            api: r.api,
            diff: serde_json::from_str(&r.diff.0)?,
            version_before: r.version_before,
            version_after: r.version_after,
            at: Timestamp::from_millis(r.created_at),
        })
    }
}

pub(crate) fn json(v: impl serde::Serialize) -> Result<JsonValue, StorageError> {
    Ok(JsonValue(serde_json::to_value(v)?))
}
