//! What a tenant sets up once and conversations refer to: agents,
//! departments, custom attribute definitions and the tag list.

use diesel::prelude::*;
use switchboard_domain::{Agent, AttributeSet, CustomAttribute, Department, Tag};

use super::R;
use crate::connection::{DbConnection, native};
use crate::rows::{AgentRow, AttributeRow, DepartmentRow, TagRow};
use crate::schema::{agents, custom_attributes, departments, tags};

pub(crate) fn insert_agent(
    c: &mut DbConnection,
    tenant: i64,
    name: &str,
    email: &str,
    role: &str,
) -> R<Agent> {
    let id: i64 = diesel::insert_into(agents::table)
        .values((
            agents::tenant_id.eq(tenant),
            agents::name.eq(name),
            agents::email.eq(email),
            agents::role.eq(role),
        ))
        .returning(agents::id)
        .get_result(c)?;
    Ok(AgentRow {
        id,
        tenant_id: tenant,
        name: name.to_string(),
        email: email.to_string(),
        role: role.to_string(),
    }
    .into())
}

/// The tenant's agents, in id order: those among `ids` (that exist), or
/// all of them with `None`.
pub(crate) fn agents(c: &mut DbConnection, tenant: i64, ids: Option<&[i64]>) -> R<Vec<Agent>> {
    if ids.is_some_and(<[i64]>::is_empty) {
        return Ok(Vec::new());
    }
    let mut q = agents::table
        .filter(agents::tenant_id.eq(tenant))
        .order(agents::id)
        .select(AgentRow::as_select())
        .into_boxed();
    if let Some(ids) = ids {
        q = q.filter(agents::id.eq_any(ids));
    }
    Ok(q.load(c)?.into_iter().map(Into::into).collect())
}

pub(crate) fn agent_by_id(c: &mut DbConnection, tenant: i64, id: i64) -> R<Option<Agent>> {
    let row: Option<AgentRow> = native!(c, c => agents::table
        .filter(agents::tenant_id.eq(tenant))
        .filter(agents::id.eq(id))
        .select(AgentRow::as_select())
        .get_result(c)
        .optional()?);
    Ok(row.map(Into::into))
}

/// Whether the tenant has agent `id`, for a conversation write that links
/// it. On PostgreSQL the row is locked `FOR KEY SHARE` until the write
/// commits, so a concurrent [`delete_agent`] waits for it (and then sees
/// the link), or the link waits for the delete (and then finds no agent).
pub(crate) fn agent_for_link(c: &mut DbConnection, tenant: i64, id: i64) -> R<bool> {
    let one = agents::table
        .filter(agents::tenant_id.eq(tenant))
        .filter(agents::id.eq(id))
        .select(agents::id);
    Ok(match c {
        DbConnection::Pg(c) => one.for_key_share().get_result::<i64>(c).optional()?,
        DbConnection::Sqlite(c) => one.get_result::<i64>(c).optional()?,
    }
    .is_some())
}

/// Whether the tenant has department `id`, for a conversation write that
/// links it; locked like [`agent_for_link`].
pub(crate) fn department_for_link(c: &mut DbConnection, tenant: i64, id: i64) -> R<bool> {
    let one = departments::table
        .filter(departments::tenant_id.eq(tenant))
        .filter(departments::id.eq(id))
        .select(departments::id);
    Ok(match c {
        DbConnection::Pg(c) => one.for_key_share().get_result::<i64>(c).optional()?,
        DbConnection::Sqlite(c) => one.get_result::<i64>(c).optional()?,
    }
    .is_some())
}

pub(crate) fn insert_department(c: &mut DbConnection, tenant: i64, name: &str) -> R<Department> {
    let id: i64 = diesel::insert_into(departments::table)
        .values((
            departments::tenant_id.eq(tenant),
            departments::name.eq(name),
        ))
        .returning(departments::id)
        .get_result(c)?;
    Ok(DepartmentRow {
        id,
        tenant_id: tenant,
        name: name.to_string(),
    }
    .into())
}

/// The tenant's departments, in id order: those among `ids` (that exist), or
/// all of them with `None`.
pub(crate) fn departments(
    c: &mut DbConnection,
    tenant: i64,
    ids: Option<&[i64]>,
) -> R<Vec<Department>> {
    if ids.is_some_and(<[i64]>::is_empty) {
        return Ok(Vec::new());
    }
    let mut q = departments::table
        .filter(departments::tenant_id.eq(tenant))
        .order(departments::id)
        .select(DepartmentRow::as_select())
        .into_boxed();
    if let Some(ids) = ids {
        q = q.filter(departments::id.eq_any(ids));
    }
    Ok(q.load(c)?.into_iter().map(Into::into).collect())
}

