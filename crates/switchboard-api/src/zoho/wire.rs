//! SalesIQ's wire shapes: snake_case, ids as strings, times as
//! epoch-millisecond strings, and the `{url, object, data}` envelope.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// The success envelope.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Envelope<T> {
    /// The request's resource URL.
    pub url: String,
    /// `"Object"` for one resource, `"list"` for a list.
    pub object: &'static str,
    /// The result.
    pub data: T,
    /// Request time, epoch ms (lists only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_time: Option<String>,
}

/// A visitor in a request.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitorInput {
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Country.
    #[serde(default)]
    pub country: Option<String>,
    /// IP address or host.
    #[serde(default)]
    pub ip: Option<String>,
}

/// The body of `POST conversations`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInput {
    /// The visitor.
    pub visitor: VisitorInput,
    /// The visitor's question (the first message).
    pub question: String,
    /// Department id.
    #[serde(default)]
    pub department_id: Option<String>,
    /// Initial custom info.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub customer_info: Option<Value>,
}

/// The body of `PUT conversations/{id}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInput {
    /// Keys to merge into the conversation's custom info; `null` removes a key.
    #[schema(value_type = Object)]
    pub customer_info: Value,
}

/// The visitor of a conversation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VisitorOutput {
    /// Name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// IP address or host.
    pub ip: Option<String>,
}

/// An operator (agent).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OperatorOutput {
    /// Id, as a string.
    pub id: String,
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
}

/// A participant of a conversation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ParticipantOutput {
    /// Id, as a string.
    pub id: String,
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Always `operator`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// A department.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = SalesIqDepartment)]
pub struct DepartmentOutput {
    /// Id, as a string.
    pub id: String,
    /// Name.
    pub name: String,
}

/// The chat status block.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatStatusOutput {
    /// `open` or `closed`.
    pub state_key: &'static str,
    /// Numeric status code (see the dialect doc).
    pub status_code: u32,
    /// 1 open, 2 closed.
    pub state: u32,
    /// Human label.
    pub label: &'static str,
    /// `waiting`, `connected`, `pending`, `on_hold`, `missed`, `ended`.
    pub status_key: &'static str,
}

/// SalesIQ's conversation object.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationOutput {
    /// Id, as a string.
    pub id: String,
    /// Chat id (the session key).
    pub chat_id: String,
    /// The visitor.
    pub visitor: VisitorOutput,
    /// The department.
    pub department: Option<DepartmentOutput>,
    /// The operator attending the chat.
    pub attender: Option<OperatorOutput>,
    /// The owner (same as the attender here).
    pub owner: Option<OperatorOutput>,
    /// Status.
    pub chat_status: ChatStatusOutput,
    /// Custom info.
    #[schema(value_type = Object)]
    pub customer_info: BTreeMap<String, Value>,
    /// The visitor's question.
    pub question: Option<String>,
    /// Start time, epoch ms.
    pub start_time: String,
    /// End time, epoch ms.
    pub end_time: Option<String>,
    /// Pickup time, epoch ms.
    pub pickup_time: Option<String>,
    /// Last modified, epoch ms.
    pub last_modified_time: String,
    /// Participating operators.
    pub participants: Vec<ParticipantOutput>,
}
