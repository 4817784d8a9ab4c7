//! The end-to-end test harness: the real Switchboard server, started
//! in-process on a free port of 127.0.0.1 over a fresh database, with a
//! tenant, an all-scopes API key and an HTTP client ready.
//!
//! ```no_run
//! use switchboard_e2e::{TestApp, for_each_backend};
//!
//! #[tokio::test]
//! async fn readiness() {
//!     for_each_backend(|app: TestApp| async move {
//!         let response = app.get("/readyz").send().await.unwrap();
//!         assert_eq!(response.status(), 200, "{}", app.backend);
//!     })
//!     .await;
//! }
//! ```
//!
//! * [`Backend::Sqlite`]: a new SQLite file in a temporary directory that
//!   lives as long as the [`TestApp`].
//! * [`Backend::Postgres`]: a new database on the shared throwaway
//!   PostgreSQL server of [`switchboard_testsupport`]. When PostgreSQL is
//!   unavailable, [`TestApp::spawn`] prints a loud notice and returns `None`
//!   (and [`for_each_backend`] skips it); in CI (`CI` set) that is a panic.
//!
//! Setup failures panic with a message: this is test support.

use std::future::Future;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use reqwest::{Method, RequestBuilder};
use serde_json::Value;
use switchboard_api::ApiConfig;
use switchboard_domain::{
    Actor, Agent, ApiKey, AttributeType, Conversation, ConversationId, CustomAttribute, Customer,
    CustomerId, Scope, Tenant,
};
use switchboard_server::retention::RetentionConfig;
use switchboard_server::{RunningServer, ServerConfig};
use switchboard_storage::{Clock, Store, StoreConfig, WriteContext, now};
use switchboard_testsupport::TestDb;
use switchboard_webhook::WebhookConfig;

/// The name of the tenant every [`TestApp`] starts with (unless configured).
pub const DEFAULT_TENANT: &str = "acme";

pub use switchboard_storage::Backend;

/// How to start a [`TestApp`]; `TestConfig::default()` is what
/// [`TestApp::spawn`] uses.
#[derive(Debug, Clone)]
pub struct TestConfig {
    /// The HTTP layer's settings (e.g. a low `rate_limit_per_minute` for 429 tests).
    pub api: ApiConfig,
    /// Pool and SQLite settings.
    pub store: StoreConfig,
    /// Name of the tenant created up front (default [`DEFAULT_TENANT`]).
    pub tenant: String,
    /// HTTP worker threads (default 2).
    pub workers: usize,
    /// The webhook delivery worker's settings (the production defaults;
    /// webhook tests shorten the schedule and allow loopback targets).
    pub webhook: WebhookConfig,
    /// Retention of finished work (the production defaults).
    pub retention: RetentionConfig,
    /// The operator console (the production defaults).
    pub console: switchboard_console::ConsoleConfig,
}

impl Default for TestConfig {
    fn default() -> Self {
        Self {
            api: ApiConfig::default(),
            // A fixed key, so that PostgreSQL (which has no default key)
            // and SQLite behave alike.
            store: StoreConfig {
                secret_keys: switchboard_storage::SecretKeySource::keys(
                    switchboard_testsupport::SECRET_KEYS,
                )
                .unwrap_or_else(|e| panic!("{e}")),
                ..StoreConfig::default()
            },
            tenant: DEFAULT_TENANT.to_string(),
            workers: 2,
            webhook: WebhookConfig::default(),
            retention: RetentionConfig::default(),
            console: switchboard_console::ConsoleConfig::default(),
        }
    }
}

impl TestConfig {
    /// The defaults with these API settings.
    #[must_use]
    pub fn with_api(api: ApiConfig) -> Self {
        Self {
            api,
            ..Self::default()
        }
    }

    /// The defaults with the store reading time from `clock` (a manual
    /// clock lets a test move time instead of sleeping).
    #[must_use]
    pub fn with_clock(clock: Clock) -> Self {
        let mut config = Self::default();
        config.store.clock = clock;
        config
    }
}

