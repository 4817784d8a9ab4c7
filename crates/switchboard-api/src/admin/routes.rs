//! The admin API's handlers: thin, each one scope check, one store call
//! and a conversion to the wire.

use std::collections::BTreeSet;

use actix_web::{HttpRequest, HttpResponse, web};
use switchboard_domain::{
    Actor as DomainActor, AgentRole, ApiKey as DomainKey, AttributeType, CustomAttribute,
    EntityKind, Scope, WebhookSubscription,
};
use switchboard_storage::{AgentChange, HistoryEntry as StoredEntry, StorageError};

use super::error::field_name;
use super::wire::{
    Actor, Agent, AgentInput, AgentPage, AgentPatch, ApiKey, ApiKeyInput, ApiKeyPage, Attribute,
    AttributeInput, CreatedApiKey, Department, DepartmentInput, DepartmentPage, HistoryEntry,
    HistoryPage, HistoryQuery, ListQuery, Subscription, Tag,
};
use super::{Admin, AdminError};
use crate::auth::{Principal, principal};
use crate::body::{Shape, read_json};
use crate::{ApiError, AppState};

type AdminResult = Result<HttpResponse, AdminError>;

/// Most items of one list page.
pub const MAX_PAGE: i64 = 1000;
/// Items of a list page without `limit`.
pub const DEFAULT_PAGE: i64 = 100;
/// History entries of a page without `limit`.
pub const DEFAULT_HISTORY_PAGE: i64 = 50;
/// Most history entries of one page (one more is read to know whether
/// another page follows; the store reads at most 1000 at once).
pub const MAX_HISTORY_PAGE: i64 = 500;
/// Longest name of an agent, department, key or attribute label.
pub const MAX_NAME_CHARS: usize = 200;
/// Largest request body of the admin API, in bytes.
pub const MAX_BODY: usize = 16 * 1024;

/// Every admin route.
pub(crate) fn routes() -> Vec<(&'static str, &'static str, actix_web::Route)> {
    vec![
        ("GET", "/admin/v1/agents", web::get().to(list_agents)),
        ("POST", "/admin/v1/agents", web::post().to(create_agent)),
        ("GET", "/admin/v1/agents/{id}", web::get().to(get_agent)),
        (
            "PATCH",
            "/admin/v1/agents/{id}",
            web::patch().to(update_agent),
        ),
        (
            "DELETE",
            "/admin/v1/agents/{id}",
            web::delete().to(delete_agent),
        ),
        (
            "GET",
            "/admin/v1/departments",
            web::get().to(list_departments),
        ),
        (
            "POST",
            "/admin/v1/departments",
            web::post().to(create_department),
        ),
        (
            "DELETE",
            "/admin/v1/departments/{id}",
            web::delete().to(delete_department),
        ),
        (
            "GET",
            "/admin/v1/attributes",
            web::get().to(list_attributes),
        ),
        (
            "POST",
            "/admin/v1/attributes",
            web::post().to(create_attribute),
        ),
        (
            "DELETE",
            "/admin/v1/attributes/{name}",
            web::delete().to(delete_attribute),
        ),
        ("GET", "/admin/v1/keys", web::get().to(list_keys)),
        ("POST", "/admin/v1/keys", web::post().to(create_key)),
        (
            "DELETE",
            "/admin/v1/keys/{id}",
            web::delete().to(revoke_key),
        ),
        ("GET", "/admin/v1/tags", web::get().to(list_tags)),
        (
            "GET",
            "/admin/v1/subscriptions",
            web::get().to(list_subscriptions),
        ),
        (
            "POST",
            "/admin/v1/subscriptions/{id}/enable",
            web::post().to(enable_subscription),
        ),
        (
            "GET",
            "/admin/v1/customers/{id}/history",
            web::get().to(customer_history),
        ),
        (
            "GET",
            "/admin/v1/conversations/{id}/history",
            web::get().to(conversation_history),
        ),
    ]
}

/// Mounts the admin routes.
pub fn config(cfg: &mut web::ServiceConfig) {
    crate::mount_under(cfg, "/admin", routes());
}

