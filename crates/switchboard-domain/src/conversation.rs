//! Conversations (chat sessions).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::validate::{self, ValidationErrors};
use crate::{
    Actor, AgentId, ConversationId, ConversationStatus, Customer, CustomerId, DepartmentId,
    TenantId, Timestamp,
};

/// Bounds on the free-form custom info map (Zoho's `customer_info`).
pub const MAX_CUSTOM_INFO_KEYS: usize = 100;
/// Longest custom info key, in characters.
pub const MAX_CUSTOM_INFO_KEY_CHARS: usize = 100;
/// Largest custom info value, in bytes of compact JSON: the store's one
/// limit on free-form values, [`crate::json::MAX_VALUE_BYTES`] (which comes
/// with a depth limit, [`crate::json::MAX_VALUE_DEPTH`]).
pub const MAX_CUSTOM_INFO_VALUE_BYTES: usize = crate::json::MAX_VALUE_BYTES;
/// Longest session key, in characters.
pub const MAX_SESSION_KEY_CHARS: usize = 128;
/// Longest message text kept in `firstMessage`/`lastMessage`.
pub const MAX_MESSAGE_CHARS: usize = 10_000;
/// At most this many participating agents.
pub const MAX_AGENTS: usize = 50;

/// What the visitor told us about themself in this chat. These are the
/// conversation's own fields, independent of any linked [`Customer`](crate::Customer).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Visitor {
    /// Name.
    pub name: Option<String>,
    /// Email (the chatbot family updates it; SuperOffice shows it as CustomerEmail).
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Company name.
    pub company: Option<String>,
    /// Country (free-form, as the chatbot sends it).
    pub country: Option<String>,
    /// Host name or IP address.
    pub host: Option<String>,
    /// Alias the visitor chose.
    pub alias: Option<String>,
    /// Whether the visitor consented to storage of their details.
    pub consented: bool,
}

/// Who a conversation is with, as every dialect shows it where it has one
/// set of members for the person in the chat (HelpCrunch's chat
/// `customer`, SalesIQ's `visitor`, the chatbot's chat log):
/// [`Conversation::contact`].
///
/// The rule, per member: **the visitor's own details first, the linked
/// customer's where the visitor gave none.** Why this way round:
///
/// - The visitor's details are what this chat captured, and the only
///   ones a chat dialect writes (the chatbot's `PUT …/chatlog/email`,
///   SuperOffice's `CustomerEmail`). If the customer's won, such a write
///   would answer 200 and change nothing any other dialect shows, against
///   the promise that a change through one dialect shows up in all.
/// - A customer is a record shared by all its chats and edited elsewhere;
///   in one chat the person may give another address than the one on file
///   (a personal email, a new phone). The chat shows what it was told.
/// - Where the visitor said nothing, the linked customer is who the chat
///   is with, so their details fill the gap rather than `null`.
///
/// Dialects with a member for each (SuperOffice's `Customer*` members and
/// its `Person`) show the two separately instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Contact<'a> {
    /// The linked customer's id, when the conversation has one.
    pub customer_id: Option<CustomerId>,
    /// Name.
    pub name: Option<&'a str>,
    /// Email.
    pub email: Option<&'a str>,
    /// Phone.
    pub phone: Option<&'a str>,
    /// Company name.
    pub company: Option<&'a str>,
    /// Country: the visitor's, else the customer's location country code.
    pub country: Option<&'a str>,
}

impl Contact<'_> {
    /// Whether nothing at all is known about the person.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Contact::default()
    }
}

/// What a conversation's write needs besides the conversation: the linked
/// customer, read only when the write's events show who the conversation
/// is with and the visitor's own details may not say it all
/// ([`event::customer_needed`](crate::event::customer_needed)).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationRules {
    /// The linked customer, when it was read.
    pub customer: Option<Customer>,
}

