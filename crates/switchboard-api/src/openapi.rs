//! The generated OpenAPI document.

use serde_json::{Value, json};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Every public route and schema.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Switchboard",
        description = "Self-hosted store of chat sessions and contacts speaking HelpCrunch, SuperOffice, Zoho SalesIQ, chatbot and Zapier dialects over one model."
    ),
    paths(
        crate::ops::healthz,
        crate::ops::readyz,
        crate::ops::metrics,
        crate::ops::openapi_json,
        crate::helpcrunch::routes::list_customers,
        crate::helpcrunch::routes::search_customers,
        crate::helpcrunch::routes::create_customer,
        crate::helpcrunch::routes::get_customer,
        crate::helpcrunch::routes::put_customer,
        crate::helpcrunch::routes::patch_customer,
        crate::helpcrunch::routes::delete_customer,
        crate::helpcrunch::routes::add_tags,
        crate::helpcrunch::routes::remove_tags,
        crate::helpcrunch::routes::batch_update,
        crate::helpcrunch::routes::list_chats,
        crate::helpcrunch::routes::search_chats,
        crate::helpcrunch::routes::create_chat,
        crate::helpcrunch::routes::get_chat,
        crate::helpcrunch::routes::chat_status,
        crate::helpcrunch::routes::chat_assignee,
        crate::helpcrunch::routes::chat_department,
        crate::zoho::routes::create_conversation,
        crate::zoho::routes::list_conversations,
        crate::zoho::routes::get_conversation,
        crate::zoho::routes::update_conversation,
        crate::zoho::routes::close_conversation,
        crate::chatbot::routes::create_chatlog,
        crate::chatbot::routes::get_chatlog,
        crate::chatbot::routes::update_email,
        crate::superoffice::routes::timezones,
        crate::superoffice::routes::list,
        crate::superoffice::routes::create,
        crate::superoffice::routes::get,
        crate::superoffice::routes::put,
        crate::superoffice::routes::patch,
        crate::superoffice::routes::delete,
        crate::zapier::routes::me,
        crate::zapier::routes::list_hooks,
        crate::zapier::routes::create_hook,
        crate::zapier::routes::delete_hook,
        crate::zapier::routes::list_deliveries,
        crate::zapier::routes::redeliver,
        crate::zapier::routes::rotate_secret,
        crate::zapier::routes::samples,
        crate::admin::routes::list_agents,
        crate::admin::routes::create_agent,
        crate::admin::routes::get_agent,
        crate::admin::routes::update_agent,
        crate::admin::routes::delete_agent,
        crate::admin::routes::list_departments,
        crate::admin::routes::create_department,
        crate::admin::routes::delete_department,
        crate::admin::routes::list_attributes,
        crate::admin::routes::create_attribute,
        crate::admin::routes::delete_attribute,
        crate::admin::routes::list_keys,
        crate::admin::routes::create_key,
        crate::admin::routes::revoke_key,
        crate::admin::routes::list_tags,
        crate::admin::routes::list_subscriptions,
        crate::admin::routes::enable_subscription,
        crate::admin::routes::customer_history,
        crate::admin::routes::conversation_history,
    ),
    modifiers(&Security),
    tags(
        (name = "operations", description = "Health, readiness, metrics and this document"),
        (name = "helpcrunch", description = "HelpCrunch-style customers and chats (REST API v1)"),
        (name = "zoho-salesiq", description = "Zoho SalesIQ-style conversations (REST API v2)"),
        (name = "superoffice", description = "SuperOffice-style ChatSession entities: JSON Patch, Merge Patch, $select, preconditions, XML"),
        (name = "chatbot", description = "Chatbot chat logs and the email update that fires email_updated"),
        (name = "zapier", description = "Zapier REST hooks: subscriptions, sample payloads, the delivery log and redelivery (docs/webhooks.md)"),
        (name = "admin", description = "The admin API: agents, departments, custom attributes, API keys, tags, subscriptions and change history; scopes admin.READ and admin.WRITE (docs/admin-api.md)"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "zoho_oauthtoken",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Header(
                utoipa::openapi::security::ApiKeyValue::with_description(
                    "Authorization",
                    "`Zoho-oauthtoken <key>` (or `Bearer <key>`)",
                ),
            )),
        );
    }
}

