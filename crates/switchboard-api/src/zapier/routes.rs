//! Zapier REST-hook handlers.

use actix_web::{HttpRequest, HttpResponse, web};
use switchboard_domain::{EventType, Scope, SubscriptionId, Timestamp, WebhookSubscription};
use switchboard_storage::{DeliveryId, StorageError};

use super::samples::sample;
use super::wire::{Attempt, AttemptsPage, AttemptsQuery, Deleted, Hook, HookInput, Me, Redelivery};
use super::{Zapier, ZapierError};
use crate::auth::{Principal, principal};
use crate::body::{parse_json, read_body, require_json};
use crate::{ApiError, AppState};

type ZapierResult = Result<HttpResponse, ZapierError>;

/// Most subscriptions one tenant may have.
pub const MAX_SUBSCRIPTIONS: usize = 1000;

/// How long the previous secret keeps signing after a rotation.
pub const ROTATION_GRACE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// How many recent payloads `GET /zapier/v1/samples/{event}` returns at most.
pub const SAMPLE_COUNT: u32 = 3;

/// Every Zapier route.
pub(crate) fn routes() -> Vec<(&'static str, &'static str, actix_web::Route)> {
    vec![
        ("GET", "/zapier/v1/me", web::get().to(me)),
        ("GET", "/zapier/v1/hooks", web::get().to(list_hooks)),
        ("POST", "/zapier/v1/hooks", web::post().to(create_hook)),
        (
            "DELETE",
            "/zapier/v1/hooks/{id}",
            web::delete().to(delete_hook),
        ),
        (
            "GET",
            "/zapier/v1/hooks/{id}/deliveries",
            web::get().to(list_deliveries),
        ),
        (
            "POST",
            "/zapier/v1/hooks/{id}/deliveries/{delivery_id}/redeliver",
            web::post().to(redeliver),
        ),
        (
            "POST",
            "/zapier/v1/hooks/{id}/rotate-secret",
            web::post().to(rotate_secret),
        ),
        ("GET", "/zapier/v1/samples/{event}", web::get().to(samples)),
    ]
}

/// Mounts the Zapier routes.
pub fn config(cfg: &mut web::ServiceConfig) {
    crate::mount_under(cfg, "/zapier", routes());
}

async fn caller(
    state: &AppState,
    req: &HttpRequest,
    scope: Option<Scope>,
) -> Result<Principal, ZapierError> {
    principal::<Zapier>(state, req, scope).await
}

/// The caller of a route that shows subscriptions (their target URLs — a
/// Zapier hook URL is a credential — and delivery logs): the key needs a
/// webhooks scope, `webhooks.CREATE` or `webhooks.DELETE`; read scopes of
/// customers and conversations are not enough.
async fn webhooks_caller(state: &AppState, req: &HttpRequest) -> Result<Principal, ZapierError> {
    let p = caller(state, req, None).await?;
    if p.key.allows(Scope::WebhooksCreate) || p.key.allows(Scope::WebhooksDelete) {
        Ok(p)
    } else {
        Err(ApiError::Forbidden(Scope::WebhooksCreate).into())
    }
}

fn storage(e: StorageError, not_found: &str) -> ZapierError {
    ApiError::from_storage_naming(e, not_found, &|p: &str| {
        p.trim_start_matches('/').to_string()
    })
    .into()
}

fn hook_id(raw: &str) -> Result<SubscriptionId, ZapierError> {
    raw.parse()
        .map_err(|_| ApiError::NotFound("hook not found".into()).into())
}

