//! SuperOffice-style error body: `{"Error": "…", "ErrorType": "…", "ErrorSource": "…"}`.

use actix_web::HttpResponse;
use serde_json::json;

use crate::auth::Scheme;
use crate::{ApiError, Dialect, DialectError};

/// The SuperOffice dialect marker.
#[derive(Debug)]
pub struct SuperOffice;

/// A handler error rendered in SuperOffice's format.
pub type SoError = DialectError<SuperOffice>;

impl Dialect for SuperOffice {
    const SCHEMES: &'static [Scheme] = &[Scheme::Bearer, Scheme::Basic, Scheme::SoTicket];

    fn render(error: &ApiError) -> HttpResponse {
        let (kind, source) = match error {
            ApiError::Unauthorized(_) => ("UnauthorizedAccessException", String::new()),
            ApiError::Forbidden(_) => ("SoAccessDeniedException", String::new()),
            ApiError::NotFound(_) => ("SoNotFoundException", String::new()),
            ApiError::MethodNotAllowed(_) => ("MethodNotAllowedException", String::new()),
            ApiError::BadRequest(fields) => (
                "SoValidationException",
                fields.first().map(|f| f.field.clone()).unwrap_or_default(),
            ),
            ApiError::PayloadTooLarge(_) => ("RequestTooLargeException", String::new()),
            ApiError::Conflict(_) => ("SoConflictException", String::new()),
            ApiError::PreconditionFailed => ("SoPreconditionFailedException", String::new()),
            ApiError::NotAcceptable(_) => ("NotAcceptableException", String::new()),
            ApiError::UnsupportedMediaType(_) => ("UnsupportedMediaTypeException", String::new()),
            ApiError::RateLimited(_) | ApiError::AuthThrottled(_) => {
                ("TooManyRequestsException", String::new())
            }
            ApiError::Unavailable => ("ServiceUnavailableException", String::new()),
            ApiError::Internal => ("SoServerException", String::new()),
        };
        let message = match error {
            ApiError::BadRequest(fields) if fields.len() > 1 => fields
                .iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; "),
            ApiError::BadRequest(fields) => fields.first().map_or_else(
                || "Invalid request".to_string(),
                |f| format!("{}: {}", f.field, f.message),
            ),
            other => other.message(),
        };
        HttpResponse::build(error.status()).json(json!({
            "Error": message,
            "ErrorType": kind,
            "ErrorSource": source,
        }))
    }
}

/// Renders a domain JSON Pointer as a ChatSession path: `/visitor/email` → `/CustomerEmail`.
#[must_use]
pub fn field_name(pointer: &str) -> String {
    let mapped = match pointer {
        "/visitor/email" => "/CustomerEmail",
        "/visitor/name" => "/CustomerName",
        "/visitor/phone" => "/CustomerPhone",
        "/visitor/company" => "/CustomerCompanyName",
        "/visitor/host" => "/CustomerHost",
        "/visitor/alias" => "/CustomerAlias",
        "/sessionKey" => "/SessionKey",
        "/status" => "/Status",
        "/rating" => "/Rating",
        "/alertLevel" => "/AlertLevel",
        "/firstMessage" => "/FirstMessage",
        "/lastMessage" => "/LastMessage",
        "/assigneeId" => "/User",
        "/transferTo" => "/TransferTo",
        "/customerId" => "/Person",
        "/closedAt" => "/Status",
        other if other.starts_with("/customInfo") => {
            return other.replacen("/customInfo", "/CustomInfo", 1);
        }
        other => other,
    };
    mapped.to_string()
}
