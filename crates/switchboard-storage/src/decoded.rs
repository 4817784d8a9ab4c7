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
//! (`crate::doc_cache`), the memo does not rely on the `version` column,
//! needs no invalidation between nodes, and works the same on SQLite and
//! PostgreSQL. The read itself still goes to the database every time:
//! only the parse is saved (and on PostgreSQL, below, the document's
//! text when the row version shows it unchanged).
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
//! **PostgreSQL: pages without their documents.** On PostgreSQL most of a
//! page statement's own cost is turning each stored `jsonb` into text for
//! the client (about 6 µs a 0.9 KB document; `docs/benchmarks.md`, "What
//! PostgreSQL spends on a page's documents"). So an entry read from
//! PostgreSQL also records the row version it was read at
//! ([`RowVersion`]: the `xmin` of the row version, the transaction that
//! wrote it, with the row's `version` and `updated_at`). Every `UPDATE`,
//! ours or one made by hand in SQL, writes a new row version with the
//! writing transaction's `xmin`, and a reader outside that transaction only
//! ever sees its last version of the row. So an entry whose recorded row
//! version equals the one a page just read holds that row's document, and
//! such a page can ask the database for its rows' versions only, then for
//! the documents of the rows the memo lacks in a second statement
//! (`sql::query`). A transaction id repeats only after 2³² transactions;
//! a recorded row version is trusted for [`PROOF_LIFETIME`] after it was
//! read, far less than the fastest server takes to use that many, and is
//! then read again. Whether a page is read that way is decided by how
//! many of the rows of recent such pages the memo held
//! ([`Decoded::worth_proving`]).
//!
//! [`StoreConfig::decoded_cache_bytes`]: crate::StoreConfig::decoded_cache_bytes

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use switchboard_domain::{Entity, EntityKind};

/// Which row: its kind, tenant and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    kind: EntityKind,
    tenant: i64,
    id: i64,
}

/// One parsed document: the text it was parsed from, the entity, the
/// memory the two are estimated to take, and on PostgreSQL the row version
/// the text was last read at.
struct Parsed {
    text: String,
    entity: Box<dyn Any + Send + Sync>,
    weight: u64,
    read_at: Mutex<Option<(RowVersion, Instant)>>,
}

/// A PostgreSQL row version, as a page reads it without its document: the
/// transaction that wrote it (`xmin`), and the row's version and last
/// write time. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RowVersion {
    pub(crate) xmin: i64,
    pub(crate) version: i64,
    pub(crate) updated_at: i64,
}

/// How long a row version read with its document vouches for the held
/// text: a transaction id comes round again only after 2³² transactions,
/// which at a million a second (several times what PostgreSQL commits on
/// any machine) takes 71 minutes.
pub(crate) const PROOF_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// Which pages a share of held rows is kept for: a kind, and whether the
/// page continues another (a cursor's: a walk's rows are mostly read once,
/// a first page's again and again).
fn share_slot(kind: EntityKind, continued: bool) -> usize {
    let k = match kind {
        EntityKind::Customer => 0,
        EntityKind::Conversation => 2,
    };
    k + usize::from(continued)
}

