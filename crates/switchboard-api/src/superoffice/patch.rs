//! A JSON Patch applied to a chat session as its entity.
//!
//! A patch applies to the `ChatSessionEntity` as GET shows it, links
//! included ([`convert::entity`]), and the patched entity is read back
//! into the conversation ([`convert::document_update`]). A patch whose
//! every operation stays inside members it names (the usual
//! `test`/`replace` of a few members) is applied to those members alone:
//! the rest of the entity is neither built nor read back, as it would come
//! back as it was. Both ways give the same result; the unit tests check it
//! on random conversations and patches. One bound differs, in its wording
//! only: the patch's document-size limit ([`Limits`]) measures the part
//! patched, so a value too large for the whole entity but not for that
//! part is refused by the entity's own limits instead (also a `400`).

use serde_json::Value;
use switchboard_domain::json::{self, ApplyOptions, Limits, Operation, PathMode, parse_pointer};
use switchboard_domain::{Actor, Conversation, ConversationLinks, Timestamp, UpdateMode};

use super::convert::{self, FREE_FORM, MEMBERS, Wanted};
use super::time::Zone;
use crate::ApiError;

/// How patch paths resolve against the entity: names in any letter case,
/// but keys inside free-form members exactly.
pub const MODE: PathMode = PathMode::LenientOutside(FREE_FORM);

/// The options patches of a chat session apply with.
#[must_use]
pub fn options() -> ApplyOptions {
    ApplyOptions {
        mode: MODE,
        allow_move_copy: false,
        limits: Limits::default(),
    }
}

/// Where the entity a patch applies to comes from, and for whom.
#[derive(Debug)]
pub struct Target<'a> {
    /// The rows the conversation links to, as GET shows them.
    pub links: Option<&'a ConversationLinks>,
    /// The time zone of the entity's times.
    pub zone: &'a Zone,
    /// The base of the entity's `_Links`.
    pub base: &'a str,
    /// Who writes.
    pub actor: Actor,
    /// When.
    pub now: Timestamp,
}

/// The members of the entity `ops` name (spelled as in [`MEMBERS`]), when
/// the patch can be applied to them alone: each operation is an `add`,
/// `replace` or `test` of a member or of something inside one, or a
/// `remove` inside one (removing a member itself means something else
/// for a whole entity: see [`convert::document_update`]). `None` for any
/// other patch, which then applies to the whole entity.
#[must_use]
pub fn named_members(ops: &[Operation]) -> Option<Vec<&'static str>> {
    let mut names: Vec<&'static str> = Vec::with_capacity(ops.len());
    for op in ops {
        let tokens = parse_pointer(op.path(), MODE).ok()?;
        let first = tokens.first()?;
        let name = *MEMBERS.iter().find(|m| m.eq_ignore_ascii_case(first))?;
        match op {
            Operation::Add { .. } | Operation::Replace { .. } | Operation::Test { .. } => {}
            Operation::Remove { .. } if tokens.len() > 1 => {}
            _ => return None,
        }
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Some(names)
}

/// Applies `ops` to `c`'s entity and reads the result back into `c`.
///
/// # Errors
///
/// A failed `test` is a conflict; any other failure of the patch, or a
/// result the entity cannot take, is a bad request naming the path.
pub fn apply(c: &mut Conversation, ops: &[Operation], to: &Target<'_>) -> Result<(), ApiError> {
    let Some(names) = named_members(ops) else {
        let current = convert::entity(c, to.links, to.zone, to.base);
        return apply_whole(c, &current, ops, to);
    };
    let current = convert::entity_members(c, to.links, to.zone, to.base, &Wanted::Some(names));
    let mut doc = current.clone();
    patch(&mut doc, ops)?;
    convert::members_update(&doc, &current, to.zone)?.apply(c, UpdateMode::Merge, to.actor, to.now);
    Ok(())
}

/// Applies `ops` to `current`, `c`'s whole entity as [`convert::entity`]
/// made it (a merge patch's operations come from it), and reads the
/// result back into `c`.
///
/// # Errors
///
/// As [`apply`].
pub fn apply_whole(
    c: &mut Conversation,
    current: &Value,
    ops: &[Operation],
    to: &Target<'_>,
) -> Result<(), ApiError> {
    let mut doc = current.clone();
    patch(&mut doc, ops)?;
    convert::apply_document(&doc, current, to.zone, c, to.actor, to.now)
}

