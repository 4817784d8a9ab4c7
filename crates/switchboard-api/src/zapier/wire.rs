//! The Zapier REST-hook shapes.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `GET /zapier/v1/me`: who the key belongs to (Zapier's connection label).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Me {
    /// The tenant (company username).
    pub company_username: String,
    /// The API key's label.
    pub key_label: String,
    /// The key's scopes.
    pub scopes: Vec<String>,
}

/// The body of `POST /zapier/v1/hooks`. Other members are ignored.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct HookInput {
    /// Where deliveries are POSTed: an absolute http(s) URL with a public address.
    #[serde(default)]
    pub target_url: Option<String>,
    /// The event (see `GET /zapier/v1/samples/{event}` and docs/webhooks.md).
    #[serde(default)]
    pub event: Option<String>,
}

/// A subscription.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Hook {
    /// The subscription id (use it to unsubscribe).
    pub id: i64,
    /// The event.
    pub event: String,
    /// Where deliveries go.
    pub target_url: String,
    /// The signing secret (`whsec_…`); returned only when the hook is created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Until when (epoch ms) deliveries are also signed with the previous
    /// secret, after a rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<i64>,
    /// `active`, or `disabled` after failing continuously for too long.
    pub state: String,
    /// Start of the current run of failures (epoch ms), if failing.
    pub failing_since: Option<i64>,
    /// Created, epoch ms.
    pub created_at: i64,
}

/// `DELETE /zapier/v1/hooks/{id}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Deleted {
    /// The subscription removed.
    pub id: i64,
    /// Always true.
    pub deleted: bool,
}

/// Paging of the delivery log.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttemptsQuery {
    /// Page size, 1-100 (default 20).
    pub limit: Option<String>,
    /// Only attempts with an id below this (the previous page's `next_before`).
    pub before: Option<String>,
}

impl AttemptsQuery {
    /// The parameters from the query string's pairs (the last of a
    /// repeated name wins; other names are ignored).
    #[must_use]
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut q = Self {
            limit: None,
            before: None,
        };
        for (name, value) in pairs {
            match name.as_str() {
                "limit" => q.limit = Some(value),
                "before" => q.before = Some(value),
                _ => {}
            }
        }
        q
    }
}

/// One attempt in the delivery log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attempt {
    /// Attempt id.
    pub id: i64,
    /// The delivery (one event to this subscription).
    pub delivery_id: i64,
    /// The delivery's `webhook-id` header (the same on every attempt).
    pub webhook_id: String,
    /// The event.
    pub event: String,
    /// 1 for the first attempt of the delivery.
    pub attempt: u32,
    /// When the request started, epoch ms.
    pub started_at: i64,
    /// How long it took, ms.
    pub duration_ms: i64,
    /// The receiver's status code, if it answered.
    pub status_code: Option<u16>,
    /// `success`, `http_error`, `timeout`, `network_error` or `refused`.
    pub outcome: String,
    /// What went wrong, for failures without a status.
    pub error: Option<String>,
    /// The start of the receiver's response body.
    pub response_excerpt: Option<String>,
}

/// A page of the delivery log, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttemptsPage {
    /// The attempts.
    pub data: Vec<Attempt>,
    /// Pass as `before` for the next page; `null` on the last page.
    pub next_before: Option<i64>,
}

/// `POST …/redeliver`: the delivery is due again now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Redelivery {
    /// The delivery.
    pub delivery_id: i64,
    /// Its `webhook-id` (unchanged).
    pub webhook_id: String,
    /// The event.
    pub event: String,
    /// `pending`.
    pub state: String,
    /// Attempts made so far.
    pub attempts: u32,
}
