//! API settings.

use std::time::Duration;

/// Settings for the HTTP layer. Build it once (defaults, then the config
/// file, then the environment) and pass it to [`AppState::new`](crate::AppState::new).
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest accepted request body, in bytes (default 1 MiB).
    pub body_limit: usize,
    /// Requests per minute per API key (default 120, HelpCrunch's limit).
    pub rate_limit_per_minute: u32,
    /// Token-bucket capacity: how many requests may arrive at once
    /// (default: the per-minute limit).
    pub rate_limit_burst: u32,
    /// Most items in one batch request (HelpCrunch `PUT /v1/customers/batch`).
    pub max_batch: usize,
    /// How long a verified API key is remembered before it is looked up
    /// in the database again (default 30 s; zero looks up every request).
    /// A key removed from the database keeps working this long.
    pub key_cache_ttl: Duration,
    /// Failed authentications allowed per minute from one client address
    /// (default 60); beyond the burst, further attempts from it get 429
    /// without a database lookup. A key the server has verified recently
    /// (in the key cache) is never refused by this limit.
    pub auth_failures_per_minute: u32,
    /// Failed authentications one address may make at once (default 20).
    pub auth_failure_burst: u32,
    /// Proxies whose `X-Forwarded-For` is believed when they are the peer
    /// (default none: the peer's own address counts). List only your own
    /// load balancers: anyone else could pick the address to be limited.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            body_limit: 1024 * 1024,
            rate_limit_per_minute: 120,
            rate_limit_burst: 120,
            max_batch: 10,
            key_cache_ttl: Duration::from_secs(30),
            auth_failures_per_minute: 60,
            auth_failure_burst: 20,
            trusted_proxies: Vec::new(),
        }
    }
}
