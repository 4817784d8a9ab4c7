//! HelpCrunch-style handlers. Each one authenticates, parses, converts to a
//! domain change, calls the store, and converts back; nothing else.

use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;
use switchboard_domain::{
    AgentId, AttributeSet, Conversation, ConversationId, ConversationStatus, ConversationUpdate,
    Customer, CustomerId, CustomerUpdate, DepartmentId, MAX_TAG_NAME_CHARS, Patch, Scope,
    UpdateMode, validate,
};
use switchboard_storage::{BatchError, LinkSet, Precondition, StorageError};

use super::HelpCrunch;
use super::convert;
use super::error::{HcError, field_name};
use super::search::{self, ListParams, SearchInput};
use super::wire::{
    BatchItem, BatchResult, ChatAssigneeInput, ChatCreateInput, ChatDepartmentInput, ChatList,
    ChatOutput, ChatStatusInput, CustomerInput, CustomerList, CustomerOutput, ListMeta, TagsInput,
};

use crate::auth::{Principal, principal};
use crate::body::{Shape, parse_json, read_json, read_object};
use crate::{ApiError, AppState, FieldError};

type HcResult = Result<HttpResponse, HcError>;

/// The API name recorded in the change history.
const API: &str = "helpcrunch";

/// Every HelpCrunch route: method, path, handler. Order matters: literal
/// segments (`batch`, `status`) come before `{id}`.
pub(crate) fn routes() -> Vec<(&'static str, &'static str, actix_web::Route)> {
    vec![
        ("GET", "/v1/customers", web::get().to(list_customers)),
        ("POST", "/v1/customers", web::post().to(create_customer)),
        (
            "POST",
            "/v1/customers/search",
            web::post().to(search_customers),
        ),
        ("PUT", "/v1/customers/batch", web::put().to(batch_update)),
        ("GET", "/v1/customers/{id}", web::get().to(get_customer)),
        ("PUT", "/v1/customers/{id}", web::put().to(put_customer)),
        (
            "PATCH",
            "/v1/customers/{id}",
            web::patch().to(patch_customer),
        ),
        (
            "DELETE",
            "/v1/customers/{id}",
            web::delete().to(delete_customer),
        ),
        ("PUT", "/v1/customers/{id}/tags", web::put().to(add_tags)),
        (
            "DELETE",
            "/v1/customers/{id}/tags",
            web::delete().to(remove_tags),
        ),
        ("GET", "/v1/chats", web::get().to(list_chats)),
        ("POST", "/v1/chats", web::post().to(create_chat)),
        ("POST", "/v1/chats/search", web::post().to(search_chats)),
        ("PUT", "/v1/chats/status", web::put().to(chat_status)),
        ("PUT", "/v1/chats/assignee", web::put().to(chat_assignee)),
        (
            "PUT",
            "/v1/chats/department",
            web::put().to(chat_department),
        ),
        ("GET", "/v1/chats/{id}", web::get().to(get_chat)),
    ]
}

/// Mounts the HelpCrunch routes.
pub fn config(cfg: &mut web::ServiceConfig) {
    crate::mount_under(cfg, "/v1", routes());
}

async fn caller(state: &AppState, req: &HttpRequest, scope: Scope) -> Result<Principal, HcError> {
    principal::<HelpCrunch>(state, req, Some(scope)).await
}

fn storage(e: StorageError, what: &str) -> HcError {
    match e {
        StorageError::Conflict(_) if what == "Customer" => {
            ApiError::Conflict("a customer with this userId already exists".into()).into()
        }
        other => {
            ApiError::from_storage_naming(other, &format!("{what} not found"), &field_name).into()
        }
    }
}

/// A path id, refused HelpCrunch's way: a value that is not a number is
/// `{"code": "customer", "message": "This value should be of type numeric."}`
/// (the vendor's own example; `field` is `customer` or `chat`).
fn parse_id(raw: &str, field: &str) -> Result<i64, HcError> {
    let raw = raw.trim();
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(
            field,
            "invalid_type",
            "This value should be of type numeric.",
        )
        .into());
    }
    raw.parse::<CustomerId>().map(CustomerId::get).map_err(|_| {
        ApiError::bad_request(field, "invalid_id", "This value should be positive.").into()
    })
}

