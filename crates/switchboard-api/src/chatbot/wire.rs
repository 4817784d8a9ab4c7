//! The chatbot back end's chat-log shapes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of `POST /chatbot/v1/chatlog`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatlogInput {
    /// The session id; generated when absent. Unique per company.
    #[serde(default)]
    pub sessionid: Option<String>,
    /// Visitor name.
    #[serde(default)]
    pub name: Option<String>,
    /// Visitor country.
    #[serde(default)]
    pub country: Option<String>,
    /// Visitor email.
    #[serde(default)]
    pub email: Option<String>,
}

/// The body of `PUT /chatbot/v1/chatlog/email`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailInput {
    /// The chat log's session id.
    pub sessionid: Option<String>,
    /// The new email.
    pub email: Option<String>,
}

/// A chat log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatlogOutput {
    /// The conversation's numeric id (the same id every family uses).
    pub id: i64,
    /// The session id.
    pub sessionid: String,
    /// Name: the visitor's, else the linked customer's.
    pub name: Option<String>,
    /// Country: the visitor's, else the linked customer's country code.
    pub country: Option<String>,
    /// Email: the visitor's, else the linked customer's.
    pub email: Option<String>,
    /// Shared status.
    pub status: String,
    /// Created, epoch ms.
    pub created_at: i64,
    /// Last updated, epoch ms.
    pub updated_at: i64,
}

/// `{"message": "success"}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Success {
    /// Always `success`.
    pub message: &'static str,
}
