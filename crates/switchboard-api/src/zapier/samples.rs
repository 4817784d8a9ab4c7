//! A realistic sample payload per event, for `performList` when the tenant
//! has no event of that type yet. Built by the same domain functions that
//! build real events, so the shape is exactly what is delivered.

use serde_json::{Value, json};
use switchboard_domain::event::{conversation_events, customer_events};
use switchboard_domain::{
    Conversation, ConversationId, ConversationStatus, Customer, CustomerId, EventType, TenantId,
    Timestamp,
};

fn customer(tenant: TenantId, now: Timestamp) -> Customer {
    let mut c = Customer::new(tenant, now);
    c.id = CustomerId::new(1);
    c.version = 1;
    c.user_id = Some("user-1001".into());
    c.name = Some("Ada Lovelace".into());
    c.email = Some("ada@example.com".into());
    c.phone = Some("+44 20 7946 0000".into());
    c.company = Some("Analytical Engines Ltd".into());
    c
}

fn conversation(tenant: TenantId, now: Timestamp) -> Conversation {
    let mut c = Conversation::new(tenant, "7f3c9a2e41d04b8c", now);
    c.id = ConversationId::new(1);
    c.version = 1;
    c.visitor.name = Some("Ada Lovelace".into());
    c.visitor.email = Some("ada@example.com".into());
    c.visitor.country = Some("United Kingdom".into());
    c.first_message = Some("Hi, I have a question about pricing".into());
    c
}

/// The `id` of a sample payload (real events carry their event's id).
pub const SAMPLE_ID: i64 = 1;

/// One sample payload of `event` for tenant `name`, with an `id` like
/// every delivered payload.
#[must_use]
pub fn sample(event: EventType, tenant: TenantId, name: &str, now: Timestamp) -> Value {
    let later = Timestamp::from_millis(now.as_millis() + 60_000);
    let events = match event {
        EventType::CustomerCreated | EventType::CustomerUpdated | EventType::CustomerDeleted => {
            let before = customer(tenant, now);
            let mut after = before.clone();
            after.company = Some("Difference Engines plc".into());
            after.version = 2;
            after.updated_at = later;
            match event {
                EventType::CustomerCreated => customer_events(name, None, Some(&before), now),
                EventType::CustomerUpdated => {
                    customer_events(name, Some(&before), Some(&after), later)
                }
                _ => customer_events(name, Some(&before), None, later),
            }
        }
        _ => {
            let mut before = conversation(tenant, now);
            let mut after = before.clone();
            after.version = 2;
            after.updated_at = later;
            match event {
                EventType::ConversationCreated | EventType::EmailUpdated => {
                    conversation_events(name, None, Some(&before), None, now)
                }
                EventType::ConversationDeleted => {
                    conversation_events(name, Some(&before), None, None, later)
                }
                EventType::ConversationStatusChanged => {
                    after.status = ConversationStatus::Opened;
                    conversation_events(name, Some(&before), Some(&after), None, later)
                }
                EventType::ConversationCustomInfoUpdated => {
                    after.custom_info.insert("plan".into(), json!("Gold"));
                    conversation_events(name, Some(&before), Some(&after), None, later)
                }
                _ => {
                    before.rating = None;
                    after.rating = Some(5);
                    conversation_events(name, Some(&before), Some(&after), None, later)
                }
            }
        }
    };
    events
        .into_iter()
        .find(|e| e.event_type == event)
        .map_or_else(
            || json!({"id": SAMPLE_ID, "event": event.as_str()}),
            |e| switchboard_domain::event::with_event_id(e.payload, SAMPLE_ID),
        )
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn every_event_has_a_sample_of_its_own_shape() {
        let now = Timestamp::from_millis(1_700_000_000_000);
        for event in EventType::ALL {
            let p = sample(event, TenantId::new(1), "acme", now);
            assert_eq!(p["company_username"], "acme", "{event}: {p}");
            assert_eq!(
                p["id"], SAMPLE_ID,
                "{event}: performList items need an id: {p}"
            );
            if event == EventType::EmailUpdated {
                let keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
                assert_eq!(
                    keys.len(),
                    7,
                    "email_updated has the seed's six members and id: {keys:?}"
                );
                assert_eq!(p["status"], "email_updated");
            } else {
                assert_eq!(p["event"], event.as_str(), "{p}");
            }
        }
        let updated = sample(
            EventType::ConversationUpdated,
            TenantId::new(1),
            "acme",
            now,
        );
        assert_eq!(updated["changed_fields"], json!(["rating"]));
    }
}
