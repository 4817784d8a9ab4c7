//! Conversation statuses and the aliases clients send.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The shared status of a conversation.
///
/// The canonical spelling is HelpCrunch's (`"on hold"`, `"no communication"`).
/// [`FromStr`] also accepts the aliases clients send: `open` for `opened`,
/// `on-hold`/`on_hold`/`onhold` for `on hold`, and `no-communication`/
/// `no_communication` for `no communication`, in any letter case.
///
/// ```
/// use switchboard_domain::ConversationStatus;
/// assert_eq!("on-hold".parse::<ConversationStatus>().unwrap(), ConversationStatus::OnHold);
/// assert_eq!("Open".parse::<ConversationStatus>().unwrap(), ConversationStatus::Opened);
/// assert_eq!(ConversationStatus::OnHold.as_str(), "on hold");
/// assert!("archived".parse::<ConversationStatus>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConversationStatus {
    /// Requested, nobody has picked it up yet.
    New,
    /// An agent is working on it.
    Opened,
    /// Waiting for the customer.
    Pending,
    /// Parked by an agent.
    OnHold,
    /// The visitor left before anyone answered.
    NoCommunication,
    /// Finished. Carries `closedAt` and `closedBy`.
    Closed,
}

impl ConversationStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [Self; 6] = [
        Self::New,
        Self::Opened,
        Self::Pending,
        Self::OnHold,
        Self::NoCommunication,
        Self::Closed,
    ];

    /// The canonical (HelpCrunch) spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Opened => "opened",
            Self::Pending => "pending",
            Self::OnHold => "on hold",
            Self::NoCommunication => "no communication",
            Self::Closed => "closed",
        }
    }

    /// Whether this status ends the conversation.
    #[must_use]
    pub const fn is_closed(self) -> bool {
        matches!(self, Self::Closed)
    }
}

impl fmt::Display for ConversationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status string that is neither a status nor a known alias.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown status {input:?}; expected one of: new, opened, pending, on hold, no communication, closed"
)]
pub struct UnknownStatus {
    /// The offending input (truncated).
    pub input: String,
}

impl FromStr for ConversationStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String = s
            .trim()
            .chars()
            .take(32)
            .map(|c| match c {
                '-' | '_' => ' ',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        Ok(match norm.as_str() {
            "new" => Self::New,
            "opened" | "open" => Self::Opened,
            "pending" => Self::Pending,
            "on hold" | "onhold" => Self::OnHold,
            "no communication" | "nocommunication" => Self::NoCommunication,
            "closed" | "close" => Self::Closed,
            _ => {
                return Err(UnknownStatus {
                    input: s.chars().take(40).collect(),
                });
            }
        })
    }
}

impl Serialize for ConversationStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ConversationStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
