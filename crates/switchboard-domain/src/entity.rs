//! Versioned entities and the pure rule that turns one version into the next.
//!
//! [`Customer`] and [`Conversation`] are stored as versioned documents. Every
//! write, whichever API it comes through, is the same three steps: apply the
//! caller's change to a copy, bring derived fields in line and check every
//! rule, then derive the new version and its events. [`revise`] is those
//! steps, with no I/O; storage runs it against the row it read and writes
//! the result only if the row is still at the version it read.
//!
//! ```
//! use switchboard_domain::entity::{Revision, revise};
//! use switchboard_domain::{Actor, Conversation, ConversationRules, TenantId, Timestamp};
//!
//! let mut c = Conversation::new(TenantId::new(1), "s-1", Timestamp::from_millis(0));
//! c.version = 1;
//! let now = Timestamp::from_millis(10);
//! let rules = ConversationRules::default();
//! let revision = revise(c.clone(), &rules, Actor::System, "acme", now, |c: &mut Conversation| {
//!     c.visitor.email = Some("ada@example.com".into());
//!     Ok::<(), std::convert::Infallible>(())
//! })
//! .unwrap();
//! let Revision::Changed(change) = revision else { panic!("the email changed") };
//! assert_eq!(change.after.version, 2);
//! assert_eq!(change.after.updated_at, now);
//! assert_eq!(change.events.len(), 2); // conversation_updated and email_updated
//!
//! // A change that changes nothing is no revision at all.
//! let same = revise(c, &rules, Actor::System, "acme", now, |_: &mut Conversation| Ok::<(), ()>(()));
//! assert!(matches!(same, Ok(Revision::Unchanged(_))));
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::event::{conversation_events, customer_events};
use crate::json::{self, Operation};
use crate::resource::Resource;
use crate::validate::ValidationErrors;
use crate::{
    Actor, Conversation, ConversationRules, Customer, CustomerRules, DomainError, DomainEvent,
    EntityKind, TenantId, Timestamp,
};

/// An entity stored as a versioned document.
pub trait Entity: Resource + Clone + PartialEq + fmt::Debug + Send + Sync + 'static {
    /// Which kind of entity, for events and the change history.
    const KIND: EntityKind;

    /// What the rules and the events need besides the entity: the
    /// tenant's custom attribute definitions and tag catalogue for a
    /// customer; for a conversation, the linked customer when its events
    /// show who the conversation is with ([`ConversationRules`]). The
    /// default needs nothing read.
    type Rules: Default + Send + Sync + 'static;

    /// The free-form JSON members clients write (a conversation's custom
    /// info, a customer's custom data), for estimates of the memory an
    /// entity holds ([`crate::json::container_bytes`]).
    fn free_form(&self) -> &BTreeMap<String, Value>;

    /// The storage-assigned id (0 before the entity is stored).
    fn id(&self) -> i64;
    /// Sets the storage-assigned id.
    fn set_id(&mut self, id: i64);
    /// The owning tenant.
    fn tenant_id(&self) -> TenantId;
    /// The version, incremented on every write (1 once created).
    fn version(&self) -> i64;
    /// When it was last written.
    fn updated_at(&self) -> Timestamp;

    /// Copies the members only storage assigns (id, tenant, creation time,
    /// last write, version) from `from`, whatever a change did to them.
    fn keep_identity(&mut self, from: &Self);

    /// Sets the bookkeeping of a write: the new version and when.
    fn stamp(&mut self, version: i64, at: Timestamp);

    /// Makes a new entity of `tenant` at version 1, created now.
    fn stamp_new(&mut self, tenant: TenantId, now: Timestamp);

    /// Brings derived members in line after a change, with the rules at
    /// hand (a conversation's closure members follow its status; a
    /// customer's date-typed custom data becomes UNIX-second numbers).
    /// Nothing by default.
    fn settle(&mut self, _rules: &Self::Rules, _actor: Actor, _now: Timestamp) {}

    /// Checks every rule and reports all violations at once.
    fn check(&self, rules: &Self::Rules) -> Result<(), ValidationErrors>;

    /// The RFC 6902 diff from `before`'s canonical JSON to `after`'s, as
    /// an update's events carry it; `after_json` is `after`'s, already
    /// made for the events' payloads. By default [`json::diff()`] of
    /// `before`'s `serde_json::to_value` and `after_json`. An entity may
    /// compute it member by member, with exactly that result
    /// ([`Conversation`]'s does).
    fn diff(before: &Self, _after: &Self, after_json: &Value) -> Vec<Operation> {
        json::diff(
            &serde_json::to_value(before).unwrap_or(Value::Null),
            after_json,
        )
    }

    /// The events of a write: `before` is `None` on create, `after` is
    /// `None` on delete; `rules` as the write's rules were read.
    fn events(
        tenant_name: &str,
        rules: &Self::Rules,
        before: Option<&Self>,
        after: Option<&Self>,
        at: Timestamp,
    ) -> Vec<DomainEvent>;
}

