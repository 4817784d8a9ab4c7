//! Events derived from the before and after state of a write.

use serde_json::json;
use switchboard_domain::event::{changed_fields, conversation_events, customer_events};
use switchboard_domain::json::{ApplyOptions, apply};
use switchboard_domain::{
    Actor, Conversation, ConversationId, ConversationStatus, Customer, CustomerId, EventType,
    TenantId, Timestamp,
};

fn conv() -> Conversation {
    let mut c = Conversation::new(TenantId::new(3), "abc-123", Timestamp::from_millis(5));
    c.id = ConversationId::new(42);
    c.version = 1;
    c.visitor.name = Some("Ada".into());
    c.visitor.country = Some("Norway".into());
    c
}

/// The `email_updated` event of the change `before` → `after` (at 10 ms),
/// which must have one.
fn email_updated(
    before: &Conversation,
    after: &Conversation,
    customer: Option<&Customer>,
) -> switchboard_domain::DomainEvent {
    conversation_events(
        "acme",
        Some(before),
        Some(after),
        customer,
        Timestamp::from_millis(10),
    )
    .into_iter()
    .find(|e| e.event_type == EventType::EmailUpdated)
    .unwrap()
}

fn types(events: &[switchboard_domain::DomainEvent]) -> Vec<EventType> {
    events.iter().map(|e| e.event_type).collect()
}

#[test]
fn conversation_event_table() {
    type Edit = fn(&mut Conversation);
    let cases: Vec<(&str, Edit, Vec<EventType>, Vec<&str>)> = vec![
        ("no change", |_| {}, vec![], vec![]),
        (
            "email set",
            |c| c.visitor.email = Some("ada@example.com".into()),
            vec![EventType::ConversationUpdated, EventType::EmailUpdated],
            vec!["visitor/email"],
        ),
        ("email cleared", |c| c.visitor.email = None, vec![], vec![]),
        (
            "status",
            |c| {
                c.set_status(
                    ConversationStatus::Closed,
                    Actor::System,
                    Timestamp::from_millis(9),
                );
            },
            vec![
                EventType::ConversationUpdated,
                EventType::ConversationStatusChanged,
            ],
            vec!["status", "endedAt", "closedAt", "closedBy"],
        ),
        (
            "custom info",
            |c| {
                c.custom_info.insert("plan".into(), json!("pro"));
            },
            vec![
                EventType::ConversationUpdated,
                EventType::ConversationCustomInfoUpdated,
            ],
            vec!["customInfo"],
        ),
        (
            "status and custom info",
            |c| {
                c.set_status(
                    ConversationStatus::Closed,
                    Actor::System,
                    Timestamp::from_millis(9),
                );
                c.custom_info.insert("plan".into(), json!("pro"));
            },
            vec![
                EventType::ConversationUpdated,
                EventType::ConversationStatusChanged,
                EventType::ConversationCustomInfoUpdated,
            ],
            vec!["status", "endedAt", "closedAt", "closedBy", "customInfo"],
        ),
        (
            "bookkeeping only",
            |c| {
                c.version = 2;
                c.updated_at = Timestamp::from_millis(99);
            },
            vec![],
            vec![],
        ),
    ];
    for (name, edit, want, fields) in cases {
        let before = conv();
        let mut after = before.clone();
        edit(&mut after);
        let events = conversation_events(
            "acme",
            Some(&before),
            Some(&after),
            None,
            Timestamp::from_millis(10),
        );
        assert_eq!(types(&events), want, "case {name}");
        // every payload but email_updated's carries the conversation as written
        let written = serde_json::to_value(&after).unwrap();
        for e in events
            .iter()
            .filter(|e| e.event_type != EventType::EmailUpdated)
        {
            assert_eq!(e.payload["conversation"], written, "case {name}");
        }
        if let Some(updated) = events.first() {
            let mut got: Vec<String> = changed_fields(&updated.diff);
            got.sort();
            let mut fields: Vec<String> = fields.iter().map(ToString::to_string).collect();
            fields.sort();
            assert_eq!(got, fields, "case {name}");
            assert_eq!(
                updated.payload["changed_fields"].as_array().unwrap().len(),
                fields.len()
            );
            // the diff really transforms before into after
            let mut doc = serde_json::to_value(&before).unwrap();
            apply(&mut doc, &updated.diff, &ApplyOptions::default()).unwrap();
            assert_eq!(doc, serde_json::to_value(&after).unwrap(), "case {name}");
        }
    }
}