/// The document `/openapi.json` serves: [`ApiDoc`] and what the server
/// does beyond each handler's own annotations (its error statuses and schemas, id bounds, SalesIQ's envelope, the request rules).
#[must_use]
pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
    apply_rules(&mut doc);
    contract(&mut doc);
    superoffice_xml(&mut doc);
    doc
}

/// SuperOffice answers its entities in XML too (`Accept: application/xml`
/// or `text/xml`, or `$format=xml`): every success answer of a
/// `/api/v1/ChatSession` operation lists the XML media types beside JSON,
/// and an XML request body is a `<ChatSessionEntity>`.
fn superoffice_xml(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        if !path.starts_with("/api/v1/ChatSession") {
            continue;
        }
        let Some(ops) = item.as_object_mut() else {
            continue;
        };
        for op in ops.values_mut() {
            // An XML request body's root element is the entity's name.
            if let Some(content) = op
                .pointer_mut("/requestBody/content")
                .and_then(Value::as_object_mut)
            {
                for media in ["application/xml", "text/xml"] {
                    if let Some(schema) = content
                        .get_mut(media)
                        .and_then(|m| m.get_mut("schema"))
                        .and_then(Value::as_object_mut)
                    {
                        schema.insert("xml".into(), json!({"name": "ChatSessionEntity"}));
                    }
                }
            }
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                if !status.starts_with('2') {
                    continue;
                }
                let Some(content) = response.get_mut("content").and_then(Value::as_object_mut)
                else {
                    continue;
                };
                if content.contains_key("application/json") {
                    for media in ["application/xml", "text/xml"] {
                        content
                            .entry(media)
                            .or_insert_with(|| json!({"schema": {"type": "string"}}));
                    }
                }
            }
        }
    }
}

/// Makes the document say what the server does beyond each handler's own
/// annotations: the error answers every operation of a dialect can give
/// (authentication, scope, rate limit, an unreadable id, a body too large
/// or not JSON, an unavailable database), each with the dialect's own
/// error schema (one name per dialect), and path ids as the positive
/// 64-bit integers the handlers accept.
/// The error schema of each dialect: `(family prefix, schema name, schema)`.
fn error_schemas() -> Vec<(crate::fallback::Family, &'static str, Value)> {
    use crate::fallback::Family;
    let string = || json!({"type": "string"});
    vec![
        (
            Family::HelpCrunch,
            "HelpCrunchErrors",
            json!({"type": "object", "required": ["errors"], "properties": {"errors": {
                "type": "array", "minItems": 1,
                "items": {"type": "object", "required": ["code", "message"],
                    "properties": {"code": string(), "message": string()}}}}}),
        ),
        (
            Family::Zoho,
            "SalesIqError",
            json!({"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "integer"}, "message": string(), "json_key": string()}}}}),
        ),
        (
            Family::SuperOffice,
            "SuperOfficeError",
            json!({"type": "object", "required": ["Error", "ErrorType", "ErrorSource"],
                "properties": {"Error": string(), "ErrorType": string(), "ErrorSource": string()}}),
        ),
        (
            Family::Chatbot,
            "ChatbotError",
            json!({"type": "object", "required": ["error"], "properties": {"error": string()}}),
        ),
        (
            Family::Zapier,
            "ZapierError",
            json!({"type": "object", "required": ["error", "code"],
                "properties": {"error": string(), "code": string(), "field": string()}}),
        ),
        (
            Family::Admin,
            "AdminError",
            json!({"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": string(), "message": string(), "field": string()}}}}),
        ),
        (
            Family::Operations,
            "OperationsError",
            json!({"type": "object", "required": ["error", "code"],
                "properties": {"error": string(), "code": string()}}),
        ),
    ]
}

