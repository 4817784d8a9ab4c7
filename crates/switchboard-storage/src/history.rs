//! What records a change: the change history and the outbox events.

use switchboard_domain::{
    Actor, DomainEvent, EntityKind, EventId, TenantId, Timestamp, json::Operation,
};

use crate::sql;
use crate::{StorageError, Store};

/// One row of the change history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// Row id (increasing).
    pub id: i64,
    /// Who made the change.
    pub actor: Actor,
    /// Through which API.
    pub api: String,
    /// RFC 6902 diff from the old to the new canonical JSON.
    pub diff: Vec<Operation>,
    /// Version before (`None` on create).
    pub version_before: Option<i64>,
    /// Version after (`None` on delete).
    pub version_after: Option<i64>,
    /// When.
    pub at: Timestamp,
}

/// An event read back from the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// Outbox row id (increasing in commit order per backend sequence).
    pub id: EventId,
    /// The event.
    pub event: DomainEvent,
    /// When it becomes due for processing.
    pub available_at: Timestamp,
    /// The worker that fanned it out.
    pub claimed_by: Option<String>,
    /// When it was fanned out to its deliveries.
    pub processed_at: Option<Timestamp>,
}

/// One entity's change history, newest first (at most `limit`, 1-1000).
pub(crate) async fn entries(
    store: &Store,
    tenant: TenantId,
    kind: EntityKind,
    id: i64,
    limit: u32,
) -> Result<Vec<HistoryEntry>, StorageError> {
    page(store, tenant, kind, id, None, limit).await
}

/// One entity's change history, newest first, from below the row id
/// `before` (at most `limit`, 1-1000). A page is a read of the
/// `(tenant_id, entity_kind, entity_id, id)` index from where the last
/// one stopped.
pub(crate) async fn page(
    store: &Store,
    tenant: TenantId,
    kind: EntityKind,
    id: i64,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<HistoryEntry>, StorageError> {
    let limit = i64::from(limit.clamp(1, 1000));
    store
        .run(move |c| sql::record::history(c, tenant.get(), kind, id, before, limit))
        .await?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
}

/// Every outbox event of one entity, oldest first (processed or not).
pub(crate) async fn events(
    store: &Store,
    tenant: TenantId,
    kind: EntityKind,
    id: i64,
) -> Result<Vec<OutboxEvent>, StorageError> {
    store
        .run(move |c| sql::outbox::of_entity(c, tenant.get(), kind, id))
        .await?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
}
