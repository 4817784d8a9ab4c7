//! Domain events: what changed, as data.
//!
//! Storage derives events from the before and after state of a write with
//! [`customer_events`] and [`conversation_events`] and commits them to the
//! outbox in the same transaction. Because the rules live here, every API
//! family produces the same events for the same change.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::entity::Entity;
use crate::json::{Operation, diff};
use crate::{Conversation, Customer, CustomerId, EventType, TenantId, Timestamp};

/// The kind of entity an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    /// A [`Customer`].
    Customer,
    /// A [`Conversation`].
    Conversation,
}

impl EntityKind {
    /// The lowercase name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Conversation => "conversation",
        }
    }
}

/// One change to one entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainEvent {
    /// What happened.
    pub event_type: EventType,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Kind of entity.
    pub entity_kind: EntityKind,
    /// The entity's id.
    pub entity_id: i64,
    /// Version before the change (`None` on create).
    pub version_before: Option<i64>,
    /// Version after the change (`None` on delete).
    pub version_after: Option<i64>,
    /// RFC 6902 diff from the before to the after canonical JSON.
    pub diff: Vec<Operation>,
    /// The payload delivered to webhook subscribers.
    pub payload: Value,
    /// When the change was committed.
    pub occurred_at: Timestamp,
}

/// Canonical member names that never count as a "changed field".
const BOOKKEEPING: [&str; 2] = ["updatedAt", "version"];

/// The changed top-level fields of a diff (`visitor/...` keeps its second
/// level: `visitor/email`), in order, without duplicates.
#[must_use]
pub fn changed_fields(ops: &[Operation]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for op in ops {
        let path = op_path(op);
        let mut tokens = path.split('/').skip(1);
        let Some(first) = tokens.next() else { continue };
        if BOOKKEEPING.contains(&first) {
            continue;
        }
        let field = match (first, tokens.next()) {
            ("visitor", Some(second)) => format!("visitor/{second}"),
            _ => first.to_string(),
        };
        if !out.contains(&field) {
            out.push(field);
        }
    }
    out
}

fn op_path(op: &Operation) -> &str {
    match op {
        Operation::Add { path, .. }
        | Operation::Remove { path }
        | Operation::Replace { path, .. }
        | Operation::Move { path, .. }
        | Operation::Copy { path, .. }
        | Operation::Test { path, .. } => path,
    }
}

/// The diff of two versions of a conversation, as its update's events
/// carry it: [`json::diff`](crate::json::diff()) of their canonical JSON,
/// computed member by member ([`Entity::diff`]).
pub use crate::member_diff::conversation as conversation_diff;

fn to_json<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// One write of an entity, as its events see it: the entity's JSON before
/// and after, their diff and the fields it changed.
struct Write {
    kind: EntityKind,
    tenant_id: TenantId,
    entity_id: i64,
    versions: (Option<i64>, Option<i64>),
    before: Option<Value>,
    after: Option<Value>,
    ops: Vec<Operation>,
    fields: Vec<String>,
    at: Timestamp,
}

impl Write {
    /// The write from `before` to `after` (`None`: created, or deleted)
    /// at `at`; `None` when there is neither.
    fn of<E: Entity>(before: Option<&E>, after: Option<&E>, at: Timestamp) -> Option<Self> {
        let entity = after.or(before)?;
        let (b, a, ops) = match (before, after) {
            // An update: the entity's own diff ([`Entity::diff`]), and only
            // the new version's JSON, for the payloads.
            (Some(b), Some(a)) => {
                let after = to_json(a);
                let ops = E::diff(b, a, &after);
                (None, Some(after), ops)
            }
            _ => {
                let (b, a) = (before.map(to_json), after.map(to_json));
                let ops = diff(
                    b.as_ref().unwrap_or(&Value::Null),
                    a.as_ref().unwrap_or(&Value::Null),
                );
                (b, a, ops)
            }
        };
        Some(Self {
            kind: E::KIND,
            tenant_id: entity.tenant_id(),
            entity_id: entity.id(),
            versions: (before.map(E::version), after.map(E::version)),
            fields: changed_fields(&ops),
            before: b,
            after: a,
            ops,
            at,
        })
    }

    /// Puts the entity as written (as it was, for a delete) into the
    /// `entity` member of every payload that has one ([`base_payload`]'s):
    /// a copy for each but the last, which takes it from the write.
    fn fill_snapshots(&mut self, events: &mut [DomainEvent], entity: &str) {
        let mut slots: Vec<&mut Value> = events
            .iter_mut()
            .filter_map(|e| e.payload.get_mut(entity))
            .collect();
        let Some(last) = slots.pop() else { return };
        let snapshot = self
            .after
            .take()
            .or_else(|| self.before.take())
            .unwrap_or(Value::Null);
        for slot in slots {
            slot.clone_from(&snapshot);
        }
        *last = snapshot;
    }