/// The statuses every operation of a dialect can answer, and what they mean.
const COMMON: [(&str, &str); 6] = [
    (
        "400",
        "Invalid request: a parameter, header or member is not acceptable (named in the body)",
    ),
    ("401", "No valid API key"),
    ("403", "The key lacks the operation's scope"),
    ("404", "Not found (or an unknown portal, path or id)"),
    (
        "429",
        "Rate limited (per key), or too many failed authentications from this address; see Retry-After",
    ),
    ("503", "The database is unreachable or full; retry later"),
];

/// Statuses of an operation with a request body.
const WITH_BODY: [(&str, &str); 3] = [
    (
        "409",
        "The resource is being changed concurrently, or a unique value is taken",
    ),
    ("413", "The body is larger than the configured limit"),
    (
        "415",
        "The body is not JSON (or, for SuperOffice, not JSON, XML or a form)",
    ),
];

/// What each request schema accepts beyond its Rust type: bounds, enums,
/// required members, read-only members, as the handlers check them.
/// `(schema, member, what to add)`; `*` names the schema itself.
fn request_rules() -> Vec<(&'static str, &'static str, Value)> {
    use switchboard_domain::EventType;
    let id = || json!({"minimum": 1, "maximum": i64::MAX});
    let read_only = || json!({"readOnly": true});
    let hc_status =
        json!({"enum": ["new", "opened", "pending", "on hold", "no communication", "closed"]});
    let events: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
    let name = |max: usize| json!({"type": "string", "minLength": 1, "maxLength": max, "pattern": "^[^\\u0000]*\\S[^\\u0000]*$"});
    vec![
        // HelpCrunch
        ("CustomerInput", "id", read_only()),
        ("CustomerInput", "createdAt", read_only()),
        ("CustomerInput", "updatedAt", read_only()),
        // The customer's id, as a GET shows it: ignored.
        ("DeviceInput", "id", read_only()),
        ("CustomerInput", "createdFrom", read_only()),
        ("CustomDataInput", "value", Value::Null),
        (
            "CustomDataInput",
            "property",
            json!({"minLength": 1, "pattern": "\\S"}),
        ),
        ("TagsInput", "tags", json!({"minItems": 1})),
        (
            "TagInput",
            "name",
            json!({"minLength": 1, "pattern": "\\S"}),
        ),
        ("ChatCreateInput", "customer", id()),
        ("ChatCreateInput", "assignee", id()),
        ("ChatCreateInput", "department", id()),
        ("ChatCreateInput", "status", hc_status.clone()),
        ("ChatStatusInput", "id", id()),
        ("ChatStatusInput", "status", hc_status),
        ("ChatAssigneeInput", "id", id()),
        ("ChatAssigneeInput", "assignee", id()),
        ("ChatDepartmentInput", "id", id()),
        ("ChatDepartmentInput", "department", id()),
        (
            "SearchInput",
            "limit",
            json!({"minimum": 1, "maximum": 100}),
        ),
        (
            "SearchInput",
            "offset",
            json!({"minimum": 0, "maximum": switchboard_domain::query::MAX_OFFSET}),
        ),
        (
            "SearchInput",
            "order",
            json!({"enum": ["asc", "desc", null]}),
        ),
        (
            "SearchInput",
            "comparison",
            json!({"enum": ["AND", "OR", "and", "or", null]}),
        ),
        // Zoho SalesIQ
        (
            "CreateInput",
            "question",
            json!({"minLength": 1, "pattern": "\\S"}),
        ),
        (
            "UpdateInput",
            "customer_info",
            json!({"minProperties": 1, "propertyNames": {"minLength": 1, "maxLength": 100}}),
        ),
        ("CreateInput", "visitor", json!({"type": "object"})),
        // chatbot
        (
            "ChatlogInput",
            "sessionid",
            json!({"pattern": "^[A-Za-z0-9._:-]{1,128}$"}),
        ),
        ("ChatlogInput", "email", json!({"format": "email"})),
        (
            "EmailInput",
            "*",
            json!({"required": ["sessionid", "email"]}),
        ),
        (
            "EmailInput",
            "sessionid",
            json!({"type": "string", "minLength": 1, "pattern": "\\S"}),
        ),
        (
            "EmailInput",
            "email",
            json!({"type": "string", "format": "email"}),
        ),
        // admin
        ("AgentInput", "name", name(200)),
        (
            "AgentInput",
            "email",
            json!({"type": "string", "format": "email", "maxLength": 254}),
        ),
        (
            "AgentInput",
            "role",
            json!({"enum": ["agent", "admin", null]}),
        ),
        ("AgentPatch", "name", name(200)),
        (
            "AgentPatch",
            "email",
            json!({"format": "email", "maxLength": 254}),
        ),
        (
            "AgentPatch",
            "role",
            json!({"enum": ["agent", "admin", null]}),
        ),
        ("DepartmentInput", "name", name(200)),
        ("AttributeInput", "name", name(100)),
        (
            "AttributeInput",
            "type",
            json!({"enum": switchboard_domain::AttributeType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>()}),
        ),
        (
            "AttributeInput",
            "label",
            json!({"maxLength": 200, "pattern": "^[^\\u0000]*$"}),
        ),
        ("ApiKeyInput", "name", name(100)),
        (
            "ApiKeyInput",
            "scopes",
            json!({"type": ["array", "null"], "items": {"type": "string",
                "enum": switchboard_domain::Scope::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>()}}),
        ),
        // Zapier
        (
            "HookInput",
            "*",
            json!({"required": ["target_url", "event"]}),
        ),
        (
            "HookInput",
            "target_url",
            json!({"type": "string", "format": "uri", "minLength": 1}),
        ),
        (
            "HookInput",
            "event",
            json!({"type": "string", "enum": events}),
        ),
    ]
}

