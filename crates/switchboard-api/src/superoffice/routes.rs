//! SuperOffice-style `ChatSession` handlers.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;
use switchboard_domain::json::{self, Limits, Operation, Projection};
use switchboard_domain::{Conversation, ConversationId, ConversationLinks, Scope, Timestamp};
use switchboard_storage::{LinkSet, ModifyError, Precondition, StorageError, WriteContext};

use super::SuperOffice;
use super::convert;
use super::error::{SoError, field_name};
use super::negotiate::{self, Format};
use super::time::{SO_ZONES, Zone};
use super::xml;
use crate::auth::{Principal, principal};
use crate::body::{is_json, media_type, parse_json, read_body};
use crate::{ApiError, AppState};

type SoResult = Result<HttpResponse, SoError>;

/// Every SuperOffice route (documented spelling; mounted case-insensitively).
pub(crate) fn routes() -> Vec<(&'static str, &'static str, actix_web::Route)> {
    vec![
        ("GET", "/api/v1/timezone", web::get().to(timezones)),
        ("GET", "/api/v1/ChatSession", web::get().to(list)),
        ("POST", "/api/v1/ChatSession", web::post().to(create)),
        ("GET", "/api/v1/ChatSession/{id}", web::get().to(get)),
        ("PUT", "/api/v1/ChatSession/{id}", web::put().to(put)),
        ("PATCH", "/api/v1/ChatSession/{id}", web::patch().to(patch)),
        (
            "DELETE",
            "/api/v1/ChatSession/{id}",
            web::delete().to(delete),
        ),
    ]
}

/// The rows a `ChatSessionEntity` shows: `User`, `TransferTo` and `Person`
/// (a customer's contact members: name, email, phone and company).
const LINKS: LinkSet = LinkSet {
    department: false,
    ..LinkSet::CONTACT
};

/// The documented prefix of every SuperOffice route.
const API: &str = "/api/v1";

/// Mounts the SuperOffice routes, matching their paths case-insensitively
/// (in ASCII), in a scope of their prefix.
pub fn config(cfg: &mut web::ServiceConfig) {
    let scope = insensitive(API);
    crate::mount_under_with(cfg, &scope, API, routes(), |path| {
        insensitive(path)
            .strip_prefix(scope.as_str())
            .unwrap_or(path)
            .to_string()
    });
}

/// The case-insensitive pattern a documented SuperOffice path is mounted at
/// (`None`: not a SuperOffice path). Case-insensitive in ASCII only
/// (`(?i-u)`): `ChatSession` and `chatsession` match, a look-alike such as
/// `chatſession` does not.
#[must_use]
pub fn mount_pattern(path: &str) -> Option<String> {
    path.strip_prefix(API)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        .then(|| insensitive(path))
}

