//! The HelpCrunch-style family: customers and chats, wire-compatible with
//! HelpCrunch's public REST API v1 (see `docs/dialects/helpcrunch.md`).
//!
//! - [`wire`]: HelpCrunch's exact JSON shapes.
//! - [`convert`]: wire ⇄ domain, exhaustively destructured.
//! - [`routes`]: the handlers and their mounting.
//! - [`search`]: list and search parameters → the domain's query.
//! - [`error`]: HelpCrunch's `{"errors": [...]}` envelope.

pub mod convert;
pub mod error;
pub mod page_json;
pub mod routes;
pub mod search;
pub mod wire;

pub use error::HelpCrunch;