    /// An event of this write, with its diff.
    fn event(&self, event_type: EventType, payload: Value) -> DomainEvent {
        DomainEvent {
            event_type,
            tenant_id: self.tenant_id,
            entity_kind: self.kind,
            entity_id: self.entity_id,
            version_before: self.versions.0,
            version_after: self.versions.1,
            diff: self.ops.clone(),
            payload,
            occurred_at: self.at,
        }
    }
}

/// `{"event", "company_username", <entity>}`, the members every payload
/// starts with; the entity's snapshot is put in by [`Write::fill_snapshots`]
/// once a write's payloads are all made, so that only the copies the
/// payloads need are made.
fn base_payload(event_type: EventType, tenant_name: &str, entity: &str) -> Value {
    let mut payload = serde_json::Map::new();
    payload.insert("event".into(), Value::from(event_type.as_str()));
    payload.insert("company_username".into(), Value::from(tenant_name));
    payload.insert(entity.into(), Value::Null);
    Value::Object(payload)
}

/// The events of a customer write. `before` is `None` on create, `after`
/// is `None` on delete; an update that changes nothing yields no event.
#[must_use]
pub fn customer_events(
    tenant_name: &str,
    before: Option<&Customer>,
    after: Option<&Customer>,
    now: Timestamp,
) -> Vec<DomainEvent> {
    let Some(mut w) = Write::of(before, after, now) else {
        return Vec::new();
    };
    let event_type = match (before, after) {
        (None, Some(_)) => EventType::CustomerCreated,
        (Some(_), None) => EventType::CustomerDeleted,
        (Some(_), Some(_)) if !w.fields.is_empty() => EventType::CustomerUpdated,
        _ => return Vec::new(),
    };
    let mut payload = base_payload(event_type, tenant_name, "customer");
    payload["changed_fields"] = if event_type == EventType::CustomerUpdated {
        json!(w.fields)
    } else {
        json!([])
    };
    let mut out = vec![w.event(event_type, payload)];
    w.fill_snapshots(&mut out, "customer");
    out
}

/// The `email_updated` payload, exactly as Zapier subscribers receive it.
/// `name` and `country` are who the conversation is with
/// ([`Conversation::contact`]): the visitor's own, else those of
/// `customer`, the linked customer (`None` when it has none, or when the
/// visitor's details need no fallback: [`customer_needed`]).
///
/// ```
/// use switchboard_domain::{Conversation, Customer, CustomerId, TenantId, Timestamp, event::email_updated_payload};
/// let now = Timestamp::from_millis(0);
/// let mut c = Conversation::new(TenantId::new(1), "abc123", now);
/// c.visitor.email = Some("ada@example.com".into());
/// let p = email_updated_payload("acme", &c, None);
/// assert_eq!(p["user_session_id"], "abc123");
/// assert_eq!(p["receiver_email"], "ada@example.com");
/// assert_eq!(p["company_username"], "acme");
/// assert_eq!(p["status"], "email_updated");
/// assert_eq!(p["name"], serde_json::Value::Null);
/// assert_eq!(p.as_object().unwrap().len(), 6);
///
/// let mut ada = Customer::new(TenantId::new(1), now);
/// ada.id = CustomerId::new(7);
/// ada.name = Some("Ada".into());
/// c.customer_id = Some(ada.id);
/// assert_eq!(email_updated_payload("acme", &c, Some(&ada))["name"], "Ada");
/// ```
#[must_use]
pub fn email_updated_payload(
    tenant_name: &str,
    c: &Conversation,
    customer: Option<&Customer>,
) -> Value {
    let who = c.contact(customer);
    json!({
        "user_session_id": c.session_key,
        "receiver_email": c.visitor.email,
        "company_username": tenant_name,
        "name": who.name,
        "country": who.country,
        "status": "email_updated",
    })
}

/// Whether writing `after` over `before` (`None`: a new conversation, or
/// an email announced as it is, [`email_confirmed`]) announces the
/// visitor's email (`email_updated`): it is set, and new.
fn announces_email(before: Option<&Conversation>, after: &Conversation) -> bool {
    after.visitor.email.is_some() && before.is_none_or(|b| b.visitor.email != after.visitor.email)
}

/// The linked customer that the events of writing `after` over `before`
/// need ([`conversation_events`], [`email_confirmed`]): an `email_updated`
/// payload names who the conversation is with, and the customer fills the
/// name or country the visitor did not give ([`Conversation::contact`]).
/// `None` when no such event is due, the conversation links no customer,
/// or the visitor gave both, so most writes read nothing more.
#[must_use]
pub fn customer_needed(before: Option<&Conversation>, after: &Conversation) -> Option<CustomerId> {
    let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
    let v = &after.visitor;
    after
        .customer_id
        .filter(|_| announces_email(before, after) && !(given(&v.name) && given(&v.country)))
}

