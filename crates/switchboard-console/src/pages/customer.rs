//! One customer: its fields, tags (in the tenant's catalogue colours),
//! typed custom attributes with an editor per type, its conversations and
//! its history timeline.
//!
//! Every edit is a change applied by the storage engine
//! (`customers().update`), exactly as a dialect applies one: the domain's
//! rules judge the result (a bad value comes back with the domain's message
//! and nothing is stored), with the same events, webhooks and history,
//! recorded as API `console` by the agent.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;
use switchboard_domain::query::{Condition, ConversationField, Filter, Op, Page, Query, Sort};
use switchboard_domain::{
    AttributeSet, AttributeType, Conversation, Customer, CustomerId, Tag, Timestamp,
};
use switchboard_storage::{ConsoleSession, LinkSet, Precondition};

use crate::pages::conversation::{ctx, field};
use crate::pages::{HISTORY, PageParams, path_id, see_other};
use crate::state::ConsoleState;
use crate::{ConsoleError, render, session};

/// How many of the customer's conversations the page lists.
const CONVERSATIONS: u32 = 50;

fn customer_id(raw: &str) -> Result<CustomerId, ConsoleError> {
    path_id(raw).map(CustomerId::new)
}

/// `GET /console/customers/{id}`.
pub(crate) async fn page(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    id: web::Path<String>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, ConsoleError> {
    let session = session::require(&req, &state).await?;
    let id = customer_id(&id)?;
    render_page(&req, &state, &session, id, None, params.fragment.is_some()).await
}

/// The page (or only its live part), with `error` shown on top (then
/// answered `400`).
async fn render_page(
    req: &HttpRequest,
    state: &ConsoleState,
    session: &ConsoleSession,
    id: CustomerId,
    error: Option<&str>,
    fragment: bool,
) -> Result<HttpResponse, ConsoleError> {
    let store = state.store();
    let tenant = session.tenant.id;
    let since = store.console().last_event_id().await?;
    let customer = store.customers().get(tenant, id).await?;
    let attributes = store.admin().attributes(tenant).await?;
    let catalogue = store.admin().tags(tenant).await?;
    let history = store.customers().history(tenant, id, HISTORY).await?;
    let names = render::Names::of(store, tenant).await?;
    let conversations = {
        let filter = Condition::new(
            ConversationField::Customer,
            Op::Eq,
            vec![switchboard_domain::query::Value::Int(id.get())],
        )
        .map(Filter::Cond)
        .map_err(|e| ConsoleError::BadRequest(e.to_string()))?;
        let sort = Sort::new(ConversationField::UpdatedAt, true)
            .map_err(|e| ConsoleError::BadRequest(e.to_string()))?;
        let query = Query::new(Some(filter), sort, Page::First, CONVERSATIONS)
            .map_err(|e| ConsoleError::BadRequest(e.to_string()))?;
        store.conversations().query(tenant, &query).await?.items
    };
    let links = store
        .conversations()
        .links(tenant, &conversations, LinkSet::ALL)
        .await?;
    let tz = render::time_zone(req);
    let csrf = &session.csrf;
    let base = format!("/console/customers/{}", id.get());
    let live = html! {
        (render::alert("customer-error", error))
        div class="grid" {
            div {
                (attributes_card(&customer, &attributes, &base, csrf))
                (fields(&customer, &base, csrf, &tz))
            }
            div {
                (tags_card(&customer, &catalogue, &base, csrf))
                (conversations_card(&conversations, &links, &tz))
            }
        }
        (render::timeline(&history, &names, &tz))
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = if fragment {
        live
    } else {
        let title = customer
            .name
            .clone()
            .or_else(|| customer.email.clone())
            .unwrap_or_else(|| format!("Customer #{}", id.get()));
        render::page(
            &title,
            Some(session),
            html! {
                p { a href="/console/inbox" { "← Inbox" } }
                h1 { (title) " " span id="live-status" class="muted" aria-live="polite" {} }
                div id="live" data-live=(format!("customer:{}", id.get()))
                    data-customer=(id.get()) data-since=(since)
                    hx-get=(format!("{base}?fragment=live"))
                    hx-trigger="refresh" hx-swap="innerHTML" {
                    (live)
                }
            },
        )
    };
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(body.into_string()))
}

fn fields(c: &Customer, base: &str, csrf: &str, tz: &jiff::tz::TimeZone) -> Markup {
    let text = |id: &str, name: &str, label: &str, kind: &str, value: Option<&str>| {
        html! {
            label for=(id) { (label)
                input id=(id) type=(kind) name=(name) value=(value.unwrap_or(""));
            }
        }
    };
    html! {
        section class="card" aria-labelledby="h-fields" id="customer-fields" {
            h2 id="h-fields" { "Customer" }
            dl {
                (field("User id", c.user_id.as_deref()))
                dt { "First seen" } dd { (render::maybe_time(c.first_seen, tz)) }
                dt { "Last seen" } dd { (render::maybe_time(c.last_seen, tz)) }
                dt { "Created" } dd { (render::time(c.created_at, tz)) }
                dt { "Updated" } dd { (render::time(c.updated_at, tz)) }
            }
            form class="stack wide" method="post" action=(format!("{base}/fields")) novalidate {
                input type="hidden" name="csrf" value=(csrf);
                (text("c-name", "name", "Name", "text", c.name.as_deref()))
                (text("c-email", "email", "Email", "email", c.email.as_deref()))
                (text("c-phone", "phone", "Phone", "tel", c.phone.as_deref()))
                (text("c-company", "company", "Company", "text", c.company.as_deref()))
                label for="c-notes" { "Notes"
                    textarea id="c-notes" name="notes" rows="3" { (c.notes.as_deref().unwrap_or("")) }
                }
                button type="submit" id="save-fields" { "Save customer" }
            }
        }
    }
}

/// The value of a stored attribute as its editor shows it.
fn editor_value(kind: AttributeType, v: Option<&Value>) -> String {
    match (kind, v) {
        (_, None | Some(Value::Null)) => String::new(),
        (AttributeType::Date, Some(Value::Number(n))) => n
            .as_i64()
            .and_then(|s| jiff::Timestamp::from_second(s).ok())
            .map_or_else(
                || n.to_string(),
                |t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string(),
            ),
        (_, Some(v)) => render::value(v),
    }
}

fn attributes_card(c: &Customer, attributes: &AttributeSet, base: &str, csrf: &str) -> Markup {
    let undefined: Vec<(&String, &Value)> = c
        .custom_data
        .iter()
        .filter(|(k, _)| !attributes.contains_key(*k))
        .collect();
    html! {
        section class="card" aria-labelledby="h-attributes" id="customer-attributes" {
            h2 id="h-attributes" { "Custom attributes" }
            @if attributes.is_empty() {
                p class="muted" { "The workspace defines no custom attributes (Settings)." }
            }
            @for (name, def) in attributes {
                @let id = format!("attr-{}", slug(name));
                @let current = c.custom_data.get(name);
                @let value = editor_value(def.kind, current);
                form class="inline attribute" method="post" action=(format!("{base}/attributes")) novalidate data-attribute=(name) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="name" value=(name);
                    label for=(id) { (def.label) " " span class="muted" { "(" (name) ", " (def.kind.as_str()) ")" } }
                    @match def.kind {
                        AttributeType::Boolean => {
                            select id=(id) name="value" {
                                option value="" selected[value.is_empty()] { "(not set)" }
                                option value="true" selected[value == "true"] { "true" }
                                option value="false" selected[value == "false"] { "false" }
                            }
                        }
                        AttributeType::Number => {
                            input id=(id) name="value" type="text" inputmode="decimal" value=(value);
                        }
                        AttributeType::Date => {
                            input id=(id) name="value" type="date" value=(value);
                        }
                        AttributeType::Url => {
                            input id=(id) name="value" type="url" value=(value) placeholder="https://";
                        }
                        AttributeType::String => {
                            input id=(id) name="value" type="text" maxlength="1000" value=(value);
                        }
                    }
                    button type="submit" id=(format!("save-{id}")) { "Save" }
                }
            }
            @if !undefined.is_empty() {
                h3 { "Other custom data" }
                p class="muted" { "Keys no attribute defines (read only)." }
                dl {
                    @for (k, v) in undefined {
                        dt { (k) } dd { (render::value(v)) }
                    }
                }
            }
            p class="muted" { "Empty removes the value." }
        }
    }
}

