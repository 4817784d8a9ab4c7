//! Webhook delivery across real `switchboard serve` processes: a `kill -9`
//! in the middle of delivering loses nothing, and two processes on one
//! PostgreSQL database deliver every event. Both report the counts of lost
//! (must be 0) and duplicated events.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_domain::Scope;
use switchboard_testsupport::receiver::{Received, Receiver, Reply};
use switchboard_testsupport::tempfile::{TempDir, tempdir};

use super::common::{line_after, metric, open_store, shared_database, stdout_lines, switchboard};

/// Settings shared by every server in these tests.
const WEBHOOK_ENV: &[(&str, &str)] = &[
    ("SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS", "1"),
    (
        "SWITCHBOARD_WEBHOOK_RETRY_SCHEDULE",
        "0s,300ms,300ms,300ms,300ms,300ms,300ms,300ms",
    ),
    ("SWITCHBOARD_WEBHOOK_TIMEOUT", "5s"),
    ("SWITCHBOARD_WEBHOOK_POLL_INTERVAL", "100ms"),
    ("SWITCHBOARD_WEBHOOK_SHUTDOWN_GRACE", "5s"),
    ("SWITCHBOARD_API_RATE_LIMIT_PER_MINUTE", "100000"),
];

/// A `switchboard serve` child process.
pub(super) struct Served {
    pub(super) child: Child,
    stderr: PathBuf,
    pub(super) base_url: String,
}

