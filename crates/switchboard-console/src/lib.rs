//! # switchboard-console
//!
//! The operator console, served at `/console/` by `switchboard serve`:
//! agents sign in with their email and password and work their tenant's
//! conversations in a browser, live.
//!
//! * **Server-rendered HTML.** Pages are [`maud`] templates compiled into
//!   the binary; the one script is a vendored htmx (`assets/htmx.min.js`,
//!   0BSD) plus a few lines of our own (`assets/console.js`), all embedded
//!   with `include_str!`. Nothing is fetched from elsewhere, and there is
//!   no JavaScript build step.
//! * **The same core as the dialects.** Every read goes through the
//!   store's handles (`conversations().query(...)` for the inbox) and every
//!   change through the same engine with the domain's rules
//!   (`ConversationUpdate`), recorded in the history as API `console` and
//!   acting as the signed-in agent (`Actor::Agent`).
//! * **Live.** `GET /console/events` is a Server-Sent Events stream of the
//!   tenant's outbox events (their ids are the SSE ids, so `Last-Event-ID`
//!   resumes), woken by [`switchboard_webhook::Wakeup`], which every
//!   successful write request notifies.
//! * **Sessions** are server-side ([`switchboard_storage::Console`]),
//!   cookies `HttpOnly`, `SameSite=Strict`, `Secure` over TLS or behind a
//!   trusted proxy that says `X-Forwarded-Proto: https`; every form that
//!   changes something carries the session's CSRF token, and a request
//!   whose `Origin` or `Sec-Fetch-Site` says it comes from another site is
//!   refused.
//!
//! See `docs/console.md`.

mod assets;
mod error;
mod live;
mod pages;
mod render;
mod session;
mod state;

use actix_web::web;

pub use error::ConsoleError;
pub use state::{ConsoleConfig, ConsoleState, SecureCookies};

/// The path the console is served under.
pub const PREFIX: &str = "/console";

/// Mounts the console's routes under [`PREFIX`].
pub fn configure(cfg: &mut web::ServiceConfig, state: &ConsoleState) {
    cfg.service(
        web::scope(PREFIX)
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add((
                        "Content-Security-Policy",
                        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                         img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
                         form-action 'self'; base-uri 'none'",
                    ))
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("X-Frame-Options", "DENY"))
                    .add(("Referrer-Policy", "same-origin")),
            )
            .app_data(web::Data::new(state.clone()))
            .app_data(web::FormConfig::default().limit(64 * 1024))
            .route("", web::get().to(pages::home))
            .route("/", web::get().to(pages::home))
            .route("/assets/{name}", web::get().to(assets::serve))
            .route("/sign-in", web::get().to(pages::sign_in::form))
            .route("/sign-in", web::post().to(pages::sign_in::submit))
            .route("/sign-out", web::post().to(pages::sign_in::sign_out))
            .route("/inbox", web::get().to(pages::inbox::page))
            .route("/events", web::get().to(live::events))
            .route(
                "/conversations/{id}",
                web::get().to(pages::conversation::page),
            )
            .route(
                "/conversations/{id}/status",
                web::post().to(pages::conversation::set_status),
            )
            .route(
                "/conversations/{id}/assignee",
                web::post().to(pages::conversation::set_assignee),
            )
            .route(
                "/conversations/{id}/department",
                web::post().to(pages::conversation::set_department),
            )
            .route(
                "/conversations/{id}/info",
                web::post().to(pages::conversation::set_info),
            )
            .route("/customers/{id}", web::get().to(pages::customer::page))
            .route(
                "/customers/{id}/fields",
                web::post().to(pages::customer::set_fields),
            )
            .route(
                "/customers/{id}/attributes",
                web::post().to(pages::customer::set_attribute),
            )
            .route(
                "/customers/{id}/tags",
                web::post().to(pages::customer::add_tag),
            )
            .route(
                "/customers/{id}/tags/remove",
                web::post().to(pages::customer::remove_tag),
            )
            .route("/webhooks", web::get().to(pages::webhooks::list))
            .route("/webhooks/{id}", web::get().to(pages::webhooks::detail))
            .route(
                "/webhooks/{id}/enable",
                web::post().to(pages::webhooks::enable),
            )
            .route(
                "/webhooks/{id}/rotate",
                web::post().to(pages::webhooks::rotate),
            )
            .route(
                "/webhooks/{id}/deliveries/{delivery}/redeliver",
                web::post().to(pages::webhooks::redeliver),
            )
            .route(
                "/webhooks/events/{event}/requeue",
                web::post().to(pages::webhooks::requeue),
            )
            .route("/settings", web::get().to(pages::settings::page))
            .route(
                "/settings/agents",
                web::post().to(pages::settings::create_agent),
            )
            .route(
                "/settings/departments",
                web::post().to(pages::settings::create_department),
            )
            .route(
                "/settings/attributes",
                web::post().to(pages::settings::create_attribute),
            )
            .route(
                "/settings/keys",
                web::post().to(pages::settings::create_key),
            )
            .route(
                "/settings/keys/{id}/revoke",
                web::post().to(pages::settings::revoke_key),
            )
            .default_service(web::to(pages::not_found)),
    );
}
