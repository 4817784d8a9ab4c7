//! The console's settings and shared state.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use switchboard_api::AppState;
use switchboard_api::ratelimit::RateLimiter;
use switchboard_storage::SessionPolicy;
use tokio::sync::watch;

/// When the console's cookies are marked `Secure`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SecureCookies {
    /// When the request came over TLS, or through a trusted proxy
    /// (`api.trusted_proxies`) that says `X-Forwarded-Proto: https`.
    #[default]
    Auto,
    /// Always: the console is only ever reached over HTTPS (e.g. behind a
    /// proxy that does not send `X-Forwarded-Proto`).
    Always,
}

impl SecureCookies {
    /// The configuration's spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Always => "always",
        }
    }
}

impl std::str::FromStr for SecureCookies {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "always" => Ok(Self::Always),
            _ => Err("expected \"auto\" or \"always\"".into()),
        }
    }
}

/// The console's settings (the `[console]` section of the server's
/// configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleConfig {
    /// Serve the console at all.
    pub enabled: bool,
    /// Sign-in attempts per minute per client address (refilled steadily).
    pub sign_in_per_minute: u32,
    /// Sign-in attempts a client address may make at once.
    pub sign_in_burst: u32,
    /// Idle and absolute session lifetime.
    pub session: SessionPolicy,
    /// Conversations per inbox page.
    pub page_size: u32,
    /// A live stream also looks for new events this often without a
    /// wake-up (changes made by another process, e.g. the CLI).
    pub live_poll: Duration,
    /// When cookies are `Secure`.
    pub secure_cookies: SecureCookies,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            sign_in_per_minute: 10,
            sign_in_burst: 5,
            session: SessionPolicy::default(),
            page_size: 25,
            live_poll: Duration::from_secs(5),
            secure_cookies: SecureCookies::Auto,
        }
    }
}

/// What the console's handlers share: the API's state (store, settings,
/// the write wake-up), the console's settings, the sign-in limiter and the
/// stop signal of live streams. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ConsoleState {
    pub(crate) app: AppState,
    pub(crate) config: ConsoleConfig,
    pub(crate) sign_in: Arc<RateLimiter<IpAddr>>,
    stop: Arc<watch::Sender<bool>>,
}

impl ConsoleState {
    /// The store the console reads and writes (the API's).
    pub(crate) fn store(&self) -> &switchboard_storage::Store {
        self.app.store()
    }

    /// The console over the API's state (the same store and wake-up).
    #[must_use]
    pub fn new(app: AppState, config: ConsoleConfig) -> Self {
        Self {
            sign_in: Arc::new(RateLimiter::new(
                config.sign_in_per_minute,
                config.sign_in_burst,
            )),
            app,
            config,
            stop: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Ends every live stream (and makes new ones end at once), so a
    /// graceful stop does not wait for open pages.
    pub fn stop_streams(&self) {
        self.stop.send_replace(true);
    }

    pub(crate) fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }
}
