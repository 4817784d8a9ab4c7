//! A per-node copy of each tenant's directory: its agents and departments.
//!
//! A chat page (HelpCrunch's chat lists and searches, the console's inbox)
//! shows each conversation's agents and department: a few rows, the same
//! for page after page, that change rarely. Read by a statement of their
//! own, they were one more statement on every page. The store keeps each
//! tenant's directory here instead, with the **stamp** it was read at:
//!
//! - Triggers on `agents` and `departments` count a per-tenant stamp up
//!   (`directory_stamps`) in every transaction that inserts, deletes, or
//!   changes a shown column of one (an agent's console password is not
//!   shown), whichever process or node writes it and whatever statement
//!   makes the change, SQL typed by hand included.
//! - A chat page's statement selects the tenant's stamp itself (a scalar
//!   subquery, run once a statement), so the stamp is the one of the
//!   page's own snapshot. The copy serves the page only when it was read
//!   at that same stamp: it is then exactly the directory the page's
//!   snapshot holds. There is nothing to invalidate and no time bound: a
//!   copy that is not current is simply not used.
//! - Otherwise the whole directory is read again with its stamp, in one
//!   statement (one snapshot), kept, and serves the page: one statement,
//!   as the page's agents and departments took before.
//!
//! A stamp never goes back (its row outlives its tenant, whose id is never
//! reused), so a newer copy replaces an older one and never the reverse.
//! A tenant with more than [`MAX_ROWS`] agents and departments together is
//! not copied: its pages read theirs by id, as before. At most
//! [`MAX_TENANTS`] tenants and [`MAX_ROWS_KEPT`] rows are kept; when full,
//! the copies start over.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use switchboard_domain::{Agent, Department};

use crate::connection::DbConnection;
use crate::sql::{self, R};

/// A tenant with more agents and departments than this (together) is not
/// copied.
pub const MAX_ROWS: usize = sql::query::WHOLE_DIRECTORY_MAX;

/// At most this many tenants' directories are kept.
pub const MAX_TENANTS: usize = 10_000;

/// At most this many agents and departments are kept, all tenants
/// together (a few MiB): the bound on the copies' memory.
pub const MAX_ROWS_KEPT: usize = 100_000;

/// See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct DirectoryCache {
    copies: Mutex<Copies>,
}

#[derive(Debug, Default)]
struct Copies {
    by_tenant: HashMap<i64, Kept>,
    /// The agents and departments they hold, together.
    rows: usize,
}

/// A tenant's directory at a stamp.
#[derive(Debug, Clone)]
struct Kept {
    stamp: i64,
    /// None: the tenant had more than [`MAX_ROWS`] rows at that stamp.
    rows: Option<Arc<Directory>>,
}

/// A tenant's agents and departments, each in id order, shared with the
/// links of the pages they serve.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    agents: Vec<Arc<Agent>>,
    departments: Vec<Arc<Department>>,
}

impl Directory {
    fn len(&self) -> usize {
        self.agents.len() + self.departments.len()
    }

    /// The agents among `ids` and the departments among `department_ids`
    /// (each distinct and in id order), those that exist.
    pub(crate) fn among(
        &self,
        ids: &[i64],
        department_ids: &[i64],
    ) -> (Vec<Arc<Agent>>, Vec<Arc<Department>>) {
        (
            pick(&self.agents, ids, |a| a.id.get()),
            pick(&self.departments, department_ids, |d| d.id.get()),
        )
    }
}

/// The rows of `rows` (in id order) whose ids are among `ids`.
fn pick<T: Clone>(rows: &[T], ids: &[i64], id: impl Fn(&T) -> i64) -> Vec<T> {
    ids.iter()
        .filter_map(|want| {
            rows.binary_search_by_key(want, &id)
                .ok()
                .map(|at| rows[at].clone())
        })
        .collect()
}