/// Query parameters as the handlers read them: `(path, name, schema)`.
fn query_rules() -> Vec<(&'static str, &'static str, Value)> {
    let hc_list = |path, sorts: &[&str]| {
        vec![
            (
                path,
                "order",
                json!({"type": "string", "enum": ["asc", "desc"]}),
            ),
            (
                path,
                "offset",
                json!({"type": "integer", "minimum": 0, "maximum": switchboard_domain::query::MAX_OFFSET}),
            ),
            (
                path,
                "limit",
                json!({"type": "integer", "minimum": 1, "maximum": 100}),
            ),
            (path, "sort", json!({"type": "string", "enum": sorts})),
        ]
    };
    let zoho = "/api/v2/{screen_name}/conversations";
    let list_of = |names: &[&str]| {
        let one = names.join("|");
        format!("^(({one})(,({one}))*)?$")
    };
    let zoho_fields: Vec<&str> = crate::zoho::search::FIELD_NAMES.to_vec();
    let so_members: Vec<&str> = crate::superoffice::convert::MEMBERS.to_vec();
    let so_order: Vec<String> = ["ChatSessionId", "WhenRequested", "WhenClosed"]
        .iter()
        .flat_map(|m| [m.to_string(), format!("{m} asc"), format!("{m} desc")])
        .collect();
    let millis = || json!({"type": "integer", "minimum": 0, "maximum": i64::MAX});
    let id = || json!({"type": "integer", "minimum": 1, "maximum": i64::MAX});
    let mut rules = hc_list(
        "/v1/customers",
        &[
            "",
            "customers.id",
            "customers.createdAt",
            "customers.updatedAt",
            "customers.firstSeen",
            "customers.lastSeen",
        ],
    );
    rules.extend(hc_list(
        "/v1/chats",
        &[
            "",
            "chats.id",
            "chats.createdAt",
            "chats.updatedAt",
            "chats.closedAt",
        ],
    ));
    rules.extend([
        (zoho, "page", json!({"type": "integer", "minimum": 1, "maximum": 100_000})),
        (zoho, "limit", json!({"type": "integer", "minimum": 1, "maximum": 99})),
        (zoho, "status", json!({"type": "string", "enum": ["open", "closed", "waiting", "connected", "missed", "end"]})),
        (zoho, "department_id", id()),
        (zoho, "attender_id", id()),
        (zoho, "fields", json!({"type": "string", "pattern": list_of(&zoho_fields)})),
        (zoho, "from_time", millis()),
        (zoho, "to_time", millis()),
        (zoho, "updated_from_time", millis()),
        (zoho, "updated_till_time", millis()),
        (zoho, "email", json!({"type": "string"})),
        (zoho, "visitor_type", json!({"type": "string", "enum": ["lead", "contact"]})),
        (zoho, "sort_by", json!({"type": "string", "enum": ["in_time", "end_time", "updated_time"]})),
        ("/api/v1/ChatSession", "$filter", json!({"type": "string", "minLength": 1})),
        ("/api/v1/ChatSession", "$orderBy", json!({"type": "string", "enum": so_order})),
        ("/api/v1/ChatSession", "$top", json!({"type": "integer", "minimum": 1, "maximum": 1000})),
        ("/api/v1/ChatSession", "$select", json!({"type": "string", "pattern": list_of(&so_members)})),
        ("/api/v1/ChatSession", "$format", json!({"type": "string", "enum": ["json", "xml"]})),
        ("/api/v1/ChatSession/{id}", "$select", json!({"type": "string", "pattern": list_of(&so_members)})),
        ("/zapier/v1/hooks/{id}/deliveries", "limit", json!({"type": "integer", "minimum": 1, "maximum": 100})),
        ("/zapier/v1/hooks/{id}/deliveries", "before", id()),
    ]);
    let page = json!({"type": "integer", "minimum": 1, "maximum": crate::admin::routes::MAX_PAGE});
    for path in [
        "/admin/v1/agents",
        "/admin/v1/departments",
        "/admin/v1/keys",
    ] {
        rules.push((path, "limit", page.clone()));
        rules.push((
            path,
            "after",
            json!({"type": "integer", "minimum": 0, "maximum": i64::MAX}),
        ));
    }
    let history_page =
        json!({"type": "integer", "minimum": 1, "maximum": crate::admin::routes::MAX_HISTORY_PAGE});
    for path in [
        "/admin/v1/customers/{id}/history",
        "/admin/v1/conversations/{id}/history",
    ] {
        rules.push((path, "limit", history_page.clone()));
        rules.push((path, "before", id()));
    }
    rules
}

