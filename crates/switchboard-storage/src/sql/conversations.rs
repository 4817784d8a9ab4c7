//! Conversation rows.

use diesel::prelude::*;
use switchboard_domain::{Conversation, Customer};

use super::R;
use super::record::{self, Record};
use super::updates::ConversationUpdate;
use crate::connection::{DbConnection, native};
use crate::rows::{ConversationChanges, ConversationRow, ConversationWrite, CustomerRow, Weighed};
use crate::schema::{conversations, customers};

#[diesel::dsl::auto_type]
fn one(tenant: i64, id: i64) -> _ {
    conversations::table
        .filter(conversations::tenant_id.eq(tenant))
        .filter(conversations::id.eq(id))
}

pub(crate) fn insert(c: &mut DbConnection, w: &ConversationWrite) -> R<i64> {
    Ok(diesel::insert_into(conversations::table)
        .values(w)
        .returning(conversations::id)
        .get_result(c)?)
}

/// One conversation of the tenant; with `lock`, locked for the rest of the
/// transaction (PostgreSQL `FOR UPDATE`; SQLite's writer holds the whole
/// database already).
pub(crate) fn load(
    c: &mut DbConnection,
    tenant: i64,
    id: i64,
    lock: bool,
) -> R<Option<Conversation>> {
    let row = match c {
        DbConnection::Pg(c) if lock => one(tenant, id)
            .select(ConversationRow::as_select())
            .for_update()
            .get_result(c),
        c => native!(c, c => one(tenant, id).select(ConversationRow::as_select()).get_result(c)),
    };
    row.optional()?.map(TryInto::try_into).transpose()
}

/// One conversation of the tenant and the customer it links to (with the
/// length of the customer's stored document), in one statement, outside
/// any lock.
pub(crate) fn load_with_customer(
    c: &mut DbConnection,
    tenant: i64,
    id: i64,
) -> R<Option<(Conversation, Option<Weighed<Customer>>)>> {
    let row: Option<(ConversationRow, Option<CustomerRow>)> = native!(c, c => one(tenant, id)
        .left_join(
            customers::table.on(customers::id
                .nullable()
                .eq(conversations::customer_id)
                .and(customers::tenant_id.eq(conversations::tenant_id))),
        )
        .select((ConversationRow::as_select(), Option::<CustomerRow>::as_select()))
        .get_result(c))
    .optional()?;
    let Some((conv, customer)) = row else {
        return Ok(None);
    };
    let customer = customer.map(CustomerRow::weighed).transpose()?;
    Ok(Some((conv.try_into()?, customer)))
}

pub(crate) fn id_by_session_key(c: &mut DbConnection, tenant: i64, key: &str) -> R<Option<i64>> {
    if key.contains('\0') {
        // No stored key holds a NUL (the rules refuse it), and PostgreSQL
        // refuses one even as a parameter.
        return Ok(None);
    }
    Ok(native!(c, c => conversations::table
        .filter(conversations::tenant_id.eq(tenant))
        .filter(conversations::session_key.eq(key))
        .select(conversations::id)
        .get_result(c)
        .optional()?))
}

/// Updates row `id` if it is still at `expected_version` and still links
/// the customer of `linked` (`None`: none), and writes `record` with it:
/// `false` when another writer changed the row first, and then the caller
/// must roll the transaction back.
///
/// The customer link is checked because it is the one column that changes
/// without a new version: `ON DELETE SET NULL` clears it when the customer
/// is deleted. A write planned on a copy read before that (or on the
/// document cache's copy, `doc_cache`) must not pass as current. When the
/// change saw the customer (`linked`'s version), the customer must still be
/// at that version too, in the same statement: a change planned on the
/// cache's copy of the customer is then as current as one planned on a
/// fresh read.
pub(crate) fn update(
    c: &mut DbConnection,
    tenant: i64,
    (id, expected_version): (i64, i64),
    linked: Option<(i64, Option<i64>)>,
    changes: &ConversationChanges<'_>,
    record: &Record,
) -> R<bool> {
    let update = ConversationUpdate {
        tenant,
        id,
        version: expected_version,
        linked,
        changes,
    };
    record::update_and_write(c, update, record)
}

/// Deletes the row if it is still at `version`; returns how many rows went.
pub(crate) fn delete(c: &mut DbConnection, tenant: i64, id: i64, version: i64) -> R<usize> {
    Ok(diesel::delete(one(tenant, id).filter(conversations::version.eq(version))).execute(c)?)
}

/// A page of the tenant's conversations in any of `statuses` (all when
/// empty), newest first.
pub(crate) fn list(
    c: &mut DbConnection,
    tenant: i64,
    statuses: &[&str],
    offset: i64,
    limit: i64,
) -> R<Vec<Conversation>> {
    let mut q = conversations::table
        .filter(conversations::tenant_id.eq(tenant))
        .select(ConversationRow::as_select())
        .order(conversations::id.desc())
        .offset(offset)
        .limit(limit)
        .into_boxed();
    if !statuses.is_empty() {
        q = q.filter(conversations::status.eq_any(statuses.to_vec()));
    }
    q.load(c)?.into_iter().map(TryInto::try_into).collect()
}