/// A running server over a fresh database, with a tenant and a key.
///
/// Dropping it stops the server at once and deletes the database; call
/// [`stop`](Self::stop) for a graceful stop.
#[derive(Debug)]
pub struct TestApp {
    /// Which database this app runs on (for assertion messages).
    pub backend: Backend,
    /// The bound address (127.0.0.1 and the real port).
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The server's store, for seeding and inspecting data directly.
    pub store: Store,
    /// The tenant created up front.
    pub tenant: Tenant,
    /// An API key of [`tenant`](Self::tenant) with every scope.
    pub key: String,
    /// A client without proxies; [`get`](Self::get) and friends use it.
    pub client: reqwest::Client,
    /// The database URL the server uses.
    pub database_url: String,
    // Declared before `_database`, so the server stops before the database goes.
    server: Option<RunningServer>,
    _database: TestDb,
}

impl TestApp {
    /// Starts an app with the default [`TestConfig`]; `None` when the
    /// backend is PostgreSQL and it is unavailable (outside CI).
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, TestConfig::default()).await
    }

    /// Starts an app on SQLite (always available).
    pub async fn sqlite() -> Self {
        match Self::spawn(Backend::Sqlite).await {
            Some(app) => app,
            None => unreachable!("SQLite is always available"),
        }
    }

    /// Starts an app with `config`; `None` when the backend is PostgreSQL
    /// and it is unavailable (outside CI). Prints the backend's name.
    ///
    /// # Panics
    ///
    /// When the database or the server cannot be set up.
    pub async fn spawn_with(backend: Backend, config: TestConfig) -> Option<Self> {
        let database = match backend {
            Backend::Sqlite => TestDb::sqlite(),
            Backend::Postgres => tokio::task::spawn_blocking(TestDb::postgres)
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL setup panicked: {e}"))?,
        };
        let database_url = database.url.clone();

        let server_config = ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.clone(),
            api: config.api,
            store: config.store,
            workers: NonZeroUsize::new(config.workers),
            shutdown_timeout: Duration::from_secs(5),
            webhook: config.webhook,
            retention: config.retention,
            console: config.console,
        };
        let server = switchboard_server::start(server_config)
            .await
            .unwrap_or_else(|e| panic!("cannot start the server on {backend}: {e:#}"));
        let store = server.store.clone();
        let tenant = store
            .admin()
            .create_tenant(&config.tenant)
            .await
            .unwrap_or_else(|e| panic!("cannot create tenant {:?}: {e}", config.tenant));
        let key = store
            .admin()
            .create_api_key(tenant.id, "e2e", Scope::ALL.into_iter().collect())
            .await
            .unwrap_or_else(|e| panic!("cannot create an API key: {e}"))
            .secret;
        let client = http_client();
        // A failure's captured output then says which backend failed.
        println!("--- e2e backend: {backend}");
        Some(Self {
            backend,
            addr: server.addr,
            base_url: server.base_url(),
            store,
            tenant,
            key,
            client,
            database_url,
            server: Some(server),
            _database: database,
        })
    }

    /// Stops the server gracefully (in-flight requests finish) and deletes
    /// the database. Drops [`client`](Self::client) first, so clones of it
    /// should be gone too (their idle connections would delay the stop).
    ///
    /// # Panics
    ///
    /// When the server had failed.
    pub async fn stop(mut self) {
        // Close the client's idle keep-alive connections first: a graceful
        // stop waits for open connections.
        self.client = http_client();
        if let Some(server) = self.server.take() {
            server
                .stop()
                .await
                .unwrap_or_else(|e| panic!("the server failed: {e:#}"));
        }
    }

    /// `base_url` + `path` (`path` starts with `/`).
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A request with `Authorization: Bearer <self.key>`.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.anonymous(method, path).bearer_auth(&self.key)
    }

    /// A request with another key (e.g. from [`create_key`](Self::create_key)).
    pub fn request_with_key(&self, method: Method, path: &str, key: &str) -> RequestBuilder {
        self.anonymous(method, path).bearer_auth(key)
    }

    /// A request without any `Authorization` header.
    pub fn anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// The text of `/metrics` (Prometheus).
    ///
    /// # Panics
    ///
    /// When the server does not answer.
    pub async fn metrics(&self) -> String {
        let response = self
            .get("/metrics")
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET /metrics: {e}"));
        response
            .text()
            .await
            .unwrap_or_else(|e| panic!("GET /metrics body: {e}"))
    }

    /// `GET path` with the app's key.
    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    /// `PUT path` with the app's key.
    pub fn put(&self, path: &str) -> RequestBuilder {
        self.request(Method::PUT, path)
    }

    /// `PATCH path` with the app's key.
    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.request(Method::PATCH, path)
    }

    /// `POST path` with the app's key.
    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    /// `DELETE path` with the app's key.
    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.request(Method::DELETE, path)
    }

    /// A new key of the app's tenant with exactly `scopes`. (The store
    /// gives a key created with no scopes every data scope and no admin
    /// scope, `Scope::DEFAULT`, so `&[]` means those.)
    ///
    /// # Panics
    ///
    /// On a storage error.
    pub async fn create_key(&self, scopes: &[Scope]) -> String {
        self.store
            .admin()
            .create_api_key(
                self.tenant.id,
                "e2e-extra",
                scopes.iter().copied().collect(),
            )
            .await
            .unwrap_or_else(|e| panic!("cannot create an API key: {e}"))
            .secret
    }

    /// Another tenant and an all-scopes key for it, for isolation tests.
    ///
    /// # Panics
    ///
    /// On a storage error (e.g. the name is taken or invalid).
    pub async fn other_tenant(&self, name: &str) -> (Tenant, String) {
        let tenant = self
            .store
            .admin()
            .create_tenant(name)
            .await
            .unwrap_or_else(|e| panic!("cannot create tenant {name:?}: {e}"));
        let key = self
            .store
            .admin()
            .create_api_key(tenant.id, "e2e", Scope::ALL.into_iter().collect())
            .await
            .unwrap_or_else(|e| panic!("cannot create an API key: {e}"))
            .secret;
        (tenant, key)
    }

    /// The key and tenant that `secret` authenticates as, looked up in the store.
    ///
    /// # Panics
    ///
    /// On a storage error, or when no key has this secret.
    pub async fn authenticate(&self, secret: &str) -> (ApiKey, Tenant) {
        self.store
            .admin()
            .authenticate(secret)
            .await
            .unwrap_or_else(|e| panic!("cannot authenticate: {e}"))
            .unwrap_or_else(|| panic!("no key has the secret {secret:?}"))
    }

    /// The customer `id` of the app's tenant as stored.
    ///
    /// # Panics
    ///
    /// On a storage error, or when there is no such customer.
    pub async fn stored_customer(&self, id: CustomerId) -> Customer {
        self.store
            .customers()
            .get(self.tenant.id, id)
            .await
            .unwrap_or_else(|e| panic!("cannot read customer {}: {e}", id.get()))
    }

    /// The conversation `id` of the app's tenant as stored.
    ///
    /// # Panics
    ///
    /// On a storage error, or when there is no such conversation.
    pub async fn stored_conversation(&self, id: ConversationId) -> Conversation {
        self.store
            .conversations()
            .get(self.tenant.id, id)
            .await
            .unwrap_or_else(|e| panic!("cannot read conversation {}: {e}", id.get()))
    }

    /// Defines a custom attribute of the app's tenant through the store.
    ///
    /// # Panics
    ///
    /// On a storage error (e.g. the name is taken).
    pub async fn define_attribute(&self, name: &str, kind: AttributeType, label: &str) {
        self.store
            .admin()
            .create_attribute(CustomAttribute {
                tenant_id: self.tenant.id,
                name: name.into(),
                kind,
                label: label.into(),
            })
            .await
            .unwrap_or_else(|e| panic!("cannot define attribute {name:?}: {e}"));
    }

    /// Creates an agent of the app's tenant.
    ///
    /// # Panics
    ///
    /// On a storage error (e.g. the email is taken).
    pub async fn seed_agent(&self, name: &str, email: &str, role: &str) -> Agent {
        self.store
            .admin()
            .create_agent(self.tenant.id, name, email, role)
            .await
            .unwrap_or_else(|e| panic!("cannot create agent {email:?}: {e}"))
    }

    /// A write context of the app's tenant, acting as the system, for seeding through the store.
    #[must_use]
    pub fn ctx(&self) -> WriteContext {
        WriteContext::new(self.tenant.clone(), Actor::System, "e2e")
    }

    /// Creates a customer of the app's tenant through the store; `edit`
    /// fills in the fields.
    ///
    /// # Panics
    ///
    /// On a storage or validation error.
    pub async fn seed_customer(&self, edit: impl FnOnce(&mut Customer)) -> Customer {
        let mut draft = Customer::new(self.tenant.id, now());
        edit(&mut draft);
        self.store
            .customers()
            .create(&self.ctx(), draft)
            .await
            .unwrap_or_else(|e| panic!("cannot seed a customer: {e}"))
    }

    /// Creates a conversation of the app's tenant through the store; `edit`
    /// fills in the fields.
    ///
    /// # Panics
    ///
    /// On a storage or validation error.
    pub async fn seed_conversation(
        &self,
        session_key: &str,
        edit: impl FnOnce(&mut Conversation),
    ) -> Conversation {
        let mut draft = Conversation::new(self.tenant.id, session_key, now());
        edit(&mut draft);
        self.store
            .conversations()
            .create(&self.ctx(), draft)
            .await
            .unwrap_or_else(|e| panic!("cannot seed a conversation: {e}"))
    }
}

