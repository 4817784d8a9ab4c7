//! One conversation: the visitor, the linked customer's card, the custom
//! info panel, first and last message, the actions (status, assignee,
//! department, custom info) and the history timeline.
//!
//! Every action is a `ConversationUpdate` applied by the storage engine,
//! exactly as a dialect applies one: the same rules, events, webhooks and
//! history, recorded as API `console` by the agent (`Actor::Agent`).

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;
use switchboard_domain::{
    Actor, AgentId, Conversation, ConversationId, ConversationLinks, ConversationStatus,
    ConversationUpdate, Customer, DepartmentId, Patch,
};
use switchboard_storage::{ConsoleSession, HistoryEntry, LinkSet, Precondition, WriteContext};

use crate::pages::{HISTORY, PageParams, field_id, html as respond, path_id, see_other};
use crate::state::ConsoleState;
use crate::{ConsoleError, render, session};

/// The API name console changes are recorded under.
pub(crate) const API: &str = "console";

fn conversation_id(raw: &str) -> Result<ConversationId, ConsoleError> {
    path_id(raw).map(ConversationId::new)
}

/// `GET /console/conversations/{id}`.
pub(crate) async fn page(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    id: web::Path<String>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, ConsoleError> {
    let session = session::require(&req, &state).await?;
    let id = conversation_id(&id)?;
    let store = state.store();
    let tenant = session.tenant.id;
    let since = store.console().last_event_id().await?;
    let conv = store.conversations().get(tenant, id).await?;
    let links = store
        .conversations()
        .links_of(tenant, &conv, LinkSet::ALL)
        .await?;
    let history = store.conversations().history(tenant, id, HISTORY).await?;
    let names = render::Names::of(store, tenant).await?;
    let departments = store.admin().departments(tenant).await?;
    let tz = render::time_zone(&req);
    let view = View {
        session: &session,
        conv: &conv,
        links: &links,
        history: &history,
        tz: &tz,
    };
    let live = html! {
        (view.details())
        (view.actions(&names.agents, &departments))
        (render::timeline(view.history, &names, view.tz))
    };
    if params.fragment.is_some() {
        return Ok(respond(live));
    }
    let title = format!("Conversation #{}", conv.id.get());
    let customer = conv.customer_id.map(|c| c.get().to_string());
    Ok(respond(render::page(
        &title,
        Some(&session),
        html! {
            p { a href="/console/inbox" { "← Inbox" } }
            h1 { (title) " " span id="live-status" class="muted" aria-live="polite" {} }
            div id="live" data-live=(format!("conversation:{}", conv.id.get()))
                data-customer=[customer] data-since=(since)
                hx-get=(format!("/console/conversations/{}?fragment=live", conv.id.get()))
                hx-trigger="refresh" hx-swap="innerHTML" {
                (live)
            }
        },
    )))
}

struct View<'a> {
    session: &'a ConsoleSession,
    conv: &'a Conversation,
    links: &'a ConversationLinks,
    history: &'a [HistoryEntry],
    tz: &'a jiff::tz::TimeZone,
}

pub(crate) fn field(label: &str, value: Option<&str>) -> Markup {
    html! { dt { (label) } dd { (value.unwrap_or("-")) } }
}