/// A conversation (chat session). Its canonical JSON is camelCase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Conversation {
    /// Storage-assigned numeric id, shared by every dialect. Read-only.
    pub id: ConversationId,
    /// Owning tenant. Read-only.
    pub tenant_id: TenantId,
    /// The chatbot `sessionid`; unique per tenant.
    pub session_key: String,
    /// Current status.
    pub status: ConversationStatus,
    /// The visitor's own captured details.
    pub visitor: Visitor,
    /// Optional link to a customer.
    pub customer_id: Option<CustomerId>,
    /// The assigned agent.
    pub assignee_id: Option<AgentId>,
    /// Agents who took part.
    pub agent_ids: Vec<AgentId>,
    /// Department the chat is routed to.
    pub department_id: Option<DepartmentId>,
    /// Chat topic (SuperOffice TopicId).
    pub topic_id: Option<i64>,
    /// Visitor's rating, 1 to 5.
    pub rating: Option<i32>,
    /// Bit flags (SuperOffice ChatSessionFlags).
    pub flags: i64,
    /// Alert level, 0 (none) to 3.
    pub alert_level: i32,
    /// Queue rank.
    pub rank: i32,
    /// Position in the queue when requested.
    pub initial_queue_pos: i32,
    /// Agent the chat is being transferred to.
    pub transfer_to: Option<AgentId>,
    /// Text of the first message (Zoho's `question`).
    pub first_message: Option<String>,
    /// Text of the latest message.
    pub last_message: Option<String>,
    /// When the visitor asked for a chat.
    pub requested_at: Option<Timestamp>,
    /// When an agent picked it up.
    pub started_at: Option<Timestamp>,
    /// When it ended.
    pub ended_at: Option<Timestamp>,
    /// When it went idle.
    pub idle_at: Option<Timestamp>,
    /// When an agent last fetched it.
    pub fetched_at: Option<Timestamp>,
    /// Time of the latest message.
    pub last_message_at: Option<Timestamp>,
    /// Time of the latest message from the customer.
    pub last_customer_message_at: Option<Timestamp>,
    /// Set when closed; cleared on reopen.
    pub closed_at: Option<Timestamp>,
    /// Who closed it; cleared on reopen.
    pub closed_by: Option<Actor>,
    /// Snoozed until this time.
    pub snoozed_until: Option<Timestamp>,
    /// Whether a chatbot is currently answering.
    pub chatbot_active: bool,
    /// Free-form custom info (Zoho's `customer_info`): string keys, JSON values.
    pub custom_info: BTreeMap<String, Value>,
    /// Channel it was created with (`api`, `widget`, `chatbot`…).
    pub created_with: Option<String>,
    /// Creation time. Read-only.
    pub created_at: Timestamp,
    /// Last write, in milliseconds. Read-only.
    pub updated_at: Timestamp,
    /// Incremented on every write. Read-only.
    pub version: i64,
}