impl DirectoryCache {
    fn copies(&self) -> std::sync::MutexGuard<'_, Copies> {
        self.copies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tenant's directory as it is at `stamp` (read by a page's
    /// statement): the copy when it was read at that stamp, else the whole
    /// directory read again (and kept). None when the tenant has too many
    /// rows to copy: the caller reads the ones it needs.
    pub(crate) fn at(
        &self,
        c: &mut DbConnection,
        tenant: i64,
        stamp: i64,
    ) -> R<Option<Arc<Directory>>> {
        if let Some(copy) = self.copies().by_tenant.get(&tenant)
            && copy.stamp == stamp
        {
            return Ok(copy.rows.clone());
        }
        let read = sql::query::whole_directory(c, tenant)?;
        let rows = read.rows.map(|(agents, departments)| {
            Arc::new(Directory {
                agents: agents.into_iter().map(Arc::new).collect(),
                departments: departments.into_iter().map(Arc::new).collect(),
            })
        });
        self.keep(
            tenant,
            Kept {
                stamp: read.stamp,
                rows: rows.clone(),
            },
        );
        // Read after the page, so at its stamp or a later one: what a
        // second statement of the page would have read.
        Ok(rows)
    }

    /// Keeps `copy` unless a copy at a later stamp is kept already; when
    /// the copies would hold more than [`MAX_TENANTS`] tenants or
    /// [`MAX_ROWS_KEPT`] rows, they start over.
    fn keep(&self, tenant: i64, copy: Kept) {
        let size = |k: &Kept| k.rows.as_ref().map_or(0, |d| d.len());
        let mut copies = self.copies();
        let (old, new_tenant) = match copies.by_tenant.get(&tenant) {
            Some(kept) if kept.stamp >= copy.stamp => return,
            Some(kept) => (size(kept), false),
            None => (0, true),
        };
        let rows = copies.rows - old + size(&copy);
        let tenants = copies.by_tenant.len() + usize::from(new_tenant);
        if rows > MAX_ROWS_KEPT || tenants > MAX_TENANTS {
            copies.by_tenant.clear();
            copies.rows = size(&copy);
        } else {
            copies.rows = rows;
        }
        copies.by_tenant.insert(tenant, copy);
    }

    /// How many tenants' directories are kept, and their rows (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> (usize, usize) {
        let copies = self.copies();
        (copies.by_tenant.len(), copies.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::AgentRow;

    fn copy(stamp: i64, agents: usize) -> Kept {
        let agents = (0..agents)
            .map(|i| {
                Arc::new(Agent::from(AgentRow {
                    id: i64::try_from(i).unwrap_or(0) + 1,
                    tenant_id: 1,
                    name: format!("Agent {i}"),
                    email: format!("a{i}@example.com"),
                    role: "agent".into(),
                }))
            })
            .collect();
        Kept {
            stamp,
            rows: Some(Arc::new(Directory {
                agents,
                departments: Vec::new(),
            })),
        }
    }

    #[test]
    fn a_newer_copy_replaces_an_older_one_never_the_reverse() {
        let cache = DirectoryCache::default();
        cache.keep(1, copy(5, 2));
        cache.keep(1, copy(4, 7));
        assert_eq!(cache.len(), (1, 2), "an older stamp is not kept");
        cache.keep(1, copy(6, 3));
        assert_eq!(cache.len(), (1, 3));
        assert_eq!(cache.copies().by_tenant[&1].stamp, 6);
    }

    #[test]
    fn the_copies_start_over_at_their_bounds() {
        let cache = DirectoryCache::default();
        cache.keep(1, copy(1, MAX_ROWS_KEPT / 2));
        cache.keep(2, copy(1, MAX_ROWS_KEPT / 2));
        assert_eq!(cache.len(), (2, MAX_ROWS_KEPT));
        cache.keep(3, copy(1, 1));
        assert_eq!(cache.len(), (1, 1), "past the rows' bound");
        // A tenant's new copy replaces its rows in the count.
        cache.keep(3, copy(2, 10));
        assert_eq!(cache.len(), (1, 10));

        let cache = DirectoryCache::default();
        for tenant in 0..MAX_TENANTS {
            cache.keep(i64::try_from(tenant).unwrap_or(0), copy(1, 0));
        }
        assert_eq!(cache.len(), (MAX_TENANTS, 0));
        cache.keep(-1, copy(1, 0));
        assert_eq!(cache.len(), (1, 0), "past the tenants' bound");
    }

    #[test]
    fn a_copy_gives_the_rows_among_the_ids_asked() {
        let Some(d) = copy(1, 5).rows else {
            panic!("no rows")
        };
        let (agents, departments) = d.among(&[2, 4, 9], &[1]);
        let ids: Vec<i64> = agents.iter().map(|a| a.id.get()).collect();
        assert_eq!(ids, [2, 4]);
        assert!(departments.is_empty());
    }
}
