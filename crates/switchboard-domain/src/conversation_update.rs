//! Typed updates of a conversation, and the domain operations dialects share.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::validate::{self, ValidationErrors};
use crate::{
    Actor, AgentId, Conversation, ConversationStatus, Customer, CustomerId, DepartmentId,
    MAX_CUSTOM_INFO_KEY_CHARS, MAX_CUSTOM_INFO_KEYS, Patch, Timestamp, UpdateMode,
};

/// A typed update of the visitor's details; see [`ConversationUpdate`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VisitorUpdate {
    /// See [`Visitor::name`](crate::Visitor::name).
    pub name: Patch<String>,
    /// See [`Visitor::email`](crate::Visitor::email).
    pub email: Patch<String>,
    /// See [`Visitor::phone`](crate::Visitor::phone).
    pub phone: Patch<String>,
    /// See [`Visitor::company`](crate::Visitor::company).
    pub company: Patch<String>,
    /// See [`Visitor::country`](crate::Visitor::country).
    pub country: Patch<String>,
    /// See [`Visitor::host`](crate::Visitor::host).
    pub host: Patch<String>,
    /// See [`Visitor::alias`](crate::Visitor::alias).
    pub alias: Patch<String>,
    /// See [`Visitor::consented`](crate::Visitor::consented); `null` means `false`.
    pub consented: Patch<bool>,
}

/// A typed update of a conversation's writable members.
///
/// Each dialect turns its request into one of these; the rules of applying
/// it live here, so a status change, an assignment or a custom info merge
/// means the same whichever API asked for it. Fields left
/// [`Patch::Absent`] are kept by [`UpdateMode::Merge`] and cleared (or set
/// to their default) by [`UpdateMode::Replace`]; the required members
/// (`sessionKey`, `status`) keep their value when absent or `null`.
///
/// ```
/// use std::collections::BTreeMap;
/// use serde_json::json;
/// use switchboard_domain::{
///     Actor, AgentId, Conversation, ConversationStatus, ConversationUpdate, Patch, TenantId,
///     Timestamp, UpdateMode,
/// };
///
/// let mut c = Conversation::new(TenantId::new(1), "s-1", Timestamp::from_millis(0));
/// let update = ConversationUpdate {
///     status: Patch::Value(ConversationStatus::Closed),
///     assignee_id: Patch::Value(AgentId::new(7)),
///     custom_info_changes: BTreeMap::from([("plan".to_string(), json!("gold"))]),
///     ..Default::default()
/// };
/// update.validate().unwrap();
/// update.apply(&mut c, UpdateMode::Merge, Actor::System, Timestamp::from_millis(5));
/// assert_eq!(c.status, ConversationStatus::Closed);
/// assert_eq!(c.closed_at, Some(Timestamp::from_millis(5)));
/// assert_eq!(c.agent_ids, vec![AgentId::new(7)]); // the assignee takes part
/// assert_eq!(c.custom_info["plan"], json!("gold"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationUpdate {
    /// See [`Conversation::session_key`]; required.
    pub session_key: Patch<String>,
    /// The new status, applied last with [`Conversation::set_status`]; required.
    pub status: Patch<ConversationStatus>,
    /// The visitor's own details.
    pub visitor: VisitorUpdate,
    /// See [`Conversation::customer_id`].
    pub customer_id: Patch<CustomerId>,
    /// The assignee, applied with [`Conversation::assign`].
    pub assignee_id: Patch<AgentId>,
    /// See [`Conversation::transfer_to`].
    pub transfer_to: Patch<AgentId>,
    /// See [`Conversation::department_id`].
    pub department_id: Patch<DepartmentId>,
    /// See [`Conversation::topic_id`].
    pub topic_id: Patch<i64>,
    /// See [`Conversation::rating`].
    pub rating: Patch<i32>,
    /// See [`Conversation::flags`]; `null` means 0.
    pub flags: Patch<i64>,
    /// See [`Conversation::alert_level`]; `null` means 0.
    pub alert_level: Patch<i32>,
    /// See [`Conversation::rank`]; `null` means 0.
    pub rank: Patch<i32>,
    /// See [`Conversation::initial_queue_pos`]; `null` means 0.
    pub initial_queue_pos: Patch<i32>,
    /// See [`Conversation::first_message`].
    pub first_message: Patch<String>,
    /// See [`Conversation::last_message`].
    pub last_message: Patch<String>,
    /// See [`Conversation::requested_at`].
    pub requested_at: Patch<Timestamp>,
    /// See [`Conversation::started_at`].
    pub started_at: Patch<Timestamp>,
    /// See [`Conversation::ended_at`].
    pub ended_at: Patch<Timestamp>,
    /// See [`Conversation::idle_at`].
    pub idle_at: Patch<Timestamp>,
    /// See [`Conversation::fetched_at`].
    pub fetched_at: Patch<Timestamp>,
    /// See [`Conversation::last_message_at`].
    pub last_message_at: Patch<Timestamp>,
    /// See [`Conversation::last_customer_message_at`].
    pub last_customer_message_at: Patch<Timestamp>,
    /// See [`Conversation::snoozed_until`].
    pub snoozed_until: Patch<Timestamp>,
    /// See [`Conversation::chatbot_active`]; `null` means `false`.
    pub chatbot_active: Patch<bool>,
    /// The whole custom info map, exactly as given (`null` empties it).
    pub custom_info: Patch<BTreeMap<String, Value>>,
    /// Custom info entries merged key by key after `custom_info`: a `null`
    /// value removes the key, any other value sets it. Checked by
    /// [`ConversationUpdate::validate`].
    pub custom_info_changes: BTreeMap<String, Value>,
}

