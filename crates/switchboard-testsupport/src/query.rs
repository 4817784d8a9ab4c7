//! Short builders of the domain's query filters and values, for tests that
//! state many of them.

use switchboard_domain::Timestamp;
use switchboard_domain::query::{Condition, Field, Filter, Op, Value};

/// The filter of one condition, which must be valid.
pub fn cond<F: Field>(field: F, op: Op, values: Vec<Value>) -> Filter<F> {
    match Condition::new(field, op, values) {
        Ok(c) => c.into(),
        Err(e) => panic!("an invalid condition: {e}"),
    }
}

/// `field = v`.
pub fn eq<F: Field>(field: F, v: Value) -> Filter<F> {
    cond(field, Op::Eq, vec![v])
}

/// A text value.
pub fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// A time value, `ms` milliseconds after the epoch.
pub fn at(ms: i64) -> Value {
    Value::Time(Timestamp::from_millis(ms))
}
