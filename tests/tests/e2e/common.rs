//! Helpers shared by more than one module of the e2e binary.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use switchboard_e2e::{FetchJson, TestApp, TestConfig};
use switchboard_webhook::{TargetPolicy, WebhookConfig};

/// How long a test waits for something asynchronous (a webhook delivery):
/// long enough for a loaded 2-core machine.
pub const WAIT: Duration = Duration::from_secs(30);

/// The `Authorization` value of SalesIQ's OAuth scheme for `key`.
pub fn zoho_token(key: &str) -> String {
    format!("Zoho-oauthtoken {key}")
}

/// A request to `/api/v2/<the app's screen name><path>` with the app's key
/// sent as `Zoho-oauthtoken`.
pub fn zoho(app: &TestApp, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    app.anonymous(method, &format!("/api/v2/{}{path}", app.tenant.name))
        .header("Authorization", zoho_token(&app.key))
}

/// The response's `Retry-After`, in seconds (panics when it has none or it
/// is not a number).
pub fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The response's `Content-Type` (panics when it has none or it is not text).
pub fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

/// The webhook worker with a shortened retry schedule, allowed to deliver
/// to loopback (where the test receiver listens).
pub fn fast_webhooks() -> WebhookConfig {
    WebhookConfig {
        targets: TargetPolicy {
            allow_private: true,
        },
        schedule: vec![
            Duration::ZERO,
            Duration::from_millis(300),
            Duration::from_millis(300),
            Duration::from_millis(300),
            Duration::from_millis(300),
        ],
        throttle_delay: Duration::from_millis(800),
        retry_after_max: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_secs(2),
        lease: Duration::from_secs(10),
        poll_interval: Duration::from_millis(100),
        shutdown_grace: Duration::from_secs(3),
        ..WebhookConfig::default()
    }
}

/// The default test app with [`fast_webhooks`].
pub fn webhook_config() -> TestConfig {
    TestConfig {
        webhook: fast_webhooks(),
        ..TestConfig::default()
    }
}

/// Creates a chat log with `session` as its `sessionid` (chatbot API).
pub async fn create_chatlog(app: &TestApp, session: &str) {
    app.post("/chatbot/v1/chatlog")
        .json(&json!({"sessionid": session, "name": "Ada", "country": "United Kingdom"}))
        .fetch_expecting(201)
        .await;
}

/// Sets the chat log's email (chatbot API), which emits `email_updated`.
pub async fn update_email(app: &TestApp, session: &str, email: &str) {
    app.put("/chatbot/v1/chatlog/email")
        .json(&json!({"sessionid": session, "email": email}))
        .fetch_expecting(200)
        .await;
}

/// The delivery log of hook `id`, newest first.
pub async fn attempts(app: &TestApp, id: i64) -> Vec<Value> {
    let body = app
        .get(&format!("/zapier/v1/hooks/{id}/deliveries?limit=100"))
        .fetch_expecting(200)
        .await;
    body["data"].as_array().unwrap().clone()
}

/// Polls the delivery log until it has `n` attempts.
pub async fn wait_attempts(app: &TestApp, id: i64, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = attempts(app, id).await;
        if log.len() >= n {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "{}: expected {n} attempts, got {log:?}",
            app.backend
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls until nothing waits in the outbox and no delivery is pending:
/// every delivery is then final, and nothing more can be sent.
pub async fn wait_idle(app: &TestApp) {
    let deadline = Instant::now() + WAIT;
    loop {
        let outbox = app.store.worker().outbox_backlog().await.unwrap();
        let pending = app.store.worker().delivery_backlog().await.unwrap();
        if outbox == 0 && pending == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: still {outbox} outbox events and {pending} deliveries pending",
            app.backend
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The machine's time in whole UNIX seconds.
pub fn unix_now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}