fn tags_card(c: &Customer, catalogue: &[Tag], base: &str, csrf: &str) -> Markup {
    html! {
        section class="card" aria-labelledby="h-tags" id="customer-tags-card" {
            h2 id="h-tags" { "Tags" }
            @if c.tags.is_empty() {
                p class="muted" id="customer-tags" { "No tags." }
            } @else {
                ul class="tags" id="customer-tags" {
                    @for t in &c.tags {
                        li {
                            form method="post" action=(format!("{base}/tags/remove")) {
                                input type="hidden" name="csrf" value=(csrf);
                                input type="hidden" name="tag" value=(t.name);
                                span class="tag" style=(format!("background:{}", t.color)) data-tag=(t.name) { (t.name) }
                                button type="submit" class="link" aria-label=(format!("Remove tag {}", t.name)) { "×" }
                            }
                        }
                    }
                }
            }
            form class="inline" method="post" action=(format!("{base}/tags")) {
                input type="hidden" name="csrf" value=(csrf);
                label for="c-tag" { "Add a tag" }
                input id="c-tag" name="tag" list="tag-catalogue" required maxlength="100" autocomplete="off";
                datalist id="tag-catalogue" {
                    @for t in catalogue { option value=(t.name) {} }
                }
                button type="submit" id="add-tag" { "Add tag" }
            }
            @if !catalogue.is_empty() {
                p class="muted" { "Workspace tags: "
                    @for t in catalogue {
                        span class="tag" style=(format!("background:{}", t.color)) { (t.name) }
                    }
                }
            }
        }
    }
}