/// Reads a body whose top level must be `shape`, naming fields the HelpCrunch way.
async fn body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    shape: Shape,
) -> Result<T, HcError> {
    Ok(read_json(req, payload, state.config().body_limit, shape)
        .await
        .map_err(dotted)?)
}

/// serde paths (`customData[0].value`) rendered HelpCrunch's way (`customData.0.value`).
fn dotted(e: ApiError) -> ApiError {
    match e {
        ApiError::BadRequest(fields) => ApiError::BadRequest(
            fields
                .into_iter()
                .map(|f| FieldError {
                    field: f.field.replace('[', ".").replace(']', ""),
                    ..f
                })
                .collect(),
        ),
        other => other,
    }
}

/// The query string's parameters of a list.
fn list_params(req: &HttpRequest) -> Result<ListParams, HcError> {
    let pairs = crate::fallback::query_pairs(req)?;
    Ok(ListParams::from_pairs(pairs)?)
}

async fn customer_page(
    state: &AppState,
    p: &Principal,
    q: switchboard_domain::query::Query<switchboard_domain::query::CustomerField>,
) -> HcResult {
    let found = state
        .store()
        .customers()
        .query_counted(p.tenant.id, &q)
        .await
        .map_err(|e| storage(e, "Customer"))?;
    customer_list(found)
}

fn customer_list(found: switchboard_storage::CountedPage<Customer>) -> HcResult {
    let list = CustomerList {
        data: found
            .page
            .items
            .into_iter()
            .map(convert::customer_output)
            .collect(),
        total: found.total,
    };
    page_answer(super::page_json::customer_list(&list))
}

/// A page written by `page_json`, as a 200 answer.
fn page_answer(written: Result<Vec<u8>, serde_json::Error>) -> HcResult {
    let body = written.map_err(|_| ApiError::Internal)?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body))
}

async fn chat_page(
    state: &AppState,
    p: &Principal,
    q: switchboard_domain::query::Query<switchboard_domain::query::ConversationField>,
) -> HcResult {
    let (found, links) = state
        .store()
        .conversations()
        .query_counted(p.tenant.id, &q, LinkSet::CONTACT)
        .await
        .map_err(|e| storage(e, "Chat"))?;
    let list = ChatList {
        data: found
            .page
            .items
            .iter()
            .zip(&links)
            .map(|(c, l)| convert::chat_output(c, l))
            .collect(),
        meta: ListMeta { total: found.total },
    };
    page_answer(super::page_json::chat_list(&list))
}

/// List customers, a page at a time.
///
/// `offset`/`limit` paging (at most 100 per page). Walking the pages in
/// order is stable under concurrent changes: each next offset continues
/// after the last customer served.
#[utoipa::path(get, path = "/v1/customers", tag = "helpcrunch", security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, description = "A page of customers and the total", body = CustomerList),
        (status = 400, description = "Invalid parameter (named in `errors[1].code`)"),
        (status = 401, description = "Unauthorized"), (status = 403, description = "Missing scope customers.READ"),
        (status = 429, description = "Rate limited")))]
pub async fn list_customers(state: web::Data<AppState>, req: HttpRequest) -> HcResult {
    let p = caller(&state, &req, Scope::CustomersRead).await?;
    let q = search::customer_list(list_params(&req)?)?;
    customer_page(&state, &p, q).await
}