impl View<'_> {
    fn details(&self) -> Markup {
        let c = self.conv;
        let v = &c.visitor;
        html! {
            div class="grid" {
                div {
                    section class="card" aria-labelledby="h-visitor" id="visitor" {
                        h2 id="h-visitor" { "Visitor" }
                        dl {
                            (field("Name", v.name.as_deref()))
                            (field("Email", v.email.as_deref()))
                            (field("Phone", v.phone.as_deref()))
                            (field("Company", v.company.as_deref()))
                            (field("Country", v.country.as_deref()))
                            dt { "Status" } dd id="conversation-status" { (render::status(c.status)) }
                            dt { "Assignee" } dd id="conversation-assignee" { (self.links.assignee(c).map_or("-", |a| a.name.as_str())) }
                            dt { "Department" } dd { (self.links.department.as_ref().map_or("-", |d| d.name.as_str())) }
                            dt { "Created" } dd { (render::time(c.created_at, self.tz)) }
                            dt { "Last activity" } dd { (render::time(c.updated_at, self.tz)) }
                            dt { "Closed" } dd { (render::maybe_time(c.closed_at, self.tz)) }
                        }
                    }
                    section class="card" aria-labelledby="h-messages" {
                        h2 id="h-messages" { "Messages" }
                        dl {
                            dt { "First" } dd id="first-message" { (c.first_message.as_deref().unwrap_or("-")) }
                            dt { "Last" } dd id="last-message" { (c.last_message.as_deref().unwrap_or("-")) }
                            dt { "Last message at" } dd { (render::maybe_time(c.last_message_at, self.tz)) }
                        }
                    }
                }
                div {
                    section class="card" aria-labelledby="h-info" id="custom-info" {
                        h2 id="h-info" { "Custom info" }
                        (kv(&c.custom_info, "custom-info-list", "No custom info."))
                    }
                    (customer_card(self.links.customer.as_ref(), self.tz))
                }
            }
        }
    }

    fn actions(
        &self,
        agents: &[switchboard_domain::Agent],
        departments: &[switchboard_domain::Department],
    ) -> Markup {
        let c = self.conv;
        let base = format!("/console/conversations/{}", c.id.get());
        let csrf = &self.session.csrf;
        html! {
            section class="card" aria-labelledby="h-actions" {
                h2 id="h-actions" { "Actions" }
                form class="inline" method="post" action=(format!("{base}/status")) {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="a-status" { "Status" }
                    select id="a-status" name="status" {
                        @for s in ConversationStatus::ALL {
                            option value=(s.as_str()) selected[c.status == s] { (s.as_str()) }
                        }
                    }
                    button type="submit" id="set-status" { "Set status" }
                }
                form class="inline" method="post" action=(format!("{base}/assignee")) {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="a-assignee" { "Assignee" }
                    select id="a-assignee" name="assignee" {
                        option value="" selected[c.assignee_id.is_none()] { "Unassigned" }
                        @for a in agents {
                            option value=(a.id.get()) selected[c.assignee_id == Some(a.id)] { (a.name) }
                        }
                    }
                    button type="submit" id="set-assignee" { "Assign" }
                }
                form class="inline" method="post" action=(format!("{base}/department")) {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="a-department" { "Department" }
                    select id="a-department" name="department" {
                        option value="" selected[c.department_id.is_none()] { "None" }
                        @for d in departments {
                            option value=(d.id.get()) selected[c.department_id == Some(d.id)] { (d.name) }
                        }
                    }
                    button type="submit" id="set-department" { "Move" }
                }
                form class="inline" method="post" action=(format!("{base}/info")) {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="a-info-key" { "Custom info key" }
                    input id="a-info-key" name="key" required maxlength="100";
                    label for="a-info-value" { "Value (empty removes it)" }
                    input id="a-info-value" name="value";
                    button type="submit" id="set-info" { "Save info" }
                }
            }
        }
    }
}

pub(crate) fn kv(map: &BTreeMap<String, Value>, id: &str, empty: &str) -> Markup {
    html! {
        @if map.is_empty() {
            p class="muted" id=(id) { (empty) }
        } @else {
            dl id=(id) {
                @for (k, v) in map {
                    dt { (k) } dd { (render::value(v)) }
                }
            }
        }
    }
}

fn customer_card(customer: Option<&Customer>, tz: &jiff::tz::TimeZone) -> Markup {
    html! {
        section class="card" aria-labelledby="h-customer" id="customer" {
            h2 id="h-customer" { "Customer" }
            @if let Some(cu) = customer {
                p { a id="customer-link" href=(format!("/console/customers/{}", cu.id.get())) { "Open the customer" } }
                dl {
                    (field("Name", cu.name.as_deref()))
                    (field("Email", cu.email.as_deref()))
                    (field("Phone", cu.phone.as_deref()))
                    (field("Company", cu.company.as_deref()))
                    (field("User id", cu.user_id.as_deref()))
                    dt { "Last seen" } dd { (render::maybe_time(cu.last_seen, tz)) }
                }
                @if !cu.tags.is_empty() {
                    p id="customer-tags" {
                        @for t in &cu.tags {
                            span class="tag" style=(format!("background:{}", t.color)) { (t.name) }
                        }
                    }
                }
                h2 { "Custom data" }
                (kv(&cu.custom_data, "customer-data", "No custom data."))
            } @else {
                p class="muted" { "No linked customer." }
            }
        }
    }
}