impl ConversationUpdate {
    /// Checks what can be checked before the update meets a conversation:
    /// the custom info entries to merge (at most
    /// [`MAX_CUSTOM_INFO_KEYS`], keys of 1 to
    /// [`MAX_CUSTOM_INFO_KEY_CHARS`] characters, values within the store's
    /// one limit on free-form JSON, [`validate::free_form_value`], `null`
    /// included).
    /// The result is checked again as a whole by [`Conversation::validate`].
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        let entries = &self.custom_info_changes;
        if entries.len() > MAX_CUSTOM_INFO_KEYS {
            e.push(
                "/customInfo",
                "length",
                format!("at most {MAX_CUSTOM_INFO_KEYS} keys"),
            );
        }
        for (k, v) in entries {
            let path = format!("/customInfo/{}", validate::pointer_token(k));
            if k.trim().is_empty() || k.chars().count() > MAX_CUSTOM_INFO_KEY_CHARS {
                e.push(
                    path,
                    "length",
                    format!("keys must be 1-{MAX_CUSTOM_INFO_KEY_CHARS} characters"),
                );
            } else {
                validate::free_form_value(&mut e, &path, v);
            }
        }
        validate::free_form_containers(&mut e, "/customInfo", entries);
        e.into_result()
    }

    /// Applies the update at `now` on behalf of `actor` (who closes the
    /// conversation if the status changes to closed). Validation of the
    /// result is a separate step ([`Conversation::validate`]), so that
    /// every violation is reported at once.
    pub fn apply(self, c: &mut Conversation, mode: UpdateMode, actor: Actor, now: Timestamp) {
        let Self {
            session_key,
            status,
            visitor,
            customer_id,
            assignee_id,
            transfer_to,
            department_id,
            topic_id,
            rating,
            flags,
            alert_level,
            rank,
            initial_queue_pos,
            first_message,
            last_message,
            requested_at,
            started_at,
            ended_at,
            idle_at,
            fetched_at,
            last_message_at,
            last_customer_message_at,
            snoozed_until,
            chatbot_active,
            custom_info,
            custom_info_changes,
        } = self;
        if let Patch::Value(key) = session_key {
            c.session_key = key;
        }
        visitor.apply(&mut c.visitor, mode);
        customer_id.apply_to(&mut c.customer_id, mode);
        if assignee_id.is_present() || mode == UpdateMode::Replace {
            let mut assignee = c.assignee_id;
            assignee_id.apply_to(&mut assignee, mode);
            c.assign(assignee);
        }
        transfer_to.apply_to(&mut c.transfer_to, mode);
        department_id.apply_to(&mut c.department_id, mode);
        topic_id.apply_to(&mut c.topic_id, mode);
        rating.apply_to(&mut c.rating, mode);
        scalar(flags, &mut c.flags, mode);
        scalar(alert_level, &mut c.alert_level, mode);
        scalar(rank, &mut c.rank, mode);
        scalar(initial_queue_pos, &mut c.initial_queue_pos, mode);
        first_message.apply_to(&mut c.first_message, mode);
        last_message.apply_to(&mut c.last_message, mode);
        for (patch, slot) in [
            (requested_at, &mut c.requested_at),
            (started_at, &mut c.started_at),
            (ended_at, &mut c.ended_at),
            (idle_at, &mut c.idle_at),
            (fetched_at, &mut c.fetched_at),
            (last_message_at, &mut c.last_message_at),
            (last_customer_message_at, &mut c.last_customer_message_at),
            (snoozed_until, &mut c.snoozed_until),
        ] {
            patch.apply_to(slot, mode);
        }
        scalar(chatbot_active, &mut c.chatbot_active, mode);
        match (custom_info, mode) {
            (Patch::Value(map), _) => c.custom_info = map,
            (Patch::Null, _) | (Patch::Absent, UpdateMode::Replace) => c.custom_info.clear(),
            (Patch::Absent, UpdateMode::Merge) => {}
        }
        c.merge_custom_info(custom_info_changes);
        if let Patch::Value(status) = status {
            c.set_status(status, actor, now);
        }
    }
}

