//! The console's sign-in: agents' password hashes, console sessions, and
//! the tenant's newest outbox events (what a live page waits for).

use diesel::prelude::*;
use switchboard_domain::Agent;

use super::R;
use crate::connection::DbConnection;
use crate::rows::AgentRow;
use crate::schema::{agents, console_sessions, outbox};

/// An agent that may sign in: the agent and its password hash.
pub(crate) fn agents_with_email(
    c: &mut DbConnection,
    email: &str,
    limit: i64,
) -> R<Vec<(Agent, String)>> {
    let rows: Vec<(AgentRow, Option<String>)> = agents::table
        .filter(agents::email.eq(email))
        .filter(agents::password_hash.is_not_null())
        .order(agents::id)
        .limit(limit)
        .select((AgentRow::as_select(), agents::password_hash))
        .load(c)?;
    Ok(rows
        .into_iter()
        .filter_map(|(a, h)| h.map(|h| (a.into(), h)))
        .collect())
}

pub(crate) fn agent_by_email(c: &mut DbConnection, tenant: i64, email: &str) -> R<Option<Agent>> {
    let row: Option<AgentRow> = agents::table
        .filter(agents::tenant_id.eq(tenant))
        .filter(agents::email.eq(email))
        .select(AgentRow::as_select())
        .get_result(c)
        .optional()?;
    Ok(row.map(Into::into))
}

pub(crate) fn set_password_hash(
    c: &mut DbConnection,
    tenant: i64,
    agent: i64,
    hash: &str,
) -> R<usize> {
    Ok(diesel::update(
        agents::table
            .filter(agents::tenant_id.eq(tenant))
            .filter(agents::id.eq(agent)),
    )
    .set(agents::password_hash.eq(hash))
    .execute(c)?)
}

/// A session row with its agent.
#[derive(Debug, Queryable)]
pub(crate) struct SessionRow {
    pub id: i64,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

pub(crate) fn insert_session(
    c: &mut DbConnection,
    tenant: i64,
    agent: i64,
    token_hash: &str,
    csrf: &str,
    now: i64,
) -> R<i64> {
    Ok(diesel::insert_into(console_sessions::table)
        .values((
            console_sessions::tenant_id.eq(tenant),
            console_sessions::agent_id.eq(agent),
            console_sessions::token_hash.eq(token_hash),
            console_sessions::csrf_token.eq(csrf),
            console_sessions::created_at.eq(now),
            console_sessions::last_seen_at.eq(now),
        ))
        .returning(console_sessions::id)
        .get_result(c)?)
}

pub(crate) fn session_by_token_hash(
    c: &mut DbConnection,
    token_hash: &str,
) -> R<Option<(SessionRow, AgentRow)>> {
    Ok(console_sessions::table
        .inner_join(agents::table)
        .filter(console_sessions::token_hash.eq(token_hash))
        .filter(agents::tenant_id.eq(console_sessions::tenant_id))
        .select((
            (
                console_sessions::id,
                console_sessions::csrf_token,
                console_sessions::created_at,
                console_sessions::last_seen_at,
            ),
            AgentRow::as_select(),
        ))
        .get_result(c)
        .optional()?)
}

pub(crate) fn touch_session(c: &mut DbConnection, id: i64, now: i64) -> R<usize> {
    Ok(
        diesel::update(console_sessions::table.filter(console_sessions::id.eq(id)))
            .set(console_sessions::last_seen_at.eq(now))
            .execute(c)?,
    )
}

pub(crate) fn delete_session(c: &mut DbConnection, id: i64) -> R<usize> {
    Ok(diesel::delete(console_sessions::table.filter(console_sessions::id.eq(id))).execute(c)?)
}

/// Deletes the agent's sessions (all, or only those idle since before `idle_before`).
pub(crate) fn delete_agent_sessions(
    c: &mut DbConnection,
    agent: i64,
    idle_before: Option<i64>,
) -> R<usize> {
    let q = console_sessions::table
        .filter(console_sessions::agent_id.eq(agent))
        .into_boxed();
    let ids: Vec<i64> = match idle_before {
        Some(t) => q
            .filter(console_sessions::last_seen_at.lt(t))
            .select(console_sessions::id)
            .load(c)?,
        None => q.select(console_sessions::id).load(c)?,
    };
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(
        diesel::delete(console_sessions::table.filter(console_sessions::id.eq_any(ids)))
            .execute(c)?,
    )
}

/// The tenant's outbox events after `after` (id order, at most `limit`):
/// `(id, entity kind, entity id)`.
pub(crate) fn events_after(
    c: &mut DbConnection,
    tenant: i64,
    after: i64,
    limit: i64,
) -> R<Vec<(i64, String, i64)>> {
    Ok(outbox::table
        .filter(outbox::id.gt(after))
        .filter(outbox::tenant_id.eq(tenant))
        .order(outbox::id)
        .limit(limit)
        .select((outbox::id, outbox::entity_kind, outbox::entity_id))
        .load(c)?)
}

/// The newest outbox event id (0 when none), of any tenant: a page that
/// starts listening after it misses no event of its own tenant, and the
/// primary key answers it at once.
pub(crate) fn last_event_id(c: &mut DbConnection) -> R<i64> {
    let id: Option<i64> = outbox::table
        .select(diesel::dsl::max(outbox::id))
        .get_result(c)?;
    Ok(id.unwrap_or(0))
}
