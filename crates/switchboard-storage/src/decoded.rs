//! Documents parsed once: a per-node memo of the entities decoded from
//! stored documents, so that a read of a row whose document has not
//! changed since this node last read it takes a copy instead of parsing
//! the JSON again.
//!
//! A page of chats parses one document per row, and on this workload that
//! parse is the largest single part of a row's cost (about 1.1 µs for a
//! 0.9 KB conversation, against 60 ns for a copy of the parsed entity;
//! see "Documents parsed once" in `docs/benchmarks.md`). The pages people
//! and clients ask for again and again (an agent's open chats, the newest
//! customers) show the same rows each time.
//!
//! **An entry can never change an answer.** Each entry holds the text of
//! the document it was parsed from. A read that finds an entry for its
//! row compares the text it just read from the database with the entry's,
//! byte for byte, and takes the entry only when they are equal: the entry
//! is then exactly what parsing that text gives. The members storage
//! assigns from the row's columns (id, tenant, version, times, a
//! conversation's customer link) are set on the copy afterwards, as on a
//! parsed document. So, unlike the document cache of writes
//! (`crate::doc_cache`), the memo does not rely on versions, needs no
//! invalidation between nodes, and works the same on SQLite and
//! PostgreSQL. The read itself still goes to the database every time:
//! only the parse is saved.
//!
//! Entries are keyed by (kind, tenant, id), one per row: a row read at a
//! new version replaces its entry. **A row is kept from its second read
//! on.** Keeping a parsed document costs more than the parse saves once
//! (a clone, the entry, an eviction: about 0.4 µs against a 0.7–1.1 µs
//! parse), and most rows of a walk or of a search over many values are
//! read once. So the first read of a row only notes a fingerprint of its
//! key in a fixed table (`seen`, one atomic word a slot, no allocation);
//! a read that finds its fingerprint there keeps the row. They are dropped when this node
//! deletes the row and when a tenant is removed (on any node: the change
//! bus). The memo is bounded by an estimate of the memory its entries take
//! ([`StoreConfig::decoded_cache_bytes`]; 0 switches it off), evicting the
//! least useful entries (`quick_cache`'s CLOCK-Pro).
//!
//! [`StoreConfig::decoded_cache_bytes`]: crate::StoreConfig::decoded_cache_bytes

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use switchboard_domain::{Entity, EntityKind};

/// Which row: its kind, tenant and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    kind: EntityKind,
    tenant: i64,
    id: i64,
}

/// One parsed document: the text it was parsed from, the entity, and the
/// memory the two are estimated to take.
struct Parsed {
    text: String,
    entity: Box<dyn Any + Send + Sync>,
    weight: u64,
}

#[derive(Clone)]
struct Weight;

impl quick_cache::Weighter<Key, Arc<Parsed>> for Weight {
    fn weight(&self, _: &Key, parsed: &Arc<Parsed>) -> u64 {
        parsed.weight
    }
}

/// An estimate of an entry's size, for the bound on entries: a parsed
/// document averages a few kilobytes with its text.
const ENTRY_ESTIMATE: u64 = 4 << 10;

/// Slots of the table of rows read once, per entry the memo can hold: it
/// remembers reads over a window several times the memo's size.
const SEEN_PER_ENTRY: usize = 4;

/// The per-node memo of parsed documents; see the module documentation.
pub(crate) struct Decoded {
    cache: Option<quick_cache::sync::Cache<Key, Arc<Parsed>, Weight>>,
    /// Fingerprints of rows read once, by slot (a power of two of them;
    /// empty when off): a later read of the same row keeps it.
    seen: Box<[AtomicU64]>,
    reused: AtomicU64,
    parsed: AtomicU64,
}

/// What a store's memo of parsed documents did since it opened
/// ([`Store::decoded_stats`](crate::Store::decoded_stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodedStats {
    /// Documents held now.
    pub entries: u64,
    /// Documents read whose text was held: copied, not parsed.
    pub reused: u64,
    /// Documents read and parsed (none held, or held with other text).
    pub parsed: u64,
}