pub(crate) fn ctx(session: &ConsoleSession) -> WriteContext {
    WriteContext::new(session.tenant.clone(), Actor::Agent(session.agent.id), API)
}

async fn apply(
    req: &HttpRequest,
    state: &ConsoleState,
    raw_id: &str,
    csrf: &str,
    update: ConversationUpdate,
) -> Result<HttpResponse, ConsoleError> {
    let session = session::posted(req, state, csrf).await?;
    let id = conversation_id(raw_id)?;
    update
        .validate()
        .map_err(|e| ConsoleError::BadRequest(e.to_string()))?;
    state
        .store()
        .conversations()
        .apply(&ctx(&session), id, Precondition::NONE, update)
        .await?;
    Ok(see_other(&format!("/console/conversations/{}", id.get())))
}

/// The status form.
#[derive(Debug, Deserialize)]
pub(crate) struct StatusForm {
    #[serde(default)]
    csrf: String,
    status: String,
}

/// `POST /console/conversations/{id}/status`.
pub(crate) async fn set_status(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    id: web::Path<String>,
    form: web::Form<StatusForm>,
) -> Result<HttpResponse, ConsoleError> {
    let status: ConversationStatus = form
        .status
        .parse()
        .map_err(|e: switchboard_domain::UnknownStatus| ConsoleError::BadRequest(e.to_string()))?;
    let update = ConversationUpdate {
        status: Patch::Value(status),
        ..ConversationUpdate::default()
    };
    apply(&req, &state, &id, &form.csrf, update).await
}

fn optional_id(raw: &str, what: &str) -> Result<Patch<i64>, ConsoleError> {
    if raw.is_empty() {
        return Ok(Patch::Null);
    }
    field_id(raw, what).map(Patch::Value)
}

/// The assignee form.
#[derive(Debug, Deserialize)]
pub(crate) struct AssigneeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    assignee: String,
}

/// `POST /console/conversations/{id}/assignee`.
pub(crate) async fn set_assignee(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    id: web::Path<String>,
    form: web::Form<AssigneeForm>,
) -> Result<HttpResponse, ConsoleError> {
    let update = ConversationUpdate {
        assignee_id: optional_id(&form.assignee, "assignee")?.map(AgentId::new),
        ..ConversationUpdate::default()
    };
    apply(&req, &state, &id, &form.csrf, update).await
}

/// The department form.
#[derive(Debug, Deserialize)]
pub(crate) struct DepartmentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    department: String,
}

/// `POST /console/conversations/{id}/department`.
pub(crate) async fn set_department(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    id: web::Path<String>,
    form: web::Form<DepartmentForm>,
) -> Result<HttpResponse, ConsoleError> {
    let update = ConversationUpdate {
        department_id: optional_id(&form.department, "department")?.map(DepartmentId::new),
        ..ConversationUpdate::default()
    };
    apply(&req, &state, &id, &form.csrf, update).await
}

/// The custom info form: one key, its new text value (empty removes it).
#[derive(Debug, Deserialize)]
pub(crate) struct InfoForm {
    #[serde(default)]
    csrf: String,
    key: String,
    #[serde(default)]
    value: String,
}

/// `POST /console/conversations/{id}/info`.
pub(crate) async fn set_info(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    id: web::Path<String>,
    form: web::Form<InfoForm>,
) -> Result<HttpResponse, ConsoleError> {
    let value = if form.value.is_empty() {
        Value::Null
    } else {
        Value::String(form.value.clone())
    };
    let update = ConversationUpdate {
        custom_info_changes: BTreeMap::from([(form.key.trim().to_string(), value)]),
        ..ConversationUpdate::default()
    };
    apply(&req, &state, &id, &form.csrf, update).await
}