/// The members only storage assigns, the same on every entity: `id`,
/// `tenant_id`, `created_at`, `updated_at` and `version`.
macro_rules! bookkeeping {
    ($id:ident) => {
        fn id(&self) -> i64 {
            self.id.get()
        }
        fn set_id(&mut self, id: i64) {
            self.id = crate::$id::new(id);
        }
        fn tenant_id(&self) -> TenantId {
            self.tenant_id
        }
        fn version(&self) -> i64 {
            self.version
        }
        fn updated_at(&self) -> Timestamp {
            self.updated_at
        }
        fn keep_identity(&mut self, from: &Self) {
            self.id = from.id;
            self.tenant_id = from.tenant_id;
            self.created_at = from.created_at;
            self.updated_at = from.updated_at;
            self.version = from.version;
        }
        fn stamp(&mut self, version: i64, at: Timestamp) {
            self.version = version;
            self.updated_at = at;
        }
        fn stamp_new(&mut self, tenant: TenantId, now: Timestamp) {
            self.tenant_id = tenant;
            self.version = 1;
            self.created_at = now;
            self.updated_at = now;
        }
    };
}

impl Entity for Customer {
    const KIND: EntityKind = EntityKind::Customer;
    type Rules = CustomerRules;

    bookkeeping!(CustomerId);
    fn free_form(&self) -> &BTreeMap<String, Value> {
        &self.custom_data
    }
    fn events(
        tenant_name: &str,
        _: &CustomerRules,
        before: Option<&Self>,
        after: Option<&Self>,
        at: Timestamp,
    ) -> Vec<DomainEvent> {
        customer_events(tenant_name, before, after, at)
    }
    /// Date-typed custom data becomes UNIX-second numbers; each tag named
    /// without a color takes the tenant's color for it (or the default).
    fn settle(&mut self, rules: &CustomerRules, _actor: Actor, _now: Timestamp) {
        self.normalize_custom_data(&rules.attributes);
        self.color_tags(&rules.tags);
    }
    fn check(&self, rules: &CustomerRules) -> Result<(), ValidationErrors> {
        self.validate(&rules.attributes)
    }
}

impl Entity for Conversation {
    const KIND: EntityKind = EntityKind::Conversation;
    type Rules = ConversationRules;

    bookkeeping!(ConversationId);
    fn free_form(&self) -> &BTreeMap<String, Value> {
        &self.custom_info
    }
    fn events(
        tenant_name: &str,
        rules: &ConversationRules,
        before: Option<&Self>,
        after: Option<&Self>,
        at: Timestamp,
    ) -> Vec<DomainEvent> {
        conversation_events(tenant_name, before, after, rules.customer.as_ref(), at)
    }
    fn diff(before: &Self, after: &Self, _: &Value) -> Vec<Operation> {
        crate::member_diff::conversation(before, after)
    }
    fn settle(&mut self, _: &ConversationRules, actor: Actor, now: Timestamp) {
        self.normalize_closure(actor, now);
    }
    fn check(&self, _: &ConversationRules) -> Result<(), ValidationErrors> {
        self.validate()
    }
}