async fn caller(
    state: &AppState,
    req: &HttpRequest,
    scope: Scope,
) -> Result<Principal, AdminError> {
    principal::<Admin>(state, req, Some(scope)).await
}

/// A storage error; `NotFound` names what was not found.
fn storage(e: StorageError, not_found: &str) -> AdminError {
    ApiError::from_storage_naming(e, not_found, &field_name).into()
}

/// A path id: a positive decimal integer; anything else names nothing (404).
fn path_id(raw: &str, not_found: &str) -> Result<i64, AdminError> {
    raw.parse::<switchboard_domain::AgentId>()
        .map(|id| id.get())
        .map_err(|_| ApiError::NotFound(not_found.to_string()).into())
}

/// A JSON object body of at most [`MAX_BODY`] bytes (or the server's
/// smaller limit).
async fn body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, AdminError> {
    let limit = state.config().body_limit.min(MAX_BODY);
    Ok(read_json(req, payload, limit, Shape::Object).await?)
}

/// An integer query parameter within `range`; the last of a repeated name wins.
fn int_param(
    req: &HttpRequest,
    name: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<Option<i64>, AdminError> {
    let pairs = crate::fallback::query_pairs(req)?;
    let Some((_, raw)) = pairs.iter().rev().find(|(n, _)| n == name) else {
        return Ok(None);
    };
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| range.contains(n))
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(
                name,
                "invalid_param",
                format!(
                    "{name} must be an integer from {} to {}",
                    range.start(),
                    range.end()
                ),
            )
            .into()
        })
}

/// The page of `items` (in id order) after `after`, at most `limit`
/// long, and the id to continue after.
fn page<T>(
    req: &HttpRequest,
    items: Vec<T>,
    id: impl Fn(&T) -> i64,
) -> Result<(Vec<T>, Option<i64>), AdminError> {
    let limit = int_param(req, "limit", 1..=MAX_PAGE)?.unwrap_or(DEFAULT_PAGE);
    let after = int_param(req, "after", 0..=i64::MAX)?.unwrap_or(0);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut rest: Vec<T> = items.into_iter().filter(|i| id(i) > after).collect();
    let more = rest.len() > limit;
    rest.truncate(limit);
    let next = if more { rest.last().map(&id) } else { None };
    Ok((rest, next))
}

fn name_rule(field: &str, value: &str, max: usize) -> Result<(), AdminError> {
    if value.trim().is_empty() || value.chars().count() > max || value.contains('\0') {
        return Err(ApiError::bad_request(
            field,
            "length",
            format!("must be 1-{max} characters (and not blank)"),
        )
        .into());
    }
    Ok(())
}

fn role_rule(role: Option<&str>) -> Result<(), AdminError> {
    match role {
        Some(r) if AgentRole::parse(r).is_none() => {
            Err(ApiError::bad_request("role", "role", "must be agent or admin").into())
        }
        _ => Ok(()),
    }
}

fn agent(a: switchboard_domain::Agent) -> Agent {
    let switchboard_domain::Agent {
        id,
        tenant_id: _,
        name,
        email,
        role,
    } = a;
    Agent {
        id: id.get(),
        name,
        email,
        role,
    }
}

fn department(d: switchboard_domain::Department) -> Department {
    let switchboard_domain::Department {
        id,
        tenant_id: _,
        name,
    } = d;
    Department { id: id.get(), name }
}

fn attribute(a: CustomAttribute) -> Attribute {
    let CustomAttribute {
        tenant_id: _,
        name,
        kind,
        label,
    } = a;
    Attribute {
        name,
        kind: kind.as_str().to_string(),
        label,
    }
}

fn api_key(k: DomainKey) -> ApiKey {
    let DomainKey {
        id,
        tenant_id: _,
        name,
        prefix,
        secret_hash: _,
        scopes,
        created_at,
    } = k;
    ApiKey {
        id: id.get(),
        name,
        prefix: format!("sbk_{prefix}"),
        scopes: scopes.iter().map(|s| s.as_str().to_string()).collect(),
        created_at: created_at.as_millis(),
    }
}

