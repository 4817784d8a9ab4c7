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

/// Where a visitor came from (SalesIQ's `visitor.channel_details`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelDetailsOutput {
    /// The channel: `website` (a chat widget), `api`, `chatbot`, … (the
    /// conversation's creation channel); `null` when it was not recorded.
    pub channel: Option<String>,
    /// The page or source it started from; not stored here, so `null`.
    pub source: Option<String>,
}

/// The visitor of a conversation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VisitorOutput {
    /// The linked customer's id, as a string; `null` for a lead.
    pub id: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// First name; not stored apart from `name`, so `null`.
    pub first_name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Country, as given (free-form).
    pub country: Option<String>,
    /// ISO 3166 two-letter country code, lower case, when `country` is one.
    pub country_code: Option<String>,
    /// IP address (v4 or v6); `null` when the visitor's host is not an IP.
    pub ip: Option<String>,
    /// `contact` (linked to a customer) or `lead`.
    #[serde(rename = "type")]
    #[schema(example = "lead")]
    pub kind: &'static str,
    /// SalesIQ's user id of the visitor; not stored, so `null`.
    pub user_id: Option<String>,
    /// Where the visitor came from.
    pub channel_details: ChannelDetailsOutput,
    /// The channel's name (same as `channel_details.channel`).
    pub channel_name: Option<String>,
    /// Operations the visitor's client supports; none are known, so `[]`.
    pub supported_operations: Vec<String>,
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
    /// Avatar key; agents have no avatar here, so `null`.
    pub image_key: Option<String>,
    /// Profile text; not stored, so `null`.
    pub aboutme: Option<String>,
    /// Whether the operator is a bot (agents are people: `false`).
    pub is_bot: bool,
    /// Whether calls are enabled (no calls here: `false`).
    pub call_enabled: bool,
}

/// A participant of a conversation: an operator, plus its kind.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ParticipantOutput {
    /// Id, as a string.
    pub id: String,
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Avatar key (`null`).
    pub image_key: Option<String>,
    /// Profile text (`null`).
    pub aboutme: Option<String>,
    /// `false`.
    pub is_bot: bool,
    /// `false`.
    pub call_enabled: bool,
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

/// The chat status block, in SalesIQ's layout (the table of every status
/// is in `docs/dialects/zoho-salesiq.md`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatStatusOutput {
    /// The chat's phase: `waiting`, `connected`, `missed` or `ended`.
    pub state_key: &'static str,
    /// The sub-status within the phase (0 for the phase itself).
    pub status_code: u32,
    /// The phase's number: 1 waiting, 2 connected, 3 missed, 4 ended.
    pub state: u32,
    /// The status's id, as a string (`"20"` connected).
    pub id: &'static str,
    /// Human label.
    pub label: &'static str,
    /// `open` or `closed`.
    pub status_key: &'static str,
}

/// The sender of a message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SenderOutput {
    /// Id, as a string; `null` when unknown.
    pub id: Option<String>,
    /// Name; `null` when unknown.
    pub name: Option<String>,
}

/// The text of a message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageTextOutput {
    /// The text.
    pub text: String,
}

/// The latest message of a conversation (SalesIQ's `last_message_info`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LastMessageOutput {
    /// Message id; messages are not stored one by one, so `null`.
    pub id: Option<String>,
    /// Sequence number (`null`, as `id`).
    pub sequence_id: Option<String>,
    /// Always `text`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Who sent it; not stored, so both members are `null`.
    pub sender: SenderOutput,
    /// The message.
    pub message: MessageTextOutput,
    /// When it was sent, epoch ms (`null` when not recorded).
    pub time: Option<String>,
}

/// SalesIQ's conversation object.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationOutput {
    /// Id, as a string.
    pub id: String,
    /// The visit's reference number (the conversation id here).
    pub reference_id: String,
    /// Chat id (the session key).
    pub chat_id: String,
    /// Always `chat`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The visitor's unique id in SalesIQ's tracking; not stored, so `null`.
    pub uvid: Option<String>,
    /// The brand (SalesIQ app) id; one brand per portal here, so `null`.
    pub app_id: Option<String>,
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
    /// When an operator picked the chat up, epoch ms.
    pub attended_time: Option<String>,
    /// End time (the latest close), epoch ms.
    pub end_time: Option<String>,
    /// Pickup time, epoch ms (same as `attended_time`; kept for older clients).
    pub pickup_time: Option<String>,
    /// Last modified, epoch ms.
    pub last_modified_time: String,
    /// Whether the chat was reopened; reopening is not recorded here, so `false`.
    pub reopen: bool,
    /// Whether it has unread messages; messages are not stored, so `false`.
    pub unread_chats: bool,
    /// The latest message, when one is recorded.
    pub last_message_info: Option<LastMessageOutput>,
    /// Participating operators.
    pub participants: Vec<ParticipantOutput>,
}
