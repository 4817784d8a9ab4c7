//! The chatbot family: chat logs keyed by `sessionid`, and the email update
//! that fires the Zapier `email_updated` event (see `docs/dialects/chatbot.md`).

pub mod routes;
pub mod wire;

use actix_web::HttpResponse;
use serde_json::json;

use crate::auth::Scheme;
use crate::{ApiError, Dialect, DialectError};

/// The chatbot dialect marker: errors are `{"error": "…"}`.
#[derive(Debug)]
pub struct Chatbot;

/// A handler error rendered as `{"error": "…"}`.
pub type ChatbotError = DialectError<Chatbot>;

impl Dialect for Chatbot {
    const SCHEMES: &'static [Scheme] = &[Scheme::Bearer];

    fn render(error: &ApiError) -> HttpResponse {
        let message = match error {
            ApiError::BadRequest(fields) => fields.first().map_or_else(
                || "Invalid request".to_string(),
                |f| {
                    if f.field == "body" {
                        f.message.clone()
                    } else {
                        format!("{}: {}", f.field, f.message)
                    }
                },
            ),
            ApiError::NotFound(m) if m.starts_with("no such URL") => m.clone(),
            ApiError::NotFound(_) => "Chatlog not found".to_string(),
            other => other.message(),
        };
        HttpResponse::build(error.status()).json(json!({ "error": message }))
    }
}
