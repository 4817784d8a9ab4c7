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
//! [`MAX_TENANTS`] tenants are kept; when full, the copies start over.

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

/// See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct DirectoryCache {
    copies: Mutex<HashMap<i64, Kept>>,
}

/// A tenant's directory at a stamp.
#[derive(Debug, Clone)]
struct Kept {
    stamp: i64,
    /// None: the tenant had more than [`MAX_ROWS`] rows at that stamp.
    rows: Option<Arc<Directory>>,
}

/// A tenant's agents and departments, each in id order.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    agents: Vec<Agent>,
    departments: Vec<Department>,
}

impl Directory {
    /// The agents among `ids` and the departments among `department_ids`
    /// (each distinct and in id order), those that exist.
    pub(crate) fn among(
        &self,
        ids: &[i64],
        department_ids: &[i64],
    ) -> (Vec<Agent>, Vec<Department>) {
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
    fn copies(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Kept>> {
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
        if let Some(copy) = self.copies().get(&tenant)
            && copy.stamp == stamp
        {
            return Ok(copy.rows.clone());
        }
        let read = sql::query::whole_directory(c, tenant)?;
        let rows = read.rows.map(|(agents, departments)| {
            Arc::new(Directory {
                agents,
                departments,
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

    /// Keeps `copy` unless a copy at a later stamp is kept already.
    fn keep(&self, tenant: i64, copy: Kept) {
        let mut copies = self.copies();
        if let Some(kept) = copies.get(&tenant)
            && kept.stamp >= copy.stamp
        {
            return;
        }
        if copies.len() >= MAX_TENANTS && !copies.contains_key(&tenant) {
            copies.clear();
        }
        copies.insert(tenant, copy);
    }

    /// How many tenants' directories are kept (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.copies().len()
    }
}
