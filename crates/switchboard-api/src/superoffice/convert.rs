//! `ChatSessionEntity` ⇄ conversation.
//!
//! The entity is built as a JSON document so that JSON Patch, Merge Patch,
//! `$select` and XML all work on exactly what clients see.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value, json};
use switchboard_domain::{
    Actor, Agent, AgentId, Conversation, ConversationLinks, ConversationStatus, ConversationUpdate,
    Customer, CustomerId, Patch, Timestamp, UpdateMode, Visitor,
};

use super::time::Zone;
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

/// SuperOffice's `Status` value for a shared status, in SuperOffice's own
/// vocabulary (its `ChatSessionStatus`: `InQueue`, `CustomerLast`,
/// `UserLast`, `Closed`, `ClosedFromQueue`, …). `OnHold` has no SuperOffice
/// counterpart and keeps Switchboard's name, so that a GET body sent back
/// keeps the status (the table is in `docs/dialects/superoffice.md`).
#[must_use]
pub const fn status_name(s: ConversationStatus) -> &'static str {
    match s {
        ConversationStatus::New => "InQueue",
        ConversationStatus::Opened => "CustomerLast",
        ConversationStatus::Pending => "UserLast",
        ConversationStatus::OnHold => "OnHold",
        ConversationStatus::NoCommunication => "ClosedFromQueue",
        ConversationStatus::Closed => "Closed",
    }
}

/// Other `Status` values taken in requests and filters: SuperOffice's
/// remaining statuses, the words of its entity documentation (`Active`),
/// and the names Switchboard answered with before.
const STATUS_ALIASES: &[(&str, ConversationStatus)] = &[
    ("RequestPosted", ConversationStatus::New),
    ("PreChatForm", ConversationStatus::New),
    ("Faq", ConversationStatus::New),
    ("OfflineForm", ConversationStatus::New),
    ("Requested", ConversationStatus::New),
    ("Active", ConversationStatus::Opened),
    ("Started", ConversationStatus::Opened),
    ("Idle", ConversationStatus::Pending),
    ("Missed", ConversationStatus::NoCommunication),
    ("Finished", ConversationStatus::Closed),
    ("Ended", ConversationStatus::Closed),
];

/// The shared status for a SuperOffice `Status` value (case-insensitive):
/// SuperOffice's names, the aliases above, then the shared names.
#[must_use]
pub fn parse_status(s: &str) -> Option<ConversationStatus> {
    let s = s.trim();
    ConversationStatus::ALL
        .into_iter()
        .find(|x| status_name(*x).eq_ignore_ascii_case(s))
        .or_else(|| {
            STATUS_ALIASES
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(s))
                .map(|(_, x)| *x)
        })
        .or_else(|| s.parse().ok())
}

/// SuperOffice's `ChatSessionFlags`, a .NET flags enum (its CRMScript
/// reference, `NSChatSessionFlags`): each named bit.
pub const FLAGS: [(&str, i64); 2] = [("CustomerIsTyping", 1), ("UserIsTyping", 2)];

/// `Flags` as .NET serialises a flags enum: the names of the set bits,
/// comma-separated (`"CustomerIsTyping, UserIsTyping"`); `"0"` for none;
/// the number itself when a set bit has no name.
#[must_use]
pub fn flags_text(flags: i64) -> String {
    let named: i64 = FLAGS.iter().map(|(_, b)| b).sum();
    if flags == 0 || flags & !named != 0 {
        return flags.to_string();
    }
    FLAGS
        .iter()
        .filter(|(_, bit)| flags & bit != 0)
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `Flags`: comma-separated names (any letter case), a number as
/// text, or a JSON integer.
pub fn parse_flags(v: &Value) -> Result<i64, &'static str> {
    const WRONG: &str = "must be CustomerIsTyping, UserIsTyping (comma-separated) or an integer";
    match v {
        Value::Null => Ok(0),
        Value::Number(n) => n.as_i64().filter(|n| *n >= 0).ok_or(WRONG),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(n) = s.parse::<i64>() {
                return (n >= 0).then_some(n).ok_or(WRONG);
            }
            s.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty() && !p.eq_ignore_ascii_case("None"))
                .try_fold(0, |acc, part| {
                    FLAGS
                        .iter()
                        .find(|(name, _)| name.eq_ignore_ascii_case(part))
                        .map(|(_, bit)| acc | bit)
                        .ok_or(WRONG)
                })
        }
        _ => Err(WRONG),
    }
}

