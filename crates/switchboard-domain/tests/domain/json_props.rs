//! Property tests for the JSON document engine (bounded, fast).

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value};
use switchboard_domain::event::conversation_diff;
use switchboard_domain::json::{
    ApplyOptions, Limits, Operation, PathMode, apply, check_document, diff, escape_token,
    merge_patch, merge_to_operations, values_identical,
};
use switchboard_domain::{
    Actor, AgentId, Conversation, ConversationId, ConversationStatus, CustomerId, DepartmentId,
    TenantId, Timestamp,
};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

fn unlimited(mode: PathMode) -> ApplyOptions {
    ApplyOptions {
        mode,
        allow_move_copy: true,
        limits: Limits::unlimited(),
    }
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..4).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-10.0f64..10.0).prop_map(Value::from),
        Just(Value::from(1.0)),
        "[ab~/\"\\\\\u{1}é]{0,3}".prop_map(Value::String),
    ]
}

/// Arbitrary JSON over a given key strategy, bounded in depth and size.
fn json_with(
    keys: impl Strategy<Value = String> + Clone + 'static,
) -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 40, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Keys drawn from a tiny alphabet (so that documents overlap), including
/// characters that need escaping.
fn key() -> impl Strategy<Value = String> + Clone {
    "[abAB~/]{0,2}"
}

/// Lower-case-only keys: no two keys differ only by case.
fn lower_key() -> impl Strategy<Value = String> + Clone {
    "[abc]{1,2}"
}

fn object_with(
    keys: impl Strategy<Value = String> + Clone + 'static,
) -> impl Strategy<Value = Value> {
    prop::collection::btree_map(keys.clone(), json_with(keys), 0..5)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

/// `v` with some of its scalars changed (those whose position in a walk is
/// in `changed`, a bit per position): the same members and elements, so
/// that the two walk side by side, as an entity's two versions do.
fn perturbed(v: &Value, changed: u64) -> Value {
    fn go(v: &Value, changed: u64, at: &mut u32) -> Value {
        match v {
            Value::Array(items) => Value::Array(items.iter().map(|x| go(x, changed, at)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, x)| (k.clone(), go(x, changed, at)))
                    .collect(),
            ),
            scalar => {
                let flip = changed >> (*at % 64) & 1 == 1;
                *at += 1;
                match (flip, scalar) {
                    (false, _) => scalar.clone(),
                    (true, Value::Number(n)) if n.as_f64() == Some(0.0) => Value::from(-0.0),
                    (true, Value::Number(n)) => Value::from(n.as_f64().unwrap_or(0.0)),
                    (true, Value::String(s)) => Value::String(format!("{s}!")),
                    (true, other) => Value::Bool(other.is_null()),
                }
            }
        }
    }
    go(v, changed, &mut 0)
}

/// The diff as it was written first, a lookup per member and the whole
/// documents compared first: [`diff`] must give exactly its operations.
fn reference_diff(a: &Value, b: &Value) -> Vec<Operation> {
    let mut ops = Vec::new();
    if reference_identical(a, b) {
        return ops;
    }
    let mut pending: Vec<(&Value, &Value, String)> = vec![(a, b, String::new())];
    while let Some((a, b, prefix)) = pending.pop() {
        let at = |token: &str| format!("{prefix}/{}", escape_token(token));
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for (key, value) in x {
                    match y.get(key) {
                        None => ops.push(Operation::Remove { path: at(key) }),
                        Some(other) if !reference_identical(other, value) => {
                            pending.push((value, other, at(key)));
                        }
                        Some(_) => {}
                    }
                }
                for (key, value) in y {
                    if !x.contains_key(key) {
                        ops.push(Operation::Add {
                            path: at(key),
                            value: value.clone(),
                        });
                    }
                }
            }
            (Value::Array(x), Value::Array(y)) => {
                let common = x.len().min(y.len());
                for (i, (p, q)) in x.iter().zip(y).enumerate() {
                    if !reference_identical(p, q) {
                        pending.push((p, q, at(&i.to_string())));
                    }
                }
                for (i, value) in y.iter().enumerate().skip(common) {
                    ops.push(Operation::Add {
                        path: at(&i.to_string()),
                        value: value.clone(),
                    });
                }
                for i in (common..x.len()).rev() {
                    ops.push(Operation::Remove {
                        path: at(&i.to_string()),
                    });
                }
            }
            _ => ops.push(Operation::Replace {
                path: prefix,
                value: b.clone(),
            }),
        }
    }
    ops
}

