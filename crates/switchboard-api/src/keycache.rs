//! A short-lived cache of verified API keys, so that a busy client does not
//! cost two database lookups (key, then tenant) on every request.
//!
//! Entries are keyed by the SHA-256 of the full presented secret, so a hit
//! means exactly this secret was verified against the database less than
//! `ttl` ago. Only successful lookups are cached (unknown keys cannot fill
//! it), the size is bounded, and a ttl of zero turns it off. A key revoked
//! or a tenant deleted by any process on the same PostgreSQL database is
//! forgotten within a second by every server that listens for changes
//! ([`crate::changes`], `switchboard_storage::Store::listen`); the `ttl` is
//! the fallback when a notification is missed (and the only bound on
//! SQLite for changes made by another process, such as the `switchboard`
//! command). Meanwhile, for a deleted tenant acceptance is harmless: reads find nothing, a write
//! fails in storage with `TenantGone` and is answered 401, after which the
//! server forgets the tenant's keys at once (the request middleware calls
//! [`KeyCache::forget_tenant`]).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use switchboard_domain::{ApiKey, ApiKeyId, Tenant, TenantId};

/// At most this many keys are cached; when full, expired entries are
/// dropped, and if none expired the cache starts over.
pub const MAX_ENTRIES: usize = 10_000;

/// See the module documentation.
#[derive(Debug)]
pub struct KeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<[u8; 32], (Instant, ApiKey, Tenant)>>,
}

fn digest(presented: &str) -> [u8; 32] {
    Sha256::digest(presented.as_bytes()).into()
}

impl KeyCache {
    /// A cache whose entries live `ttl` (zero: nothing is cached).
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The key and tenant verified for `presented` less than `ttl` ago.
    #[must_use]
    pub fn get(&self, presented: &str) -> Option<(ApiKey, Tenant)> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (at, key, tenant) = entries.get(&digest(presented))?;
        (at.elapsed() < self.ttl).then(|| (key.clone(), tenant.clone()))
    }

    /// Forgets every key of `tenant` (its tenant is gone: the next request
    /// with one of them is looked up in the database again, and refused).
    pub fn forget_tenant(&self, tenant: TenantId) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|_, (_, key, _)| key.tenant_id != tenant);
    }

    /// Forgets `key` (it was revoked).
    pub fn forget_key(&self, key: ApiKeyId) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|_, (_, cached, _)| cached.id != key);
    }

    /// Forgets every key (notifications of revocations may have been missed).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Remembers a successful verification of `presented`.
    pub fn put(&self, presented: &str, key: &ApiKey, tenant: &Tenant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES {
            let ttl = self.ttl;
            entries.retain(|_, (at, _, _)| at.elapsed() < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            digest(presented),
            (Instant::now(), key.clone(), tenant.clone()),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use switchboard_domain::{Scope, Timestamp};

    use super::*;

    fn key() -> (ApiKey, Tenant) {
        let tenant = Tenant {
            id: TenantId::new(1),
            name: "acme".into(),
            created_at: Timestamp::from_millis(0),
        };
        let key = ApiKey {
            id: ApiKeyId::new(7),
            tenant_id: tenant.id,
            name: "k".into(),
            prefix: "sbk_abc".into(),
            secret_hash: "h".into(),
            scopes: BTreeSet::from([Scope::CustomersRead]),
            created_at: Timestamp::from_millis(0),
        };
        (key, tenant)
    }

    #[test]
    fn hits_only_the_exact_secret_until_it_expires() {
        let cache = KeyCache::new(Duration::from_millis(200));
        let (k, t) = key();
        assert!(cache.get("sbk_abc.secret").is_none());
        cache.put("sbk_abc.secret", &k, &t);
        assert_eq!(cache.get("sbk_abc.secret").map(|(k, _)| k.id), Some(k.id));
        // Same prefix, another secret: a miss (it goes to the database).
        assert!(cache.get("sbk_abc.secreT").is_none());
        std::thread::sleep(Duration::from_millis(250));
        assert!(cache.get("sbk_abc.secret").is_none());
    }

    /// Caches [`key`] as `a` and a copy of it changed by `change` as `b`,
    /// then `forget`s: `a` must be gone and `b` kept. The cache.
    fn forget_one_of_two(
        change: impl FnOnce(&mut ApiKey),
        forget: impl FnOnce(&KeyCache, &ApiKey, &Tenant),
    ) -> KeyCache {
        let cache = KeyCache::new(Duration::from_secs(60));
        let (k, t) = key();
        let mut other = k.clone();
        change(&mut other);
        cache.put("a", &k, &t);
        cache.put("b", &other, &t);
        forget(&cache, &k, &t);
        assert!(cache.get("a").is_none());
        assert!(cache.get("b").is_some());
        cache
    }

    #[test]
    fn forgetting_a_key_drops_only_it_and_clear_drops_all() {
        let cache = forget_one_of_two(
            |other| other.id = ApiKeyId::new(8),
            |cache, k, _| cache.forget_key(k.id),
        );
        cache.clear();
        assert!(cache.get("b").is_none());
    }

    #[test]
    fn forgetting_a_tenant_drops_only_its_keys() {
        forget_one_of_two(
            |other| other.tenant_id = TenantId::new(2),
            |cache, _, t| cache.forget_tenant(t.id),
        );
    }

    #[test]
    fn zero_ttl_caches_nothing_and_size_is_bounded() {
        let (k, t) = key();
        let off = KeyCache::new(Duration::ZERO);
        off.put("x", &k, &t);
        assert!(off.get("x").is_none());

        let cache = KeyCache::new(Duration::from_secs(60));
        for i in 0..=MAX_ENTRIES {
            cache.put(&format!("key-{i}"), &k, &t);
        }
        let len = cache
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        assert!(len <= MAX_ENTRIES, "{len}");
        assert!(cache.get(&format!("key-{MAX_ENTRIES}")).is_some());
    }
}