fn conversations_card(
    items: &[Conversation],
    links: &[switchboard_domain::ConversationLinks],
    tz: &jiff::tz::TimeZone,
) -> Markup {
    html! {
        section class="card" aria-labelledby="h-conversations" id="customer-conversations" {
            h2 id="h-conversations" { "Conversations" }
            @if items.is_empty() {
                p class="muted" { "No conversations." }
            } @else {
                table {
                    thead { tr {
                        (render::conversation_headings())
                        th scope="col" class="hide-narrow" { "Assignee" }
                        th scope="col" { "Last activity" }
                    } }
                    tbody {
                        @for (c, l) in items.iter().zip(links) {
                            tr data-conversation=(c.id.get()) {
                                (render::conversation_cells(c))
                                td class="hide-narrow" { (l.assignee(c).map_or("-", |a| a.name.as_str())) }
                                td { (render::time(c.updated_at, tz)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// An attribute name as an HTML id part.
fn slug(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Applies `change` to the customer as the signed-in agent; a value the
/// domain refuses shows the page again with the domain's message (400).
async fn edit<F>(
    req: &HttpRequest,
    state: &ConsoleState,
    raw_id: &str,
    csrf: &str,
    change: F,
) -> Result<HttpResponse, ConsoleError>
where
    F: FnMut(&mut Customer) + Send + 'static,
{
    let session = session::posted(req, state, csrf).await?;
    let id = customer_id(raw_id)?;
    let done = state
        .store()
        .customers()
        .update(&ctx(&session), id, Precondition::NONE, change)
        .await
        .map_err(ConsoleError::from);
    match done {
        Ok(_) => Ok(see_other(&format!("/console/customers/{}", id.get()))),
        Err(ConsoleError::BadRequest(message)) => {
            render_page(req, state, &session, id, Some(&message), false).await
        }
        Err(e) => Err(e),
    }
}

/// The fields form.
#[derive(Debug, Deserialize)]
pub(crate) struct FieldsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    notes: String,
}

/// Empty (or blank) is `None`.
fn optional(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// `POST /console/customers/{id}/fields`.
pub(crate) async fn set_fields(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    id: web::Path<String>,
    form: web::Form<FieldsForm>,
) -> Result<HttpResponse, ConsoleError> {
    let f = form.into_inner();
    let (name, email, phone, company) = (
        optional(&f.name),
        optional(&f.email),
        optional(&f.phone),
        optional(&f.company),
    );
    let notes = (!f.notes.trim().is_empty()).then(|| f.notes.clone());
    edit(&req, &state, &id, &f.csrf, move |c| {
        c.name.clone_from(&name);
        c.email.clone_from(&email);
        c.phone.clone_from(&phone);
        c.company.clone_from(&company);
        c.notes.clone_from(&notes);
    })
    .await
}

/// One custom attribute's editor.
#[derive(Debug, Deserialize)]
pub(crate) struct AttributeForm {
    #[serde(default)]
    csrf: String,
    name: String,
    #[serde(default)]
    value: String,
}

/// What an editor sent, as the JSON value of its attribute's type. Input
/// that does not read as the type is passed on as text, for the domain's
/// rules to refuse with their own message.
fn typed_value(kind: AttributeType, raw: &str) -> Value {
    let t = raw.trim();
    if t.is_empty() {
        return Value::Null;
    }
    match kind {
        AttributeType::Number => t
            .parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| {
                t.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
            })
            .unwrap_or_else(|| Value::String(raw.to_string())),
        AttributeType::Boolean => match t {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(raw.to_string()),
        },
        AttributeType::Date => t
            .parse::<jiff::civil::Date>()
            .ok()
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| {
                Value::from(
                    Timestamp::from_millis(z.timestamp().as_millisecond()).as_unix_seconds(),
                )
            })
            .unwrap_or_else(|| Value::String(t.to_string())),
        AttributeType::String | AttributeType::Url => Value::String(raw.to_string()),
    }
}

/// `POST /console/customers/{id}/attributes`: sets (or, empty, removes)
/// one custom attribute's value.
pub(crate) async fn set_attribute(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    id: web::Path<String>,
    form: web::Form<AttributeForm>,
) -> Result<HttpResponse, ConsoleError> {
    let session = session::require(&req, &state).await?;
    let attributes = state.store().admin().attributes(session.tenant.id).await?;
    let f = form.into_inner();
    // An undefined name goes to the domain as text, which refuses it.
    let value = match attributes.get(&f.name) {
        Some(def) => typed_value(def.kind, &f.value),
        None => Value::String(f.value.clone()),
    };
    let name = f.name;
    edit(&req, &state, &id, &f.csrf, move |c| {
        if value.is_null() {
            c.custom_data.remove(&name);
        } else {
            c.custom_data.insert(name.clone(), value.clone());
        }
    })
    .await
}

/// The tag forms.
#[derive(Debug, Deserialize)]
pub(crate) struct TagForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    tag: String,
}

/// `POST /console/customers/{id}/tags`: adds a tag, in the colour the
/// workspace's catalogue has for its name (the default colour for a new
/// name).
pub(crate) async fn add_tag(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    id: web::Path<String>,
    form: web::Form<TagForm>,
) -> Result<HttpResponse, ConsoleError> {
    let f = form.into_inner();
    let tag = f.tag.trim().to_string();
    edit(&req, &state, &id, &f.csrf, move |c| {
        c.add_tags([Tag::named(tag.clone())]);
    })
    .await
}

/// `POST /console/customers/{id}/tags/remove`.
pub(crate) async fn remove_tag(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    id: web::Path<String>,
    form: web::Form<TagForm>,
) -> Result<HttpResponse, ConsoleError> {
    let f = form.into_inner();
    let tag = f.tag;
    edit(&req, &state, &id, &f.csrf, move |c| {
        c.remove_tags([tag.as_str()]);
    })
    .await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn editors_send_values_of_their_type_and_leave_the_rest_to_the_domain() {
        for (kind, raw, want) in [
            (AttributeType::Number, "4", json!(4)),
            (AttributeType::Number, " 4.5 ", json!(4.5)),
            (AttributeType::Number, "lots", json!("lots")),
            (AttributeType::Boolean, "true", json!(true)),
            (AttributeType::Boolean, "maybe", json!("maybe")),
            (AttributeType::Date, "2026-12-01", json!(1_796_083_200)),
            (AttributeType::Date, "1570000000", json!("1570000000")),
            (
                AttributeType::Url,
                "https://x.example",
                json!("https://x.example"),
            ),
            (AttributeType::String, "", Value::Null),
            (AttributeType::String, " a ", json!(" a ")),
        ] {
            assert_eq!(typed_value(kind, raw), want, "{kind} {raw:?}");
        }
        assert_eq!(
            editor_value(AttributeType::Date, Some(&json!(1_796_083_200))),
            "2026-12-01"
        );
    }
}