/// Merges `add` into the schema `target`; for a nullable type
/// (`["integer", "null"]`) bounds and enums apply to the non-null values.
fn merge_rule(target: &mut Value, add: &Value) {
    // `null`: any JSON value.
    if add.is_null() {
        let description = target.get("description").cloned();
        *target = json!({});
        if let Some(d) = description {
            target["description"] = d;
        }
        return;
    }
    if let (Some(t), Some(a)) = (target.as_object_mut(), add.as_object()) {
        for (k, v) in a {
            t.insert(k.clone(), v.clone());
        }
    }
}

fn apply_rules(doc: &mut Value) {
    if let Some(schemas) = doc
        .get_mut("components")
        .and_then(|c| c.get_mut("schemas"))
        .and_then(Value::as_object_mut)
    {
        for (schema, member, add) in request_rules() {
            let Some(target) = schemas.get_mut(schema) else {
                continue;
            };
            if member == "*" {
                merge_rule(target, &add);
            } else if let Some(prop) = target.get_mut("properties").and_then(|p| p.get_mut(member))
            {
                merge_rule(prop, &add);
            }
        }
        // After the rules: a batch item is a customer's members with its id beside them (one
        // object schema: `CustomerInput` allows no other members, so an
        // `allOf` of the two could never be satisfied).
        let mut item = schemas
            .get("CustomerInput")
            .cloned()
            .unwrap_or_else(|| json!({}));
        item["description"] =
            json!("One item of a batch: `customer` (the id) plus any customer members, merged.");
        if let Some(props) = item.get_mut("properties").and_then(Value::as_object_mut) {
            props.insert(
                "customer".into(),
                json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": i64::MAX,
                    "description": "The customer's id"}),
            );
        }
        let mut required: Vec<Value> = item
            .get("required")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        required.push(json!("customer"));
        item["required"] = Value::Array(required);
        schemas.insert("BatchItem".into(), item);
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    // A batch is 1 to `max_batch` items (10 unless configured otherwise).
    if let Some(schema) = paths
        .get_mut("/v1/customers/batch")
        .and_then(|p| p.pointer_mut("/put/requestBody/content/application~1json/schema"))
        .and_then(Value::as_object_mut)
    {
        schema.insert("minItems".into(), json!(1));
        schema.insert(
            "maxItems".into(),
            json!(crate::ApiConfig::default().max_batch),
        );
    }
    for (path, name, schema) in query_rules() {
        let Some(item) = paths.get_mut(path).and_then(Value::as_object_mut) else {
            continue;
        };
        for op in item.values_mut() {
            if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                for param in params {
                    if param["in"] == "query" && param["name"] == name {
                        param["schema"] = schema.clone();
                    }
                }
            }
        }
    }
}