fn subscription(s: WebhookSubscription) -> Subscription {
    let WebhookSubscription {
        id,
        tenant_id: _,
        target_url,
        event,
        secret: _,
        previous_secret: _,
        previous_secret_expires_at: _,
        state,
        failing_since,
        created_at,
    } = s;
    Subscription {
        id: id.get(),
        event: event.as_str().to_string(),
        target_url,
        state: state.as_str().to_string(),
        failing_since: failing_since.map(|t| t.as_millis()),
        created_at: created_at.as_millis(),
    }
}

fn history_entry(e: StoredEntry) -> HistoryEntry {
    let StoredEntry {
        id,
        actor,
        api,
        diff,
        version_before,
        version_after,
        at,
    } = e;
    let (kind, actor_id) = match actor {
        DomainActor::Agent(id) => ("agent", Some(id.get())),
        DomainActor::ApiKey(id) => ("apiKey", Some(id.get())),
        DomainActor::Customer => ("customer", None),
        DomainActor::System => ("system", None),
    };
    HistoryEntry {
        id,
        at: at.as_millis(),
        actor: Actor {
            kind: kind.to_string(),
            id: actor_id,
        },
        api,
        diff: serde_json::to_value(diff).unwrap_or(serde_json::Value::Null),
        version_before,
        version_after,
    }
}

/// The tenant's agents, in id order.
#[utoipa::path(get, path = "/admin/v1/agents", tag = "admin", security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, description = "A page of agents", body = AgentPage),
        (status = 403, description = "The key lacks admin.READ")))]
pub async fn list_agents(state: web::Data<AppState>, req: HttpRequest) -> AdminResult {
    let p = caller(&state, &req, Scope::AdminRead).await?;
    let agents = state
        .store()
        .admin()
        .agents(p.tenant.id)
        .await
        .map_err(|e| storage(e, "not found"))?;
    let (data, next_after) = page(&req, agents, |a| a.id.get())?;
    Ok(HttpResponse::Ok().json(AgentPage {
        data: data.into_iter().map(agent).collect(),
        next_after,
    }))
}

/// Create an agent, to assign conversations to. Their console password
/// is set with `switchboard agent password` (never through this API).
#[utoipa::path(post, path = "/admin/v1/agents", tag = "admin", security(("bearer" = [])),
    request_body = AgentInput,
    responses((status = 201, description = "Created", body = Agent),
        (status = 403, description = "The key lacks admin.WRITE"),
        (status = 409, description = "The tenant has an agent with this email")))]
pub async fn create_agent(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> AdminResult {
    let p = caller(&state, &req, Scope::AdminWrite).await?;
    let input: AgentInput = body(&state, &req, payload).await?;
    name_rule("name", &input.name, MAX_NAME_CHARS)?;
    let role = input.role.unwrap_or_else(|| "agent".to_string());
    role_rule(Some(&role))?;
    let email = switchboard_storage::console::normalize_email(&input.email);
    let created = state
        .store()
        .admin()
        .create_agent(p.tenant.id, input.name.trim(), &email, &role)
        .await
        .map_err(agent_conflict)?;
    Ok(HttpResponse::Created().json(agent(created)))
}

fn agent_conflict(e: StorageError) -> AdminError {
    match e {
        StorageError::Conflict(_) => {
            ApiError::Conflict("the tenant has an agent with this email".into()).into()
        }
        other => storage(other, "no such agent"),
    }
}

/// One agent.
#[utoipa::path(get, path = "/admin/v1/agents/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Agent id")),
    responses((status = 200, description = "The agent", body = Agent),
        (status = 403, description = "The key lacks admin.READ"),
        (status = 404, description = "No such agent")))]
pub async fn get_agent(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> AdminResult {
    let p = caller(&state, &req, Scope::AdminRead).await?;
    let id = path_id(&path, "no such agent")?;
    let found = state
        .store()
        .admin()
        .agent(p.tenant.id, switchboard_domain::AgentId::new(id))
        .await
        .map_err(|e| storage(e, "no such agent"))?;
    Ok(HttpResponse::Ok().json(agent(found)))
}

/// Change an agent's name, email or role (the members given).
#[utoipa::path(patch, path = "/admin/v1/agents/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Agent id")),
    request_body = AgentPatch,
    responses((status = 200, description = "The agent as it is now", body = Agent),
        (status = 403, description = "The key lacks admin.WRITE"),
        (status = 404, description = "No such agent"),
        (status = 409, description = "Another agent of the tenant has this email")))]