/// Whether two `_Links` objects name the same paths, whatever the scheme
/// and host (a client may have reached the server under another name).
fn same_links(a: &Value, b: &Value) -> bool {
    fn path(v: &Value) -> Option<&str> {
        let s = v.as_str()?;
        Some(match s.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
            None => s,
        })
    }
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => {
            a.len() == b.len()
                && a.iter().all(|(k, v)| {
                    b.get(k)
                        .is_some_and(|w| path(v).is_some() && path(v) == path(w))
                })
        }
        _ => false,
    }
}

/// The entity's `_Links`: absolute URLs of the entity (`Self`) and of its
/// collection (`Archive`), under `base` (`https://host`).
#[must_use]
pub fn links(base: &str, id: i64) -> Value {
    json!({
        "Self": format!("{base}/api/v1/ChatSession/{id}"),
        "Archive": format!("{base}/api/v1/ChatSession"),
    })
}

fn associate(id: AgentId, agent: Option<&Agent>) -> Value {
    match agent {
        Some(a) => {
            let Agent {
                id: _,
                tenant_id: _,
                name,
                email,
                role,
            } = a;
            json!({"AssociateId": id.get(), "Name": name, "FullName": name, "Email": email, "Role": role})
        }
        None => json!({"AssociateId": id.get()}),
    }
}

fn person(id: CustomerId, c: Option<&Customer>) -> Value {
    match c {
        Some(c) => {
            let Customer {
                id: _,
                tenant_id: _,
                user_id: _,
                name,
                email,
                phone,
                company,
                first_seen: _,
                last_seen: _,
                unsubscribed: _,
                blocked: _,
                source: _,
                referer: _,
                last_page: _,
                locale: _,
                notes: _,
                tags: _,
                custom_data: _,
                location: _,
                device: _,
                created_from: _,
                integration_id: _,
                created_at: _,
                updated_at: _,
                version: _,
            } = c;
            json!({"PersonId": id.get(), "FullName": name, "Email": email, "Phone": phone, "CompanyName": company})
        }
        None => json!({"PersonId": id.get()}),
    }
}

/// The nested entity members whose id is the only writable part:
/// `(member, id member)`.
pub const LINK_MEMBERS: [(&str, &str); 3] = [
    ("User", "AssociateId"),
    ("TransferTo", "AssociateId"),
    ("Person", "PersonId"),
];

/// The entity for a conversation, with the rows it links to (`User`,
/// `TransferTo` and `Person` carry their names); without `links` (a
/// conversation not stored yet), nested objects carry only their ids.
#[must_use]
pub fn entity(
    c: &Conversation,
    links: Option<&ConversationLinks>,
    zone: &Zone,
    base: &str,
) -> Value {
    entity_members(c, links, zone, base, &Wanted::All)
}

/// Which members of the entity to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// Every member: the whole entity.
    All,
    /// These members, spelled as in [`MEMBERS`].
    Some(Vec<&'static str>),
}

impl Wanted {
    /// Whether the member `name` (spelled as in [`MEMBERS`]) is wanted.
    fn has(&self, name: &str) -> bool {
        match self {
            Self::All => true,
            Self::Some(names) => names.contains(&name),
        }
    }
}

