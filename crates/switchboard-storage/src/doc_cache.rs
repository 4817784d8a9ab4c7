//! A per-node cache of recently written documents, so that a modify on
//! PostgreSQL usually needs no read before its write.
//!
//! Each entry is an entity (customer or conversation) as this node last
//! wrote it, keyed by (kind, tenant, id) and carrying its version. The
//! engine's first, non-locked attempt of a modify ([`crate::engine`]) plans
//! on the cached entity instead of reading the row; the write that follows
//! is `UPDATE … WHERE version = <cached version>` as always, so **the
//! database stays the arbiter**: an entry made stale by another node, a
//! delete or anything else costs a version conflict, after which the
//! engine drops the entry and reads the row locked, exactly as it does for
//! a conflict with a concurrent writer. No notification between nodes is
//! needed for correctness.
//!
//! What keeps a stale entry from changing any answer:
//!
//! - Only a plan that ends in a write is taken from a cached entity. A
//!   plan that would answer without writing (a failed precondition, a
//!   JSON Patch `test` that fails, a refusal, or no change at all) is made
//!   again from the row as read, so a stale entry never produces a 412,
//!   409, 400 or no-op that the current row would not.
//! - A write planned on a copy that fails (a link the copy lacks looks new
//!   and is looked up, say) is judged again on the row, read locked,
//!   before the failure is answered.
//! - A write's version check catches every change made through the
//!   engine, which increments the version. The one change of a row that
//!   does not, a conversation's `customer_id` cleared by `ON DELETE SET
//!   NULL` when its customer is deleted, is checked by the conversation's
//!   `UPDATE` itself (its `WHERE` names the customer the write was planned
//!   with).
//! - Reads served to clients ([`crate::engine::get`]) never come from the
//!   cache: a client that wrote on one node and reads on another sees its
//!   write.
//! - The rows a change links to (a SuperOffice chat's `Person`) are read
//!   as before, never cached.
//!
//! Entries are filled by successful writes (the entity as written) and
//! dropped on a conflict, a failed write, a delete and a tenant's removal
//! (on any node: the change bus, `crate::changes`, drops them).
//! The cache is bounded by entries and by an estimate of the memory its
//! documents take ([`StoreConfig::doc_cache_entries`],
//! [`StoreConfig::doc_cache_bytes`]; either 0 switches it off), evicting
//! the least useful entries (`quick_cache`'s CLOCK-Pro). It is used on
//! PostgreSQL only: SQLite's read is an in-process call on the writer's
//! own connection, and planning on a cached row saves nothing there.
//!
//! [`StoreConfig::doc_cache_entries`]: crate::StoreConfig::doc_cache_entries
//! [`StoreConfig::doc_cache_bytes`]: crate::StoreConfig::doc_cache_bytes

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use switchboard_domain::{Entity, EntityKind};

/// Which document: its kind, tenant and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    kind: EntityKind,
    tenant: i64,
    id: i64,
}

/// One cached document and the weight it was admitted with.
#[derive(Clone)]
struct Doc {
    entity: Arc<dyn Any + Send + Sync>,
    version: i64,
    weight: u64,
}

/// An entry's weight: its estimated bytes, but at least the share of one
/// entry in the byte budget, so that the budget also bounds the number of
/// entries.
#[derive(Clone)]
struct Weight;

impl quick_cache::Weighter<Key, Doc> for Weight {
    fn weight(&self, _: &Key, doc: &Doc) -> u64 {
        doc.weight
    }
}

/// The per-node document cache; see the module documentation. Cheap to
/// share (the store holds one).
pub(crate) struct DocCache {
    cache: Option<quick_cache::sync::Cache<Key, Doc, Weight>>,
    /// The least weight of an entry: the byte budget over the entry budget.
    min_weight: u64,
    written: AtomicU64,
    stale: AtomicU64,
    missed: AtomicU64,
    linked: AtomicU64,
}

/// What a store's document cache did since it opened
/// ([`Store::doc_cache_stats`](crate::Store::doc_cache_stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DocCacheStats {
    /// Documents held now.
    pub entries: u64,
    /// Modifies whose first attempt was planned on a cached copy and
    /// written: one read saved each.
    pub written: u64,
    /// Cached copies that could not be written: planned again on the row
    /// as read (a precondition, rejection or no-op on the copy), or a
    /// version conflict on the write.
    pub stale: u64,
    /// Modifies that found no copy.
    pub missed: u64,
    /// Linked rows (a conversation's customer) a modify took from the
    /// cache instead of reading them; the write checked each was current.
    pub linked: u64,
}

impl fmt::Debug for DocCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sizes = self
            .cache
            .as_ref()
            .map(|c| (c.len(), c.weight(), c.capacity()));
        describe(f, "DocCache", sizes)
    }
}

