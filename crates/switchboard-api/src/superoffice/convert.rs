//! `ChatSessionEntity` ⇄ conversation.
//!
//! The entity is built as a JSON document so that JSON Patch, Merge Patch,
//! `$select` and XML all work on exactly what clients see.

use serde_json::{Map, Value, json};
use switchboard_domain::{
    Actor, Agent, AgentId, Conversation, ConversationStatus, Customer, CustomerId, Timestamp,
};

use super::time::{Zone, parse};
use crate::{ApiError, FieldError};

/// Every member of the entity, in order.
pub const MEMBERS: [&str; 37] = [
    "ChatSessionId",
    "TopicId",
    "User",
    "Person",
    "CustomerAlias",
    "CustomerHost",
    "CustomerName",
    "CustomerEmail",
    "CustomerPhone",
    "CustomerConsented",
    "CustomerCompanyName",
    "Status",
    "FirstMessage",
    "LastMessage",
    "WhenRequested",
    "WhenStarted",
    "WhenEnded",
    "WhenIdle",
    "WhenFetched",
    "SessionKey",
    "InitialQueuePos",
    "AlertLevel",
    "Rank",
    "Flags",
    "Contact",
    "Project",
    "Sale",
    "Ticket",
    "TransferTo",
    "ChatbotIsActive",
    "Rating",
    "TableRight",
    "FieldProperties",
    "CustomInfo",
    "_Links",
    "WhenLastMessage",
    "WhenClosed",
];

/// Members clients cannot change.
pub const READ_ONLY: [&str; 10] = [
    "ChatSessionId",
    "Contact",
    "Project",
    "Sale",
    "Ticket",
    "TableRight",
    "FieldProperties",
    "_Links",
    "WhenLastMessage",
    "WhenClosed",
];

/// SuperOffice's `Status` value for a shared status.
#[must_use]
pub const fn status_name(s: ConversationStatus) -> &'static str {
    match s {
        ConversationStatus::New => "Requested",
        ConversationStatus::Opened => "Started",
        ConversationStatus::Pending => "Idle",
        ConversationStatus::OnHold => "OnHold",
        ConversationStatus::NoCommunication => "Missed",
        ConversationStatus::Closed => "Ended",
    }
}

/// The shared status for a SuperOffice `Status` value (case-insensitive),
/// also accepting the shared names.
#[must_use]
pub fn parse_status(s: &str) -> Option<ConversationStatus> {
    ConversationStatus::ALL
        .into_iter()
        .find(|x| status_name(*x).eq_ignore_ascii_case(s.trim()))
        .or_else(|| s.parse().ok())
}

/// Linked rows rendered inside the entity.
#[derive(Debug, Default)]
pub struct Links {
    /// The assignee (`User`).
    pub user: Option<Agent>,
    /// The transfer target (`TransferTo`).
    pub transfer_to: Option<Agent>,
    /// The linked customer (`Person`).
    pub person: Option<Customer>,
}

fn associate(id: AgentId, agent: Option<&Agent>) -> Value {
    match agent {
        Some(a) => {
            json!({"AssociateId": id.get(), "Name": a.name, "FullName": a.name, "Email": a.email, "Role": a.role})
        }
        None => json!({"AssociateId": id.get()}),
    }
}

fn person(id: CustomerId, c: Option<&Customer>) -> Value {
    match c {
        Some(c) => {
            json!({"PersonId": id.get(), "FullName": c.name, "Email": c.email, "Phone": c.phone, "CompanyName": c.company})
        }
        None => json!({"PersonId": id.get()}),
    }
}

