//! Table-driven tests of the entities: PUT-replace versus PATCH-merge on a
//! customer, status transitions and aliases, and every validation rule.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use switchboard_domain::entity::{Revision, prepare_new, revise};
use switchboard_domain::json::{ApplyOptions, MAX_VALUE_DEPTH, Projection, parse_patch};
use switchboard_domain::resource::{apply_json_patch, apply_merge_patch};
use switchboard_domain::{
    Actor, AgentId, AttributeSet, Conversation, ConversationStatus, Customer, CustomerRules,
    CustomerUpdate, DEFAULT_TAG_COLOR, DomainError, Patch, Tag, TagCatalogue, TenantId, Timestamp,
    UpdateMode,
};

fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn customer() -> Customer {
    let mut c = Customer::new(TenantId::new(1), t(1_000));
    c.name = Some("Ada Lovelace".into());
    c.email = Some("ada@example.com".into());
    c.phone = Some("+47 12345678".into());
    c.company = Some("Analytical Engines".into());
    c.unsubscribed = true;
    c.tags = vec![Tag::new("vip")];
    c.custom_data = BTreeMap::from([
        ("plan".to_string(), json!("pro")),
        ("seats".to_string(), json!(5)),
    ]);
    c
}

fn attributes() -> AttributeSet {
    super::support::attributes(str::to_uppercase)
}

/// Applies `update` in `mode` and returns the fields the table compares.
fn check_update(update: CustomerUpdate, mode: UpdateMode, expected: Value) {
    let mut c = customer();
    update.apply(&mut c, mode);
    let got = json!({
        "name": c.name, "email": c.email, "phone": c.phone, "company": c.company,
        "unsubscribed": c.unsubscribed, "tags": c.tags.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
        "customData": c.custom_data,
    });
    assert_eq!(got, expected, "mode {mode:?}");
}

#[test]
fn put_replaces_and_patch_merges() {
    let only_email = || CustomerUpdate {
        email: Patch::Value("new@example.com".into()),
        ..CustomerUpdate::default()
    };
    let null_phone = || CustomerUpdate {
        phone: Patch::Null,
        ..CustomerUpdate::default()
    };
    let custom = || CustomerUpdate {
        custom_data: Patch::Value(BTreeMap::from([
            ("seats".to_string(), Value::Null),
            ("trial".to_string(), json!(true)),
        ])),
        ..CustomerUpdate::default()
    };
    let cases: Vec<(&str, CustomerUpdate, UpdateMode, Value)> = vec![
        (
            "merge keeps absent fields",
            only_email(),
            UpdateMode::Merge,
            json!({"name": "Ada Lovelace", "email": "new@example.com", "phone": "+47 12345678",
                   "company": "Analytical Engines", "unsubscribed": true, "tags": ["vip"],
                   "customData": {"plan": "pro", "seats": 5}}),
        ),
        (
            "replace nulls absent fields",
            only_email(),
            UpdateMode::Replace,
            json!({"name": null, "email": "new@example.com", "phone": null, "company": null,
                   "unsubscribed": false, "tags": [], "customData": {}}),
        ),
        (
            "merge null clears one field",
            null_phone(),
            UpdateMode::Merge,
            json!({"name": "Ada Lovelace", "email": "ada@example.com", "phone": null,
                   "company": "Analytical Engines", "unsubscribed": true, "tags": ["vip"],
                   "customData": {"plan": "pro", "seats": 5}}),
        ),
        (
            "merge customData per key, null removes",
            custom(),
            UpdateMode::Merge,
            json!({"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+47 12345678",
                   "company": "Analytical Engines", "unsubscribed": true, "tags": ["vip"],
                   "customData": {"plan": "pro", "trial": true}}),
        ),
        (
            "replace customData wholesale, nulls dropped",
            custom(),
            UpdateMode::Replace,
            json!({"name": null, "email": null, "phone": null, "company": null,
                   "unsubscribed": false, "tags": [], "customData": {"trial": true}}),
        ),
        (
            "empty merge changes nothing",
            CustomerUpdate::default(),
            UpdateMode::Merge,
            json!({"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+47 12345678",
                   "company": "Analytical Engines", "unsubscribed": true, "tags": ["vip"],
                   "customData": {"plan": "pro", "seats": 5}}),
        ),
    ];
    for (name, update, mode, expected) in cases {
        eprintln!("case: {name}");
        check_update(update, mode, expected);
    }
}

