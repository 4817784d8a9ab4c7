//! Webhook subscriptions.

use diesel::prelude::*;
use switchboard_domain::WebhookSubscription;

use super::R;
use crate::connection::DbConnection;
use crate::rows::SubscriptionRow;
use crate::schema::webhook_subscriptions;

pub(crate) fn insert(c: &mut DbConnection, s: &WebhookSubscription) -> R<i64> {
    Ok(diesel::insert_into(webhook_subscriptions::table)
        .values((
            webhook_subscriptions::tenant_id.eq(s.tenant_id.get()),
            webhook_subscriptions::target_url.eq(&s.target_url),
            webhook_subscriptions::event.eq(s.event.as_str()),
            webhook_subscriptions::secret.eq(&s.secret),
            webhook_subscriptions::state.eq(s.state.as_str()),
            webhook_subscriptions::created_at.eq(s.created_at.as_millis()),
        ))
        .returning(webhook_subscriptions::id)
        .get_result(c)?)
}

pub(crate) fn list(c: &mut DbConnection, tenant: i64) -> R<Vec<WebhookSubscription>> {
    webhook_subscriptions::table
        .filter(webhook_subscriptions::tenant_id.eq(tenant))
        .order(webhook_subscriptions::id)
        .select(SubscriptionRow::as_select())
        .load(c)?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
}

/// One subscription of the tenant.
pub(crate) fn of_tenant(c: &mut DbConnection, tenant: i64, id: i64) -> R<Option<SubscriptionRow>> {
    Ok(webhook_subscriptions::table
        .filter(webhook_subscriptions::tenant_id.eq(tenant))
        .filter(webhook_subscriptions::id.eq(id))
        .select(SubscriptionRow::as_select())
        .get_result(c)
        .optional()?)
}

/// One subscription, whatever its tenant (for the worker).
pub(crate) fn by_id(c: &mut DbConnection, id: i64) -> R<Option<SubscriptionRow>> {
    Ok(webhook_subscriptions::table
        .find(id)
        .select(SubscriptionRow::as_select())
        .get_result(c)
        .optional()?)
}

/// Active subscriptions of any of `tenants` to any of `events`.
pub(crate) fn active(
    c: &mut DbConnection,
    tenants: &[i64],
    events: &[String],
) -> R<Vec<SubscriptionRow>> {
    Ok(webhook_subscriptions::table
        .filter(webhook_subscriptions::tenant_id.eq_any(tenants))
        .filter(webhook_subscriptions::event.eq_any(events))
        .filter(webhook_subscriptions::state.eq("active"))
        .order(webhook_subscriptions::id)
        .select(SubscriptionRow::as_select())
        .load(c)?)
}

/// Deletes one subscription of the tenant (its deliveries go with it).
pub(crate) fn delete_of_tenant(c: &mut DbConnection, tenant: i64, id: i64) -> R<usize> {
    Ok(diesel::delete(
        webhook_subscriptions::table
            .filter(webhook_subscriptions::tenant_id.eq(tenant))
            .filter(webhook_subscriptions::id.eq(id)),
    )
    .execute(c)?)
}

/// Deletes a subscription (a receiver answered 410 Gone).
pub(crate) fn delete(c: &mut DbConnection, id: i64) -> R<usize> {
    Ok(diesel::delete(webhook_subscriptions::table.find(id)).execute(c)?)
}

/// The subscriptions `ids` (those that exist), in id order; on PostgreSQL
/// locked `FOR KEY SHARE` for the caller's transaction, which takes them
/// before it touches their deliveries. Deleting a subscription locks it
/// first and then its deliveries (the cascade), so taking the subscription
/// first too keeps one lock order and the two cannot deadlock. SQLite's
/// single writer needs no lock.
pub(crate) fn lock_and_load(c: &mut DbConnection, ids: &[i64]) -> R<Vec<SubscriptionRow>> {
    let rows = webhook_subscriptions::table
        .filter(webhook_subscriptions::id.eq_any(ids))
        .order(webhook_subscriptions::id);
    Ok(match c {
        DbConnection::Pg(c) => rows
            .select(SubscriptionRow::as_select())
            .for_key_share()
            .load(c)?,
        DbConnection::Sqlite(c) => rows.select(SubscriptionRow::as_select()).load(c)?,
    })
}

