//! Custom attribute definitions (the schema of a customer's `customData`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{TenantId, Timestamp, validate};

/// The type of a custom attribute's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttributeType {
    /// Any JSON string (at most 1,000 characters).
    String,
    /// A JSON number, or a string holding a decimal number.
    Number,
    /// `true`/`false`, or the strings `"true"`/`"false"`.
    Boolean,
    /// A UNIX timestamp: a non-negative integer, or a string as HelpCrunch sends dates.
    Date,
    /// An absolute http(s) URL.
    Url,
}

impl AttributeType {
    /// Every type.
    pub const ALL: [Self; 5] = [
        Self::String,
        Self::Number,
        Self::Boolean,
        Self::Date,
        Self::Url,
    ];

    /// The lowercase name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::Url => "url",
        }
    }

    /// Whether `value` is acceptable for this type. `null` is always
    /// acceptable (it clears the property).
    ///
    /// ```
    /// use serde_json::json;
    /// use switchboard_domain::AttributeType;
    /// assert!(AttributeType::Number.accepts(&json!(4.5)));
    /// assert!(AttributeType::Number.accepts(&json!("4.5")));
    /// assert!(!AttributeType::Number.accepts(&json!("four")));
    /// assert!(AttributeType::Date.accepts(&json!("1570000000")));
    /// assert!(!AttributeType::Url.accepts(&json!("not a url")));
    /// ```
    #[must_use]
    pub fn accepts(self, value: &Value) -> bool {
        match (self, value) {
            (_, Value::Null) => true,
            (Self::String, Value::String(s)) => s.chars().count() <= 1000,
            (Self::Number, Value::Number(_)) => true,
            (Self::Number, Value::String(s)) => {
                s.len() <= 64 && s.trim().parse::<f64>().is_ok_and(f64::is_finite)
            }
            (Self::Boolean, Value::Bool(_)) => true,
            (Self::Boolean, Value::String(s)) => s == "true" || s == "false",
            (Self::Date, Value::Number(n)) => n
                .as_i64()
                .is_some_and(|s| (0..=crate::time::MAX_MILLIS / 1000).contains(&s)),
            (Self::Date, Value::String(s)) => Timestamp::parse_unix(s).is_ok(),
            (Self::Url, Value::String(s)) => validate::url(s),
            _ => false,
        }
    }
}

impl fmt::Display for AttributeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no attribute type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown attribute type {0:?}; expected string, number, boolean, date or url")]
pub struct UnknownAttributeType(pub String);

impl FromStr for AttributeType {
    type Err = UnknownAttributeType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownAttributeType(s.chars().take(40).collect()))
    }
}

/// The definition of one custom attribute of a tenant's customers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomAttribute {
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// The property name used in `customData`.
    pub name: String,
    /// The value type.
    pub kind: AttributeType,
    /// Human label.
    pub label: String,
}

impl CustomAttribute {
    /// The definition of property `name` of `tenant_id`'s customers.
    pub fn new(
        tenant_id: TenantId,
        name: impl Into<String>,
        kind: AttributeType,
        label: impl Into<String>,
    ) -> Self {
        Self {
            tenant_id,
            name: name.into(),
            kind,
            label: label.into(),
        }
    }
}

/// A tenant's custom attribute definitions, by property name.
pub type AttributeSet = BTreeMap<String, CustomAttribute>;