#[test]
fn status_aliases() {
    let cases = [
        ("new", Some(ConversationStatus::New)),
        ("opened", Some(ConversationStatus::Opened)),
        ("open", Some(ConversationStatus::Opened)),
        ("OPEN", Some(ConversationStatus::Opened)),
        ("pending", Some(ConversationStatus::Pending)),
        ("on hold", Some(ConversationStatus::OnHold)),
        ("on-hold", Some(ConversationStatus::OnHold)),
        ("on_hold", Some(ConversationStatus::OnHold)),
        (
            "no communication",
            Some(ConversationStatus::NoCommunication),
        ),
        (
            "no-communication",
            Some(ConversationStatus::NoCommunication),
        ),
        ("closed", Some(ConversationStatus::Closed)),
        ("", None),
        ("archived", None),
        ("on  hold", None),
    ];
    for (input, want) in cases {
        assert_eq!(input.parse::<ConversationStatus>().ok(), want, "{input:?}");
    }
    for s in ConversationStatus::ALL {
        assert_eq!(s.as_str().parse::<ConversationStatus>().unwrap(), s);
        assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
    }
}

#[test]
fn status_transitions() {
    let agent = Actor::Agent(AgentId::new(7));
    // (from, to, changed, closed_at set, closed_by set, started_at set)
    let cases = [
        (
            ConversationStatus::New,
            ConversationStatus::Opened,
            true,
            false,
            false,
            true,
        ),
        (
            ConversationStatus::New,
            ConversationStatus::Closed,
            true,
            true,
            true,
            false,
        ),
        (
            ConversationStatus::Opened,
            ConversationStatus::Pending,
            true,
            false,
            false,
            true,
        ),
        (
            ConversationStatus::Pending,
            ConversationStatus::OnHold,
            true,
            false,
            false,
            false,
        ),
        (
            ConversationStatus::OnHold,
            ConversationStatus::NoCommunication,
            true,
            false,
            false,
            false,
        ),
        (
            ConversationStatus::Closed,
            ConversationStatus::Closed,
            false,
            true,
            true,
            false,
        ),
        (
            ConversationStatus::Closed,
            ConversationStatus::Opened,
            true,
            false,
            false,
            true,
        ),
        (
            ConversationStatus::Closed,
            ConversationStatus::New,
            true,
            false,
            false,
            false,
        ),
    ];
    for (from, to, changed, closed_at, closed_by, started) in cases {
        let mut c = Conversation::new(TenantId::new(1), "s", t(0));
        c.set_status(from, Actor::System, t(10));
        let started_before = c.started_at.is_some();
        assert_eq!(c.set_status(to, agent, t(20)), changed, "{from} -> {to}");
        assert_eq!(c.status, to);
        assert_eq!(c.closed_at.is_some(), closed_at, "{from} -> {to} closedAt");
        assert_eq!(c.closed_by.is_some(), closed_by, "{from} -> {to} closedBy");
        assert_eq!(
            c.started_at.is_some(),
            started || started_before,
            "{from} -> {to} startedAt"
        );
        if to.is_closed() && from != to {
            assert_eq!(c.closed_at, Some(t(20)));
            assert_eq!(c.closed_by, Some(agent));
        }
        assert!(c.validate().is_ok(), "{from} -> {to} stays valid");
    }
}

