//! A per-node cache of each tenant's custom attribute definitions.
//!
//! Every customer write validates against the tenant's definitions, and a
//! search on a custom attribute types its value by them. Read from the
//! database each time, that was one more round trip per PATCH on
//! PostgreSQL. The store keeps them here instead, one entry per tenant:
//!
//! - **On this node** a change of a tenant's definitions (through
//!   [`Admin`](crate::Admin)) drops its entry as soon as it commits, and an
//!   entry read while a change was committing is never kept (each drop moves
//!   a generation; a read only stores what it read when no drop happened
//!   meanwhile), so the next write or search sees the change.
//! - **On PostgreSQL, across nodes**, the change sends
//!   [`Change::AttributesChanged`] by `NOTIFY` inside its transaction; every
//!   node that listens ([`Store::listen`](crate::Store::listen)) drops the
//!   tenant's entry when it hears it. [`Change::TenantRemoved`] drops the
//!   tenant's entry, and [`Change::Resync`] (the listener reconnected, so
//!   notifications may be lost) every entry. A notification can still be
//!   missed: an entry is read again once it is [`TTL`] old (by the store's
//!   clock), the bound on how stale a missed change can be.
//! - **On SQLite** processes share a file but no notifications (the
//!   `switchboard attribute` command beside a running server). Triggers
//!   count a per-tenant stamp up on every change of the definitions
//!   (`attribute_stamps`); an entry is used only while the stamp it was read
//!   at is still the stamp in the database, read with one primary-key
//!   lookup before each use, so another process's change is seen at once.
//!
//! At most [`MAX_TENANTS`] tenants are kept; when full, expired entries go,
//! and if none had expired the cache starts over.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use switchboard_domain::{AttributeSet, Timestamp};

use crate::changes::Change;
use crate::config::{Clock, millis};
use crate::connection::DbConnection;
use crate::sql::{self, R};

/// How long an entry is used without being read again: the bound on a
/// change a PostgreSQL node did not hear of (SQLite checks its stamp on
/// every use).
pub const TTL: Duration = Duration::from_secs(30);

/// At most this many tenants' definitions are cached.
pub const MAX_TENANTS: usize = 10_000;

/// See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct AttributeCache {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Moves on every drop: a read that began before a drop is not kept.
    generation: u64,
    entries: HashMap<i64, Entry>,
}

#[derive(Debug)]
struct Entry {
    set: Arc<AttributeSet>,
    /// When it was read (the store's clock, ms).
    read_at: i64,
    /// SQLite: the tenant's stamp it was read at.
    stamp: Option<i64>,
}

impl AttributeCache {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tenant's definitions: cached when the entry is current, read
    /// (and cached) otherwise. `c` may be inside a transaction.
    pub(crate) fn get(
        &self,
        c: &mut DbConnection,
        tenant: i64,
        now: Timestamp,
    ) -> R<Arc<AttributeSet>> {
        let now = now.as_millis();
        // SQLite: the stamp first, so the definitions read after it are at
        // least as new as it says. Without one (a database opened without
        // its migrations, before `attribute_stamps`) nothing is cached.
        let stamp = match c {
            DbConnection::Sqlite(_) => match sql::directory::attributes_stamp(c, tenant) {
                Ok(stamp) => Some(stamp),
                Err(_) => return Ok(Arc::new(sql::directory::attributes(c, tenant)?)),
            },
            DbConnection::Pg(_) => None,
        };
        let generation = {
            let state = self.state();
            if let Some(entry) = state.entries.get(&tenant)
                && entry.stamp == stamp
                && fresh(entry, now)
            {
                return Ok(Arc::clone(&entry.set));
            }
            state.generation
        };
        let set = Arc::new(sql::directory::attributes(c, tenant)?);
        self.keep(
            tenant,
            generation,
            Entry {
                set: Arc::clone(&set),
                read_at: now,
                stamp,
            },
        );
        Ok(set)
    }

    /// Keeps `entry`, read while the cache was at `generation`, unless
    /// something was dropped since (it may predate that change).
    fn keep(&self, tenant: i64, generation: u64, entry: Entry) {
        let mut state = self.state();
        if state.generation != generation {
            return;
        }
        if state.entries.len() >= MAX_TENANTS && !state.entries.contains_key(&tenant) {
            let now = entry.read_at;
            state.entries.retain(|_, e| fresh(e, now));
            if state.entries.len() >= MAX_TENANTS {
                state.entries.clear();
            }
        }
        state.entries.insert(tenant, entry);
    }

    /// The tenant's definitions when a current entry needs no check in the
    /// database (PostgreSQL's; SQLite's entries need their stamp read).
    fn unchecked(&self, tenant: i64, now: Timestamp) -> Option<Arc<AttributeSet>> {
        let state = self.state();
        let entry = state.entries.get(&tenant)?;
        (entry.stamp.is_none() && fresh(entry, now.as_millis())).then(|| Arc::clone(&entry.set))
    }

    /// Drops the tenant's entry (its definitions changed, or it is gone).
    pub(crate) fn forget(&self, tenant: i64) {
        let mut state = self.state();
        state.generation = state.generation.wrapping_add(1);
        state.entries.remove(&tenant);
    }

    /// Drops every entry.
    pub(crate) fn clear(&self) {
        let mut state = self.state();
        state.generation = state.generation.wrapping_add(1);
        state.entries.clear();
    }