/// `path` as an actix pattern matching it case-insensitively: each literal
/// segment as a segment of its own regular expression, named by its
/// position (so a prefix's pattern is the start of its paths' patterns),
/// each parameter as it is.
fn insensitive(path: &str) -> String {
    path.split('/')
        .enumerate()
        .map(|(i, segment)| {
            if segment.is_empty() || segment.starts_with('{') {
                segment.to_string()
            } else {
                format!("{{_so{i}:(?i-u){}}}", segment.to_ascii_lowercase())
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// What the request asks of the response and of the write.
struct Options {
    format: Format,
    zone: Zone,
    /// `scheme://host` of the request, for the absolute `_Links`.
    base: String,
    select: Option<Projection>,
    precondition: Precondition,
    if_match_versions: Option<Vec<i64>>,
    if_none_match: Option<Vec<String>>,
    if_modified_since: Option<Timestamp>,
}

/// `scheme://host` as the client addressed the server (its `Host`), the
/// base of the entity's absolute `_Links`.
fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn http_date(req: &HttpRequest, name: &str) -> Option<Timestamp> {
    let raw = header(req, name)?;
    let date: header::HttpDate = raw.parse().ok()?;
    let secs = std::time::SystemTime::from(date)
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(Timestamp::from_unix_seconds(i64::try_from(secs).ok()?))
}

/// Entity tags list (`"3", W/"4"`), without `W/` and quotes.
fn tags(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(|t| {
            t.trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .to_string()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

fn options(req: &HttpRequest) -> Result<Options, SoError> {
    let format = negotiate::choose(header(req, "accept"))?;
    let zone = match header(req, "so-timezone") {
        Some(name) => Zone::from_header(name)?,
        None => Zone::utc(),
    };
    let query = crate::fallback::query_pairs(req)?;
    let select = query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("$select"))
        .map(|(_, v)| select(v))
        .transpose()?;
    let if_match_versions = match header(req, "if-match") {
        None => None,
        Some(raw) if raw.trim() == "*" => None,
        Some(raw) => Some(
            tags(raw)
                .iter()
                .filter_map(|t| t.parse::<i64>().ok())
                .collect(),
        ),
    };
    Ok(Options {
        format,
        zone,
        base: base_url(req),
        select,
        precondition: Precondition {
            version: None,
            unmodified_since: http_date(req, "if-unmodified-since"),
        },
        if_match_versions,
        if_none_match: header(req, "if-none-match").map(tags),
        if_modified_since: http_date(req, "if-modified-since"),
    })
}

/// Parses `$select` and checks it names members of the entity: an empty
/// list or an unknown member would answer with every member null, which
/// reads like erased data, so both are a 400 (nothing is written).
/// Members nested below a top-level one (`User/Name`, `CustomInfo/plan`)
/// are not checked: `CustomInfo` is free-form, and a null association has
/// no members to check against.
fn select(raw: &str) -> Result<Projection, ApiError> {
    let invalid = |message: String| ApiError::bad_request("$select", "invalid_select", message);
    let projection = Projection::parse(raw).map_err(|e| invalid(e.to_string()))?;
    if projection.is_empty() {
        return Err(invalid(
            "names no member; list the members to keep, e.g. $select=Status,CustomerEmail".into(),
        ));
    }
    if let Some(unknown) = projection.members().find(|m| {
        !convert::MEMBERS
            .iter()
            .any(|known| known.eq_ignore_ascii_case(m))
    }) {
        return Err(invalid(format!(
            "'{unknown}' is not a member of ChatSessionEntity"
        )));
    }
    Ok(projection)
}

async fn caller(state: &AppState, req: &HttpRequest, scope: Scope) -> Result<Principal, SoError> {
    principal::<SuperOffice>(state, req, Some(scope)).await
}

/// The API name recorded in the change history, with the `SO-AppToken`.
fn ctx(p: &Principal, req: &HttpRequest) -> WriteContext {
    let api = match header(req, "so-apptoken") {
        Some(token) if !token.is_empty() => {
            let token: String = token.chars().filter(|c| !c.is_control()).take(64).collect();
            format!("superoffice app={token}")
        }
        _ => "superoffice".to_string(),
    };
    p.context(api)
}

fn storage(e: StorageError) -> SoError {
    ApiError::from_storage_naming(e, "ChatSession not found", &field_name).into()
}

fn session_id(raw: &str) -> Result<ConversationId, SoError> {
    raw.parse::<ConversationId>().map_err(|_| {
        ApiError::bad_request("/ChatSessionId", "invalid_id", "must be a positive integer").into()
    })
}

fn etag(c: &Conversation) -> String {
    format!("W/\"{}\"", c.version)
}

fn last_modified(c: &Conversation) -> Option<HeaderValue> {
    let secs = u64::try_from(c.updated_at.as_unix_seconds()).ok()?;
    let date = header::HttpDate::from(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs));
    HeaderValue::from_str(&date.to_string()).ok()
}

async fn respond(
    state: &AppState,
    p: &Principal,
    c: &Conversation,
    o: &Options,
    status: actix_web::http::StatusCode,
) -> SoResult {
    let links = state
        .store()
        .conversations()
        .links_of(p.tenant.id, c, LINKS)
        .await
        .map_err(storage)?;
    Ok(render(c, &links, o, status))
}

/// The entity as the request asked for it: `$select`, JSON or XML, with
/// its ETag and Last-Modified.
fn render(
    c: &Conversation,
    links: &ConversationLinks,
    o: &Options,
    status: actix_web::http::StatusCode,
) -> HttpResponse {
    let mut resp = HttpResponse::build(status);
    resp.insert_header((header::ETAG, etag(c)));
    if let Some(lm) = last_modified(c) {
        resp.insert_header((header::LAST_MODIFIED, lm));
    }
    resp.insert_header((header::VARY, "Accept, SO-TimeZone"));
    let entity = || {
        let entity = convert::entity(c, Some(links), &o.zone, &o.base);
        match &o.select {
            Some(select) => select.apply(&entity),
            None => entity,
        }
    };
    match o.format {
        // The whole entity is written as it is serialized.
        Format::Json if o.select.is_none() => resp.json(convert::EntityJson {
            c,
            links: Some(links),
            zone: &o.zone,
            base: &o.base,
        }),
        Format::Json => resp.json(entity()),
        Format::Xml => resp
            .content_type("application/xml; charset=utf-8")
            .body(xml::to_xml("ChatSessionEntity", &entity())),
    }
}

/// Resolves `If-Match` into the version the write requires.
async fn required_version(
    state: &AppState,
    p: &Principal,
    id: ConversationId,
    o: &Options,
) -> Result<Option<i64>, SoError> {
    match &o.if_match_versions {
        None => Ok(None),
        Some(versions) if versions.len() == 1 => Ok(versions.first().copied()),
        Some(versions) => {
            let current = state
                .store()
                .conversations()
                .get(p.tenant.id, id)
                .await
                .map_err(storage)?;
            versions
                .iter()
                .copied()
                .find(|v| *v == current.version)
                .map(Some)
                .ok_or_else(|| ApiError::PreconditionFailed.into())
        }
    }
}

/// A modify's error in the dialect's format: the change's own rejection,
/// or the store's.
fn modify_error(e: ModifyError<ApiError>) -> SoError {
    match e {
        ModifyError::Rejected(api) => api.into(),
        ModifyError::Storage(e) => storage(e),
    }
}

/// The options of the list, each at most once.
#[derive(Debug, Default)]
struct ListOptions {
    filter: Option<String>,
    order_by: Option<String>,
    top: Option<String>,
    skip: Option<String>,
    select: Option<String>,
    format: Option<String>,
}

fn list_options(req: &HttpRequest) -> Result<ListOptions, SoError> {
    let pairs = crate::fallback::query_pairs(req)?;
    let mut o = ListOptions::default();
    for (key, value) in pairs {
        let slot = match key.to_ascii_lowercase().as_str() {
            "$filter" => &mut o.filter,
            "$orderby" => &mut o.order_by,
            "$top" => &mut o.top,
            "$skip" => &mut o.skip,
            "$select" => &mut o.select,
            "$format" => &mut o.format,
            _ => {
                let name: String = key.chars().take(64).collect();
                let message = if name.starts_with('$') {
                    "this query option is not supported on ChatSession lists"
                } else {
                    "not a query option of this list"
                };
                return Err(ApiError::bad_request(name, "invalid_query", message).into());
            }
        };
        if slot.replace(value).is_some() {
            return Err(ApiError::bad_request(key, "invalid_query", "given more than once").into());
        }
    }
    Ok(o)
}

/// List chat sessions, with the OData options SuperOffice lists take.
///
/// `$filter` (`eq ne gt ge lt le`, `and or not`, `startswith`, `contains`,
/// `substringof`; ISO 8601 dates), `$orderBy` (`ChatSessionId`,
/// `WhenRequested`, `WhenClosed`; `asc`/`desc`), `$top` (1–1000, default
/// 100), `$skip`, `$select`, `$format` (`json`/`xml`). JSON answers
/// `{"value": [ChatSessionEntity…]}`, XML `<ArrayOfChatSessionEntity>`.
/// SuperOffice's time zones, the codes and ids `SO-TimeZone` takes.
#[utoipa::path(get, path = "/api/v1/timezone", tag = "superoffice", security(("bearer" = [])),
    responses((status = 200, description = "Every known time zone", body = Vec<TimeZoneOutput>),
        (status = 401, description = "Not authenticated")))]
pub async fn timezones(state: web::Data<AppState>, req: HttpRequest) -> SoResult {
    let _p = caller(&state, &req, Scope::ConversationsRead).await?;
    let zones: Vec<TimeZoneOutput> = SO_ZONES
        .iter()
        .map(|z| TimeZoneOutput {
            id: z.id,
            time_zone: z.code,
            country: z.country,
            region: z.region,
            offset: z.offset,
            daylight: z.daylight,
            is_active: 1,
        })
        .collect();
    Ok(HttpResponse::Ok().json(zones))
}

/// One of SuperOffice's time zones, as `GET /api/v1/timezone` lists it
/// (the members of SuperOffice's documented table).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimeZoneOutput {
    /// Numeric id (`261`), also taken by `SO-TimeZone`.
    pub id: i64,
    /// Code (`NO`, `US-NY`), taken by `SO-TimeZone`.
    pub time_zone: &'static str,
    /// Country.
    pub country: &'static str,
    /// Region.
    pub region: &'static str,
    /// Standard offset from UTC.
    pub offset: &'static str,
    /// Daylight-saving offset (empty when none).
    pub daylight: &'static str,
    /// Always 1.
    pub is_active: i32,
}

#[utoipa::path(get, path = "/api/v1/ChatSession", tag = "superoffice", security(("bearer" = [])),
    params(
        ("$filter" = Option<String>, Query, description = "e.g. `Status eq 'Started' and WhenRequested ge 2024-01-01T00:00:00Z`"),
        ("$orderBy" = Option<String>, Query, description = "`ChatSessionId`, `WhenRequested` or `WhenClosed`, then `asc` (default) or `desc`"),
        ("$top" = Option<u32>, Query, description = "Rows to return, 1-1000 (default 100)"),
        ("$skip" = Option<u64>, Query, description = "Rows to skip"),
        ("$select" = Option<String>, Query, description = "Comma-separated fields to keep; others are null"),
        ("$format" = Option<String>, Query, description = "`json` or `xml` (overrides Accept)")),
    responses((status = 200, description = "`{\"value\": [ChatSessionEntity…]}` (JSON) or `<ArrayOfChatSessionEntity>` (XML)", body = Object),
        (status = 400, description = "A query option the list cannot apply; `ErrorSource` names it"),
        (status = 406, description = "Not acceptable")))]
