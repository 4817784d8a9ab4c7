//! The real server, in-process on port 0, set up as the benchmark runs it.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use switchboard_api::ApiConfig;
use switchboard_loadgen::model::Backend;
use switchboard_server::{RunningServer, ServerConfig, start};
use switchboard_webhook::{TargetPolicy, WebhookConfig};

/// Starts the server on `url` (already seeded with the test key): no rate
/// limit a load test hits, webhooks to loopback allowed and fast.
pub(crate) async fn server(url: String) -> RunningServer {
    let mut config = ServerConfig::new(url);
    config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    // The key the dataset was seeded with (PostgreSQL has no default key).
    config.store.secret_keys =
        switchboard_storage::SecretKeySource::keys(switchboard_testsupport::SECRET_KEYS).unwrap();
    config.api = ApiConfig {
        rate_limit_per_minute: 1_000_000,
        rate_limit_burst: 1_000_000,
        ..ApiConfig::default()
    };
    config.webhook = WebhookConfig {
        targets: TargetPolicy {
            allow_private: true,
        },
        per_target_rate: 1_000_000.0,
        poll_interval: Duration::from_millis(100),
        ..WebhookConfig::default()
    };
    start(config).await.unwrap()
}

/// Runs `exercise` with the URL of a fresh database on `backend` (a
/// PostgreSQL that is unavailable outside CI skips it).
pub(crate) async fn on_backend<F, Fut>(backend: Backend, exercise: F)
where
    F: FnOnce(Backend, String) -> Fut,
    Fut: Future<Output = ()>,
{
    match backend {
        Backend::Sqlite => {
            let dir = switchboard_testsupport::tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("loadgen.db").display());
            exercise(backend, url).await;
        }
        Backend::Postgres => {
            let Some(pg) = switchboard_testsupport::postgres_or_skip() else {
                return;
            };
            let db = pg.create_database().unwrap();
            exercise(backend, db.url().to_string()).await;
        }
    }
}