pub(crate) fn department_by_id(
    c: &mut DbConnection,
    tenant: i64,
    id: i64,
) -> R<Option<Department>> {
    let row: Option<DepartmentRow> = native!(c, c => departments::table
        .filter(departments::tenant_id.eq(tenant))
        .filter(departments::id.eq(id))
        .select(DepartmentRow::as_select())
        .get_result(c)
        .optional()?);
    Ok(row.map(Into::into))
}

/// Records tags in the tenant's tag list; existing names are kept as they are.
pub(crate) fn ensure_tags<'a>(
    c: &mut DbConnection,
    tenant: i64,
    new: impl IntoIterator<Item = &'a Tag>,
) -> R<()> {
    let rows: Vec<_> = new
        .into_iter()
        .map(|tag| {
            (
                tags::tenant_id.eq(tenant),
                tags::name.eq(&tag.name),
                tags::color.eq(&tag.color),
            )
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    native!(c, c => diesel::insert_into(tags::table)
        .values(&rows)
        .on_conflict((tags::tenant_id, tags::name))
        .do_nothing()
        .execute(c))?;
    Ok(())
}

/// The colors of the tenant's tags among `names` (those that exist).
pub(crate) fn tag_colors(
    c: &mut DbConnection,
    tenant: i64,
    names: &[&str],
) -> R<Vec<(String, String)>> {
    // No stored name holds a NUL (the rules refuse it), and PostgreSQL
    // refuses one even as a parameter.
    let names: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !n.contains('\0'))
        .collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    Ok(native!(c, c => tags::table
        .filter(tags::tenant_id.eq(tenant))
        .filter(tags::name.eq_any(&names))
        .select((tags::name, tags::color))
        .load(c)?))
}

pub(crate) fn list_tags(c: &mut DbConnection, tenant: i64) -> R<Vec<Tag>> {
    Ok(tags::table
        .filter(tags::tenant_id.eq(tenant))
        .order(tags::id)
        .select(TagRow::as_select())
        .load(c)?
        .into_iter()
        .map(Into::into)
        .collect())
}

pub(crate) fn insert_attribute(c: &mut DbConnection, a: &CustomAttribute) -> R<()> {
    diesel::insert_into(custom_attributes::table)
        .values((
            custom_attributes::tenant_id.eq(a.tenant_id.get()),
            custom_attributes::name.eq(&a.name),
            custom_attributes::kind.eq(a.kind.as_str()),
            custom_attributes::label.eq(&a.label),
        ))
        .execute(c)?;
    Ok(())
}

/// SQLite: the tenant's attribute stamp, which triggers count up on every
/// change of its definitions (0 before the first). One primary-key lookup,
/// a prepared statement kept by the connection.
pub(crate) fn attributes_stamp(c: &mut DbConnection, tenant: i64) -> R<i64> {
    use crate::schema::attribute_stamps;
    let stamp: Option<i64> = native!(c, c => attribute_stamps::table
        .find(tenant)
        .select(attribute_stamps::stamp)
        .first(c)
        .optional()?);
    Ok(stamp.unwrap_or(0))
}

/// The tenant's custom attribute definitions, by name (read by a customer
/// write or a search whose cached definitions are not current, so run
/// natively; see `crate::attributes`).
pub(crate) fn attributes(c: &mut DbConnection, tenant: i64) -> R<AttributeSet> {
    let rows: Vec<AttributeRow> = native!(c, c => custom_attributes::table
        .filter(custom_attributes::tenant_id.eq(tenant))
        .order(custom_attributes::name)
        .select(AttributeRow::as_select())
        .load(c)?);
    rows.into_iter()
        .map(|r| CustomAttribute::try_from(r).map(|a| (a.name.clone(), a)))
        .collect()
}

/// Changes an agent's name, email and role; `None` when the tenant has no
/// such agent.
pub(crate) fn update_agent(
    c: &mut DbConnection,
    tenant: i64,
    id: i64,
    name: &str,
    email: &str,
    role: &str,
) -> R<Option<Agent>> {
    let n = diesel::update(
        agents::table
            .filter(agents::tenant_id.eq(tenant))
            .filter(agents::id.eq(id)),
    )
    .set((
        agents::name.eq(name),
        agents::email.eq(email),
        agents::role.eq(role),
    ))
    .execute(c)?;
    if n == 0 {
        return Ok(None);
    }
    agent_by_id(c, tenant, id)
}

/// Deletes an agent (its console sessions go with it); whether it existed.
pub(crate) fn delete_agent(c: &mut DbConnection, tenant: i64, id: i64) -> R<bool> {
    Ok(diesel::delete(
        agents::table
            .filter(agents::tenant_id.eq(tenant))
            .filter(agents::id.eq(id)),
    )
    .execute(c)?
        > 0)
}

/// Deletes a department; whether it existed.
pub(crate) fn delete_department(c: &mut DbConnection, tenant: i64, id: i64) -> R<bool> {
    Ok(diesel::delete(
        departments::table
            .filter(departments::tenant_id.eq(tenant))
            .filter(departments::id.eq(id)),
    )
    .execute(c)?
        > 0)
}

/// Deletes a custom attribute definition; whether it existed.
pub(crate) fn delete_attribute(c: &mut DbConnection, tenant: i64, name: &str) -> R<bool> {
    if name.contains('\0') {
        return Ok(false);
    }
    Ok(diesel::delete(
        custom_attributes::table
            .filter(custom_attributes::tenant_id.eq(tenant))
            .filter(custom_attributes::name.eq(name)),
    )
    .execute(c)?
        > 0)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// How many of the tenant's conversations are assigned or being
/// transferred to agent `id` (the participants list, a record of who took
/// part, does not count). The assignee is indexed; the transfer target is
/// read from the documents (a scan of the tenant's conversations, for a
/// rare administrative delete).
pub(crate) fn conversations_assigned_to(c: &mut DbConnection, tenant: i64, id: i64) -> R<i64> {
    use diesel::sql_types::BigInt;
    let count: Count = match c {
        DbConnection::Pg(c) => diesel::sql_query(
            "SELECT count(*) AS n FROM conversations WHERE tenant_id = $1 AND \
             (assignee_key = $2 OR (doc ->> 'transferTo')::bigint = $2)",
        )
        .bind::<BigInt, _>(tenant)
        .bind::<BigInt, _>(id)
        .get_result(c)?,
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT count(*) AS n FROM conversations WHERE tenant_id = ?1 AND \
             (coalesce(json_extract(doc, '$.assigneeId'), 0) = ?2 \
              OR json_extract(doc, '$.transferTo') = ?2)",
        )
        .bind::<BigInt, _>(tenant)
        .bind::<BigInt, _>(id)
        .get_result(c)?,
    };
    Ok(count.n)
}

/// How many of the tenant's conversations are routed to department `id`
/// (indexed).
pub(crate) fn conversations_naming_department(
    c: &mut DbConnection,
    tenant: i64,
    id: i64,
) -> R<i64> {
    use diesel::sql_types::BigInt;
    let count: Count = match c {
        DbConnection::Pg(c) => diesel::sql_query(
            "SELECT count(*) AS n FROM conversations WHERE tenant_id = $1 AND department_key = $2",
        )
        .bind::<BigInt, _>(tenant)
        .bind::<BigInt, _>(id)
        .get_result(c)?,
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT count(*) AS n FROM conversations WHERE tenant_id = ?1 AND \
             coalesce(json_extract(doc, '$.departmentId'), 0) = ?2",
        )
        .bind::<BigInt, _>(tenant)
        .bind::<BigInt, _>(id)
        .get_result(c)?,
    };
    Ok(count.n)
}

/// How many of the tenant's customers hold a value for custom attribute
/// `name` (SQLite: from the trigger-kept value rows, indexed; PostgreSQL:
/// a scan of the tenant's documents, for a rare administrative delete).
pub(crate) fn customers_with_attribute(c: &mut DbConnection, tenant: i64, name: &str) -> R<i64> {
    use diesel::sql_types::{BigInt, Text};
    if name.contains('\0') {
        return Ok(0);
    }
    let count: Count = match c {
        DbConnection::Pg(c) => diesel::sql_query(
            "SELECT count(*) AS n FROM customers WHERE tenant_id = $1 AND \
             jsonb_exists(doc -> 'customData', $2)",
        )
        .bind::<BigInt, _>(tenant)
        .bind::<Text, _>(name)
        .get_result(c)?,
        DbConnection::Sqlite(c) => diesel::sql_query(
            "SELECT count(DISTINCT customer_id) AS n FROM customer_attribute_values \
             WHERE tenant_id = ?1 AND name = ?2",
        )
        .bind::<BigInt, _>(tenant)
        .bind::<Text, _>(name)
        .get_result(c)?,
    };
    Ok(count.n)
}
