//! # switchboard-storage
//!
//! Switchboard's domain on [Diesel](https://diesel.rs): embedded **SQLite**
//! (bundled; the default) or **PostgreSQL** (for several stateless API
//! nodes on one database). The same query code serves both backends.
//!
//! What it guarantees:
//! - **Tenant scoping.** Every read and write takes the tenant; another
//!   tenant's row behaves exactly like a missing row ([`StorageError::NotFound`]).
//! - **No lost updates.** [`Store::modify_conversation`] and
//!   [`Store::modify_customer`] are read-modify-write with optimistic
//!   concurrency on a `version` column, with bounded reload-and-retry.
//! - **Transactional outbox.** A write, its [`DomainEvent`](switchboard_domain::DomainEvent)s
//!   and a change-history row commit together or not at all.
//! - **Claiming with leases** for delivery workers: `FOR UPDATE SKIP LOCKED`
//!   on PostgreSQL, the single writer on SQLite; expired leases are retaken.
//! - **Async boundary.** Every method is `async` and runs Diesel on Tokio's
//!   blocking pool; no call holds two connections.
//!
//! ```no_run
//! # async fn demo() -> Result<(), switchboard_storage::StorageError> {
//! use switchboard_domain::{Actor, Conversation, Timestamp};
//! use switchboard_storage::{Precondition, Store, StoreConfig, WriteContext};
//!
//! let store = Store::open("sqlite://switchboard.db", StoreConfig::default()).await?;
//! let tenant = store.create_tenant("acme").await?;
//! let ctx = WriteContext::new(tenant.clone(), Actor::System, "example");
//! let conv = store
//!     .create_conversation(&ctx, Conversation::new(tenant.id, "session-1", Timestamp::from_millis(0)))
//!     .await?;
//! let updated = store
//!     .modify_conversation(&ctx, conv.id, Precondition::NONE, |c| {
//!         c.visitor.email = Some("ada@example.com".into());
//!         Ok(())
//!     })
//!     .await?;
//! assert_eq!(updated.version, 2);
//! # Ok(()) }
//! ```
//!
//! See `examples/embed.rs` for a complete program.

mod connection;
mod delivery;
mod delivery_repo;
mod error;
mod group_commit;
mod json_column;
pub mod keys;
mod repo;
mod rows;
pub mod schema;
mod store;

pub use connection::{DatabaseUrl, SqliteSync, StoreConfig};
pub use delivery::{
    AttemptOutcome, AttemptReport, Delivery, DeliveryAttempt, DeliveryId, DeliveryState,
    DueDelivery, FanOut, NextStep, ParseDeliveryIdError, Recorded,
};
pub use error::StorageError;
pub use store::{
    CreatedKey, HistoryEntry, MAX_MODIFY_ATTEMPTS, OutboxEvent, Precondition, Store, WriteContext,
    now,
};
