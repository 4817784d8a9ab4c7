//! SalesIQ's error envelope: `{"error": {"code": <int>, "message": "…", "json_key"?: "…"}}`.

use actix_web::HttpResponse;
use serde_json::{Map, Value, json};

use crate::auth::Scheme;
use crate::{ApiError, Dialect, DialectError};

/// The Zoho SalesIQ dialect marker.
#[derive(Debug)]
pub struct Zoho;

/// A handler error rendered in SalesIQ's format.
pub type ZohoError = DialectError<Zoho>;

/// SalesIQ's published codes (1001–1006) and the codes Switchboard assigns
/// where SalesIQ publishes none (documented in the dialect doc).
pub mod codes {
    /// Unknown authentication error (SalesIQ).
    pub const AUTH_UNKNOWN: u32 = 1001;
    /// Invalid authorization header (SalesIQ).
    pub const INVALID_AUTH_HEADER: u32 = 1002;
    /// Invalid request type (SalesIQ).
    pub const INVALID_REQUEST_TYPE: u32 = 1004;
    /// Invalid portal or wrong screen name (SalesIQ).
    pub const INVALID_PORTAL: u32 = 1005;
    /// Invalid URL (SalesIQ).
    pub const INVALID_URL: u32 = 1006;
    /// The token lacks the OAuth scope (Switchboard).
    pub const INVALID_SCOPE: u32 = 1007;
    /// Invalid input; `json_key` names the member (Switchboard).
    pub const INVALID_INPUT: u32 = 1015;
    /// Resource not found (Switchboard).
    pub const NOT_FOUND: u32 = 1020;
    /// Conflict (Switchboard).
    pub const CONFLICT: u32 = 1021;
    /// Body too large (Switchboard).
    pub const TOO_LARGE: u32 = 1022;
    /// Rate limit exceeded (Switchboard).
    pub const RATE_LIMITED: u32 = 1029;
    /// Internal error (Switchboard).
    pub const INTERNAL: u32 = 1000;
}

impl Dialect for Zoho {
    const SCHEMES: &'static [Scheme] = &[Scheme::ZohoOauthToken, Scheme::Bearer];

    fn render(error: &ApiError) -> HttpResponse {
        let (code, json_key) = match error {
            ApiError::BadRequest(fields)
                if fields.first().is_some_and(|f| f.code == "invalid_portal") =>
            {
                (codes::INVALID_PORTAL, None)
            }
            ApiError::Unauthorized(_) => (codes::INVALID_AUTH_HEADER, None),
            ApiError::Forbidden(_) => (codes::INVALID_SCOPE, None),
            ApiError::NotFound(m) if m.contains("URL") => (codes::INVALID_URL, None),
            ApiError::NotFound(_) => (codes::NOT_FOUND, None),
            ApiError::BadRequest(fields) => (
                codes::INVALID_INPUT,
                fields.first().map(|f| f.field.clone()),
            ),
            ApiError::PayloadTooLarge(_) => (codes::TOO_LARGE, None),
            ApiError::Conflict(_) | ApiError::PreconditionFailed => (codes::CONFLICT, None),
            ApiError::NotAcceptable(_)
            | ApiError::UnsupportedMediaType(_)
            | ApiError::MethodNotAllowed(_) => (codes::INVALID_REQUEST_TYPE, None),
            ApiError::RateLimited(_) | ApiError::AuthThrottled(_) => (codes::RATE_LIMITED, None),
            ApiError::Unavailable | ApiError::Internal => (codes::INTERNAL, None),
        };
        let mut body = Map::new();
        body.insert("code".into(), json!(code));
        let message = match error {
            ApiError::BadRequest(fields) => fields
                .first()
                .map_or_else(|| "Invalid input".to_string(), |f| f.message.clone()),
            other => other.message(),
        };
        body.insert("message".into(), json!(message));
        if let Some(key) = json_key.filter(|k| k != "body") {
            body.insert("json_key".into(), json!(key));
        }
        HttpResponse::build(error.status()).json(json!({ "error": Value::Object(body) }))
    }
}

/// Renders a domain JSON Pointer the SalesIQ way: `/customInfo/plan` → `customer_info.plan`.
#[must_use]
pub fn field_name(pointer: &str) -> String {
    let mut out = crate::dotted_pointer(pointer);
    for (from, to) in [
        ("customInfo", "customer_info"),
        ("firstMessage", "question"),
        ("departmentId", "department_id"),
    ] {
        if out == from || out.starts_with(&format!("{from}.")) {
            out = format!("{to}{}", &out[from.len()..]);
        }
    }
    out
}