/// The entity for a conversation. With `links`, nested objects carry the
/// linked rows' names; without (inside a patch), only their ids.
#[must_use]
pub fn entity(c: &Conversation, links: Option<&Links>, zone: &Zone) -> Value {
    let t = |v: Option<Timestamp>| v.map_or(Value::Null, |t| json!(zone.format(t)));
    let user = c.assignee_id.map_or(Value::Null, |id| {
        associate(id, links.and_then(|l| l.user.as_ref()))
    });
    let transfer = c.transfer_to.map_or(Value::Null, |id| {
        associate(id, links.and_then(|l| l.transfer_to.as_ref()))
    });
    let person = c.customer_id.map_or(Value::Null, |id| {
        person(id, links.and_then(|l| l.person.as_ref()))
    });
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("ChatSessionId", json!(c.id.get()));
    put("TopicId", json!(c.topic_id.unwrap_or(0)));
    put("User", user);
    put("Person", person);
    put("CustomerAlias", json!(c.visitor.alias));
    put("CustomerHost", json!(c.visitor.host));
    put("CustomerName", json!(c.visitor.name));
    put("CustomerEmail", json!(c.visitor.email));
    put("CustomerPhone", json!(c.visitor.phone));
    put("CustomerConsented", json!(c.visitor.consented));
    put("CustomerCompanyName", json!(c.visitor.company));
    put("Status", json!(status_name(c.status)));
    put("FirstMessage", json!(c.first_message));
    put("LastMessage", json!(c.last_message));
    put("WhenRequested", t(c.requested_at));
    put("WhenStarted", t(c.started_at));
    put("WhenEnded", t(c.ended_at));
    put("WhenIdle", t(c.idle_at));
    put("WhenFetched", t(c.fetched_at));
    put("SessionKey", json!(c.session_key));
    put("InitialQueuePos", json!(c.initial_queue_pos));
    put("AlertLevel", json!(c.alert_level));
    put("Rank", json!(c.rank));
    put("Flags", json!(c.flags));
    put("Contact", Value::Null);
    put("Project", Value::Null);
    put("Sale", Value::Null);
    put("Ticket", Value::Null);
    put("TransferTo", transfer);
    put("ChatbotIsActive", json!(c.chatbot_active));
    put("Rating", json!(c.rating.unwrap_or(0)));
    put("TableRight", json!({"Mask": "FullAccess", "Reason": ""}));
    put("FieldProperties", json!({}));
    put("CustomInfo", json!(c.custom_info));
    put(
        "_Links",
        json!({"Self": format!("/api/v1/ChatSession/{}", c.id)}),
    );
    put("WhenLastMessage", t(c.last_message_at));
    put("WhenClosed", t(c.closed_at));
    Value::Object(m)
}

/// Finds the canonical member name for a key sent in any letter case.
fn canonical(key: &str) -> Option<&'static str> {
    MEMBERS.into_iter().find(|m| m.eq_ignore_ascii_case(key))
}

fn bad(path: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(format!("/{path}"), code, message)
}