/// Identity as first written: members found by name, recursively.
fn reference_identical(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(p), Value::Number(q)) => {
            p == q && p.as_f64().map(f64::is_sign_negative) == q.as_f64().map(f64::is_sign_negative)
        }
        (Value::Array(p), Value::Array(q)) => {
            p.len() == q.len() && p.iter().zip(q).all(|(x, y)| reference_identical(x, y))
        }
        (Value::Object(p), Value::Object(q)) => {
            p.len() == q.len()
                && p.iter()
                    .all(|(k, v)| q.get(k).is_some_and(|w| reference_identical(v, w)))
        }
        (p, q) => p == q,
    }
}

/// Every pointer in `v` (the root included).
fn pointers(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut pending = vec![(v, String::new())];
    while let Some((v, path)) = pending.pop() {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    pending.push((child, format!("{path}/{}", escape_token(k))));
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    pending.push((child, format!("{path}/{i}")));
                }
            }
            _ => {}
        }
        out.push(path);
    }
    out
}

/// Random operations on the pointers of a document (many succeed, some fail).
fn operation(paths: Vec<String>, keys: BoxedStrategy<String>) -> impl Strategy<Value = Operation> {
    let existing = select(paths);
    let new_child = (
        existing.clone(),
        prop_oneof![
            keys.prop_map(|k| escape_token(&k).into_owned()),
            Just("-".to_owned()),
            Just("0".to_owned())
        ],
    )
        .prop_map(|(p, k)| format!("{p}/{k}"));
    let target = prop_oneof![existing.clone(), new_child];
    let value = json_with(lower_key()).boxed();
    prop_oneof![
        (target.clone(), value.clone()).prop_map(|(path, value)| Operation::Add { path, value }),
        existing.clone().prop_map(|path| Operation::Remove { path }),
        (existing.clone(), value.clone())
            .prop_map(|(path, value)| Operation::Replace { path, value }),
        (existing.clone(), target.clone()).prop_map(|(from, path)| Operation::Move { from, path }),
        (existing.clone(), target).prop_map(|(from, path)| Operation::Copy { from, path }),
        (existing, value).prop_map(|(path, value)| Operation::Test { path, value }),
    ]
}

/// A document with a random patch built from its own pointers.
fn doc_and_ops(
    keys: BoxedStrategy<String>,
    len: std::ops::Range<usize>,
) -> impl Strategy<Value = (Value, Vec<Operation>)> {
    object_with(keys.clone()).prop_flat_map(move |doc| {
        let paths = pointers(&doc);
        (
            Just(doc),
            prop::collection::vec(operation(paths, keys.clone()), len.clone()),
        )
    })
}

