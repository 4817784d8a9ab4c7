//! The admin API's JSON shapes. Times are epoch milliseconds.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// An agent (their console password is never shown nor set here).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Agent {
    /// The agent's id (conversations' `assignee`).
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Console sign-in email, in lower case, unique in the tenant.
    pub email: String,
    /// `agent` or `admin` (console role).
    pub role: String,
}

/// `POST /admin/v1/agents`. Unknown members are refused.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentInput {
    /// Display name, 1-200 characters.
    pub name: String,
    /// Sign-in email, unique in the tenant (stored in lower case).
    pub email: String,
    /// `agent` (default) or `admin`.
    #[serde(default)]
    pub role: Option<String>,
}

/// `PATCH /admin/v1/agents/{id}`: the members given change, the others
/// stay. Unknown members (a `password` among them) are refused.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentPatch {
    /// Display name, 1-200 characters.
    #[serde(default)]
    pub name: Option<String>,
    /// Sign-in email, unique in the tenant.
    #[serde(default)]
    pub email: Option<String>,
    /// `agent` or `admin`.
    #[serde(default)]
    pub role: Option<String>,
}

/// A department.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Department {
    /// The department's id (conversations' `department`).
    pub id: i64,
    /// Name, unique in the tenant.
    pub name: String,
}

/// `POST /admin/v1/departments`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DepartmentInput {
    /// Name, 1-200 characters, unique in the tenant.
    pub name: String,
}

/// A custom attribute definition: the type of a property of customers'
/// `customData`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attribute {
    /// The property name in `customData`.
    pub name: String,
    /// `string`, `number`, `boolean`, `date` or `url`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Human label.
    pub label: String,
}

/// `POST /admin/v1/attributes`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeInput {
    /// The property name, 1-100 characters, unique in the tenant.
    pub name: String,
    /// `string`, `number`, `boolean`, `date` or `url`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Human label (default: the name), at most 200 characters.
    #[serde(default)]
    pub label: Option<String>,
}

/// An API key, without its secret (only a hash is stored).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKey {
    /// The key's id (to revoke it).
    pub id: i64,
    /// Its label.
    pub name: String,
    /// The start of the secret, `sbk_<12 hex>`: not secret, it tells keys apart.
    pub prefix: String,
    /// What it may do, e.g. `customers.READ`.
    pub scopes: Vec<String>,
    /// Created, epoch ms.
    pub created_at: i64,
}

/// `POST /admin/v1/keys`: the new key, with its secret, shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedApiKey {
    /// The key's id.
    pub id: i64,
    /// Its label.
    pub name: String,
    /// The start of the secret.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// Created, epoch ms.
    pub created_at: i64,
    /// The whole key, for `Authorization: Bearer <secret>`. Shown only in
    /// this answer: store it now.
    pub secret: String,
}

/// `POST /admin/v1/keys`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyInput {
    /// A label, 1-100 characters, e.g. the integration that uses it.
    pub name: String,
    /// Scopes to grant (e.g. `customers.READ`, `admin.READ`); absent or
    /// empty: every scope of the data APIs and no admin scope.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// A tag of the tenant's catalogue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tag {
    /// The tag's name.
    pub name: String,
    /// Its color (any CSS color).
    pub color: String,
}

/// A webhook subscription, without its signing secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Subscription {
    /// The subscription's id.
    pub id: i64,
    /// The event.
    pub event: String,
    /// Where deliveries go.
    pub target_url: String,
    /// `active`, or `disabled` after failing for too long.
    pub state: String,
    /// Start of the current run of failures (epoch ms), if failing.
    pub failing_since: Option<i64>,
    /// Created, epoch ms.
    pub created_at: i64,
}

/// Who made a change.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Actor {
    /// `apiKey`, `agent`, `customer` or `system`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The key's or agent's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
}

/// One change of a customer or conversation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// The entry's id (increasing; pass the last one as `before`).
    pub id: i64,
    /// When, epoch ms.
    pub at: i64,
    /// Who.
    pub actor: Actor,
    /// Through which API: `helpcrunch`, `superoffice`, `zoho`, `chatbot`, `console`, …
    pub api: String,
    /// What changed: an RFC 6902 JSON Patch from the old to the new canonical document.
    #[schema(value_type = Vec<Object>)]
    pub diff: serde_json::Value,
    /// The version before (absent on create).
    pub version_before: Option<i64>,
    /// The version after (absent on delete).
    pub version_after: Option<i64>,
}

/// A page of agents, in id order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AgentPage {
    /// The items.
    pub data: Vec<Agent>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next_after: Option<i64>,
}

/// A page of departments, in id order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DepartmentPage {
    /// The items.
    pub data: Vec<Department>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next_after: Option<i64>,
}

/// A page of API keys, in id order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyPage {
    /// The items.
    pub data: Vec<ApiKey>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next_after: Option<i64>,
}

/// A page of history, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryPage {
    /// The entries, newest first.
    pub data: Vec<HistoryEntry>,
    /// Pass as `before` for older entries; `null` on the last page.
    pub next_before: Option<i64>,
}

/// Paging of a list by id.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1-1000 (default 100).
    pub limit: Option<i64>,
    /// Only items with an id above this (the previous page's `next_after`).
    pub after: Option<i64>,
}

/// Paging of a history.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Page size, 1-500 (default 50).
    pub limit: Option<i64>,
    /// Only entries with an id below this (the previous page's `next_before`).
    pub before: Option<i64>,
}