impl fmt::Debug for Decoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sizes = self
            .cache
            .as_ref()
            .map(|c| (c.len(), c.weight(), c.capacity()));
        crate::doc_cache::describe(f, "Decoded", sizes)
    }
}

impl Decoded {
    /// A memo of about `bytes` of parsed documents; off when 0.
    pub(crate) fn new(bytes: u64) -> Self {
        if bytes == 0 {
            return Self::off();
        }
        let entries = usize::try_from((bytes / ENTRY_ESTIMATE).max(16)).unwrap_or(usize::MAX);
        let slots = entries
            .saturating_mul(SEEN_PER_ENTRY)
            .min(1 << 24)
            .next_power_of_two();
        Self {
            cache: Some(quick_cache::sync::Cache::with_weighter(
                entries, bytes, Weight,
            )),
            seen: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            ..Self::off()
        }
    }

    /// A memo that holds nothing: every document is parsed.
    pub(crate) fn off() -> Self {
        Self {
            cache: None,
            seen: Box::default(),
            reused: AtomicU64::new(0),
            parsed: AtomicU64::new(0),
        }
    }

    fn key<E: Entity>(tenant: i64, id: i64) -> Key {
        Key {
            kind: E::KIND,
            tenant,
            id,
        }
    }

    /// The entity of document `text`, row `id` of the tenant: a copy of
    /// the held one when it was parsed from the same text, else parsed
    /// (and held, with `text`).
    ///
    /// # Errors
    ///
    /// When `text` is not a document of `E`.
    pub(crate) fn decode<E>(&self, tenant: i64, id: i64, text: String) -> serde_json::Result<E>
    where
        E: Entity + DeserializeOwned,
    {
        let Some(cache) = &self.cache else {
            return serde_json::from_str(&text);
        };
        let key = Self::key::<E>(tenant, id);
        if let Some(held) = cache.get(&key)
            && held.text == text
            && let Some(entity) = held.entity.downcast_ref::<E>()
        {
            self.reused.fetch_add(1, Ordering::Relaxed);
            return Ok(entity.clone());
        }
        let entity: E = serde_json::from_str(&text)?;
        self.parsed.fetch_add(1, Ordering::Relaxed);
        if !self.seen_before(&key) {
            return Ok(entity);
        }
        // The text as held, the entity's strings (about as long again),
        // the objects and arrays of its free-form members (see
        // `doc_cache`'s estimate, checked by the domain's `tests/heap.rs`),
        // and the struct.
        let containers = switchboard_domain::json::container_bytes(entity.free_form());
        let weight = u64::try_from(
            text.len()
                .saturating_mul(2)
                .saturating_add(containers)
                .saturating_add(size_of::<E>() + size_of::<Parsed>()),
        )
        .unwrap_or(u64::MAX);
        cache.insert(
            key,
            Arc::new(Parsed {
                text,
                entity: Box::new(entity.clone()),
                weight,
            }),
        );
        Ok(entity)
    }

    /// Whether `key` was read before (its fingerprint is in its slot), and
    /// notes that it was read now. Another key sharing the slot replaces the
    /// fingerprint: that only delays keeping a row by a read.
    fn seen_before(&self, key: &Key) -> bool {
        let fingerprint = {
            let mut h = std::hash::DefaultHasher::new();
            std::hash::Hash::hash(key, &mut h);
            // Never 0, the empty slot.
            std::hash::Hasher::finish(&h) | 1
        };
        let Some(slot) = usize::try_from(fingerprint)
            .ok()
            .and_then(|f| self.seen.get(f & (self.seen.len().wrapping_sub(1))))
        else {
            return false;
        };
        slot.swap(fingerprint, Ordering::Relaxed) == fingerprint
    }

    /// Drops row `id` of the tenant.
    pub(crate) fn forget<E: Entity>(&self, tenant: i64, id: i64) {
        if let Some(cache) = &self.cache {
            cache.remove(&Self::key::<E>(tenant, id));
        }
    }

    /// Drops every row of the tenant.
    pub(crate) fn forget_tenant(&self, tenant: i64) {
        if let Some(cache) = &self.cache {
            cache.retain(|k, _| k.tenant != tenant);
        }
    }

