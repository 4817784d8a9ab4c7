//! Conversions between HelpCrunch's wire shapes and the domain.

use std::collections::BTreeMap;

use switchboard_domain::{
    Actor, Agent, Contact, Conversation, ConversationLinks, Customer, CustomerId, CustomerUpdate,
    Department, Device, DomainError, Location, LocationMembers, Patch, ReadOnlyEcho, Tag,
};

use super::wire::{
    AgentOutput, ChatCustomerOutput, ChatOutput, CustomDataInput, CustomerInput, CustomerOutput,
    DepartmentOutput, DeviceInput, DeviceOutput, LocationInput, LocationOutput, Object, TagInput,
    TagOutput, UnixSeconds, unix_string,
};
use crate::ApiError;
use switchboard_domain::validate::ValidationErrors;

/// Turns tag inputs into domain tags; a tag without a color is named
/// without one ([`Tag::named`]): the tenant's color for it, or the default.
#[must_use]
pub fn tags(input: Vec<TagInput>) -> Vec<Tag> {
    input
        .into_iter()
        .map(|t| Tag {
            name: t.name.trim().to_string(),
            color: t.color.unwrap_or_default(),
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

/// Validates the request's shape and builds the domain update, checked by
/// [`CustomerUpdate::validate`] (a `location` member and the older
/// top-level one of the same name alike). Read-only members sent back
/// (`id`, `createdAt`, `createdFrom`) are kept for the domain to compare
/// with the stored customer; `updatedAt` is ignored.
pub fn customer_update(input: CustomerInput) -> Result<CustomerUpdate, ApiError> {
    let invalid = |e| ApiError::from_domain(DomainError::Validation(e), &super::error::field_name);
    // `device.ip` wins over `device.ipAddress`; the one that loses is
    // checked by the same rule (and named by its own name, `ipAddress`).
    if let Patch::Value(Object(DeviceInput {
        ip: Some(_),
        ip_address: Some(alias),
        ..
    })) = &input.device
    {
        let mut e = ValidationErrors::new();
        Device {
            ip_address: Some(alias.clone()),
            ..Device::default()
        }
        .check(&mut e, "/device");
        e.into_result().map_err(invalid)?;
    }
    let update = customer_update_unchecked(input)?;
    update.validate().map_err(invalid)?;
    Ok(update)
}

fn customer_update_unchecked(input: CustomerInput) -> Result<CustomerUpdate, ApiError> {
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
        location,
        device,
        city,
        region_code,
        country_code,
        id,
        created_at,
        updated_at: _,
        created_from,
    } = input;
    let id = match id {
        Patch::Absent => None,
        Patch::Value(v) => Some(
            v.as_i64()
                .filter(|i| *i > 0)
                .map(CustomerId::new)
                .ok_or_else(|| ApiError::bad_request("id", "read_only", "is read-only"))?,
        ),
        Patch::Null => return Err(ApiError::bad_request("id", "read_only", "is read-only")),
    };
    let echo = ReadOnlyEcho {
        id,
        created_at: match created_at {
            Patch::Absent => None,
            Patch::Value(t) => Some(t.0),
            Patch::Null => {
                return Err(ApiError::bad_request(
                    "createdAt",
                    "read_only",
                    "is read-only",
                ));
            }
        },
        created_from: match created_from {
            Patch::Absent => None,
            Patch::Null => Some(None),
            Patch::Value(v) => Some(Some(v)),
        },
    };
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
        custom_data: data.try_map(|d| custom_data(d.0))?,
        integration_id,
        location: location.map(|Object(l)| {
            let LocationInput {
                region_code,
                country_code,
                city,
            } = l;
            Location {
                region_code,
                country_code,
                city,
            }
        }),
        location_members: LocationMembers {
            region_code,
            country_code,
            city,
        },
        device: device.map(|Object(d)| {
            let DeviceInput {
                id: _,
                ip,
                ip_address,
                timezone,
                platform,
                user_agent,
                os,
                browser,
            } = d;
            Device {
                timezone,
                user_agent,
                platform,
                os,
                browser,
                ip_address: ip.or(ip_address),
            }
        }),
        echo,
    })
}

