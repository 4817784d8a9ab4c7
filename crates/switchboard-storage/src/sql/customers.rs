//! Customer rows.

use diesel::prelude::*;
use switchboard_domain::Customer;

use super::R;
use super::record::{self, Record};
use super::updates::CustomerUpdate;
use crate::connection::{DbConnection, native};
use crate::decoded::Decoded;
use crate::rows::{CustomerChanges, CustomerRow, CustomerWrite, DocumentRow, Weighed};
use crate::schema::customers;

#[diesel::dsl::auto_type]
fn one(tenant: i64, id: i64) -> _ {
    customers::table
        .filter(customers::tenant_id.eq(tenant))
        .filter(customers::id.eq(id))
}

pub(crate) fn insert(c: &mut DbConnection, w: &CustomerWrite) -> R<i64> {
    Ok(diesel::insert_into(customers::table)
        .values(w)
        .returning(customers::id)
        .get_result(c)?)
}

/// One customer of the tenant; with `lock`, locked for the rest of the
/// transaction (PostgreSQL `FOR UPDATE`; SQLite's writer holds the whole
/// database already).
pub(crate) fn load(c: &mut DbConnection, tenant: i64, id: i64, lock: bool) -> R<Option<Customer>> {
    let row = match c {
        DbConnection::Pg(c) if lock => one(tenant, id)
            .select(CustomerRow::as_select())
            .for_update()
            .get_result(c),
        c => native!(c, c => one(tenant, id).select(CustomerRow::as_select()).get_result(c)),
    };
    row.optional()?.map(TryInto::try_into).transpose()
}

/// One customer of the tenant, read outside any lock, with the length of
/// its stored document (what the document cache weighs it by).
pub(crate) fn load_sized(
    c: &mut DbConnection,
    tenant: i64,
    id: i64,
) -> R<Option<Weighed<Customer>>> {
    let row = native!(c, c => one(tenant, id).select(CustomerRow::as_select()).get_result(c));
    row.optional()?.map(CustomerRow::weighed).transpose()
}

/// The tenant's customers among `ids` (those that exist), in id order.
///
/// One statement text for any number of ids, so it is prepared once per
/// connection on both backends: the ids are one bound value (PostgreSQL
/// `= ANY(array)`; SQLite a JSON array read by `json_each`, where an `IN`
/// list of placeholders would be a new statement for each length), run on
/// the inner connection (`native!`).
pub(crate) fn by_ids(
    c: &mut DbConnection,
    memo: &Decoded,
    tenant: i64,
    ids: &[i64],
) -> R<Vec<Customer>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<CustomerRow> = match c {
        DbConnection::Pg(c) => customers::table
            .filter(customers::tenant_id.eq(tenant))
            .filter(customers::id.eq_any(ids))
            .order(customers::id)
            .select(CustomerRow::as_select())
            .load(c)?,
        DbConnection::Sqlite(c) => super::query::sqlite_customers_by_ids(c, tenant, ids)?,
    };
    rows.into_iter().map(|r| r.decode(memo)).collect()
}

pub(crate) fn id_by_user_id(c: &mut DbConnection, tenant: i64, user_id: &str) -> R<Option<i64>> {
    if user_id.contains('\0') {
        // As for session keys: never stored, and refused by PostgreSQL.
        return Ok(None);
    }
    Ok(customers::table
        .filter(customers::tenant_id.eq(tenant))
        .filter(customers::user_id.eq(user_id))
        .select(customers::id)
        .get_result(c)
        .optional()?)
}

/// Updates the row if it is still at `expected_version` and writes
/// `record` with it: `false` when another writer changed the row first,
/// and then the caller must roll the transaction back.
pub(crate) fn update(
    c: &mut DbConnection,
    tenant: i64,
    id: i64,
    expected_version: i64,
    changes: &CustomerChanges<'_>,
    record: &Record,
) -> R<bool> {
    let update = CustomerUpdate {
        tenant,
        id,
        version: expected_version,
        changes,
    };
    record::update_and_write(c, update, record)
}

/// Deletes the row if it is still at `version`; returns how many rows went.
pub(crate) fn delete(c: &mut DbConnection, tenant: i64, id: i64, version: i64) -> R<usize> {
    Ok(diesel::delete(one(tenant, id).filter(customers::version.eq(version))).execute(c)?)
}

/// A page of the tenant's customers with ids above `after_id`.
pub(crate) fn list(
    c: &mut DbConnection,
    tenant: i64,
    after_id: i64,
    limit: i64,
) -> R<Vec<Customer>> {
    customers::table
        .filter(customers::tenant_id.eq(tenant))
        .filter(customers::id.gt(after_id))
        .order(customers::id)
        .limit(limit)
        .select(CustomerRow::as_select())
        .load(c)?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
}
