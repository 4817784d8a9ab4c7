//! Operations endpoints: liveness, readiness, metrics, the OpenAPI document and its docs page.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::AppState;
use crate::metrics::ExternalCounter;

/// The operations routes: method, path and handler.
pub(crate) fn routes() -> Vec<(&'static str, &'static str, actix_web::Route)> {
    vec![
        ("GET", "/healthz", web::get().to(healthz)),
        ("GET", "/readyz", web::get().to(readyz)),
        ("GET", "/metrics", web::get().to(metrics)),
        ("GET", "/openapi.json", web::get().to(openapi_json)),
    ]
}

/// Mounts the operations routes.
pub(crate) fn config(cfg: &mut web::ServiceConfig) {
    crate::mount(cfg, routes());
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is alive", body = serde_json::Value)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness: the database is reachable and has room for writes.
///
/// Unready while the database cannot be reached, and for 30 seconds after
/// a call failed because the database is full (`storage_full`): ready again
/// by itself once space is freed, without a restart.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "The database answers and has room for writes", body = serde_json::Value),
        (status = 503, description = "The database is unreachable (`reason`: `database_unavailable`), or recent writes failed because it is full (`storage_full`)", body = serde_json::Value)))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.store().ready().await {
        Ok(()) => HttpResponse::Ok().json(json!({"status": "ready"})),
        Err(e) => {
            let reason = if e.is_disk_full() {
                "storage_full"
            } else {
                "database_unavailable"
            };
            tracing::warn!(error = %e, reason, "readiness check failed");
            HttpResponse::ServiceUnavailable()
                .json(json!({"status": "unavailable", "reason": reason}))
        }
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    // One snapshot: the three agree (an event set aside meanwhile is not
    // also counted as waiting). -1 each when the database is unreachable.
    let (backlog, pending, quarantined) = match state.store().worker().gauges().await {
        Ok(g) => (g.outbox_backlog, g.delivery_backlog, g.quarantined),
        Err(_) => (-1, -1, -1),
    };
    let cache = state.store().doc_cache_stats();
    let parsed = state.store().decoded_stats();
    #[expect(clippy::cast_precision_loss, reason = "gauges")]
    let gauges = [
        (
            "switchboard_outbox_backlog",
            "Outbox events waiting to be fanned out, quarantined ones excepted (-1 when the database is unreachable).",
            backlog as f64,
        ),
        (
            "switchboard_webhook_deliveries_pending",
            "Webhook deliveries waiting for an attempt or a retry (-1 when the database is unreachable).",
            pending as f64,
        ),
        (
            "switchboard_outbox_quarantined",
            "Outbox events quarantined because they cannot be fanned out; list them with `switchboard outbox quarantined` (-1 when the database is unreachable).",
            quarantined as f64,
        ),
        (
            "switchboard_cluster_live_nodes",
            "Live nodes on this database (heartbeats within the last 3 s) sharing each rate limit; 1 on SQLite.",
            f64::from(state.limiter().nodes()),
        ),
        (
            "switchboard_doc_cache_entries",
            "Documents in this node's document cache (PostgreSQL; 0 on SQLite or with the cache off).",
            cache.entries as f64,
        ),
        (
            "switchboard_decoded_documents",
            "Parsed documents this node holds, each with the text it was parsed from (0 with the memo off).",
            parsed.entries as f64,
        ),
    ];
    let counters: [ExternalCounter<'_>; 4] = [
        (
            "switchboard_doc_cache_modifies_total",
            "Modifies by what this node's document cache did: written (planned on the cached copy, one read saved), stale (the copy could not be written and the row was read), missed (no copy).",
            &[
                ("outcome=\"written\"", cache.written),
                ("outcome=\"stale\"", cache.stale),
                ("outcome=\"missed\"", cache.missed),
            ],
        ),
        (
            "switchboard_doc_cache_linked_total",
            "Linked rows (a conversation's customer) a modify took from the document cache instead of reading them.",
            &[("", cache.linked)],
        ),
        (
            "switchboard_documents_read_total",
            "Documents read for pages and searches, by whether this node parsed them or copied the one it had parsed from the same text.",
            &[
                ("outcome=\"parsed\"", parsed.parsed),
                ("outcome=\"reused\"", parsed.reused),
            ],
        ),
        (
            "switchboard_documents_unsent_total",
            "Of the documents reused, those PostgreSQL was not asked to send: the page read its rows' versions only, and this node held each at the version read.",
            &[("", parsed.unsent)],
        ),
    ];
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics().render(&gauges, &counters))
}

/// The OpenAPI 3 document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "This API's OpenAPI 3 document", body = serde_json::Value)))]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(crate::openapi::document())
}