/// `email_updated` names who the conversation is with
/// (`Conversation::contact`): the visitor's own name and country, else the
/// linked customer's; and the customer is asked for only when it may fill
/// something.
#[test]
fn email_updated_takes_name_and_country_by_the_contact_rule() {
    use switchboard_domain::Location;
    use switchboard_domain::event::customer_needed;
    let mut before = conv();
    before.visitor.name = None;
    before.visitor.country = Some("  ".into());
    let mut ada = Customer::new(TenantId::new(3), Timestamp::from_millis(1));
    ada.id = CustomerId::new(9);
    ada.name = Some("Ada Lovelace".into());
    ada.location = Some(Location {
        country_code: Some("GB".into()),
        ..Location::default()
    });
    before.customer_id = Some(ada.id);
    let mut after = before.clone();
    after.visitor.email = Some("ada@example.com".into());

    assert_eq!(customer_needed(Some(&before), &after), Some(ada.id));
    assert_eq!(customer_needed(None, &after), Some(ada.id));
    // No new email: no email_updated, no customer needed.
    assert_eq!(customer_needed(Some(&after), &after), None);
    let mut own = after.clone();
    own.visitor.name = Some("Ada".into());
    own.visitor.country = Some("Norway".into());
    assert_eq!(customer_needed(Some(&before), &own), None);

    let email = email_updated(&before, &after, Some(&ada));
    assert_eq!(email.payload["name"], "Ada Lovelace");
    assert_eq!(email.payload["country"], "GB");
    assert_eq!(email.payload["receiver_email"], "ada@example.com");

    // Another customer than the linked one is never used.
    let mut other = ada.clone();
    other.id = CustomerId::new(10);
    let email = email_updated(&before, &after, Some(&other));
    assert_eq!(email.payload["name"], serde_json::Value::Null);
}

#[test]
fn email_updated_payload_is_exactly_the_zapier_shape() {
    let before = conv();
    let mut after = before.clone();
    after.visitor.email = Some("ada@example.com".into());
    let email = email_updated(&before, &after, None);
    assert_eq!(
        email.payload,
        json!({
            "user_session_id": "abc-123",
            "receiver_email": "ada@example.com",
            "company_username": "acme",
            "name": "Ada",
            "country": "Norway",
            "status": "email_updated"
        })
    );
    assert_eq!(email.entity_id, 42);
    assert_eq!(email.tenant_id, TenantId::new(3));
}

#[test]
fn create_and_delete_events() {
    let mut c = conv();
    c.visitor.email = Some("ada@example.com".into());
    let created = conversation_events("acme", None, Some(&c), None, Timestamp::from_millis(1));
    assert_eq!(
        types(&created),
        [EventType::ConversationCreated, EventType::EmailUpdated]
    );
    assert_eq!(created[0].version_before, None);
    let deleted = conversation_events("acme", Some(&c), None, None, Timestamp::from_millis(1));
    assert_eq!(types(&deleted), [EventType::ConversationDeleted]);
    assert_eq!(deleted[0].version_after, None);
    // a deleted entity's payload carries it as it was
    assert_eq!(
        deleted[0].payload["conversation"],
        serde_json::to_value(&c).unwrap()
    );

    let mut cust = Customer::new(TenantId::new(3), Timestamp::from_millis(1));
    cust.id = CustomerId::new(8);
    let mut changed = cust.clone();
    changed.name = Some("Bob".into());
    assert_eq!(
        types(&customer_events(
            "acme",
            None,
            Some(&cust),
            Timestamp::from_millis(1)
        )),
        [EventType::CustomerCreated]
    );
    let upd = customer_events(
        "acme",
        Some(&cust),
        Some(&changed),
        Timestamp::from_millis(1),
    );
    assert_eq!(types(&upd), [EventType::CustomerUpdated]);
    assert_eq!(upd[0].payload["changed_fields"], json!(["name"]));
    assert_eq!(
        upd[0].payload["customer"],
        serde_json::to_value(&changed).unwrap()
    );
    assert!(
        customer_events("acme", Some(&cust), Some(&cust), Timestamp::from_millis(1)).is_empty()
    );
    assert_eq!(
        types(&customer_events(
            "acme",
            Some(&cust),
            None,
            Timestamp::from_millis(1)
        )),
        [EventType::CustomerDeleted]
    );
}

/// The store's one limit on free-form values is set below every reader: a
/// custom info value at the limit reads back from each event payload and
/// diff (serde_json's reader stops at 128 levels), and a SuperOffice-style
/// document holding it stays within the JSON Patch depth limit (32).
#[test]
fn a_value_at_the_limit_reads_back_from_every_event_and_document() {
    use switchboard_domain::json::{Limits, MAX_VALUE_DEPTH, check_document};
    let deep = (0..MAX_VALUE_DEPTH).fold(json!(1), |v, i| {
        if i % 2 == 0 {
            json!([v])
        } else {
            json!({ "k": v })
        }
    });
    let before = conv();
    let mut after = before.clone();
    after.custom_info.insert("deep".into(), deep);
    after.version = 2;
    after.validate().unwrap();
    let t = Timestamp::from_millis(9);
    let mut events = conversation_events("acme", None, Some(&after), None, t);
    events.extend(conversation_events(
        "acme",
        Some(&before),
        Some(&after),
        None,
        t,
    ));
    events.extend(conversation_events("acme", Some(&after), None, None, t));
    assert_eq!(events.len(), 4, "{:?}", types(&events));
    for e in &events {
        let payload = serde_json::to_string(&e.payload).unwrap();
        serde_json::from_str::<serde_json::Value>(&payload)
            .unwrap_or_else(|err| panic!("{}: payload: {err}", e.event_type));
        let diff = serde_json::to_string(&e.diff).unwrap();
        serde_json::from_str::<serde_json::Value>(&diff)
            .unwrap_or_else(|err| panic!("{}: diff: {err}", e.event_type));
    }
    let document = json!({"ChatSessionId": 42, "CustomInfo": after.custom_info});
    check_document(&document, &Limits::default()).unwrap();
}
