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
    zapier::routes::config(cfg);
    admin::routes::config(cfg);
    // Last: its scope's prefix is case-insensitive, a regular expression,
    // which the requests of the dialects above need not meet.
    superoffice::routes::config(cfg);
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

/// Mounts `routes` (method, path, handler) at their paths, without a
/// scope: see [`mount_under`].
pub(crate) fn mount(
    cfg: &mut web::ServiceConfig,
    routes: Vec<(&'static str, &'static str, actix_web::Route)>,
) {
    for resource in resources(routes, str::to_string) {
        cfg.service(resource);
    }
}

/// Mounts a dialect's `routes` (method, path, handler): those whose path
/// is under `prefix` in an actix scope of `prefix`, each at the rest of its
/// path; any other at its path.
///
/// Each path is one resource, holding the routes of all its methods, whose
/// default service is the fallback ([`fallback::default_service`]: a 405
/// with `Allow` in the dialect's format). Each route names its requests in
/// their log lines and metrics by its path ([`observe::labelled`]).
///
/// Why it is built so: actix-web serves a request with the first
/// resource, in the order mounted, whose pattern matches its path, and
/// matching a pattern with a parameter is a regular expression's search.
/// A scope whose literal prefix does not match skips all its resources at
/// the cost of comparing strings; a resource is matched once whatever the
/// method. Within a scope, paths with fewer parameters are mounted first,
/// so a literal segment beats a parameter (`GET /v1/customers/batch` is a
/// 405, since `/v1/customers/batch` takes only `PUT`, not customer
/// `batch`); no two paths of as many parameters match one request path
/// (`fallback::tests::every_path_has_one_most_specific_pattern`), so the
/// first match is the most specific one.
pub(crate) fn mount_under(
    cfg: &mut web::ServiceConfig,
    prefix: &'static str,
    routes: Vec<(&'static str, &'static str, actix_web::Route)>,
) {
    mount_under_with(cfg, prefix, prefix, routes, |path| {
        path[prefix.len()..].to_string()
    });
}

/// [`mount_under`], in a scope at the pattern `scope` (which matches
/// `prefix`, and may match more: SuperOffice's paths are case-insensitive),
/// each path under `prefix` at the pattern `inner` gives for it (the part
/// after what `scope` matches).
pub(crate) fn mount_under_with(
    cfg: &mut web::ServiceConfig,
    scope: &str,
    prefix: &'static str,
    routes: Vec<(&'static str, &'static str, actix_web::Route)>,
    inner: impl Fn(&'static str) -> String,
) {
    let (inside, outside): (Vec<_>, Vec<_>) = routes.into_iter().partition(|(_, path, _)| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    });
    let scoped = resources(inside, inner)
        .into_iter()
        .fold(web::scope(scope), actix_web::Scope::service);
    for resource in resources(outside, str::to_string) {
        cfg.service(resource);
    }
    cfg.service(scoped);
}

/// One resource per path of `routes`, at the pattern `pattern` gives for
/// the path, fewest parameters first (see [`mount_under`]).
fn resources(
    routes: Vec<(&'static str, &'static str, actix_web::Route)>,
    pattern: impl Fn(&'static str) -> String,
) -> Vec<actix_web::Resource> {
    let mut paths: Vec<(&'static str, Vec<actix_web::Route>)> = Vec::new();
    for (_, path, route) in routes {
        let route = observe::labelled(route, path);
        match paths.iter_mut().find(|(p, _)| *p == path) {
            Some((_, same)) => same.push(route),
            None => paths.push((path, vec![route])),
        }
    }
    // Stable: paths of as many parameters keep their order.
    paths.sort_by_key(|(path, _)| fallback::dynamic_segments(path));
    paths
        .into_iter()
        .map(|(path, routes)| {
            routes.into_iter().fold(
                web::resource(pattern(path)).default_service(web::to(fallback::default_service)),
                actix_web::Resource::route,
            )
        })
        .collect()
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
