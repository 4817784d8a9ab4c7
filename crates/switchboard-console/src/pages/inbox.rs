//! The inbox: the tenant's conversations, newest activity first, with
//! filters, search and keyset paging, through the domain's query model
//! (`store.conversations().query`).

use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;
use switchboard_domain::query::{
    Condition, ConversationField, Cursor, CustomerField, Filter, Op, Page, Query, Sort, Value,
};
use switchboard_domain::{
    Agent, Conversation, ConversationLinks, ConversationStatus, Department, TenantId,
};
use switchboard_storage::{LinkSet, Store};

use crate::pages::{field_id, html as respond};
use crate::state::ConsoleState;
use crate::{ConsoleError, render, session};

/// How many customers a search matches by name or email at most (their
/// conversations are then found by customer id).
const SEARCH_CUSTOMERS: u32 = 100;

/// The inbox's query string.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct InboxParams {
    #[serde(default)]
    status: String,
    #[serde(default)]
    assignee: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    fragment: Option<String>,
}

impl InboxParams {
    /// The query string of these filters (and `after`, when `page`).
    fn query_string(&self, page: bool) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("status", &self.status),
            ("assignee", &self.assignee),
            ("department", &self.department),
            ("q", &self.q),
        ] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", encode(v)));
            }
        }
        if page && !self.after.is_empty() {
            parts.push(format!("after={}", encode(&self.after)));
        }
        parts.join("&")
    }
}

/// Percent-encodes a query string value.
pub(crate) fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn cond(
    field: ConversationField,
    op: Op,
    values: Vec<Value>,
) -> Result<Filter<ConversationField>, ConsoleError> {
    Condition::new(field, op, values)
        .map(Filter::Cond)
        .map_err(|e| ConsoleError::BadRequest(e.to_string()))
}

/// The domain query of the inbox's filters.
async fn build_query(
    store: &Store,
    tenant: TenantId,
    me: &Agent,
    p: &InboxParams,
    limit: u32,
) -> Result<Query<ConversationField>, ConsoleError> {
    let mut parts = Vec::new();
    if !p.status.is_empty() {
        let s: ConversationStatus =
            p.status
                .parse()
                .map_err(|e: switchboard_domain::UnknownStatus| {
                    ConsoleError::BadRequest(e.to_string())
                })?;
        parts.push(cond(
            ConversationField::Status,
            Op::Eq,
            vec![Value::Status(s)],
        )?);
    }
    match p.assignee.as_str() {
        "" => {}
        "mine" => parts.push(cond(
            ConversationField::Assignee,
            Op::Eq,
            vec![Value::Int(me.id.get())],
        )?),
        "none" => parts.push(cond(
            ConversationField::Assignee,
            Op::Eq,
            vec![Value::Null],
        )?),
        other => parts.push(cond(
            ConversationField::Assignee,
            Op::Eq,
            vec![Value::Int(field_id(other, "assignee")?)],
        )?),
    }
    if !p.department.is_empty() {
        parts.push(cond(
            ConversationField::Department,
            Op::Eq,
            vec![Value::Int(field_id(&p.department, "department")?)],
        )?);
    }
    let q = p.q.trim();
    if !q.is_empty() {
        parts.push(search_filter(store, tenant, q).await?);
    }
    let filter = (!parts.is_empty()).then(|| Filter::all(parts));
    let page = if p.after.is_empty() {
        Page::First
    } else {
        Page::After(Cursor::decode(&p.after).map_err(|e| ConsoleError::BadRequest(e.to_string()))?)
    };
    let sort = Sort::new(ConversationField::UpdatedAt, true)
        .map_err(|e| ConsoleError::BadRequest(e.to_string()))?;
    Query::new(filter, sort, page, limit).map_err(|e| ConsoleError::BadRequest(e.to_string()))
}

