//! Conversions between SalesIQ's wire shapes and the domain.

use switchboard_domain::{
    Agent, Conversation, ConversationLinks, ConversationStatus, Department, Timestamp, Visitor,
};

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
    let Agent {
        id,
        tenant_id: _,
        name,
        email,
        role: _,
    } = a;
    OperatorOutput {
        id: id.to_string(),
        name: name.clone(),
        email: email.clone(),
    }
}

/// SalesIQ's conversation object, with the rows it links to (its operators
/// and department).
#[must_use]
pub fn conversation_output(c: &Conversation, links: &ConversationLinks) -> ConversationOutput {
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
        first_message,
        last_message: _,
        requested_at,
        started_at,
        ended_at,
        idle_at: _,
        fetched_at: _,
        last_message_at: _,
        last_customer_message_at: _,
        closed_at: _,
        closed_by: _,
        snoozed_until: _,
        chatbot_active: _,
        custom_info,
        created_with: _,
        created_at,
        updated_at,
        version: _,
    } = c;
    let Visitor {
        name,
        email,
        phone,
        company: _,
        country,
        host,
        alias: _,
        consented: _,
    } = visitor;
    let attender = links.assignee(c);
    ConversationOutput {
        id: id.to_string(),
        chat_id: session_key.clone(),
        visitor: VisitorOutput {
            name: name.clone(),
            email: email.clone(),
            phone: phone.clone(),
            country: country.clone(),
            ip: host.clone(),
        },
        department: links.department.as_ref().map(|d| {
            let Department {
                id,
                tenant_id: _,
                name,
            } = d;
            DepartmentOutput {
                id: id.to_string(),
                name: name.clone(),
            }
        }),
        attender: attender.map(operator),
        owner: attender.map(operator),
        chat_status: chat_status(*status),
        customer_info: custom_info.clone(),
        question: first_message.clone(),
        start_time: millis(requested_at.unwrap_or(*created_at)),
        end_time: ended_at.map(millis),
        pickup_time: started_at.map(millis),
        last_modified_time: millis(*updated_at),
        participants: links
            .participants(c)
            .map(|a| ParticipantOutput {
                id: a.id.to_string(),
                name: a.name.clone(),
                email: a.email.clone(),
                kind: "operator",
            })
            .collect(),
    }
}
