//! # switchboard-server
//!
//! The `switchboard` binary's library: its [settings](config), [logging],
//! the HTTP server with graceful shutdown ([`start`]), and the
//! [demo data](demo). The binary (`src/main.rs`) is a thin command-line
//! layer over it; tests start the same server in-process:
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use switchboard_server::{ServerConfig, start};
//!
//! let mut config = ServerConfig::new("sqlite:///tmp/switchboard-test.db");
//! config.bind = "127.0.0.1:0".parse()?; // any free port
//! let server = start(config).await?;
//! println!("listening on {}", server.base_url()); // the real port
//! let tenant = server.store.admin().create_tenant("acme").await?;
//! # let _ = tenant;
//! server.stop().await?; // graceful: finishes in-flight requests
//! # Ok(()) }
//! ```

pub mod config;
pub mod demo;
mod drain;
pub mod logging;
pub mod retention;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer};
use anyhow::Context as _;
use switchboard_api::{ApiConfig, AppState};
use switchboard_console::{ConsoleConfig, ConsoleState};
use switchboard_storage::{Store, StoreConfig};
use switchboard_webhook::{WebhookConfig, WorkerHandle};

use crate::retention::{RetentionConfig, RetentionHandle};
use tokio::task::JoinHandle;

/// How long a stopping server waits for its heartbeat's beat in flight
/// before it leaves the node membership anyway.
const HEARTBEAT_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// What [`start`] needs. Build it with [`ServerConfig::new`] (defaults) or
/// from a file and the environment with [`config::load`].
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen. Port 0 picks a free port; [`RunningServer::addr`]
    /// reports the real one.
    pub bind: SocketAddr,
    /// `sqlite://PATH` or `postgres://…`; the scheme selects the backend.
    pub database_url: String,
    /// The HTTP layer's settings (body limit, rate limits, batch size).
    pub api: ApiConfig,
    /// Pool and SQLite settings; pending migrations are applied on start
    /// unless `store.run_migrations` is off.
    pub store: StoreConfig,
    /// HTTP worker threads; `None` means one per CPU core.
    pub workers: Option<NonZeroUsize>,
    /// How long a graceful stop waits for in-flight requests.
    pub shutdown_timeout: Duration,
    /// The webhook delivery worker (started unless `webhook.enabled` is off).
    pub webhook: WebhookConfig,
    /// Retention of finished work (the task runs unless `retention.enabled`
    /// is off).
    pub retention: RetentionConfig,
    /// The operator console at `/console/` (served unless `console.enabled` is off).
    pub console: ConsoleConfig,
}

impl ServerConfig {
    /// The defaults (`127.0.0.1:8080`, default API and store settings) for `database_url`.
    #[must_use]
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080),
            database_url: database_url.into(),
            api: ApiConfig::default(),
            store: StoreConfig::default(),
            workers: None,
            shutdown_timeout: config::DEFAULT_SHUTDOWN_TIMEOUT,
            webhook: WebhookConfig::default(),
            retention: RetentionConfig::default(),
            console: ConsoleConfig::default(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self::new(config::DEFAULT_DATABASE_URL)
    }
}

/// A server started by [`start`]. Dropping it without [`stop`](Self::stop)
/// stops it at once (without waiting for in-flight requests).
#[derive(Debug)]
pub struct RunningServer {
    /// The address actually bound (with the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// The store the server uses; share it to seed or inspect data.
    pub store: Store,
    handle: ServerHandle,
    task: Option<JoinHandle<std::io::Result<()>>>,
    /// The webhook delivery worker; stopped after the HTTP server.
    webhooks: Option<WorkerHandle>,
    /// Requests in flight and the stop's phases.
    drain: Arc<drain::Drain>,
    /// How long a graceful stop waits for in-flight requests.
    shutdown_timeout: Duration,
    /// The retention task; stopped with the webhook worker.
    retention: Option<RetentionHandle>,
    /// The console, whose live streams end when the stop begins.
    console: ConsoleState,
    /// Listens for the changes of the other nodes (PostgreSQL), and applies
    /// every change to this node (see `switchboard_api::changes`); both
    /// stop when the server is dropped.
    changes: Changes,
}

/// The change listener and the task that applies changes.
#[derive(Debug)]
struct Changes {
    _listener: switchboard_storage::Listener,
    follower: JoinHandle<()>,
    /// Counts the live nodes every second, to share the rate limits.
    heartbeat: JoinHandle<()>,
    /// Stops the heartbeat after the beat in flight, if any.
    stop_heartbeat: tokio::sync::watch::Sender<bool>,
    /// This node's id in the heartbeat membership.
    node: String,
}

