//! A pure, no-I/O JSON document engine on [`serde_json::Value`].
//!
//! * [`pointer`](mod@pointer): RFC 6901 JSON Pointers, with a [`PathMode::Strict`] and a
//!   [`PathMode::Lenient`] (SuperOffice: case-insensitive, optional leading `/`)
//!   resolution mode;
//! * [`patch`]: RFC 6902 JSON Patch — [`Operation`], [`parse_patch`] and an
//!   atomic [`apply`];
//! * [`equal`]: RFC 6902 §4.6 equality, [`values_equal`];
//! * [`merge`]: RFC 7396 JSON Merge Patch ([`merge_patch`]) and its translation
//!   to JSON Patch ([`merge_to_operations`]);
//! * [`diff`](mod@diff): [`diff()`] between two documents;
//! * [`project`]: `$select` projection ([`Projection`]);
//! * [`limits`]: [`Limits`] on operation count, document size and depth;
//! * [`error`]: [`PatchError`] and [`PatchErrorKind`].
//!
//! # Examples
//!
//! Parse and apply a JSON Patch; a failure leaves the document untouched:
//!
//! ```
//! use serde_json::json;
//! use switchboard_domain::json::{ApplyOptions, Limits, PatchErrorKind, apply, parse_patch};
//!
//! let mut doc = json!({"Status": "open", "User": {"Name": "Ada"}});
//! let patch = parse_patch(
//!     &json!([
//!         {"op": "test", "path": "/Status", "value": "open"},
//!         {"op": "replace", "path": "/Status", "value": "closed"},
//!         {"op": "remove", "path": "/User/Missing"}
//!     ]),
//!     &Limits::default(),
//! )?;
//! let err = apply(&mut doc, &patch, &ApplyOptions::default()).unwrap_err();
//! assert_eq!(err.index, Some(2));
//! assert!(matches!(err.kind, PatchErrorKind::PathNotFound { .. }));
//! assert_eq!(err.to_string(), "operation 2 (/User/Missing): path not found");
//! assert_eq!(doc["Status"], "open");
//! # Ok::<(), switchboard_domain::json::PatchError>(())
//! ```
//!
//! Lenient paths, as the SuperOffice dialect sends them:
//!
//! ```
//! use serde_json::json;
//! use switchboard_domain::json::{ApplyOptions, Operation, PathMode, apply};
//!
//! let mut doc = json!({"Department": "Sales", "User": {"Name": "Ada"}});
//! let ops = vec![
//!     Operation::Replace { path: "department".into(), value: json!("Support") },
//!     Operation::Add { path: "user/name".into(), value: json!("Bob") },
//! ];
//! let opts = ApplyOptions { mode: PathMode::Lenient, ..ApplyOptions::default() };
//! apply(&mut doc, &ops, &opts)?;
//! // Existing members keep their casing; no second key is created.
//! assert_eq!(doc, json!({"Department": "Support", "User": {"Name": "Bob"}}));
//! # Ok::<(), switchboard_domain::json::PatchError>(())
//! ```

pub mod diff;
mod engine;
pub mod equal;
pub mod error;
pub mod heap;
pub mod limits;
pub mod merge;
pub mod patch;
pub mod pointer;
pub mod project;
pub mod wording;

pub use diff::{diff, diff_under};
pub use equal::{values_equal, values_identical};
pub use error::{PatchError, PatchErrorKind};
pub use heap::{MAX_FREE_FORM_CONTAINERS, container_bytes, containers};
pub use limits::{
    LimitKind, Limits, MAX_VALUE_BYTES, MAX_VALUE_DEPTH, check_document, check_value,
};
pub use merge::{merge_patch, merge_to_operations};
pub use patch::{ApplyOptions, Operation, apply, parse_patch};
pub use pointer::{PathMode, escape_token, parse_pointer, resolve, resolve_mut};
pub use project::{Projection, ProjectionError};