fn event_names() -> String {
    EventType::ALL
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn hook(s: &WebhookSubscription, secret: bool, now: Timestamp) -> Hook {
    let WebhookSubscription {
        id,
        tenant_id: _,
        target_url,
        event,
        secret: current,
        previous_secret: _,
        previous_secret_expires_at,
        state,
        failing_since,
        created_at,
    } = s;
    Hook {
        id: id.get(),
        event: event.as_str().to_string(),
        target_url: target_url.clone(),
        secret: secret.then(|| current.clone()),
        previous_secret_expires_at: previous_secret_expires_at
            .filter(|t| *t > now)
            .map(|t| t.as_millis()),
        state: state.as_str().to_string(),
        failing_since: failing_since.map(|t| t.as_millis()),
        created_at: created_at.as_millis(),
    }
}

/// The auth test: answers with the tenant and the key's label.
#[utoipa::path(get, path = "/zapier/v1/me", tag = "zapier", security(("bearer" = [])),
    responses((status = 200, description = "The key is valid", body = Me),
        (status = 401, description = "`{\"error\": \"…\", \"code\": \"unauthorized\"}` explaining how to send the key")))]
pub async fn me(state: web::Data<AppState>, req: HttpRequest) -> ZapierResult {
    let p = caller(&state, &req, None).await?;
    Ok(HttpResponse::Ok().json(Me {
        company_username: p.tenant.name.clone(),
        key_label: p.key.name.clone(),
        scopes: p
            .key
            .scopes
            .iter()
            .map(|s| s.as_str().to_string())
            .collect(),
    }))
}

/// List the tenant's subscriptions (secrets are not shown). Needs
/// `webhooks.CREATE` or `webhooks.DELETE`: target URLs are credentials.
#[utoipa::path(get, path = "/zapier/v1/hooks", tag = "zapier", security(("bearer" = [])),
    responses((status = 200, description = "Every subscription, oldest first", body = Vec<Hook>),
        (status = 403, description = "The key has neither webhooks.CREATE nor webhooks.DELETE")))]
pub async fn list_hooks(state: web::Data<AppState>, req: HttpRequest) -> ZapierResult {
    let p = webhooks_caller(&state, &req).await?;
    let subs = state
        .store()
        .webhooks()
        .list(p.tenant.id)
        .await
        .map_err(|e| storage(e, "hook not found"))?;
    Ok(HttpResponse::Ok().json(
        subs.iter()
            .map(|s| hook(s, false, state.store().now()))
            .collect::<Vec<_>>(),
    ))
}

/// Subscribe (Zapier `performSubscribe`). The target must be a public
/// http(s) address. The response carries the signing secret, shown once.
#[utoipa::path(post, path = "/zapier/v1/hooks", tag = "zapier", security(("bearer" = [])),
    request_body = HookInput,
    responses((status = 201, description = "Subscribed", body = Hook),
        (status = 400, description = "Unknown event, or a bad, private or unresolvable target_url"),
        (status = 403, description = "The key lacks webhooks.CREATE"),
        (status = 409, description = "Too many subscriptions")))]
pub async fn create_hook(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ZapierResult {
    let p = caller(&state, &req, Some(Scope::WebhooksCreate)).await?;
    require_json(&req)?;
    let bytes = read_body(payload, state.config().body_limit).await?;
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::bad_request(
            "body",
            "invalid_json",
            "the body must be a JSON object",
        )
        .into());
    }
    let input: HookInput = parse_json(&bytes)?;
    let target = input
        .target_url
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request("target_url", "required", "is required"))?;
    let event_name = input
        .event
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("event", "required", "is required"))?;
    let event: EventType = event_name.trim().parse().map_err(|_| {
        ApiError::bad_request(
            "event",
            "unknown_event",
            format!("unknown event; use one of: {}", event_names()),
        )
    })?;
    let url = switchboard_webhook::check_target(&target, state.webhook_targets())
        .await
        .map_err(|e| {
            // The client learns only that the target is not allowed (the
            // address would map internal names); the operator's log has it.
            tracing::warn!(tenant = %p.tenant.name, detail = %e.detail(), "webhook target refused");
            ApiError::bad_request("target_url", "invalid_target", e.to_string())
        })?;
    let store = state.store();
    let existing = store
        .webhooks()
        .list(p.tenant.id)
        .await
        .map_err(|e| storage(e, "hook not found"))?;
    if existing.len() >= MAX_SUBSCRIPTIONS {
        return Err(ApiError::Conflict(format!(
            "a tenant may have at most {MAX_SUBSCRIPTIONS} subscriptions; delete some first"
        ))
        .into());
    }
    let secret = switchboard_webhook::generate_secret().map_err(|e| {
        tracing::error!(error = %e, "cannot generate a webhook secret");
        ZapierError::from(ApiError::Internal)
    })?;
    let sub = WebhookSubscription::new(
        p.tenant.id,
        url.to_string(),
        event,
        secret,
        state.store().now(),
    );
    let created = store
        .webhooks()
        .create(sub)
        .await
        .map_err(|e| storage(e, "hook not found"))?;
    Ok(HttpResponse::Created().json(hook(&created, true, state.store().now())))
}