pub async fn list(state: web::Data<AppState>, req: HttpRequest) -> SoResult {
    let p = caller(&state, &req, Scope::ConversationsRead).await?;
    let o = list_options(&req)?;
    let query = super::odata::query(
        o.filter.as_deref(),
        o.order_by.as_deref(),
        o.top.as_deref(),
        o.skip.as_deref(),
    )?;
    let format = match o.format.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => negotiate::choose(header(&req, "accept"))?,
        Some("json") => Format::Json,
        Some("xml") => Format::Xml,
        Some(_) => {
            return Err(
                ApiError::bad_request("$format", "invalid_query", "must be json or xml").into(),
            );
        }
    };
    let zone = match header(&req, "so-timezone") {
        Some(name) => Zone::from_header(name)?,
        None => Zone::utc(),
    };
    let base = base_url(&req);
    // The list checks `$select` as a single entity does: an unknown or
    // empty member list is a 400, not a page of all-null rows.
    let select = o.select.as_deref().map(select).transpose()?;
    let conversations = state.store().conversations();
    let page = conversations
        .query(p.tenant.id, &query)
        .await
        .map_err(storage)?;
    let links = conversations
        .links(p.tenant.id, &page.items, LINKS)
        .await
        .map_err(storage)?;
    let entities: Vec<Value> = page
        .items
        .iter()
        .zip(&links)
        .map(|(c, l)| {
            let entity = convert::entity(c, Some(l), &zone, &base);
            match &select {
                Some(s) => s.apply(&entity),
                None => entity,
            }
        })
        .collect();
    let mut resp = HttpResponse::Ok();
    resp.insert_header((header::VARY, "Accept, SO-TimeZone"));
    Ok(match format {
        Format::Json => resp.json(serde_json::json!({ "value": entities })),
        Format::Xml => resp
            .content_type("application/xml; charset=utf-8")
            .body(xml::list_to_xml(
                "ArrayOfChatSessionEntity",
                "ChatSessionEntity",
                &entities,
            )),
    })
}

