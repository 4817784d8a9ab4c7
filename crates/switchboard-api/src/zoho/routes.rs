//! SalesIQ-style handlers under `/api/v2/{screen_name}/`.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::Value;
use switchboard_domain::{
    Actor, Conversation, ConversationId, ConversationStatus, DepartmentId,
    MAX_CUSTOM_INFO_KEY_CHARS, MAX_CUSTOM_INFO_KEYS, MAX_CUSTOM_INFO_VALUE_BYTES, Scope, validate,
};
use switchboard_storage::{Precondition, StorageError, WriteContext};

use super::convert::{self, Links};
use super::error::{ZohoError, field_name};
use super::wire::{ConversationOutput, CreateInput, Envelope, UpdateInput};
use crate::auth::{Principal, Scheme, authenticate};
use crate::body::{Shape, read_json};
use crate::{ApiError, AppState, FieldError};

type ZohoResult = Result<HttpResponse, ZohoError>;

const API: &str = "zoho";

/// Default and largest page size of `GET conversations`.
pub const DEFAULT_LIMIT: u32 = 20;
/// See [`DEFAULT_LIMIT`].
pub const MAX_LIMIT: u32 = 99;

/// Every SalesIQ route.
pub(crate) fn routes() -> Vec<(&'static str, &'static str, actix_web::Route)> {
    vec![
        (
            "POST",
            "/api/v2/{screen_name}/conversations",
            web::post().to(create_conversation),
        ),
        (
            "GET",
            "/api/v2/{screen_name}/conversations",
            web::get().to(list_conversations),
        ),
        (
            "GET",
            "/api/v2/{screen_name}/conversations/{conversation_id}",
            web::get().to(get_conversation),
        ),
        (
            "PUT",
            "/api/v2/{screen_name}/conversations/{conversation_id}",
            web::put().to(update_conversation),
        ),
        (
            "PUT",
            "/api/v2/{screen_name}/conversations/{conversation_id}/close",
            web::put().to(close_conversation),
        ),
    ]
}

/// Authenticates (`Zoho-oauthtoken` or `Bearer`), checks the OAuth-style
/// scope (`SalesIQ.conversations.READ|CREATE|UPDATE` map to the key's
/// `conversations.*` scopes) and that `screen_name` is the key's portal.
async fn principal(
    state: &AppState,
    req: &HttpRequest,
    screen_name: &str,
    scope: Scope,
) -> Result<Principal, ZohoError> {
    let p = authenticate(state, req, &[Scheme::ZohoOauthToken, Scheme::Bearer]).await?;
    if !p.tenant.name.eq_ignore_ascii_case(screen_name) {
        return Err(ApiError::BadRequest(vec![FieldError::new(
            "screen_name",
            "invalid_portal",
            "Invalid portal or wrong screen name.",
        )])
        .into());
    }
    p.require(scope)?;
    Ok(p)
}

fn ctx(p: &Principal) -> WriteContext {
    WriteContext::new(p.tenant.clone(), Actor::ApiKey(p.key.id), API)
}

fn storage(e: StorageError) -> ZohoError {
    match e {
        StorageError::NotFound => ApiError::NotFound("Conversation not found".into()).into(),
        other => ApiError::from_storage(other, &field_name).into(),
    }
}

fn conversation_id(raw: &str) -> Result<ConversationId, ZohoError> {
    raw.parse::<ConversationId>().map_err(|_| {
        ApiError::bad_request(
            "conversation_id",
            "invalid_id",
            "must be a positive integer",
        )
        .into()
    })
}

async fn object_body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    payload: web::Payload,
) -> Result<T, ZohoError> {
    Ok(read_json(payload, state.config().body_limit, Shape::Object).await?)
}

fn url(screen: &str, id: Option<ConversationId>) -> String {
    match id {
        Some(id) => format!("/api/v2/{screen}/conversations/{id}"),
        None => format!("/api/v2/{screen}/conversations"),
    }
}

async fn links(state: &AppState, p: &Principal, c: &Conversation) -> Links {
    let store = state.store();
    let tenant = p.tenant.id;
    let mut links = Links::default();
    if let Some(id) = c.assignee_id {
        links.attender = store.agent(tenant, id).await.ok();
    }
    for id in &c.agent_ids {
        if let Ok(a) = store.agent(tenant, *id).await {
            links.participants.push(a);
        }
    }
    if let Some(id) = c.department_id {
        links.department = store.department(tenant, id).await.ok();
    }
    links
}

async fn one(state: &AppState, p: &Principal, screen: &str, c: &Conversation) -> HttpResponse {
    let data = convert::conversation_output(c, &links(state, p, c).await);
    HttpResponse::Ok().json(Envelope {
        url: url(screen, Some(c.id)),
        object: "Object",
        data,
        sync_time: None,
    })
}