/// What a change did to an entity.
#[derive(Debug, Clone, PartialEq)]
pub enum Revision<E> {
    /// The change left the entity equal: there is nothing to write.
    Unchanged(E),
    /// The entity changed; write `after` if the row is still at `before`.
    Changed(Box<Changed<E>>),
}

/// A change that produced a new version.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed<E> {
    /// The version the change was applied to.
    pub before: E,
    /// The new version: `before.version + 1`, written at `at`.
    pub after: E,
    /// The events the change causes, for the outbox.
    pub events: Vec<DomainEvent>,
    /// When the change happens (never before `before.updated_at`).
    pub at: Timestamp,
}

/// Why [`revise`] refused a change.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal<X> {
    /// The caller's change refused itself with its own error.
    Rejected(X),
    /// The result breaks the domain's rules.
    Invalid(DomainError),
}

/// Applies `change` to a copy of `before` and derives the new version.
///
/// The members only storage assigns are kept whatever `change` did to
/// them; derived members are settled; every rule is checked against
/// `rules`. A result equal to `before` is [`Revision::Unchanged`] (no new
/// version, no events). Otherwise the new version is `before.version + 1`,
/// written at `now` (or at `before.updated_at` if the clock is behind it,
/// so time never runs backwards on one entity), with its events.
pub fn revise<E: Entity, X>(
    before: E,
    rules: &E::Rules,
    actor: Actor,
    tenant_name: &str,
    now: Timestamp,
    change: impl FnOnce(&mut E) -> Result<(), X>,
) -> Result<Revision<E>, Refusal<X>> {
    let mut after = before.clone();
    change(&mut after).map_err(Refusal::Rejected)?;
    revise_changed(before, after, rules, actor, tenant_name, now).map_err(Refusal::Invalid)
}

/// [`revise`] of a change already made: `after` is a copy of `before` as
/// the change left it (a caller that had to make the change before it
/// could complete `rules` saves a second copy).
///
/// # Errors
///
/// When the result breaks the domain's rules.
pub fn revise_changed<E: Entity>(
    before: E,
    mut after: E,
    rules: &E::Rules,
    actor: Actor,
    tenant_name: &str,
    now: Timestamp,
) -> Result<Revision<E>, DomainError> {
    after.keep_identity(&before);
    let at = now.max(before.updated_at());
    after.settle(rules, actor, at);
    after.check(rules).map_err(DomainError::Validation)?;
    if after == before && same_text(&after, &before) {
        return Ok(Revision::Unchanged(before));
    }
    after.stamp(before.version() + 1, at);
    let events = E::events(tenant_name, rules, Some(&before), Some(&after), at);
    Ok(Revision::Changed(Box::new(Changed {
        before,
        after,
        events,
        at,
    })))
}

/// Whether two entities that compare equal also serialize identically:
/// `==` on JSON numbers is IEEE equality, which calls `-0.0` and `0.0`
/// equal, yet a client that sent `-0.0` must read `-0.0` back. Only runs
/// on the rare path where `==` holds.
fn same_text<E: Entity>(a: &E, b: &E) -> bool {
    match (serde_json::to_vec(a), serde_json::to_vec(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Prepares a new entity of `tenant` from a draft: version 1, created now,
/// derived members settled and every rule checked. Its id (and so its
/// events) come once storage has assigned one.
pub fn prepare_new<E: Entity>(
    mut draft: E,
    rules: &E::Rules,
    tenant: TenantId,
    actor: Actor,
    now: Timestamp,
) -> Result<E, DomainError> {
    draft.stamp_new(tenant, now);
    draft.settle(rules, actor, now);
    draft.check(rules).map_err(DomainError::Validation)?;
    Ok(draft)
}
