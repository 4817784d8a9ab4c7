//! The fields a query can name, per entity, and the type of each.

use std::fmt;

use crate::{AttributeSet, AttributeType, Conversation, Customer};

use super::QueryError;

/// The type of a field's values. It decides which operators the field
/// accepts and which values are of its type (see [`Condition::new`](super::Condition::new)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A storage-assigned positive id; never null.
    Id,
    /// A link to another row by its positive id; may be null.
    Link,
    /// Text, compared exactly (case-sensitive); may be null.
    Text,
    /// An email address: text compared case-insensitively; may be null.
    Email,
    /// A point in time.
    Time {
        /// Whether the field may be unset.
        nullable: bool,
    },
    /// A conversation status.
    Status,
    /// A customer's set of tag names: `eq` means "has the tag".
    Tags,
    /// A custom attribute of a customer, of the attribute's type; unset is null.
    Attribute(AttributeType),
    /// A custom info value of a conversation (any JSON scalar); unset is null.
    Info,
}

impl FieldType {
    /// Whether the field can be null (unset).
    #[must_use]
    pub const fn is_nullable(self) -> bool {
        match self {
            Self::Id | Self::Status | Self::Tags => false,
            Self::Time { nullable } => nullable,
            Self::Link | Self::Text | Self::Email | Self::Attribute(_) | Self::Info => true,
        }
    }

    /// What a value of this type is, for error messages.
    #[must_use]
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Id | Self::Link => "a positive integer id",
            Self::Text => "a string",
            Self::Email => "an email string",
            Self::Time { .. } => "a point in time",
            Self::Status => "a conversation status",
            Self::Tags => "a tag name",
            Self::Attribute(AttributeType::String) => "a string",
            Self::Attribute(AttributeType::Number) => "a number",
            Self::Attribute(AttributeType::Boolean) => "a boolean",
            Self::Attribute(AttributeType::Date) => "a UNIX timestamp",
            Self::Attribute(AttributeType::Url) => "a URL",
            Self::Info => "a string, number or boolean",
        }
    }
}

/// A field of one entity that a query can filter and sort on.
///
/// Implemented by [`CustomerField`] and [`ConversationField`]. Storage
/// maps each variant to its own SQL; nothing a client sends ever becomes
/// SQL text.
pub trait Field: Clone + fmt::Debug + PartialEq + Send + Sync + 'static {
    /// The entity the field belongs to.
    type Entity;

    /// The entity's id field (the tie-breaker of every sort).
    const ID: Self;

    /// The field's value type.
    fn field_type(&self) -> FieldType;

    /// The canonical (domain) name: `email`, `customData.plan`, `visitor.email`.
    fn name(&self) -> String;

    /// Whether results can be ordered by this field (only indexed fields can).
    fn is_sortable(&self) -> bool;

    /// The sort key of `entity` for this field, as storage orders by it:
    /// the value as an integer (milliseconds for times), with an unset
    /// value as `-1` (before every set value). `None` for a field that is
    /// not sortable.
    fn sort_key(&self, entity: &Self::Entity) -> Option<i64>;

    /// The id of `entity`.
    fn id_of(entity: &Self::Entity) -> i64;
}

/// The key an unset time sorts by: before every valid time (times are
/// never negative in stored entities).
pub const UNSET_KEY: i64 = -1;

fn time_key(t: Option<crate::Timestamp>) -> i64 {
    t.map_or(UNSET_KEY, crate::Timestamp::as_millis)
}

/// A customer field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerField {
    /// `id`.
    Id,
    /// `userId`: the integrator's own id.
    UserId,
    /// `email`, case-insensitive.
    Email,
    /// `name`.
    Name,
    /// `phone`.
    Phone,
    /// `company`.
    Company,
    /// `createdAt`.
    CreatedAt,
    /// `updatedAt`.
    UpdatedAt,
    /// `firstSeen`.
    FirstSeen,
    /// `lastSeen`.
    LastSeen,
    /// `tags`: the customer has a tag of this name.
    Tags,
    /// A custom attribute (`customData.<name>`), of its defined type.
    Attribute {
        /// The attribute's property name.
        name: String,
        /// Its defined type.
        kind: AttributeType,
    },
}