/// Search customers by their attributes.
///
/// `filter` conditions combined by `comparison` (`AND`, `OR`), sorted and
/// paged like the list. Fields: `customers.id`, `.name`, `.email`,
/// `.company`, `.phone`, `.userId`, `.createdAt`, `.updatedAt`,
/// `.firstSeen`, `.lastSeen`, `.tagsData`, `.customData.<property>`.
#[utoipa::path(post, path = "/v1/customers/search", tag = "helpcrunch", security(("bearer" = [])),
    request_body = SearchInput,
    responses((status = 200, description = "A page of matching customers and the total", body = CustomerList),
        (status = 400, description = "Invalid search; the part is named, e.g. `filter[0].field`"),
        (status = 401, description = "Unauthorized"), (status = 403, description = "Missing scope customers.READ"),
        (status = 429, description = "Rate limited")))]
pub async fn search_customers(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HcResult {
    crate::observe::read_only(&req);
    let p = caller(&state, &req, Scope::CustomersRead).await?;
    let input: SearchInput = read_object(&state, &req, payload).await?;
    if !input.names_custom_data() {
        let q = search::customer_search(input, &AttributeSet::default())?;
        return customer_page(&state, &p, q).await;
    }
    // The definitions type a custom attribute's value: read, or their
    // cached copy checked, in the page's own call to the store.
    let found = state
        .store()
        .customers()
        .query_counted_by(p.tenant.id, move |attrs| {
            search::customer_search(input, attrs)
        })
        .await
        .map_err(|e| storage(e, "Customer"))??;
    customer_list(found)
}

/// List chats, a page at a time (see `GET /v1/customers`).
#[utoipa::path(get, path = "/v1/chats", tag = "helpcrunch", security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, description = "A page of chats and the total in `meta`", body = ChatList),
        (status = 400, description = "Invalid parameter (named in `errors[1].code`)"),
        (status = 401, description = "Unauthorized"), (status = 403, description = "Missing scope conversations.READ"),
        (status = 429, description = "Rate limited")))]
pub async fn list_chats(state: web::Data<AppState>, req: HttpRequest) -> HcResult {
    let p = caller(&state, &req, Scope::ConversationsRead).await?;
    let q = search::chat_list(list_params(&req)?)?;
    chat_page(&state, &p, q).await
}

/// Search chats by their attributes.
///
/// Fields: `chats.id`, `.status`, `.assignee`, `.department`, `.customer`,
/// `.customer.email`, `.createdAt`, `.updatedAt`, `.closedAt`.
#[utoipa::path(post, path = "/v1/chats/search", tag = "helpcrunch", security(("bearer" = [])),
    request_body = SearchInput,
    responses((status = 200, description = "A page of matching chats and the total in `meta`", body = ChatList),
        (status = 400, description = "Invalid search; the part is named, e.g. `filter[0].field`"),
        (status = 401, description = "Unauthorized"), (status = 403, description = "Missing scope conversations.READ"),
        (status = 429, description = "Rate limited")))]
pub async fn search_chats(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HcResult {
    crate::observe::read_only(&req);
    let p = caller(&state, &req, Scope::ConversationsRead).await?;
    let input: SearchInput = read_object(&state, &req, payload).await?;
    let q = search::chat_search(input)?;
    chat_page(&state, &p, q).await
}

/// Create a customer.
#[utoipa::path(post, path = "/v1/customers", tag = "helpcrunch", security(("bearer" = [])),
    request_body = CustomerInput,
    responses((status = 201, description = "Created", body = CustomerOutput),
        (status = 400, description = "Invalid request"), (status = 401, description = "Unauthorized"),
        (status = 403, description = "Missing scope customers.CREATE"), (status = 409, description = "userId taken"),
        (status = 429, description = "Rate limited")))]
pub async fn create_customer(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HcResult {
    let p = caller(&state, &req, Scope::CustomersCreate).await?;
    let input: CustomerInput = body(&state, &req, payload, Shape::Object).await?;
    let update = convert::customer_update(input)?;
    let mut customer = Customer::new(p.tenant.id, state.store().now());
    update.apply(&mut customer, UpdateMode::Replace);
    customer.created_from = Some("api".into());
    let created = state
        .store()
        .customers()
        .create(&p.context(API), customer)
        .await
        .map_err(|e| storage(e, "Customer"))?;
    Ok(HttpResponse::Created().json(convert::customer_output(created)))
}

/// Retrieve a customer.
#[utoipa::path(get, path = "/v1/customers/{id}", tag = "helpcrunch", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Customer id")),
    responses((status = 200, description = "The customer", body = CustomerOutput),
        (status = 404, description = "Not found")))]