pub async fn update_agent(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> AdminResult {
    let p = caller(&state, &req, Scope::AdminWrite).await?;
    let id = path_id(&path, "no such agent")?;
    let input: AgentPatch = body(&state, &req, payload).await?;
    if let Some(name) = &input.name {
        name_rule("name", name, MAX_NAME_CHARS)?;
    }
    role_rule(input.role.as_deref())?;
    let updated = state
        .store()
        .admin()
        .update_agent(
            p.tenant.id,
            switchboard_domain::AgentId::new(id),
            AgentChange {
                name: input.name.map(|n| n.trim().to_string()),
                email: input.email,
                role: input.role,
            },
        )
        .await
        .map_err(agent_conflict)?;
    Ok(HttpResponse::Ok().json(agent(updated)))
}

/// Delete an agent (and their console sessions). An agent that
/// conversations are assigned (or being transferred) to is kept: 409,
/// reassign them first. Past participation does not prevent it.
#[utoipa::path(delete, path = "/admin/v1/agents/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Agent id")),
    responses((status = 204, description = "Deleted"),
        (status = 403, description = "The key lacks admin.WRITE"),
        (status = 404, description = "No such agent"),
        (status = 409, description = "Conversations are assigned to the agent; the message says how many")))]
pub async fn delete_agent(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> AdminResult {
    let p = caller(&state, &req, Scope::AdminWrite).await?;
    let id = path_id(&path, "no such agent")?;
    state
        .store()
        .admin()
        .delete_agent(p.tenant.id, switchboard_domain::AgentId::new(id))
        .await
        .map_err(|e| storage(e, "no such agent"))?;
    Ok(HttpResponse::NoContent().finish())
}

/// The tenant's departments, in id order.
#[utoipa::path(get, path = "/admin/v1/departments", tag = "admin", security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, description = "A page of departments", body = DepartmentPage),
        (status = 403, description = "The key lacks admin.READ")))]
pub async fn list_departments(state: web::Data<AppState>, req: HttpRequest) -> AdminResult {
    let p = caller(&state, &req, Scope::AdminRead).await?;
    let all = state
        .store()
        .admin()
        .departments(p.tenant.id)
        .await
        .map_err(|e| storage(e, "not found"))?;
    let (data, next_after) = page(&req, all, |d| d.id.get())?;
    Ok(HttpResponse::Ok().json(DepartmentPage {
        data: data.into_iter().map(department).collect(),
        next_after,
    }))
}

/// Create a department.
#[utoipa::path(post, path = "/admin/v1/departments", tag = "admin", security(("bearer" = [])),
    request_body = DepartmentInput,
    responses((status = 201, description = "Created", body = Department),
        (status = 403, description = "The key lacks admin.WRITE"),
        (status = 409, description = "The tenant has a department with this name")))]
pub async fn create_department(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> AdminResult {
    let p = caller(&state, &req, Scope::AdminWrite).await?;
    let input: DepartmentInput = body(&state, &req, payload).await?;
    name_rule("name", &input.name, MAX_NAME_CHARS)?;
    let created = state
        .store()
        .admin()
        .create_department(p.tenant.id, input.name.trim())
        .await
        .map_err(|e| match e {
            StorageError::Conflict(_) => AdminError::from(ApiError::Conflict(
                "the tenant has a department with this name".into(),
            )),
            other => storage(other, "not found"),
        })?;
    Ok(HttpResponse::Created().json(department(created)))
}

/// Delete a department. One that conversations are routed to is kept:
/// 409, move them first.
#[utoipa::path(delete, path = "/admin/v1/departments/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Department id")),
    responses((status = 204, description = "Deleted"),
        (status = 403, description = "The key lacks admin.WRITE"),
        (status = 404, description = "No such department"),
        (status = 409, description = "Conversations are routed to the department")))]
