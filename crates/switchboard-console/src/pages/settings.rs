//! The tenant's settings (admins only): agents, departments, custom
//! attributes and API keys, each listed with a form that creates one, and
//! API keys revoked. Every change is the store's `admin()` operation the
//! CLI uses, with the same validation, scoped to the session's tenant. A
//! new key's secret is shown once, on the answer to its creation; the list
//! never shows secrets.

use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;
use switchboard_domain::{AgentRole, ApiKeyId, AttributeType, CustomAttribute, Scope};
use switchboard_storage::{ConsoleSession, StorageError};

use crate::pages::{CsrfForm, path_id, see_other};
use crate::state::ConsoleState;
use crate::{ConsoleError, render, session};

/// What the page shows on top.
enum Notice<'a> {
    None,
    /// A refusal of the form just sent (the page answers `400`).
    Error(&'a str),
    /// A key just created, with its secret (shown this once).
    NewKey {
        name: &'a str,
        secret: &'a str,
    },
}

/// `GET /console/settings`.
pub(crate) async fn page(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
) -> Result<HttpResponse, ConsoleError> {
    let session = session::require_admin(&req, &state).await?;
    render_page(&req, &state, &session, Notice::None).await
}

async fn render_page(
    req: &HttpRequest,
    state: &ConsoleState,
    session: &ConsoleSession,
    notice: Notice<'_>,
) -> Result<HttpResponse, ConsoleError> {
    let store = state.store();
    let tenant = session.tenant.id;
    let agents = store.admin().agents(tenant).await?;
    let departments = store.admin().departments(tenant).await?;
    let attributes = store.admin().attributes(tenant).await?;
    let keys = store.admin().api_keys(tenant).await?;
    let tz = render::time_zone(req);
    let csrf = &session.csrf;
    let status = if matches!(notice, Notice::Error(_)) {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = render::page(
        "Settings",
        Some(session),
        html! {
            h1 { "Settings" }
            @match notice {
                Notice::None => {}
                Notice::Error(message) => { (render::alert("settings-error", Some(message))) }
                Notice::NewKey { name, secret } => {
                    section class="card" role="status" aria-labelledby="h-new-key" {
                        h2 id="h-new-key" { "API key “" (name) "” created" }
                        p { "Copy the secret now: it is shown only this once and is not stored." }
                        p class="secret" id="new-key-secret" { (secret) }
                    }
                }
            }
            div class="grid" {
                div {
                    (agents_card(&agents, csrf))
                    (keys_card(&keys, csrf, &tz))
                }
                div {
                    (departments_card(&departments, csrf))
                    (attributes_card(&attributes, csrf))
                }
            }
        },
    );
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(body.into_string()))
}

fn agents_card(agents: &[switchboard_domain::Agent], csrf: &str) -> Markup {
    html! {
        section class="card" aria-labelledby="h-agents" id="agents" {
            h2 id="h-agents" { "Agents" }
            table {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Email" } th scope="col" { "Role" } } }
                tbody {
                    @for a in agents {
                        tr { td { (a.name) } td { (a.email) } td { (a.console_role().as_str()) } }
                    }
                }
            }
            h3 { "New agent" }
            form class="stack" method="post" action="/console/settings/agents" novalidate {
                input type="hidden" name="csrf" value=(csrf);
                label for="n-agent-name" { "Name" input id="n-agent-name" name="name" required maxlength="255"; }
                label for="n-agent-email" { "Email" input id="n-agent-email" name="email" type="email" required; }
                label for="n-agent-role" { "Role"
                    select id="n-agent-role" name="role" {
                        option value="agent" { "agent" }
                        option value="admin" { "admin" }
                    }
                }
                label for="n-agent-password" { "Console password (at least 10 characters; empty: cannot sign in yet)"
                    input id="n-agent-password" name="password" type="password" autocomplete="new-password";
                }
                button type="submit" id="create-agent" { "Create agent" }
            }
        }
    }
}

fn departments_card(departments: &[switchboard_domain::Department], csrf: &str) -> Markup {
    html! {
        section class="card" aria-labelledby="h-departments" id="departments" {
            h2 id="h-departments" { "Departments" }
            @if departments.is_empty() {
                p class="muted" { "None." }
            } @else {
                ul { @for d in departments { li { (d.name) " " span class="muted" { "#" (d.id.get()) } } } }
            }
            form class="inline" method="post" action="/console/settings/departments" {
                input type="hidden" name="csrf" value=(csrf);
                label for="n-department" { "New department" }
                input id="n-department" name="name" required maxlength="255";
                button type="submit" id="create-department" { "Create department" }
            }
        }
    }
}