/// What the search box asks for. A whole email address (`name@host.tld`)
/// finds the conversations whose visitor has exactly that email, or whose
/// customer has, both answered from an index however many conversations
/// the tenant has. Other text (a name, part of an address) is looked for
/// inside visitors' and customers' names and emails, which reads every
/// row of the tenant (`docs/console.md` says so).
async fn search_filter(
    store: &Store,
    tenant: TenantId,
    q: &str,
) -> Result<Filter<ConversationField>, ConsoleError> {
    let text = || vec![Value::Text(q.to_string())];
    let whole_address = switchboard_domain::validate::email(q)
        && q.rsplit_once('@')
            .is_some_and(|(_, host)| host.contains('.'));
    let (op, customer_filter) = if whole_address {
        (
            Op::Eq,
            Filter::Cond(
                Condition::new(CustomerField::Email, Op::Eq, text())
                    .map_err(|e| ConsoleError::BadRequest(e.to_string()))?,
            ),
        )
    } else {
        let contains = |field| {
            Condition::new(field, Op::Contains, text())
                .map(Filter::Cond)
                .map_err(|e| ConsoleError::BadRequest(e.to_string()))
        };
        (
            Op::Contains,
            Filter::any(vec![
                contains(CustomerField::Name)?,
                contains(CustomerField::Email)?,
            ]),
        )
    };
    let mut any = vec![cond(ConversationField::VisitorEmail, op, text())?];
    if op == Op::Contains {
        any.push(cond(ConversationField::VisitorName, op, text())?);
    }
    let customers = customer_matches(store, tenant, customer_filter).await?;
    if !customers.is_empty() {
        any.push(cond(
            ConversationField::Customer,
            Op::In,
            customers.into_iter().map(Value::Int).collect(),
        )?);
    }
    Ok(Filter::any(any))
}

/// Ids of up to [`SEARCH_CUSTOMERS`] of the tenant's customers that match
/// `filter`.
async fn customer_matches(
    store: &Store,
    tenant: TenantId,
    filter: Filter<CustomerField>,
) -> Result<Vec<i64>, ConsoleError> {
    let query = Query::new(
        Some(filter),
        Sort::by_id(true),
        Page::First,
        SEARCH_CUSTOMERS,
    )
    .map_err(|e| ConsoleError::BadRequest(e.to_string()))?;
    Ok(store
        .customers()
        .query(tenant, &query)
        .await?
        .items
        .iter()
        .map(|c| c.id.get())
        .collect())
}

/// `GET /console/inbox`.
pub(crate) async fn page(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    params: web::Query<InboxParams>,
) -> Result<HttpResponse, ConsoleError> {
    let session = session::require(&req, &state).await?;
    let store = state.store();
    let tenant = session.tenant.id;
    // Read where the live stream starts before the data, so no change
    // falls between them.
    let since = store.console().last_event_id().await?;
    let query = build_query(
        store,
        tenant,
        &session.agent,
        &params,
        state.config.page_size,
    )
    .await?;
    let found = store.conversations().query(tenant, &query).await?;
    let links = store
        .conversations()
        // A row shows its customer's name or email: the contact is enough.
        .links(tenant, &found.items, LinkSet::CONTACT)
        .await?;
    let tz = render::time_zone(&req);
    let list = list(&found.items, &links, found.next, &params, &tz);
    if params.fragment.is_some() {
        return Ok(respond(list));
    }
    let agents = store.admin().agents(tenant).await?;
    let departments = store.admin().departments(tenant).await?;
    let fragment_url = {
        let qs = params.query_string(true);
        if qs.is_empty() {
            "/console/inbox?fragment=list".to_string()
        } else {
            format!("/console/inbox?{qs}&fragment=list")
        }
    };
    Ok(respond(render::page(
        "Inbox",
        Some(&session),
        html! {
            h1 { "Inbox" " " span id="live-status" class="muted" aria-live="polite" {} }
            (filters(&params, &agents, &departments))
            div id="live" data-live="inbox" data-since=(since)
                hx-get=(fragment_url) hx-trigger="refresh" hx-swap="innerHTML" {
                (list)
            }
        },
    )))
}