pub async fn delete_department(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> AdminResult {
    let p = caller(&state, &req, Scope::AdminWrite).await?;
    let id = path_id(&path, "no such department")?;
    state
        .store()
        .admin()
        .delete_department(p.tenant.id, switchboard_domain::DepartmentId::new(id))
        .await
        .map_err(|e| storage(e, "no such department"))?;
    Ok(HttpResponse::NoContent().finish())
}

/// The tenant's custom attribute definitions, by name (at most as many
/// as a tenant may define).
#[utoipa::path(get, path = "/admin/v1/attributes", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "Every definition, by name", body = Vec<Attribute>),
        (status = 403, description = "The key lacks admin.READ")))]
pub async fn list_attributes(state: web::Data<AppState>, req: HttpRequest) -> AdminResult {
    let p = caller(&state, &req, Scope::AdminRead).await?;
    let all = state
        .store()
        .admin()
        .attributes(p.tenant.id)
        .await
        .map_err(|e| storage(e, "not found"))?;
    Ok(HttpResponse::Ok().json(all.into_values().map(attribute).collect::<Vec<_>>()))
}

/// Most custom attributes one tenant may define.
pub const MAX_ATTRIBUTES: usize = 500;

/// Define a custom attribute: customers' `customData` values under its
/// name must then be of its type.
#[utoipa::path(post, path = "/admin/v1/attributes", tag = "admin", security(("bearer" = [])),
    request_body = AttributeInput,
    responses((status = 201, description = "Created", body = Attribute),
        (status = 403, description = "The key lacks admin.WRITE"),
        (status = 409, description = "The attribute exists, or the tenant has the most attributes allowed")))]
pub async fn create_attribute(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> AdminResult {
    let p = caller(&state, &req, Scope::AdminWrite).await?;
    let input: AttributeInput = body(&state, &req, payload).await?;
    name_rule("name", &input.name, 100)?;
    let kind: AttributeType =
        input
            .kind
            .parse()
            .map_err(|e: switchboard_domain::UnknownAttributeType| {
                AdminError::from(ApiError::bad_request("type", "unknown_type", e.to_string()))
            })?;
    let label = input.label.unwrap_or_else(|| input.name.clone());
    if label.chars().count() > MAX_NAME_CHARS || label.contains('\0') {
        return Err(ApiError::bad_request(
            "label",
            "length",
            format!("must be at most {MAX_NAME_CHARS} characters"),
        )
        .into());
    }
    let admin = state.store().admin();
    let existing = admin
        .attributes(p.tenant.id)
        .await
        .map_err(|e| storage(e, "not found"))?;
    if existing.len() >= MAX_ATTRIBUTES {
        return Err(ApiError::Conflict(format!(
            "a tenant may define at most {MAX_ATTRIBUTES} attributes; delete some first"
        ))
        .into());
    }
    let attr = CustomAttribute {
        tenant_id: p.tenant.id,
        name: input.name,
        kind,
        label,
    };
    admin
        .create_attribute(attr.clone())
        .await
        .map_err(|e| match e {
            StorageError::Conflict(_) => AdminError::from(ApiError::Conflict(
                "the tenant has an attribute with this name".into(),
            )),
            other => storage(other, "not found"),
        })?;
    Ok(HttpResponse::Created().json(attribute(attr)))
}

/// Delete a custom attribute definition. Customers keep their values
/// under the name, untyped from then on.
#[utoipa::path(delete, path = "/admin/v1/attributes/{name}", tag = "admin", security(("bearer" = [])),
    params(("name" = String, Path, description = "The attribute's name")),
    responses((status = 204, description = "Deleted"),
        (status = 403, description = "The key lacks admin.WRITE"),
        (status = 404, description = "No such attribute")))]
pub async fn delete_attribute(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> AdminResult {
    let p = caller(&state, &req, Scope::AdminWrite).await?;
    state
        .store()
        .admin()
        .delete_attribute(p.tenant.id, &path)
        .await
        .map_err(|e| storage(e, "no such attribute"))?;
    Ok(HttpResponse::NoContent().finish())
}

/// The tenant's API keys, in id order, without secrets.
#[utoipa::path(get, path = "/admin/v1/keys", tag = "admin", security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, description = "A page of keys", body = ApiKeyPage),
        (status = 403, description = "The key lacks admin.READ")))]