/// Checks a `customer_info` object: non-empty, bounded keys and values.
/// Returns the entries to merge (`null` values remove keys).
fn customer_info(v: Value) -> Result<BTreeMap<String, Value>, ZohoError> {
    let Value::Object(map) = v else {
        return Err(ApiError::bad_request(
            "customer_info",
            "invalid_type",
            "customer_info must be a JSON object",
        )
        .into());
    };
    if map.is_empty() {
        return Err(ApiError::bad_request(
            "customer_info",
            "required",
            "customer_info must have at least one key",
        )
        .into());
    }
    if map.len() > MAX_CUSTOM_INFO_KEYS {
        return Err(ApiError::bad_request(
            "customer_info",
            "length",
            format!("customer_info may have at most {MAX_CUSTOM_INFO_KEYS} keys"),
        )
        .into());
    }
    for (k, v) in &map {
        let key = format!("customer_info.{k}");
        if k.trim().is_empty() || k.chars().count() > MAX_CUSTOM_INFO_KEY_CHARS {
            return Err(ApiError::bad_request(
                key,
                "length",
                format!("keys must be 1-{MAX_CUSTOM_INFO_KEY_CHARS} characters"),
            )
            .into());
        }
        if serde_json::to_vec(v).map_or(usize::MAX, |b| b.len()) > MAX_CUSTOM_INFO_VALUE_BYTES {
            return Err(ApiError::bad_request(
                key,
                "size",
                format!("values must be at most {MAX_CUSTOM_INFO_VALUE_BYTES} bytes of JSON"),
            )
            .into());
        }
    }
    Ok(map.into_iter().collect())
}

/// Create a conversation with a visitor and a question.
#[utoipa::path(post, path = "/api/v2/{screen_name}/conversations", tag = "zoho-salesiq",
    security(("zoho_oauthtoken" = [])), params(("screen_name" = String, Path, description = "Portal screen name")),
    request_body = CreateInput,
    responses((status = 200, description = "Created", body = ConversationOutput)))]
pub async fn create_conversation(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> ZohoResult {
    let screen = path.into_inner();
    let p = principal(&state, &req, &screen, Scope::ConversationsCreate).await?;
    let input: CreateInput = object_body(&state, payload).await?;
    if input.question.trim().is_empty() {
        return Err(
            ApiError::bad_request("question", "required", "question must not be empty").into(),
        );
    }
    if let Some(email) = &input.visitor.email
        && !validate::email(email)
    {
        return Err(ApiError::bad_request(
            "visitor.email",
            "email",
            "must be a valid email address",
        )
        .into());
    }
    let info = input.customer_info.map(customer_info).transpose()?;
    let department = input
        .department_id
        .map(|d| {
            d.parse::<DepartmentId>().map_err(|_| {
                ApiError::bad_request("department_id", "invalid_id", "must be a numeric id")
            })
        })
        .transpose()?;
    let now = switchboard_storage::now();
    let mut c = Conversation::new(p.tenant.id, session_key()?, now);
    c.visitor.name = input.visitor.name;
    c.visitor.email = input.visitor.email;
    c.visitor.phone = input.visitor.phone;
    c.visitor.country = input.visitor.country;
    c.visitor.host = input.visitor.ip;
    c.first_message = Some(input.question.clone());
    c.last_message = Some(input.question);
    c.last_message_at = Some(now);
    c.last_customer_message_at = Some(now);
    c.department_id = department;
    c.created_with = Some("zoho".into());
    if let Some(info) = info {
        c.merge_custom_info(info);
    }
    let created = state
        .store()
        .create_conversation(&ctx(&p), c)
        .await
        .map_err(storage)?;
    Ok(one(&state, &p, &screen, &created).await)
}

fn session_key() -> Result<String, ZohoError> {
    crate::token::random_hex("zs-", 12).ok_or_else(|| ApiError::Internal.into())
}

/// Query of `GET conversations`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// 1-based page (default 1).
    pub page: Option<String>,
    /// Page size, 1–99 (default 20).
    pub limit: Option<String>,
    /// `waiting`, `connected`, `pending`, `on_hold`, `missed`, `ended`, `open`, `closed`.
    pub status: Option<String>,
}

/// List conversations, newest first.
#[utoipa::path(get, path = "/api/v2/{screen_name}/conversations", tag = "zoho-salesiq",
    security(("zoho_oauthtoken" = [])), params(("screen_name" = String, Path, description = "Portal screen name"), ListQuery),
    responses((status = 200, description = "A page of conversations", body = Vec<ConversationOutput>)))]
