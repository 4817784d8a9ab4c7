//! RFC 6902 JSON Patch: operations, parsing and atomic application.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::engine;
use super::error::{PatchError, PatchErrorKind};
use super::limits::{LimitKind, Limits, measure};
use super::pointer::PathMode;

/// One JSON Patch operation (RFC 6902 §4), with paths as JSON Pointers.
///
/// Serializes to and from the RFC wire shape, e.g.
/// `{"op":"add","path":"/a","value":1}`. A `"value": null` is a real `null`
/// value, while a missing `value` is an error; unknown `op`s are errors;
/// extra members are ignored.
///
/// ```
/// use serde_json::json;
/// use switchboard_domain::json::Operation;
/// let op: Operation = serde_json::from_value(json!({"op": "add", "path": "/a", "value": null}))?;
/// assert_eq!(op, Operation::Add { path: "/a".into(), value: json!(null) });
/// assert!(serde_json::from_value::<Operation>(json!({"op": "add", "path": "/a"})).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Operation {
    /// Adds `value` at `path` (inserting into arrays, creating or replacing
    /// object members, replacing the whole document for `""`).
    Add {
        /// Target location.
        path: String,
        /// Value to add.
        value: Value,
    },
    /// Removes the value at `path`, which must exist.
    Remove {
        /// Target location.
        path: String,
    },
    /// Replaces the value at `path`, which must exist.
    Replace {
        /// Target location.
        path: String,
        /// Replacement value.
        value: Value,
    },
    /// Removes the value at `from` and adds it at `path`.
    Move {
        /// Source location.
        from: String,
        /// Target location; must not be inside `from`.
        path: String,
    },
    /// Adds a copy of the value at `from` at `path`.
    Copy {
        /// Source location.
        from: String,
        /// Target location.
        path: String,
    },
    /// Checks that the value at `path` equals `value` (see [`values_equal`](super::values_equal)).
    Test {
        /// Tested location.
        path: String,
        /// Expected value.
        value: Value,
    },
}

impl Operation {
    /// The wire name of the operation (`"add"`, `"remove"`, ...).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Add { .. } => "add",
            Self::Remove { .. } => "remove",
            Self::Replace { .. } => "replace",
            Self::Move { .. } => "move",
            Self::Copy { .. } => "copy",
            Self::Test { .. } => "test",
        }
    }

    /// The target path of the operation.
    #[must_use]
    pub fn path(&self) -> &str {
        match self {
            Self::Add { path, .. }
            | Self::Remove { path }
            | Self::Replace { path, .. }
            | Self::Move { path, .. }
            | Self::Copy { path, .. }
            | Self::Test { path, .. } => path,
        }
    }

    /// The source path of a `move` or `copy`.
    #[must_use]
    pub fn from(&self) -> Option<&str> {
        match self {
            Self::Move { from, .. } | Self::Copy { from, .. } => Some(from),
            _ => None,
        }
    }
}

/// Parses a JSON Patch document (a JSON array of operation objects).
///
/// Accepts exactly what [`Operation`]'s `Deserialize` accepts, but reports
/// the index of the first malformed operation. Pointers are not validated
/// here (their syntax depends on the [`PathMode`]); [`apply`] does that.
///
/// # Errors
/// * [`PatchErrorKind::LimitExceeded`] (`index: None`) if the array holds more
///   than `limits.max_operations` operations, or (with the index) if a
///   `value` is nested deeper than `limits.max_depth`;
/// * [`PatchErrorKind::Malformed`] if `v` is not an array (`index: None`) or an
///   operation is malformed (with its index).
///
/// ```
/// use serde_json::json;
/// use switchboard_domain::json::{Limits, parse_patch};
/// let err = parse_patch(&json!([{"op": "remove", "path": "/a"}, {"op": "spam", "path": "/b"}]), &Limits::default())
///     .err();
/// assert_eq!(err.and_then(|e| e.index), Some(1));
/// ```
pub fn parse_patch(v: &Value, limits: &Limits) -> Result<Vec<Operation>, PatchError> {
    let Value::Array(items) = v else {
        return Err(PatchError::new(malformed(
            "a JSON Patch must be an array of operations",
        )));
    };
    if items.len() > limits.max_operations {
        return Err(PatchError::new(LimitKind::Operations.error(limits)));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_operation(item, limits).map_err(|kind| PatchError::at(i, kind)))
        .collect()
}

