//! The admin API's error envelope:
//! `{"error": {"code": "not_found", "message": "no such agent"}}`, with
//! `"field"` (a JSON Pointer-like dotted name, or `body`, `query`,
//! `limit`, …) when one part of the request is at fault.

use actix_web::HttpResponse;
use serde::Serialize;

use crate::auth::Scheme;
use crate::{ApiError, Dialect, DialectError};

/// The admin API marker.
#[derive(Debug)]
pub struct Admin;

/// A handler error rendered in the admin API's format.
pub type AdminError = DialectError<Admin>;

/// The body of every admin API error.
#[derive(Debug, Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Debug, Serialize)]
struct Body<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl Dialect for Admin {
    const SCHEMES: &'static [Scheme] = &[Scheme::Bearer];

    fn render(e: &ApiError) -> HttpResponse {
        let code = e.code();
        let error = match e {
            ApiError::BadRequest(fields) => match fields.first() {
                Some(f) => Body {
                    code,
                    message: format!("{}: {}", f.field, f.message),
                    field: Some(&f.field),
                },
                None => Body {
                    code,
                    message: "invalid request".into(),
                    field: None,
                },
            },
            other => Body {
                code,
                message: other.message(),
                field: None,
            },
        };
        HttpResponse::build(e.status()).json(Envelope { error })
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