/// `endedAt` is the latest close: close, reopen and close again shows the
/// second close (SuperOffice's `WhenEnded`, SalesIQ's `end_time`), through
/// `set_status` and through a raw document edit (`normalize_closure`).
#[test]
fn ended_at_moves_on_every_close() {
    let mut c = Conversation::new(TenantId::new(1), "s", t(0));
    c.set_status(ConversationStatus::Closed, Actor::System, t(10));
    assert_eq!(c.ended_at, Some(t(10)));
    c.set_status(ConversationStatus::Opened, Actor::System, t(20));
    c.set_status(ConversationStatus::Closed, Actor::System, t(30));
    assert_eq!(c.ended_at, Some(t(30)), "the second close");
    // closing a closed conversation changes nothing
    c.set_status(ConversationStatus::Closed, Actor::System, t(40));
    assert_eq!(c.ended_at, Some(t(30)));

    // a raw edit that reopens, then one that closes
    c.status = ConversationStatus::Opened;
    c.normalize_closure(Actor::System, t(50));
    c.status = ConversationStatus::Closed;
    c.normalize_closure(Actor::System, t(60));
    assert_eq!(c.ended_at, Some(t(60)), "closed by a raw edit");
    // a raw edit of a closed conversation that keeps it closed leaves it
    c.normalize_closure(Actor::System, t(70));
    assert_eq!(c.ended_at, Some(t(60)));
}

