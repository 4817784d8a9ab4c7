//! Tenants, API keys and scopes.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{ApiKeyId, TenantId, Timestamp};

/// A company or portal. Every other entity belongs to exactly one tenant.
///
/// `name` is the company username (HelpCrunch, the chatbot's
/// `company_username`) and the Zoho SalesIQ `screen_name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    /// Storage-assigned id.
    pub id: TenantId,
    /// Unique, URL-safe name (see [`validate_tenant_name`](crate::validate::tenant_name)).
    pub name: String,
    /// When the tenant was created.
    pub created_at: Timestamp,
}

/// What an API key may do.
///
/// The wire spelling is `<resource>.<ACTION>`, e.g. `customers.READ`; parsing
/// is case-insensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Read customers.
    CustomersRead,
    /// Create customers.
    CustomersCreate,
    /// Update and delete customers.
    CustomersUpdate,
    /// Read conversations.
    ConversationsRead,
    /// Create conversations.
    ConversationsCreate,
    /// Update conversations.
    ConversationsUpdate,
    /// Create webhook subscriptions.
    WebhooksCreate,
    /// Delete webhook subscriptions.
    WebhooksDelete,
    /// Read the tenant's setup through the admin API: agents, departments,
    /// custom attributes, API keys (never their secrets), tags, webhook
    /// subscriptions and the change history of customers and conversations.
    AdminRead,
    /// Change the tenant's setup through the admin API: create, change and
    /// delete agents, departments and custom attributes, create and revoke
    /// API keys. A key with this scope can mint a key with any scope, so
    /// it is as powerful as every scope together: hand it out sparingly.
    AdminWrite,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Self; 10] = [
        Self::CustomersRead,
        Self::CustomersCreate,
        Self::CustomersUpdate,
        Self::ConversationsRead,
        Self::ConversationsCreate,
        Self::ConversationsUpdate,
        Self::WebhooksCreate,
        Self::WebhooksDelete,
        Self::AdminRead,
        Self::AdminWrite,
    ];

    /// What a key created without explicit scopes gets: every scope of the
    /// data APIs, but not the admin scopes ([`Scope::AdminRead`],
    /// [`Scope::AdminWrite`]). Administering the tenant (minting keys,
    /// deleting agents) is asked for by name, never granted by default:
    /// the least privilege, and keys made before the admin API existed
    /// (which keep their stored scopes) gain nothing either.
    ///
    /// ```
    /// use switchboard_domain::Scope;
    /// assert!(Scope::DEFAULT.contains(&Scope::CustomersRead));
    /// assert!(!Scope::DEFAULT.contains(&Scope::AdminWrite));
    /// ```
    pub const DEFAULT: [Self; 8] = {
        let [data @ .., Self::AdminRead, Self::AdminWrite] = Self::ALL else {
            panic!("Scope::ALL ends with the admin scopes");
        };
        data
    };

    /// The canonical spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CustomersRead => "customers.READ",
            Self::CustomersCreate => "customers.CREATE",
            Self::CustomersUpdate => "customers.UPDATE",
            Self::ConversationsRead => "conversations.READ",
            Self::ConversationsCreate => "conversations.CREATE",
            Self::ConversationsUpdate => "conversations.UPDATE",
            Self::WebhooksCreate => "webhooks.CREATE",
            Self::WebhooksDelete => "webhooks.DELETE",
            Self::AdminRead => "admin.READ",
            Self::AdminWrite => "admin.WRITE",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?}")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    /// ```
    /// use switchboard_domain::Scope;
    /// assert_eq!("customers.read".parse::<Scope>().unwrap(), Scope::CustomersRead);
    /// assert!("customers.DESTROY".parse::<Scope>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|scope| scope.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownScope(s.chars().take(64).collect()))
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An API key. Only a hash of the secret is ever stored; the secret itself is
/// shown once, when the key is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Storage-assigned id.
    pub id: ApiKeyId,
    /// The tenant the key acts for.
    pub tenant_id: TenantId,
    /// A human label ("zapier", "crm sync").
    pub name: String,
    /// A short, non-secret prefix of the key used to find it quickly.
    pub prefix: String,
    /// Hex-encoded hash of the secret.
    pub secret_hash: String,
    /// What the key may do.
    pub scopes: BTreeSet<Scope>,
    /// When the key was created.
    pub created_at: Timestamp,
}

impl ApiKey {
    /// Whether the key carries `scope`.
    #[must_use]
    pub fn allows(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}