impl VisitorUpdate {
    fn apply(self, v: &mut crate::Visitor, mode: UpdateMode) {
        let Self {
            name,
            email,
            phone,
            company,
            country,
            host,
            alias,
            consented,
        } = self;
        name.apply_to(&mut v.name, mode);
        email.apply_to(&mut v.email, mode);
        phone.apply_to(&mut v.phone, mode);
        company.apply_to(&mut v.company, mode);
        country.apply_to(&mut v.country, mode);
        host.apply_to(&mut v.host, mode);
        alias.apply_to(&mut v.alias, mode);
        scalar(consented, &mut v.consented, mode);
    }
}

/// A member that is never null: `null` (and absent, when replacing) sets
/// its default.
fn scalar<T: Default>(p: Patch<T>, slot: &mut T, mode: UpdateMode) {
    match p {
        Patch::Value(v) => *slot = v,
        Patch::Null => *slot = T::default(),
        Patch::Absent if mode == UpdateMode::Replace => *slot = T::default(),
        Patch::Absent => {}
    }
}

impl Conversation {
    /// Assigns the conversation to `agent` (`None` unassigns). An assignee
    /// takes part in the conversation: it joins
    /// [`agent_ids`](Conversation::agent_ids) unless it is there already.
    ///
    /// ```
    /// use switchboard_domain::{AgentId, Conversation, TenantId, Timestamp};
    /// let mut c = Conversation::new(TenantId::new(1), "s-1", Timestamp::from_millis(0));
    /// c.assign(Some(AgentId::new(3)));
    /// c.assign(Some(AgentId::new(4)));
    /// c.assign(None);
    /// assert_eq!(c.assignee_id, None);
    /// assert_eq!(c.agent_ids, vec![AgentId::new(3), AgentId::new(4)]);
    /// ```
    pub fn assign(&mut self, agent: Option<AgentId>) {
        self.assignee_id = agent;
        if let Some(a) = agent
            && !self.agent_ids.contains(&a)
        {
            self.agent_ids.push(a);
        }
    }

    /// A new conversation with `customer`: linked to it, with the visitor's
    /// details (name, email, phone, company) taken from the customer, as
    /// the record says them when the chat starts (so the chat's own email
    /// is what `chats.customer.email` searches). Later changes of the
    /// customer show where the chat has no detail of its own
    /// ([`Conversation::contact`]).
    #[must_use]
    pub fn for_customer(
        customer: &Customer,
        session_key: impl Into<String>,
        now: Timestamp,
    ) -> Self {
        let mut c = Self::new(customer.tenant_id, session_key, now);
        c.customer_id = Some(customer.id);
        c.visitor.name.clone_from(&customer.name);
        c.visitor.email.clone_from(&customer.email);
        c.visitor.phone.clone_from(&customer.phone);
        c.visitor.company.clone_from(&customer.company);
        c
    }

    /// Records a message from the customer at `now`: it becomes the first
    /// message if there was none, and the last message.
    ///
    /// ```
    /// use switchboard_domain::{Conversation, TenantId, Timestamp};
    /// let mut c = Conversation::new(TenantId::new(1), "s-1", Timestamp::from_millis(0));
    /// c.customer_message("Hello?", Timestamp::from_millis(4));
    /// c.customer_message("Anyone?", Timestamp::from_millis(9));
    /// assert_eq!(c.first_message.as_deref(), Some("Hello?"));
    /// assert_eq!(c.last_message.as_deref(), Some("Anyone?"));
    /// assert_eq!(c.last_customer_message_at, Some(Timestamp::from_millis(9)));
    /// ```
    pub fn customer_message(&mut self, text: impl Into<String>, now: Timestamp) {
        let text = text.into();
        if self.first_message.is_none() {
            self.first_message = Some(text.clone());
        }
        self.last_message = Some(text);
        self.last_message_at = Some(now);
        self.last_customer_message_at = Some(now);
    }
}
