//! How much memory free-form JSON holds beyond its text.
//!
//! A parsed JSON object is a B-tree: even a one-member object takes a
//! whole node of about 640 bytes, so free-form values made of many small
//! objects hold up to a hundred times their text. A cache that weighs its
//! documents by their text alone would then hold far more memory than its
//! bound says. [`container_bytes`] estimates what the containers take, to
//! be added to an estimate of the text; [`MAX_FREE_FORM_CONTAINERS`] bounds
//! how many an entity's free-form members may hold, so that a page of
//! entities cannot hold hundreds of times its text either.

use std::collections::BTreeMap;
use std::mem::size_of;

use serde_json::Value;

/// Heap bytes of one B-tree node of a JSON object (`String` keys, `Value`
/// values, 11 slots, the parent link and lengths), rounded up to the
/// allocator's size class.
const OBJECT_NODE_BYTES: usize = 640;

/// Members per node on average: a node splits when its 11 slots are full,
/// and the halves fill again as members arrive.
const MEMBERS_PER_NODE: usize = 6;

/// The heap bytes of an object with `members` members, its text aside.
#[must_use]
pub const fn object_bytes(members: usize) -> usize {
    members.div_ceil(MEMBERS_PER_NODE) * OBJECT_NODE_BYTES
}

/// The smallest buffer a growing array allocates, in values.
const ARRAY_MIN_SLOTS: usize = 4;

/// The heap bytes of an array's buffer of `items` values: growing as it is
/// parsed, it holds at least four slots and up to the next power of two.
#[must_use]
pub const fn array_bytes(items: usize) -> usize {
    if items == 0 {
        return 0;
    }
    let slots = items.next_power_of_two();
    let slots = if slots < ARRAY_MIN_SLOTS {
        ARRAY_MIN_SLOTS
    } else {
        slots
    };
    slots * size_of::<Value>()
}

/// Most JSON objects and arrays that a conversation's custom info may
/// hold, all values together (a customer's custom data holds typed
/// scalars only): about 160 KB of nodes at most, in line with the text
/// those values may take (100 values of 4 KB), where 4 KB of one-member
/// objects alone would hold some 330 KB.
pub const MAX_FREE_FORM_CONTAINERS: usize = 256;

/// How many JSON objects and arrays `values` hold, at any depth (the
/// values themselves included). Iterative.
///
/// ```
/// use serde_json::json;
/// use switchboard_domain::json::containers;
///
/// let values = [json!("text"), json!({"a": [1, {"b": 2}]}), json!([])];
/// assert_eq!(containers(&values), 4);
/// ```
#[must_use]
pub fn containers<'a>(values: impl IntoIterator<Item = &'a Value>) -> usize {
    let mut count = 0usize;
    each_container(values, |_| count += 1);
    count
}

/// Calls `visit` with every object and array in `values`, at any depth
/// (the values themselves included). Iterative.
fn each_container<'a>(values: impl IntoIterator<Item = &'a Value>, mut visit: impl FnMut(&Value)) {
    let mut stack: Vec<&Value> = values.into_iter().collect();
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                visit(value);
                stack.extend(map.values());
            }
            Value::Array(items) => {
                visit(value);
                stack.extend(items);
            }
            _ => {}
        }
    }
}

/// About the heap bytes that the objects and arrays of `members` (a
/// free-form map of values: custom info, custom data) hold beyond their
/// text, the map itself included. Iterative; linear in the values' size.
///
/// ```
/// use std::collections::BTreeMap;
/// use switchboard_domain::json::container_bytes;
///
/// let flat: BTreeMap<String, serde_json::Value> =
///     serde_json::from_str(r#"{"plan": "gold", "seats": 10}"#).unwrap();
/// let nested: BTreeMap<String, serde_json::Value> =
///     serde_json::from_str(r#"{"items": [{"a": 1}, {"a": 2}, {"a": 3}]}"#).unwrap();
/// // Two scalars: one node of the map. Three small objects: a node each.
/// assert_eq!(container_bytes(&flat), 640);
/// assert!(container_bytes(&nested) >= 4 * 640);
/// ```
#[must_use]
pub fn container_bytes(members: &BTreeMap<String, Value>) -> usize {
    let mut total = object_bytes(members.len());
    each_container(members.values(), |value| {
        let bytes = match value {
            Value::Object(map) => object_bytes(map.len()),
            Value::Array(items) => array_bytes(items.len()),
            _ => 0,
        };
        total = total.saturating_add(bytes);
    });
    total
}