proptest! {
    #![proptest_config(config())]

    /// (a) A merge patch converted to operations has the same effect.
    #[test]
    fn merge_operations_match_merge_patch(target in json_with(key()), patch in prop_oneof![object_with(key()), json_with(key())]) {
        let mut merged = target.clone();
        merge_patch(&mut merged, &patch);
        let ops = merge_to_operations(&target, &patch);
        let mut applied = target.clone();
        apply(&mut applied, &ops, &unlimited(PathMode::Strict)).unwrap();
        prop_assert_eq!(applied, merged);
    }

    /// (b) A failing patch leaves the document byte-for-byte unchanged.
    #[test]
    fn failed_patch_leaves_document_untouched(
        (doc, candidates) in doc_and_ops(key().boxed(), 0..10),
        split in any::<prop::sample::Index>(),
        lenient in any::<bool>(),
    ) {
        let opts = unlimited(if lenient { PathMode::Lenient } else { PathMode::Strict });
        // Keep the candidate operations that succeed in sequence, so that the
        // document really changes before the failure.
        let mut scratch = doc.clone();
        let mut ops: Vec<Operation> = candidates
            .into_iter()
            .filter(|op| apply(&mut scratch, std::slice::from_ref(op), &opts).is_ok())
            .collect();
        // A guaranteed failure in the middle.
        let at = split.index(ops.len() + 1);
        ops.insert(at, Operation::Test { path: String::new(), value: Value::String("never equal".repeat(3)) });
        let before = serde_json::to_string(&doc).unwrap();
        let mut patched = doc.clone();
        let err = apply(&mut patched, &ops, &opts).unwrap_err();
        prop_assert_eq!(err.index, Some(at));
        prop_assert!(err.is_test_failure());
        prop_assert_eq!(serde_json::to_string(&patched).unwrap(), before);
    }

    /// (b') Same with random operations only: success or untouched.
    #[test]
    fn random_patch_is_atomic((doc, ops) in doc_and_ops(key().boxed(), 1..8), lenient in any::<bool>()) {
        let opts = unlimited(if lenient { PathMode::Lenient } else { PathMode::Strict });
        let before = serde_json::to_string(&doc).unwrap();
        let mut patched = doc.clone();
        if apply(&mut patched, &ops, &opts).is_err() {
            prop_assert_eq!(serde_json::to_string(&patched).unwrap(), before);
        } else {
            // Applying one by one gives the same result.
            let mut stepwise = doc.clone();
            for op in &ops {
                apply(&mut stepwise, std::slice::from_ref(op), &opts).unwrap();
            }
            prop_assert_eq!(stepwise, patched);
        }
    }

    /// (c) Applying a diff yields the target exactly.
    #[test]
    fn diff_roundtrip(a in json_with(key()), b in json_with(key())) {
        let ops = diff(&a, &b);
        let mut patched = a.clone();
        apply(&mut patched, &ops, &unlimited(PathMode::Strict)).unwrap();
        prop_assert_eq!(&patched, &b);
        prop_assert!(diff(&b, &b).is_empty());
    }

    /// The diff's operations are exactly the reference's, in order, for
    /// unrelated documents and for two versions of one document (the
    /// members walked side by side); identity agrees with the reference.
    #[test]
    fn diff_matches_the_reference(a in json_with(key()), b in json_with(key()), changed in any::<u64>()) {
        let c = perturbed(&a, changed);
        for (x, y) in [(&a, &b), (&a, &c), (&c, &a), (&b, &b)] {
            prop_assert_eq!(diff(x, y), reference_diff(x, y));
            prop_assert_eq!(values_identical(x, y), reference_identical(x, y));
        }
    }

    /// (d) With exact paths and no case collisions, lenient == strict.
    #[test]
    fn lenient_matches_strict_on_exact_paths((doc, ops) in doc_and_ops(lower_key().boxed(), 1..8)) {
        let mut strict = doc.clone();
        let strict_result = apply(&mut strict, &ops, &unlimited(PathMode::Strict));
        let mut lenient = doc.clone();
        let lenient_result = apply(&mut lenient, &ops, &unlimited(PathMode::Lenient));
        prop_assert_eq!(strict_result.is_ok(), lenient_result.is_ok(), "{:?} vs {:?}", strict_result, lenient_result);
        prop_assert_eq!(strict, lenient);
    }

    /// The size limit is exactly the compact serialized length.
    #[test]
    fn size_limit_is_serialized_length(v in json_with(key())) {
        let len = serde_json::to_string(&v).unwrap().len();
        let at = |max_document_bytes| Limits { max_document_bytes, ..Limits::default() };
        prop_assert!(check_document(&v, &at(len)).is_ok());
        prop_assert!(check_document(&v, &at(len - 1)).is_err());
    }

    /// A conversation update's diff, computed member by member, is
    /// `json::diff` of the two versions' canonical JSON, operation for
    /// operation: random edits to each side, free-form values included
    /// (so `0.0` against `-0.0` and `1` against `1.0` come up).
    #[test]
    fn conversation_diff_is_the_diff_of_its_json(
        a in prop::collection::vec(conversation_edit(), 0..12),
        b in prop::collection::vec(conversation_edit(), 0..12),
    ) {
        let base = Conversation::new(TenantId::new(1), "s", Timestamp::from_millis(0));
        let (mut x, mut y) = (base.clone(), base);
        for e in &a { e.apply(&mut x); }
        for e in &b { e.apply(&mut y); }
        let json = |c: &Conversation| serde_json::to_value(c).unwrap();
        for (p, q) in [(&x, &y), (&y, &x), (&x, &x)] {
            prop_assert_eq!(conversation_diff(p, q), diff(&json(p), &json(q)));
        }
    }
}