impl Drop for Changes {
    fn drop(&mut self) {
        self.follower.abort();
        self.heartbeat.abort();
    }
}

impl RunningServer {
    /// `http://ADDR`, with an unspecified address (`0.0.0.0`, `::`) shown
    /// as the loopback address, so that it can be used to connect.
    #[must_use]
    pub fn base_url(&self) -> String {
        base_url(self.addr)
    }

    /// A handle to pause, resume or stop the server from elsewhere.
    #[must_use]
    pub fn handle(&self) -> ServerHandle {
        self.handle.clone()
    }

    /// Stops gracefully: stops accepting connections, lets in-flight
    /// requests finish (up to [`ServerConfig::shutdown_timeout`]) while
    /// every response closes its keep-alive connection, answers requests
    /// that still arrive `503` (with `Connection: close`), then closes the
    /// idle connections and returns as soon as every worker has stopped.
    ///
    /// # Errors
    ///
    /// When the server had already failed.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.run_until(std::future::ready(())).await
    }

    /// Runs until `shutdown` completes, then stops gracefully (see
    /// [`stop`](Self::stop)). Returns early if the server stops by itself.
    ///
    /// # Errors
    ///
    /// When the server fails.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        let handle = self.handle.clone();
        tokio::select! {
            result = &mut task => {
                self.stop_background().await;
                return flatten(result);
            }
            () = shutdown => {}
        }
        // The HTTP server and the webhook worker wind down side by side, so
        // a stop takes the longer of their two grace periods, not their sum.
        // Events committed by requests still finishing stay in the outbox
        // and are delivered by the next worker to claim them.
        let deadline = tokio::time::Instant::now() + self.shutdown_timeout;
        let drain = Arc::clone(&self.drain);
        drain.begin();
        // Open console pages hold a live stream each: end them, or the
        // drain would wait for them until the timeout.
        self.console.stop_streams();
        let http = async {
            handle.pause().await;
            if drain.finish(deadline).await {
                tokio::time::sleep(drain::FLUSH_GRACE).await;
            } else {
                tracing::warn!(
                    in_flight = drain.in_flight(),
                    "the shutdown timeout passed with requests in flight; closing their connections"
                );
            }
            // Nothing is in flight: close every connection, idle ones included.
            handle.stop(false).await;
            flatten(task.await)
        };
        let (result, ()) = tokio::join!(http, self.stop_background());
        result
    }

    /// Stops the webhook worker gracefully: in-flight attempts finish (or
    /// are released), and what finished is recorded. The retention task
    /// stops after its batch in progress.
    async fn stop_background(&mut self) {
        let retention = async {
            if let Some(task) = self.retention.take() {
                task.shutdown().await;
            }
        };
        let webhooks = async {
            if let Some(worker) = self.webhooks.take() {
                worker.shutdown().await;
            }
        };
        // Leave the membership, so that the other nodes take this node's
        // share of the rate limits at their next heartbeat (not after 3 s).
        // The heartbeat stops first, its beat in flight finished: aborted,
        // a beat already on the blocking pool could record the node again
        // after it left, and the others would count it until it expired.
        let leave = async {
            let _ = self.changes.stop_heartbeat.send(true);
            let stopped =
                tokio::time::timeout(HEARTBEAT_STOP_TIMEOUT, &mut self.changes.heartbeat).await;
            if stopped.is_err() {
                self.changes.heartbeat.abort();
                tracing::debug!("the heartbeat did not stop in time; leaving anyway");
            }
            if !self.store.is_sqlite()
                && let Err(error) = self.store.leave(&self.changes.node).await
            {
                tracing::debug!(%error, "could not leave the node membership");
            }
        };
        tokio::join!(retention, webhooks, leave);
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if self.task.is_some() {
            // The command is sent at once; the returned future only waits for it.
            drop(self.handle.stop(false));
        }
    }
}

fn flatten(result: Result<std::io::Result<()>, tokio::task::JoinError>) -> anyhow::Result<()> {
    result
        .context("the server task failed")?
        .context("the server failed")
}

