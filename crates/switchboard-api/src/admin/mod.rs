//! The admin API under `/admin/v1/…`: what the operator console manages
//! and integrators need — agents, departments, custom attributes, API
//! keys, tags, webhook subscriptions and the change history of customers
//! and conversations (see `docs/admin-api.md`).
//!
//! - [`wire`]: the JSON shapes (never domain types).
//! - [`routes`]: the handlers and their mounting.
//! - [`error`]: the one error envelope,
//!   `{"error": {"code": "…", "message": "…", "field": "…"}}`.
//!
//! Authentication is `Authorization: Bearer <key>`, as for the dialects.
//! Reads need the key's `admin.READ` scope, changes `admin.WRITE`; keys
//! created without explicit scopes have neither (see
//! [`Scope::DEFAULT`](switchboard_domain::Scope::DEFAULT)).

pub mod error;
pub mod routes;
pub mod wire;

pub use error::{Admin, AdminError};
