//! # switchboard-api
//!
//! The HTTP layer of Switchboard: a thin actix-web layer with one module per
//! vendor dialect. Each dialect owns its wire types, their conversion to and
//! from the domain, its routes, and its exact error envelope; all of them go
//! through the same [`Store`](switchboard_storage::Store), so a change made
//! through one dialect shows up in all the others.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, middleware::from_fn};
//! use switchboard_api::{ApiConfig, AppState};
//! use switchboard_storage::{Store, StoreConfig};
//!
//! # async fn run() -> std::io::Result<()> {
//! let store = Store::open("sqlite://switchboard.db", StoreConfig::default()).await.unwrap();
//! let state = AppState::new(store, ApiConfig::default());
//! HttpServer::new(move || {
//!     let state = state.clone();
//!     App::new()
//!         .wrap(from_fn(switchboard_api::observe))
//!         .configure(move |cfg| switchboard_api::configure(cfg, &state))
//! })
//! .bind(("127.0.0.1", 8080))?
//! .run()
//! .await
//! # }
//! ```

pub mod admin;
pub mod auth;
pub mod body;
pub mod changes;
pub mod chatbot;
mod config;
mod error;
pub mod fallback;
pub mod helpcrunch;
mod json_numbers;
pub mod keycache;
pub mod metrics;
mod observe;
pub mod openapi;
mod ops;
pub mod ratelimit;
mod schema_rules;
mod state;
pub mod superoffice;
mod token;
pub mod zapier;
pub mod zoho;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::web;

pub use config::ApiConfig;
pub use error::{ApiError, Dialect, DialectError, FieldError, dotted_pointer};
pub use observe::{RequestId, observe};
pub use state::AppState;

/// Mounts every route (all dialects and the operations endpoints) with the state.
pub fn configure(cfg: &mut web::ServiceConfig, state: &AppState) {
    cfg.app_data(web::Data::new(state.clone()));
    ops::config(cfg);
    helpcrunch::routes::config(cfg);
    zoho::routes::config(cfg);
    chatbot::routes::config(cfg);
    superoffice::routes::config(cfg);
    zapier::routes::config(cfg);
    admin::routes::config(cfg);
    fallback::config(cfg);
    // The UI makes no request off the machine: the online validator badge
    // (validator.swagger.io) is off, and "Try it out" is on for every
    // operation.
    cfg.service(
        utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}").config(
            utoipa_swagger_ui::Config::new(["/openapi.json"])
                .validator_url("none")
                .try_it_out_enabled(true),
        ),
    );
    cfg.route(
        "/docs",
        web::get().to(|| async {
            actix_web::HttpResponse::PermanentRedirect()
                .insert_header((actix_web::http::header::LOCATION, "/docs/"))
                .finish()
        }),
    );
    cfg.default_service(web::to(fallback::default_service));
}

/// Every mounted route: method, documented path and handler.
#[must_use]
pub fn routes() -> Vec<(&'static str, &'static str, actix_web::Route)> {
    let mut routes = ops::routes();
    routes.extend(helpcrunch::routes::routes());
    routes.extend(zoho::routes::routes());
    routes.extend(chatbot::routes::routes());
    routes.extend(superoffice::routes::routes());
    routes.extend(zapier::routes::routes());
    routes.extend(admin::routes::routes());
    routes
}

/// Mounts `routes` (method, path, handler) at their paths. A route with a
/// parameter leaves a path to a route with a literal segment there
/// (`GET /v1/customers/batch` is not customer `batch` but a 405, since
/// `/v1/customers/batch` takes only `PUT`): see [`fallback::serves`].
/// Each names its requests in their log lines and metrics by its path
/// ([`observe::labelled`]).
pub(crate) fn mount(
    cfg: &mut web::ServiceConfig,
    routes: Vec<(&'static str, &'static str, actix_web::Route)>,
) {
    for (_, path, route) in routes {
        let route = if path.contains('{') {
            route.guard(actix_web::guard::fn_guard(move |ctx| {
                fallback::serves(path, ctx.head().uri.path())
            }))
        } else {
            route
        };
        cfg.route(path, observe::labelled(route, path));
    }
}

/// A query parameter that must be a whole number from `min` to `max`
/// (spaces around it allowed): `default` when it is absent, `None` when it
/// is not such a number (the dialect names the part in its own words).
pub(crate) fn bounded_param(v: Option<&str>, default: u64, min: u64, max: u64) -> Option<u64> {
    match v {
        None => Some(default),
        Some(s) => s
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n)),
    }
}

/// Writes the `X-RateLimit-*` headers for a decision.
pub(crate) fn ratelimit_headers(headers: &mut HeaderMap, d: &ratelimit::RateDecision) {
    let pairs = [
        ("x-ratelimit-limit", d.limit.to_string()),
        ("x-ratelimit-remaining", d.remaining.to_string()),
        ("x-ratelimit-reset", d.reset_secs.to_string()),
    ];
    for (name, value) in pairs {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
}
