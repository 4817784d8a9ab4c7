//! The Zoho SalesIQ-style family: conversations under `/api/v2/{screen_name}/`,
//! faithful to SalesIQ REST API v2 (see `docs/dialects/zoho-salesiq.md`).

pub mod convert;
pub mod error;
pub mod routes;
pub mod search;
pub mod wire;

pub use error::Zoho;