fn filters(p: &InboxParams, agents: &[Agent], departments: &[Department]) -> Markup {
    html! {
        form class="filters card" method="get" action="/console/inbox" role="search" {
            label for="f-status" { "Status"
                select id="f-status" name="status" {
                    option value="" selected[p.status.is_empty()] { "Any" }
                    @for s in ConversationStatus::ALL {
                        option value=(s.as_str()) selected[p.status == s.as_str()] { (s.as_str()) }
                    }
                }
            }
            label for="f-assignee" { "Assignee"
                select id="f-assignee" name="assignee" {
                    option value="" selected[p.assignee.is_empty()] { "Anyone" }
                    option value="mine" selected[p.assignee == "mine"] { "Mine" }
                    option value="none" selected[p.assignee == "none"] { "Unassigned" }
                    @for a in agents {
                        @let id = a.id.get().to_string();
                        option value=(id) selected[p.assignee == id] { (a.name) }
                    }
                }
            }
            label for="f-department" { "Department"
                select id="f-department" name="department" {
                    option value="" selected[p.department.is_empty()] { "Any" }
                    @for d in departments {
                        @let id = d.id.get().to_string();
                        option value=(id) selected[p.department == id] { (d.name) }
                    }
                }
            }
            label for="f-q" { "Search visitor or customer"
                input id="f-q" type="search" name="q" value=(p.q) placeholder="name or email";
            }
            button type="submit" id="apply-filters" { "Apply" }
        }
    }
}

fn list(
    items: &[Conversation],
    links: &[ConversationLinks],
    next: Option<Cursor>,
    p: &InboxParams,
    tz: &jiff::tz::TimeZone,
) -> Markup {
    let base = p.query_string(false);
    let with = |extra: &str| {
        if base.is_empty() {
            format!("/console/inbox?{extra}")
        } else {
            format!("/console/inbox?{base}&{extra}")
        }
    };
    html! {
        @if items.is_empty() {
            p class="card" id="inbox-empty" { "No conversations match." }
        } @else {
            table id="inbox" {
                thead { tr {
                    (render::conversation_headings())
                    th scope="col" { "Visitor" }
                    th scope="col" class="hide-narrow" { "Customer" }
                    th scope="col" { "Assignee" }
                    th scope="col" class="hide-narrow" { "Department" }
                    th scope="col" { "Last activity" }
                } }
                tbody {
                    @for (c, l) in items.iter().zip(links) {
                        tr data-conversation=(c.id.get()) {
                            (render::conversation_cells(c))
                            td {
                                (c.visitor.name.as_deref().unwrap_or("-"))
                                @if let Some(e) = &c.visitor.email { br; span class="muted" { (e) } }
                            }
                            td class="hide-narrow" {
                                @if let Some(cu) = &l.customer {
                                    a href=(format!("/console/customers/{}", cu.id.get())) {
                                        (cu.name.as_deref().or(cu.email.as_deref()).unwrap_or("customer"))
                                    }
                                } @else { "-" }
                            }
                            td { (l.assignee(c).map_or("-", |a| a.name.as_str())) }
                            td class="hide-narrow" { (l.department.as_ref().map_or("-", |d| d.name.as_str())) }
                            td { (render::time(c.updated_at, tz)) }
                        }
                    }
                }
            }
        }
        nav class="pager" aria-label="Pages" {
            @if !p.after.is_empty() {
                a href=(if base.is_empty() { "/console/inbox".to_string() } else { format!("/console/inbox?{base}") }) { "First page" }
            }
            @if let Some(n) = next {
                a id="next-page" href=(with(&format!("after={}", encode(&n.encode())))) { "Next page" }
            }
        }
    }
}