/// Opens the store (applying pending migrations), binds `config.bind` and
/// starts serving every route of [`switchboard_api`] on a background task.
/// It returns once the socket is bound, so requests succeed right away.
///
/// OS signals are not handled here; the binary turns SIGINT/SIGTERM into
/// [`RunningServer::run_until`]'s shutdown.
///
/// Must be called within a Tokio runtime.
///
/// # Errors
///
/// When the database cannot be opened or migrated, or the address cannot be bound.
pub async fn start(config: ServerConfig) -> anyhow::Result<RunningServer> {
    let store = Store::open(&config.database_url, config.store.clone())
        .await
        .with_context(|| {
            format!(
                "cannot open the database {}",
                redact_url(&config.database_url)
            )
        })?;
    start_with_store(store, &config).await
}

/// Like [`start`] with a store that is already open (`config.database_url`
/// and `config.store` are not used).
///
/// # Errors
///
/// When the address cannot be bound.
pub async fn start_with_store(
    store: Store,
    config: &ServerConfig,
) -> anyhow::Result<RunningServer> {
    let wakeup = switchboard_webhook::Wakeup::new();
    let state = AppState::new(store.clone(), config.api.clone())
        .with_webhooks(wakeup.clone(), config.webhook.targets);
    let webhooks = if config.webhook.enabled {
        let metrics: std::sync::Arc<dyn switchboard_webhook::MetricsSink> = state.metrics_handle();
        let worker =
            switchboard_webhook::spawn(store.clone(), config.webhook.clone(), wakeup, metrics)
                .context("cannot start the webhook worker")?;
        tracing::info!(
            worker = worker.id(),
            allow_private_targets = config.webhook.targets.allow_private,
            "webhook delivery worker started"
        );
        Some(worker)
    } else {
        tracing::info!("webhook delivery worker disabled (webhook.enabled = false)");
        None
    };
    let node = switchboard_api::ratelimit::node_id();
    let (stop_heartbeat, heartbeat_stopped) = tokio::sync::watch::channel(false);
    let changes = Changes {
        follower: tokio::spawn(switchboard_api::changes::follow(state.clone())),
        heartbeat: tokio::spawn(switchboard_api::ratelimit::share_among_live_nodes(
            state.clone(),
            node.clone(),
            heartbeat_stopped,
        )),
        stop_heartbeat,
        node,
        _listener: store
            .listen()
            .context("cannot start listening for changes")?,
    };
    let drain = Arc::new(drain::Drain::default());
    let app_drain = Arc::clone(&drain);
    let retention = if config.retention.enabled {
        let metrics: Arc<dyn switchboard_webhook::MetricsSink> = state.metrics_handle();
        tracing::info!(retention = ?config.retention.keep, "retention task started");
        Some(crate::retention::spawn(
            store.clone(),
            config.retention,
            metrics,
        ))
    } else {
        tracing::info!("retention disabled (retention.enabled = false): nothing is ever deleted");
        None
    };
    let console = ConsoleState::new(state.clone(), config.console);
    let app_console = config.console.enabled.then(|| console.clone());
    let mut server = HttpServer::new(move || {
        let state = state.clone();
        let console = app_console.clone();
        let drain = Arc::clone(&app_drain);
        App::new()
            .wrap(actix_web::middleware::from_fn(move |req, next| {
                Arc::clone(&drain).serve(req, next)
            }))
            .wrap(actix_web::middleware::from_fn(switchboard_api::observe))
            .configure(move |cfg| {
                if let Some(console) = &console {
                    switchboard_console::configure(cfg, console);
                }
                switchboard_api::configure(cfg, &state);
            })
    })
    .disable_signals()
    .shutdown_timeout(config.shutdown_timeout.as_secs());
    if let Some(workers) = config.workers {
        server = server.workers(workers.get());
    }
    let server = server
        .bind(config.bind)
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .context("the server bound no address")?;
    let server = server.run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    tracing::info!(%addr, backend = if store.is_sqlite() { "sqlite" } else { "postgres" }, "listening");
    Ok(RunningServer {
        addr,
        store,
        handle,
        task: Some(task),
        webhooks,
        drain,
        shutdown_timeout: config.shutdown_timeout,
        retention,
        changes,
        console,
    })
}

/// `http://ADDR` for connecting to `addr`: an unspecified IP becomes loopback.
#[must_use]
pub fn base_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// `url` with any password replaced by `***`, for logs and error messages.
///
/// ```
/// use switchboard_server::redact_url;
/// assert_eq!(redact_url("postgres://app:s3cret@db:5432/sb"), "postgres://app:***@db:5432/sb");
/// assert_eq!(redact_url("sqlite://switchboard.db"), "sqlite://switchboard.db");
/// ```
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}