/// The share of held rows, in 1/1024, at and above which a page is read
/// without its documents: then the second statement, for the others,
/// costs less than the documents the first one does not send.
const PROVE_FROM: u32 = 512;

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
    unsent: AtomicU64,
    /// By [`share_slot`]: a moving average (in 1/1024) of the share of a
    /// PostgreSQL page's rows the memo held.
    held_share: [AtomicU32; 4],
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
    /// PostgreSQL: of the documents reused, those a page did not even ask
    /// the database for (the row version read was the one held).
    pub unsent: u64,
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
            unsent: AtomicU64::new(0),
            held_share: Default::default(),
        }
    }

    /// Whether the memo holds anything at all.
    pub(crate) fn is_on(&self) -> bool {
        self.cache.is_some()
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
        self.decode_read(tenant, id, text, None).map(|(e, _)| e)
    }

    /// [`Self::decode`] of a row read at `read` (PostgreSQL), which the
    /// entry then records; and whether the entity was a copy.
    pub(crate) fn decode_read<E>(
        &self,
        tenant: i64,
        id: i64,
        text: String,
        read: Option<RowVersion>,
    ) -> serde_json::Result<(E, bool)>
    where
        E: Entity + DeserializeOwned,
    {
        let Some(cache) = &self.cache else {
            return serde_json::from_str(&text).map(|e| (e, false));
        };
        let key = Self::key::<E>(tenant, id);
        if let Some(held) = cache.get(&key)
            && held.text == text
            && let Some(entity) = held.entity.downcast_ref::<E>()
        {
            self.reused.fetch_add(1, Ordering::Relaxed);
            if let Some(read) = read {
                *held.read_at.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some((read, Instant::now()));
            }
            return Ok((entity.clone(), true));
        }
        let entity: E = serde_json::from_str(&text)?;
        self.parsed.fetch_add(1, Ordering::Relaxed);
        if !self.seen_before(&key) {
            return Ok((entity, false));
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
                read_at: Mutex::new(read.map(|r| (r, Instant::now()))),
            }),
        );
        Ok((entity, false))
    }

    /// A copy of the held entity of row `id` of the tenant when its text
    /// was read at row version `now`, within [`PROOF_LIFETIME`]: the row's
    /// document without reading it (PostgreSQL; see the module
    /// documentation).
    pub(crate) fn at_version<E>(&self, tenant: i64, id: i64, now: RowVersion) -> Option<E>
    where
        E: Entity,
    {
        let held = self.cache.as_ref()?.get(&Self::key::<E>(tenant, id))?;
        let current = held
            .read_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|(read, at)| read == now && at.elapsed() < PROOF_LIFETIME);
        let entity = held.entity.downcast_ref::<E>().filter(|_| current)?;
        self.reused.fetch_add(1, Ordering::Relaxed);
        self.unsent.fetch_add(1, Ordering::Relaxed);
        Some(entity.clone())
    }

    /// Whether PostgreSQL pages of `kind` (`continued`: after a cursor)
    /// should be read without their documents: when the memo held at
    /// least half of the rows of recent such pages.
    pub(crate) fn worth_proving(&self, kind: EntityKind, continued: bool) -> bool {
        self.is_on()
            && self.held_share[share_slot(kind, continued)].load(Ordering::Relaxed) >= PROVE_FROM
    }

    /// Notes that a PostgreSQL page of `kind` of `rows` rows found `held`
    /// of them in the memo (reusable without their documents).
    pub(crate) fn note_page(&self, kind: EntityKind, continued: bool, held: usize, rows: usize) {
        if rows == 0 || !self.is_on() {
            return;
        }
        let share = u32::try_from(held.saturating_mul(1024) / rows).unwrap_or(1024);
        let slot = &self.held_share[share_slot(kind, continued)];
        // An average over about the last eight pages; racing updates lose
        // a page's share now and then, which only slows the average.
        let old = slot.load(Ordering::Relaxed);
        slot.store(old - old / 8 + share / 8, Ordering::Relaxed);
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
            unsent: self.unsent.load(Ordering::Relaxed),
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

    fn version(xmin: i64) -> RowVersion {
        RowVersion {
            xmin,
            version: 3,
            updated_at: 1_000,
        }
    }

    #[test]
    fn a_row_is_copied_unread_only_at_the_version_its_text_was_read_at() {
        let memo = Decoded::new(1 << 20);
        let read = |memo: &Decoded, name: &str, at: Option<RowVersion>| {
            memo.decode_read::<Customer>(1, 7, text(name), at).unwrap()
        };
        // Read twice, the second time kept with the version read.
        read(&memo, "Ada", Some(version(100)));
        assert!(memo.at_version::<Customer>(1, 7, version(100)).is_none());
        read(&memo, "Ada", Some(version(100)));
        let held = memo.at_version::<Customer>(1, 7, version(100)).unwrap();
        assert_eq!(held.name.as_deref(), Some("Ada"));
        assert_eq!((memo.stats().reused, memo.stats().unsent), (1, 1));
        // Any other row version: another transaction, version or time.
        for other in [
            version(101),
            RowVersion {
                version: 4,
                ..version(100)
            },
            RowVersion {
                updated_at: 1_001,
                ..version(100)
            },
        ] {
            assert!(
                memo.at_version::<Customer>(1, 7, other).is_none(),
                "{other:?}"
            );
        }
        // Nor another row, tenant or kind.
        assert!(memo.at_version::<Customer>(1, 8, version(100)).is_none());
        assert!(memo.at_version::<Customer>(2, 7, version(100)).is_none());
        assert!(
            memo.at_version::<Conversation>(1, 7, version(100))
                .is_none()
        );
        // The same text read at a new row version (a change that kept the
        // text): a copy, and the new version is the one that vouches.
        let (_, copied) = read(&memo, "Ada", Some(version(200)));
        assert!(copied);
        assert!(memo.at_version::<Customer>(1, 7, version(100)).is_none());
        assert!(memo.at_version::<Customer>(1, 7, version(200)).is_some());
        // New text at a new version replaces the entry.
        let (bea, copied) = read(&memo, "Bea", Some(version(300)));
        assert!(!copied);
        assert_eq!(bea.name.as_deref(), Some("Bea"));
        assert_eq!(
            memo.at_version::<Customer>(1, 7, version(300))
                .and_then(|c| c.name),
            Some("Bea".into())
        );
        // Read without a version (SQLite): nothing vouches for it.
        let sqlite = Decoded::new(1 << 20);
        read(&sqlite, "Ada", None);
        read(&sqlite, "Ada", None);
        assert!(sqlite.at_version::<Customer>(1, 7, version(0)).is_none());
    }

    #[test]
    fn a_recorded_version_vouches_for_a_limited_time() {
        let memo = Decoded::new(1 << 20);
        for _ in 0..2 {
            let _: (Customer, bool) = memo
                .decode_read(1, 7, text("Ada"), Some(version(9)))
                .unwrap();
        }
        assert!(memo.at_version::<Customer>(1, 7, version(9)).is_some());
        // Recorded longer ago than the lifetime.
        let key = Decoded::key::<Customer>(1, 7);
        let held = memo.cache.as_ref().and_then(|c| c.get(&key)).unwrap();
        let long_ago = Instant::now().checked_sub(PROOF_LIFETIME + Duration::from_secs(1));
        let Some(long_ago) = long_ago else {
            // A clock too young to go back that far: nothing to check.
            return;
        };
        *held.read_at.lock().unwrap() = Some((version(9), long_ago));
        assert!(memo.at_version::<Customer>(1, 7, version(9)).is_none());
    }

    #[test]
    fn pages_go_without_documents_while_most_of_their_rows_are_held() {
        use switchboard_domain::EntityKind::{Conversation as Cv, Customer as Cu};
        let memo = Decoded::new(1 << 20);
        assert!(!memo.worth_proving(Cv, false));
        // Pages whose every row was held: within a few, without documents.
        let mut pages = 0;
        while !memo.worth_proving(Cv, false) {
            memo.note_page(Cv, false, 20, 20);
            pages += 1;
            assert!(pages < 10, "{pages} pages");
        }
        assert!(pages > 1);
        // Only for that kind of page.
        assert!(!memo.worth_proving(Cv, true));
        assert!(!memo.worth_proving(Cu, false));
        // Pages of rows read for the first time: back with documents.
        let mut pages = 0;
        while memo.worth_proving(Cv, false) {
            memo.note_page(Cv, false, 2, 20);
            pages += 1;
            assert!(pages < 10, "{pages} pages");
        }
        // Empty pages say nothing.
        let before = memo.held_share[share_slot(Cv, false)].load(Ordering::Relaxed);
        memo.note_page(Cv, false, 0, 0);
        assert_eq!(
            memo.held_share[share_slot(Cv, false)].load(Ordering::Relaxed),
            before
        );
        // Off: never.
        let off = Decoded::new(0);
        for _ in 0..20 {
            off.note_page(Cv, false, 20, 20);
        }
        assert!(!off.worth_proving(Cv, false));
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