pub async fn get_customer(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HcResult {
    let p = caller(&state, &req, Scope::CustomersRead).await?;
    let id = CustomerId::new(parse_id(&path, "customer")?);
    let c = state
        .store()
        .customers()
        .get(p.tenant.id, id)
        .await
        .map_err(|e| storage(e, "Customer"))?;
    Ok(HttpResponse::Ok().json(convert::customer_output(c)))
}

async fn update_customer(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    mode: UpdateMode,
) -> HcResult {
    let p = caller(&state, &req, Scope::CustomersUpdate).await?;
    let id = CustomerId::new(parse_id(&path, "customer")?);
    let input: CustomerInput = body(&state, &req, payload, Shape::Object).await?;
    let update = convert::customer_update(input)?;
    let c = state
        .store()
        .customers()
        .apply(&p.context(API), id, Precondition::NONE, update, mode)
        .await
        .map_err(|e| storage(e, "Customer"))?;
    Ok(HttpResponse::Ok().json(convert::customer_output(c)))
}

/// Replace a customer: fields not in the body become null.
#[utoipa::path(put, path = "/v1/customers/{id}", tag = "helpcrunch", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Customer id")), request_body = CustomerInput,
    responses((status = 200, description = "The customer", body = CustomerOutput),
        (status = 400, description = "Invalid request"), (status = 404, description = "Not found")))]
pub async fn put_customer(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HcResult {
    update_customer(state, req, path, payload, UpdateMode::Replace).await
}

/// Update a customer: only the given fields change; `null` clears.
#[utoipa::path(patch, path = "/v1/customers/{id}", tag = "helpcrunch", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Customer id")), request_body = CustomerInput,
    responses((status = 200, description = "The customer", body = CustomerOutput),
        (status = 400, description = "Invalid request"), (status = 404, description = "Not found")))]
pub async fn patch_customer(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HcResult {
    update_customer(state, req, path, payload, UpdateMode::Merge).await
}

/// Delete a customer.
#[utoipa::path(delete, path = "/v1/customers/{id}", tag = "helpcrunch", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Customer id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found")))]
pub async fn delete_customer(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HcResult {
    let p = caller(&state, &req, Scope::CustomersUpdate).await?;
    let id = CustomerId::new(parse_id(&path, "customer")?);
    state
        .store()
        .customers()
        .delete(&p.context(API), id, Precondition::NONE)
        .await
        .map_err(|e| storage(e, "Customer"))?;
    Ok(HttpResponse::NoContent().finish())
}

/// Add tags to a customer; unknown tags are created.
#[utoipa::path(put, path = "/v1/customers/{id}/tags", tag = "helpcrunch", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Customer id")), request_body = TagsInput,
    responses((status = 200, description = "The customer", body = CustomerOutput)))]
pub async fn add_tags(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HcResult {
    let p = caller(&state, &req, Scope::CustomersUpdate).await?;
    let id = CustomerId::new(parse_id(&path, "customer")?);
    let input: TagsInput = body(&state, &req, payload, Shape::Object).await?;
    if input.tags.is_empty() {
        return Err(
            ApiError::bad_request("tags", "required", "at least one tag is required").into(),
        );
    }
    let tags = convert::tags(input.tags);
    let c = state
        .store()
        .customers()
        .update(&p.context(API), id, Precondition::NONE, move |c| {
            c.add_tags(tags.clone());
        })
        .await
        .map_err(|e| storage(e, "Customer"))?;
    Ok(HttpResponse::Ok().json(convert::customer_output(c)))
}

/// Remove tags (by name) from a customer.
#[utoipa::path(delete, path = "/v1/customers/{id}/tags", tag = "helpcrunch", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Customer id")), request_body = TagsInput,
    responses((status = 200, description = "The customer", body = CustomerOutput)))]
