//! Conversions between HelpCrunch's wire shapes and the domain.

use std::collections::BTreeMap;

use switchboard_domain::{
    Agent, Conversation, ConversationLinks, Customer, CustomerUpdate, DEFAULT_TAG_COLOR,
    Department, Device, Location, Tag,
};

use super::wire::{
    AgentOutput, ChatOutput, CustomDataInput, CustomerInput, CustomerOutput, DepartmentOutput,
    DeviceOutput, LocationOutput, TagInput, TagOutput, unix_string,
};
use crate::{ApiError, FieldError};

/// Turns tag inputs into domain tags (default color when none is given).
#[must_use]
pub fn tags(input: Vec<TagInput>) -> Vec<Tag> {
    input
        .into_iter()
        .map(|t| Tag {
            name: t.name.trim().to_string(),
            color: t.color.unwrap_or_else(|| DEFAULT_TAG_COLOR.to_string()),
        })
        .collect()
}

fn custom_data(
    items: Vec<CustomDataInput>,
) -> Result<BTreeMap<String, serde_json::Value>, ApiError> {
    let mut map = BTreeMap::new();
    for (i, item) in items.into_iter().enumerate() {
        if item.property.trim().is_empty() {
            return Err(ApiError::bad_request(
                format!("customData.{i}.property"),
                "required",
                "must not be empty",
            ));
        }
        map.insert(item.property, item.value);
    }
    Ok(map)
}

/// Validates the request's shape and builds the domain update. Read-only
/// members (`id`, `createdAt`, `updatedAt`, `location`, `device`,
/// `createdFrom`) are refused with a 400 naming each one.
pub fn customer_update(input: CustomerInput) -> Result<CustomerUpdate, ApiError> {
    let CustomerInput {
        user_id,
        name,
        email,
        phone,
        company,
        first_seen,
        last_seen,
        unsubscribed,
        blocked,
        source,
        referer,
        last_page,
        locale,
        notes,
        tags: tag_input,
        custom_data: data,
        integration_id,
        id,
        created_at,
        updated_at,
        location,
        device,
        created_from,
    } = input;
    let read_only = [
        ("id", id.is_present()),
        ("createdAt", created_at.is_present()),
        ("updatedAt", updated_at.is_present()),
        ("location", location.is_present()),
        ("device", device.is_present()),
        ("createdFrom", created_from.is_present()),
    ];
    let refused: Vec<FieldError> = read_only
        .iter()
        .filter(|(_, present)| *present)
        .map(|(f, _)| FieldError::new(*f, "read_only", "is read-only"))
        .collect();
    if !refused.is_empty() {
        return Err(ApiError::BadRequest(refused));
    }
    Ok(CustomerUpdate {
        user_id,
        name,
        email: email.map(|e| e.trim().to_string()),
        phone,
        company,
        first_seen: first_seen.map(|t| t.0),
        last_seen: last_seen.map(|t| t.0),
        unsubscribed,
        blocked,
        source,
        referer,
        last_page,
        locale,
        notes,
        tags: tag_input.map(tags),
        custom_data: data.try_map(custom_data)?,
        integration_id,
    })
}

/// The customer object HelpCrunch returns.
#[must_use]
pub fn customer_output(c: &Customer) -> CustomerOutput {
    let Customer {
        id,
        tenant_id: _,
        user_id,
        name,
        email,
        phone,
        company,
        first_seen,
        last_seen,
        unsubscribed,
        blocked,
        source,
        referer,
        last_page,
        locale,
        notes,
        tags,
        custom_data,
        location,
        device,
        created_from,
        integration_id,
        created_at,
        updated_at,
        version: _,
    } = c;
    CustomerOutput {
        id: id.get(),
        user_id: user_id.clone(),
        name: name.clone(),
        email: email.clone(),
        phone: phone.clone(),
        company: company.clone(),
        first_seen: first_seen.map(unix_string),
        last_seen: last_seen.map(unix_string),
        unsubscribed: *unsubscribed,
        blocked: *blocked,
        source: source.clone(),
        referer: referer.clone(),
        last_page: last_page.clone(),
        locale: locale.clone(),
        notes: notes.clone(),
        tags: tags
            .iter()
            .map(|t| TagOutput {
                name: t.name.clone(),
                color: t.color.clone(),
            })
            .collect(),
        custom_data: custom_data.clone(),
        location: location.as_ref().map(|l| {
            let Location {
                region_code,
                country_code,
                city,
            } = l;
            LocationOutput {
                region_code: region_code.clone(),
                country_code: country_code.clone(),
                city: city.clone(),
            }
        }),
        device: device.as_ref().map(|d| {
            let Device {
                platform,
                os,
                browser,
                ip_address,
            } = d;
            DeviceOutput {
                platform: platform.clone(),
                os: os.clone(),
                browser: browser.clone(),
                ip_address: ip_address.clone(),
            }
        }),
        created_from: created_from.clone(),
        integration_id: integration_id.clone(),
        created_at: unix_string(*created_at),
        updated_at: unix_string(*updated_at),
    }
}

/// An agent as embedded in a chat.
#[must_use]
pub fn agent_output(a: &Agent) -> AgentOutput {
    let Agent {
        id,
        tenant_id: _,
        name,
        email,
        role,
    } = a;
    AgentOutput {
        id: id.get(),
        name: name.clone(),
        email: email.clone(),
        role: role.clone(),
    }
}

/// HelpCrunch's chat object for a conversation, with the rows it links to.
#[must_use]
pub fn chat_output(c: &Conversation, links: &ConversationLinks) -> ChatOutput {
    let Conversation {
        id,
        tenant_id: _,
        session_key: _,
        status,
        visitor: _,
        customer_id: _,
        assignee_id,
        agent_ids,
        department_id: _,
        topic_id: _,
        rating,
        flags: _,
        alert_level: _,
        rank: _,
        initial_queue_pos: _,
        transfer_to: _,
        first_message: _,
        last_message,
        requested_at: _,
        started_at: _,
        ended_at: _,
        idle_at: _,
        fetched_at: _,
        last_message_at,
        last_customer_message_at,
        closed_at,
        closed_by,
        snoozed_until,
        chatbot_active: _,
        custom_info,
        created_with,
        created_at,
        updated_at: _,
        version: _,
    } = c;
    let last_agent = agent_ids.last().copied().or(*assignee_id);
    ChatOutput {
        id: id.get(),
        closed_by: closed_by.and_then(|a| a.agent()).map(|a| a.get()),
        last_customer_message_at: last_customer_message_at.map(unix_string),
        status: status.as_str().to_string(),
        closed_at: closed_at.map(unix_string),
        rating: *rating,
        created_at: unix_string(*created_at),
        last_message_at: last_message_at.map(unix_string),
        created_with: created_with.clone(),
        snoozed_until: snoozed_until.map(unix_string),
        last_message_text: last_message.clone(),
        last_message_id: None,
        application_id: None,
        last_communicated_agent_id: last_agent.map(|a| a.get()),
        agents: links.participants(c).map(agent_output).collect(),
        customer: links.customer.as_ref().map(customer_output),
        assignee: links.assignee(c).map(agent_output),
        department: links.department.as_ref().map(|d| {
            let Department {
                id,
                tenant_id: _,
                name,
            } = d;
            DepartmentOutput {
                id: id.get(),
                name: name.clone(),
            }
        }),
        custom_info: custom_info.clone(),
    }
}