    /// What the memo did so far.
    pub(crate) fn stats(&self) -> DecodedStats {
        DecodedStats {
            entries: self
                .cache
                .as_ref()
                .map_or(0, |c| u64::try_from(c.len()).unwrap_or(u64::MAX)),
            reused: self.reused.load(Ordering::Relaxed),
            parsed: self.parsed.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use switchboard_domain::{Conversation, Customer, TenantId, Timestamp};

    use super::*;

    fn text(name: &str) -> String {
        let mut c = Customer::new(TenantId::new(1), Timestamp::from_millis(1));
        c.name = Some(name.into());
        serde_json::to_string(&c).unwrap_or_default()
    }

    fn counts(memo: &Decoded) -> (u64, u64, u64) {
        let s = memo.stats();
        (s.parsed, s.reused, s.entries)
    }

    #[test]
    fn keeps_a_row_read_twice_and_reuses_only_the_same_text() {
        let memo = Decoded::new(1 << 20);
        let ada: Customer = memo.decode(1, 7, text("Ada")).unwrap();
        assert_eq!(ada.name.as_deref(), Some("Ada"));
        // Read once: parsed, not kept. Read again: parsed and kept.
        assert_eq!(counts(&memo), (1, 0, 0));
        let again: Customer = memo.decode(1, 7, text("Ada")).unwrap();
        assert_eq!(counts(&memo), (2, 0, 1));
        // From then on the same text is a copy.
        let copy: Customer = memo.decode(1, 7, text("Ada")).unwrap();
        assert_eq!((&again, &copy), (&ada, &ada));
        assert_eq!(counts(&memo), (2, 1, 1));
        // The row changed: its new text is parsed, and replaces the entry.
        let bea: Customer = memo.decode(1, 7, text("Bea")).unwrap();
        assert_eq!(bea.name.as_deref(), Some("Bea"));
        let back: Customer = memo.decode(1, 7, text("Ada")).unwrap();
        assert_eq!(back.name.as_deref(), Some("Ada"));
        assert_eq!(counts(&memo), (4, 1, 1));
        // Another tenant, another kind: other rows, each read once.
        let _: Customer = memo.decode(2, 7, text("Ada")).unwrap();
        assert!(memo.decode::<Conversation>(1, 7, text("Ada")).is_err());
        assert_eq!(counts(&memo), (5, 1, 1));
    }

    #[test]
    fn a_row_read_once_is_not_kept() {
        let memo = Decoded::new(1 << 20);
        for id in 0..1_000 {
            let _: Customer = memo.decode(1, id, text("Ada")).unwrap();
        }
        assert_eq!(counts(&memo), (1_000, 0, 0));
    }

    #[test]
    fn forgets_rows_and_tenants() {
        let memo = Decoded::new(1 << 20);
        for _ in 0..2 {
            for (tenant, id) in [(1, 7), (1, 8), (2, 7)] {
                let _: Customer = memo.decode(tenant, id, text("Ada")).unwrap();
            }
        }
        assert_eq!(memo.stats().entries, 3);
        memo.forget::<Customer>(1, 7);
        memo.forget_tenant(2);
        assert_eq!(memo.stats().entries, 1);
        let _: Customer = memo.decode(1, 8, text("Ada")).unwrap();
        assert_eq!(memo.stats().reused, 1);
    }

    #[test]
    fn is_bounded_by_bytes() {
        let memo = Decoded::new(64 << 10);
        for id in 0..1_000 {
            // Read twice in a row: kept.
            for _ in 0..2 {
                let _: Customer = memo.decode(1, id, text("Ada")).unwrap();
            }
        }
        let held = memo.stats().entries;
        assert!((1..100).contains(&held), "{held} entries in 64 KiB");
    }

    #[test]
    fn off_parses_every_time() {
        let memo = Decoded::new(0);
        for _ in 0..3 {
            let _: Customer = memo.decode(1, 7, text("Ada")).unwrap();
        }
        assert_eq!(memo.stats(), DecodedStats::default());
    }
}
