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