pub async fn remove_tags(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HcResult {
    let p = caller(&state, &req, Scope::CustomersUpdate).await?;
    let id = CustomerId::new(parse_id(&path, "customer")?);
    let input: TagsInput = body(&state, &req, payload, Shape::Object).await?;
    if input.tags.is_empty() {
        return Err(
            ApiError::bad_request("tags", "required", "at least one tag is required").into(),
        );
    }
    // The tags are named by the rules of adding them: a blank or too long
    // name names no tag, and a color, though not needed, must be one.
    for (i, t) in input.tags.iter().enumerate() {
        let name = t.name.trim();
        if name.is_empty() {
            return Err(ApiError::bad_request(
                format!("tags.{i}.name"),
                "required",
                "must not be empty",
            )
            .into());
        }
        if name.chars().count() > MAX_TAG_NAME_CHARS {
            return Err(ApiError::bad_request(
                format!("tags.{i}.name"),
                "length",
                format!("must be at most {MAX_TAG_NAME_CHARS} characters"),
            )
            .into());
        }
        if let Some(color) = t.color.as_deref().filter(|c| !c.is_empty())
            && !validate::css_color(color)
        {
            return Err(ApiError::bad_request(
                format!("tags.{i}.color"),
                "color",
                "must be a CSS color",
            )
            .into());
        }
    }
    let names: Vec<String> = input
        .tags
        .into_iter()
        .map(|t| t.name.trim().to_string())
        .collect();

    let c = state
        .store()
        .customers()
        .update(&p.context(API), id, Precondition::NONE, move |c| {
            c.remove_tags(names.iter().map(String::as_str));
        })
        .await
        .map_err(|e| storage(e, "Customer"))?;
    Ok(HttpResponse::Ok().json(convert::customer_output(c)))
}

/// Update up to 10 customers at once (merge semantics), all or nothing.
///
/// Every item is parsed and checked first; if any item is invalid (bad
/// JSON shape, unknown customer, a rule broken), nothing is written and the
/// 400 names every failing item as `<index>.<field>`.
#[utoipa::path(put, path = "/v1/customers/batch", tag = "helpcrunch", security(("bearer" = [])),
    request_body = Vec<BatchItem>,
    responses((status = 200, description = "Every item applied", body = Vec<BatchResult>),
        (status = 400, description = "Nothing applied; errors name `<index>.<field>`")))]
pub async fn batch_update(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HcResult {
    let p = caller(&state, &req, Scope::CustomersUpdate).await?;
    let items: Vec<Value> = body(&state, &req, payload, Shape::Array).await?;
    let max = state.config().max_batch;
    if items.is_empty() || items.len() > max {
        return Err(ApiError::bad_request(
            "body",
            "batch_size",
            format!("send between 1 and {max} items"),
        )
        .into());
    }
    let mut changes: Vec<(CustomerId, CustomerUpdate)> = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match batch_item(item) {
            Ok(change) => changes.push(change),
            Err(fields) => errors.extend(fields.into_iter().map(|f| FieldError {
                field: format!("{i}.{}", f.field),
                ..f
            })),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::BadRequest(errors).into());
    }
    let ids: Vec<i64> = changes.iter().map(|(id, _)| id.get()).collect();
    let updated = state
        .store()
        .customers()
        .modify_many(
            &p.context(API),
            changes
                .into_iter()
                .map(|(id, update)| {
                    (id, move |c: &mut Customer| {
                        update.clone().apply_checked(c, UpdateMode::Merge)
                    })
                })
                .collect(),
        )
        .await
        .map_err(|failed| -> HcError {
            let BatchError { index, error, more } = failed;
            let mut fields = Vec::new();
            for (index, error) in std::iter::once((index, error)).chain(more) {
                let prefix = |field: String| format!("{index}.{field}");
                match StorageError::from(error) {
                    StorageError::NotFound => fields.push(FieldError::new(
                        prefix("customer".into()),
                        "not_found",
                        "customer not found",
                    )),
                    other => match ApiError::from_storage(other, &field_name) {
                        ApiError::BadRequest(item) => {
                            fields.extend(item.into_iter().map(|f| FieldError {
                                field: prefix(f.field),
                                ..f
                            }));
                        }
                        e => return e.into(),
                    },
                }
            }
            ApiError::BadRequest(fields).into()
        })?;
    let results: Vec<BatchResult> = ids
        .into_iter()
        .zip(updated)
        .map(|(id, c)| BatchResult {
            customer: id,
            data: convert::customer_output(c),
        })
        .collect();
    Ok(HttpResponse::Ok().json(results))
}

