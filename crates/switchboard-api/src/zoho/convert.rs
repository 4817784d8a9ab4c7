//! Conversions between SalesIQ's wire shapes and the domain.

use switchboard_domain::{Agent, Conversation, ConversationStatus, Department, Timestamp};

use super::wire::{
    ChatStatusOutput, ConversationOutput, DepartmentOutput, OperatorOutput, ParticipantOutput,
    VisitorOutput,
};

/// Epoch milliseconds as a string, as SalesIQ sends times.
#[must_use]
pub fn millis(t: Timestamp) -> String {
    t.as_millis().to_string()
}

/// SalesIQ's `chat_status` for a shared status (the table is in the dialect doc).
#[must_use]
pub const fn chat_status(s: ConversationStatus) -> ChatStatusOutput {
    let (status_key, status_code, label) = match s {
        ConversationStatus::New => ("waiting", 1, "Waiting"),
        ConversationStatus::Opened => ("connected", 2, "Connected"),
        ConversationStatus::Pending => ("pending", 3, "Pending"),
        ConversationStatus::OnHold => ("on_hold", 4, "On hold"),
        ConversationStatus::NoCommunication => ("missed", 5, "Missed"),
        ConversationStatus::Closed => ("ended", 6, "Ended"),
    };
    let closed = matches!(
        s,
        ConversationStatus::Closed | ConversationStatus::NoCommunication
    );
    ChatStatusOutput {
        state_key: if closed { "closed" } else { "open" },
        status_code,
        state: if closed { 2 } else { 1 },
        label,
        status_key,
    }
}

/// The shared status for a `status` filter value: SalesIQ's `status_key`s,
/// `open`/`closed`, or a shared status name.
#[must_use]
pub fn status_filter(s: &str) -> Option<Vec<ConversationStatus>> {
    let all = ConversationStatus::ALL;
    let key = s.trim().to_ascii_lowercase();
    let found: Vec<ConversationStatus> = match key.as_str() {
        "open" => all
            .into_iter()
            .filter(|x| chat_status(*x).state == 1)
            .collect(),
        "closed" => all
            .into_iter()
            .filter(|x| chat_status(*x).state == 2)
            .collect(),
        _ => all
            .into_iter()
            .filter(|x| chat_status(*x).status_key == key)
            .collect(),
    };
    if !found.is_empty() {
        return Some(found);
    }
    key.parse::<ConversationStatus>().ok().map(|x| vec![x])
}

fn operator(a: &Agent) -> OperatorOutput {
    OperatorOutput {
        id: a.id.to_string(),
        name: a.name.clone(),
        email: a.email.clone(),
    }
}

/// What a conversation object embeds, loaded by the handler.
#[derive(Debug, Default)]
pub struct Links {
    /// The assignee.
    pub attender: Option<Agent>,
    /// Participating agents.
    pub participants: Vec<Agent>,
    /// The department.
    pub department: Option<Department>,
}

/// SalesIQ's conversation object.
#[must_use]
pub fn conversation_output(c: &Conversation, links: &Links) -> ConversationOutput {
    ConversationOutput {
        id: c.id.to_string(),
        chat_id: c.session_key.clone(),
        visitor: VisitorOutput {
            name: c.visitor.name.clone(),
            email: c.visitor.email.clone(),
            phone: c.visitor.phone.clone(),
            country: c.visitor.country.clone(),
            ip: c.visitor.host.clone(),
        },
        department: links.department.as_ref().map(|d| DepartmentOutput {
            id: d.id.to_string(),
            name: d.name.clone(),
        }),
        attender: links.attender.as_ref().map(operator),
        owner: links.attender.as_ref().map(operator),
        chat_status: chat_status(c.status),
        customer_info: c.custom_info.clone(),
        question: c.first_message.clone(),
        start_time: millis(c.requested_at.unwrap_or(c.created_at)),
        end_time: c.ended_at.map(millis),
        pickup_time: c.started_at.map(millis),
        last_modified_time: millis(c.updated_at),
        participants: links
            .participants
            .iter()
            .map(|a| ParticipantOutput {
                id: a.id.to_string(),
                name: a.name.clone(),
                email: a.email.clone(),
                kind: "operator",
            })
            .collect(),
    }
}