/// Retrieve a chat session.
#[utoipa::path(get, path = "/api/v1/ChatSession/{id}", tag = "superoffice",
    security(("bearer" = [])), params(("id" = i64, Path, description = "ChatSessionId"),
        ("$select" = Option<String>, Query, description = "Comma-separated fields to keep; others are null")),
    responses((status = 200, description = "ChatSessionEntity (JSON or XML)", body = Object),
        (status = 304, description = "Not modified"), (status = 404, description = "Not found"),
        (status = 406, description = "Not acceptable"), (status = 412, description = "If-Match failed")))]
pub async fn get(state: web::Data<AppState>, req: HttpRequest) -> SoResult {
    let p = caller(&state, &req, Scope::ConversationsRead).await?;
    let id = session_id(req.match_info().get("id").unwrap_or_default())?;
    let o = options(&req)?;
    let c = state
        .store()
        .conversations()
        .get(p.tenant.id, id)
        .await
        .map_err(storage)?;
    if let Some(versions) = &o.if_match_versions
        && !versions.contains(&c.version)
    {
        return Err(ApiError::PreconditionFailed.into());
    }
    let not_modified = match (&o.if_none_match, o.if_modified_since) {
        (Some(tags), _) => tags.iter().any(|t| t == "*" || t == &c.version.to_string()),
        (None, Some(since)) => c.updated_at.truncated_to_seconds() <= since.truncated_to_seconds(),
        (None, None) => false,
    };
    if not_modified {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(&c)))
            .finish());
    }
    respond(&state, &p, &c, &o, actix_web::http::StatusCode::OK).await
}