/// Reads a document (a whole entity, as PUT and POST send and as a patch
/// produces) into `c`. Member names match case-insensitively; absent
/// members are treated as `null` (PUT replaces). Read-only members must be
/// absent or equal to `current` (the entity as it is now). Every problem is
/// reported at once.
pub fn apply_document(
    doc: &Value,
    current: &Value,
    c: &mut Conversation,
    actor: Actor,
    now: Timestamp,
) -> Result<(), ApiError> {
    let Value::Object(obj) = doc else {
        return Err(ApiError::bad_request(
            "/",
            "invalid_type",
            "the body must be a ChatSessionEntity object",
        ));
    };
    let mut errors: Vec<FieldError> = Vec::new();
    let mut fields: Map<String, Value> = Map::new();
    for (key, value) in obj {
        match canonical(key) {
            None => errors.push(bad(
                key,
                "unknown_property",
                "is not a ChatSessionEntity property",
            )),
            Some(name) if fields.contains_key(name) => {
                errors.push(bad(
                    key,
                    "duplicate",
                    "is given twice (member names are case-insensitive)",
                ));
            }
            Some(name) => {
                fields.insert(name.to_string(), value.clone());
            }
        }
    }
    for name in READ_ONLY {
        if let Some(v) = fields.get(name) {
            let unchanged = Some(v) == current.get(name)
                || (name == "ChatSessionId" && (v.is_null() || v == &json!(0)));
            let harmless = v.is_null() && matches!(name, "Contact" | "Project" | "Sale" | "Ticket");
            if !unchanged && !harmless {
                errors.push(bad(name, "read_only", "is read-only"));
            }
        }
    }
    let get = |name: &str| fields.get(name).unwrap_or(&Value::Null);
    let text = |name: &str, errors: &mut Vec<FieldError>| -> Option<String> {
        match get(name) {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            _ => {
                errors.push(bad(name, "invalid_type", "must be a string or null"));
                None
            }
        }
    };
    c.visitor.alias = text("CustomerAlias", &mut errors);
    c.visitor.host = text("CustomerHost", &mut errors);
    c.visitor.name = text("CustomerName", &mut errors);
    c.visitor.email = text("CustomerEmail", &mut errors).filter(|e| !e.is_empty());
    c.visitor.phone = text("CustomerPhone", &mut errors);
    c.visitor.company = text("CustomerCompanyName", &mut errors);
    c.first_message = text("FirstMessage", &mut errors);
    c.last_message = text("LastMessage", &mut errors);
    if let Some(key) = text("SessionKey", &mut errors) {
        c.session_key = key;
    } else if fields.contains_key("SessionKey") {
        errors.push(bad("SessionKey", "required", "must not be null"));
    }
    let boolean = |name: &str, errors: &mut Vec<FieldError>| match get(name) {
        Value::Null => false,
        Value::Bool(b) => *b,
        _ => {
            errors.push(bad(name, "invalid_type", "must be true or false"));
            false
        }
    };
    c.visitor.consented = boolean("CustomerConsented", &mut errors);
    c.chatbot_active = boolean("ChatbotIsActive", &mut errors);
    let int = |name: &str, errors: &mut Vec<FieldError>| -> i64 {
        match get(name) {
            Value::Null => 0,
            Value::Number(n) => n
                .as_i64()
                .filter(|v| i32::try_from(*v).is_ok() || name == "Flags")
                .unwrap_or_else(|| {
                    errors.push(bad(name, "invalid_type", "must be an integer"));
                    0
                }),
            _ => {
                errors.push(bad(name, "invalid_type", "must be an integer"));
                0
            }
        }
    };
    let small = |v: i64| i32::try_from(v).unwrap_or(0);
    c.topic_id = Some(int("TopicId", &mut errors)).filter(|v| *v != 0);
    c.initial_queue_pos = small(int("InitialQueuePos", &mut errors));
    c.alert_level = small(int("AlertLevel", &mut errors));
    c.rank = small(int("Rank", &mut errors));
    c.flags = int("Flags", &mut errors);
    c.rating = Some(small(int("Rating", &mut errors))).filter(|v| *v != 0);
    let time = |name: &str, errors: &mut Vec<FieldError>| -> Option<Timestamp> {
        match get(name) {
            Value::Null => None,
            Value::String(s) => parse(s).or_else(|| {
                errors.push(bad(
                    name,
                    "invalid_date",
                    "must be an ISO 8601 date-time with an offset",
                ));
                None
            }),
            _ => {
                errors.push(bad(
                    name,
                    "invalid_type",
                    "must be an ISO 8601 date-time string or null",
                ));
                None
            }
        }
    };
    c.requested_at = time("WhenRequested", &mut errors);
    c.started_at = time("WhenStarted", &mut errors);
    c.ended_at = time("WhenEnded", &mut errors);
    c.idle_at = time("WhenIdle", &mut errors);
    c.fetched_at = time("WhenFetched", &mut errors);
    let link = |name: &str, id_member: &str, errors: &mut Vec<FieldError>| -> Option<i64> {
        match get(name) {
            Value::Null => None,
            Value::Object(o) => {
                let id = o
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(id_member))
                    .map(|(_, v)| v);
                match id.and_then(Value::as_i64) {
                    Some(0) => None,
                    Some(v) if v > 0 => Some(v),
                    _ => {
                        errors.push(bad(
                            &format!("{name}/{id_member}"),
                            "invalid_type",
                            "must be a positive integer",
                        ));
                        None
                    }
                }
            }
            _ => {
                errors.push(bad(name, "invalid_type", "must be an object or null"));
                None
            }
        }
    };
    c.assignee_id = link("User", "AssociateId", &mut errors).map(AgentId::new);
    c.transfer_to = link("TransferTo", "AssociateId", &mut errors).map(AgentId::new);
    c.customer_id = link("Person", "PersonId", &mut errors).map(CustomerId::new);
    if let Some(a) = c.assignee_id
        && !c.agent_ids.contains(&a)
    {
        c.agent_ids.push(a);
    }
    match get("CustomInfo") {
        Value::Null => c.custom_info.clear(),
        Value::Object(o) => c.custom_info = o.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        _ => errors.push(bad("CustomInfo", "invalid_type", "must be an object")),
    }
    match get("Status") {
        Value::Null => {}
        Value::String(s) => match parse_status(s) {
            Some(status) => {
                c.set_status(status, actor, now);
            }
            None => errors.push(bad(
                "Status",
                "invalid_status",
                "must be Requested, Started, Idle, OnHold, Missed or Ended",
            )),
        },
        _ => errors.push(bad("Status", "invalid_type", "must be a string")),
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::BadRequest(errors))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use switchboard_domain::{ConversationId, TenantId};

    use super::*;

    #[test]
    fn status_round_trip() {
        for s in ConversationStatus::ALL {
            assert_eq!(parse_status(status_name(s)), Some(s));
            assert_eq!(parse_status(&status_name(s).to_lowercase()), Some(s));
        }
        assert_eq!(parse_status("closed"), Some(ConversationStatus::Closed));
        assert_eq!(parse_status("Deleted"), None);
    }

    #[test]
    fn entity_round_trips_through_apply_document() {
        let mut c = Conversation::new(
            TenantId::new(1),
            "s-1",
            Timestamp::from_millis(1_700_000_000_123),
        );
        c.id = ConversationId::new(5);
        c.visitor.email = Some("a@example.com".into());
        c.rating = Some(4);
        c.custom_info.insert("k".into(), json!([1]));
        let zone = Zone::named("Europe/Oslo").unwrap();
        let doc = entity(&c, None, &zone);
        assert_eq!(doc.as_object().unwrap().len(), MEMBERS.len());
        let mut back = c.clone();
        apply_document(
            &doc,
            &doc,
            &mut back,
            Actor::System,
            Timestamp::from_millis(0),
        )
        .unwrap();
        assert_eq!(back, c);
    }
}