impl Served {
    pub(super) fn start(database_url: &str, dir: &Path, name: &str, env: &[(&str, &str)]) -> Self {
        let stderr = dir.join(format!("{name}.log"));
        let mut child = switchboard()
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--database-url",
                database_url,
            ])
            .envs(WEBHOOK_ENV.iter().copied())
            .envs(env.iter().copied())
            .env(
                "SWITCHBOARD_LOG",
                "warn,switchboard_webhook=info,switchboard=info",
            )
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let lines = stdout_lines(&mut child);
        let base_url = line_after(&lines, "listening on ").unwrap_or_else(|e| {
            let _ = child.kill();
            panic!(
                "{name} did not start ({e}); logs:\n{}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        });
        Self {
            child,
            stderr,
            base_url,
        }
    }

    /// Two servers, `a` and `b`, on one database with the same settings.
    pub(super) fn pair(database_url: &str, dir: &Path, env: &[(&str, &str)]) -> (Self, Self) {
        (
            Self::start(database_url, dir, "a", env),
            Self::start(database_url, dir, "b", env),
        )
    }

    pub(super) fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// `kill -9`.
    pub(super) fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM; waits for a clean exit.
    pub(super) fn terminate(mut self) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert_eq!(status.code(), Some(0), "logs:\n{}", self.logs());
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no exit after SIGTERM; logs:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two servers on one database, a tenant's key, and a subscription of
/// that tenant (made through `a`) to a receiver's `path`.
pub(super) struct TwoNodes {
    /// The servers' working directory and logs.
    pub(super) dir: TempDir,
    pub(super) key: String,
    pub(super) receiver: Receiver,
    pub(super) a: Served,
    pub(super) b: Served,
}

impl TwoNodes {
    pub(super) async fn start(database_url: &str, env: &[(&str, &str)], path: &str) -> Self {
        let key = tenant_and_key(database_url).await;
        let receiver = Receiver::start().await;
        let dir = tempdir().unwrap();
        let (a, b) = Served::pair(database_url, dir.path(), env);
        subscribe(&a.base_url, &key, &receiver.url(path)).await;
        Self {
            dir,
            key,
            receiver,
            a,
            b,
        }
    }
}

pub(super) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A tenant and an all-scopes key on `database_url` (migrating it).
pub(super) async fn tenant_and_key(database_url: &str) -> String {
    let store = open_store(database_url).await;
    let tenant = store.admin().create_tenant("acme").await.unwrap();
    store
        .admin()
        .create_api_key(tenant.id, "processes", Scope::ALL.into_iter().collect())
        .await
        .unwrap()
        .secret
}

/// POSTs `body` to `url` with `key` and asserts `201 Created`.
async fn create(
    client: &reqwest::Client,
    url: String,
    key: &str,
    body: Value,
) -> reqwest::Response {
    let response = client
        .post(url)
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response
}

pub(super) async fn subscribe(base_url: &str, key: &str, target: &str) -> String {
    let url = format!("{base_url}/zapier/v1/hooks");
    let hook = json!({"target_url": target, "event": "email_updated"});
    let body: Value = create(&client(), url, key, hook)
        .await
        .json()
        .await
        .unwrap();
    body["secret"].as_str().unwrap().to_string()
}

pub(super) async fn create_chatlog(
    client: &reqwest::Client,
    base_url: &str,
    key: &str,
    session: &str,
) {
    let url = format!("{base_url}/chatbot/v1/chatlog");
    create(
        client,
        url,
        key,
        json!({"sessionid": session, "name": "Ada"}),
    )
    .await;
}

/// One email update; `true` when the server acknowledged it (200).
pub(super) async fn update_email(
    client: &reqwest::Client,
    base_url: &str,
    key: &str,
    session: &str,
    email: &str,
) -> bool {
    client
        .put(format!("{base_url}/chatbot/v1/chatlog/email"))
        .bearer_auth(key)
        .json(&json!({"sessionid": session, "email": email}))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
}

/// The emails received, and how many deliveries were duplicates (the same
/// `webhook-id` received more than once).
pub(super) fn tally(received: &[Received]) -> (BTreeSet<String>, usize) {
    let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
    let mut emails = BTreeSet::new();
    for r in received {
        *by_id
            .entry(r.header("webhook-id").unwrap_or_default().to_string())
            .or_default() += 1;
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        emails.insert(body["receiver_email"].as_str().unwrap().to_string());
    }
    let duplicates = by_id.values().map(|n| n - 1).sum();
    (emails, duplicates)
}

/// Waits until every email of `expected` was received.
pub(super) async fn wait_all(receiver: &Receiver, expected: &BTreeSet<String>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let (emails, _) = tally(&receiver.requests());
        let missing = expected.difference(&emails).count();
        if missing == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} acknowledged events never arrived",
            expected.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_delivery_loses_nothing() {
    const UPDATES: usize = 200;
    let dir = tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("switchboard.db").display());
    let key = tenant_and_key(&url).await;
    // A slow receiver: about 20 deliveries per second (2 at a time, 100 ms each).
    let receiver = Receiver::start().await;
    receiver.set_default_all(Reply::status(200).delay(Duration::from_millis(100)));
    let env = [
        ("SWITCHBOARD_WEBHOOK_LEASE", "6s"),
        ("SWITCHBOARD_WEBHOOK_PER_TARGET_CONCURRENCY", "2"),
    ];
    let first = Served::start(&url, dir.path(), "first", &env);
    let secret = subscribe(&first.base_url, &key, &receiver.url("/crash")).await;
    let http = client();
    create_chatlog(&http, &first.base_url, &key, "crash-1").await;
    let mut acknowledged = BTreeSet::new();
    for i in 0..UPDATES {
        let email = format!("u{i}@example.com");
        if update_email(&http, &first.base_url, &key, "crash-1", &email).await {
            acknowledged.insert(email);
        }
    }
    assert_eq!(acknowledged.len(), UPDATES, "logs:\n{}", first.logs());
    receiver.wait_for_total(10, Duration::from_secs(60)).await;
    let before_kill = receiver.requests().len();
    first.kill();
    println!("kill -9 after {before_kill} of {UPDATES} deliveries had arrived");
    if before_kill >= UPDATES {
        println!("NOTE: every event arrived before the kill; the crash was not mid-delivery");
    }

    let second = Served::start(&url, dir.path(), "second", &env);
    wait_all(&receiver, &acknowledged, Duration::from_secs(120)).await;
    // Let stragglers (duplicates after the lease expiry) arrive, then stop cleanly.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let logs = second.logs();
    second.terminate();

    let received = receiver.requests();
    let (emails, duplicates) = tally(&received);
    let lost = acknowledged.difference(&emails).count();
    println!(
        "crash test: {UPDATES} acknowledged, {} deliveries received, lost {lost}, duplicated {duplicates}",
        received.len()
    );
    assert_eq!(lost, 0, "logs:\n{logs}");
    // Every delivery is signed, before and after the crash.
    for r in &received {
        switchboard_webhook::verify(
            &secret,
            r.header("webhook-id").unwrap(),
            r.header("webhook-timestamp").unwrap(),
            r.header("webhook-signature").unwrap(),
            &r.body,
            i64::try_from(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs(),
            )
            .unwrap(),
            Duration::from_secs(600),
        )
        .unwrap();
    }
    // Only deliveries in flight at the kill can repeat: at most a lease's worth.
    assert!(duplicates <= 40, "{duplicates} duplicates");
}

/// Reads `switchboard_webhook_attempts_total{outcome="success"}` from /metrics.
pub(super) async fn successes(base_url: &str) -> u64 {
    let series = "switchboard_webhook_attempts_total{outcome=\"success\"}";
    metric(&client(), base_url, series).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_deliver_every_event() {
    const SESSIONS: usize = 50;
    const PER_SESSION: usize = 20;
    let Some(db) = shared_database().await else {
        return;
    };
    let url = db.url().to_string();
    let env = [
        ("SWITCHBOARD_WEBHOOK_LEASE", "30s"),
        ("SWITCHBOARD_WEBHOOK_PER_TARGET_RATE", "100000"),
        ("SWITCHBOARD_WEBHOOK_PER_TARGET_CONCURRENCY", "32"),
        ("SWITCHBOARD_WORKERS", "2"),
    ];
    let TwoNodes {
        dir: _dir,
        key,
        receiver,
        a,
        b,
    } = TwoNodes::start(&url, &env, "/pg").await;

    // 1,000 email updates: 50 sessions x 20 emails, spread over both
    // servers by 10 concurrent clients.
    let http = client();
    for s in 0..SESSIONS {
        let base = if s % 2 == 0 { &a.base_url } else { &b.base_url };
        create_chatlog(&http, base, &key, &format!("pg-{s}")).await;
    }
    let mut senders = tokio::task::JoinSet::new();
    for lane in 0..10 {
        let (http, key) = (http.clone(), key.clone());
        let bases = [a.base_url.clone(), b.base_url.clone()];
        senders.spawn(async move {
            let mut acked = Vec::new();
            for s in (lane..SESSIONS).step_by(10) {
                for n in 0..PER_SESSION {
                    let email = format!("s{s}-n{n}@example.com");
                    let base = &bases[(s + n) % 2];
                    if update_email(&http, base, &key, &format!("pg-{s}"), &email).await {
                        acked.push(email);
                    }
                }
            }
            acked
        });
    }
    let mut acknowledged = BTreeSet::new();
    while let Some(acked) = senders.join_next().await {
        acknowledged.extend(acked.unwrap());
    }
    assert_eq!(acknowledged.len(), SESSIONS * PER_SESSION);
    wait_all(&receiver, &acknowledged, Duration::from_secs(180)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let received = receiver.requests();
    let (emails, duplicates) = tally(&received);
    let lost = acknowledged.difference(&emails).count();
    let (sa, sb) = (successes(&a.base_url).await, successes(&b.base_url).await);
    println!(
        "two processes: {} acknowledged, {} received, lost {lost}, duplicated {duplicates}; \
         delivered by a: {sa}, by b: {sb}",
        acknowledged.len(),
        received.len()
    );
    assert_eq!(lost, 0);
    // No lease expired (30 s leases, fast receiver): no duplicates at all.
    assert_eq!(
        duplicates,
        0,
        "logs a:\n{}\nlogs b:\n{}",
        a.logs(),
        b.logs()
    );
    assert_eq!(sa + sb, 1000);
    assert!(sa > 0 && sb > 0, "both processes delivered: {sa} + {sb}");
    // Close the client's pooled keep-alive connections first, so the graceful
    // stop has no idle connection of ours to wait out.
    drop(http);
    a.terminate();
    b.terminate();
}
