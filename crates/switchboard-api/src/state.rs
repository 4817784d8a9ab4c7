//! Shared application state.

use std::sync::Arc;

use switchboard_storage::Store;

use crate::ApiConfig;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;

/// Everything a handler needs: cheap to clone, passed explicitly (no globals).
#[derive(Debug, Clone)]
pub struct AppState {
    store: Store,
    config: Arc<ApiConfig>,
    limiter: Arc<RateLimiter>,
    metrics: Arc<Metrics>,
}

impl AppState {
    /// Builds the state from an open store and the API settings.
    #[must_use]
    pub fn new(store: Store, config: ApiConfig) -> Self {
        let limiter = RateLimiter::new(config.rate_limit_per_minute, config.rate_limit_burst);
        Self {
            store,
            config: Arc::new(config),
            limiter: Arc::new(limiter),
            metrics: Arc::new(Metrics::default()),
        }
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

    /// Request and delivery metrics.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
