//! Table-driven tests of the conversation operations every dialect shares:
//! `ConversationUpdate` in both modes, assigning, starting a chat for a
//! customer, customer messages, the custom info rules, and `revise`.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use switchboard_domain::entity::{Refusal, Revision, prepare_new, revise};
use switchboard_domain::json::MAX_VALUE_DEPTH;
use switchboard_domain::{
    Actor, AgentId, Conversation, ConversationRules, ConversationStatus, ConversationUpdate,
    Customer, CustomerId, DepartmentId, DomainError, EventType, Patch, TenantId, Timestamp,
    UpdateMode, VisitorUpdate,
};

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

/// `depth` arrays around a number: `[[1]]` for 2.
fn nested(depth: usize) -> Value {
    (0..depth).fold(json!(1), |v, _| Value::Array(vec![v]))
}

/// An array of `n` one-member objects: `n + 1` containers in about `8 n`
/// bytes.
fn objects(n: usize) -> Value {
    Value::Array((0..n).map(|i| json!({"k": i % 10})).collect())
}

/// A conversation with something in most members.
fn conversation() -> Conversation {
    let mut c = Conversation::new(TenantId::new(1), "s-1", t(1_000));
    c.visitor.name = Some("Vera".into());
    c.visitor.email = Some("vera@example.com".into());
    c.visitor.country = Some("NO".into());
    c.visitor.consented = true;
    c.assignee_id = Some(AgentId::new(3));
    c.agent_ids = vec![AgentId::new(3)];
    c.department_id = Some(DepartmentId::new(2));
    c.rank = 4;
    c.chatbot_active = true;
    c.custom_info = BTreeMap::from([("plan".into(), json!("gold")), ("seats".into(), json!(3))]);
    c.version = 1;
    c
}

/// The members the table compares.
fn summary(c: &Conversation) -> Value {
    json!({
        "sessionKey": c.session_key, "status": c.status.as_str(),
        "name": c.visitor.name, "email": c.visitor.email, "country": c.visitor.country,
        "consented": c.visitor.consented, "assignee": c.assignee_id.map(AgentId::get),
        "agents": c.agent_ids.iter().map(|a| a.get()).collect::<Vec<_>>(),
        "department": c.department_id.map(DepartmentId::get), "rank": c.rank,
        "chatbot": c.chatbot_active, "customInfo": c.custom_info,
        "closedAt": c.closed_at.map(Timestamp::as_millis),
    })
}

#[test]
fn merge_keeps_absent_members_and_replace_clears_them() {
    let before = summary(&conversation());
    let merged = |patch: Value| -> Value {
        let mut want = before.clone();
        for (k, v) in patch.as_object().unwrap() {
            want[k] = v.clone();
        }
        want
    };
    let cases: Vec<(&str, ConversationUpdate, UpdateMode, Value)> = vec![
        (
            "an empty merge changes nothing",
            ConversationUpdate::default(),
            UpdateMode::Merge,
            before.clone(),
        ),
        (
            "merge sets one visitor member, null clears one",
            ConversationUpdate {
                visitor: VisitorUpdate {
                    email: Patch::Value("new@example.com".into()),
                    country: Patch::Null,
                    ..VisitorUpdate::default()
                },
                ..ConversationUpdate::default()
            },
            UpdateMode::Merge,
            merged(json!({"email": "new@example.com", "country": null})),
        ),
        (
            "null on a member that is never null sets its default",
            ConversationUpdate {
                rank: Patch::Null,
                chatbot_active: Patch::Null,
                visitor: VisitorUpdate {
                    consented: Patch::Null,
                    ..VisitorUpdate::default()
                },
                ..ConversationUpdate::default()
            },
            UpdateMode::Merge,
            merged(json!({"rank": 0, "chatbot": false, "consented": false})),
        ),
        (
            "replace clears every absent member but the required ones",
            ConversationUpdate {
                visitor: VisitorUpdate {
                    name: Patch::Value("Vera V.".into()),
                    ..VisitorUpdate::default()
                },
                ..ConversationUpdate::default()
            },
            UpdateMode::Replace,
            json!({
                "sessionKey": "s-1", "status": "new", "name": "Vera V.", "email": null,
                "country": null, "consented": false, "assignee": null, "agents": [3],
                "department": null, "rank": 0, "chatbot": false, "customInfo": {},
                "closedAt": null,
            }),
        ),
        (
            "null and absent keep the required members",
            ConversationUpdate {
                session_key: Patch::Null,
                status: Patch::Null,
                ..ConversationUpdate::default()
            },
            UpdateMode::Replace,
            json!({
                "sessionKey": "s-1", "status": "new", "name": null, "email": null,
                "country": null, "consented": false, "assignee": null, "agents": [3],
                "department": null, "rank": 0, "chatbot": false, "customInfo": {},
                "closedAt": null,
            }),
        ),
        (
            "custom info changes merge key by key; null removes",
            ConversationUpdate {
                custom_info_changes: BTreeMap::from([
                    ("seats".into(), Value::Null),
                    ("trial".into(), json!(true)),
                ]),
                ..ConversationUpdate::default()
            },
            UpdateMode::Merge,
            merged(json!({"customInfo": {"plan": "gold", "trial": true}})),
        ),
        (
            "the whole custom info map is replaced exactly, nulls kept",
            ConversationUpdate {
                custom_info: Patch::Value(BTreeMap::from([("a".into(), Value::Null)])),
                ..ConversationUpdate::default()
            },
            UpdateMode::Merge,
            merged(json!({"customInfo": {"a": null}})),
        ),
        (
            "the whole map first, then the changes",
            ConversationUpdate {
                custom_info: Patch::Null,
                custom_info_changes: BTreeMap::from([("b".into(), json!(2))]),
                ..ConversationUpdate::default()
            },
            UpdateMode::Merge,
            merged(json!({"customInfo": {"b": 2}})),
        ),
        (
            "an assignee takes part; unassigning keeps the participants",
            ConversationUpdate {
                assignee_id: Patch::Value(AgentId::new(5)),
                ..ConversationUpdate::default()
            },
            UpdateMode::Merge,
            merged(json!({"assignee": 5, "agents": [3, 5]})),
        ),
        (
            "unassigning",
            ConversationUpdate {
                assignee_id: Patch::Null,
                ..ConversationUpdate::default()
            },
            UpdateMode::Merge,
            merged(json!({"assignee": null})),
        ),
        (
            "a status is applied last, with the closure members",
            ConversationUpdate {
                status: Patch::Value(ConversationStatus::Closed),
                ..ConversationUpdate::default()
            },
            UpdateMode::Merge,
            merged(json!({"status": "closed", "closedAt": 9_000})),
        ),
    ];
    for (name, update, mode, expected) in cases {
        let mut c = conversation();
        update.apply(&mut c, mode, Actor::System, t(9_000));
        assert_eq!(summary(&c), expected, "{name}");
    }
}