/// A per-node cache as `Debug` shows it: `name(off)`, or its entries and
/// the weight they hold of its capacity.
pub(crate) fn describe(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    sizes: Option<(usize, u64, u64)>,
) -> fmt::Result {
    match sizes {
        None => write!(f, "{name}(off)"),
        Some((entries, weight, capacity)) => {
            write!(f, "{name}({entries} entries, {weight} of {capacity})")
        }
    }
}

impl DocCache {
    /// A cache of at most `entries` documents and about `bytes` of them;
    /// off when either is 0.
    pub(crate) fn new(entries: usize, bytes: u64) -> Self {
        if entries == 0 || bytes == 0 {
            return Self::off();
        }
        let min_weight = (bytes / u64::try_from(entries).unwrap_or(u64::MAX)).max(1);
        Self {
            cache: Some(quick_cache::sync::Cache::with_weighter(
                entries, bytes, Weight,
            )),
            min_weight,
            ..Self::off()
        }
    }

    /// A cache that holds nothing.
    pub(crate) const fn off() -> Self {
        Self {
            cache: None,
            min_weight: 1,
            written: AtomicU64::new(0),
            stale: AtomicU64::new(0),
            missed: AtomicU64::new(0),
            linked: AtomicU64::new(0),
        }
    }

    /// Whether the cache holds anything at all.
    #[cfg(test)]
    pub(crate) const fn is_on(&self) -> bool {
        self.cache.is_some()
    }

    fn key<E: Entity>(tenant: i64, id: i64) -> Key {
        Key {
            kind: E::KIND,
            tenant,
            id,
        }
    }