pub async fn list_conversations(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ZohoResult {
    let screen = path.into_inner();
    let p = principal(&state, &req, &screen, Scope::ConversationsRead).await?;
    let query = web::Query::<ListQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::bad_request("query", "invalid_param", e.to_string()))?
        .into_inner();
    let number =
        |name: &str, v: Option<String>, default: u32, max: u32| -> Result<u32, ZohoError> {
            match v {
                None => Ok(default),
                Some(s) => s
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=max).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            name,
                            "invalid_param",
                            format!("{name} must be between 1 and {max}"),
                        )
                        .into()
                    }),
            }
        };
    let page = number("page", query.page, 1, 100_000)?;
    let limit = number("limit", query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let statuses: Vec<ConversationStatus> = match query.status {
        Some(s) => convert::status_filter(&s)
            .ok_or_else(|| ApiError::bad_request("status", "invalid_param", "unknown status"))?,
        None => Vec::new(),
    };
    let list = state
        .store()
        .conversations_in(
            p.tenant.id,
            &statuses,
            (page - 1).saturating_mul(limit),
            limit,
        )
        .await
        .map_err(storage)?;
    let mut data = Vec::with_capacity(list.len());
    for c in &list {
        data.push(convert::conversation_output(c, &links(&state, &p, c).await));
    }
    Ok(HttpResponse::Ok().json(Envelope {
        url: url(&screen, None),
        object: "list",
        data,
        sync_time: Some(convert::millis(switchboard_storage::now())),
    }))
}

/// Retrieve a conversation.
#[utoipa::path(get, path = "/api/v2/{screen_name}/conversations/{conversation_id}", tag = "zoho-salesiq",
    security(("zoho_oauthtoken" = [])),
    params(("screen_name" = String, Path, description = "Portal screen name"), ("conversation_id" = String, Path, description = "Conversation id")),
    responses((status = 200, description = "The conversation", body = ConversationOutput)))]
pub async fn get_conversation(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ZohoResult {
    let (screen, id) = path.into_inner();
    let p = principal(&state, &req, &screen, Scope::ConversationsRead).await?;
    let c = state
        .store()
        .conversation(p.tenant.id, conversation_id(&id)?)
        .await
        .map_err(storage)?;
    Ok(one(&state, &p, &screen, &c).await)
}

/// Merge `customer_info` keys into the conversation's custom info.
///
/// Keys named `name`, `email` or `phone` are stored as custom info and do
/// not change the visitor's details; a `null` value removes the key.
#[utoipa::path(put, path = "/api/v2/{screen_name}/conversations/{conversation_id}", tag = "zoho-salesiq",
    security(("zoho_oauthtoken" = [])),
    params(("screen_name" = String, Path, description = "Portal screen name"), ("conversation_id" = String, Path, description = "Conversation id")),
    request_body = UpdateInput,
    responses((status = 200, description = "The conversation", body = ConversationOutput)))]
pub async fn update_conversation(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> ZohoResult {
    let (screen, id) = path.into_inner();
    let p = principal(&state, &req, &screen, Scope::ConversationsUpdate).await?;
    let id = conversation_id(&id)?;
    let input: UpdateInput = object_body(&state, payload).await?;
    let entries = customer_info(input.customer_info)?;
    let c = state
        .store()
        .modify_conversation(&ctx(&p), id, Precondition::NONE, move |c| {
            c.merge_custom_info(entries.clone());
            Ok(())
        })
        .await
        .map_err(storage)?;
    Ok(one(&state, &p, &screen, &c).await)
}

/// Close a conversation.
#[utoipa::path(put, path = "/api/v2/{screen_name}/conversations/{conversation_id}/close", tag = "zoho-salesiq",
    security(("zoho_oauthtoken" = [])),
    params(("screen_name" = String, Path, description = "Portal screen name"), ("conversation_id" = String, Path, description = "Conversation id")),
    responses((status = 200, description = "The closed conversation", body = ConversationOutput)))]
pub async fn close_conversation(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ZohoResult {
    let (screen, id) = path.into_inner();
    let p = principal(&state, &req, &screen, Scope::ConversationsUpdate).await?;
    let id = conversation_id(&id)?;
    let actor = Actor::ApiKey(p.key.id);
    let c = state
        .store()
        .modify_conversation(&ctx(&p), id, Precondition::NONE, move |c| {
            c.set_status(
                ConversationStatus::Closed,
                actor,
                switchboard_storage::now(),
            );
            Ok(())
        })
        .await
        .map_err(storage)?;
    Ok(one(&state, &p, &screen, &c).await)
}
