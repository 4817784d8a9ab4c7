//! The request middleware: request ids, one structured log line per
//! request, metrics, and rate-limit headers.

use std::borrow::Cow;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use tracing::Instrument;

use crate::AppState;
use crate::auth::Authenticated;
use crate::ratelimit::RateDecision;

/// The request id of the current request (from `X-Request-Id`, or generated).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Marks a request that changes nothing although its method is not `GET`
/// (a search sent by `POST`): when it succeeds it wakes no webhook worker
/// and no console live page, and no other node is told of a write.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadOnly;

/// Marks `req` as [`ReadOnly`].
pub(crate) fn read_only(req: &actix_web::HttpRequest) {
    req.extensions_mut().insert(ReadOnly);
}

/// The documented path of the route that served a request (e.g.
/// `/api/v1/ChatSession/{id}`), the `route` of its log line and metrics.
#[derive(Debug, Clone, Copy)]
struct RouteLabel(&'static str);

/// `route`, which serves `path`, with a last guard that labels the
/// request it is chosen for with `path` ([`RouteLabel`]). actix-web checks
/// a route's guards in order and takes the first route whose guards all
/// pass, so the label is set only by the route that serves the request,
/// and [`observe`] need not match the path against every pattern again
/// (`HttpRequest::match_pattern`, by regex for SuperOffice's
/// case-insensitive paths). Its metrics then name the route as its
/// vendor documents it rather than by the pattern it is mounted at.
pub(crate) fn labelled(route: actix_web::Route, path: &'static str) -> actix_web::Route {
    route.guard(actix_web::guard::fn_guard(move |ctx| {
        ctx.req_data_mut().insert(RouteLabel(path));
        true
    }))
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn new_request_id() -> String {
    crate::token::random_hex("req-", 8).unwrap_or_else(|| "req-unknown".into())
}

/// Wrap the app with `actix_web::middleware::from_fn(switchboard_api::observe)`.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(new_request_id, str::to_string);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().to_string();
    let path = req.path().to_string();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    // Every log line of the request, in handlers and in storage, carries
    // its request id.
    let span = tracing::info_span!("request", request_id = %id);
    let mut res = next.call(req).instrument(span.clone()).await?;
    let _entered = span.enter();
    // A route mounted by `labelled` names itself; any other request (a
    // 405 from the fallback, the docs, the console) is named by the
    // pattern its path matches.
    let label = res.request().extensions().get::<RouteLabel>().copied();
    let route: Cow<'static, str> = match label {
        Some(RouteLabel(path)) => Cow::Borrowed(path),
        None => Cow::Owned(
            res.request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".to_string()),
        ),
    };
    let status = res.status().as_u16();
    let decision = res.request().extensions().get::<RateDecision>().copied();
    let authenticated = res.request().extensions().get::<Authenticated>().copied();
    let wrote = !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS")
        && res.request().extensions().get::<ReadOnly>().is_none();
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        headers.insert(X_REQUEST_ID, v);
    }
    if let Some(d) = decision {
        crate::ratelimit_headers(headers, &d);
    }
    let elapsed = start.elapsed();
    if let Some(state) = state {
        // A 401 after the key was verified means storage found the key's
        // tenant gone (`TenantGone`): forget its keys now rather than when
        // the cache entries expire.
        if let (401, Some(Authenticated(tenant))) = (status, authenticated) {
            state.keys().forget_tenant(tenant);
        }
        state
            .metrics()
            .observe_request(&method, &route, status, elapsed);
        // A successful write may have committed outbox events: wake the
        // webhook worker (and the console's live pages) so they are
        // delivered at once, and tell the other nodes (no database round
        // trip: see `Store::committed`). A search is not a write.
        if status < 400 && wrote {
            state.wakeup().notify();
            state.store().committed();
        }
    }
    let ms = elapsed.as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::error!(%method, %route, %path, status, duration_ms = ms, "request");
    } else {
        tracing::info!(%method, %route, %path, status, duration_ms = ms, "request");
    }
    Ok(res)
}