/// How a request body may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accepts {
    /// JSON or XML (POST, PATCH).
    JsonOrXml,
    /// JSON, XML or a form (PUT).
    Any,
}

/// Reads a request body into its JSON value: JSON; XML (`application/xml`,
/// `text/xml`), as SuperOffice's WebAPI takes it; and for PUT also
/// `application/x-www-form-urlencoded` (one pair per member). XML and form
/// text is typed as the JSON would be ([`convert::typed`]). Any other
/// `Content-Type` is a 415 before anything is read.
async fn read_value(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    accepts: Accepts,
) -> Result<Value, SoError> {
    let media = media_type(req);
    let xml = media
        .as_deref()
        .is_some_and(|m| m == "application/xml" || m == "text/xml");
    let form = media.as_deref() == Some("application/x-www-form-urlencoded");
    if let Some(media) = &media
        && !is_json(media)
        && !xml
        && !(form && accepts == Accepts::Any)
    {
        let forms = if accepts == Accepts::Any {
            ", application/xml, text/xml or application/x-www-form-urlencoded"
        } else {
            ", application/xml or text/xml"
        };
        return Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type {media} is not supported; send the body as JSON (application/json, \
             or for PATCH application/json-patch+json or application/merge-patch+json){forms}"
        ))
        .into());
    }
    let bytes = read_body(payload, state.config().body_limit).await?;
    if xml || form {
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| ApiError::bad_request("/", "invalid_body", "the body is not UTF-8"))?;
        let value = if xml {
            xml::from_xml(text).map_err(|m| ApiError::bad_request("/", "invalid_body", m))?
        } else {
            let pairs = web::Query::<Vec<(String, String)>>::from_query(text)
                .map_err(|e| ApiError::bad_request("/", "invalid_body", e.to_string()))?
                .into_inner();
            let mut map = serde_json::Map::new();
            for (k, v) in pairs {
                if map.insert(k.clone(), Value::String(v)).is_some() {
                    return Err(ApiError::bad_request(k, "duplicate", "is given twice").into());
                }
            }
            Value::Object(map)
        };
        return Ok(convert::typed(value));
    }
    Ok(parse_json::<Value>(&bytes)?)
}