/// Every customer rule, valid and invalid, with the reported path and code.
#[test]
fn customer_validation_rules() {
    type Edit = fn(&mut Customer);
    type Case = (&'static str, Edit, Option<(&'static str, &'static str)>);
    let cases: Vec<Case> = vec![
        ("baseline", |_| {}, None),
        (
            "bad email",
            |c| c.email = Some("ada@".into()),
            Some(("/email", "email")),
        ),
        ("good locale", |c| c.locale = Some("nb".into()), None),
        (
            "bad locale",
            |c| c.locale = Some("xx".into()),
            Some(("/locale", "locale")),
        ),
        (
            "good url",
            |c| c.last_page = Some("https://example.com/pricing".into()),
            None,
        ),
        (
            "bad url",
            |c| c.referer = Some("not a url".into()),
            Some(("/referer", "url")),
        ),
        (
            "tag color",
            |c| c.tags = vec![Tag::colored("x", "red")],
            None,
        ),
        (
            "bad tag color",
            |c| c.tags = vec![Tag::colored("x", "#12")],
            Some(("/tags/0/color", "color")),
        ),
        (
            "empty tag",
            |c| c.tags = vec![Tag::new(" ")],
            Some(("/tags/0/name", "required")),
        ),
        (
            "long name",
            |c| c.name = Some("x".repeat(256)),
            Some(("/name", "length")),
        ),
        (
            "empty userId",
            |c| c.user_id = Some(String::new()),
            Some(("/userId", "required")),
        ),
        (
            "undefined property",
            |c| {
                c.custom_data.insert("color".into(), json!("red"));
            },
            Some(("/customData/color", "unknown_property")),
        ),
        (
            "number as string",
            |c| {
                c.custom_data.insert("seats".into(), json!("12.5"));
            },
            None,
        ),
        (
            "number wrong type",
            |c| {
                c.custom_data.insert("seats".into(), json!("twelve"));
            },
            Some(("/customData/seats", "type")),
        ),
        (
            "boolean",
            |c| {
                c.custom_data.insert("trial".into(), json!(false));
            },
            None,
        ),
        (
            "boolean wrong",
            |c| {
                c.custom_data.insert("trial".into(), json!("yes"));
            },
            Some(("/customData/trial", "type")),
        ),
        (
            "date as unix string",
            |c| {
                c.custom_data.insert("renewal".into(), json!("1700000000"));
            },
            None,
        ),
        (
            "date wrong",
            |c| {
                c.custom_data.insert("renewal".into(), json!("next week"));
            },
            Some(("/customData/renewal", "type")),
        ),
        (
            "url attribute wrong",
            |c| {
                c.custom_data.insert("homepage".into(), json!("example"));
            },
            Some(("/customData/homepage", "type")),
        ),
        (
            "NUL in a custom value",
            |c| {
                c.custom_data.insert("plan".into(), json!("a\u{0}b"));
            },
            Some(("/customData/plan", "nul")),
        ),
        (
            "timestamp out of range",
            |c| c.last_seen = Some(Timestamp::from_millis(-1)),
            Some(("/lastSeen", "timestamp")),
        ),
    ];
    let attrs = attributes();
    for (name, edit, want) in cases {
        let mut c = customer();
        edit(&mut c);
        let got = c.validate(&attrs).err().map(|e| {
            let v = &e.violations()[0];
            (v.path.clone(), v.code)
        });
        assert_eq!(
            got.as_ref().map(|(p, c)| (p.as_str(), *c)),
            want,
            "case {name}"
        );
    }
}

/// Tags belong to the tenant: a tag named without a color takes the
/// catalogue's color for its name, or the default when the name is new; a
/// color sent is kept; a tag the customer already has keeps its own.
#[test]
fn tags_named_without_a_color_take_the_tenants_color() {
    let rules = CustomerRules {
        attributes: attributes(),
        tags: TagCatalogue::from([("vip".to_string(), "#ff0000".to_string())]),
    };
    let color = |c: &Customer, name: &str| {
        c.tags
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.color.clone())
    };
    let mut draft = Customer::new(TenantId::new(1), t(0));
    draft.add_tags([
        Tag::named("vip"),
        Tag::named("new"),
        Tag::colored("sent", "#00ff00"),
    ]);
    assert_eq!(
        draft
            .uncolored_tags(&TagCatalogue::new())
            .collect::<Vec<_>>(),
        ["vip", "new"]
    );
    assert_eq!(
        draft.uncolored_tags(&rules.tags).collect::<Vec<_>>(),
        ["new"]
    );
    let created = prepare_new(draft, &rules, TenantId::new(1), Actor::System, t(0)).unwrap();
    assert_eq!(color(&created, "vip").as_deref(), Some("#ff0000"));
    assert_eq!(color(&created, "new").as_deref(), Some(DEFAULT_TAG_COLOR));
    assert_eq!(color(&created, "sent").as_deref(), Some("#00ff00"));

    // Named again without a color, a tag the customer has keeps its color
    // (even one the catalogue has another color for); a color sent wins.
    let mut before = created;
    before.version = 1;
    let revision = revise(
        before,
        &rules,
        Actor::System,
        "acme",
        t(1),
        |c: &mut Customer| {
            c.add_tags([
                Tag::named("sent"),
                Tag::colored("vip", "blue"),
                Tag::named("other"),
            ]);
            Ok::<(), ()>(())
        },
    )
    .unwrap();
    let Revision::Changed(changed) = revision else {
        panic!("tags changed")
    };
    assert_eq!(color(&changed.after, "sent").as_deref(), Some("#00ff00"));
    assert_eq!(color(&changed.after, "vip").as_deref(), Some("blue"));
    assert_eq!(
        color(&changed.after, "other").as_deref(),
        Some(DEFAULT_TAG_COLOR)
    );
    assert!(changed.after.tags.iter().all(|t| !t.needs_color()));

    // A whole tag list (PUT or PATCH) keeps the customer's own colors too.
    let mut c = changed.after;
    CustomerUpdate {
        tags: Patch::Value(vec![
            Tag::named("other"),
            Tag::named("vip"),
            Tag::named("x"),
        ]),
        ..Default::default()
    }
    .apply(&mut c, UpdateMode::Merge);
    c.color_tags(&rules.tags);
    let colors: Vec<(&str, &str)> = c
        .tags
        .iter()
        .map(|t| (t.name.as_str(), t.color.as_str()))
        .collect();
    assert_eq!(
        colors,
        [
            ("other", DEFAULT_TAG_COLOR),
            ("vip", "blue"),
            ("x", DEFAULT_TAG_COLOR)
        ]
    );
}

#[test]
fn every_violation_is_reported_at_once() {
    let mut c = customer();
    c.email = Some("bad".into());
    c.locale = Some("zz".into());
    c.custom_data.insert("nope".into(), json!(1));
    let err = c.validate(&attributes()).unwrap_err();
    let paths: Vec<&str> = err.violations().iter().map(|v| v.path.as_str()).collect();
    assert_eq!(paths, ["/email", "/locale", "/customData/nope"]);
}

