//! # switchboard-domain
//!
//! The domain model of [Switchboard](https://example.invalid/switchboard): a
//! self-hosted store of chat sessions (conversations) and contacts
//! (customers) that speaks several vendors' update APIs over one model.
//!
//! This crate is pure: no I/O, no database, no HTTP. Other Rust services can
//! depend on it directly to share the exact semantics Switchboard applies:
//!
//! - **Entities**: [`Tenant`], [`ApiKey`], [`Customer`], [`Tag`],
//!   [`CustomAttribute`], [`Conversation`], [`Agent`], [`Department`],
//!   [`WebhookSubscription`], and [`DomainEvent`].
//! - **Typed updates** with the three-state [`Patch<T>`]: PUT replaces
//!   ([`UpdateMode::Replace`]), PATCH merges ([`UpdateMode::Merge`]).
//! - **Document patches** on canonical JSON ([`json`]): RFC 6902 JSON Patch
//!   with strict or lenient (case-insensitive) paths, RFC 7396 Merge Patch and
//!   its conversion to operations, diffs, and `$select`-style projection.
//! - **Validation** ([`validate`]) that reports every violation at once.
//! - **Events** ([`event`]) derived from the before and after state of a write.
//! - **Queries** ([`query`]): typed filters, sorting and keyset or offset
//!   paging of customers and conversations, with hard bounds.
//! - **Revisions** ([`entity`]): the one pure rule that turns a stored
//!   version into the next, shared by every write.
//!
//! ```
//! use serde_json::json;
//! use switchboard_domain::json::{self, ApplyOptions, PathMode};
//!
//! let mut doc = json!({"Status": "new", "CustomerEmail": null});
//! let ops = json::parse_patch(
//!     &json!([{"op": "replace", "path": "customeremail", "value": "ada@example.com"}]),
//!     &Default::default(),
//! ).unwrap();
//! let opts = ApplyOptions { mode: PathMode::Lenient, ..Default::default() };
//! json::apply(&mut doc, &ops, &opts).unwrap();
//! assert_eq!(doc, json!({"Status": "new", "CustomerEmail": "ada@example.com"}));
//! ```

mod actor;
mod agent;
mod attribute;
mod conversation;
mod conversation_update;
mod customer;
pub mod entity;
mod error;
pub mod event;
mod field;
mod id;
pub mod json;
mod links;
mod member_diff;
pub mod query;
pub mod resource;
mod status;
mod tag;
mod tenant;
mod time;
pub mod validate;
mod webhook;

pub use actor::Actor;
pub use agent::{Agent, AgentRole, Department};
pub use attribute::{AttributeSet, AttributeType, CustomAttribute, UnknownAttributeType};
pub use conversation::{
    Contact, Conversation, ConversationRules, MAX_CUSTOM_INFO_KEY_CHARS, MAX_CUSTOM_INFO_KEYS,
    MAX_CUSTOM_INFO_VALUE_BYTES, Visitor, validate_custom_info,
};
pub use conversation_update::{ConversationUpdate, VisitorUpdate};
pub use customer::{
    Customer, CustomerRules, CustomerUpdate, Device, Location, LocationMembers, MAX_TAG_NAME_CHARS,
    ReadOnlyEcho,
};
pub use entity::Entity;
pub use error::DomainError;
pub use event::{DomainEvent, EntityKind};
pub use field::{Patch, UpdateMode};
pub use id::{
    AgentId, ApiKeyId, ConversationId, CustomerId, DeliveryId, DepartmentId, EventId, ParseIdError,
    SubscriptionId, TenantId,
};
pub use links::ConversationLinks;
pub use status::{ConversationStatus, UnknownStatus};
pub use tag::{DEFAULT_TAG_COLOR, Tag, TagCatalogue};
pub use tenant::{ApiKey, Scope, Tenant, UnknownScope};
pub use time::{InvalidTimestamp, MAX_MILLIS, Timestamp};
pub use webhook::{EventType, SubscriptionState, UnknownEvent, WebhookSubscription};