pub(crate) fn set_failing_since(c: &mut DbConnection, id: i64, since: Option<i64>) -> R<usize> {
    Ok(diesel::update(webhook_subscriptions::table.find(id))
        .set(webhook_subscriptions::failing_since.eq(since))
        .execute(c)?)
}

pub(crate) fn disable(c: &mut DbConnection, id: i64) -> R<usize> {
    Ok(diesel::update(webhook_subscriptions::table.find(id))
        .set(webhook_subscriptions::state.eq("disabled"))
        .execute(c)?)
}

/// Makes the tenant's subscription `id` active again, its failing period
/// forgotten; returns how many rows changed (0: not the tenant's).
pub(crate) fn enable(c: &mut DbConnection, tenant: i64, id: i64) -> R<usize> {
    Ok(diesel::update(
        webhook_subscriptions::table
            .filter(webhook_subscriptions::tenant_id.eq(tenant))
            .filter(webhook_subscriptions::id.eq(id)),
    )
    .set((
        webhook_subscriptions::state.eq("active"),
        webhook_subscriptions::failing_since.eq(None::<i64>),
    ))
    .execute(c)?)
}

pub(crate) fn rotate_secret(
    c: &mut DbConnection,
    tenant: i64,
    id: i64,
    secret: &str,
    previous: &str,
    expires_at: i64,
) -> R<usize> {
    Ok(diesel::update(
        webhook_subscriptions::table
            .filter(webhook_subscriptions::tenant_id.eq(tenant))
            .filter(webhook_subscriptions::id.eq(id)),
    )
    .set((
        webhook_subscriptions::secret.eq(secret),
        webhook_subscriptions::previous_secret.eq(Some(previous)),
        webhook_subscriptions::previous_secret_expires_at.eq(Some(expires_at)),
    ))
    .execute(c)?)
}

/// The stored secrets of a subscription (for the secret migration).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_subscriptions)]
pub(crate) struct SecretsRow {
    pub id: i64,
    pub tenant_id: i64,
    pub secret: String,
    pub previous_secret: Option<String>,
}

/// Up to `limit` subscriptions' secrets with an id above `after`, in id order.
pub(crate) fn secrets_page(c: &mut DbConnection, after: i64, limit: i64) -> R<Vec<SecretsRow>> {
    Ok(webhook_subscriptions::table
        .filter(webhook_subscriptions::id.gt(after))
        .order(webhook_subscriptions::id)
        .limit(limit)
        .select(SecretsRow::as_select())
        .load(c)?)
}

/// Rewrites a subscription's stored secrets, each only if it still holds
/// the value read (a concurrent rotation wins); returns how many changed.
pub(crate) fn replace_secrets(
    c: &mut DbConnection,
    row: &SecretsRow,
    secret: Option<&str>,
    previous: Option<&str>,
) -> R<usize> {
    let mut n = 0;
    if let Some(secret) = secret {
        n += diesel::update(
            webhook_subscriptions::table
                .filter(webhook_subscriptions::id.eq(row.id))
                .filter(webhook_subscriptions::secret.eq(&row.secret)),
        )
        .set(webhook_subscriptions::secret.eq(secret))
        .execute(c)?;
    }
    if let (Some(previous), Some(old)) = (previous, &row.previous_secret) {
        n += diesel::update(
            webhook_subscriptions::table
                .filter(webhook_subscriptions::id.eq(row.id))
                .filter(webhook_subscriptions::previous_secret.eq(old)),
        )
        .set(webhook_subscriptions::previous_secret.eq(previous))
        .execute(c)?;
    }
    Ok(n)
}
