//! Structural diff producing RFC 6902 operations.

use serde_json::Value;

use super::equal::{same_members, values_identical};
use super::patch::Operation;
use super::pointer::push_token;

/// Computes operations (only `add`, `remove` and `replace`) that turn `a`
/// into `b` when applied in [`PathMode::Strict`](super::PathMode).
///
/// Strategy:
/// * values are compared with [`values_identical`], so `1` and `1.0` (and
///   `0.0` and `-0.0`) differ and get a `replace`: the result is exactly
///   `b`, not just §4.6-equal to it;
/// * two objects are diffed member by member: `remove` for members only in
///   `a`, `add` for members only in `b`, recursion for members in both;
/// * two arrays are diffed element-wise by position: recursion on the common
///   prefix of indices, then `add`s at the end (increasing indices) or
///   `remove`s from the end (decreasing indices). There is no LCS or move
///   detection, so inserting at the front rewrites every following element;
/// * anything else that differs is a `replace` (of `""` at the root).
///
/// The walk is iterative. Member names are escaped in the paths (`~0`, `~1`).
///
/// ```
/// use serde_json::json;
/// use switchboard_domain::json::{ApplyOptions, apply, diff};
/// let a = json!({"name": "Ada", "tags": ["x", "y"], "a/b": 1});
/// let b = json!({"name": "Ada L.", "tags": ["x"], "a/b": 2});
/// let ops = diff(&a, &b);
/// let mut doc = a.clone();
/// apply(&mut doc, &ops, &ApplyOptions::default())?;
/// assert_eq!(doc, b);
/// assert!(ops.iter().any(|op| op.path() == "/a~1b"));
/// # Ok::<(), switchboard_domain::json::PatchError>(())
/// ```
#[must_use]
pub fn diff(a: &Value, b: &Value) -> Vec<Operation> {
    let mut ops = Vec::new();
    diff_under(String::new(), a, b, &mut ops);
    ops
}

/// Appends to `ops` the operations of [`diff()`] between `a` and `b`, with
/// `prefix` (a JSON Pointer, escaped) before each path: the operations
/// that `diff` of two documents gives for a member at `prefix` where they
/// differ, in the same order.
///
/// ```
/// use serde_json::json;
/// use switchboard_domain::json::{diff, diff_under};
/// let (a, b) = (json!({"x": [1, 2]}), json!({"x": [3]}));
/// let mut ops = Vec::new();
/// diff_under("/doc".into(), &a, &b, &mut ops);
/// let whole = diff(&json!({"doc": a}), &json!({"doc": b}));
/// assert_eq!(ops, whole);
/// ```
pub fn diff_under(prefix: String, a: &Value, b: &Value, ops: &mut Vec<Operation>) {
    // Two containers are walked member by member whether or not they
    // differ (identical ones give no operation), so the whole of them is not
    // compared first; any other pair must differ to be pending.
    let containers = matches!(
        (a, b),
        (Value::Object(_), Value::Object(_)) | (Value::Array(_), Value::Array(_))
    );
    if !containers && values_identical(a, b) {
        return;
    }
    // Invariant: every pending pair is unequal, but for the root when both
    // are containers.
    let mut pending: Vec<(&Value, &Value, String)> = vec![(a, b, prefix)];
    while let Some((a, b, prefix)) = pending.pop() {
        let at = |token: &str| {
            let mut path = prefix.clone();
            push_token(&mut path, token);
            path
        };
        match (a, b) {
            // The same members in the same order (an entity's two versions,
            // usually): walked side by side, without a lookup per member.
            (Value::Object(x), Value::Object(y)) if same_members(x, y) => {
                for ((key, value), other) in x.iter().zip(y.values()) {
                    if !values_identical(value, other) {
                        pending.push((value, other, at(key)));
                    }
                }
            }
            (Value::Object(x), Value::Object(y)) => {
                for (key, value) in x {
                    match y.get(key) {
                        None => ops.push(Operation::Remove { path: at(key) }),
                        Some(other) if !values_identical(other, value) => {
                            pending.push((value, other, at(key)))
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
                    if !values_identical(p, q) {
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
}
