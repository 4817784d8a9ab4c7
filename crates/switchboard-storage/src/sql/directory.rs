//! What a tenant sets up once and conversations refer to: agents,
//! departments, custom attribute definitions and the tag list.

use diesel::prelude::*;
use switchboard_domain::{Agent, AttributeSet, CustomAttribute, Department, Tag};

use super::{InsertOrSkip, R};
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

pub(crate) fn list_agents(c: &mut DbConnection, tenant: i64) -> R<Vec<Agent>> {
    Ok(agents::table
        .filter(agents::tenant_id.eq(tenant))
        .order(agents::id)
        .select(AgentRow::as_select())
        .load(c)?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// The tenant's agents among `ids` (those that exist), in id order.
pub(crate) fn agents_by_ids(c: &mut DbConnection, tenant: i64, ids: &[i64]) -> R<Vec<Agent>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(agents::table
        .filter(agents::tenant_id.eq(tenant))
        .filter(agents::id.eq_any(ids))
        .order(agents::id)
        .select(AgentRow::as_select())
        .load(c)?
        .into_iter()
        .map(Into::into)
        .collect())
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

pub(crate) fn list_departments(c: &mut DbConnection, tenant: i64) -> R<Vec<Department>> {
    Ok(departments::table
        .filter(departments::tenant_id.eq(tenant))
        .order(departments::id)
        .select(DepartmentRow::as_select())
        .load(c)?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// The tenant's departments among `ids` (those that exist), in id order.
pub(crate) fn departments_by_ids(
    c: &mut DbConnection,
    tenant: i64,
    ids: &[i64],
) -> R<Vec<Department>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(departments::table
        .filter(departments::tenant_id.eq(tenant))
        .filter(departments::id.eq_any(ids))
        .order(departments::id)
        .select(DepartmentRow::as_select())
        .load(c)?
        .into_iter()
        .map(Into::into)
        .collect())
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
    for tag in new {
        InsertOrSkip::new(
            diesel::insert_into(tags::table).values((
                tags::tenant_id.eq(tenant),
                tags::name.eq(&tag.name),
                tags::color.eq(&tag.color),
            )),
            "tenant_id, name",
        )
        .execute(c)?;
    }
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

/// The tenant's custom attribute definitions, by name (read by every
/// customer write, so run natively).
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