#[test]
fn custom_info_changes_are_checked_before_they_are_applied() {
    let long = "k".repeat(101);
    let many: BTreeMap<String, Value> = (0..101).map(|i| (format!("k{i}"), json!(i))).collect();
    // (case, entries, expected violations as (path, code))
    type Case<'a> = (&'a str, BTreeMap<String, Value>, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case<'_>> = vec![
        (
            "one entry",
            BTreeMap::from([("a".into(), json!(1))]),
            vec![],
        ),
        (
            "null removes and is fine",
            BTreeMap::from([("a".into(), Value::Null)]),
            vec![],
        ),
        (
            "an empty key",
            BTreeMap::from([(" ".into(), json!(1))]),
            vec![("/customInfo/ ", "length")],
        ),
        (
            "a key too long",
            BTreeMap::from([(long.clone(), json!(1))]),
            vec![("long", "length")],
        ),
        (
            "a value too large",
            BTreeMap::from([("big".into(), json!("x".repeat(5000)))]),
            vec![("/customInfo/big", "size")],
        ),
        ("too many keys", many, vec![("/customInfo", "length")]),
        (
            "a value at the depth limit",
            BTreeMap::from([("deep".into(), nested(MAX_VALUE_DEPTH))]),
            vec![],
        ),
        (
            "a value one level deeper than the limit",
            BTreeMap::from([("deep".into(), nested(MAX_VALUE_DEPTH + 1))]),
            vec![("/customInfo/deep", "depth")],
        ),
        (
            "a value nested 125 deep (a 300-byte request)",
            BTreeMap::from([("deep".into(), nested(125))]),
            vec![("/customInfo/deep", "depth")],
        ),
        (
            "256 objects and arrays over two values",
            BTreeMap::from([("a".into(), objects(127)), ("b".into(), objects(127))]),
            vec![],
        ),
        (
            "257 objects and arrays over two values",
            BTreeMap::from([("a".into(), objects(128)), ("b".into(), objects(127))]),
            vec![("/customInfo", "containers")],
        ),
    ];
    for (name, entries, want) in cases {
        let update = ConversationUpdate {
            custom_info_changes: entries,
            ..ConversationUpdate::default()
        };
        let got: Vec<(String, &str)> = match update.validate() {
            Ok(()) => Vec::new(),
            Err(e) => e
                .violations()
                .iter()
                .map(|v| (v.path.clone(), v.code))
                .collect(),
        };
        assert_eq!(got.len(), want.len(), "{name}: {got:?}");
        for ((path, code), (want_path, want_code)) in got.iter().zip(&want) {
            if *want_path == "long" {
                assert_eq!(path, &format!("/customInfo/{long}"), "{name}");
            } else {
                assert_eq!(path, want_path, "{name}");
            }
            assert_eq!(code, want_code, "{name}");
        }
    }
}