impl CustomerField {
    /// The custom attribute `name` as the tenant defines it.
    ///
    /// ```
    /// use switchboard_domain::query::CustomerField;
    /// use switchboard_domain::AttributeSet;
    /// let err = CustomerField::attribute("plan", &AttributeSet::new()).unwrap_err();
    /// assert_eq!(err.to_string(), "customData.plan: no custom attribute of this name is defined");
    /// ```
    pub fn attribute(name: &str, attributes: &AttributeSet) -> Result<Self, QueryError> {
        attributes
            .get(name)
            .map(|a| Self::Attribute {
                name: a.name.clone(),
                kind: a.kind,
            })
            .ok_or_else(|| QueryError::UnknownField {
                field: format!("customData.{}", truncate(name)),
                message: "no custom attribute of this name is defined".into(),
            })
    }

    /// The field of a canonical name (`email`, `createdAt`, `customData.plan`…);
    /// a custom attribute must be one of `attributes`.
    pub fn parse(name: &str, attributes: &AttributeSet) -> Result<Self, QueryError> {
        Ok(match name {
            "id" => Self::Id,
            "userId" => Self::UserId,
            "email" => Self::Email,
            "name" => Self::Name,
            "phone" => Self::Phone,
            "company" => Self::Company,
            "createdAt" => Self::CreatedAt,
            "updatedAt" => Self::UpdatedAt,
            "firstSeen" => Self::FirstSeen,
            "lastSeen" => Self::LastSeen,
            "tags" => Self::Tags,
            other => match other.strip_prefix("customData.") {
                Some(attr) => Self::attribute(attr, attributes)?,
                None => {
                    return Err(QueryError::UnknownField {
                        field: truncate(other),
                        message: "not a customer field".into(),
                    });
                }
            },
        })
    }
}

impl Field for CustomerField {
    type Entity = Customer;
    const ID: Self = Self::Id;

    fn field_type(&self) -> FieldType {
        match self {
            Self::Id => FieldType::Id,
            Self::UserId | Self::Name | Self::Phone | Self::Company => FieldType::Text,
            Self::Email => FieldType::Email,
            Self::CreatedAt | Self::UpdatedAt => FieldType::Time { nullable: false },
            Self::FirstSeen | Self::LastSeen => FieldType::Time { nullable: true },
            Self::Tags => FieldType::Tags,
            Self::Attribute { kind, .. } => FieldType::Attribute(*kind),
        }
    }

    fn name(&self) -> String {
        match self {
            Self::Id => "id".into(),
            Self::UserId => "userId".into(),
            Self::Email => "email".into(),
            Self::Name => "name".into(),
            Self::Phone => "phone".into(),
            Self::Company => "company".into(),
            Self::CreatedAt => "createdAt".into(),
            Self::UpdatedAt => "updatedAt".into(),
            Self::FirstSeen => "firstSeen".into(),
            Self::LastSeen => "lastSeen".into(),
            Self::Tags => "tags".into(),
            Self::Attribute { name, .. } => format!("customData.{name}"),
        }
    }

    fn is_sortable(&self) -> bool {
        matches!(
            self,
            Self::Id | Self::CreatedAt | Self::UpdatedAt | Self::FirstSeen | Self::LastSeen
        )
    }

    fn sort_key(&self, c: &Customer) -> Option<i64> {
        Some(match self {
            Self::Id => c.id.get(),
            Self::CreatedAt => c.created_at.as_millis(),
            Self::UpdatedAt => c.updated_at.as_millis(),
            Self::FirstSeen => time_key(c.first_seen),
            Self::LastSeen => time_key(c.last_seen),
            _ => return None,
        })
    }

    fn id_of(c: &Customer) -> i64 {
        c.id.get()
    }
}

/// A conversation field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversationField {
    /// `id`.
    Id,
    /// `status`.
    Status,
    /// `assigneeId`: the assigned agent.
    Assignee,
    /// `departmentId`.
    Department,
    /// `customerId`: the linked customer.
    Customer,
    /// `visitor.name`.
    VisitorName,
    /// `visitor.email`, case-insensitive.
    VisitorEmail,
    /// `contact.email`: an email of the person the conversation is with,
    /// case-insensitive. A conversation matches when the visitor's own
    /// email or its linked customer's email does (what a vendor client
    /// means by "the chat's customer's email"; see
    /// [`Conversation::contact`]). Unset (`is null`) when neither is set.
    ContactEmail,
    /// `createdAt`.
    CreatedAt,
    /// `updatedAt`.
    UpdatedAt,
    /// `closedAt`.
    ClosedAt,
    /// A custom info key (`customInfo.<key>`).
    Info(String),
}