/// The app must be captured whole by closures and async blocks: with
/// precise captures, `async move { app.store… }` would otherwise capture
/// only the fields it names and drop the rest (the database!) before the
/// block runs. A type with a `Drop` impl is always captured whole.
impl Drop for TestApp {
    fn drop(&mut self) {
        // The server stops before the database is deleted (field order).
        drop(self.server.take());
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|e| panic!("cannot build the HTTP client: {e}"))
}

/// Runs `test` against a fresh app on each backend in turn (SQLite, then
/// PostgreSQL unless it is unavailable outside CI). [`TestApp::spawn_with`]
/// prints the backend's name, so a failure's captured output says which
/// one failed.
pub async fn for_each_backend<F, Fut>(test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    for_each_backend_with(&TestConfig::default(), test).await;
}

/// [`for_each_backend`] with a [`TestConfig`].
pub async fn for_each_backend_with<F, Fut>(config: &TestConfig, test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in Backend::ALL {
        let Some(app) = TestApp::spawn_with(backend, config.clone()).await else {
            continue;
        };
        test(app).await;
    }
}

/// The response's status and its body parsed as JSON.
///
/// # Panics
///
/// When the body cannot be read or is not JSON (the panic shows the body).
pub async fn json_of(response: reqwest::Response) -> (reqwest::StatusCode, Value) {
    fetch_json(response).await
}