    /// What `change` means for the cache.
    pub(crate) fn apply(&self, change: Change) {
        match change {
            Change::AttributesChanged { tenant } | Change::TenantRemoved { tenant } => {
                self.forget(tenant.get());
            }
            Change::Resync => self.clear(),
            Change::Committed | Change::KeyRevoked { .. } | Change::SubscriptionsChanged { .. } => {
            }
        }
    }
}

/// Whether `entry` was read less than [`TTL`] before `now` (ms).
fn fresh(entry: &Entry, now: i64) -> bool {
    (0..millis(TTL)).contains(&now.saturating_sub(entry.read_at))
}

/// What a write's rules read through the store's caches: the cache and the
/// store's clock. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Definitions {
    cache: Arc<AttributeCache>,
    clock: Clock,
}

impl Definitions {
    pub(crate) fn new(cache: Arc<AttributeCache>, clock: Clock) -> Self {
        Self { cache, clock }
    }

    /// The tenant's custom attribute definitions (see [`AttributeCache::get`]).
    pub(crate) fn attributes(&self, c: &mut DbConnection, tenant: i64) -> R<Arc<AttributeSet>> {
        self.cache.get(c, tenant, self.clock.now())
    }

    /// The tenant's definitions when they can be answered without the
    /// database (see [`AttributeCache::unchecked`]).
    pub(crate) fn cached(&self, tenant: i64) -> Option<Arc<AttributeSet>> {
        self.cache.unchecked(tenant, self.clock.now())
    }
}

#[cfg(test)]
mod tests {
    use switchboard_domain::{AttributeType, CustomAttribute, TenantId};

    use super::*;

    const T0: i64 = 1_000_000;

    fn set(name: &str) -> Arc<AttributeSet> {
        let a = CustomAttribute::new(TenantId::new(1), name, AttributeType::String, name);
        Arc::new(AttributeSet::from([(name.to_string(), a)]))
    }

    fn entry(name: &str, read_at: i64) -> Entry {
        Entry {
            set: set(name),
            read_at,
            stamp: None,
        }
    }

    fn cached(cache: &AttributeCache, tenant: i64, at: i64) -> Option<Vec<String>> {
        cache
            .unchecked(tenant, Timestamp::from_millis(at))
            .map(|s| s.keys().cloned().collect())
    }

    fn generation(cache: &AttributeCache) -> u64 {
        cache.state().generation
    }

    #[test]
    fn entries_are_used_until_they_expire() {
        let cache = AttributeCache::default();
        cache.keep(1, generation(&cache), entry("plan", T0));
        assert_eq!(cached(&cache, 1, T0), Some(vec!["plan".to_string()]));
        let last = T0 + millis(TTL) - 1;
        assert_eq!(cached(&cache, 1, last), Some(vec!["plan".to_string()]));
        assert_eq!(cached(&cache, 1, last + 1), None);
        // A clock set back does not make an entry young.
        assert_eq!(cached(&cache, 1, T0 - 1), None);
        assert_eq!(cached(&cache, 2, T0), None, "another tenant's");
    }

    #[test]
    fn a_read_that_began_before_a_change_is_not_kept() {
        let cache = AttributeCache::default();
        let before = generation(&cache);
        // The change commits and is applied while the read is under way.
        cache.apply(Change::AttributesChanged {
            tenant: TenantId::new(1),
        });
        cache.keep(1, before, entry("stale", T0));
        assert_eq!(cached(&cache, 1, T0), None);
        // A read that began after it is kept.
        cache.keep(1, generation(&cache), entry("plan", T0));
        assert_eq!(cached(&cache, 1, T0), Some(vec!["plan".to_string()]));
    }

    #[test]
    fn changes_drop_their_tenant_and_resync_drops_all() {
        let cache = AttributeCache::default();
        let fill = |cache: &AttributeCache| {
            for t in [1, 2] {
                cache.keep(t, generation(cache), entry("plan", T0));
            }
        };
        let tenant = TenantId::new(1);
        for (change, one, two) in [
            (Change::AttributesChanged { tenant }, false, true),
            (Change::TenantRemoved { tenant }, false, true),
            (Change::Resync, false, false),
            (Change::SubscriptionsChanged { tenant }, true, true),
            (Change::Committed, true, true),
        ] {
            fill(&cache);
            cache.apply(change);
            assert_eq!(cached(&cache, 1, T0).is_some(), one, "{change:?}: tenant 1");
            assert_eq!(cached(&cache, 2, T0).is_some(), two, "{change:?}: tenant 2");
        }
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = AttributeCache::default();
        let full = i64::try_from(MAX_TENANTS).unwrap();
        for t in 0..full {
            cache.keep(t, generation(&cache), entry("plan", T0));
        }
        // One more while none expired: it starts over.
        cache.keep(full, generation(&cache), entry("plan", T0 + 1));
        assert_eq!(cache.state().entries.len(), 1);
        // When some expired, only those go.
        for t in 0..full - 1 {
            cache.keep(t, generation(&cache), entry("plan", T0 + millis(TTL)));
        }
        assert_eq!(cache.state().entries.len(), MAX_TENANTS);
        cache.keep(
            full + 1,
            generation(&cache),
            entry("plan", T0 + millis(TTL) + 1),
        );
        assert_eq!(cache.state().entries.len(), MAX_TENANTS);
        assert_eq!(cached(&cache, full, T0 + millis(TTL) + 1), None);
    }
}