#[test]
fn conversation_validation_rules() {
    type Edit = fn(&mut Conversation);
    let cases: Vec<(&str, Edit, Option<&str>)> = vec![
        ("baseline", |_| {}, None),
        (
            "bad visitor email",
            |c| c.visitor.email = Some("x@".into()),
            Some("/visitor/email"),
        ),
        ("rating high", |c| c.rating = Some(6), Some("/rating")),
        ("rating ok", |c| c.rating = Some(5), None),
        ("alert level", |c| c.alert_level = 4, Some("/alertLevel")),
        (
            "session key charset",
            |c| c.session_key = "a b".into(),
            Some("/sessionKey"),
        ),
        (
            "session key empty",
            |c| c.session_key = String::new(),
            Some("/sessionKey"),
        ),
        (
            "closed without closedAt",
            |c| c.status = ConversationStatus::Closed,
            Some("/closedAt"),
        ),
        (
            "custom info too big",
            |c| {
                c.custom_info.insert("k".into(), json!("x".repeat(5000)));
            },
            Some("/customInfo/k"),
        ),
        (
            "custom info nested too deep",
            |c| {
                let deep = (0..=MAX_VALUE_DEPTH).fold(json!(1), |v, _| json!([v]));
                c.custom_info.insert("k".into(), deep);
            },
            Some("/customInfo/k"),
        ),
        (
            "custom info of 256 objects and arrays, over four values",
            |c| {
                for key in ["a", "b", "c", "d"] {
                    let small: Vec<Value> = (0..63).map(|i| json!({"k": i})).collect();
                    c.custom_info.insert(key.into(), Value::Array(small));
                }
            },
            None,
        ),
        (
            "custom info of 257 objects and arrays, each value within its bounds",
            |c| {
                for key in ["a", "b", "c", "d"] {
                    let small: Vec<Value> = (0..63).map(|i| json!({"k": i})).collect();
                    c.custom_info.insert(key.into(), Value::Array(small));
                }
                c.custom_info.insert("e".into(), json!({}));
            },
            Some("/customInfo"),
        ),
        (
            "custom info key too long",
            |c| {
                c.custom_info.insert("k".repeat(101), json!(1));
            },
            Some(&*Box::leak(
                format!("/customInfo/{}", "k".repeat(101)).into_boxed_str(),
            )),
        ),
    ];
    for (name, edit, want) in cases {
        let mut c = Conversation::new(TenantId::new(1), "s-1", t(0));
        edit(&mut c);
        let got = c.validate().err().map(|e| e.violations()[0].path.clone());
        assert_eq!(got.as_deref(), want, "case {name}");
    }
}

#[test]
fn json_patch_on_entities_refuses_read_only_and_reports_shape() {
    let c = Conversation::new(TenantId::new(1), "s-1", t(0));
    let opts = ApplyOptions::default();
    let cases: Vec<(Value, &str)> = vec![
        (json!([{"op": "replace", "path": "/id", "value": 5}]), "/id"),
        (
            json!([{"op": "replace", "path": "/version", "value": 5}]),
            "/version",
        ),
        (
            json!([{"op": "remove", "path": "/createdAt"}]),
            "/createdAt",
        ),
    ];
    for (patch, field) in cases {
        let ops = parse_patch(&patch, &Default::default()).unwrap();
        match apply_json_patch(&c, &ops, &opts) {
            Err(DomainError::ReadOnly { field: f }) => assert_eq!(f, field),
            other => panic!("{patch}: {other:?}"),
        }
    }
    let ops = parse_patch(
        &json!([{"op": "replace", "path": "/rating", "value": "great"}]),
        &Default::default(),
    )
    .unwrap();
    match apply_json_patch(&c, &ops, &opts) {
        Err(DomainError::Shape { path, .. }) => assert_eq!(path, "/rating"),
        other => panic!("{other:?}"),
    }
    let ops = parse_patch(
        &json!([{"op": "add", "path": "/bogus", "value": 1}]),
        &Default::default(),
    )
    .unwrap();
    assert!(matches!(
        apply_json_patch(&c, &ops, &opts),
        Err(DomainError::Shape { .. })
    ));
    let ops = parse_patch(
        &json!([{"op": "test", "path": "/status", "value": "closed"}]),
        &Default::default(),
    )
    .unwrap();
    match apply_json_patch(&c, &ops, &opts) {
        Err(DomainError::Patch(e)) => assert!(e.is_test_failure()),
        other => panic!("{other:?}"),
    }
    let merged = apply_merge_patch(
        &c,
        &json!({"visitor": {"email": "a@example.com"}, "customInfo": {"x": 1}}),
    )
    .unwrap();
    assert_eq!(merged.visitor.email.as_deref(), Some("a@example.com"));
    assert_eq!(merged.custom_info["x"], json!(1));
}

