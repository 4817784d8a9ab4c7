//! The console's pages.

pub(crate) mod conversation;
pub(crate) mod customer;
pub(crate) mod inbox;
pub(crate) mod settings;
pub(crate) mod sign_in;
pub(crate) mod webhooks;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::state::ConsoleState;
use crate::{ConsoleError, session};

/// How many history entries a timeline shows.
pub(crate) const HISTORY: u32 = 100;

/// `?fragment=…`: only the live part of a page.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct PageParams {
    #[serde(default)]
    pub(crate) fragment: Option<String>,
}

/// A form with only the CSRF token (sign-out, and the admin pages' buttons).
#[derive(Debug, serde::Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    pub(crate) csrf: String,
}

/// A positive id in a path; anything else names a page that does not
/// exist.
pub(crate) fn path_id(raw: &str) -> Result<i64, ConsoleError> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(ConsoleError::NotFound)
}

/// A positive id in the form or query field `what`; anything else is a
/// bad request naming it.
pub(crate) fn field_id(raw: &str, what: &str) -> Result<i64, ConsoleError> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ConsoleError::BadRequest(format!("{what} must be an id")))
}

/// `GET /console/`: the inbox, or the sign-in form.
pub(crate) async fn home(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
) -> Result<HttpResponse, ConsoleError> {
    let to = if session::current(&req, &state).await?.is_some() {
        "/console/inbox"
    } else {
        "/console/sign-in"
    };
    Ok(see_other(to))
}

/// Anything else under `/console`.
pub(crate) async fn not_found() -> Result<HttpResponse, ConsoleError> {
    Err(ConsoleError::NotFound)
}

/// `303 See Other` to `to`.
pub(crate) fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// An HTML response that is never cached.
pub(crate) fn html(markup: maud::Markup) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(markup.into_string())
}
