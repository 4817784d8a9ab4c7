//! # switchboard-storage
//!
//! Switchboard's domain on [Diesel](https://diesel.rs): embedded **SQLite**
//! (bundled; the default) or **PostgreSQL** (for several stateless API
//! nodes on one database). The same query code serves both backends.
//!
//! What it guarantees:
//! - **Tenant scoping.** Every read and write takes the tenant; another
//!   tenant's row behaves exactly like a missing row ([`StorageError::NotFound`]).
//! - **No lost updates.** Every change is a read-modify-write with
//!   optimistic concurrency on a `version` column and bounded
//!   reload-and-retry ([`Customers::modify`], [`Conversations::modify`]).
//!   The change closure may refuse with an error of the caller's own type
//!   ([`ModifyError::Rejected`]).
//! - **Transactional outbox.** A write, its [`DomainEvent`](switchboard_domain::DomainEvent)s
//!   and a change-history row commit together or not at all.
//! - **Claiming with leases** for delivery workers: `FOR UPDATE SKIP LOCKED`
//!   on PostgreSQL, the single writer on SQLite; expired leases are retaken,
//!   and a late report from an expired lease changes nothing.
//! - **Async boundary.** Every call is `async` and runs Diesel off the
//!   async executor; no call holds two connections.
//! - **Bulk import.** [`Customers::import`] and [`Conversations::import`]
//!   store many existing entities in one transaction, checked like creates
//!   and kept at their own times, without events or history (moving data in
//!   from a vendor being replaced; the query benchmark's million rows).
//!
//! The calls are grouped by area behind handles: [`Store::customers`],
//! [`Store::conversations`], [`Store::admin`], [`Store::webhooks`] and
//! [`Store::worker`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), switchboard_storage::StorageError> {
//! use switchboard_domain::{Actor, Conversation};
//! use switchboard_storage::{Precondition, Store, StoreConfig, WriteContext};
//!
//! let store = Store::open("sqlite://switchboard.db", StoreConfig::default()).await?;
//! let tenant = store.admin().create_tenant("acme").await?;
//! let ctx = WriteContext::new(tenant.clone(), Actor::System, "example");
//! let conversations = store.conversations();
//! let conv = conversations
//!     .create(&ctx, Conversation::new(tenant.id, "session-1", store.now()))
//!     .await?;
//! let updated = conversations
//!     .update(&ctx, conv.id, Precondition::NONE, |c| {
//!         c.visitor.email = Some("ada@example.com".into());
//!     })
//!     .await?;
//! assert_eq!(updated.version, 2);
//!
//! // A change that refuses with the caller's own error writes nothing.
//! let refused = conversations
//!     .modify(&ctx, conv.id, Precondition::version(2), |c| {
//!         if c.rating.is_none() {
//!             return Err("rate the conversation first");
//!         }
//!         Ok(())
//!     })
//!     .await;
//! assert!(matches!(refused, Err(switchboard_storage::ModifyError::Rejected(_))));
//! # Ok(()) }
//! ```
//!
//! See `examples/embed.rs` for a complete program.
//!
//! ## Building SQLite for the pool
//!
//! The bundled SQLite comes from `libsqlite3-sys`, compiled with the
//! settings of the build that embeds this crate. Its defaults are correct
//! but slower under concurrent reads: every call into a connection takes
//! that connection's mutex, every allocation a process-wide one, and every
//! page a B-tree step reads the one mutex of a page cache that all
//! connections share. Switchboard's workspace builds it without these,
//! which is safe because the store hands each connection to one thread at
//! a time; an application that embeds the store can do the same in its own
//! `.cargo/config.toml`:
//!
//! ```toml
//! [env]
//! LIBSQLITE3_FLAGS = "-USQLITE_THREADSAFE -DSQLITE_THREADSAFE=2 -DSQLITE_DEFAULT_MEMSTATUS=0 -USQLITE_ENABLE_MEMORY_MANAGEMENT"
//! ```
//!
//! (Without the last one `sqlite3_release_memory` frees nothing; this crate
//! does not call it.)

mod admin;
#[cfg(test)]
mod admission_tests;
mod attributes;
mod changes;
mod config;
mod connection;
pub mod console;
mod conversations;
mod customers;
mod decoded;
mod delivery;
mod directory;
#[cfg(test)]
mod directory_tests;
mod doc_cache;
mod engine;
mod error;
mod group_commit;
mod health;
mod history;
mod json_column;
pub mod keys;
mod maintenance;
#[cfg(test)]
mod migration_tests;
mod paging;
#[cfg(test)]
mod query_plan_tests;
mod rows;
mod schema;
pub mod secrets;
mod sql;
#[cfg(test)]
mod statement_cache_tests;
mod store;
mod webhooks;
mod worker;
mod write;

pub use admin::{Admin, AgentChange, CreatedKey};
pub use attributes::{MAX_TENANTS as ATTRIBUTE_CACHE_TENANTS, TTL as ATTRIBUTE_CACHE_TTL};
pub use changes::{CHANNEL as CHANGES_CHANNEL, Change, Listener};
pub use config::{Clock, DatabaseUrl, SQLITE_CACHE_BYTES, SqliteSync, StoreConfig, now};
pub use console::{Console, ConsoleSession, NewSession, SessionPolicy, SignIn};
pub use conversations::{Conversations, LinkSet};
pub use customers::Customers;
pub use decoded::DecodedStats;
pub use delivery::{
    AttemptOutcome, AttemptReport, Delivery, DeliveryAttempt, DeliveryId, DeliveryState,
    DueDelivery, FanOut, FanOutFailure, MAX_ERROR_BYTES, MAX_EXCERPT_BYTES, NextStep,
    OUTBOX_MAX_TRIES, OUTBOX_RETRY_DELAYS, QuarantinedEvent, Recorded, sanitize_text,
};
pub use directory::{
    MAX_ROWS as DIRECTORY_COPY_ROWS, MAX_ROWS_KEPT as DIRECTORY_COPY_ROWS_KEPT,
    MAX_TENANTS as DIRECTORY_COPY_TENANTS,
};
pub use doc_cache::DocCacheStats;
pub use error::StorageError;
pub use history::{HistoryEntry, OutboxEvent};
pub use maintenance::{Maintenance, PruneStep, Pruned, Pruner, Retention};
pub use paging::{CountedPage, MAX_OFFSET_CURSORS, OFFSET_CURSOR_TTL_MS, QueryPage};
pub use secrets::{SecretKey, SecretKeyError, SecretKeySource, SecretKeys};
pub use store::{Backend, READY_ANSWER_WITHIN, Store, UNREADY_AFTER_DISK_FULL};
pub use webhooks::Webhooks;
pub use worker::{PipelineGauges, Worker};
pub use write::{
    BatchError, ImportError, MAX_MODIFY_ATTEMPTS, ModifyError, Precondition, WriteContext,
};
