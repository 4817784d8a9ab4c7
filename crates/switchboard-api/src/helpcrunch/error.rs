//! HelpCrunch's error envelope:
//! `{"errors":[{"code":"invalid_request","message":"Invalid request"},{"code":"<field>","message":"…"}]}`.

use actix_web::HttpResponse;
use serde_json::json;

use crate::auth::Scheme;
use crate::{ApiError, Dialect, DialectError};

/// The HelpCrunch dialect marker.
#[derive(Debug)]
pub struct HelpCrunch;

/// A handler error rendered in HelpCrunch's format.
pub type HcError = DialectError<HelpCrunch>;

impl Dialect for HelpCrunch {
    const SCHEMES: &'static [Scheme] = &[Scheme::Bearer];

    fn render(error: &ApiError) -> HttpResponse {
        // Every error starts with the vendor's `invalid_request` entry; the
        // entries after it carry the vendor's codes and messages where it
        // documents them (400, 401, 404, 429).
        let mut errors = vec![json!({"code": "invalid_request", "message": "Invalid request"})];
        match error {
            ApiError::BadRequest(fields) => errors.extend(
                fields
                    .iter()
                    .map(|f| json!({"code": f.field, "message": f.message})),
            ),
            ApiError::Unauthorized(_) => {
                errors.push(json!({"code": "unauthorized", "message": "Unauthorized"}));
            }
            ApiError::RateLimited(_) | ApiError::AuthThrottled(_) => {
                errors.push(json!({"code": "too_many_requests", "message": "Too many requests"}));
            }
            other => errors.push(json!({"code": other.code(), "message": other.message()})),
        }
        HttpResponse::build(error.status()).json(json!({ "errors": errors }))
    }
}

/// Renders a domain JSON Pointer as HelpCrunch names fields:
/// `/customData/plan` → `customData.plan`, `/assigneeId` → `assignee`.
#[must_use]
pub fn field_name(pointer: &str) -> String {
    let joined = crate::dotted_pointer(pointer);
    match joined.as_str() {
        "assigneeId" => "assignee".into(),
        "departmentId" => "department".into(),
        "customerId" => "customer".into(),
        "" => "body".into(),
        _ => joined,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn field_names() {
        for (input, want) in [
            ("/email", "email"),
            ("/customData/plan", "customData.plan"),
            ("/tags/0/color", "tags.0.color"),
            ("/customData/a~1b", "customData.a/b"),
            ("/assigneeId", "assignee"),
            ("", "body"),
        ] {
            assert_eq!(super::field_name(input), want);
        }
    }
}
