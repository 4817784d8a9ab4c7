//! Conversions between SalesIQ's wire shapes and the domain.

use switchboard_domain::{
    Agent, Conversation, ConversationLinks, ConversationStatus, Department, Timestamp, Visitor,
};

use std::net::IpAddr;

use super::wire::{
    ChannelDetailsOutput, ChatStatusOutput, ConversationOutput, DepartmentOutput,
    LastMessageOutput, MessageTextOutput, OperatorOutput, ParticipantOutput, SenderOutput,
    VisitorOutput,
};

/// Epoch milliseconds as a string, as SalesIQ sends times.
#[must_use]
pub fn millis(t: Timestamp) -> String {
    t.as_millis().to_string()
}

/// SalesIQ's `chat_status` for a shared status. The connected row is the
/// vendor's own sample; `state` 4 for an ended chat is its close sample; the
/// rest is Switchboard's table (`docs/dialects/zoho-salesiq.md`).
#[must_use]
pub const fn chat_status(s: ConversationStatus) -> ChatStatusOutput {
    let (state_key, state, status_code, id, label) = match s {
        ConversationStatus::New => ("waiting", 1, 0, "10", "Waiting"),
        ConversationStatus::Opened => ("connected", 2, 0, "20", "Connected"),
        ConversationStatus::Pending => ("connected", 2, 1, "21", "Pending"),
        ConversationStatus::OnHold => ("connected", 2, 2, "22", "On hold"),
        ConversationStatus::NoCommunication => ("missed", 3, 0, "30", "Missed"),
        ConversationStatus::Closed => ("ended", 4, 0, "40", "Ended"),
    };
    let closed = matches!(
        s,
        ConversationStatus::Closed | ConversationStatus::NoCommunication
    );
    ChatStatusOutput {
        state_key,
        status_code,
        state,
        id,
        label,
        status_key: if closed { "closed" } else { "open" },
    }
}

/// The shared status for a `status` filter value: SalesIQ's `status_key`s,
/// `open`/`closed`, or a shared status name.
#[must_use]
pub fn status_filter(s: &str) -> Option<Vec<ConversationStatus>> {
    let all = ConversationStatus::ALL;
    let key = s.trim().to_ascii_lowercase();
    let found: Vec<ConversationStatus> = match key.as_str() {
        "open" | "closed" => all
            .into_iter()
            .filter(|x| chat_status(*x).status_key == key)
            .collect(),
        "waiting" | "connected" | "missed" | "ended" => all
            .into_iter()
            .filter(|x| chat_status(*x).state_key == key)
            .collect(),
        _ => Vec::new(),
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
        image_key: None,
        aboutme: None,
        is_bot: false,
        call_enabled: false,
    }
}

fn participant(a: &Agent) -> ParticipantOutput {
    let OperatorOutput {
        id,
        name,
        email,
        image_key,
        aboutme,
        is_bot,
        call_enabled,
    } = operator(a);
    ParticipantOutput {
        id,
        name,
        email,
        image_key,
        aboutme,
        is_bot,
        call_enabled,
        kind: "operator",
    }
}

/// The visitor's IP: the stored host when it is an IP address, else `None`
/// (SalesIQ's `ip` is never a host name).
fn ip_of(host: Option<&str>) -> Option<String> {
    host.and_then(|h| h.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_string())
}

/// A two-letter country code, lower case, when `country` is one.
fn country_code(country: Option<&str>) -> Option<String> {
    country
        .map(str::trim)
        .filter(|c| c.len() == 2 && c.chars().all(|x| x.is_ascii_alphabetic()))
        .map(str::to_ascii_lowercase)
}

/// SalesIQ's channel name for the channel a conversation was created with
/// (a chat widget is SalesIQ's `website`).
fn channel(created_with: Option<&str>) -> Option<String> {
    created_with.map(|c| match c {
        "widget" => "website".to_owned(),
        other => other.to_owned(),
    })
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
        customer_id,
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
        last_message,
        requested_at,
        started_at,
        ended_at,
        idle_at: _,
        fetched_at: _,
        last_message_at,
        last_customer_message_at: _,
        closed_at: _,
        closed_by: _,
        snoozed_until: _,
        chatbot_active: _,
        custom_info,
        created_with,
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
        host,
        alias: _,
        consented: _,
    } = visitor;
    // Name, email, phone and country are the conversation's contact: the
    // visitor's own, the linked customer's where the visitor gave none.
    let who = c.contact(links.customer.as_ref());
    let owned = |v: Option<&str>| v.map(str::to_owned);
    let attender = links.assignee(c);
    let channel = channel(created_with.as_deref());
    ConversationOutput {
        id: id.to_string(),
        reference_id: id.to_string(),
        chat_id: session_key.clone(),
        kind: "chat",
        uvid: None,
        app_id: None,
        visitor: VisitorOutput {
            id: customer_id.map(|x| x.to_string()),
            name: owned(who.name),
            first_name: None,
            email: owned(who.email),
            phone: owned(who.phone),
            country: owned(who.country),
            country_code: country_code(who.country),
            ip: ip_of(host.as_deref()),
            kind: if customer_id.is_some() {
                "contact"
            } else {
                "lead"
            },
            user_id: None,
            channel_details: ChannelDetailsOutput {
                channel: channel.clone(),
                source: None,
            },
            channel_name: channel,
            supported_operations: Vec::new(),
        },
        department: links.department.as_deref().map(|d| {
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
        attended_time: started_at.map(millis),
        end_time: ended_at.map(millis),
        pickup_time: started_at.map(millis),
        last_modified_time: millis(*updated_at),
        reopen: false,
        unread_chats: false,
        last_message_info: last_message.as_ref().map(|text| LastMessageOutput {
            id: None,
            sequence_id: None,
            kind: "text",
            sender: SenderOutput {
                id: None,
                name: None,
            },
            message: MessageTextOutput { text: text.clone() },
            time: last_message_at.map(millis),
        }),
        participants: links.participants(c).map(participant).collect(),
    }
}