fn malformed(reason: impl Into<String>) -> PatchErrorKind {
    PatchErrorKind::Malformed {
        reason: reason.into(),
    }
}

fn parse_operation(item: &Value, limits: &Limits) -> Result<Operation, PatchErrorKind> {
    let Value::Object(obj) = item else {
        return Err(malformed("an operation must be a JSON object"));
    };
    let op = match obj.get("op") {
        Some(Value::String(op)) => op.as_str(),
        Some(_) => return Err(malformed("member 'op' must be a string")),
        None => return Err(malformed("missing member 'op'")),
    };
    Ok(match op {
        "add" => Operation::Add {
            path: string_member(obj, "path")?,
            value: value_member(obj, limits)?,
        },
        "remove" => Operation::Remove {
            path: string_member(obj, "path")?,
        },
        "replace" => Operation::Replace {
            path: string_member(obj, "path")?,
            value: value_member(obj, limits)?,
        },
        "move" => Operation::Move {
            from: string_member(obj, "from")?,
            path: string_member(obj, "path")?,
        },
        "copy" => Operation::Copy {
            from: string_member(obj, "from")?,
            path: string_member(obj, "path")?,
        },
        "test" => Operation::Test {
            path: string_member(obj, "path")?,
            value: value_member(obj, limits)?,
        },
        other => return Err(malformed(format!("unknown op '{other}'"))),
    })
}

fn string_member(obj: &Map<String, Value>, name: &str) -> Result<String, PatchErrorKind> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(malformed(format!("member '{name}' must be a string"))),
        None => Err(malformed(format!("missing member '{name}'"))),
    }
}

fn value_member(obj: &Map<String, Value>, limits: &Limits) -> Result<Value, PatchErrorKind> {
    let value = obj
        .get("value")
        .ok_or_else(|| malformed("missing member 'value'"))?;
    measure(value, limits.max_depth, usize::MAX).map_err(|kind| kind.error(limits))?;
    Ok(value.clone())
}

/// How [`apply`] resolves paths and what it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApplyOptions {
    /// Path resolution mode (default [`PathMode::Strict`]).
    pub mode: PathMode,
    /// Whether `move` and `copy` are allowed (default `true`); when `false`
    /// they fail with [`PatchErrorKind::Unsupported`].
    pub allow_move_copy: bool,
    /// Resource limits (default [`Limits::default`]).
    pub limits: Limits,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            mode: PathMode::Strict,
            allow_move_copy: true,
            limits: Limits::default(),
        }
    }
}

/// Applies `ops` to `doc`, atomically.
///
/// Operations run in order with RFC 6902 semantics and the path rules of
/// `opts.mode` (see [`PathMode`]). If any operation fails, every change
/// already made is undone and `doc` is left exactly as it was (same values,
/// same member order); the error carries the failing operation's index.
///
/// * `test` compares with [`values_equal`](super::values_equal) (RFC 6902 §4.6);
///   a mismatch is [`PatchErrorKind::TestFailed`], a missing target
///   [`PatchErrorKind::PathNotFound`].
/// * `move` onto its own location is a no-op; `move` into a child of `from`
///   fails with [`PatchErrorKind::MoveIntoOwnChild`].
/// * `remove` of the whole document (`""`) is an invalid pointer.
///
/// Limits: the operation count is checked first, then the input document's
/// depth and size; after that every value written must fit within
/// `max_depth` at its location, and the document must stay within
/// `max_document_bytes` after every operation (sizes are tracked
/// incrementally, so a chain of `copy` operations cannot grow the document
/// unboundedly before failing).
///
/// # Errors
/// The first failure, as a [`PatchError`].
///
/// ```
/// use serde_json::json;
/// use switchboard_domain::json::{ApplyOptions, Operation, apply};
/// let mut doc = json!({"name": "Ada", "tags": ["a"]});
/// let ops = vec![
///     Operation::Add { path: "/tags/-".into(), value: json!("b") },
///     Operation::Test { path: "/name".into(), value: json!("Bob") },
/// ];
/// let err = apply(&mut doc, &ops, &ApplyOptions::default()).err();
/// assert!(err.is_some_and(|e| e.is_test_failure() && e.index == Some(1)));
/// assert_eq!(doc, json!({"name": "Ada", "tags": ["a"]})); // untouched
/// ```
pub fn apply(doc: &mut Value, ops: &[Operation], opts: &ApplyOptions) -> Result<(), PatchError> {
    engine::run(doc, ops, opts)
}
