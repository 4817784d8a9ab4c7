//! Tenants and their API keys.

use diesel::prelude::*;
use switchboard_domain::{ApiKey, Tenant};

use super::R;
use crate::connection::DbConnection;
use crate::json_column::JsonValue;
use crate::rows::{ApiKeyRow, TenantRow};
use crate::schema::{api_keys, change_history, outbox, tenants};

pub(crate) fn insert_tenant(c: &mut DbConnection, name: &str, now: i64) -> R<Tenant> {
    let id: i64 = diesel::insert_into(tenants::table)
        .values((tenants::name.eq(name), tenants::created_at.eq(now)))
        .returning(tenants::id)
        .get_result(c)?;
    Ok(TenantRow {
        id,
        name: name.to_string(),
        created_at: now,
    }
    .into())
}

pub(crate) fn tenant_by_name(c: &mut DbConnection, name: &str) -> R<Option<Tenant>> {
    Ok(tenants::table
        .filter(tenants::name.eq(name))
        .select(TenantRow::as_select())
        .get_result(c)
        .optional()?
        .map(Into::into))
}

pub(crate) fn tenant_by_id(c: &mut DbConnection, id: i64) -> R<Option<Tenant>> {
    Ok(tenants::table
        .find(id)
        .select(TenantRow::as_select())
        .get_result(c)
        .optional()?
        .map(Into::into))
}

/// Whether the database holds any tenant.
pub(crate) fn any_tenant(c: &mut DbConnection) -> R<bool> {
    Ok(tenants::table
        .select(tenants::id)
        .first::<i64>(c)
        .optional()?
        .is_some())
}

/// A new key's stored columns.
pub(crate) struct NewKey<'a> {
    pub tenant: i64,
    pub name: &'a str,
    pub prefix: &'a str,
    pub hash: &'a str,
    pub scopes: &'a JsonValue,
    pub now: i64,
}

pub(crate) fn insert_api_key(c: &mut DbConnection, k: &NewKey<'_>) -> R<ApiKey> {
    let id: i64 = diesel::insert_into(api_keys::table)
        .values((
            api_keys::tenant_id.eq(k.tenant),
            api_keys::name.eq(k.name),
            api_keys::prefix.eq(k.prefix),
            api_keys::secret_hash.eq(k.hash),
            api_keys::scopes.eq(k.scopes),
            api_keys::created_at.eq(k.now),
        ))
        .returning(api_keys::id)
        .get_result(c)?;
    ApiKeyRow {
        id,
        tenant_id: k.tenant,
        name: k.name.to_string(),
        prefix: k.prefix.to_string(),
        secret_hash: k.hash.to_string(),
        scopes: k.scopes.clone(),
        created_at: k.now,
    }
    .try_into()
}

pub(crate) fn api_key_by_prefix(c: &mut DbConnection, prefix: &str) -> R<Option<ApiKey>> {
    api_keys::table
        .filter(api_keys::prefix.eq(prefix))
        .select(ApiKeyRow::as_select())
        .get_result(c)
        .optional()?
        .map(TryInto::try_into)
        .transpose()
}

/// Deletes a tenant and every row it owns. The database cascades to all
/// but the outbox and the history, which on PostgreSQL have no foreign key
/// to the tenant (every write appends to both, and the key's row lock on
/// the tenant cost more than the rows: migration
/// `2026-12-05-000101_outbox_history_unlocked`), so they are deleted here,
/// in the caller's transaction, after the tenant's row. Only writes of the
/// tenant's customers and conversations append to them, and deleting the
/// tenant's row waits for those in flight (a create's foreign-key lock on
/// the tenant, an update's row lock that the cascade meets); a later one
/// fails with nothing committed (its row is gone, or its tenant). So each
/// delete below sees every row that was committed: on PostgreSQL a
/// statement reads a snapshot taken when it starts, and on SQLite, with
/// one writer, the cascade has already deleted them.
pub(crate) fn delete_tenant(c: &mut DbConnection, id: i64) -> R<usize> {
    let deleted = diesel::delete(tenants::table.find(id)).execute(c)?;
    if deleted > 0 {
        diesel::delete(outbox::table.filter(outbox::tenant_id.eq(id))).execute(c)?;
        diesel::delete(change_history::table.filter(change_history::tenant_id.eq(id)))
            .execute(c)?;
    }
    Ok(deleted)
}

pub(crate) fn api_keys(c: &mut DbConnection, tenant: i64) -> R<Vec<ApiKey>> {
    api_keys::table
        .filter(api_keys::tenant_id.eq(tenant))
        .order(api_keys::id)
        .select(ApiKeyRow::as_select())
        .load(c)?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
}

pub(crate) fn delete_api_key(c: &mut DbConnection, tenant: i64, id: i64) -> R<usize> {
    Ok(diesel::delete(
        api_keys::table
            .filter(api_keys::tenant_id.eq(tenant))
            .filter(api_keys::id.eq(id)),
    )
    .execute(c)?)
}
