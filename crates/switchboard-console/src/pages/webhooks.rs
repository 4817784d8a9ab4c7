//! The tenant's webhooks (admins only): subscriptions with their state, a
//! subscription's delivery log with every attempt and its response
//! excerpt, redeliver, re-enable a disabled subscription, rotate a secret
//! (the new one shown once), and the tenant's quarantined outbox events
//! with requeue. Everything goes through the store's `webhooks()` handle,
//! the same operations as the Zapier REST hooks API, scoped to the
//! session's tenant.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use switchboard_domain::{DeliveryId, EventId, SubscriptionId, SubscriptionState};
use switchboard_storage::{ConsoleSession, DeliveryAttempt};

use crate::pages::{CsrfForm, html as respond, path_id, see_other};
use crate::state::ConsoleState;
use crate::{ConsoleError, render, session};

/// Deliveries a subscription's page lists.
const DELIVERIES: u32 = 50;
/// Attempts a subscription's page reads (newest first).
const ATTEMPTS: u32 = 500;
/// Quarantined events the list shows.
const QUARANTINED: u32 = 100;
/// How long the old secret stays valid after a rotation (as over the API).
const ROTATION_GRACE: std::time::Duration = switchboard_api::zapier::routes::ROTATION_GRACE;

/// `GET /console/webhooks`.
pub(crate) async fn list(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
) -> Result<HttpResponse, ConsoleError> {
    let session = session::require_admin(&req, &state).await?;
    let store = state.store();
    let tenant = session.tenant.id;
    let subs = store.webhooks().list(tenant).await?;
    let quarantined = store.webhooks().quarantined(tenant, QUARANTINED).await?;
    let tz = render::time_zone(&req);
    let csrf = &session.csrf;
    Ok(respond(render::page(
        "Webhooks",
        Some(&session),
        html! {
            h1 { "Webhooks" }
            section class="card" aria-labelledby="h-subs" {
                h2 id="h-subs" { "Subscriptions" }
                @if subs.is_empty() {
                    p class="muted" { "No subscriptions. Integrations subscribe through the REST hooks API (docs/webhooks.md)." }
                } @else {
                    div class="table-wrap" {
                        table id="subscriptions" {
                            thead { tr {
                                th scope="col" { "Subscription" }
                                th scope="col" { "Event" }
                                th scope="col" class="hide-narrow" { "Target" }
                                th scope="col" { "State" }
                                th scope="col" class="hide-narrow" { "Failing since" }
                            } }
                            tbody {
                                @for s in &subs {
                                    tr data-subscription=(s.id.get()) {
                                        td { a href=(format!("/console/webhooks/{}", s.id.get())) { "#" (s.id.get()) } }
                                        td { (s.event.as_str()) }
                                        td class="hide-narrow" { code { (s.target_url) } }
                                        td { (sub_state(s.state)) }
                                        td class="hide-narrow" { (render::maybe_time(s.failing_since, &tz)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section class="card" aria-labelledby="h-quarantine" id="quarantine" {
                h2 id="h-quarantine" { "Quarantined events" }
                p class="muted" { "Events the worker could not fan out after its tries; requeue one once its cause is fixed." }
                @if quarantined.is_empty() {
                    p class="muted" id="quarantine-empty" { "None." }
                } @else {
                    div class="table-wrap" {
                        table id="quarantined" {
                            thead { tr {
                                th scope="col" { "Event" }
                                th scope="col" { "Type" }
                                th scope="col" class="hide-narrow" { "Entity" }
                                th scope="col" { "Quarantined" }
                                th scope="col" class="hide-narrow" { "Tries" }
                                th scope="col" { "Error" }
                                th scope="col" { span class="visually-hidden" { "Action" } }
                            } }
                            tbody {
                                @for q in &quarantined {
                                    tr data-event=(q.id.get()) {
                                        td { (q.id.get()) }
                                        td { (q.event_type) }
                                        td class="hide-narrow" {
                                            @match q.entity_kind.as_str() {
                                                "conversation" => a href=(format!("/console/conversations/{}", q.entity_id)) { "conversation #" (q.entity_id) },
                                                "customer" => a href=(format!("/console/customers/{}", q.entity_id)) { "customer #" (q.entity_id) },
                                                other => { (other) " #" (q.entity_id) },
                                            }
                                        }
                                        td { (render::time(q.quarantined_at, &tz)) }
                                        td class="hide-narrow" { (q.tries) }
                                        td { (q.error.as_deref().unwrap_or("-")) }
                                        td {
                                            form method="post" action=(format!("/console/webhooks/events/{}/requeue", q.id.get())) {
                                                input type="hidden" name="csrf" value=(csrf);
                                                button type="submit" aria-label=(format!("Requeue event {}", q.id.get())) { "Requeue" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )))
}

fn sub_state(s: SubscriptionState) -> Markup {
    html! { span class=(format!("status state-{}", s.as_str())) id="subscription-state" { (s.as_str()) } }
}

/// `GET /console/webhooks/{id}`.
pub(crate) async fn detail(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let session = session::require_admin(&req, &state).await?;
    let id = SubscriptionId::new(path_id(&id)?);
    render_detail(&req, &state, &session, id, None).await
}

async fn render_detail(
    req: &HttpRequest,
    state: &ConsoleState,
    session: &ConsoleSession,
    id: SubscriptionId,
    new_secret: Option<&str>,
) -> Result<HttpResponse, ConsoleError> {
    let store = state.store();
    let tenant = session.tenant.id;
    let sub = store.webhooks().get(tenant, id).await?;
    let deliveries = store.webhooks().deliveries(tenant, id, DELIVERIES).await?;
    let mut attempts: BTreeMap<i64, Vec<DeliveryAttempt>> = BTreeMap::new();
    for a in store
        .webhooks()
        .attempts(tenant, id, None, ATTEMPTS)
        .await?
    {
        attempts.entry(a.delivery_id.get()).or_default().push(a);
    }
    let tz = render::time_zone(req);
    let csrf = &session.csrf;
    let base = format!("/console/webhooks/{}", id.get());
    let disabled = sub.state == SubscriptionState::Disabled;
    let title = format!("Subscription #{}", id.get());
    Ok(respond(render::page(
        &title,
        Some(session),
        html! {
            p { a href="/console/webhooks" { "← Webhooks" } }
            h1 { (title) }
            @if let Some(secret) = new_secret {
                section class="card" role="status" aria-labelledby="h-secret" {
                    h2 id="h-secret" { "New signing secret" }
                    p { "Copy it now: it is shown only this once. The previous secret stays valid for 24 hours (deliveries carry both signatures)." }
                    p class="secret" id="new-secret" { (secret) }
                }
            }
            section class="card" aria-labelledby="h-sub" {
                h2 id="h-sub" { "Subscription" }
                dl {
                    dt { "Event" } dd { (sub.event.as_str()) }
                    dt { "Target" } dd { code { (sub.target_url) } }
                    dt { "State" } dd { (sub_state(sub.state)) }
                    dt { "Failing since" } dd { (render::maybe_time(sub.failing_since, &tz)) }
                    dt { "Created" } dd { (render::time(sub.created_at, &tz)) }
                    dt { "Previous secret valid until" } dd { (render::maybe_time(sub.previous_secret_expires_at, &tz)) }
                }
                div class="actions" {
                    @if disabled {
                        form class="inline" method="post" action=(format!("{base}/enable")) {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" id="enable" { "Re-enable" }
                        }
                    }
                    form class="inline" method="post" action=(format!("{base}/rotate")) {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" id="rotate-secret" { "Rotate the secret" }
                    }
                }
            }
            section class="card" aria-labelledby="h-deliveries" {
                h2 id="h-deliveries" { "Delivery log" }
                @if disabled {
                    p class="muted" { "Re-enable the subscription to redeliver." }
                }
                @if deliveries.is_empty() {
                    p class="muted" { "No deliveries yet." }
                }
                ol class="deliveries" id="deliveries" {
                    @for d in &deliveries {
                        li class="card" data-delivery=(d.id.get()) {
                            strong { "Delivery " (d.id.get()) } " · " (d.event_type)
                            " · " span class="delivery-state" { (d.state.as_str()) }
                            " · " (d.attempt_count) " attempt(s)"
                            @if let Some(code) = d.last_status_code { " · last status " (code) }
                            br;
                            span class="muted" { "created " (render::time(d.created_at, &tz))
                                " · next attempt " (render::time(d.next_attempt_at, &tz))
                                " · webhook-id " code { (d.message_id) } }
                            @if !disabled {
                                form class="inline" method="post" action=(format!("{base}/deliveries/{}/redeliver", d.id.get())) {
                                    input type="hidden" name="csrf" value=(csrf);
                                    button type="submit" class="redeliver" aria-label=(format!("Redeliver delivery {}", d.id.get())) { "Redeliver" }
                                }
                            }
                            @if let Some(list) = attempts.get(&d.id.get()) {
                                ol class="attempts" {
                                    @for a in list.iter().rev() {
                                        li class="attempt" {
                                            "#" (a.attempt_no) " · " (render::time(a.started_at, &tz))
                                            " · " (a.outcome)
                                            @if let Some(code) = a.status_code { " · HTTP " (code) }
                                            " · " (a.duration_ms) " ms"
                                            @if let Some(e) = &a.error { br; span class="error" { (e) } }
                                            @if let Some(x) = &a.response_excerpt {
                                                pre class="excerpt" { (x) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )))
}

/// `POST /console/webhooks/{id}/enable`.
pub(crate) async fn enable(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    let session = session::admin_posted(&req, &state, &form.csrf).await?;
    let id = SubscriptionId::new(path_id(&id)?);
    state
        .store()
        .webhooks()
        .enable(session.tenant.id, id)
        .await?;
    Ok(see_other(&format!("/console/webhooks/{}", id.get())))
}

/// `POST /console/webhooks/{id}/rotate`: the page again, with the new
/// secret shown once.
pub(crate) async fn rotate(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    let session = session::admin_posted(&req, &state, &form.csrf).await?;
    let id = SubscriptionId::new(path_id(&id)?);
    let secret = switchboard_webhook::generate_secret()
        .map_err(|e| ConsoleError::Internal(e.to_string()))?;
    state
        .store()
        .webhooks()
        .rotate_secret(session.tenant.id, id, &secret, ROTATION_GRACE)
        .await?;
    render_detail(&req, &state, &session, id, Some(&secret)).await
}

/// `POST /console/webhooks/{id}/deliveries/{delivery}/redeliver`.
pub(crate) async fn redeliver(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    let session = session::admin_posted(&req, &state, &form.csrf).await?;
    let (id, delivery) = path.into_inner();
    let id = SubscriptionId::new(path_id(&id)?);
    let delivery = DeliveryId::new(path_id(&delivery)?);
    state
        .store()
        .webhooks()
        .redeliver(session.tenant.id, id, delivery)
        .await?;
    Ok(see_other(&format!("/console/webhooks/{}", id.get())))
}

/// `POST /console/webhooks/events/{event}/requeue`.
pub(crate) async fn requeue(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    event: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    let session = session::admin_posted(&req, &state, &form.csrf).await?;
    let event = EventId::new(path_id(&event)?);
    state
        .store()
        .webhooks()
        .requeue(session.tenant.id, event)
        .await?;
    Ok(see_other("/console/webhooks"))
}
