//! The `switchboard` binary, run as a user would: admin commands on a
//! temporary SQLite file, and `serve --demo` with a graceful SIGTERM.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use switchboard_domain::{Actor, ApiKey, AttributeType, Conversation, Scope, Tenant};
use switchboard_storage::{Clock, OUTBOX_MAX_TRIES, Store, StoreConfig, WriteContext};
use switchboard_testsupport::tempfile::{TempDir, tempdir};

use super::common::{
    BIN, line_after, open_store, status_of, stdout_lines, store_config, switchboard,
};
use switchboard_testsupport::{RawConnection, SECRET_KEYS, TestDb};

/// Subscribes a hook of `tenant` to `event`, with a known secret.
async fn subscribe(
    store: &Store,
    tenant: &Tenant,
    event: switchboard_domain::EventType,
) -> switchboard_domain::WebhookSubscription {
    store
        .webhooks()
        .create(switchboard_domain::WebhookSubscription::new(
            tenant.id,
            "https://hooks.example.com/x",
            event,
            "whsec_d3Jvbmcga2V5IHRlc3Q=",
            store.now(),
        ))
        .await
        .unwrap()
}

/// A temporary directory with a database URL in it.
struct Scratch {
    dir: TempDir,
    url: String,
}

/// The words of a command line (no quoting: no argument holds a space).
fn args(line: &'static str) -> Vec<&'static str> {
    line.split_whitespace().collect()
}

impl Scratch {
    fn new() -> Self {
        let dir = tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("switchboard.db").display());
        Self { dir, url }
    }

    /// A scratch directory (the working directory and logs) for the
    /// database `db`.
    fn on(db: &TestDb) -> Self {
        Self {
            dir: tempdir().unwrap(),
            url: db.url.clone(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `switchboard ARGS --database-url URL`, with no SWITCHBOARD_* variables inherited.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = switchboard();
        command
            .args(args)
            .args(["--database-url", &self.url])
            .current_dir(self.dir.path());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs and asserts success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "switchboard {args:?} failed: {}",
            describe(&out)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and asserts exit code 2 (invalid input); returns the
    /// description of the run (status, stdout and stderr).
    fn invalid(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let described = describe(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {described}");
        described
    }

    async fn store(&self) -> Store {
        open_store(&self.url).await
    }

    async fn tenant(&self, store: &Store, name: &str) -> Tenant {
        store.admin().tenant_by_name(name).await.unwrap().unwrap()
    }
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The key and tenant that a secret the CLI printed authenticates as.
async fn printed_key(store: &Store, secret: &str) -> (ApiKey, Tenant) {
    store
        .admin()
        .authenticate(secret)
        .await
        .unwrap()
        .expect("the printed key authenticates")
}

fn last_line(stdout: &str) -> &str {
    stdout.lines().last().unwrap_or_default()
}

#[tokio::test]
async fn migrate_applies_once() {
    let s = Scratch::new();
    let first = s.ok(&["migrate"]);
    assert!(first.lines().any(|l| l.starts_with("applied ")), "{first}");
    let second = s.ok(&["migrate"]);
    assert!(second.contains("up to date"), "{second}");
}

#[tokio::test]
async fn tenant_and_keys() {
    let s = Scratch::new();
    s.ok(&["tenant", "create", "acme"]);

    s.invalid(&["tenant", "create", "acme"]);
    s.invalid(&["tenant", "create", "Not A Name"]);

    let out = s.ok(&args("key create --tenant acme --scope customers.READ --scope conversations.update --name zapier"));
    let secret = last_line(&out).to_string();
    let all = s.ok(&["key", "create", "--tenant", "acme"]);
    let all_secret = last_line(&all).to_string();

    let store = s.store().await;
    let (key, tenant) = printed_key(&store, &secret).await;
    assert_eq!(tenant.name, "acme");
    assert_eq!(key.name, "zapier");
    assert_eq!(
        key.scopes,
        BTreeSet::from([Scope::CustomersRead, Scope::ConversationsUpdate])
    );
    let (key, _) = printed_key(&store, &all_secret).await;
    assert_eq!(
        key.scopes,
        Scope::DEFAULT.into_iter().collect(),
        "without --scope: every data scope, no admin scope"
    );

    let admin = s.ok(&args(
        "key create --tenant acme --scope admin.READ --scope admin.write --name ops",
    ));
    assert!(admin.contains("admin.READ, admin.WRITE"), "{admin}");
    let (key, _) = printed_key(&store, last_line(&admin)).await;
    assert_eq!(
        key.scopes,
        BTreeSet::from([Scope::AdminRead, Scope::AdminWrite])
    );
    let listed = s.ok(&["key", "list", "--tenant", "acme"]);
    assert!(
        listed.contains(&format!(
            "{}\t\"ops\"\tsbk_{}_…\tadmin.READ,admin.WRITE",
            key.id.get(),
            key.prefix
        )),
        "{listed}"
    );
    assert!(
        !listed.contains(last_line(&admin)),
        "no secret is listed: {listed}"
    );
    let revoke = [
        "key",
        "revoke",
        "--tenant",
        "acme",
        &key.id.get().to_string(),
    ];
    let revoked = s.ok(&revoke);
    assert!(revoked.contains("revoked API key \"ops\""), "{revoked}");
    s.invalid(&revoke);

    s.invalid(&args("key create --tenant acme --scope customers.DESTROY"));
}

#[tokio::test]
async fn attributes_agents_departments() {
    let s = Scratch::new();
    s.ok(&["tenant", "create", "acme"]);
    s.ok(&args(
        "attribute create --tenant acme --name plan --type string --label Plan",
    ));
    s.ok(&args(
        "attribute create --tenant acme --name seats --type number",
    ));
    s.ok(&[
        "agent",
        "create",
        "--tenant",
        "acme",
        "--name",
        "Grace Hopper",
        "--email",
        "grace@example.com",
        "--role",
        "admin",
    ]);
    s.ok(&[
        "agent",
        "create",
        "--tenant",
        "acme",
        "--name",
        "Alan Turing",
        "--email",
        "alan@example.com",
    ]);
    s.ok(&args("department create --tenant acme --name Support"));

    let store = s.store().await;
    let tenant = s.tenant(&store, "acme").await;
    let attributes = store.admin().attributes(tenant.id).await.unwrap();
    assert_eq!(attributes["plan"].kind, AttributeType::String);
    assert_eq!(attributes["plan"].label, "Plan");
    assert_eq!(attributes["seats"].kind, AttributeType::Number);
    assert_eq!(attributes["seats"].label, "seats");
    let agents = store.admin().agents(tenant.id).await.unwrap();
    let roles: Vec<(&str, &str)> = agents
        .iter()
        .map(|a| (a.email.as_str(), a.role.as_str()))
        .collect();
    assert!(roles.contains(&("grace@example.com", "admin")), "{roles:?}");
    assert!(roles.contains(&("alan@example.com", "agent")), "{roles:?}");
    let departments = store.admin().departments(tenant.id).await.unwrap();
    assert_eq!(
        departments
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>(),
        ["Support"]
    );

    s.invalid(&args(
        "attribute create --tenant acme --name x --type color",
    ));
    s.invalid(&[
        "agent", "create", "--tenant", "acme", "--name", "X", "--email", "nope",
    ]);

    // list and delete
    let grace = agents
        .iter()
        .find(|a| a.email == "grace@example.com")
        .unwrap()
        .clone();
    let alan = agents
        .iter()
        .find(|a| a.email == "alan@example.com")
        .unwrap()
        .clone();
    let listed = s.ok(&["agent", "list", "--tenant", "acme"]);
    assert_eq!(
        listed,
        format!(
            "{}\t\"Grace Hopper\"\tgrace@example.com\tadmin\n{}\t\"Alan Turing\"\talan@example.com\tagent\n",
            grace.id.get(),
            alan.id.get()
        )
    );
    let support = departments[0].clone();
    assert_eq!(
        s.ok(&["department", "list", "--tenant", "acme"]),
        format!("{}\t\"Support\"\n", support.id.get())
    );
    assert_eq!(
        s.ok(&["attribute", "list", "--tenant", "acme"]),
        "\"plan\"\tstring\t\"Plan\"\n\"seats\"\tnumber\t\"seats\"\n"
    );

    // An agent with a conversation assigned, a department with one routed
    // to it, are kept (exit 2, with the reason); free, they go.
    let ctx = WriteContext::new(tenant.clone(), Actor::System, "test");
    let mut conv = Conversation::new(tenant.id, "s-1", store.now());
    conv.assign(Some(grace.id));
    conv.department_id = Some(support.id);
    store.conversations().create(&ctx, conv).await.unwrap();
    let kept = s.invalid(&["agent", "delete", "--tenant", "acme", "grace@example.com"]);
    assert!(kept.contains("reassign them first"), "{kept}");
    s.invalid(&["department", "delete", "--tenant", "acme", "Support"]);
    let delete_alan = [
        "agent",
        "delete",
        "--tenant",
        "acme",
        &alan.id.get().to_string(),
    ];
    let deleted = s.ok(&delete_alan);
    assert!(
        deleted.contains("deleted agent \"Alan Turing\""),
        "{deleted}"
    );
    let unknown = s.invalid(&delete_alan);
    assert!(unknown.contains("has no agent"), "{unknown}");
    let deleted = s.ok(&["attribute", "delete", "--tenant", "acme", "seats"]);
    assert!(
        deleted.contains("deleted number attribute \"seats\""),
        "{deleted}"
    );
    s.invalid(&["attribute", "delete", "--tenant", "acme", "seats"]);
    s.ok(&args("department create --tenant acme --name Sales"));
    let deleted = s.ok(&["department", "delete", "--tenant", "acme", "Sales"]);
    assert!(
        deleted.contains("deleted department \"Sales\""),
        "{deleted}"
    );
    assert_eq!(
        store
            .admin()
            .agents(tenant.id)
            .await
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect::<Vec<_>>(),
        [grace.id]
    );
    s.ok(&["tenant", "create", "empty"]);
    assert_eq!(
        s.ok(&["agent", "list", "--tenant", "empty"]),
        "tenant \"empty\" has no agents\n"
    );
}

#[tokio::test]
async fn agents_get_console_passwords_from_stdin() {
    use std::io::Write as _;
    let s = Scratch::new();
    s.ok(&["tenant", "create", "acme"]);
    let with_stdin = |args: &[&str], input: &str| {
        let mut child = s
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let create = [
        "agent",
        "create",
        "--tenant",
        "acme",
        "--name",
        "Ada",
        "--email",
        "Ada@Example.com",
        "--role",
        "admin",
        "--password-stdin",
    ];
    // Too short: refused before the agent is created.
    let out = with_stdin(&create, "short\n");
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let out = with_stdin(&create, "first long password\n");
    assert!(out.status.success(), "{}", describe(&out));
    let store = s.store().await;
    let signed = |password: &'static str| {
        let store = store.clone();
        async move {
            matches!(
                store
                    .console()
                    .sign_in("ada@example.com", password, None)
                    .await
                    .unwrap(),
                switchboard_storage::SignIn::Agent(_)
            )
        }
    };
    assert!(signed("first long password").await);

    let password = [
        "agent",
        "password",
        "--tenant",
        "acme",
        "--email",
        "ada@example.com",
    ];
    let out = with_stdin(&password, "second long password\n");
    assert!(out.status.success(), "{}", describe(&out));
    assert!(!signed("first long password").await);
    assert!(signed("second long password").await);

    let unknown = [
        "agent",
        "password",
        "--tenant",
        "acme",
        "--email",
        "eve@example.com",
    ];
    let out = with_stdin(&unknown, "third long password\n");
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    s.invalid(&args(
        "agent create --tenant acme --name X --email x@example.com --role root",
    ));
}

#[test]
fn unknown_tenant_is_an_error() {
    let s = Scratch::new();
    for args in [
        &["key", "create", "--tenant", "ghost"][..],
        &args("attribute create --tenant ghost --name plan --type string"),
        &args("agent create --tenant ghost --name A --email a@example.com"),
        &args("department create --tenant ghost --name Support"),
    ] {
        let out = s.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("unknown tenant \"ghost\""),
            "{args:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", describe(&out));
    }
}

#[test]
fn invalid_settings_are_reported() {
    let s = Scratch::new();
    let out = s
        .command(&["migrate"])
        .env("SWITCHBOARD_API_BODY_LIMIT", "lots")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SWITCHBOARD_API_BODY_LIMIT"),
        "{}",
        describe(&out)
    );

    let config = s.path("switchboard.toml");
    std::fs::write(&config, "[api]\nbody_limt = 5\n").unwrap();
    let out = s.run(&["serve", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("body_limt"),
        "{}",
        describe(&out)
    );

    let out = s.run(&["serve", "--bind", "localhost"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

#[tokio::test]
async fn outbox_lists_and_requeues_quarantined_events() {
    let s = Scratch::new();
    s.ok(&["tenant", "create", "acme"]);
    assert_eq!(s.ok(&["outbox", "quarantined"]), "");

    // An event whose payload cannot be read back, fanned out until quarantined.
    let clock = Clock::manual(switchboard_storage::now());
    let store = Store::open(
        &s.url,
        StoreConfig {
            clock: clock.clone(),
            ..store_config()
        },
    )
    .await
    .unwrap();
    let tenant = s.tenant(&store, "acme").await;
    let ctx = WriteContext::new(tenant.clone(), Actor::System, "test");
    // A subscriber, or the event would be done when written.
    subscribe(
        &store,
        &tenant,
        switchboard_domain::EventType::ConversationCreated,
    )
    .await;
    let conv = store
        .conversations()
        .create(&ctx, Conversation::new(tenant.id, "s-1", store.now()))
        .await
        .unwrap();
    let event = store
        .conversations()
        .events(tenant.id, conv.id)
        .await
        .unwrap()[0]
        .id;
    RawConnection::open(&s.url).execute(&format!(
        "UPDATE outbox SET payload = '{}{}' WHERE id = {}",
        "[".repeat(200),
        "]".repeat(200),
        event.get()
    ));
    for _ in 0..OUTBOX_MAX_TRIES {
        store
            .worker()
            .fan_out_next("w", 10, Duration::ZERO, None)
            .await
            .unwrap();
        clock.advance(Duration::from_secs(5));
    }

    let listed = s.ok(&["outbox", "quarantined"]);
    let lines: Vec<serde_json::Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{listed}");
    let q = &lines[0];
    assert_eq!(q["id"], event.get(), "{q}");
    assert_eq!(q["tenant_id"], tenant.id.get(), "{q}");
    assert_eq!(q["event"], "conversation_created", "{q}");
    assert_eq!(q["entity"], "conversation", "{q}");
    assert_eq!(q["tries"], OUTBOX_MAX_TRIES, "{q}");
    assert!(q["error"].as_str().unwrap().contains("payload"), "{q}");

    let id = event.get().to_string();
    let requeued = s.ok(&["outbox", "requeue", &id]);
    assert!(requeued.contains("requeued"), "{requeued}");
    assert_eq!(s.ok(&["outbox", "quarantined"]), "");
    assert_eq!(store.worker().outbox_backlog().await.unwrap(), 1);
    s.invalid(&["outbox", "requeue", &id]);
}

#[test]
fn help_lists_commands_and_settings() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for word in [
        "serve",
        "migrate",
        "tenant",
        "key",
        "attribute",
        "agent",
        "department",
        "outbox",
        "--database-url",
    ] {
        assert!(help.contains(word), "{word} missing from --help:\n{help}");
    }
    let out = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for word in [
        "--demo",
        "--bind",
        "SWITCHBOARD_API_RATE_LIMIT_PER_MINUTE",
        "sqlite_synchronous",
        "SIGTERM",
    ] {
        assert!(
            help.contains(word),
            "{word} missing from serve --help:\n{help}"
        );
    }
}

/// A `switchboard serve` child process with its stdout read line by line.
struct Served {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: PathBuf,
}

impl Served {
    fn start(s: &Scratch, args: &[&str], stderr: &Path) -> Self {
        Self::start_with(s, args, stderr, &[("SWITCHBOARD_LOG", "info")])
    }

    /// Starts and waits until it listens: the server and its base URL.
    fn listening(s: &Scratch, args: &[&str], stderr: &Path) -> (Self, String) {
        let mut served = Self::start(s, args, stderr);
        let base_url = served.wait_for("listening on ");
        (served, base_url)
    }

    /// Starts with these environment variables.
    fn start_with(s: &Scratch, args: &[&str], stderr: &Path, env: &[(&str, &str)]) -> Self {
        let mut command = s.command(args);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(stderr).unwrap())
            .spawn()
            .unwrap();
        let lines = stdout_lines(&mut child);
        Self {
            child,
            lines,
            stderr: stderr.to_path_buf(),
        }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Reads stdout until a line starts with `prefix`; returns the rest of it.
    fn wait_for(&mut self, prefix: &str) -> String {
        line_after(&self.lines, prefix).unwrap_or_else(|e| {
            let _ = self.child.kill();
            panic!(
                "no line starting with {prefix:?} ({e}); logs:\n{}",
                self.logs()
            );
        })
    }

    /// Sends SIGTERM and returns the exit status code.
    fn terminate(self) -> Option<i32> {
        self.sigterm();
        self.exit_within(Duration::from_secs(15))
    }

    /// Sends SIGTERM without waiting.
    fn sigterm(&self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
    }

    /// Waits for the process to exit and returns its status code; fails
    /// the test if it is still running after `limit`.
    fn exit_within(mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("no exit within {limit:?}; logs:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // A failed test must not leave a server behind (a no-op after exit).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn counts(store: &Store) -> (usize, usize, usize, usize) {
    let tenant = store.admin().tenant_by_name("demo").await.unwrap().unwrap();
    (
        store
            .customers()
            .list(tenant.id, None, 1000)
            .await
            .unwrap()
            .len(),
        store
            .conversations()
            .list(tenant.id, &[], 0, 1000)
            .await
            .unwrap()
            .len(),
        store.admin().agents(tenant.id).await.unwrap().len(),
        store.admin().departments(tenant.id).await.unwrap().len(),
    )
}

#[tokio::test]
async fn serve_demo_is_idempotent_and_stops_gracefully() {
    let s = Scratch::new();
    let mut keys = Vec::new();
    let mut consoles = Vec::new();
    let mut seen_counts = Vec::new();
    for run in 0..2 {
        let (mut served, base_url) = Served::listening(
            &s,
            &args("serve --demo --bind 127.0.0.1:0"),
            &s.path(&format!("stderr-{run}.log")),
        );
        assert!(base_url.starts_with("http://127.0.0.1:"), "{base_url}");
        let key = served.wait_for("API key: ");
        let console_url = served.wait_for("Operator console: ");
        assert_eq!(console_url, format!("{base_url}/console/"));
        let sign_in = served.wait_for("  sign in as ");
        let (email, password) = sign_in.split_once(" with password ").unwrap();
        assert_eq!(email, "grace@demo.example.com");

        {
            let client = reqwest::Client::builder().no_proxy().build().unwrap();
            let ready = client
                .get(format!("{base_url}/readyz"))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap();
            assert_eq!(ready.status(), 200);
            // The dialect routes may not be mounted yet; either way the key must not be refused.
            let customer = client
                .get(format!("{base_url}/v1/customers/1"))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap();
            assert_ne!(customer.status(), 401, "the demo key was refused");
            // Dropping the client closes its keep-alive connection, so the
            // graceful stop below has nothing to wait for.
        }

        let store = s.store().await;
        let (_, tenant) = printed_key(&store, &key).await;
        assert_eq!(tenant.name, "demo");
        let admin = match store
            .console()
            .sign_in(email, password, None)
            .await
            .unwrap()
        {
            switchboard_storage::SignIn::Agent(a) => a,
            other => panic!("the printed console password does not sign in: {other:?}"),
        };
        assert_eq!(admin.role, "admin");
        consoles.push(password.to_string());
        seen_counts.push(counts(&store).await);
        drop(store);
        keys.push(key);

        let logs_path = served.stderr.clone();
        let code = served.terminate();
        let logs = std::fs::read_to_string(&logs_path).unwrap();
        assert_eq!(code, Some(0), "exit status after SIGTERM; logs:\n{logs}");
        assert!(logs.contains("shutting down gracefully"), "{logs}");
        assert!(logs.contains("stopped gracefully"), "{logs}");
    }
    assert_eq!(seen_counts[0], (5, 6, 3, 2));
    assert_eq!(
        seen_counts[0], seen_counts[1],
        "the second start duplicated demo data"
    );
    assert_ne!(keys[0], keys[1], "each start makes a fresh key");
    assert_ne!(
        consoles[0], consoles[1],
        "each start makes a fresh password"
    );
    let store = s.store().await;
    for key in &keys {
        assert!(store.admin().authenticate(key).await.unwrap().is_some());
    }
}

#[tokio::test]
async fn serve_demo_prints_a_working_example_for_every_dialect() {
    let s = Scratch::new();
    let mut served = Served::start(
        &s,
        &["serve", "--demo", "--bind", "127.0.0.1:0"],
        &s.path("stderr.log"),
    );
    served.wait_for("listening on ");
    let mut examples = Vec::new();
    loop {
        let deadline = Duration::from_secs(60);
        let line = served.lines.recv_timeout(deadline).unwrap();
        if line.starts_with("API docs:") {
            break;
        }
        if let Some(command) = line.trim().strip_prefix("curl ") {
            examples.push(command.to_string());
        }
    }
    for prefix in [
        "/v1/customers/",
        "/v1/chats/status",
        "/api/v1/ChatSession/",
        "/api/v2/demo/conversations/",
        "/chatbot/v1/chatlog/email",
        "/zapier/v1/me",
        "/zapier/v1/hooks",
    ] {
        assert!(
            examples.iter().any(|e| e.contains(prefix)),
            "no example for {prefix}: {examples:#?}"
        );
    }
    for example in &examples {
        // Subscribing needs the reader's own hook URL (and DNS).
        if example.contains("YOUR/HOOK") {
            continue;
        }
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "curl -s -o /dev/null -w '%{{http_code}}' --noproxy '*' {example}"
            ))
            .output()
            .unwrap();
        let status = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(status.starts_with('2'), "{status} from curl {example}");
    }
    assert_eq!(served.terminate(), Some(0));
}

#[tokio::test]
async fn serve_on_an_empty_database_says_how_to_create_a_tenant_and_key() {
    let s = Scratch::new();
    let (mut served, base_url) =
        Served::listening(&s, &args("serve --bind 127.0.0.1:0"), &s.path("stderr.log"));
    served.wait_for("The database has no tenant yet");
    assert_eq!(
        served.wait_for("  switchboard tenant create"),
        "acme",
        "the hint names the command"
    );
    served.wait_for("  switchboard key create --tenant acme");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let health = client
        .get(format!("{base_url}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    drop(client);
    assert_eq!(served.terminate(), Some(0));
    let store = s.store().await;
    assert!(
        store
            .admin()
            .tenant_by_name("demo")
            .await
            .unwrap()
            .is_none()
    );
}

/// A server whose stdout reader went away (a supervisor restarted, a pipe
/// closed) keeps serving: what it prints after start-up (here the empty
/// database's hint) is logged as unwritable instead of panicking.
#[tokio::test]
async fn serve_keeps_serving_when_its_stdout_is_closed() {
    let s = Scratch::new();
    let log = s.path("stderr.log");
    let mut child = s
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .env("SWITCHBOARD_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // The read end closes before the server writes a byte.
    drop(child.stdout.take());
    let deadline = Instant::now() + Duration::from_secs(60);
    let addr = loop {
        let logs = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(addr) = logs
            .lines()
            .find_map(|line| line.split("listening addr=").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
        {
            break addr.to_string();
        }
        let exited = child.try_wait().unwrap();
        assert!(
            exited.is_none() && Instant::now() < deadline,
            "the server did not start ({exited:?}); logs:\n{logs}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for _ in 0..3 {
        let health = client.get(format!("http://{addr}/healthz")).send().await;
        let logs = std::fs::read_to_string(&log).unwrap_or_default();
        assert_eq!(
            health.map(|r| r.status().as_u16()).ok(),
            Some(200),
            "logs:\n{logs}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logs.contains("cannot write to stdout"),
        "the lost output is logged:\n{logs}"
    );
    assert!(child.try_wait().unwrap().is_none(), "logs:\n{logs}");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Every log line of a request carries its request id, in the handler and
/// in storage alike (here a debug line storage writes on a blocking thread
/// when a unique value is taken).
#[tokio::test]
async fn every_log_line_of_a_request_carries_its_request_id() {
    let s = Scratch::new();
    let mut served = Served::start_with(
        &s,
        &["serve", "--demo", "--bind", "127.0.0.1:0"],
        &s.path("stderr.log"),
        &[
            ("SWITCHBOARD_LOG", "info,switchboard_storage=debug"),
            ("SWITCHBOARD_LOG_FORMAT", "json"),
        ],
    );
    let base_url = served.wait_for("listening on ");
    let key = served.wait_for("API key: ");
    {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        for (request_id, want) in [("req-trace-1", 201), ("req-trace-2", 409)] {
            let resp = client
                .post(format!("{base_url}/v1/customers"))
                .bearer_auth(&key)
                .header("X-Request-Id", request_id)
                .json(&serde_json::json!({"userId": "u-trace", "name": "Trace"}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), want, "{request_id}");
        }
    }
    let logs_path = served.stderr.clone();
    assert_eq!(served.terminate(), Some(0));
    let logs = std::fs::read_to_string(&logs_path).unwrap();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let in_span =
        |line: &serde_json::Value| line["span"]["request_id"].as_str().map(str::to_string);
    let violation: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["message"] == "unique violation")
        .collect();
    assert_eq!(violation.len(), 1, "{logs}");
    assert_eq!(
        in_span(violation[0]).as_deref(),
        Some("req-trace-2"),
        "a storage line of the request: {logs}"
    );
    let requests: Vec<Option<String>> = lines
        .iter()
        .filter(|l| l["message"] == "request" && l["route"] == "/v1/customers")
        .map(in_span)
        .collect();
    assert_eq!(
        requests,
        [
            Some("req-trace-1".to_string()),
            Some("req-trace-2".to_string())
        ],
        "{logs}"
    );
}

/// One HTTP/1.1 exchange on a raw keep-alive connection, as a load
/// balancer or a pooled client holds it.
struct Connection {
    reader: BufReader<TcpStream>,
}

/// A response read off a [`Connection`].
#[derive(Debug)]
struct RawResponse {
    status: u16,
    close: bool,
}

impl Connection {
    fn open(base_url: &str) -> Self {
        let addr = base_url.trim_start_matches("http://");
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Self {
            reader: BufReader::new(stream),
        }
    }

    /// Sends the head of a request (and `body`, which may be only part of
    /// what `Content-Length` announces).
    fn send(&mut self, method: &str, path: &str, key: &str, length: usize, body: &[u8]) {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
        );
        let stream = self.reader.get_mut();
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        stream.flush().unwrap();
    }

    fn send_rest(&mut self, body: &[u8]) {
        self.reader.get_mut().write_all(body).unwrap();
    }

    /// Reads one response; `None` when the server closed the connection.
    fn receive(&mut self) -> Option<RawResponse> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let status = line.split(' ').nth(1)?.parse().ok()?;
        let (mut length, mut close) = (0usize, false);
        loop {
            let mut header = String::new();
            self.reader.read_line(&mut header).ok()?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':')?;
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().ok()?,
                "connection" => close = value.trim().eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).ok()?;
        Some(RawResponse { status, close })
    }

    /// Whether the server has closed the connection (reads end of stream).
    fn closed_by_server(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0))
    }
}

/// SIGTERM under keep-alive traffic: the request in flight is answered,
/// a busy keep-alive connection gets `Connection: close` on its next
/// response and is closed, and the process exits as soon as the in-flight
/// work is done, far inside the 30 s shutdown timeout.
#[test]
fn sigterm_answers_in_flight_work_closes_keep_alive_and_exits_at_once() {
    let s = Scratch::new();
    let (mut served, base_url) = Served::listening(
        &s,
        &args("serve --demo --bind 127.0.0.1:0"),
        &s.path("stderr.log"),
    );
    let key = served.wait_for("API key: ");

    // An idle keep-alive connection.
    let mut idle = Connection::open(&base_url);
    idle.send("GET", "/v1/customers/1", &key, 0, b"");
    let r = idle.receive().expect("a response");
    assert_eq!(
        (r.status, r.close),
        (200, false),
        "keep-alive before the stop"
    );
    // A request in flight: its body is not complete yet.
    let body = br#"{"name": "Finished during the stop"}"#;
    let mut in_flight = Connection::open(&base_url);
    in_flight.send("PATCH", "/v1/customers/1", &key, body.len(), &body[..10]);
    // A busy keep-alive connection: a client sending request after request.
    let (done_tx, done) = mpsc::channel();
    let (busy_url, busy_key) = (base_url.clone(), key.clone());
    std::thread::spawn(move || {
        let mut busy = Connection::open(&busy_url);
        let mut last = None;
        loop {
            busy.send("GET", "/healthz", &busy_key, 0, b"");
            match busy.receive() {
                Some(r) if r.close => {
                    last = Some(r.status);
                    break;
                }
                Some(r) => last = Some(r.status),
                None => break,
            }
        }
        let _ = done_tx.send((last, busy.closed_by_server()));
    });
    std::thread::sleep(Duration::from_millis(300));

    served.sigterm();
    // The busy client is answered, told to close, and closed at once, not
    // served until the shutdown timeout.
    let (last, closed) = done
        .recv_timeout(Duration::from_secs(5))
        .expect("the busy keep-alive connection is still being served");
    assert_eq!(last, Some(200), "the busy client's last answer");
    assert!(closed, "the busy connection was not closed by the server");

    // The in-flight request completes normally.
    in_flight.send_rest(&body[10..]);
    let r = in_flight
        .receive()
        .expect("the in-flight request is answered");
    assert_eq!(r.status, 200, "in-flight request");
    let finished = Instant::now();

    // Nothing is in flight any more: idle connections close and the process
    // exits well before the 30 s shutdown timeout.
    assert!(idle.closed_by_server(), "the idle connection stays open");
    let logs_path = served.stderr.clone();
    let code = served.exit_within(Duration::from_secs(10));
    let logs = std::fs::read_to_string(&logs_path).unwrap();
    assert_eq!(code, Some(0), "exit status; logs:\n{logs}");
    assert!(
        finished.elapsed() < Duration::from_secs(5),
        "exited {:?} after the last request; logs:\n{logs}",
        finished.elapsed()
    );
    let customer = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = s.store().await;
        let tenant = s.tenant(&store, "demo").await;
        store
            .customers()
            .get(tenant.id, switchboard_domain::CustomerId::new(1))
            .await
            .unwrap()
    });
    assert_eq!(customer.name.as_deref(), Some("Finished during the stop"));
}

/// Every available backend's fresh database (PostgreSQL is started on a
/// blocking thread).
async fn databases() -> Vec<TestDb> {
    tokio::task::spawn_blocking(TestDb::all).await.unwrap()
}

/// `POST /v1/customers` with `key`; the status and body.
async fn create_customer(base_url: &str, key: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{base_url}/v1/customers"))
        .bearer_auth(key)
        .json(&serde_json::json!({"name": "Ada"}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

async fn get_status(url: &str, key: &str) -> u16 {
    status_of(reqwest::Client::new().get(url).bearer_auth(key)).await
}

/// `switchboard tenant delete` in one process while `switchboard serve`
/// still remembers the tenant's key (the default 30 s key cache): the
/// server answers the key's writes with 401 in the dialect's format, never
/// a 500 from the missing tenant row, and then forgets the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_tenants_cached_key_gets_401() {
    for db in databases().await {
        let s = Scratch::on(&db);
        s.ok(&["tenant", "create", "acme"]);
        s.ok(&["tenant", "create", "globex"]);
        let key = last_line(&s.ok(&["key", "create", "--tenant", "acme"])).to_string();
        let other = last_line(&s.ok(&["key", "create", "--tenant", "globex"])).to_string();
        let (served, base_url) =
            Served::listening(&s, &args("serve --bind 127.0.0.1:0"), &s.path("serve.log"));
        let (status, body) = create_customer(&base_url, &key).await;
        assert_eq!(status, 201, "{}: {body}", db.label);
        let customer = format!("{base_url}/v1/customers/{}", body["id"]);

        let unconfirmed = s.run(&["tenant", "delete", "acme"]);
        assert_eq!(
            unconfirmed.status.code(),
            Some(2),
            "{}",
            describe(&unconfirmed)
        );
        assert!(String::from_utf8_lossy(&unconfirmed.stderr).contains("--yes"));
        let out = s.ok(&["tenant", "delete", "acme", "--yes"]);
        assert!(out.contains("deleted tenant \"acme\""), "{out}");

        // The server verified the key seconds ago and still remembers it.
        let (status, body) = create_customer(&base_url, &key).await;
        assert_eq!(status, 401, "{}: {body}\n{}", db.label, served.logs());
        // HelpCrunch's two entries: `invalid_request`, then why.
        assert_eq!(body["errors"][1]["code"], "unauthorized", "{body}");
        // Then it forgot the key: the next request is looked up, and refused.
        assert_eq!(get_status(&customer, &key).await, 401, "{}", db.label);
        // Another tenant is untouched.
        assert_eq!(
            create_customer(&base_url, &other).await.0,
            201,
            "{}",
            db.label
        );
        assert!(!served.logs().contains("status=500"), "{}", served.logs());
        assert_eq!(served.terminate(), Some(0));
    }
}

/// `switchboard key revoke` in one process: a server that does not cache
/// keys (`api.key_cache_secs = 0`) refuses the key at once; the tenant's
/// other keys keep working. With the default cache the bound is the cache
/// time (documented), which `KeyCache`'s own tests cover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_key_is_refused() {
    for db in databases().await {
        let s = Scratch::on(&db);
        s.ok(&["tenant", "create", "acme"]);
        let created = s.ok(&["key", "create", "--tenant", "acme", "--name", "zapier"]);
        let key = last_line(&created).to_string();
        let kept = last_line(&s.ok(&["key", "create", "--tenant", "acme"])).to_string();
        let mut served = Served::start_with(
            &s,
            &["serve", "--bind", "127.0.0.1:0"],
            &s.path("serve.log"),
            &[("SWITCHBOARD_API_KEY_CACHE_SECS", "0")],
        );
        let base_url = served.wait_for("listening on ");
        assert_eq!(
            create_customer(&base_url, &key).await.0,
            201,
            "{}",
            db.label
        );

        let listed = s.ok(&["key", "list", "--tenant", "acme"]);
        assert!(listed.contains("\"zapier\""), "{listed}");
        assert!(!listed.contains(&key), "a secret was listed: {listed}");
        s.invalid(&["key", "revoke", "--tenant", "acme", "999"]);
        let prefix = key.rsplit_once('_').unwrap().0;
        let out = s.ok(&["key", "revoke", "--tenant", "acme", prefix]);
        assert!(out.contains("revoked API key \"zapier\""), "{out}");

        let (status, body) = create_customer(&base_url, &key).await;
        assert_eq!(status, 401, "{}: {body}", db.label);
        assert_eq!(
            create_customer(&base_url, &kept).await.0,
            201,
            "{}",
            db.label
        );
        assert_eq!(served.terminate(), Some(0));
    }
}

/// `switchboard attribute create` / `delete` in one process while
/// `switchboard serve` runs and has the tenant's definitions cached: the
/// server's next PATCH and custom attribute search follow the change, on
/// SQLite at once (the cache checks the tenant's stamp on every use), on
/// PostgreSQL as soon as its listener hears the `NOTIFY` (polled here for
/// at most two seconds; the cache's own expiry is 30 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_server_follows_the_attributes_the_command_changes() {
    for db in databases().await {
        let label = db.label;
        let s = Scratch::on(&db);
        s.ok(&["tenant", "create", "acme"]);
        let key = last_line(&s.ok(&["key", "create", "--tenant", "acme"])).to_string();
        let (served, base_url) =
            Served::listening(&s, &args("serve --bind 127.0.0.1:0"), &s.path("serve.log"));
        let (status, body) = create_customer(&base_url, &key).await;
        assert_eq!(status, 201, "{label}: {body}");
        let client = reqwest::Client::new();
        let customer = format!("{base_url}/v1/customers/{}", body["id"]);
        let search = format!("{base_url}/v1/customers/search");
        // (PATCH status, search status) with `plan` set / searched.
        let statuses = || async {
            let patch = client
                .patch(&customer)
                .bearer_auth(&key)
                .json(&serde_json::json!({"customData": [{"property": "plan", "value": "pro"}]}));
            let find = client.post(&search).bearer_auth(&key).json(&serde_json::json!({
                "filter": [{"field": "customers.customData.plan", "operator": "=", "value": "pro"}]
            }));
            (status_of(patch).await, status_of(find).await)
        };
        // Until `want` (SQLite: the first answer must be it).
        let expect = |want: (u16, u16), what: &'static str| {
            let statuses = &statuses;
            async move {
                let tries = if label == "sqlite" { 1 } else { 100 };
                let mut got = (0, 0);
                for _ in 0..tries {
                    got = statuses().await;
                    if got == want {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                panic!("{label}: {what}: {got:?}, not {want:?}");
            }
        };
        // Cached without `plan`.
        expect((400, 400), "before").await;
        s.ok(&args(
            "attribute create --tenant acme --name plan --type string",
        ));
        expect((200, 200), "once defined").await;
        let cleared = client
            .patch(&customer)
            .bearer_auth(&key)
            .json(&serde_json::json!({"customData": [{"property": "plan", "value": null}]}));
        assert_eq!(status_of(cleared).await, 200, "{label}");
        s.ok(&["attribute", "delete", "--tenant", "acme", "plan"]);
        expect((400, 400), "once deleted").await;
        assert!(!served.logs().contains("status=500"), "{}", served.logs());
        assert_eq!(served.terminate(), Some(0));
    }
}

/// A wrong webhook secret key stops `serve` (and `migrate`) at start with
/// an error naming the subscription and the key, instead of signing
/// deliveries with garbage.
#[tokio::test]
async fn a_wrong_secret_key_fails_at_start() {
    let s = Scratch::new();
    s.ok(&["tenant", "create", "acme"]);
    let store = s.store().await;
    let tenant = s.tenant(&store, "acme").await;
    let sub = subscribe(&store, &tenant, switchboard_domain::EventType::EmailUpdated).await;
    drop(store);
    let (id, _) = SECRET_KEYS.split_once(':').unwrap();
    let wrong = format!("{id}:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=");
    for args in [&["serve", "--bind", "127.0.0.1:0"][..], &["migrate"][..]] {
        let out = s
            .command(args)
            .env("SWITCHBOARD_SECRETS_KEYS", &wrong)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("webhook subscription {}", sub.id.get()))
                && stderr.contains("does not decrypt"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("ICEiIyQl"), "key material in: {stderr}");
    }
}