pub async fn list_keys(state: web::Data<AppState>, req: HttpRequest) -> AdminResult {
    let p = caller(&state, &req, Scope::AdminRead).await?;
    let all = state
        .store()
        .admin()
        .api_keys(p.tenant.id)
        .await
        .map_err(|e| storage(e, "not found"))?;
    let (data, next_after) = page(&req, all, |k| k.id.get())?;
    Ok(HttpResponse::Ok().json(ApiKeyPage {
        data: data.into_iter().map(api_key).collect(),
        next_after,
    }))
}

/// Most API keys one tenant may have.
pub const MAX_KEYS: usize = 1000;

/// Create an API key. The answer carries the secret, shown only this
/// once. Without `scopes` the key gets every data scope and no admin one.
#[utoipa::path(post, path = "/admin/v1/keys", tag = "admin", security(("bearer" = [])),
    request_body = ApiKeyInput,
    responses((status = 201, description = "Created; `secret` is shown only now", body = CreatedApiKey),
        (status = 403, description = "The key lacks admin.WRITE"),
        (status = 409, description = "The tenant has the most keys allowed")))]
pub async fn create_key(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> AdminResult {
    let p = caller(&state, &req, Scope::AdminWrite).await?;
    let input: ApiKeyInput = body(&state, &req, payload).await?;
    name_rule("name", &input.name, 100)?;
    let mut scopes = BTreeSet::new();
    for (i, raw) in input.scopes.unwrap_or_default().iter().enumerate() {
        let scope: Scope = raw.parse().map_err(|_| {
            let names: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
            AdminError::from(ApiError::bad_request(
                format!("scopes.{i}"),
                "unknown_scope",
                format!("unknown scope; use one of: {}", names.join(", ")),
            ))
        })?;
        scopes.insert(scope);
    }
    let admin = state.store().admin();
    let existing = admin
        .api_keys(p.tenant.id)
        .await
        .map_err(|e| storage(e, "not found"))?;
    if existing.len() >= MAX_KEYS {
        return Err(ApiError::Conflict(format!(
            "a tenant may have at most {MAX_KEYS} API keys; revoke some first"
        ))
        .into());
    }
    let created = admin
        .create_api_key(p.tenant.id, input.name.trim(), scopes)
        .await
        .map_err(|e| storage(e, "not found"))?;
    let ApiKey {
        id,
        name,
        prefix,
        scopes,
        created_at,
    } = api_key(created.key);
    Ok(HttpResponse::Created().json(CreatedApiKey {
        id,
        name,
        prefix,
        scopes,
        created_at,
        secret: created.secret,
    }))
}

/// Revoke (delete) an API key. Every server forgets it within a second
/// (or, having missed the notice, after its key-cache time).
#[utoipa::path(delete, path = "/admin/v1/keys/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path, description = "API key id")),
    responses((status = 204, description = "Revoked"),
        (status = 403, description = "The key lacks admin.WRITE"),
        (status = 404, description = "No such key"),
        (status = 409, description = "The key named is the key making the request")))]
pub async fn revoke_key(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> AdminResult {
    let p = caller(&state, &req, Scope::AdminWrite).await?;
    let id = path_id(&path, "no such API key")?;
    if id == p.key.id.get() {
        return Err(ApiError::Conflict(
            "a key cannot revoke itself; revoke it with another admin.WRITE key or `switchboard key revoke`"
                .into(),
        )
        .into());
    }
    let revoked = state
        .store()
        .admin()
        .revoke_api_key_id(p.tenant.id, switchboard_domain::ApiKeyId::new(id))
        .await
        .map_err(|e| storage(e, "no such API key"))?;
    // This server forgets it at once (others within a second).
    state.keys().forget_key(revoked.id);
    Ok(HttpResponse::NoContent().finish())
}

/// The tenant's tag catalogue: every tag ever used, with its color.
#[utoipa::path(get, path = "/admin/v1/tags", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "Every tag, oldest first", body = Vec<Tag>),
        (status = 403, description = "The key lacks admin.READ")))]