fn new_session_key() -> Result<String, SoError> {
    crate::token::random_hex("so-", 12).ok_or_else(|| ApiError::Internal.into())
}

/// Create a chat session from a ChatSessionEntity.
#[utoipa::path(post, path = "/api/v1/ChatSession", tag = "superoffice", security(("bearer" = [])),
    request_body(content((Object = "application/json"), (Object = "application/xml"), (Object = "text/xml")),
        description = "A ChatSessionEntity, as JSON or as XML"),
    responses((status = 201, description = "The created ChatSessionEntity", body = Object),
        (status = 400, description = "Invalid entity")))]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> SoResult {
    let p = caller(&state, &req, Scope::ConversationsCreate).await?;
    let o = options(&req)?;
    let mut body = read_value(&state, &req, payload, Accepts::JsonOrXml).await?;
    let Value::Object(map) = &mut body else {
        return Err(ApiError::bad_request(
            "/",
            "invalid_type",
            "the body must be a ChatSessionEntity object",
        )
        .into());
    };
    let now = state.store().now();
    let key_given = map
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("SessionKey") && !v.is_null());
    if !key_given {
        map.retain(|k, _| !k.eq_ignore_ascii_case("SessionKey"));
        map.insert("SessionKey".into(), Value::String(new_session_key()?));
    }
    let mut c = Conversation::new(p.tenant.id, String::new(), now);
    let current = convert::entity(&c, None, &o.zone, &o.base);
    convert::apply_document(&body, &current, &o.zone, &mut c, p.actor(), now)?;
    if c.requested_at.is_none() {
        c.requested_at = Some(now);
    }
    c.created_with = Some("superoffice".into());
    let created = state
        .store()
        .conversations()
        .create(&ctx(&p, &req), c)
        .await
        .map_err(|e| match e {
            StorageError::Conflict(_) => {
                ApiError::Conflict("a chat session with this SessionKey already exists".into())
                    .into()
            }
            other => storage(other),
        })?;
    respond(
        &state,
        &p,
        &created,
        &o,
        actix_web::http::StatusCode::CREATED,
    )
    .await
}

/// Replace a chat session: every writable member not in the body becomes null.
#[utoipa::path(put, path = "/api/v1/ChatSession/{id}", tag = "superoffice", security(("bearer" = [])),
    params(("id" = i64, Path, description = "ChatSessionId")), request_body(content((Object = "application/json"), (Object = "application/xml"), (Object = "text/xml"),
        (Object = "application/x-www-form-urlencoded")), description = "A ChatSessionEntity, as JSON, XML or a form (one pair per member)"),
    responses((status = 200, description = "The ChatSessionEntity", body = Object),
        (status = 412, description = "If-Unmodified-Since or If-Match failed")))]
pub async fn put(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> SoResult {
    let p = caller(&state, &req, Scope::ConversationsUpdate).await?;
    let id = session_id(req.match_info().get("id").unwrap_or_default())?;
    let o = options(&req)?;
    let body = read_value(&state, &req, payload, Accepts::Any).await?;
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "/",
            "invalid_type",
            "the body must be a ChatSessionEntity object",
        )
        .into());
    }
    let mut precondition = o.precondition;
    precondition.version = required_version(&state, &p, id, &o).await?;
    let (zone, base) = (o.zone.clone(), o.base.clone());
    let (actor, clock) = (p.actor(), state.store().clock().clone());
    let (c, links) = state
        .store()
        .conversations()
        .modify_linked(&ctx(&p, &req), id, precondition, move |c, links| {
            let current = convert::entity(c, Some(links), &zone, &base);
            convert::apply_document(&body, &current, &zone, c, actor, clock.now())
        })
        .await
        .map_err(modify_error)?;
    Ok(render(&c, &links, &o, actix_web::http::StatusCode::OK))
}

