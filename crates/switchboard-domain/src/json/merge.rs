//! RFC 7396 JSON Merge Patch, and its translation into JSON Patch operations.

use super::equal::values_identical;
use serde_json::{Map, Value};

use super::patch::Operation;
use super::pointer::push_token;

/// Applies an RFC 7396 merge patch to `doc` (exactly the Section 2 algorithm).
///
/// * A non-object `patch` replaces the whole document.
/// * An object `patch` turns a non-object `doc` into `{}` first; then each
///   member set to `null` is removed, and every other member is merged
///   recursively (a missing member being merged as if absent, so an object
///   patch value has its `null`s stripped).
///
/// The walk is iterative, so a deeply nested patch cannot overflow the stack.
///
/// ```
/// use serde_json::json;
/// use switchboard_domain::json::merge_patch;
/// let mut doc = json!({"title": "Hi", "author": {"given": "A", "family": "B"}});
/// merge_patch(&mut doc, &json!({"title": "Hello", "author": {"family": null}}));
/// assert_eq!(doc, json!({"title": "Hello", "author": {"given": "A"}}));
/// ```
pub fn merge_patch(doc: &mut Value, patch: &Value) {
    let mut pending: Vec<(&mut Value, &Map<String, Value>)> = Vec::new();
    match patch {
        Value::Object(patch) => pending.push((doc, patch)),
        other => {
            *doc = other.clone();
            return;
        }
    }
    while let Some((target, patch)) = pending.pop() {
        if !target.is_object() {
            *target = Value::Object(Map::new());
        }
        let Value::Object(map) = target else {
            continue;
        };
        let mut nested = false;
        for (key, value) in patch {
            match value {
                Value::Null => {
                    map.remove(key);
                }
                Value::Object(_) => {
                    nested = true;
                    if !map.contains_key(key) {
                        map.insert(key.clone(), Value::Object(Map::new()));
                    }
                }
                other => {
                    map.insert(key.clone(), other.clone());
                }
            }
        }
        if nested {
            // Object-valued patch members: merge into the (now present) members.
            for (key, child) in map.iter_mut() {
                if let Some(Value::Object(child_patch)) = patch.get(key) {
                    pending.push((child, child_patch));
                }
            }
        }
    }
}

/// Converts a merge patch into JSON Patch operations that have the same
/// effect on `target` (applied in [`PathMode::Strict`](super::PathMode)).
///
/// * a non-object `patch` gives one `replace` of `""`;
/// * an object `patch` on a non-object `target` gives one `replace` of `""`
///   with the patch merged into `{}`;
/// * otherwise, per member: `null` on a present member → `remove`; `null` on a
///   missing member → nothing; an object onto an object member → recursion;
///   an object onto a missing or non-object member → `add`/`replace` of the
///   patch merged into `{}`; any other value → `add`/`replace` (nothing when
///   the member already holds exactly that value).
///
/// The operations touch disjoint locations, so their order does not matter.
///
/// ```
/// use serde_json::json;
/// use switchboard_domain::json::{ApplyOptions, Operation, apply, merge_to_operations};
/// let target = json!({"a": 1, "b": {"c": 2}});
/// let ops = merge_to_operations(&target, &json!({"a": null, "b": {"d": 3}}));
/// assert_eq!(ops, vec![
///     Operation::Remove { path: "/a".into() },
///     Operation::Add { path: "/b/d".into(), value: json!(3) },
/// ]);
/// let mut doc = target.clone();
/// apply(&mut doc, &ops, &ApplyOptions::default())?;
/// assert_eq!(doc, json!({"b": {"c": 2, "d": 3}}));
/// # Ok::<(), switchboard_domain::json::PatchError>(())
/// ```
#[must_use]
pub fn merge_to_operations(target: &Value, patch: &Value) -> Vec<Operation> {
    let (Value::Object(target), Value::Object(patch)) = (target, patch) else {
        return vec![Operation::Replace {
            path: String::new(),
            value: merged_into_empty(patch),
        }];
    };
    let mut ops = Vec::new();
    // (target object, patch object, pointer of both)
    type Frame<'a> = (&'a Map<String, Value>, &'a Map<String, Value>, String);
    let mut pending: Vec<Frame<'_>> = vec![(target, patch, String::new())];
    while let Some((target, patch, prefix)) = pending.pop() {
        for (key, value) in patch {
            let existing = target.get(key);
            let path = || {
                let mut path = prefix.clone();
                push_token(&mut path, key);
                path
            };
            match (value, existing) {
                (Value::Null, None) => {}
                (Value::Null, Some(_)) => ops.push(Operation::Remove { path: path() }),
                (Value::Object(child_patch), Some(Value::Object(child_target))) => {
                    pending.push((child_target, child_patch, path()));
                }
                (value, None) => ops.push(Operation::Add {
                    path: path(),
                    value: merged_into_empty(value),
                }),
                (value, Some(current)) => {
                    if !values_identical(value, current) {
                        ops.push(Operation::Replace {
                            path: path(),
                            value: merged_into_empty(value),
                        });
                    }
                }
            }
        }
    }
    ops
}

/// The result of merging `patch` into an absent/non-object value: `patch`
/// itself for non-objects, else `patch` with its `null` members stripped.
fn merged_into_empty(patch: &Value) -> Value {
    if patch.is_object() {
        let mut value = Value::Object(Map::new());
        merge_patch(&mut value, patch);
        value
    } else {
        patch.clone()
    }
}