impl Conversation {
    /// Canonical member names that clients can never change.
    pub const READ_ONLY: &'static [&'static str] =
        &["id", "tenantId", "createdAt", "updatedAt", "version"];

    /// A new conversation in status `new` (before storage assigns id and version).
    #[must_use]
    pub fn new(tenant_id: TenantId, session_key: impl Into<String>, now: Timestamp) -> Self {
        Self {
            id: ConversationId::new(0),
            tenant_id,
            session_key: session_key.into(),
            status: ConversationStatus::New,
            visitor: Visitor::default(),
            customer_id: None,
            assignee_id: None,
            agent_ids: Vec::new(),
            department_id: None,
            topic_id: None,
            rating: None,
            flags: 0,
            alert_level: 0,
            rank: 0,
            initial_queue_pos: 0,
            transfer_to: None,
            first_message: None,
            last_message: None,
            requested_at: Some(now),
            started_at: None,
            ended_at: None,
            idle_at: None,
            fetched_at: None,
            last_message_at: None,
            last_customer_message_at: None,
            closed_at: None,
            closed_by: None,
            snoozed_until: None,
            chatbot_active: false,
            custom_info: BTreeMap::new(),
            created_with: None,
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }

    /// The person this conversation is with: the visitor's own details,
    /// each member falling back to `customer`'s where the visitor gave none
    /// (blank text counts as none). See [`Contact`] for why. `customer` is
    /// used only if it is the linked customer.
    ///
    /// ```
    /// use switchboard_domain::{Conversation, Customer, CustomerId, TenantId, Timestamp};
    /// let now = Timestamp::from_millis(0);
    /// let mut ada = Customer::new(TenantId::new(1), now);
    /// ada.id = CustomerId::new(7);
    /// ada.name = Some("Ada".into());
    /// ada.email = Some("ada@example.com".into());
    /// let mut c = Conversation::new(TenantId::new(1), "s-1", now);
    /// c.customer_id = Some(ada.id);
    /// c.visitor.email = Some("ada@home.example".into());
    /// let who = c.contact(Some(&ada));
    /// assert_eq!(who.email, Some("ada@home.example")); // the visitor's own
    /// assert_eq!(who.name, Some("Ada")); // the customer's, the visitor gave none
    /// assert_eq!(who.customer_id, Some(CustomerId::new(7)));
    /// ```
    #[must_use]
    pub fn contact<'a>(&'a self, customer: Option<&'a Customer>) -> Contact<'a> {
        fn given(v: Option<&String>) -> Option<&str> {
            v.map(String::as_str).filter(|s| !s.trim().is_empty())
        }
        let customer = customer.filter(|x| Some(x.id) == self.customer_id);
        let v = &self.visitor;
        let of = |mine: &'a Option<String>, theirs: fn(&'a Customer) -> Option<&'a String>| {
            given(mine.as_ref()).or_else(|| customer.and_then(|x| given(theirs(x))))
        };
        Contact {
            customer_id: self.customer_id,
            name: of(&v.name, |x| x.name.as_ref()),
            email: of(&v.email, |x| x.email.as_ref()),
            phone: of(&v.phone, |x| x.phone.as_ref()),
            company: of(&v.company, |x| x.company.as_ref()),
            country: of(&v.country, |x| {
                x.location.as_ref().and_then(|l| l.country_code.as_ref())
            }),
        }
    }

    /// Moves the conversation to `status`.
    ///
    /// Closing sets `closedAt` and `endedAt` to `now` and `closedBy` to
    /// `actor`, so `endedAt` is always the latest close (a reopened and
    /// closed again conversation ended at the second close); closing a
    /// closed conversation changes nothing.
    /// Any other status clears `closedAt` and `closedBy` (reopening).
    /// Opening sets `startedAt` if it is unset. Returns whether anything changed.
    ///
    /// ```
    /// use switchboard_domain::{Actor, Conversation, ConversationStatus, TenantId, Timestamp};
    /// let mut c = Conversation::new(TenantId::new(1), "s-1", Timestamp::from_millis(0));
    /// c.set_status(ConversationStatus::Closed, Actor::System, Timestamp::from_millis(5));
    /// assert_eq!(c.closed_at, Some(Timestamp::from_millis(5)));
    /// c.set_status(ConversationStatus::Opened, Actor::System, Timestamp::from_millis(9));
    /// assert_eq!(c.closed_at, None);
    /// assert_eq!(c.closed_by, None);
    /// ```
    pub fn set_status(&mut self, status: ConversationStatus, actor: Actor, now: Timestamp) -> bool {
        if self.status == status {
            return false;
        }
        self.status = status;
        if status.is_closed() {
            self.closed_at = Some(now);
            self.closed_by = Some(actor);
            self.ended_at = Some(now);
        } else {
            self.closed_at = None;
            self.closed_by = None;
            if status == ConversationStatus::Opened {
                self.started_at.get_or_insert(now);
            }
        }
        true
    }

    /// Keeps `closedAt`/`closedBy` consistent with `status` after a raw
    /// document edit (JSON Patch, PUT): a closed conversation without
    /// `closedAt` (one this edit closes) gets `now` and `actor`, and ends at
    /// `now`; an open one loses both.
    pub fn normalize_closure(&mut self, actor: Actor, now: Timestamp) {
        if self.status.is_closed() {
            if self.closed_at.is_none() {
                self.closed_at = Some(now);
                self.ended_at = Some(now);
            }
            if self.closed_by.is_none() {
                self.closed_by = Some(actor);
            }
            self.ended_at.get_or_insert(now);
        } else {
            self.closed_at = None;
            self.closed_by = None;
        }
    }

    /// Merges custom info: a `null` value removes the key.
    pub fn merge_custom_info(&mut self, entries: impl IntoIterator<Item = (String, Value)>) {
        for (k, v) in entries {
            if v.is_null() {
                self.custom_info.remove(&k);
            } else {
                self.custom_info.insert(k, v);
            }
        }
    }

    /// Checks every rule and reports all violations at once.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        let key = &self.session_key;
        if key.is_empty()
            || key.chars().count() > MAX_SESSION_KEY_CHARS
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        {
            e.push(
                "/sessionKey",
                "session_key",
                format!("must be 1-{MAX_SESSION_KEY_CHARS} characters of A-Z, a-z, 0-9, '-', '_', '.', ':'"),
            );
        }
        let v = &self.visitor;
        for (path, value) in [
            ("/visitor/name", &v.name),
            ("/visitor/phone", &v.phone),
            ("/visitor/company", &v.company),
            ("/visitor/country", &v.country),
            ("/visitor/host", &v.host),
            ("/visitor/alias", &v.alias),
            ("/createdWith", &self.created_with),
        ] {
            if let Some(s) = value {
                validate::max_chars(&mut e, path, s, 255);
            }
        }
        if let Some(email) = &v.email
            && !validate::email(email)
        {
            e.push("/visitor/email", "email", "must be a valid email address");
        }
        for (path, value) in [
            ("/firstMessage", &self.first_message),
            ("/lastMessage", &self.last_message),
        ] {
            if let Some(s) = value {
                validate::max_chars(&mut e, path, s, MAX_MESSAGE_CHARS);
            }
        }
        if let Some(r) = self.rating
            && !(1..=5).contains(&r)
        {
            e.push("/rating", "range", "must be between 1 and 5");
        }
        if !(0..=3).contains(&self.alert_level) {
            e.push("/alertLevel", "range", "must be between 0 and 3");
        }
        if self.agent_ids.len() > MAX_AGENTS {
            e.push(
                "/agentIds",
                "length",
                format!("at most {MAX_AGENTS} agents"),
            );
        }
        let times = [
            ("/requestedAt", self.requested_at),
            ("/startedAt", self.started_at),
            ("/endedAt", self.ended_at),
            ("/idleAt", self.idle_at),
            ("/fetchedAt", self.fetched_at),
            ("/lastMessageAt", self.last_message_at),
            ("/lastCustomerMessageAt", self.last_customer_message_at),
            ("/closedAt", self.closed_at),
            ("/snoozedUntil", self.snoozed_until),
        ];
        for (path, t) in times {
            if let Some(t) = t
                && !(0..=crate::time::MAX_MILLIS).contains(&t.as_millis())
            {
                e.push(path, "timestamp", "must be between 1970 and 9999");
            }
        }
        if self.status.is_closed() != self.closed_at.is_some() {
            e.push(
                "/closedAt",
                "status",
                "closedAt is set exactly when the status is closed",
            );
        }
        e.extend(validate_custom_info(&self.custom_info));
        validate::no_nul_in(&mut e, self);
        e.into_result()
    }
}

/// Checks the bounds of a custom info map: key count, key length, each
/// value's depth and size ([`validate::free_form_value`]), and the objects
/// and arrays of all values together ([`validate::free_form_containers`]).
pub fn validate_custom_info(info: &BTreeMap<String, Value>) -> ValidationErrors {
    let mut e = ValidationErrors::new();
    if info.len() > MAX_CUSTOM_INFO_KEYS {
        e.push(
            "/customInfo",
            "length",
            format!("at most {MAX_CUSTOM_INFO_KEYS} keys"),
        );
    }
    for (k, v) in info {
        let path = format!("/customInfo/{}", validate::pointer_token(k));
        if k.trim().is_empty() {
            e.push(path.clone(), "required", "keys must not be empty");
        }
        if k.chars().count() > MAX_CUSTOM_INFO_KEY_CHARS {
            e.push(
                path.clone(),
                "length",
                format!("keys are at most {MAX_CUSTOM_INFO_KEY_CHARS} characters"),
            );
        }
        validate::free_form_value(&mut e, &path, v);
    }
    validate::free_form_containers(&mut e, "/customInfo", info);
    e
}