pub async fn list_tags(state: web::Data<AppState>, req: HttpRequest) -> AdminResult {
    let p = caller(&state, &req, Scope::AdminRead).await?;
    let tags = state
        .store()
        .admin()
        .tags(p.tenant.id)
        .await
        .map_err(|e| storage(e, "not found"))?;
    Ok(HttpResponse::Ok().json(
        tags.into_iter()
            .map(|t| {
                let switchboard_domain::Tag { name, color } = t;
                Tag { name, color }
            })
            .collect::<Vec<_>>(),
    ))
}

/// The tenant's webhook subscriptions, without secrets.
#[utoipa::path(get, path = "/admin/v1/subscriptions", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "Every subscription, oldest first", body = Vec<Subscription>),
        (status = 403, description = "The key lacks admin.READ")))]
pub async fn list_subscriptions(state: web::Data<AppState>, req: HttpRequest) -> AdminResult {
    let p = caller(&state, &req, Scope::AdminRead).await?;
    let subs = state
        .store()
        .webhooks()
        .list(p.tenant.id)
        .await
        .map_err(|e| storage(e, "not found"))?;
    Ok(HttpResponse::Ok().json(subs.into_iter().map(subscription).collect::<Vec<_>>()))
}

/// Re-enable a subscription that was disabled after failing for too long:
/// its failing period is forgotten and new events are delivered to it
/// again (an active subscription stays active). Deliveries cancelled when
/// it was disabled stay cancelled; redeliver them through Zapier's
/// `POST /zapier/v1/hooks/{id}/deliveries/{delivery_id}/redeliver`.
#[utoipa::path(post, path = "/admin/v1/subscriptions/{id}/enable", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Subscription id")),
    responses((status = 200, description = "The subscription, active", body = Subscription),
        (status = 403, description = "The key lacks admin.WRITE"),
        (status = 404, description = "No such subscription")))]
pub async fn enable_subscription(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> AdminResult {
    let p = caller(&state, &req, Scope::AdminWrite).await?;
    let id = path_id(&path, "no such subscription")?;
    let sub = state
        .store()
        .webhooks()
        .enable(p.tenant.id, switchboard_domain::SubscriptionId::new(id))
        .await
        .map_err(|e| storage(e, "no such subscription"))?;
    Ok(HttpResponse::Ok().json(subscription(sub)))
}

async fn history(state: &AppState, req: &HttpRequest, kind: EntityKind, raw: &str) -> AdminResult {
    let p = caller(state, req, Scope::AdminRead).await?;
    let not_found = match kind {
        EntityKind::Customer => "no such customer",
        EntityKind::Conversation => "no such conversation",
    };
    let id = path_id(raw, not_found)?;
    let limit = int_param(req, "limit", 1..=MAX_HISTORY_PAGE)?.unwrap_or(DEFAULT_HISTORY_PAGE);
    let before = int_param(req, "before", 1..=i64::MAX)?;
    let limit = u32::try_from(limit).unwrap_or(1);
    let mut entries = state
        .store()
        .admin()
        .history(p.tenant.id, kind, id, before, limit + 1)
        .await
        .map_err(|e| storage(e, not_found))?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = entries.len() > limit;
    entries.truncate(limit);
    let next_before = if more {
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(HistoryPage {
        data: entries.into_iter().map(history_entry).collect(),
        next_before,
    }))
}

/// A customer's change history, newest first: who changed what, when and
/// through which API. Kept after the customer is deleted (until retention).
#[utoipa::path(get, path = "/admin/v1/customers/{id}/history", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Customer id"), HistoryQuery),
    responses((status = 200, description = "A page of changes", body = HistoryPage),
        (status = 403, description = "The key lacks admin.READ"),
        (status = 404, description = "No such customer, and no history of one")))]
pub async fn customer_history(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> AdminResult {
    history(&state, &req, EntityKind::Customer, &path).await
}

/// A conversation's change history, newest first.
#[utoipa::path(get, path = "/admin/v1/conversations/{id}/history", tag = "admin", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Conversation id"), HistoryQuery),
    responses((status = 200, description = "A page of changes", body = HistoryPage),
        (status = 403, description = "The key lacks admin.READ"),
        (status = 404, description = "No such conversation, and no history of one")))]
pub async fn conversation_history(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> AdminResult {
    history(&state, &req, EntityKind::Conversation, &path).await
}