#[test]
fn projection_of_a_conversation_keeps_shape() {
    let mut c = Conversation::new(TenantId::new(1), "s-1", t(0));
    c.visitor.email = Some("a@example.com".into());
    let doc = serde_json::to_value(&c).unwrap();
    let p = Projection::parse("Status, visitor/EMAIL").unwrap();
    let out = p.apply(&doc);
    assert_eq!(out["status"], json!("new"));
    assert_eq!(out["visitor"]["email"], json!("a@example.com"));
    assert_eq!(out["visitor"]["name"], Value::Null);
    assert_eq!(out["sessionKey"], Value::Null);
    assert_eq!(
        out.as_object().unwrap().len(),
        doc.as_object().unwrap().len()
    );
}

/// `Conversation::contact`, member by member: `(visitor's, customer's,
/// linked, shown)`. The visitor's own details win; the linked customer's
/// fill only what the visitor left out (blank counts as out); a customer
/// the conversation does not link to is never used.
#[test]
fn contact_prefers_the_visitor_and_falls_back_to_the_linked_customer() {
    use switchboard_domain::{CustomerId, Location};
    let now = Timestamp::from_millis(0);
    // (the visitor's, the customer's, linked, what shows)
    type Case<'a> = (Option<&'a str>, Option<&'a str>, bool, Option<&'a str>);
    let cases: &[Case<'_>] = &[
        (
            Some("vis@example.com"),
            Some("cus@example.com"),
            true,
            Some("vis@example.com"),
        ),
        (None, Some("cus@example.com"), true, Some("cus@example.com")),
        (
            Some("  "),
            Some("cus@example.com"),
            true,
            Some("cus@example.com"),
        ),
        (Some("vis@example.com"), None, true, Some("vis@example.com")),
        (None, Some("cus@example.com"), false, None),
        (None, None, true, None),
    ];
    for &(visitor, customer, linked, shown) in cases {
        let mut x = Customer::new(TenantId::new(1), now);
        x.id = CustomerId::new(3);
        for field in [&mut x.name, &mut x.email, &mut x.phone, &mut x.company] {
            *field = customer.map(str::to_owned);
        }
        x.location = Some(Location {
            country_code: customer.map(str::to_owned),
            ..Location::default()
        });
        let mut c = Conversation::new(TenantId::new(1), "s-1", now);
        if linked {
            c.customer_id = Some(x.id);
        }
        let v = &mut c.visitor;
        for field in [
            &mut v.name,
            &mut v.email,
            &mut v.phone,
            &mut v.company,
            &mut v.country,
        ] {
            *field = visitor.map(str::to_owned);
        }
        let who = c.contact(Some(&x));
        let case = format!("visitor {visitor:?}, customer {customer:?}, linked {linked}");
        for (member, got) in [
            ("name", who.name),
            ("email", who.email),
            ("phone", who.phone),
            ("company", who.company),
            ("country", who.country),
        ] {
            assert_eq!(got, shown, "{member}: {case}");
        }
        assert_eq!(who.customer_id, linked.then_some(x.id), "{case}");
        assert_eq!(who.is_empty(), shown.is_none() && !linked, "{case}");
    }
    // A loaded customer that is not the linked one is ignored.
    let mut other = Customer::new(TenantId::new(1), now);
    other.id = CustomerId::new(4);
    other.name = Some("Other".into());
    let mut c = Conversation::new(TenantId::new(1), "s-2", now);
    c.customer_id = Some(CustomerId::new(3));
    assert_eq!(c.contact(Some(&other)).name, None);
    assert_eq!(c.contact(None).customer_id, Some(CustomerId::new(3)));
}