fn batch_item(item: Value) -> Result<(CustomerId, CustomerUpdate), Vec<FieldError>> {
    let Value::Object(mut map) = item else {
        return Err(vec![FieldError::new(
            "body",
            "invalid_value",
            "each item must be an object",
        )]);
    };
    let id = match map.remove("customer") {
        Some(v) => v
            .as_i64()
            .filter(|i| *i > 0)
            .map(CustomerId::new)
            .ok_or_else(|| {
                vec![FieldError::new(
                    "customer",
                    "invalid_id",
                    "must be a positive integer",
                )]
            })?,
        None => {
            return Err(vec![FieldError::new(
                "customer",
                "required",
                "the customer id is required",
            )]);
        }
    };
    let bytes = serde_json::to_vec(&Value::Object(map))
        .map_err(|_| vec![FieldError::new("body", "invalid_value", "not JSON")])?;
    let input: CustomerInput = parse_json(&bytes).map_err(|e| match dotted(e) {
        ApiError::BadRequest(f) => f,
        other => vec![FieldError::new("body", "invalid_value", other.message())],
    })?;
    let update = convert::customer_update(input).map_err(|e| match e {
        ApiError::BadRequest(f) => f,
        other => vec![FieldError::new("body", "invalid_value", other.message())],
    })?;
    Ok((id, update))
}

async fn chat_response(
    state: &AppState,
    p: &Principal,
    c: Conversation,
    created: bool,
) -> HcResult {
    let links = state
        .store()
        .conversations()
        .links_of(p.tenant.id, &c, LinkSet::CONTACT)
        .await
        .map_err(|e| storage(e, "Chat"))?;
    let out: ChatOutput<'_> = convert::chat_output(&c, &links);
    Ok(if created {
        HttpResponse::Created().json(out)
    } else {
        HttpResponse::Ok().json(out)
    })
}

fn parse_status(s: &str) -> Result<ConversationStatus, HcError> {
    s.parse::<ConversationStatus>()
        .map_err(|e| ApiError::bad_request("status", "invalid_status", e.to_string()).into())
}

fn session_key() -> Result<String, HcError> {
    crate::token::random_hex("hc-", 12).ok_or_else(|| ApiError::Internal.into())
}

/// Start a chat with a customer.
#[utoipa::path(post, path = "/v1/chats", tag = "helpcrunch", security(("bearer" = [])),
    request_body = ChatCreateInput,
    responses((status = 201, description = "Created", body = ChatOutput),
        (status = 404, description = "Customer not found")))]
pub async fn create_chat(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HcResult {
    let p = caller(&state, &req, Scope::ConversationsCreate).await?;
    let input: ChatCreateInput = body(&state, &req, payload, Shape::Object).await?;
    let status = input.status.as_deref().map(parse_status).transpose()?;
    let customer_id = CustomerId::new(input.customer);
    let customer = state
        .store()
        .customers()
        .get(p.tenant.id, customer_id)
        .await
        .map_err(|e| storage(e, "Customer"))?;
    let t = state.store().now();
    let mut c = Conversation::for_customer(&customer, session_key()?, t);
    c.assign(input.assignee.map(AgentId::new));
    c.department_id = input.department.map(DepartmentId::new);
    if let Some(message) = input.message {
        c.customer_message(message, t);
    }
    c.created_with = Some("api".into());
    if let Some(s) = status {
        c.set_status(s, p.actor(), t);
    }
    let created = state
        .store()
        .conversations()
        .create(&p.context(API), c)
        .await
        .map_err(|e| storage(e, "Chat"))?;
    chat_response(&state, &p, created, true).await
}

/// Retrieve a chat.
#[utoipa::path(get, path = "/v1/chats/{id}", tag = "helpcrunch", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Chat id")),
    responses((status = 200, description = "The chat", body = ChatOutput), (status = 404, description = "Not found")))]
