//! Webhook subscriptions and the event catalog.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{SubscriptionId, TenantId, Timestamp};

/// The kinds of event Switchboard emits. The wire name is the Zapier event key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// A conversation's visitor email changed (any family). Payload:
    /// `user_session_id`, `receiver_email`, `company_username`, `name`,
    /// `country`, `status: "email_updated"`.
    EmailUpdated,
    /// A customer was created.
    CustomerCreated,
    /// A customer was changed.
    CustomerUpdated,
    /// A customer was deleted.
    CustomerDeleted,
    /// A conversation was created.
    ConversationCreated,
    /// A conversation's status changed.
    ConversationStatusChanged,
    /// A conversation changed (with the list of changed fields).
    ConversationUpdated,
    /// A conversation's custom info changed.
    ConversationCustomInfoUpdated,
    /// A conversation was deleted.
    ConversationDeleted,
}

impl EventType {
    /// Every event type.
    pub const ALL: [Self; 9] = [
        Self::EmailUpdated,
        Self::CustomerCreated,
        Self::CustomerUpdated,
        Self::CustomerDeleted,
        Self::ConversationCreated,
        Self::ConversationStatusChanged,
        Self::ConversationUpdated,
        Self::ConversationCustomInfoUpdated,
        Self::ConversationDeleted,
    ];

    /// The wire name (`email_updated`, `customer_created`, …).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EmailUpdated => "email_updated",
            Self::CustomerCreated => "customer_created",
            Self::CustomerUpdated => "customer_updated",
            Self::CustomerDeleted => "customer_deleted",
            Self::ConversationCreated => "conversation_created",
            Self::ConversationStatusChanged => "conversation_status_changed",
            Self::ConversationUpdated => "conversation_updated",
            Self::ConversationCustomInfoUpdated => "conversation_custom_info_updated",
            Self::ConversationDeleted => "conversation_deleted",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event {0:?}")]
pub struct UnknownEvent(pub String);

impl FromStr for EventType {
    type Err = UnknownEvent;

    /// ```
    /// use switchboard_domain::EventType;
    /// assert_eq!("email_updated".parse::<EventType>().unwrap(), EventType::EmailUpdated);
    /// assert!("email_deleted".parse::<EventType>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| UnknownEvent(s.chars().take(64).collect()))
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether a subscription receives deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionState {
    /// Receiving deliveries.
    Active,
    /// Failed continuously for too long; no deliveries until re-enabled.
    Disabled,
}

impl SubscriptionState {
    /// The lowercase name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }
}

/// A REST-hook subscription: deliver `event` to `target_url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSubscription {
    /// Storage-assigned id.
    pub id: SubscriptionId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Where deliveries are POSTed.
    pub target_url: String,
    /// Which event it receives.
    pub event: EventType,
    /// Signing secret, `whsec_` + base64.
    pub secret: String,
    /// The previous secret, still used for signing until `previous_secret_expires_at`.
    pub previous_secret: Option<String>,
    /// End of the rotation grace period.
    pub previous_secret_expires_at: Option<Timestamp>,
    /// Active or disabled.
    pub state: SubscriptionState,
    /// Start of the current run of failures, if failing.
    pub failing_since: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
}

impl WebhookSubscription {
    /// A new, active subscription of `tenant_id` (before storage assigns its id).
    ///
    /// ```
    /// use switchboard_domain::{EventType, SubscriptionState, TenantId, Timestamp, WebhookSubscription};
    /// let s = WebhookSubscription::new(
    ///     TenantId::new(1), "https://hooks.example.com/x", EventType::EmailUpdated,
    ///     "whsec_c2VjcmV0", Timestamp::from_millis(0),
    /// );
    /// assert_eq!((s.state, s.previous_secret, s.failing_since), (SubscriptionState::Active, None, None));
    /// ```
    #[must_use]
    pub fn new(
        tenant_id: TenantId,
        target_url: impl Into<String>,
        event: EventType,
        secret: impl Into<String>,
        created_at: Timestamp,
    ) -> Self {
        Self {
            id: SubscriptionId::new(0),
            tenant_id,
            target_url: target_url.into(),
            event,
            secret: secret.into(),
            previous_secret: None,
            previous_secret_expires_at: None,
            state: SubscriptionState::Active,
            failing_since: None,
            created_at,
        }
    }
}