fn attributes_card(attributes: &switchboard_domain::AttributeSet, csrf: &str) -> Markup {
    html! {
        section class="card" aria-labelledby="h-attrs" id="attributes" {
            h2 id="h-attrs" { "Custom attributes" }
            @if attributes.is_empty() {
                p class="muted" { "None." }
            } @else {
                table {
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Type" } th scope="col" { "Label" } } }
                    tbody {
                        @for a in attributes.values() {
                            tr { td { code { (a.name) } } td { (a.kind.as_str()) } td { (a.label) } }
                        }
                    }
                }
            }
            h3 { "New attribute" }
            form class="stack" method="post" action="/console/settings/attributes" {
                input type="hidden" name="csrf" value=(csrf);
                label for="n-attr-name" { "Name (the customData key)" input id="n-attr-name" name="name" required maxlength="100"; }
                label for="n-attr-kind" { "Type"
                    select id="n-attr-kind" name="kind" {
                        @for t in AttributeType::ALL { option value=(t.as_str()) { (t.as_str()) } }
                    }
                }
                label for="n-attr-label" { "Label" input id="n-attr-label" name="label" maxlength="255"; }
                button type="submit" id="create-attribute" { "Create attribute" }
            }
        }
    }
}

fn keys_card(keys: &[switchboard_domain::ApiKey], csrf: &str, tz: &jiff::tz::TimeZone) -> Markup {
    html! {
        section class="card" aria-labelledby="h-keys" id="api-keys" {
            h2 id="h-keys" { "API keys" }
            @if keys.is_empty() {
                p class="muted" { "None." }
            } @else {
                div class="table-wrap" {
                    table id="keys" {
                        thead { tr {
                            th scope="col" { "Name" }
                            th scope="col" { "Prefix" }
                            th scope="col" class="hide-narrow" { "Scopes" }
                            th scope="col" class="hide-narrow" { "Created" }
                            th scope="col" { span class="visually-hidden" { "Action" } }
                        } }
                        tbody {
                            @for k in keys {
                                tr data-key=(k.id.get()) {
                                    td { (k.name) }
                                    td { code { "sbk_" (k.prefix) "_…" } }
                                    td class="hide-narrow" {
                                        @if k.scopes.len() == Scope::ALL.len() { "all" }
                                        @else if k.scopes.iter().copied().eq(Scope::DEFAULT) { "all but admin" }
                                        @else {
                                            @for (i, s) in k.scopes.iter().enumerate() {
                                                @if i > 0 { ", " } (s.as_str())
                                            }
                                        }
                                    }
                                    td class="hide-narrow" { (render::time(k.created_at, tz)) }
                                    td {
                                        form method="post" action=(format!("/console/settings/keys/{}/revoke", k.id.get())) {
                                            input type="hidden" name="csrf" value=(csrf);
                                            button type="submit" class="revoke" aria-label=(format!("Revoke key {}", k.name)) { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h3 { "New API key" }
            form class="stack" method="post" action="/console/settings/keys" {
                input type="hidden" name="csrf" value=(csrf);
                label for="n-key-name" { "Name" input id="n-key-name" name="name" required maxlength="255"; }
                fieldset {
                    legend { "Scopes (none ticked: all but admin.READ and admin.WRITE)" }
                    @for s in Scope::ALL {
                        @let id = format!("n-key-scope-{}", s.as_str().replace('.', "-"));
                        label for=(id) class="check" {
                            input type="checkbox" id=(id) name="scope" value=(s.as_str());
                            " " (s.as_str())
                        }
                    }
                }
                button type="submit" id="create-key" { "Create key" }
            }
        }
    }
}

/// Runs a settings change: the page with the domain's message (400) when
/// refused, else back to the page.
async fn settle<T>(
    req: &HttpRequest,
    state: &ConsoleState,
    session: &ConsoleSession,
    done: Result<T, StorageError>,
) -> Result<HttpResponse, ConsoleError> {
    match done.map_err(ConsoleError::from) {
        Ok(_) => Ok(see_other("/console/settings")),
        Err(ConsoleError::BadRequest(message)) => {
            render_page(req, state, session, Notice::Error(&message)).await
        }
        Err(e) => Err(e),
    }
}

/// The new agent form.
#[derive(Debug, Deserialize)]
pub(crate) struct AgentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

/// `POST /console/settings/agents`.
pub(crate) async fn create_agent(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    form: web::Form<AgentForm>,
) -> Result<HttpResponse, ConsoleError> {
    let session = session::admin_posted(&req, &state, &form.csrf).await?;
    let Some(role) = AgentRole::parse(form.role.trim()) else {
        return render_page(
            &req,
            &state,
            &session,
            Notice::Error("role: must be agent or admin"),
        )
        .await;
    };
    let password = form.password.trim_end_matches(['\r', '\n']);
    if !password.is_empty() && password.chars().count() < 10 {
        return render_page(
            &req,
            &state,
            &session,
            Notice::Error("password: at least 10 characters"),
        )
        .await;
    }
    let tenant = session.tenant.id;
    let email = switchboard_storage::console::normalize_email(&form.email);
    let store = state.store();
    let created = store
        .admin()
        .create_agent(tenant, form.name.trim(), &email, role.as_str())
        .await;
    if created.is_ok() && !password.is_empty() {
        store
            .console()
            .set_password(tenant, &email, password)
            .await?;
    }
    settle(&req, &state, &session, created).await
}

/// The new department form.
#[derive(Debug, Deserialize)]
pub(crate) struct NameForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

/// `POST /console/settings/departments`.
pub(crate) async fn create_department(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    form: web::Form<NameForm>,
) -> Result<HttpResponse, ConsoleError> {
    let session = session::admin_posted(&req, &state, &form.csrf).await?;
    let done = state
        .store()
        .admin()
        .create_department(session.tenant.id, form.name.trim())
        .await;
    settle(&req, &state, &session, done).await
}

/// The new attribute form.
#[derive(Debug, Deserialize)]
pub(crate) struct AttributeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    label: String,
}

/// `POST /console/settings/attributes`.
pub(crate) async fn create_attribute(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    form: web::Form<AttributeForm>,
) -> Result<HttpResponse, ConsoleError> {
    let session = session::admin_posted(&req, &state, &form.csrf).await?;
    let kind: AttributeType = match form.kind.parse() {
        Ok(k) => k,
        Err(e) => {
            let message = format!("type: {e}");
            return render_page(&req, &state, &session, Notice::Error(&message)).await;
        }
    };
    let name = form.name.trim().to_string();
    let label = if form.label.trim().is_empty() {
        name.clone()
    } else {
        form.label.trim().to_string()
    };
    let done = state
        .store()
        .admin()
        .create_attribute(CustomAttribute {
            tenant_id: session.tenant.id,
            name,
            kind,
            label,
        })
        .await;
    settle(&req, &state, &session, done).await
}

/// `POST /console/settings/keys`: `name` and any number of `scope`
/// fields. Answers the page with the secret, shown this once.
pub(crate) async fn create_key(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ConsoleError> {
    let session = session::require_admin(&req, &state).await?;
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    session::check_post(&req, &session, field("csrf"))?;
    let name = field("name").trim().to_string();
    if name.is_empty() || name.contains('\0') || name.chars().count() > 255 {
        return render_page(
            &req,
            &state,
            &session,
            Notice::Error("name: must be 1-255 characters"),
        )
        .await;
    }
    let mut scopes = BTreeSet::new();
    for (_, v) in form.iter().filter(|(k, _)| k == "scope") {
        match v.parse::<Scope>() {
            Ok(s) => {
                scopes.insert(s);
            }
            Err(_) => {
                let message = format!(
                    "scope: unknown scope {:?}",
                    v.chars().take(40).collect::<String>()
                );
                return render_page(&req, &state, &session, Notice::Error(&message)).await;
            }
        }
    }
    let created = state
        .store()
        .admin()
        .create_api_key(session.tenant.id, &name, scopes)
        .await?;
    render_page(
        &req,
        &state,
        &session,
        Notice::NewKey {
            name: &created.key.name,
            secret: &created.secret,
        },
    )
    .await
}

/// `POST /console/settings/keys/{id}/revoke`.
pub(crate) async fn revoke_key(
    req: HttpRequest,
    state: web::Data<ConsoleState>,
    id: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ConsoleError> {
    let session = session::admin_posted(&req, &state, &form.csrf).await?;
    let id = ApiKeyId::new(path_id(&id)?);
    state
        .store()
        .admin()
        .revoke_api_key_id(session.tenant.id, id)
        .await?;
    Ok(see_other("/console/settings"))
}