#[test]
fn a_chat_for_a_customer_takes_their_details_and_first_message() {
    let mut customer = Customer::new(TenantId::new(1), t(0));
    customer.id = CustomerId::new(7);
    customer.name = Some("Ada".into());
    customer.email = Some("ada@example.com".into());
    customer.phone = Some("+47 1".into());
    customer.company = Some("Engines".into());
    let mut c = Conversation::for_customer(&customer, "hc-1", t(50));
    assert_eq!(c.customer_id, Some(customer.id));
    assert_eq!(
        (
            c.visitor.name.as_deref(),
            c.visitor.email.as_deref(),
            c.visitor.phone.as_deref(),
            c.visitor.company.as_deref()
        ),
        (
            Some("Ada"),
            Some("ada@example.com"),
            Some("+47 1"),
            Some("Engines")
        )
    );
    assert_eq!(
        (c.tenant_id, c.requested_at),
        (customer.tenant_id, Some(t(50)))
    );
    c.customer_message("Hi", t(60));
    c.customer_message("Still there?", t(70));
    assert_eq!(c.first_message.as_deref(), Some("Hi"));
    assert_eq!(c.last_message.as_deref(), Some("Still there?"));
    assert_eq!(
        (c.last_message_at, c.last_customer_message_at),
        (Some(t(70)), Some(t(70)))
    );
}

/// `revise` of `before` by the system, for tenant `acme`, under the default rules.
fn revise_by_system<X>(
    before: Conversation,
    now: Timestamp,
    change: impl FnOnce(&mut Conversation) -> Result<(), X>,
) -> Result<Revision<Conversation>, Refusal<X>> {
    revise(
        before,
        &ConversationRules::default(),
        Actor::System,
        "acme",
        now,
        change,
    )
}

#[test]
fn revise_keeps_identity_checks_rules_and_derives_events() {
    let before = conversation();

    // The change tries to touch identity members: they are kept.
    let revision = revise_by_system(before.clone(), t(5_000), |c| {
        c.id = switchboard_domain::ConversationId::new(99);
        c.version = 42;
        c.visitor.email = Some("other@example.com".into());
        Ok::<(), ()>(())
    })
    .unwrap();
    let Revision::Changed(changed) = revision else {
        panic!("the email changed")
    };
    assert_eq!(
        (
            changed.after.id,
            changed.after.version,
            changed.after.updated_at
        ),
        (before.id, 2, t(5_000))
    );
    let types: Vec<EventType> = changed.events.iter().map(|e| e.event_type).collect();
    assert!(types.contains(&EventType::EmailUpdated), "{types:?}");

    // A clock behind the last write does not move time backwards.
    let mut late = before.clone();
    late.updated_at = t(8_000);
    let Ok(Revision::Changed(changed)) = revise_by_system(late, t(5_000), |c| {
        c.rank = 9;
        Ok::<(), ()>(())
    }) else {
        panic!("the rank changed")
    };
    assert_eq!(changed.at, t(8_000));

    // Derived members settle: closing by hand gets its closure members.
    let Ok(Revision::Changed(changed)) = revise_by_system(before.clone(), t(6_000), |c| {
        c.status = ConversationStatus::Closed;
        Ok::<(), ()>(())
    }) else {
        panic!("the status changed")
    };
    assert_eq!(changed.after.closed_at, Some(t(6_000)));
    assert_eq!(changed.after.closed_by, Some(Actor::System));

    // The caller's own refusal, and a broken rule.
    let refused = revise_by_system(before.clone(), t(6_000), |_| Err("no"));
    assert_eq!(refused, Err(Refusal::Rejected("no")));
    let invalid = revise_by_system(before.clone(), t(6_000), |c| {
        c.rating = Some(9);
        Ok::<(), ()>(())
    });
    assert!(
        matches!(&invalid, Err(Refusal::Invalid(DomainError::Validation(v))) if v.violations()[0].path == "/rating"),
        "{invalid:?}"
    );

    // Nothing changed: no revision.
    assert!(matches!(
        revise_by_system(before.clone(), t(6_000), |_| Ok::<(), ()>(())),
        Ok(Revision::Unchanged(c)) if c == before
    ));
}

#[test]
fn a_new_entity_is_version_one_of_its_tenant() {
    let mut draft = Conversation::new(TenantId::new(9), "s-9", t(0));
    draft.status = ConversationStatus::Closed;
    let created = prepare_new(
        draft,
        &ConversationRules::default(),
        TenantId::new(2),
        Actor::System,
        t(700),
    )
    .unwrap();
    assert_eq!(
        (
            created.tenant_id,
            created.version,
            created.created_at,
            created.updated_at
        ),
        (TenantId::new(2), 1, t(700), t(700))
    );
    assert_eq!(created.closed_at, Some(t(700)), "settled before the check");
    let mut bad = Conversation::new(TenantId::new(2), "bad key", t(0));
    bad.rating = Some(0);
    assert!(matches!(
        prepare_new(bad, &ConversationRules::default(), TenantId::new(2), Actor::System, t(0)),
        Err(DomainError::Validation(v)) if v.violations().len() == 2
    ));
}
