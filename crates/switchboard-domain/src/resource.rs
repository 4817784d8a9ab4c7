//! Applying document patches to entities through their canonical JSON.
//!
//! An entity is turned into its canonical JSON, the patch is applied to that
//! document (atomically), read-only members are checked to be unchanged, and
//! the document is turned back into the entity, reporting the JSON path of a
//! member of the wrong shape. The caller then validates the result.
//!
//! ```
//! use serde_json::json;
//! use switchboard_domain::json::{ApplyOptions, parse_patch};
//! use switchboard_domain::resource::apply_json_patch;
//! use switchboard_domain::{Conversation, DomainError, TenantId, Timestamp};
//!
//! let c = Conversation::new(TenantId::new(1), "s-1", Timestamp::from_millis(0));
//! let ops = parse_patch(&json!([
//!     {"op": "test", "path": "/status", "value": "new"},
//!     {"op": "replace", "path": "/visitor/email", "value": "ada@example.com"}
//! ]), &Default::default()).unwrap();
//! let patched = apply_json_patch(&c, &ops, &ApplyOptions::default()).unwrap();
//! assert_eq!(patched.visitor.email.as_deref(), Some("ada@example.com"));
//!
//! let ops = parse_patch(&json!([{"op": "replace", "path": "/version", "value": 9}]), &Default::default()).unwrap();
//! assert!(matches!(apply_json_patch(&c, &ops, &ApplyOptions::default()), Err(DomainError::ReadOnly { .. })));
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::json::{self, ApplyOptions, Operation};
use crate::{Conversation, Customer, DomainError};

/// An entity with a canonical JSON form and read-only members.
pub trait Resource: Serialize + DeserializeOwned {
    /// Top-level canonical member names that clients cannot change.
    const READ_ONLY: &'static [&'static str];
}

impl Resource for Customer {
    const READ_ONLY: &'static [&'static str] = Customer::READ_ONLY;
}

impl Resource for Conversation {
    const READ_ONLY: &'static [&'static str] = Conversation::READ_ONLY;
}

/// The canonical JSON of an entity.
pub fn to_document<R: Resource>(r: &R) -> Result<Value, DomainError> {
    serde_json::to_value(r).map_err(|e| DomainError::Shape {
        path: String::new(),
        message: e.to_string(),
    })
}

/// Turns a patched canonical document back into the entity, checking that
/// read-only members equal those of `original`.
pub fn from_document<R: Resource>(original: &Value, doc: Value) -> Result<R, DomainError> {
    for field in R::READ_ONLY {
        if original.get(field) != doc.get(field) {
            return Err(DomainError::ReadOnly {
                field: format!("/{field}"),
            });
        }
    }
    serde_path_to_error::deserialize(doc).map_err(|e| {
        let path = e.path().to_string();
        DomainError::Shape {
            path: pointer_from_serde_path(&path),
            message: crate::json::wording::plain(&e.into_inner().to_string()),
        }
    })
}

/// Applies RFC 6902 operations to an entity's canonical JSON.
pub fn apply_json_patch<R: Resource>(
    r: &R,
    ops: &[Operation],
    opts: &ApplyOptions,
) -> Result<R, DomainError> {
    let original = to_document(r)?;
    let mut doc = original.clone();
    json::apply(&mut doc, ops, opts)?;
    from_document(&original, doc)
}

/// Applies an RFC 7396 merge patch to an entity's canonical JSON.
pub fn apply_merge_patch<R: Resource>(r: &R, patch: &Value) -> Result<R, DomainError> {
    let original = to_document(r)?;
    let mut doc = original.clone();
    json::merge_patch(&mut doc, patch);
    from_document(&original, doc)
}

/// Converts serde_path_to_error's `a.b[2].c` into a JSON Pointer `/a/b/2/c`.
fn pointer_from_serde_path(path: &str) -> String {
    if path == "." || path.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    for segment in path.split('.') {
        let mut rest = segment;
        while !rest.is_empty() {
            if let Some(stripped) = rest.strip_prefix('[') {
                let end = stripped.find(']').unwrap_or(stripped.len());
                out.push('/');
                out.push_str(&stripped[..end]);
                rest = stripped.get(end + 1..).unwrap_or("");
            } else {
                let end = rest.find('[').unwrap_or(rest.len());
                out.push('/');
                out.push_str(&crate::validate::pointer_token(&rest[..end]));
                rest = &rest[end..];
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn serde_paths_become_pointers() {
        for (input, want) in [
            (".", ""),
            ("visitor.email", "/visitor/email"),
            ("agentIds[2]", "/agentIds/2"),
            ("tags[0].color", "/tags/0/color"),
        ] {
            assert_eq!(super::pointer_from_serde_path(input), want, "{input}");
        }
    }
}
