//! Chat-log handlers.

use actix_web::{HttpRequest, HttpResponse, web};
use switchboard_domain::{
    Conversation, ConversationUpdate, Customer, Patch, Scope, Visitor, VisitorUpdate, validate,
};
use switchboard_storage::{LinkSet, Precondition, StorageError};

use super::wire::{ChatlogInput, ChatlogOutput, EmailInput, Success};
use super::{Chatbot, ChatbotError};
use crate::auth::{Principal, principal};
use crate::body::read_object;
use crate::{ApiError, AppState};

type ChatbotResult = Result<HttpResponse, ChatbotError>;

const API: &str = "chatbot";

/// The one link a chat log shows: the customer (its details fill the
/// visitor's gaps).
const CUSTOMER: LinkSet = LinkSet {
    customer: true,
    contact_only: false,
    agents: false,
    department: false,
};

/// Every chatbot route (`email` before `{sessionid}`).
pub(crate) fn routes() -> Vec<(&'static str, &'static str, actix_web::Route)> {
    vec![
        (
            "POST",
            "/chatbot/v1/chatlog",
            web::post().to(create_chatlog),
        ),
        (
            "PUT",
            "/chatbot/v1/chatlog/email",
            web::put().to(update_email),
        ),
        (
            "GET",
            "/chatbot/v1/chatlog/{sessionid}",
            web::get().to(get_chatlog),
        ),
    ]
}

/// Mounts the chatbot routes.
pub fn config(cfg: &mut web::ServiceConfig) {
    crate::mount_under(cfg, "/chatbot", routes());
}

async fn caller(
    state: &AppState,
    req: &HttpRequest,
    scope: Scope,
) -> Result<Principal, ChatbotError> {
    principal::<Chatbot>(state, req, Some(scope)).await
}

fn storage(e: StorageError) -> ChatbotError {
    match e {
        StorageError::Conflict(_) => {
            ApiError::Conflict("a chat log with this sessionid already exists".into()).into()
        }
        other => ApiError::from_storage(other, &|p: &str| {
            match p {
                "/sessionKey" => "sessionid",
                "/visitor/email" => "email",
                "/visitor/name" => "name",
                "/visitor/country" => "country",
                other => other,
            }
            .to_string()
        })
        .into(),
    }
}

/// The chat log of a conversation: its name, email and country are the
/// conversation's contact (the visitor's own, the linked `customer`'s where
/// the visitor gave none).
fn output(c: &Conversation, customer: Option<&Customer>) -> ChatlogOutput {
    let Conversation {
        id,
        tenant_id: _,
        session_key,
        status,
        visitor,
        customer_id: _,
        assignee_id: _,
        agent_ids: _,
        department_id: _,
        topic_id: _,
        rating: _,
        flags: _,
        alert_level: _,
        rank: _,
        initial_queue_pos: _,
        transfer_to: _,
        first_message: _,
        last_message: _,
        requested_at: _,
        started_at: _,
        ended_at: _,
        idle_at: _,
        fetched_at: _,
        last_message_at: _,
        last_customer_message_at: _,
        closed_at: _,
        closed_by: _,
        snoozed_until: _,
        chatbot_active: _,
        custom_info: _,
        created_with: _,
        created_at,
        updated_at,
        version: _,
    } = c;
    let Visitor {
        name: _,
        email: _,
        phone: _,
        company: _,
        country: _,
        host: _,
        alias: _,
        consented: _,
    } = visitor;
    let who = c.contact(customer);
    let owned = |v: Option<&str>| v.map(str::to_owned);
    ChatlogOutput {
        id: id.get(),
        sessionid: session_key.clone(),
        name: owned(who.name),
        country: owned(who.country),
        email: owned(who.email),
        status: status.as_str().to_string(),
        created_at: created_at.as_millis(),
        updated_at: updated_at.as_millis(),
    }
}

fn new_session_id() -> Result<String, ChatbotError> {
    crate::token::random_hex("", 16).ok_or_else(|| ApiError::Internal.into())
}

/// Create a chat log.
#[utoipa::path(post, path = "/chatbot/v1/chatlog", tag = "chatbot", security(("bearer" = [])),
    request_body = ChatlogInput,
    responses((status = 201, description = "Created", body = ChatlogOutput),
        (status = 400, description = "Invalid input"), (status = 409, description = "sessionid taken")))]