/// The payload as delivered and as listed for Zapier's `performList`: the
/// event's payload with `id`, the event's id (the same in every delivery
/// and retry of the event, and in the samples), so that a Zapier
/// `perform` and `performList` give each item the id Zapier deduplicates
/// by. A payload's own `id` member, if it had one, is replaced.
///
/// ```
/// use serde_json::json;
/// use switchboard_domain::event::with_event_id;
/// assert_eq!(with_event_id(json!({"status": "email_updated"}), 7), json!({"id": 7, "status": "email_updated"}));
/// ```
#[must_use]
pub fn with_event_id(payload: Value, id: i64) -> Value {
    match payload {
        Value::Object(members) => {
            let mut out = serde_json::Map::with_capacity(members.len() + 1);
            out.insert("id".into(), Value::from(id));
            out.extend(members.into_iter().filter(|(k, _)| k != "id"));
            Value::Object(out)
        }
        other => other,
    }
}

/// The `email_updated` event of an email update that left the email as it
/// was. The chatbot back end's rule (vendor document 000: fetch the chat
/// log, update its email, then trigger the webhook) announces the email on
/// every successful update, changed or not; a change to the email made
/// any other way announces it only when it changes
/// ([`conversation_events`]). No new version is written: the event's
/// versions before and after are the conversation's current one, and its
/// diff is empty.
/// `customer` is the linked customer when [`customer_needed`] asks for it
/// (with `None` for `before`).
#[must_use]
pub fn email_confirmed(
    tenant_name: &str,
    c: &Conversation,
    customer: Option<&Customer>,
    now: Timestamp,
) -> DomainEvent {
    DomainEvent {
        event_type: EventType::EmailUpdated,
        tenant_id: c.tenant_id,
        entity_kind: EntityKind::Conversation,
        entity_id: c.id.get(),
        version_before: Some(c.version),
        version_after: Some(c.version),
        diff: Vec::new(),
        payload: email_updated_payload(tenant_name, c, customer),
        occurred_at: now,
    }
}

/// The events of a conversation write: `conversation_created`/`_deleted`, or
/// for an update `conversation_updated` (with the changed fields) plus, as they
/// apply, `conversation_status_changed`, `conversation_custom_info_updated`
/// and `email_updated` (when the visitor email changed to a new value, or on
/// create with an email). `customer` is the linked customer when
/// [`customer_needed`] asks for it, for the `email_updated` payload.
#[must_use]
pub fn conversation_events(
    tenant_name: &str,
    before: Option<&Conversation>,
    after: Option<&Conversation>,
    customer: Option<&Customer>,
    now: Timestamp,
) -> Vec<DomainEvent> {
    let Some(mut w) = Write::of(before, after, now) else {
        return Vec::new();
    };
    let (fields, event) = (&w.fields, |t, payload| w.event(t, payload));
    let base = |t: EventType| base_payload(t, tenant_name, "conversation");
    let mut out = Vec::new();
    match (before, after) {
        (None, Some(c)) => {
            out.push(event(
                EventType::ConversationCreated,
                base(EventType::ConversationCreated),
            ));
            if announces_email(None, c) {
                out.push(event(
                    EventType::EmailUpdated,
                    email_updated_payload(tenant_name, c, customer),
                ));
            }
        }
        (Some(_), None) => {
            out.push(event(
                EventType::ConversationDeleted,
                base(EventType::ConversationDeleted),
            ));
        }
        (Some(old), Some(new)) => {
            if fields.is_empty() {
                return out;
            }
            let mut p = base(EventType::ConversationUpdated);
            p["changed_fields"] = json!(fields);
            out.push(event(EventType::ConversationUpdated, p));
            if old.status != new.status {
                let mut p = base(EventType::ConversationStatusChanged);
                p["previous_status"] = json!(old.status);
                p["status"] = json!(new.status);
                out.push(event(EventType::ConversationStatusChanged, p));
            }
            if old.custom_info != new.custom_info {
                let mut p = base(EventType::ConversationCustomInfoUpdated);
                p["previous_custom_info"] = json!(old.custom_info);
                p["custom_info"] = json!(new.custom_info);
                out.push(event(EventType::ConversationCustomInfoUpdated, p));
            }
            if announces_email(Some(old), new) {
                out.push(event(
                    EventType::EmailUpdated,
                    email_updated_payload(tenant_name, new, customer),
                ));
            }
        }
        (None, None) => {}
    }
    w.fill_snapshots(&mut out, "conversation");
    out
}