/// Sends a request and reads its JSON answer: `(status, body)`.
pub trait FetchJson {
    /// Sends the request; panics when it cannot be sent or the answer is
    /// not JSON.
    fn fetch(self) -> impl Future<Output = (reqwest::StatusCode, Value)> + Send;

    /// Sends the request and asserts the answer's status; its JSON body.
    /// On another status, panics showing the request and the body.
    fn fetch_expecting(self, status: u16) -> impl Future<Output = Value> + Send;
}

impl FetchJson for RequestBuilder {
    async fn fetch(self) -> (reqwest::StatusCode, Value) {
        let response = self
            .send()
            .await
            .unwrap_or_else(|e| panic!("cannot send the request: {e}"));
        fetch_json(response).await
    }

    async fn fetch_expecting(self, status: u16) -> Value {
        let request = self
            .try_clone()
            .and_then(|r| r.build().ok())
            .map(|r| format!("{} {}", r.method(), r.url().path()))
            .unwrap_or_default();
        let (got, body) = self.fetch().await;
        assert_eq!(got, status, "{request}: {body}");
        body
    }
}

async fn fetch_json(response: reqwest::Response) -> (reqwest::StatusCode, Value) {
    let status = response.status();
    let text = response
        .text()
        .await
        .unwrap_or_else(|e| panic!("cannot read the response body: {e}"));
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the {status} response is not JSON ({e}): {text}"));
    (status, value)
}
