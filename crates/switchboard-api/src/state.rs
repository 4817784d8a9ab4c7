//! Shared application state.

use std::net::IpAddr;
use std::sync::Arc;

use switchboard_storage::Store;
use switchboard_webhook::{TargetPolicy, Wakeup};

use crate::ApiConfig;
use crate::keycache::KeyCache;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;

/// Everything a handler needs: cheap to clone, passed explicitly (no globals).
#[derive(Debug, Clone)]
pub struct AppState {
    store: Store,
    config: Arc<ApiConfig>,
    limiter: Arc<RateLimiter>,
    auth_failures: Arc<RateLimiter<IpAddr>>,
    keys: Arc<KeyCache>,
    metrics: Arc<Metrics>,
    wakeup: Wakeup,
    webhook_targets: TargetPolicy,
}

impl AppState {
    /// Builds the state from an open store and the API settings.
    #[must_use]
    pub fn new(store: Store, config: ApiConfig) -> Self {
        let limiter = RateLimiter::new(config.rate_limit_per_minute, config.rate_limit_burst);
        let keys = KeyCache::new(config.key_cache_ttl);
        let auth_failures =
            RateLimiter::new(config.auth_failures_per_minute, config.auth_failure_burst);
        Self {
            store,
            config: Arc::new(config),
            limiter: Arc::new(limiter),
            auth_failures: Arc::new(auth_failures),
            keys: Arc::new(keys),
            metrics: Arc::new(Metrics::default()),
            wakeup: Wakeup::new(),
            webhook_targets: TargetPolicy::default(),
        }
    }

    /// Uses `wakeup` to wake the webhook worker after writes, and `targets`
    /// as the SSRF policy for new subscriptions.
    #[must_use]
    pub fn with_webhooks(mut self, wakeup: Wakeup, targets: TargetPolicy) -> Self {
        self.wakeup = wakeup;
        self.webhook_targets = targets;
        self
    }

    /// The webhook worker's wake-up; the request middleware pokes it after
    /// every successful write request.
    #[must_use]
    pub fn wakeup(&self) -> &Wakeup {
        &self.wakeup
    }

    /// The SSRF policy for webhook targets.
    #[must_use]
    pub fn webhook_targets(&self) -> TargetPolicy {
        self.webhook_targets
    }

    /// A shared handle to the metrics, for reporters outside the HTTP
    /// layer (the webhook worker).
    #[must_use]
    pub fn metrics_handle(&self) -> Arc<Metrics> {
        Arc::clone(&self.metrics)
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &ApiConfig {
        &self.config
    }

    /// The per-key rate limiter.
    #[must_use]
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// Failed authentications per client address.
    #[must_use]
    pub fn auth_failures(&self) -> &RateLimiter<IpAddr> {
        &self.auth_failures
    }

    /// Recently verified API keys.
    #[must_use]
    pub fn keys(&self) -> &KeyCache {
        &self.keys
    }

    /// Request and delivery metrics.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