/// Unsubscribe (Zapier `performUnsubscribe`); pending deliveries of the
/// subscription are cancelled with it.
#[utoipa::path(delete, path = "/zapier/v1/hooks/{id}", tag = "zapier", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Subscription id")),
    responses((status = 200, description = "Unsubscribed. The same answer when the hook is already gone (Zapier retries an unsubscribe), so it reveals nothing about whether the hook existed", body = Deleted),
        (status = 403, description = "The key lacks webhooks.DELETE"),
        (status = 404, description = "The id is not a subscription id")))]
pub async fn delete_hook(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ZapierResult {
    let p = caller(&state, &req, Some(Scope::WebhooksDelete)).await?;
    let id = hook_id(&path)?;
    match state.store().webhooks().delete(p.tenant.id, id).await {
        // Already gone (or never the tenant's): unsubscribing is done.
        Ok(_) | Err(StorageError::NotFound) => {}
        Err(e) => return Err(storage(e, "hook not found")),
    }
    Ok(HttpResponse::Ok().json(Deleted {
        id: id.get(),
        deleted: true,
    }))
}

/// The delivery log of one subscription: every attempt, newest first.
#[utoipa::path(get, path = "/zapier/v1/hooks/{id}/deliveries", tag = "zapier", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Subscription id"), AttemptsQuery),
    responses((status = 200, description = "A page of attempts", body = AttemptsPage),
        (status = 403, description = "The key has neither webhooks.CREATE nor webhooks.DELETE"),
        (status = 404, description = "No such hook")))]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ZapierResult {
    let p = webhooks_caller(&state, &req).await?;
    let id = hook_id(&path)?;
    let query = AttemptsQuery::from_pairs(crate::fallback::query_pairs(&req)?);
    let limit = match query.limit {
        None => 20,
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request("limit", "invalid_param", "limit must be between 1 and 100")
            })?,
    };
    let before = match query.before {
        None => None,
        Some(s) => Some(s.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            ApiError::bad_request(
                "before",
                "invalid_param",
                "before must be a positive attempt id",
            )
        })?),
    };
    let store = state.store();
    store
        .webhooks()
        .get(p.tenant.id, id)
        .await
        .map_err(|e| storage(e, "hook not found"))?;
    let mut rows = store
        .webhooks()
        .attempts(p.tenant.id, id, before, limit + 1)
        .await
        .map_err(|e| storage(e, "hook not found"))?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let next_before = if more {
        rows.last().map(|a| a.id)
    } else {
        None
    };
    let data = rows
        .into_iter()
        .map(|a| Attempt {
            id: a.id,
            delivery_id: a.delivery_id.get(),
            webhook_id: a.message_id,
            event: a.event_type,
            attempt: a.attempt_no,
            started_at: a.started_at.as_millis(),
            duration_ms: a.duration_ms,
            status_code: a.status_code,
            outcome: a.outcome,
            error: a.error,
            response_excerpt: a.response_excerpt,
        })
        .collect();
    Ok(HttpResponse::Ok().json(AttemptsPage { data, next_before }))
}