pub async fn get_chat(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HcResult {
    let p = caller(&state, &req, Scope::ConversationsRead).await?;
    let id = ConversationId::new(parse_id(&path, "chat")?);
    let c = state
        .store()
        .conversations()
        .get(p.tenant.id, id)
        .await
        .map_err(|e| storage(e, "Chat"))?;
    chat_response(&state, &p, c, false).await
}

fn positive(id: i64, field: &str) -> Result<i64, HcError> {
    if id > 0 {
        Ok(id)
    } else {
        Err(ApiError::bad_request(field, "invalid_id", "must be a positive integer").into())
    }
}

/// Change a chat's status.
#[utoipa::path(put, path = "/v1/chats/status", tag = "helpcrunch", security(("bearer" = [])),
    request_body = ChatStatusInput,
    responses((status = 200, description = "The chat", body = ChatOutput), (status = 400, description = "Unknown status")))]
pub async fn chat_status(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HcResult {
    change_chat(&state, &req, payload, |input: ChatStatusInput| {
        let update = ConversationUpdate {
            status: Patch::Value(parse_status(&input.status)?),
            ..ConversationUpdate::default()
        };
        Ok((input.id, update))
    })
    .await
}

/// Assign a chat to an agent (`null` unassigns).
#[utoipa::path(put, path = "/v1/chats/assignee", tag = "helpcrunch", security(("bearer" = [])),
    request_body = ChatAssigneeInput,
    responses((status = 200, description = "The chat", body = ChatOutput)))]
pub async fn chat_assignee(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HcResult {
    change_chat(&state, &req, payload, |input: ChatAssigneeInput| {
        let update = ConversationUpdate {
            assignee_id: optional_id(input.assignee, "assignee", AgentId::new)?,
            ..ConversationUpdate::default()
        };
        Ok((input.id, update))
    })
    .await
}

/// Move a chat to a department (`null` clears).
#[utoipa::path(put, path = "/v1/chats/department", tag = "helpcrunch", security(("bearer" = [])),
    request_body = ChatDepartmentInput,
    responses((status = 200, description = "The chat", body = ChatOutput)))]
pub async fn chat_department(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HcResult {
    change_chat(&state, &req, payload, |input: ChatDepartmentInput| {
        let update = ConversationUpdate {
            department_id: optional_id(input.department, "department", DepartmentId::new)?,
            ..ConversationUpdate::default()
        };
        Ok((input.id, update))
    })
    .await
}

/// A chat change request: `to_update` turns its body into the chat's id
/// and the update; the answer is the chat.
async fn change_chat<I: serde::de::DeserializeOwned>(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    to_update: impl FnOnce(I) -> Result<(i64, ConversationUpdate), HcError>,
) -> HcResult {
    let p = caller(state, req, Scope::ConversationsUpdate).await?;
    let (id, update) = to_update(body(state, req, payload, Shape::Object).await?)?;
    let c = state
        .store()
        .conversations()
        .apply(
            &p.context(API),
            ConversationId::new(positive(id, "id")?),
            Precondition::NONE,
            update,
        )
        .await
        .map_err(|e| storage(e, "Chat"))?;
    chat_response(state, &p, c, false).await
}

/// An optional positive id: `null` clears the link.
fn optional_id<T>(
    id: Option<i64>,
    field: &str,
    make: impl FnOnce(i64) -> T,
) -> Result<Patch<T>, HcError> {
    Ok(id.map(|v| positive(v, field)).transpose()?.map(make).into())
}