/// The customer object HelpCrunch returns.
#[must_use]
pub fn customer_output(c: Customer) -> CustomerOutput {
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
        user_id,
        name,
        email,
        phone,
        company,
        first_seen: first_seen.map(unix_string),
        last_seen: last_seen.map(unix_string),
        unsubscribed,
        blocked,
        source,
        referer,
        last_page,
        locale,
        notes,
        tags: tags
            .into_iter()
            .map(|t| TagOutput {
                name: t.name,
                color: t.color,
            })
            .collect(),
        custom_data,
        location: location.map(|l| {
            let Location {
                region_code,
                country_code,
                city,
            } = l;
            LocationOutput {
                region_code,
                country_code,
                city,
            }
        }),
        device: device.map(|d| {
            let Device {
                timezone,
                user_agent,
                platform,
                os,
                browser,
                ip_address,
            } = d;
            DeviceOutput {
                id: id.get(),
                ip: ip_address.clone(),
                timezone,
                user_agent,
                platform,
                os,
                browser,
                ip_address,
            }
        }),
        created_from,
        integration_id,
        created_at: unix_string(created_at),
        updated_at: unix_string(updated_at),
    }
}

/// An agent as embedded in a chat.
#[must_use]
pub fn agent_output(a: &Agent) -> AgentOutput<'_> {
    let Agent {
        id,
        tenant_id: _,
        name,
        email,
        role,
    } = a;
    AgentOutput {
        id: id.get(),
        name,
        email,
        role,
    }
}

/// HelpCrunch's rating word for a 1-5 rating (its chat model documents
/// `great`, `average` and `poor`): 4-5 great, 3 average, 1-2 poor.
#[must_use]
pub const fn rating_name(r: i32) -> &'static str {
    match r {
        i32::MIN..=2 => "poor",
        3 => "average",
        _ => "great",
    }
}

/// HelpCrunch's `closedBy`: `customer` when the visitor closed the chat,
/// `agent` for anyone else (an agent, an integration's key, the system).
#[must_use]
pub const fn closed_by_name(a: Actor) -> &'static str {
    match a {
        Actor::Customer => "customer",
        Actor::Agent(_) | Actor::ApiKey(_) | Actor::System => "agent",
    }
}

/// A chat's `customer`: the conversation's contact (the visitor's own
/// details, the linked customer's where the visitor gave none), or `None`
/// when nothing is known about the person.
fn chat_customer<'a>(
    c: &'a Conversation,
    links: &'a ConversationLinks,
) -> Option<ChatCustomerOutput<'a>> {
    let who = c.contact(links.customer.as_ref());
    if who.is_empty() {
        return None;
    }
    let Contact {
        customer_id,
        name,
        email,
        phone,
        company,
        country: _,
    } = who;
    Some(ChatCustomerOutput {
        id: customer_id.map(|x| x.get()),
        name,
        email,
        user_id: links
            .customer
            .as_ref()
            .filter(|x| Some(x.id) == customer_id)
            .and_then(|x| x.user_id.as_deref()),
        phone,
        company,
    })
}

/// HelpCrunch's chat object for a conversation, with the rows it links to.
#[must_use]
pub fn chat_output<'a>(c: &'a Conversation, links: &'a ConversationLinks) -> ChatOutput<'a> {
    let customer = chat_customer(c, links);
    let agents = links.participants(c).map(agent_output).collect();
    let assignee = links.assignee(c).map(agent_output);
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
        closed_by: closed_by.map(closed_by_name),
        last_customer_message_at: last_customer_message_at.map(UnixSeconds),
        status: status.as_str(),
        closed_at: closed_at.map(UnixSeconds),
        rating: rating.map(rating_name),
        created_at: UnixSeconds(*created_at),
        last_message_at: last_message_at.map(UnixSeconds),
        created_with: created_with.as_deref(),
        snoozed_until: snoozed_until.map(UnixSeconds),
        last_message_text: last_message.as_deref(),
        last_message_id: None,
        application_id: None,
        last_communicated_agent_id: last_agent.map(|a| a.get()),
        agents,
        customer,
        assignee,
        department: links.department.as_deref().map(|d| {
            let Department {
                id,
                tenant_id: _,
                name,
            } = d;
            DepartmentOutput { id: id.get(), name }
        }),
        custom_info,
    }
}