/// The members of [`entity`] that `wanted` names, each as there: the part
/// of the entity that a patch naming only those members reads and writes.
#[must_use]
pub fn entity_members(
    c: &Conversation,
    links: Option<&ConversationLinks>,
    zone: &Zone,
    base: &str,
    wanted: &Wanted,
) -> Value {
    let mut members = ToValues(Vec::with_capacity(MEMBERS.len()));
    put_members(c, links, zone, base, wanted, &mut members);
    debug_assert!(
        members.0.is_sorted_by_key(|&(k, _)| k),
        "the entity's members must be put in byte order of their names"
    );
    // In the map's own order (byte order of the names), so that the map is
    // built at once from them: inserting a member at a time walked and
    // split the map's nodes. Debug builds (the tests) check the order.
    Value::Object(
        members
            .0
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// The whole entity of a conversation as JSON text, written as it is
/// serialized, without building it as a [`Value`] first: the same bytes as
/// `serde_json::to_vec(&entity(..))` (the unit tests compare them), for a
/// response that is the entity as it is (no `$select`, no XML).
#[derive(Debug, Clone, Copy)]
pub struct EntityJson<'a> {
    /// The conversation.
    pub c: &'a Conversation,
    /// The rows it links to, as for [`entity`].
    pub links: Option<&'a ConversationLinks>,
    /// The time zone of its times.
    pub zone: &'a Zone,
    /// The base of its `_Links`.
    pub base: &'a str,
}

impl Serialize for EntityJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut sink = ToMap {
            map: serializer.serialize_map(Some(MEMBERS.len()))?,
            error: None,
        };
        put_members(
            self.c,
            self.links,
            self.zone,
            self.base,
            &Wanted::All,
            &mut sink,
        );
        match sink.error {
            Some(e) => Err(e),
            None => sink.map.end(),
        }
    }
}

/// Where [`put_members`] puts the entity's members.
trait MemberSink {
    /// Takes the member `name`.
    fn put<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T);

    /// Takes the member `name`, made as a JSON value already (a nested
    /// object): moved into a [`Value`] entity rather than copied.
    fn put_value(&mut self, name: &'static str, value: Value) {
        self.put(name, &value);
    }

    /// Takes the member `name`, the free-form map `value`; `as_value`
    /// makes it a [`Value`] by cloning, cheaper than serializing it into one.
    fn put_map(
        &mut self,
        name: &'static str,
        value: &std::collections::BTreeMap<String, Value>,
        _as_value: impl FnOnce() -> Value,
    ) {
        self.put(name, value);
    }
}