/// How a PATCH body is to be read.
enum PatchBody {
    Json(Vec<Operation>),
    Merge(Value),
}

fn patch_body(req: &HttpRequest, value: Value) -> Result<PatchBody, SoError> {
    let content_type = header(req, "content-type")
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let limits = Limits::default();
    let as_json_patch = |v: &Value| -> Result<PatchBody, SoError> {
        let ops = json::parse_patch(v, &limits).map_err(|e| {
            ApiError::bad_request(
                e.path().unwrap_or("/").to_string(),
                "invalid_patch",
                e.to_string(),
            )
        })?;
        if let Some(path) = ops
            .iter()
            .filter(|op| !matches!(op, Operation::Test { .. }))
            .find_map(|op| convert::link_detail(op.path()))
        {
            return Err(read_only_link(&path).into());
        }
        if let Some((i, op)) = ops
            .iter()
            .enumerate()
            .find(|(_, op)| matches!(op, Operation::Move { .. } | Operation::Copy { .. }))
        {
            return Err(ApiError::bad_request(
                op.path().to_string(),
                "not_supported",
                format!(
                    "operation {i}: '{}' is not supported; use add, remove, replace or test",
                    op.name()
                ),
            )
            .into());
        }
        Ok(PatchBody::Json(ops))
    };
    match (content_type.as_str(), &value) {
        ("application/json-patch+json", Value::Array(_)) => as_json_patch(&value),
        ("application/json-patch+json", _) => {
            Err(ApiError::bad_request("/", "invalid_patch", "a JSON Patch must be an array of operations").into())
        }
        ("application/merge-patch+json", Value::Object(_)) => merge_patch(value),
        ("application/merge-patch+json", _) => {
            Err(ApiError::bad_request("/", "invalid_patch", "a merge patch of a ChatSession must be an object").into())
        }
        ("application/json" | "text/json" | "application/xml" | "text/xml" | "", Value::Array(_)) => {
            as_json_patch(&value)
        }
        ("application/json" | "text/json" | "application/xml" | "text/xml" | "", Value::Object(_)) => {
            merge_patch(value)
        }
        ("application/json" | "text/json" | "", _) => Err(ApiError::bad_request(
            "/",
            "invalid_patch",
            "the body must be a JSON Patch array or a merge patch object",
        )
        .into()),
        (other, _) => Err(ApiError::UnsupportedMediaType(format!(
            "{other} is not supported; use application/json-patch+json, application/merge-patch+json or application/json"
        ))
        .into()),
    }
}

/// Only the id of a linked entity can be written.
fn read_only_link(path: &str) -> ApiError {
    ApiError::bad_request(
        path,
        "read_only",
        "is read-only: only the id of a linked entity can be set",
    )
}

/// A merge patch, refused if it writes a linked entity's member other than its id.
fn merge_patch(value: Value) -> Result<PatchBody, SoError> {
    if let Value::Object(members) = &value {
        for (name, v) in members {
            let Value::Object(inner) = v else { continue };
            if let Some(path) = inner
                .keys()
                .find_map(|k| convert::link_detail(&format!("{name}/{k}")))
            {
                return Err(read_only_link(&path).into());
            }
        }
    }
    Ok(PatchBody::Merge(value))
}

