//! SalesIQ-style handlers under `/api/v2/{screen_name}/`.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;
use switchboard_domain::{
    Conversation, ConversationId, ConversationStatus, ConversationUpdate, DepartmentId,
    DomainError, Patch, Scope, validate,
};
use switchboard_storage::{LinkSet, Precondition, StorageError};

use super::Zoho;
use super::convert;
use super::error::{ZohoError, field_name};
use super::search::{self, ListQuery};
use super::wire::{ConversationOutput, CreateInput, Envelope, UpdateInput};
use crate::auth::{Principal, principal};
use crate::body::read_object;
use crate::{ApiError, AppState, FieldError};

type ZohoResult = Result<HttpResponse, ZohoError>;

const API: &str = "zoho";

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

/// The links a SalesIQ conversation object shows: its operators, its
/// department and the linked customer's contact (whose details fill
/// `visitor`'s gaps).
const LINKS: LinkSet = LinkSet::CONTACT;

/// Mounts the SalesIQ routes.
pub fn config(cfg: &mut web::ServiceConfig) {
    crate::mount_under(cfg, "/api/v2", routes());
}

/// Authenticates (`Zoho-oauthtoken` or `Bearer`), checks that
/// `screen_name` is the key's portal, then the OAuth-style scope
/// (`SalesIQ.conversations.READ|CREATE|UPDATE` map to the key's
/// `conversations.*` scopes).
async fn caller(
    state: &AppState,
    req: &HttpRequest,
    screen_name: &str,
    scope: Scope,
) -> Result<Principal, ZohoError> {
    let p = principal::<Zoho>(state, req, None).await?;
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

fn storage(e: StorageError) -> ZohoError {
    ApiError::from_storage_naming(e, "Conversation not found", &field_name).into()
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

fn url(screen: &str, id: Option<ConversationId>) -> String {
    match id {
        Some(id) => format!("/api/v2/{screen}/conversations/{id}"),
        None => format!("/api/v2/{screen}/conversations"),
    }
}

async fn one(state: &AppState, p: &Principal, screen: &str, c: &Conversation) -> ZohoResult {
    let links = state
        .store()
        .conversations()
        .links_of(p.tenant.id, c, LINKS)
        .await
        .map_err(storage)?;
    Ok(HttpResponse::Ok().json(Envelope {
        url: url(screen, Some(c.id)),
        object: "Object",
        data: convert::conversation_output(c, &links),
        sync_time: None,
    }))
}

/// Reads a `customer_info` object: a non-empty JSON object whose entries
/// the domain's custom info rules accept. Returns the entries to merge
/// (`null` values remove keys).
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
    let entries: BTreeMap<String, Value> = map.into_iter().collect();
    ConversationUpdate {
        custom_info_changes: entries.clone(),
        ..ConversationUpdate::default()
    }
    .validate()
    .map_err(|e| ApiError::from_domain(DomainError::Validation(e), &field_name))?;
    Ok(entries)
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
    let p = caller(&state, &req, &screen, Scope::ConversationsCreate).await?;
    // serde would read `visitor` written as an array as the object's
    // members in order; SalesIQ's `visitor` is an object.
    let raw: Value = read_object(&state, &req, payload).await?;
    if raw.get("visitor").is_some_and(|v| !v.is_object()) {
        return Err(ApiError::bad_request(
            "visitor",
            "invalid_type",
            "visitor must be a JSON object",
        )
        .into());
    }
    let input: CreateInput = crate::body::parse_json(raw.to_string().as_bytes())?;
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
    let now = state.store().now();
    let mut c = Conversation::new(p.tenant.id, session_key()?, now);
    c.visitor.name = input.visitor.name;
    c.visitor.email = input.visitor.email;
    c.visitor.phone = input.visitor.phone;
    c.visitor.country = input.visitor.country;
    c.visitor.host = input.visitor.ip;
    c.customer_message(input.question, now);
    c.department_id = department;
    c.created_with = Some("zoho".into());
    if let Some(info) = info {
        c.merge_custom_info(info);
    }
    let created = state
        .store()
        .conversations()
        .create(&p.context(API), c)
        .await
        .map_err(storage)?;
    one(&state, &p, &screen, &created).await
}

fn session_key() -> Result<String, ZohoError> {
    crate::token::random_hex("zs-", 12).ok_or_else(|| ApiError::Internal.into())
}

/// List conversations, newest first, filtered by SalesIQ's parameters.
///
/// `page`/`limit` paging (at most 99 per page); walking the pages in order
/// is stable under concurrent changes (each next page continues after the
/// last conversation served). `fields` keeps only the named members (and
/// `id`).
#[utoipa::path(get, path = "/api/v2/{screen_name}/conversations", tag = "zoho-salesiq",
    security(("zoho_oauthtoken" = [])), params(("screen_name" = String, Path, description = "Portal screen name"), ListQuery),
    responses((status = 200, description = "A page of conversations", body = Vec<ConversationOutput>),
        (status = 400, description = "Invalid parameter; `json_key` names it (code 1015)")))]