/// One random change to a conversation: which member (by number) and the
/// values it may take.
#[derive(Debug, Clone)]
struct ConversationEdit {
    member: u8,
    n: i64,
    text: Option<String>,
    value: Value,
}

fn conversation_edit() -> impl Strategy<Value = ConversationEdit> {
    (
        0u8..44,
        -3i64..4,
        prop::option::of("[ab]{0,2}"),
        json_with(key()),
    )
        .prop_map(|(member, n, text, value)| ConversationEdit {
            member,
            n,
            text,
            value,
        })
}

impl ConversationEdit {
    fn apply(&self, c: &mut Conversation) {
        let (n, text) = (self.n, self.text.clone());
        let some_t = (n > 0).then(|| Timestamp::from_millis(n));
        let id = u64::try_from(n).ok().filter(|n| *n > 0);
        match self.member {
            0 => c.id = ConversationId::new(n),
            1 => c.tenant_id = TenantId::new(n),
            2 => c.session_key = text.unwrap_or_default(),
            3 => {
                c.status = ConversationStatus::ALL
                    [n.unsigned_abs() as usize % ConversationStatus::ALL.len()]
            }
            4 => c.visitor.name = text,
            5 => c.visitor.email = text,
            6 => c.visitor.consented = n > 0,
            7 => c.visitor.country = text,
            8 => c.customer_id = id.map(|i| CustomerId::new(i as i64)),
            9 => c.assignee_id = id.map(|i| AgentId::new(i as i64)),
            10 => c.agent_ids.push(AgentId::new(n)),
            11 => c.agent_ids.clear(),
            12 => c.department_id = id.map(|i| DepartmentId::new(i as i64)),
            13 => c.topic_id = Some(n),
            14 => c.rating = Some(n as i32),
            15 => c.flags = n,
            16 => c.alert_level = n as i32,
            17 => c.rank = n as i32,
            18 => c.initial_queue_pos = n as i32,
            19 => c.transfer_to = id.map(|i| AgentId::new(i as i64)),
            20 => c.first_message = text,
            21 => c.last_message = text,
            22 => c.requested_at = some_t,
            23 => c.started_at = some_t,
            24 => c.ended_at = some_t,
            25 => c.idle_at = some_t,
            26 => c.fetched_at = some_t,
            27 => c.last_message_at = some_t,
            28 => c.last_customer_message_at = some_t,
            29 => c.closed_at = some_t,
            30 => c.closed_by = (n > 0).then_some(Actor::System),
            31 => c.snoozed_until = some_t,
            32 => c.chatbot_active = n > 0,
            33 => {
                c.custom_info
                    .insert(text.unwrap_or_default(), self.value.clone());
            }
            34 => {
                c.custom_info.remove(&text.unwrap_or_default());
            }
            35 => c.created_with = text,
            36 => c.created_at = Timestamp::from_millis(n),
            37 => c.updated_at = Timestamp::from_millis(n),
            38 => c.version = n,
            39 => c.visitor.phone = text,
            40 => c.visitor.company = text,
            41 => c.visitor.host = text,
            42 => c.visitor.alias = text,
            _ => {
                c.custom_info
                    .insert("z".into(), Value::from(if n > 0 { 0.0 } else { -0.0 }));
            }
        }
    }
}