/// Renames merge-patch members to the document's casing (member names
/// match case-insensitively, as paths do). Keys inside free-form members
/// (`CustomInfo`) are data and stay exactly as sent.
fn align_case(patch: &Value, doc: &Value) -> Value {
    match (patch, doc) {
        (Value::Object(p), Value::Object(d)) => Value::Object(
            p.iter()
                .map(|(k, v)| {
                    let (key, target) = d
                        .get_key_value(k)
                        .or_else(|| d.iter().find(|(dk, _)| dk.eq_ignore_ascii_case(k)))
                        .map_or((k.clone(), &Value::Null), |(dk, dv)| (dk.clone(), dv));
                    let inner = if convert::FREE_FORM.iter().any(|f| f.eq_ignore_ascii_case(k)) {
                        v.clone()
                    } else {
                        align_case(v, target)
                    };
                    (key, inner)
                })
                .collect(),
        ),
        _ => patch.clone(),
    }
}

/// Patch a chat session with an RFC 6902 JSON Patch or an RFC 7396 merge patch.
///
/// Paths are case-insensitive and the leading `/` is optional; `move` and
/// `copy` are refused; a failed `test` is a 409 and nothing is written.
#[utoipa::path(patch, path = "/api/v1/ChatSession/{id}", tag = "superoffice", security(("bearer" = [])),
    params(("id" = i64, Path, description = "ChatSessionId")),
    request_body(content((Vec<Object> = "application/json-patch+json"), (Object = "application/merge-patch+json"),
        (Object = "application/json"), (Object = "application/xml"), (Object = "text/xml")),
        description = "JSON Patch array (application/json-patch+json) or merge patch object (application/merge-patch+json); in XML, the entity's members (a merge patch) or an <ArrayOfPatchOperation>"),
    responses((status = 200, description = "The patched ChatSessionEntity", body = Object),
        (status = 400, description = "Invalid patch or result; names the path"),
        (status = 409, description = "A test operation failed"),
        (status = 412, description = "If-Unmodified-Since or If-Match failed")))]
pub async fn patch(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> SoResult {
    let p = caller(&state, &req, Scope::ConversationsUpdate).await?;
    let id = session_id(req.match_info().get("id").unwrap_or_default())?;
    let o = options(&req)?;
    let body = patch_body(
        &req,
        read_value(&state, &req, payload, Accepts::JsonOrXml).await?,
    )?;
    let mut precondition = o.precondition;
    precondition.version = required_version(&state, &p, id, &o).await?;
    let (zone, base) = (o.zone.clone(), o.base.clone());
    let (actor, clock) = (p.actor(), state.store().clock().clone());
    // The patch applies to the entity as GET shows it, links included.
    let (c, links) = state
        .store()
        .conversations()
        .modify_linked(&ctx(&p, &req), id, precondition, move |c, links| {
            let to = super::patch::Target {
                links: Some(links),
                zone: &zone,
                base: &base,
                actor,
                now: clock.now(),
            };
            match &body {
                PatchBody::Json(ops) => super::patch::apply(c, ops, &to),
                PatchBody::Merge(m) => {
                    let current = convert::entity(c, Some(links), &zone, &base);
                    let ops = json::merge_to_operations(&current, &align_case(m, &current));
                    super::patch::apply_whole(c, &current, &ops, &to)
                }
            }
        })
        .await
        .map_err(modify_error)?;
    Ok(render(&c, &links, &o, actix_web::http::StatusCode::OK))
}

/// Delete a chat session.
#[utoipa::path(delete, path = "/api/v1/ChatSession/{id}", tag = "superoffice", security(("bearer" = [])),
    params(("id" = i64, Path, description = "ChatSessionId")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "Not found")))]
pub async fn delete(state: web::Data<AppState>, req: HttpRequest) -> SoResult {
    let p = caller(&state, &req, Scope::ConversationsUpdate).await?;
    let id = session_id(req.match_info().get("id").unwrap_or_default())?;
    let o = options(&req)?;
    let mut precondition = o.precondition;
    precondition.version = required_version(&state, &p, id, &o).await?;
    // Checked and deleted in one transaction: a write in between fails the
    // precondition instead of being lost.
    state
        .store()
        .conversations()
        .delete(&ctx(&p, &req), id, precondition)
        .await
        .map_err(storage)?;
    Ok(HttpResponse::NoContent().finish())
}