/// Send a delivery again now, with the same `webhook-id`.
#[utoipa::path(post, path = "/zapier/v1/hooks/{id}/deliveries/{delivery_id}/redeliver", tag = "zapier",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Subscription id"), ("delivery_id" = i64, Path, description = "Delivery id")),
    responses((status = 202, description = "Queued for an attempt now", body = Redelivery),
        (status = 403, description = "The key lacks webhooks.CREATE"),
        (status = 404, description = "No such hook or delivery"),
        (status = 409, description = "The subscription is disabled")))]
pub async fn redeliver(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ZapierResult {
    let p = caller(&state, &req, Some(Scope::WebhooksCreate)).await?;
    let (hook_raw, delivery_raw) = path.into_inner();
    let id = hook_id(&hook_raw)?;
    let delivery: DeliveryId = delivery_raw
        .parse()
        .map_err(|_| ZapierError::from(ApiError::NotFound("delivery not found".into())))?;
    let d = state
        .store()
        .webhooks()
        .redeliver(p.tenant.id, id, delivery)
        .await
        .map_err(|e| storage(e, "hook or delivery not found"))?;
    Ok(HttpResponse::Accepted().json(Redelivery {
        delivery_id: d.id.get(),
        webhook_id: d.message_id,
        event: d.event_type,
        state: d.state.as_str().to_string(),
        attempts: d.attempt_count,
    }))
}

/// Rotate the signing secret: the response carries the new secret (shown
/// once); for 24 hours deliveries carry signatures by both secrets.
#[utoipa::path(post, path = "/zapier/v1/hooks/{id}/rotate-secret", tag = "zapier", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Subscription id")),
    responses((status = 200, description = "The subscription with its new secret", body = Hook),
        (status = 403, description = "The key lacks webhooks.CREATE"),
        (status = 404, description = "No such hook")))]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ZapierResult {
    let p = caller(&state, &req, Some(Scope::WebhooksCreate)).await?;
    let id = hook_id(&path)?;
    let secret = switchboard_webhook::generate_secret().map_err(|e| {
        tracing::error!(error = %e, "cannot generate a webhook secret");
        ZapierError::from(ApiError::Internal)
    })?;
    let sub = state
        .store()
        .webhooks()
        .rotate_secret(p.tenant.id, id, &secret, ROTATION_GRACE)
        .await
        .map_err(|e| storage(e, "hook not found"))?;
    Ok(HttpResponse::Ok().json(hook(&sub, true, state.store().now())))
}

fn read_scope(event: EventType) -> Scope {
    match event {
        EventType::CustomerCreated | EventType::CustomerUpdated | EventType::CustomerDeleted => {
            Scope::CustomersRead
        }
        _ => Scope::ConversationsRead,
    }
}

/// Recent payloads of an event (Zapier `performList`), newest first, in
/// exactly the delivered shape; one realistic sample when there are none.
#[utoipa::path(get, path = "/zapier/v1/samples/{event}", tag = "zapier", security(("bearer" = [])),
    params(("event" = String, Path, description = "An event name, e.g. `email_updated`")),
    responses((status = 200, description = "Payloads, newest first", body = Vec<serde_json::Value>),
        (status = 403, description = "The key lacks webhooks.CREATE and the event's read scope"),
        (status = 404, description = "Unknown event")))]
pub async fn samples(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ZapierResult {
    let p = caller(&state, &req, None).await?;
    let event: EventType = path.parse().map_err(|_| {
        ZapierError::from(ApiError::NotFound(format!(
            "unknown event; use one of: {}",
            event_names()
        )))
    })?;
    if !p.key.allows(Scope::WebhooksCreate) {
        p.require(read_scope(event))?;
    }
    let mut payloads = state
        .store()
        .webhooks()
        .recent_payloads(p.tenant.id, event, SAMPLE_COUNT)
        .await
        .map_err(|e| storage(e, "not found"))?;
    if payloads.is_empty() {
        payloads.push(sample(
            event,
            p.tenant.id,
            &p.tenant.name,
            state.store().now(),
        ));
    }
    Ok(HttpResponse::Ok().json(payloads))
}