/// Applies `ops` to `doc`, with a dialect error when it fails.
///
/// # Errors
///
/// As [`apply`].
pub fn patch(doc: &mut Value, ops: &[Operation]) -> Result<(), ApiError> {
    json::apply(doc, ops, &options()).map_err(|e| {
        if e.is_test_failure() {
            ApiError::Conflict(format!("test failed: {e}"))
        } else {
            ApiError::bad_request(
                e.path().unwrap_or("/").to_string(),
                "invalid_patch",
                e.to_string(),
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use switchboard_domain::{
        Agent, AgentId, ConversationId, ConversationStatus, CustomerId, TenantId,
    };

    use super::*;

    /// [`apply`] as it was before a patch could apply to a part: always to
    /// the whole entity.
    fn whole(c: &mut Conversation, ops: &[Operation], to: &Target<'_>) -> Result<(), ApiError> {
        let current = convert::entity(c, to.links, to.zone, to.base);
        apply_whole(c, &current, ops, to)
    }

    #[test]
    fn which_patches_apply_to_the_members_they_name() {
        let ops = |v: Value| json::parse_patch(&v, &Limits::default()).unwrap();
        let names = |v| named_members(&ops(v));
        assert_eq!(
            names(json!([
                {"op": "test", "path": "/SessionKey", "value": "k"},
                {"op": "replace", "path": "rank", "value": 1},
                {"op": "add", "path": "/CUSTOMINFO/x", "value": 1},
                {"op": "remove", "path": "/CustomInfo/y"},
                {"op": "replace", "path": "/Rank", "value": 2}
            ])),
            Some(vec!["SessionKey", "Rank", "CustomInfo"])
        );
        assert_eq!(names(json!([])), Some(vec![]));
        for whole_entity in [
            json!([{"op": "remove", "path": "/Rank"}]),
            json!([{"op": "replace", "path": "", "value": {}}]),
            json!([{"op": "add", "path": "/Colour", "value": "red"}]),
            json!([{"op": "replace", "path": "/Ra~1nk", "value": 1}]),
            json!([{"op": "test", "path": "/Rank", "value": 0}, {"op": "remove", "path": "/Rank"}]),
        ] {
            assert_eq!(names(whole_entity.clone()), None, "{whole_entity}");
        }
    }

    /// A small deterministic generator (xorshift), so that the comparison
    /// below covers many conversations and patches without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).unwrap_or(0)
        }
        fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[self.below(items.len())]
        }
    }

    /// Values a member may be patched to or tested against: right and
    /// wrong types, in and out of range.
    fn value(rng: &mut Rng) -> Value {
        rng.pick(&[
            json!(null),
            json!(0),
            json!(3),
            json!(-1),
            json!(1.5),
            json!(5_000_000_000_i64),
            json!(true),
            json!(""),
            json!("Ada"),
            json!("ada@example.com"),
            json!("not an email"),
            json!("2024-05-01T10:00:00+02:00"),
            json!("2024-05-01T10:00:00.123Z"),
            json!("Closed"),
            json!("UserLast"),
            json!("CustomerIsTyping, UserIsTyping"),
            json!({"AssociateId": 7}),
            json!({"AssociateId": 0}),
            json!({"PersonId": 9}),
            json!({"PersonId": "x"}),
            json!({"k": [1, 2], "l": {"m": null}}),
            json!([1, "two"]),
            json!("k-1"),
        ])
        .clone()
    }

    /// A conversation with some of its members set, linked to an agent
    /// and a customer.
    fn conversation(rng: &mut Rng) -> Conversation {
        let mut c = Conversation::new(
            TenantId::new(1),
            "k-1",
            Timestamp::from_millis(1_700_000_000_000),
        );
        c.id = ConversationId::new(5);
        c.version = 3;
        if rng.below(2) == 0 {
            c.visitor.name = Some("Grace".into());
            c.visitor.email = Some("grace@example.com".into());
        }
        if rng.below(2) == 0 {
            c.assign(Some(AgentId::new(7)));
            c.customer_id = Some(CustomerId::new(9));
        }
        c.rank = i32::try_from(rng.below(4)).unwrap_or(0);
        c.rating = [None, Some(4)][rng.below(2)];
        c.flags = i64::try_from(rng.below(4)).unwrap_or(0);
        c.status = *rng.pick(&ConversationStatus::ALL);
        if rng.below(2) == 0 {
            c.requested_at = Some(Timestamp::from_millis(1_700_000_000_456));
            c.custom_info.insert("k".into(), json!({"x": 1}));
        }
        c
    }

    /// A value of the right type for `member`, mostly.
    fn fitting(rng: &mut Rng, member: &str) -> Value {
        let pick = |rng: &mut Rng, items: &[Value]| rng.pick(items).clone();
        match member {
            "Rank" | "AlertLevel" | "InitialQueuePos" | "TopicId" | "Rating" => {
                pick(rng, &[json!(0), json!(2), json!(4), json!(null)])
            }
            "CustomerConsented" | "ChatbotIsActive" => pick(rng, &[json!(true), json!(false)]),
            "Status" => pick(rng, &[json!("Closed"), json!("InQueue"), json!("userlast")]),
            "Flags" => pick(rng, &[json!("UserIsTyping"), json!(1), json!("0")]),
            "User" | "TransferTo" => pick(rng, &[json!({"AssociateId": 7}), json!(null)]),
            "Person" => pick(rng, &[json!({"PersonId": 9}), json!(null)]),
            "CustomInfo" => pick(rng, &[json!({"a": [1]}), json!({})]),
            m if m.starts_with("When") => {
                pick(rng, &[json!("2024-05-01T10:00:00.123+02:00"), json!(null)])
            }
            _ => pick(rng, &[json!("Ada"), json!("ada@example.com"), json!(null)]),
        }
    }

    /// A random operation on `current`, the entity: a `test` mostly of the
    /// value there, a change mostly to a value of the member's type, and
    /// paths in other letter cases, inside members and outside any.
    fn operation(rng: &mut Rng, current: &Value) -> Value {
        let member = *rng.pick(&MEMBERS);
        let path = match rng.below(8) {
            0 => member.to_lowercase(),
            1 => format!("/{}", member.to_uppercase()),
            2 => format!("/{member}/k"),
            3 => format!("/{member}/AssociateId"),
            4 => "/Colour".to_string(),
            _ => format!("/{member}"),
        };
        let op = *rng.pick(&["test", "replace", "replace", "replace", "add", "remove"]);
        let value = match (op, rng.below(4)) {
            ("test", 0) | (_, 1) => value(rng),
            ("test", _) => current.get(member).cloned().unwrap_or(Value::Null),
            _ => fitting(rng, member),
        };
        json!({"op": op, "path": path, "value": value})
    }

    /// Random conversations and patches: applied to the members they name
    /// or to the whole entity, the result is the same conversation, or
    /// the same error.
    #[test]
    fn a_patch_applied_to_the_members_it_names_is_the_patch_applied_to_the_whole_entity() {
        let zone = Zone::named("Europe/Oslo").unwrap();
        let mut links = ConversationLinks::default();
        links.agents.push(std::sync::Arc::new(Agent {
            id: AgentId::new(7),
            tenant_id: TenantId::new(1),
            name: "Ada".into(),
            email: "ada@example.com".into(),
            role: "agent".into(),
        }));
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let (mut parts, mut changed) = (0, 0);
        for _ in 0..10_000 {
            let c = conversation(&mut rng);
            let current = convert::entity(&c, Some(&links), &zone, "https://h");
            let n = 1 + rng.below(3);
            let raw = Value::Array((0..n).map(|_| operation(&mut rng, &current)).collect());
            let Ok(ops) = json::parse_patch(&raw, &Limits::default()) else {
                continue;
            };
            let to = Target {
                links: Some(&links),
                zone: &zone,
                base: "https://h",
                actor: Actor::System,
                now: Timestamp::from_millis(1_800_000_000_000),
            };
            let (mut a, mut b) = (c.clone(), c.clone());
            let (ra, rb) = (apply(&mut a, &ops, &to), whole(&mut b, &ops, &to));
            assert_eq!(format!("{ra:?}"), format!("{rb:?}"), "patch {raw} of {c:?}");
            assert_eq!(a, b, "patch {raw} of {c:?}");
            // The response's bytes, written as serialized, are the entity's.
            let written = serde_json::to_vec(&convert::EntityJson {
                c: &a,
                links: to.links,
                zone: to.zone,
                base: to.base,
            });
            let whole = serde_json::to_vec(&convert::entity(&a, to.links, to.zone, to.base));
            assert_eq!(written.ok(), whole.ok());
            parts += usize::from(named_members(&ops).is_some());
            changed += usize::from(ra.is_ok() && a != c);
        }
        // The comparison must have covered both ways and real changes.
        assert!(parts > 3_000, "{parts} patches applied to a part");
        assert!(changed > 800, "{changed} patches changed something");
    }
}
