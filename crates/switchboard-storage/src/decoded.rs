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
//! new version replaces its entry. They are dropped when this node
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

/// The per-node memo of parsed documents; see the module documentation.
pub(crate) struct Decoded {
    cache: Option<quick_cache::sync::Cache<Key, Arc<Parsed>, Weight>>,
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
        match &self.cache {
            None => f.write_str("Decoded(off)"),
            Some(c) => write!(
                f,
                "Decoded({} entries, {} of {})",
                c.len(),
                c.weight(),
                c.capacity()
            ),
        }
    }
}

impl Decoded {
    /// A memo of about `bytes` of parsed documents; off when 0.
    pub(crate) fn new(bytes: u64) -> Self {
        if bytes == 0 {
            return Self::off();
        }
        let entries = usize::try_from((bytes / ENTRY_ESTIMATE).max(16)).unwrap_or(usize::MAX);
        Self {
            cache: Some(quick_cache::sync::Cache::with_weighter(
                entries, bytes, Weight,
            )),
            ..Self::off()
        }
    }

    /// A memo that holds nothing: every document is parsed.
    pub(crate) const fn off() -> Self {
        Self {
            cache: None,
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

    #[test]
    fn reuses_only_what_was_parsed_from_the_same_text() {
        let memo = Decoded::new(1 << 20);
        let ada: Customer = memo.decode(1, 7, text("Ada")).unwrap();
        assert_eq!(ada.name.as_deref(), Some("Ada"));
        let again: Customer = memo.decode(1, 7, text("Ada")).unwrap();
        assert_eq!(again, ada);
        assert_eq!((memo.stats().parsed, memo.stats().reused), (1, 1));
        // The row changed: its new text is parsed, and replaces the entry.
        let bea: Customer = memo.decode(1, 7, text("Bea")).unwrap();
        assert_eq!(bea.name.as_deref(), Some("Bea"));
        let back: Customer = memo.decode(1, 7, text("Ada")).unwrap();
        assert_eq!(back.name.as_deref(), Some("Ada"));
        assert_eq!(memo.stats().parsed, 3);
        // Another tenant, another kind: other rows, parsed on their own.
        let _: Customer = memo.decode(2, 7, text("Ada")).unwrap();
        assert!(memo.decode::<Conversation>(1, 7, text("Ada")).is_err());
        assert_eq!(memo.stats().parsed, 4);
        let s = memo.stats();
        assert_eq!((s.entries, s.reused), (2, 1));
    }

    #[test]
    fn forgets_rows_and_tenants() {
        let memo = Decoded::new(1 << 20);
        for (tenant, id) in [(1, 7), (1, 8), (2, 7)] {
            let _: Customer = memo.decode(tenant, id, text("Ada")).unwrap();
        }
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
            let _: Customer = memo.decode(1, id, text("Ada")).unwrap();
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
