//! The live nodes of a deployment (heartbeat membership).

use diesel::prelude::*;

use super::R;
use crate::connection::{DbConnection, native};
use crate::schema::nodes;

/// Records that `id` is alive at `now`, forgets nodes silent since before
/// `forget_before`, and counts those seen since `live_since` (this one
/// included).
pub(crate) fn heartbeat(
    c: &mut DbConnection,
    id: &str,
    now: i64,
    live_since: i64,
    forget_before: i64,
) -> R<i64> {
    native!(c, c => diesel::insert_into(nodes::table)
        .values((nodes::id.eq(id), nodes::seen_at.eq(now)))
        .on_conflict(nodes::id)
        .do_update()
        .set(nodes::seen_at.eq(now))
        .execute(c))?;
    diesel::delete(nodes::table.filter(nodes::seen_at.lt(forget_before))).execute(c)?;
    Ok(nodes::table
        .filter(nodes::seen_at.ge(live_since))
        .count()
        .get_result(c)?)
}

/// Removes `id` (it stops), so the others take its share at once.
pub(crate) fn leave(c: &mut DbConnection, id: &str) -> R<usize> {
    Ok(diesel::delete(nodes::table.filter(nodes::id.eq(id))).execute(c)?)
}

/// How many nodes were seen at or after `since`.
pub(crate) fn live_since(c: &mut DbConnection, since: i64) -> R<i64> {
    Ok(nodes::table
        .filter(nodes::seen_at.ge(since))
        .count()
        .get_result(c)?)
}

/// When the node seen last was seen (epoch milliseconds); `None` when no
/// node is listed.
pub(crate) fn last_seen(c: &mut DbConnection) -> R<Option<i64>> {
    Ok(nodes::table
        .select(diesel::dsl::max(nodes::seen_at))
        .first(c)?)
}
