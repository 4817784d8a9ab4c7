//! JSON value equality as defined by RFC 6902 §4.6 (the `test` operation).

use serde_json::{Map, Number, Value};

/// Whether `a` and `b` are equal in the sense of RFC 6902 §4.6:
///
/// * both have the same JSON type;
/// * strings: same Unicode code points;
/// * numbers: numerically equal, so `1 == 1.0`; two integers are compared
///   exactly (including `i64::MIN` and `u64::MAX`), and an integer equals a
///   float only when the float has exactly that integral value;
/// * arrays: same length and element-wise equal;
/// * objects: same member names, with equal values (order does not matter);
/// * `true`, `false`, `null`: the same literal.
///
/// Comparison is iterative, so deeply nested values cannot overflow the stack.
///
/// ```
/// use serde_json::json;
/// use switchboard_domain::json::values_equal;
/// assert!(values_equal(&json!({"a": 1, "b": [2.0]}), &json!({"b": [2], "a": 1.0})));
/// assert!(!values_equal(&json!(1), &json!("1")));
/// assert!(!values_equal(&json!(u64::MAX), &json!(u64::MAX as f64)));
/// ```
#[must_use]
pub fn values_equal(a: &Value, b: &Value) -> bool {
    walk(a, b, numbers_equal)
}

/// Whether `a` and `b` are the same JSON value, number representation
/// included: unlike serde_json's `==`, `-0.0` and `0.0` differ (IEEE
/// comparison calls them equal), and like it, `1` and `1.0` differ. This is
/// the equality of "the value comes back exactly as sent".
///
/// ```
/// use serde_json::json;
/// use switchboard_domain::json::values_identical;
/// assert!(values_identical(&json!({"a": [1, 0.5]}), &json!({"a": [1, 0.5]})));
/// assert!(!values_identical(&json!(-0.0), &json!(0.0)));
/// assert!(!values_identical(&json!(1), &json!(1.0)));
/// ```
#[must_use]
pub fn values_identical(a: &Value, b: &Value) -> bool {
    walk(a, b, |p, q| {
        p == q && p.as_f64().map(f64::is_sign_negative) == q.as_f64().map(f64::is_sign_negative)
    })
}

/// Structural equality with `numbers` deciding between two numbers.
fn walk(a: &Value, b: &Value, numbers: impl Fn(&Number, &Number) -> bool) -> bool {
    let mut pending: Vec<(&Value, &Value)> = Vec::new();
    let (mut x, mut y) = (a, b);
    loop {
        let same = match (x, y) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(p), Value::Bool(q)) => p == q,
            (Value::Number(p), Value::Number(q)) => numbers(p, q),
            (Value::String(p), Value::String(q)) => p == q,
            (Value::Array(p), Value::Array(q)) if p.len() == q.len() => {
                pending.extend(p.iter().zip(q));
                true
            }
            // The same members in the same order: paired side by side.
            (Value::Object(p), Value::Object(q)) if same_members(p, q) => {
                pending.extend(p.values().zip(q.values()));
                true
            }
            (Value::Object(p), Value::Object(q)) => {
                p.len() == q.len()
                    && p.iter().all(|(k, v)| match q.get(k) {
                        Some(w) => {
                            pending.push((v, w));
                            true
                        }
                        None => false,
                    })
            }
            _ => false,
        };
        if !same {
            return false;
        }
        match pending.pop() {
            Some((p, q)) => (x, y) = (p, q),
            None => return true,
        }
    }
}

/// Whether two objects have the same member names in the same order, so
/// that their values can be paired side by side.
pub(crate) fn same_members(p: &Map<String, Value>, q: &Map<String, Value>) -> bool {
    p.len() == q.len() && p.keys().zip(q.keys()).all(|(k, l)| k == l)
}

/// Numeric equality between two JSON numbers (exact for integers).
#[must_use]
pub(crate) fn numbers_equal(a: &Number, b: &Number) -> bool {
    match (integer(a), integer(b)) {
        (Some(x), Some(y)) => x == y,
        (Some(i), None) => float_equals_integer(b.as_f64(), i),
        (None, Some(i)) => float_equals_integer(a.as_f64(), i),
        (None, None) => a.as_f64() == b.as_f64(),
    }
}

fn integer(n: &Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

fn float_equals_integer(f: Option<f64>, i: i128) -> bool {
    // Integers here fit in 65 bits; any float beyond ±2^65 cannot match, and
    // below that bound an integral f64 converts to i128 exactly.
    const BOUND: f64 = 36_893_488_147_419_103_232.0; // 2^65
    match f {
        Some(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < BOUND => (f as i128) == i,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers() {
        assert!(values_equal(&json!(1), &json!(1.0)));
        assert!(values_equal(&json!(0), &json!(-0.0)));
        assert!(!values_equal(&json!(1), &json!(1.5)));
        assert!(values_equal(&json!(u64::MAX), &json!(u64::MAX)));
        assert!(!values_equal(&json!(u64::MAX), &json!(u64::MAX - 1)));
        assert!(values_equal(&json!(i64::MIN), &json!(i64::MIN)));
        assert!(values_equal(
            &json!(i64::MIN),
            &json!(-9_223_372_036_854_775_808.0)
        ));
        assert!(!values_equal(&json!(-1), &json!(u64::MAX)));
        assert!(values_equal(&json!(1e300), &json!(1e300)));
    }
}