pub async fn create_chatlog(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ChatbotResult {
    let p = caller(&state, &req, Scope::ConversationsCreate).await?;
    let input: ChatlogInput = read_object(&state, &req, payload).await?;
    let session = match input.sessionid {
        Some(s) => s,
        None => new_session_id()?,
    };
    if let Some(email) = &input.email
        && !validate::email(email)
    {
        return Err(ApiError::bad_request("email", "email", "invalid email address").into());
    }
    let mut c = Conversation::new(p.tenant.id, session, state.store().now());
    c.visitor.name = input.name;
    c.visitor.country = input.country;
    c.visitor.email = input.email;
    c.chatbot_active = true;
    c.created_with = Some("chatbot".into());
    let ctx = p.context(API);
    let created = state
        .store()
        .conversations()
        .create(&ctx, c)
        .await
        .map_err(storage)?;
    Ok(HttpResponse::Created().json(output(&created, None)))
}

/// Retrieve a chat log by session id.
#[utoipa::path(get, path = "/chatbot/v1/chatlog/{sessionid}", tag = "chatbot", security(("bearer" = [])),
    params(("sessionid" = String, Path, description = "Session id")),
    responses((status = 200, description = "The chat log", body = ChatlogOutput),
        (status = 404, description = "`{\"error\":\"Chatlog not found\"}`")))]
pub async fn get_chatlog(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> ChatbotResult {
    let p = caller(&state, &req, Scope::ConversationsRead).await?;
    let store = state.store();
    let id = store
        .conversations()
        .id_by_session_key(p.tenant.id, &path)
        .await
        .map_err(storage)?
        .ok_or_else(|| ApiError::NotFound("Chatlog not found".into()))?;
    let c = store
        .conversations()
        .get(p.tenant.id, id)
        .await
        .map_err(storage)?;
    let links = store
        .conversations()
        .links_of(p.tenant.id, &c, CUSTOMER)
        .await
        .map_err(storage)?;
    Ok(HttpResponse::Ok().json(output(&c, links.customer.as_ref())))
}

/// Update a chat log's email. Emits `email_updated` (delivered to Zapier)
/// in the same transaction, also when the email is unchanged (the seed
/// fetches the chat log, updates it, then always triggers the webhook).
/// An unknown `sessionid` is 404 before the email is checked.
#[utoipa::path(put, path = "/chatbot/v1/chatlog/email", tag = "chatbot", security(("bearer" = [])),
    request_body = EmailInput,
    responses((status = 200, description = "`{\"message\":\"success\"}`", body = Success),
        (status = 400, description = "`{\"error\": \"…\"}` naming the problem"),
        (status = 404, description = "`{\"error\":\"Chatlog not found\"}`")))]
pub async fn update_email(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ChatbotResult {
    let p = caller(&state, &req, Scope::ConversationsUpdate).await?;
    let input: EmailInput = read_object(&state, &req, payload).await?;
    let session = input
        .sessionid
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("sessionid", "required", "sessionid is required"))?;
    // The seed's order: fetch the chat log (404), then update its email,
    // then trigger the webhook, whether the email changed or not.
    let store = state.store();
    let not_found = || ChatbotError::from(ApiError::NotFound("Chatlog not found".into()));
    let id = store
        .conversations()
        .id_by_session_key(p.tenant.id, &session)
        .await
        .map_err(storage)?
        .ok_or_else(not_found)?;
    let email = input
        .email
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
        .ok_or_else(|| ApiError::bad_request("email", "required", "email is required"))?;
    if !validate::email(&email) {
        return Err(ApiError::bad_request("email", "email", "invalid email address").into());
    }
    let ctx = p.context(API);
    let conversations = store.conversations();
    let gone = |e: StorageError| match e {
        StorageError::NotFound => not_found(),
        other => storage(other),
    };
    // A concurrent write between the read and the write is retried, so
    // the event always describes the version it announces.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let current = conversations.get(p.tenant.id, id).await.map_err(gone)?;
        let at = Precondition::version(current.version);
        let result = if current.visitor.email.as_deref() == Some(email.as_str()) {
            conversations.confirm_email(&ctx, id, at).await
        } else {
            let update = ConversationUpdate {
                visitor: VisitorUpdate {
                    email: Patch::Value(email.clone()),
                    ..VisitorUpdate::default()
                },
                ..ConversationUpdate::default()
            };
            conversations.apply(&ctx, id, at, update).await
        };
        match result {
            Ok(_) => break,
            Err(StorageError::PreconditionFailed) if attempts < 5 => {}
            Err(StorageError::PreconditionFailed) => {
                return Err(
                    ApiError::from_storage(StorageError::Contention, &|p| p.to_string()).into(),
                );
            }
            Err(e) => return Err(gone(e)),
        }
    }
    Ok(HttpResponse::Ok().json(Success { message: "success" }))
}