/// The members as JSON values, for a [`Value`] entity.
struct ToValues(Vec<(&'static str, Value)>);

impl MemberSink for ToValues {
    fn put<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) {
        self.0
            .push((name, serde_json::to_value(value).unwrap_or(Value::Null)));
    }

    fn put_value(&mut self, name: &'static str, value: Value) {
        self.0.push((name, value));
    }

    fn put_map(
        &mut self,
        name: &'static str,
        _: &std::collections::BTreeMap<String, Value>,
        as_value: impl FnOnce() -> Value,
    ) {
        self.0.push((name, as_value()));
    }
}

/// The members written to a serializer's map, with the first error.
struct ToMap<M: SerializeMap> {
    map: M,
    error: Option<M::Error>,
}

impl<M: SerializeMap> MemberSink for ToMap<M> {
    fn put<T: Serialize + ?Sized>(&mut self, name: &'static str, value: &T) {
        if self.error.is_none()
            && let Err(e) = self.map.serialize_entry(name, value)
        {
            self.error = Some(e);
        }
    }
}

/// Puts the members of the entity that `wanted` names into `out`, in byte
/// order of their names (the order of a [`Value`] map). A member's value
/// is made only when it is wanted.
fn put_members(
    c: &Conversation,
    links: Option<&ConversationLinks>,
    zone: &Zone,
    base: &str,
    wanted: &Wanted,
    out: &mut impl MemberSink,
) {
    let Conversation {
        id,
        tenant_id: _,
        session_key,
        status,
        visitor,
        customer_id,
        assignee_id,
        agent_ids: _,
        department_id: _,
        topic_id,
        rating,
        flags,
        alert_level,
        rank,
        initial_queue_pos,
        transfer_to,
        first_message,
        last_message,
        requested_at,
        started_at,
        ended_at,
        idle_at,
        fetched_at,
        last_message_at,
        last_customer_message_at: _,
        closed_at,
        closed_by: _,
        snoozed_until: _,
        chatbot_active,
        custom_info,
        created_with: _,
        created_at: _,
        updated_at: _,
        version: _,
    } = c;
    let Visitor {
        name,
        email,
        phone,
        company,
        country: _,
        host,
        alias,
        consented,
    } = visitor;
    let t = |v: &Option<Timestamp>| v.map(|t| zone.format(t));
    let agent = |id: AgentId| links.and_then(|l| l.agent(id));
    macro_rules! put {
        ($name:literal, $value:expr) => {
            if wanted.has($name) {
                out.put($name, &$value);
            }
        };
    }
    // A member made as a JSON value (a nested object, or null).
    macro_rules! put_value {
        ($name:literal, $value:expr) => {
            if wanted.has($name) {
                out.put_value($name, $value);
            }
        };
    }
    put!("AlertLevel", alert_level);
    put!("ChatSessionId", id.get());
    put!("ChatbotIsActive", chatbot_active);
    put_value!("Contact", Value::Null);
    if wanted.has("CustomInfo") {
        out.put_map("CustomInfo", custom_info, || {
            Value::Object(
                custom_info
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        });
    }
    put!("CustomerAlias", alias);
    put!("CustomerCompanyName", company);
    put!("CustomerConsented", consented);
    put!("CustomerEmail", email);
    put!("CustomerHost", host);
    put!("CustomerName", name);
    put!("CustomerPhone", phone);
    put_value!("FieldProperties", json!({}));
    put!("FirstMessage", first_message);
    put!("Flags", flags_text(*flags));
    put!("InitialQueuePos", initial_queue_pos);
    put!("LastMessage", last_message);
    put_value!(
        "Person",
        customer_id.map_or(Value::Null, |id| {
            person(id, links.and_then(|l| l.customer.as_ref()))
        })
    );
    put_value!("Project", Value::Null);
    put!("Rank", rank);
    put!("Rating", rating.unwrap_or(0));
    put_value!("Sale", Value::Null);
    put!("SessionKey", session_key);
    put!("Status", status_name(*status));
    put_value!("TableRight", json!({"Mask": "FullAccess", "Reason": ""}));
    put_value!("Ticket", Value::Null);
    put!("TopicId", topic_id.unwrap_or(0));
    put_value!(
        "TransferTo",
        transfer_to.map_or(Value::Null, |id| associate(id, agent(id)))
    );
    put_value!(
        "User",
        assignee_id.map_or(Value::Null, |id| associate(id, agent(id)))
    );
    put!("WhenClosed", t(closed_at));
    put!("WhenEnded", t(ended_at));
    put!("WhenFetched", t(fetched_at));
    put!("WhenIdle", t(idle_at));
    put!("WhenLastMessage", t(last_message_at));
    put!("WhenRequested", t(requested_at));
    put!("WhenStarted", t(started_at));
    put_value!("_Links", self::links(base, id.get()));
}

/// The integer members of the entity (and of its links).
const INT_MEMBERS: &[&str] = &[
    "ChatSessionId",
    "TopicId",
    "InitialQueuePos",
    "AlertLevel",
    "Rank",
    "Rating",
    "AssociateId",
    "PersonId",
];

/// The boolean members of the entity.
const BOOL_MEMBERS: &[&str] = &["CustomerConsented", "ChatbotIsActive"];

/// The object members of the entity: an empty element is an empty object.
const OBJECT_MEMBERS: &[&str] = &["FieldProperties", "CustomInfo", "TableRight", "_Links"];

/// Types the text of an XML or form body the way its JSON would be: the
/// integer and boolean members become numbers and booleans (text that is
/// neither stays text, for the usual `400`), and an empty text of a
/// non-text member is `null`; nested members (`User/AssociateId`) likewise.
/// `CustomInfo` values stay text.
#[must_use]
pub fn typed(v: Value) -> Value {
    fn member(name: &str, v: Value) -> Value {
        let is = |list: &[&str]| list.iter().any(|m| m.eq_ignore_ascii_case(name));
        match v {
            Value::String(s) if is(INT_MEMBERS) => {
                if s.trim().is_empty() {
                    Value::Null
                } else {
                    s.trim()
                        .parse::<i64>()
                        .map_or(Value::String(s), Value::from)
                }
            }
            Value::String(s) if is(OBJECT_MEMBERS) && s.trim().is_empty() => {
                Value::Object(Map::new())
            }
            Value::String(s) if is(BOOL_MEMBERS) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" => Value::Bool(true),
                "false" | "0" => Value::Bool(false),
                "" => Value::Null,
                _ => Value::String(s),
            },
            Value::Object(m) if !name.eq_ignore_ascii_case("CustomInfo") => members(m),
            other => other,
        }
    }
    /// Each member of an object, typed by its name.
    fn members(m: Map<String, Value>) -> Value {
        Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let v = member(&k, v);
                    (k, v)
                })
                .collect(),
        )
    }
    match v {
        Value::Object(m) => members(m),
        other => other,
    }
}

