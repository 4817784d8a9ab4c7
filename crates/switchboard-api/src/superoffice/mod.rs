//! The SuperOffice WebAPI-style family: `ChatSession` entities with JSON
//! Patch and Merge Patch, case-insensitive paths, `$select`, preconditions,
//! time zones, XML, and the OData list (see `docs/dialects/superoffice.md`).

pub mod convert;
pub mod error;
pub mod negotiate;
pub mod odata;
pub mod patch;
pub mod routes;
pub mod time;
pub mod xml;

pub use error::SuperOffice;
