//! Zapier REST hooks: the auth test, subscribe/unsubscribe, sample
//! payloads for `performList`, and the delivery log with redelivery
//! (see `docs/webhooks.md`).
//!
//! Authentication is `Authorization: Bearer <key>`. Creating a hook and
//! redelivering need `webhooks.CREATE`, deleting needs `webhooks.DELETE`;
//! the hook list and the delivery log need either of them (a hook's target
//! URL is a credential); `/me` accepts any valid key of the tenant. Samples need `webhooks.CREATE` (whoever may subscribe
//! receives the payloads anyway) or the read scope of the event's entity.

pub mod routes;
pub mod samples;
pub mod wire;

use actix_web::HttpResponse;
use serde_json::json;

use crate::auth::Scheme;
use crate::{ApiError, Dialect, DialectError};

/// The Zapier dialect marker: errors are `{"error": "…", "code": "…"}`,
/// with `"field"` on a 400. Zapier shows `error` to the user.
#[derive(Debug)]
pub struct Zapier;

/// A handler error rendered in the Zapier dialect's format.
pub type ZapierError = DialectError<Zapier>;

impl Dialect for Zapier {
    const SCHEMES: &'static [Scheme] = &[Scheme::Bearer];

    fn unauthorized(message: String) -> String {
        format!(
            "{message}. Connect Zapier with a Switchboard API key, sent as `Authorization: Bearer <key>`"
        )
    }

    fn render(error: &ApiError) -> HttpResponse {
        let code = error.code();
        let body = match error {
            ApiError::BadRequest(fields) => match fields.first() {
                Some(f) => {
                    json!({"error": format!("{}: {}", f.field, f.message), "code": code, "field": f.field})
                }
                None => json!({"error": "Invalid request", "code": code}),
            },
            other => json!({"error": other.message(), "code": code}),
        };
        HttpResponse::build(error.status()).json(body)
    }
}
