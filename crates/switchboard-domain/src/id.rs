//! Typed identifiers.
//!
//! Every entity has its own id type so that a customer id can never be passed
//! where a conversation id is expected. Ids are positive 64-bit integers
//! assigned by storage; they serialize as plain JSON numbers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            /// Wraps a raw database id.
            #[must_use]
            pub const fn new(raw: i64) -> Self {
                Self(raw)
            }

            /// The raw integer value, as stored.
            #[must_use]
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;

            /// Parses a decimal, strictly positive id (no sign, no spaces).
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_positive(s).map(Self).ok_or_else(|| ParseIdError {
                    kind: stringify!($name),
                    input: s.chars().take(64).collect(),
                })
            }
        }
    };
}

fn parse_positive(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok().filter(|v| *v > 0)
}

/// An id string that is not a positive decimal integer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a valid {kind}")]
pub struct ParseIdError {
    /// The id type that was expected.
    pub kind: &'static str,
    /// The offending input (truncated to 64 characters).
    pub input: String,
}

define_id!(
    /// Identifies a [`Tenant`](crate::Tenant).
    TenantId
);
define_id!(
    /// Identifies an [`ApiKey`](crate::ApiKey).
    ApiKeyId
);
define_id!(
    /// Identifies a [`Customer`](crate::Customer) (a contact).
    CustomerId
);
define_id!(
    /// Identifies a [`Conversation`](crate::Conversation) (a chat session).
    ConversationId
);
define_id!(
    /// Identifies an [`Agent`](crate::Agent).
    AgentId
);
define_id!(
    /// Identifies a [`Department`](crate::Department).
    DepartmentId
);
define_id!(
    /// Identifies a [`WebhookSubscription`](crate::WebhookSubscription).
    SubscriptionId
);
define_id!(
    /// Identifies a stored [`DomainEvent`](crate::DomainEvent) in the outbox.
    EventId
);
define_id!(
    /// Identifies one webhook delivery: one event to one subscription.
    DeliveryId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_positive_decimal_ids() {
        let cases = [
            ("1", Some(1)),
            ("42", Some(42)),
            ("9223372036854775807", Some(i64::MAX)),
            ("0", None),
            ("-1", None),
            ("+1", None),
            (" 1", None),
            ("1.0", None),
            ("abc", None),
            ("", None),
            ("9223372036854775808", None),
            ("99999999999999999999999", None),
        ];
        for (input, expected) in cases {
            let got = input.parse::<CustomerId>().ok().map(CustomerId::get);
            assert_eq!(got, expected, "input {input:?}");
        }
    }
}