/// Members whose keys are free-form data: matched exactly (case-sensitively)
/// by patch paths and merge patches, unlike the entity's own member names.
pub const FREE_FORM: &[&str] = &["CustomInfo"];

/// The position in [`MEMBERS`] of a member name sent in any letter case.
fn member_index(key: &str) -> Option<usize> {
    MEMBERS.iter().position(|m| m.eq_ignore_ascii_case(key))
}

/// A document's members by their position in [`MEMBERS`], borrowed: a
/// slot for each, rather than a map searched by name.
struct Members<'a>([Option<&'a Value>; MEMBERS.len()]);

impl<'a> Members<'a> {
    /// The member `name` (a name of [`MEMBERS`], spelled as there).
    fn get(&self, name: &str) -> Option<&'a Value> {
        MEMBERS
            .iter()
            .position(|m| *m == name)
            .and_then(|i| self.0[i])
    }
}

fn bad(path: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(format!("/{path}"), code, message)
}

/// Reads a document (a whole entity, as PUT and POST send and as a patch
/// produces) into `c`, on behalf of `actor` at `now`; see [`document_update`].
pub fn apply_document(
    doc: &Value,
    current: &Value,
    zone: &Zone,
    c: &mut Conversation,
    actor: Actor,
    now: Timestamp,
) -> Result<(), ApiError> {
    document_update(doc, current, zone)?.apply(c, UpdateMode::Merge, actor, now);
    Ok(())
}

/// The update a document (a whole entity) makes. Member names match
/// case-insensitively; absent members are treated as `null` (PUT
/// replaces), except `SessionKey` and `Status`, which are kept. Read-only
/// members must be absent or equal to `current` (the entity as it is now).
/// Every problem is reported at once.
pub fn document_update(
    doc: &Value,
    current: &Value,
    zone: &Zone,
) -> Result<ConversationUpdate, ApiError> {
    update_of(doc, current, zone, Absent::Null)
}

/// The update the members of `doc`, part of an entity, make: as
/// [`document_update`], but a member `doc` does not have is left as it
/// is. `current` has at least the members of `doc`, as the entity has
/// them now ([`entity_members`]).
pub fn members_update(
    doc: &Value,
    current: &Value,
    zone: &Zone,
) -> Result<ConversationUpdate, ApiError> {
    update_of(doc, current, zone, Absent::Kept)
}

/// What a member absent from a document means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Absent {
    /// `null`: the document is the whole entity (PUT).
    Null,
    /// Left as it is: the document is the part of the entity a patch names.
    Kept,
}