    /// Entity `id` of the tenant as this node last wrote it, if cached.
    pub(crate) fn get<E: Entity>(&self, tenant: i64, id: i64) -> Option<E> {
        let cache = self.cache.as_ref()?;
        let found = cache
            .get(&Self::key::<E>(tenant, id))
            .and_then(|doc| doc.entity.downcast_ref::<E>().cloned());
        if found.is_none() {
            self.missed.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Entity `id` of the tenant, if cached, for use as a linked row
    /// (a conversation's customer): not counted as a modify's miss.
    pub(crate) fn linked<E: Entity>(&self, tenant: i64, id: i64) -> Option<E> {
        let cache = self.cache.as_ref()?;
        let found = cache
            .get(&Self::key::<E>(tenant, id))
            .and_then(|doc| doc.entity.downcast_ref::<E>().cloned());
        if found.is_some() {
            self.linked.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Counts a cached copy that was written on.
    pub(crate) fn note_written(&self) {
        self.written.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a cached copy found stale.
    pub(crate) fn note_stale(&self) {
        self.stale.fetch_add(1, Ordering::Relaxed);
    }

    /// What the cache did so far.
    pub(crate) fn stats(&self) -> DocCacheStats {
        DocCacheStats {
            entries: self
                .cache
                .as_ref()
                .map_or(0, |c| u64::try_from(c.len()).unwrap_or(u64::MAX)),
            written: self.written.load(Ordering::Relaxed),
            stale: self.stale.load(Ordering::Relaxed),
            missed: self.missed.load(Ordering::Relaxed),
            linked: self.linked.load(Ordering::Relaxed),
        }
    }

    /// Caches `entity` as written, `bytes` its estimated size (its stored
    /// document's length). An entry at a later version is kept: a write
    /// that finished late does not replace a newer one.
    pub(crate) fn put<E: Entity>(&self, tenant: i64, entity: &E, bytes: usize) {
        let Some(cache) = &self.cache else { return };
        let key = Self::key::<E>(tenant, entity.id());
        let version = entity.version();
        if cache.peek(&key).is_some_and(|d| d.version > version) {
            return;
        }
        // An estimate of the entity in memory: its strings take about what
        // its JSON text does; the objects and arrays of its free-form
        // members take their nodes and buffers besides (a small object's
        // node is hundreds of bytes; `tests/heap.rs` of the domain crate
        // checks the estimate against the allocator); and the struct.
        let containers = switchboard_domain::json::container_bytes(entity.free_form());
        let weight = u64::try_from(
            bytes
                .saturating_add(containers)
                .saturating_add(size_of::<E>()),
        )
        .unwrap_or(u64::MAX)
        .max(self.min_weight);
        cache.insert(
            key,
            Doc {
                entity: Arc::new(entity.clone()),
                version,
                weight,
            },
        );
    }

    /// Drops entity `id` of the tenant.
    pub(crate) fn forget<E: Entity>(&self, tenant: i64, id: i64) {
        if let Some(cache) = &self.cache {
            cache.remove(&Self::key::<E>(tenant, id));
        }
    }

    /// Drops every entry of the tenant.
    pub(crate) fn forget_tenant(&self, tenant: i64) {
        if let Some(cache) = &self.cache {
            cache.retain(|k, _| k.tenant != tenant);
        }
    }

    /// How many documents are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.cache.as_ref().map_or(0, quick_cache::sync::Cache::len)
    }
}

#[cfg(test)]
mod tests {
    use switchboard_domain::{Customer, TenantId, Timestamp};

    use super::*;

    fn customer(id: i64, version: i64) -> Customer {
        let mut c = Customer::new(TenantId::new(1), Timestamp::from_millis(1));
        c.set_id(id);
        c.stamp(version, Timestamp::from_millis(version));
        c
    }

    #[test]
    fn keeps_what_was_written_and_forgets_on_request() {
        let cache = DocCache::new(10, 1 << 20);
        assert!(cache.get::<Customer>(1, 7).is_none());
        cache.put(1, &customer(7, 2), 100);
        assert_eq!(cache.get::<Customer>(1, 7).map(|c| c.version), Some(2));
        // Another kind, another tenant: other keys.
        assert!(
            cache
                .get::<switchboard_domain::Conversation>(1, 7)
                .is_none()
        );
        assert!(cache.get::<Customer>(2, 7).is_none());
        // An older version does not replace a newer one.
        cache.put(1, &customer(7, 1), 100);
        assert_eq!(cache.get::<Customer>(1, 7).map(|c| c.version), Some(2));
        cache.put(1, &customer(7, 3), 100);
        assert_eq!(cache.get::<Customer>(1, 7).map(|c| c.version), Some(3));
        cache.forget::<Customer>(1, 7);
        assert!(cache.get::<Customer>(1, 7).is_none());
        cache.put(1, &customer(8, 1), 100);
        cache.put(2, &customer(9, 1), 100);
        cache.forget_tenant(1);
        assert!(cache.get::<Customer>(1, 8).is_none());
        assert!(cache.get::<Customer>(2, 9).is_some());
    }

    #[test]
    fn is_bounded_by_entries_and_by_bytes() {
        let by_entries = DocCache::new(50, 1 << 30);
        for id in 0..500 {
            by_entries.put(1, &customer(id, 1), 10);
        }
        assert!(by_entries.len() <= 50, "{} entries", by_entries.len());
        let by_bytes = DocCache::new(1_000_000, 100_000);
        for id in 0..500 {
            // About 20 KB each (its text and struct): at most five in 100 KB.
            by_bytes.put(1, &customer(id, 1), 20_000);
        }
        assert!(by_bytes.len() <= 5, "{} entries", by_bytes.len());
    }

    #[test]
    fn free_form_objects_weigh_their_nodes_not_their_text() {
        // 100 one-member objects: about 1 KB of JSON, but a B-tree node of
        // about 640 bytes each once parsed, some 65 KB in all.
        let tiny: Vec<serde_json::Value> = (0..100).map(|i| serde_json::json!({"k": i})).collect();
        let text = serde_json::to_string(&tiny).unwrap_or_default().len();
        let mut heavy = customer(0, 1);
        heavy
            .custom_data
            .insert("items".into(), serde_json::Value::Array(tiny));
        let cache = DocCache::new(1_000_000, 1_000_000);
        for id in 0..200 {
            heavy.set_id(id);
            cache.put(1, &heavy, text);
        }
        // Weighed by its text (~1 KB) and struct, about 600 would fit in 1 MB.
        assert!(cache.len() <= 16, "{} entries", cache.len());
        assert!(cache.len() >= 8, "{} entries", cache.len());
    }

    /// The default bounds hold the load benchmark's working set, 10,000
    /// conversations and their 10,000 customers, written once each (with
    /// 32 MiB, a primed node planned only 75% of its writes on the cache,
    /// and this test held about 14,600 of the 20,000).
    #[test]
    fn the_default_bounds_hold_a_benchmark_tenants_documents() {
        use crate::config::{DOC_CACHE_BYTES, DOC_CACHE_ENTRIES};
        use switchboard_domain::{Conversation, ConversationId};

        let cache = DocCache::new(DOC_CACHE_ENTRIES, DOC_CACHE_BYTES);
        let mut conversation =
            Conversation::new(TenantId::new(1), "key", Timestamp::from_millis(1));
        conversation.custom_info.insert(
            "plan".into(),
            serde_json::json!({"tier": "gold", "seats": 5}),
        );
        for id in 1..=10_000 {
            conversation.id = ConversationId::new(id);
            // The benchmark's conversation documents are about 1 KB of JSON,
            // its customers' about half that.
            cache.put(1, &conversation, 1_000);
            cache.put(1, &customer(id, 1), 500);
        }
        assert!(cache.len() >= 19_000, "{} of 20,000 held", cache.len());
    }

    #[test]
    fn off_holds_nothing() {
        for cache in [
            DocCache::new(0, 1 << 20),
            DocCache::new(10, 0),
            DocCache::off(),
        ] {
            assert!(!cache.is_on());
            cache.put(1, &customer(7, 1), 10);
            assert!(cache.get::<Customer>(1, 7).is_none());
        }
    }
}