impl ConversationField {
    /// The custom info key `key` (any non-empty key of at most
    /// [`MAX_CUSTOM_INFO_KEY_CHARS`](crate::MAX_CUSTOM_INFO_KEY_CHARS) characters).
    pub fn info(key: &str) -> Result<Self, QueryError> {
        if key.is_empty() || key.chars().count() > crate::MAX_CUSTOM_INFO_KEY_CHARS {
            return Err(QueryError::UnknownField {
                field: format!("customInfo.{}", truncate(key)),
                message: format!(
                    "custom info keys are 1-{} characters",
                    crate::MAX_CUSTOM_INFO_KEY_CHARS
                ),
            });
        }
        Ok(Self::Info(key.to_string()))
    }

    /// The field of a canonical name (`status`, `assigneeId`, `customInfo.Model`…).
    pub fn parse(name: &str) -> Result<Self, QueryError> {
        Ok(match name {
            "id" => Self::Id,
            "status" => Self::Status,
            "assigneeId" => Self::Assignee,
            "departmentId" => Self::Department,
            "customerId" => Self::Customer,
            "visitor.name" => Self::VisitorName,
            "visitor.email" => Self::VisitorEmail,
            "contact.email" => Self::ContactEmail,
            "createdAt" => Self::CreatedAt,
            "updatedAt" => Self::UpdatedAt,
            "closedAt" => Self::ClosedAt,
            other => match other.strip_prefix("customInfo.") {
                Some(key) => Self::info(key)?,
                None => {
                    return Err(QueryError::UnknownField {
                        field: truncate(other),
                        message: "not a conversation field".into(),
                    });
                }
            },
        })
    }
}

impl Field for ConversationField {
    type Entity = Conversation;
    const ID: Self = Self::Id;

    fn field_type(&self) -> FieldType {
        match self {
            Self::Id => FieldType::Id,
            Self::Status => FieldType::Status,
            Self::Assignee | Self::Department | Self::Customer => FieldType::Link,
            Self::VisitorName => FieldType::Text,
            Self::VisitorEmail | Self::ContactEmail => FieldType::Email,
            Self::CreatedAt | Self::UpdatedAt => FieldType::Time { nullable: false },
            Self::ClosedAt => FieldType::Time { nullable: true },
            Self::Info(_) => FieldType::Info,
        }
    }

    fn name(&self) -> String {
        match self {
            Self::Id => "id".into(),
            Self::Status => "status".into(),
            Self::Assignee => "assigneeId".into(),
            Self::Department => "departmentId".into(),
            Self::Customer => "customerId".into(),
            Self::VisitorName => "visitor.name".into(),
            Self::VisitorEmail => "visitor.email".into(),
            Self::ContactEmail => "contact.email".into(),
            Self::CreatedAt => "createdAt".into(),
            Self::UpdatedAt => "updatedAt".into(),
            Self::ClosedAt => "closedAt".into(),
            Self::Info(key) => format!("customInfo.{key}"),
        }
    }

    fn is_sortable(&self) -> bool {
        matches!(
            self,
            Self::Id | Self::CreatedAt | Self::UpdatedAt | Self::ClosedAt
        )
    }

    fn sort_key(&self, c: &Conversation) -> Option<i64> {
        Some(match self {
            Self::Id => c.id.get(),
            Self::CreatedAt => c.created_at.as_millis(),
            Self::UpdatedAt => c.updated_at.as_millis(),
            Self::ClosedAt => time_key(c.closed_at),
            _ => return None,
        })
    }

    fn id_of(c: &Conversation) -> i64 {
        c.id.get()
    }
}

/// At most 100 characters of `s`, for error messages.
pub(crate) fn truncate(s: &str) -> String {
    s.chars().take(100).collect()
}
