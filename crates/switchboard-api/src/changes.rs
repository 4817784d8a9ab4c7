//! What this node does when a change reaches it from any node (see
//! `switchboard_storage::Change`): forget revoked keys and removed tenants,
//! and wake the local webhook worker.

use switchboard_storage::Change;
use tokio::sync::broadcast::error::RecvError;

use crate::AppState;

/// Applies one change to this node's caches and worker.
pub fn apply(state: &AppState, change: Change) {
    match change {
        Change::KeyRevoked { key, .. } => state.keys().forget_key(key),
        Change::TenantRemoved { tenant } => state.keys().forget_tenant(tenant),
        // Nothing caches subscriptions (fan-out reads them in its own
        // transaction); the worker looks again at once.
        Change::SubscriptionsChanged { .. } | Change::Committed => state.wakeup().notify(),
        // The store's attribute cache learnt it before it was published.
        Change::AttributesChanged { .. } => {}
        // Resync, and any change a newer version knows: drop what is cached.
        _ => {
            state.keys().clear();
            state.wakeup().notify();
        }
    }
}

/// Applies every change published on the store's feed until it closes.
/// Run it on a task next to the server: `tokio::spawn(follow(state))`.
pub async fn follow(state: AppState) {
    let mut changes = state.store().changes();
    loop {
        match changes.recv().await {
            Ok(change) => apply(&state, change),
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "the change feed lagged; dropping cached keys");
                apply(&state, Change::Resync);
            }
            Err(RecvError::Closed) => return,
        }
    }
}
