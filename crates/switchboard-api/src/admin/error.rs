//! The admin API's error envelope:
//! `{"error": {"code": "not_found", "message": "no such agent"}}`, with
//! `"field"` (a JSON Pointer-like dotted name, or `body`, `query`,
//! `limit`, …) when one part of the request is at fault.

use actix_web::HttpResponse;
use serde_json::json;

use crate::auth::Scheme;
use crate::{ApiError, Dialect, DialectError};

/// The admin API marker.
#[derive(Debug)]
pub struct Admin;

/// A handler error rendered in the admin API's format.
pub type AdminError = DialectError<Admin>;

impl Dialect for Admin {
    const SCHEMES: &'static [Scheme] = &[Scheme::Bearer];

    fn unauthorized(message: String) -> String {
        format!("{message}; send an API key with the admin scopes as `Authorization: Bearer <key>`")
    }

    fn render(error: &ApiError) -> HttpResponse {
        let code = error.code();
        let body = match error {
            ApiError::BadRequest(fields) => match fields.first() {
                Some(f) => json!({"error": {
                    "code": code,
                    "message": format!("{}: {}", f.field, f.message),
                    "field": f.field,
                }}),
                None => json!({"error": {"code": code, "message": "invalid request"}}),
            },
            other => json!({"error": {"code": code, "message": other.message()}}),
        };
        HttpResponse::build(error.status()).json(body)
    }
}

/// Renders a domain JSON Pointer as the admin API names fields:
/// `/name` → `name`, `` → `body`.
#[must_use]
pub fn field_name(pointer: &str) -> String {
    let dotted = crate::dotted_pointer(pointer);
    if dotted.is_empty() {
        "body".into()
    } else {
        dotted
    }
}