pub async fn list_conversations(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ZohoResult {
    let screen = path.into_inner();
    let p = caller(&state, &req, &screen, Scope::ConversationsRead).await?;
    let pairs = crate::fallback::query_pairs(&req)?;
    let (query, projection) = search::list(ListQuery::from_pairs(pairs)?)?;
    let conversations = state.store().conversations();
    let page = conversations
        .query(p.tenant.id, &query)
        .await
        .map_err(storage)?;
    let links = conversations
        .links(p.tenant.id, &page.items, LINKS)
        .await
        .map_err(storage)?;
    let outputs = page
        .items
        .iter()
        .zip(&links)
        .map(|(c, l)| convert::conversation_output(c, l));
    let sync_time = Some(convert::millis(state.store().now()));
    let url = url(&screen, None);
    Ok(match projection {
        None => HttpResponse::Ok().json(Envelope {
            url,
            object: "list",
            data: outputs.collect::<Vec<_>>(),
            sync_time,
        }),
        Some(fields) => {
            let data = outputs
                .map(|o| serde_json::to_value(o).map(|v| fields.apply(v)))
                .collect::<Result<Vec<Value>, _>>()
                .map_err(|_| ApiError::Internal)?;
            HttpResponse::Ok().json(Envelope {
                url,
                object: "list",
                data,
                sync_time,
            })
        }
    })
}

/// Retrieve a conversation.
#[utoipa::path(get, path = "/api/v2/{screen_name}/conversations/{conversation_id}", tag = "zoho-salesiq",
    security(("zoho_oauthtoken" = [])),
    params(("screen_name" = String, Path, description = "Portal screen name"), ("conversation_id" = String, Path, description = "Conversation id: a positive integer", pattern = "^0{0,18}[1-9][0-9]{0,17}$", max_length = 19)),
    responses((status = 200, description = "The conversation", body = ConversationOutput)))]
pub async fn get_conversation(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ZohoResult {
    let (screen, id) = path.into_inner();
    let p = caller(&state, &req, &screen, Scope::ConversationsRead).await?;
    let c = state
        .store()
        .conversations()
        .get(p.tenant.id, conversation_id(&id)?)
        .await
        .map_err(storage)?;
    one(&state, &p, &screen, &c).await
}

/// Merge `customer_info` keys into the conversation's custom info.
///
/// Keys named `name`, `email` or `phone` are stored as custom info and do
/// not change the visitor's details; a `null` value removes the key.
#[utoipa::path(put, path = "/api/v2/{screen_name}/conversations/{conversation_id}", tag = "zoho-salesiq",
    security(("zoho_oauthtoken" = [])),
    params(("screen_name" = String, Path, description = "Portal screen name"), ("conversation_id" = String, Path, description = "Conversation id: a positive integer", pattern = "^0{0,18}[1-9][0-9]{0,17}$", max_length = 19)),
    request_body = UpdateInput,
    responses((status = 200, description = "The conversation", body = ConversationOutput)))]
pub async fn update_conversation(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> ZohoResult {
    let (screen, id) = path.into_inner();
    let p = caller(&state, &req, &screen, Scope::ConversationsUpdate).await?;
    let id = conversation_id(&id)?;
    let input: UpdateInput = read_object(&state, &req, payload).await?;
    let update = ConversationUpdate {
        custom_info_changes: customer_info(input.customer_info)?,
        ..ConversationUpdate::default()
    };
    update_conversation_with(&state, &p, &screen, id, update).await
}

/// Applies `update` to conversation `id` and answers with the conversation.
async fn update_conversation_with(
    state: &AppState,
    p: &Principal,
    screen: &str,
    id: ConversationId,
    update: ConversationUpdate,
) -> ZohoResult {
    let c = state
        .store()
        .conversations()
        .apply(&p.context(API), id, Precondition::NONE, update)
        .await
        .map_err(storage)?;
    one(state, p, screen, &c).await
}

/// Close a conversation.
#[utoipa::path(put, path = "/api/v2/{screen_name}/conversations/{conversation_id}/close", tag = "zoho-salesiq",
    security(("zoho_oauthtoken" = [])),
    params(("screen_name" = String, Path, description = "Portal screen name"), ("conversation_id" = String, Path, description = "Conversation id: a positive integer", pattern = "^0{0,18}[1-9][0-9]{0,17}$", max_length = 19)),
    responses((status = 200, description = "The closed conversation", body = ConversationOutput)))]
pub async fn close_conversation(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ZohoResult {
    let (screen, id) = path.into_inner();
    let p = caller(&state, &req, &screen, Scope::ConversationsUpdate).await?;
    let id = conversation_id(&id)?;
    let update = ConversationUpdate {
        status: Patch::Value(ConversationStatus::Closed),
        ..ConversationUpdate::default()
    };
    update_conversation_with(&state, &p, &screen, id, update).await
}