/// SalesIQ answers `{"url", "object", "data"}` (and `sync_time` on a
/// list): wraps a success response's schema in that envelope.
fn salesiq_envelope(response: &mut Value) {
    let Some(schema) = response
        .get_mut("content")
        .and_then(|c| c.get_mut("application/json"))
        .and_then(|c| c.get_mut("schema"))
    else {
        return;
    };
    let list = schema["type"] == "array";
    if list {
        // With `fields`, an item has `id` and the members named.
        let item = schema["items"].clone();
        schema["items"] = json!({"anyOf": [item, {"type": "object", "required": ["id"],
            "description": "With `fields`: `id` and the members named"}]});
    }
    let object = if list { "list" } else { "Object" };
    let mut properties = json!({
        "url": {"type": "string", "description": "The request's resource URL"},
        "object": {"type": "string", "enum": [object]},
        "data": schema.clone(),
    });
    let mut required = vec!["url", "object", "data"];
    if list {
        properties["sync_time"] =
            json!({"type": "string", "description": "The request's time, epoch milliseconds"});
        required.push("sync_time");
    }
    *schema = json!({"type": "object", "required": required, "properties": properties});
}

/// Adds what every operation of a dialect shares to `doc` (see [`document`]).
fn contract(doc: &mut Value) {
    use crate::fallback::Family;
    let schemas = error_schemas();
    if let Some(components) = doc
        .get_mut("components")
        .and_then(|c| c.get_mut("schemas"))
        .and_then(Value::as_object_mut)
    {
        for (_, name, schema) in &schemas {
            components.insert((*name).to_string(), schema.clone());
        }
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let family = Family::of(path);
        if family == Family::Operations {
            continue;
        }
        let Some(name) = schemas
            .iter()
            .find(|(f, _, _)| *f == family)
            .map(|(_, n, _)| *n)
        else {
            continue;
        };
        let error = json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}});
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let has_body = op.get("requestBody").is_some();
            if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                for param in params {
                    if param["in"] == "path" && param["schema"]["type"] == "integer" {
                        param["schema"] = json!({"type": "integer", "format": "int64",
                            "minimum": 1, "maximum": i64::MAX});
                    }
                }
            }
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            if family == Family::Zoho {
                for (status, response) in responses.iter_mut() {
                    if status.starts_with('2') {
                        salesiq_envelope(response);
                    }
                }
            }
            let extra = COMMON.iter().chain(if has_body {
                WITH_BODY.iter()
            } else {
                [].iter()
            });
            let negotiated: &[(&str, &str)] = if family == Family::SuperOffice {
                &[(
                    "406",
                    "Nothing acceptable can be produced for Accept (JSON and XML are offered)",
                )]
            } else {
                &[]
            };
            for (status, description) in extra.chain(negotiated.iter()) {
                responses
                    .entry((*status).to_string())
                    .or_insert_with(|| json!({"description": description}));
            }
            for (status, response) in responses.iter_mut() {
                if (status.starts_with('4') || status.starts_with('5'))
                    && let Some(r) = response.as_object_mut()
                {
                    r.entry("content").or_insert_with(|| error.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dialect_operation_documents_its_error_answers() {
        let doc = document();
        let op = &doc["paths"]["/v1/customers/{id}"]["delete"];
        for status in ["400", "401", "403", "404", "429", "503"] {
            assert_eq!(
                op["responses"][status]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/HelpCrunchErrors",
                "{status}: {op}"
            );
        }
        assert_eq!(op["parameters"][0]["schema"]["minimum"], 1, "{op}");
    }
}