fn update_of(
    doc: &Value,
    current: &Value,
    zone: &Zone,
    absent: Absent,
) -> Result<ConversationUpdate, ApiError> {
    let Value::Object(obj) = doc else {
        return Err(ApiError::bad_request(
            "/",
            "invalid_type",
            "the body must be a ChatSessionEntity object",
        ));
    };
    let mut errors: Vec<FieldError> = Vec::new();
    // The members by canonical name, borrowed: the document is only read.
    let mut fields = Members([None; MEMBERS.len()]);
    for (key, value) in obj {
        match member_index(key) {
            None => errors.push(bad(
                key,
                "unknown_property",
                "is not a ChatSessionEntity property",
            )),
            Some(i) if fields.0[i].is_some() => {
                errors.push(bad(
                    key,
                    "duplicate",
                    "is given twice (member names are case-insensitive)",
                ));
            }
            Some(i) => fields.0[i] = Some(value),
        }
    }
    for name in READ_ONLY {
        if let Some(v) = fields.get(name) {
            let unchanged = Some(v) == current.get(name)
                || (name == "ChatSessionId" && (v.is_null() || v == &json!(0)));
            // `_Links` depend on the address the client used: compared by path.
            let harmless = (v.is_null()
                && matches!(name, "Contact" | "Project" | "Sale" | "Ticket"))
                || (name == "_Links" && current.get(name).is_some_and(|c| same_links(v, c)));
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
    let given = |name: &str| absent == Absent::Null || fields.get(name).is_some();
    let mut u = ConversationUpdate::default();
    if given("CustomerAlias") {
        u.visitor.alias = text("CustomerAlias", &mut errors).into();
    }
    if given("CustomerHost") {
        u.visitor.host = text("CustomerHost", &mut errors).into();
    }
    if given("CustomerName") {
        u.visitor.name = text("CustomerName", &mut errors).into();
    }
    if given("CustomerEmail") {
        u.visitor.email = text("CustomerEmail", &mut errors)
            .filter(|e| !e.is_empty())
            .into();
    }
    if given("CustomerPhone") {
        u.visitor.phone = text("CustomerPhone", &mut errors).into();
    }
    if given("CustomerCompanyName") {
        u.visitor.company = text("CustomerCompanyName", &mut errors).into();
    }
    if given("FirstMessage") {
        u.first_message = text("FirstMessage", &mut errors).into();
    }
    if given("LastMessage") {
        u.last_message = text("LastMessage", &mut errors).into();
    }
    if let Some(key) = text("SessionKey", &mut errors) {
        u.session_key = Patch::Value(key);
    } else if fields.get("SessionKey").is_some() {
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
    if given("CustomerConsented") {
        u.visitor.consented = Patch::Value(boolean("CustomerConsented", &mut errors));
    }
    if given("ChatbotIsActive") {
        u.chatbot_active = Patch::Value(boolean("ChatbotIsActive", &mut errors));
    }
    let int = |name: &str, errors: &mut Vec<FieldError>| -> i64 {
        match get(name) {
            Value::Null => 0,
            Value::Number(n) => n
                .as_i64()
                .filter(|v| i32::try_from(*v).is_ok())
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
    if given("TopicId") {
        u.topic_id = Some(int("TopicId", &mut errors)).filter(|v| *v != 0).into();
    }
    if given("InitialQueuePos") {
        u.initial_queue_pos = Patch::Value(small(int("InitialQueuePos", &mut errors)));
    }
    if given("AlertLevel") {
        u.alert_level = Patch::Value(small(int("AlertLevel", &mut errors)));
    }
    if given("Rank") {
        u.rank = Patch::Value(small(int("Rank", &mut errors)));
    }
    if given("Flags") {
        u.flags = Patch::Value(parse_flags(get("Flags")).unwrap_or_else(|m| {
            errors.push(bad("Flags", "invalid_value", m));
            0
        }));
    }
    if given("Rating") {
        u.rating = Some(small(int("Rating", &mut errors)))
            .filter(|v| *v != 0)
            .into();
    }
    let time = |name: &str, errors: &mut Vec<FieldError>| -> Option<Timestamp> {
        match get(name) {
            Value::Null => None,
            Value::String(s) => zone.parse(s).or_else(|| {
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
    if given("WhenRequested") {
        u.requested_at = time("WhenRequested", &mut errors).into();
    }
    if given("WhenStarted") {
        u.started_at = time("WhenStarted", &mut errors).into();
    }
    if given("WhenEnded") {
        u.ended_at = time("WhenEnded", &mut errors).into();
    }
    if given("WhenIdle") {
        u.idle_at = time("WhenIdle", &mut errors).into();
    }
    if given("WhenFetched") {
        u.fetched_at = time("WhenFetched", &mut errors).into();
    }
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
    if given("User") {
        u.assignee_id = link("User", "AssociateId", &mut errors)
            .map(AgentId::new)
            .into();
    }
    if given("TransferTo") {
        u.transfer_to = link("TransferTo", "AssociateId", &mut errors)
            .map(AgentId::new)
            .into();
    }
    if given("Person") {
        u.customer_id = link("Person", "PersonId", &mut errors)
            .map(CustomerId::new)
            .into();
    }
    match get("CustomInfo") {
        Value::Null if given("CustomInfo") => u.custom_info = Patch::Null,
        Value::Null => {}
        Value::Object(o) => {
            u.custom_info = Patch::Value(o.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        }
        _ => errors.push(bad("CustomInfo", "invalid_type", "must be an object")),
    }
    match get("Status") {
        Value::Null => {}
        Value::String(s) => match parse_status(s) {
            Some(status) => u.status = Patch::Value(status),
            None => errors.push(bad(
                "Status",
                "invalid_status",
                "must be InQueue, CustomerLast, UserLast, OnHold, ClosedFromQueue or Closed",
            )),
        },
        _ => errors.push(bad("Status", "invalid_type", "must be a string")),
    }
    if errors.is_empty() {
        Ok(u)
    } else {
        Err(ApiError::BadRequest(errors))
    }
}

/// The member of a linked entity (`User`, `TransferTo`, `Person`) that a
/// patch path names, when it is not the link's id: only the id of a link
/// can be written; its other members describe the linked row. Paths match
/// case-insensitively, with or without the leading `/`.
#[must_use]
pub fn link_detail(path: &str) -> Option<String> {
    let mut tokens = path.trim_start_matches('/').split('/');
    let (member, inner) = (tokens.next()?, tokens.next()?);
    let (name, id) = LINK_MEMBERS
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(member))?;
    (!id.eq_ignore_ascii_case(inner)).then(|| format!("/{name}/{inner}"))
}

#[cfg(test)]
mod tests {
    use switchboard_domain::{ConversationId, TenantId};

    use super::*;

    #[test]
    fn status_round_trip() {
        for s in ConversationStatus::ALL {
            assert_eq!(parse_status(status_name(s)), Some(s));
            assert_eq!(parse_status(&status_name(s).to_lowercase()), Some(s));
        }
        assert_eq!(parse_status("closed"), Some(ConversationStatus::Closed));
        assert_eq!(parse_status("Active"), Some(ConversationStatus::Opened));
        assert_eq!(parse_status("Ended"), Some(ConversationStatus::Closed));
        assert_eq!(parse_status("Deleted"), None);
    }

    #[test]
    fn flags_as_dotnet_writes_them() {
        for (n, text) in [
            (0, "0"),
            (1, "CustomerIsTyping"),
            (2, "UserIsTyping"),
            (3, "CustomerIsTyping, UserIsTyping"),
            (5, "5"),
        ] {
            assert_eq!(flags_text(n), text);
            assert_eq!(parse_flags(&json!(text)), Ok(n), "{text}");
            assert_eq!(parse_flags(&json!(n)), Ok(n));
        }
        assert_eq!(parse_flags(&json!("useristyping,customeristyping")), Ok(3));
        assert_eq!(parse_flags(&json!("None")), Ok(0));
        assert!(parse_flags(&json!("Sleepy")).is_err());
        assert!(parse_flags(&json!(-1)).is_err());
    }

    /// A conversation as stored: id 5 of tenant 1.
    fn stored() -> Conversation {
        let mut c = Conversation::new(
            TenantId::new(1),
            "s-1",
            Timestamp::from_millis(1_700_000_000_123),
        );
        c.id = ConversationId::new(5);
        c
    }

    /// Member names in any letter case, each problem reported: unknown
    /// members, a member given twice in two cases, a read-only member
    /// changed; and a document in other cases reads as the canonical one.
    #[test]
    fn document_members_match_in_any_case_and_report_every_problem() {
        let c = stored();
        let zone = Zone::named("UTC").unwrap();
        let current = entity(&c, None, &zone, "http://h");
        let cased = |f: fn(&str) -> String| -> Value {
            let Value::Object(m) = &current else { panic!() };
            Value::Object(m.iter().map(|(k, v)| (f(k), v.clone())).collect())
        };
        let mut as_sent = cased(str::to_string);
        as_sent["Rank"] = json!(7);
        let mut lower = cased(str::to_lowercase);
        lower["rank"] = json!(7);
        let mut upper = cased(str::to_uppercase);
        upper["RANK"] = json!(7);
        let canonical = document_update(&as_sent, &current, &zone).unwrap();
        assert_eq!(canonical.rank, Patch::Value(7));
        for doc in [lower, upper] {
            assert_eq!(document_update(&doc, &current, &zone).unwrap(), canonical);
        }
        let mut bad_doc = as_sent.clone();
        bad_doc["rank"] = json!(8);
        bad_doc["Colour"] = json!("red");
        bad_doc["CHATSESSIONID"] = json!(6);
        let Err(ApiError::BadRequest(errors)) = document_update(&bad_doc, &current, &zone) else {
            panic!("accepted");
        };
        let mut got: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        got.sort_unstable();
        assert_eq!(
            got,
            [
                // Members come in name order: `CHATSESSIONID` first.
                ("/ChatSessionId", "duplicate"),
                ("/ChatSessionId", "read_only"),
                ("/Colour", "unknown_property"),
                ("/rank", "duplicate"),
            ]
        );
    }

    /// The entity written as it is serialized is the entity's JSON, byte
    /// for byte: every member set and none, with and without links.
    #[test]
    fn entity_json_is_the_entitys_bytes() {
        let bare = stored();
        let mut full = stored();
        full.visitor = Visitor {
            name: Some("Ada \"L\" ✓".into()),
            email: Some("ada@example.com".into()),
            phone: Some("+47 1".into()),
            company: Some("Acme".into()),
            country: Some("NO".into()),
            host: Some("10.0.0.1".into()),
            alias: Some("ada".into()),
            consented: true,
        };
        full.assign(Some(AgentId::new(7)));
        full.transfer_to = Some(AgentId::new(8));
        full.customer_id = Some(CustomerId::new(9));
        full.topic_id = Some(3);
        full.rating = Some(4);
        (
            full.flags,
            full.alert_level,
            full.rank,
            full.initial_queue_pos,
        ) = (5, 2, -1, 6);
        full.first_message = Some("hi\n".into());
        full.last_message = Some(String::new());
        let t = Some(Timestamp::from_millis(1_700_000_000_123));
        (
            full.requested_at,
            full.started_at,
            full.ended_at,
            full.idle_at,
        ) = (t, t, t, t);
        (full.fetched_at, full.last_message_at, full.closed_at) = (t, t, t);
        full.status = ConversationStatus::Closed;
        full.chatbot_active = true;
        full.custom_info
            .insert("k".into(), json!({"b": [1, 2.5, -0.0], "a": null}));
        full.custom_info.insert("é".into(), json!("x"));
        let mut links = ConversationLinks::default();
        links.agents.push(std::sync::Arc::new(Agent {
            id: AgentId::new(7),
            tenant_id: TenantId::new(1),
            name: "Grace".into(),
            email: "grace@example.com".into(),
            role: "agent".into(),
        }));
        let mut customer = Customer::new(TenantId::new(1), Timestamp::from_millis(0));
        customer.id = CustomerId::new(9);
        customer.name = Some("Ada".into());
        links.customer = Some(customer);
        let zone = Zone::named("America/St_Johns").unwrap();
        for c in [&bare, &full] {
            for links in [None, Some(&links)] {
                let whole = serde_json::to_vec(&entity(c, links, &zone, "https://h")).unwrap();
                let written = serde_json::to_vec(&EntityJson {
                    c,
                    links,
                    zone: &zone,
                    base: "https://h",
                })
                .unwrap();
                assert_eq!(String::from_utf8(written), String::from_utf8(whole));
            }
        }
    }

    #[test]
    fn entity_round_trips_through_apply_document() {
        let mut c = stored();
        c.visitor.email = Some("a@example.com".into());
        c.rating = Some(4);
        c.custom_info.insert("k".into(), json!([1]));
        let zone = Zone::named("Europe/Oslo").unwrap();
        let doc = entity(&c, None, &zone, "http://h");
        assert_eq!(doc.as_object().unwrap().len(), MEMBERS.len());
        let mut back = c.clone();
        apply_document(
            &doc,
            &doc,
            &zone,
            &mut back,
            Actor::System,
            Timestamp::from_millis(0),
        )
        .unwrap();
        assert_eq!(back, c);
    }
}
