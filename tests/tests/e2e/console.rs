//! The operator console end to end: HTTP-level checks of sign-in,
//! cookies, CSRF and tenant scoping on both backends, and a real headless
//! Chromium driven through chromedriver (`fantoccini`) for what a browser
//! does: forms, live updates over SSE without a reload, a cross-site form
//! post. Without chromedriver the browser tests print a loud notice and
//! pass, except in CI (`CI` set), where they fail.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use switchboard_domain::{Actor, Agent, Conversation, ConversationStatus, Visitor};
use switchboard_e2e::{FetchJson, TestApp, for_each_backend};
use switchboard_testsupport::receiver::{Receiver, Reply};

use crate::e2e::common::{WAIT, webhook_config, zoho};

pub(crate) const PASSWORD: &str = "a long console password";

/// Creates an agent of the app's tenant with [`PASSWORD`].
pub(crate) async fn agent(app: &TestApp, name: &str, email: &str, role: &str) -> Agent {
    let agent = app.seed_agent(name, email, role).await;
    app.store
        .console()
        .set_password(app.tenant.id, email, PASSWORD)
        .await
        .unwrap();
    agent
}

/// A client that does not follow redirects.
pub(crate) fn plain() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The value of cookie `name` among a response's `Set-Cookie` headers, with the whole header.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<(String, String)> {
    res.headers().get_all(SET_COOKIE).iter().find_map(|v| {
        let v = v.to_str().ok()?;
        let value = v.strip_prefix(&format!("{name}="))?.split(';').next()?;
        Some((value.to_string(), v.to_string()))
    })
}

/// The first `name="csrf"` value of a page.
pub(crate) fn csrf_of(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("a csrf field");
    let rest = &html[at + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// Signs in over HTTP: `(status, session cookie)`.
pub(crate) async fn sign_in(app: &TestApp, email: &str, password: &str) -> (u16, Option<String>) {
    let res = post_sign_in(app, email, password, &[]).await;
    let status = res.status().as_u16();
    (status, set_cookie(&res, "sb_console").map(|(v, _)| v))
}

/// Fills in the sign-in form as a browser does (its page first, for the
/// sign-in cookie and the CSRF token), with `headers` on both requests;
/// the answer to the post.
async fn post_sign_in(
    app: &TestApp,
    email: &str,
    password: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let with_headers = |mut request: reqwest::RequestBuilder| {
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
    };
    let client = plain();
    let form = with_headers(client.get(app.url("/console/sign-in")))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let (token, _) = set_cookie(&form, "sb_console_sign_in").expect("a sign-in cookie");
    let csrf = csrf_of(&form.text().await.unwrap());
    with_headers(client.post(app.url("/console/sign-in")))
        .header(COOKIE, format!("sb_console_sign_in={token}"))
        .form(&[("email", email), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .unwrap()
}

/// `GET path` with the session cookie.
pub(crate) async fn get(app: &TestApp, session: &str, path: &str) -> (u16, String) {
    answer(signed_in(plain().get(app.url(path)), session)).await
}

/// The request with the console session cookie `session`.
pub(crate) fn signed_in(
    request: reqwest::RequestBuilder,
    session: &str,
) -> reqwest::RequestBuilder {
    request.header(COOKIE, format!("sb_console={session}"))
}

/// Sends the request: the answer's status and text.
pub(crate) async fn answer(request: reqwest::RequestBuilder) -> (u16, String) {
    let res = request.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// A conversation of another tenant (`globex`), for scoping checks.
async fn another_tenants_conversation(app: &TestApp) -> Conversation {
    let (other, _) = app.other_tenant("globex").await;
    app.store
        .conversations()
        .create(
            &switchboard_storage::WriteContext::new(other.clone(), Actor::System, "e2e"),
            Conversation::new(other.id, "theirs", switchboard_storage::now()),
        )
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_cookies_csrf_and_tenant_scoping_over_http() {
    for_each_backend(|app| async move {
        let b = app.backend;
        let me = agent(&app, "Ada", "ada@example.com", "admin").await;
        let conv = app
            .seed_conversation("s-1", |c| c.visitor.name = Some("Vera".into()))
            .await;

        // Not signed in: every page sends the browser to the sign-in form.
        let res = plain().get(app.url("/console/inbox")).send().await.unwrap();
        assert_eq!(res.status(), 303, "{b}");
        assert_eq!(res.headers()[LOCATION], "/console/sign-in", "{b}");

        // A wrong password is 401 and sets no session.
        let (status, cookie) = sign_in(&app, "ada@example.com", "wrong password!").await;
        assert_eq!((status, cookie), (401, None), "{b}");

        // The right one: a session cookie, HttpOnly, SameSite=Strict, not
        // Secure over plain HTTP.
        let res = post_sign_in(&app, "ada@example.com", PASSWORD, &[]).await;
        assert_eq!(res.status(), 303, "{b}");
        let (session, header) = set_cookie(&res, "sb_console").unwrap();
        assert!(header.contains("HttpOnly"), "{header}");
        assert!(header.contains("SameSite=Strict"), "{header}");
        assert!(!header.contains("Secure"), "{header}");

        let (status, inbox) = get(&app, &session, "/console/inbox").await;
        assert_eq!(status, 200, "{b}");
        assert!(
            inbox.contains(&format!("data-conversation=\"{}\"", conv.id.get())),
            "{b}"
        );
        let (status, page) = get(
            &app,
            &session,
            &format!("/console/conversations/{}", conv.id.get()),
        )
        .await;
        assert_eq!(status, 200, "{b}");
        let page_csrf = csrf_of(&page);

        // A state-changing post needs the session's CSRF token and must
        // come from this origin.
        let post = |origin: Option<&'static str>, site: Option<&'static str>, token: String| {
            let mut r = signed_in(
                plain().post(app.url(&format!("/console/conversations/{}/status", conv.id.get()))),
                &session,
            )
            .form(&[("status", "closed".to_string()), ("csrf", token)]);
            if let Some(o) = origin {
                r = r.header("origin", o);
            }
            if let Some(s) = site {
                r = r.header("sec-fetch-site", s);
            }
            r.send()
        };
        for (origin, site, token) in [
            (None, None, "0".repeat(32)),
            (Some("http://evil.example"), None, page_csrf.clone()),
            (Some("null"), None, page_csrf.clone()),
            (None, Some("cross-site"), page_csrf.clone()),
            (None, Some("same-site"), page_csrf.clone()),
        ] {
            let res = post(origin, site, token).await.unwrap();
            assert_eq!(res.status(), 403, "{b}: {origin:?} {site:?}");
        }
        let unchanged = app.stored_conversation(conv.id).await;
        assert_eq!(unchanged.status, ConversationStatus::New, "{b}");
        let origin: &'static str = Box::leak(app.base_url.clone().into_boxed_str());
        let res = post(Some(origin), Some("same-origin"), page_csrf.clone())
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{b}");
        let closed = app.stored_conversation(conv.id).await;
        assert_eq!(closed.status, ConversationStatus::Closed, "{b}");
        assert_eq!(closed.closed_by, Some(Actor::Agent(me.id)), "{b}");
        // Recorded as the console, by the agent, and shown in the timeline.
        let history = app
            .store
            .conversations()
            .history(app.tenant.id, conv.id, 10)
            .await
            .unwrap();
        assert_eq!(history[0].api, "console", "{b}");
        assert_eq!(history[0].actor, Actor::Agent(me.id), "{b}");
        let (_, page) = get(
            &app,
            &session,
            &format!("/console/conversations/{}", conv.id.get()),
        )
        .await;
        assert!(
            page.contains(r#"<strong>Ada</strong> via <span class="api">console</span>"#),
            "{b}"
        );

        // Bad input is a 4xx page, never a 5xx.
        for (path, body) in [
            ("status", vec![("status", "archived")]),
            ("assignee", vec![("assignee", "abc")]),
            ("assignee", vec![("assignee", "999999")]),
            ("department", vec![("department", "999999")]),
        ] {
            let mut form: Vec<(&str, &str)> = body;
            form.push(("csrf", &page_csrf));
            let res = signed_in(
                plain().post(app.url(&format!("/console/conversations/{}/{path}", conv.id.get()))),
                &session,
            )
            .header("origin", origin)
            .form(&form)
            .send()
            .await
            .unwrap();
            assert!(
                res.status().is_client_error(),
                "{b}: {path} {form:?} -> {}",
                res.status()
            );
        }

        // Another tenant's conversation is a 404, like a missing one.
        let theirs = another_tenants_conversation(&app).await;
        for path in [
            format!("/console/conversations/{}", theirs.id.get()),
            "/console/conversations/999999".to_string(),
            "/console/conversations/abc".to_string(),
        ] {
            let (status, _) = get(&app, &session, &path).await;
            assert_eq!(status, 404, "{b}: {path}");
        }

        // Sign-out ends the session.
        let res = signed_in(plain().post(app.url("/console/sign-out")), &session)
            .header("origin", origin)
            .form(&[("csrf", &page_csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{b}");
        let (status, _) = get(&app, &session, "/console/inbox").await;
        assert_eq!(status, 303, "{b}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_attempts_are_rate_limited_per_client() {
    // One attempt a minute after a burst of 3: slow Argon2 checks in a
    // debug build cannot earn a token back during the test.
    let config = switchboard_e2e::TestConfig {
        console: switchboard_console::ConsoleConfig {
            sign_in_per_minute: 1,
            sign_in_burst: 3,
            ..switchboard_console::ConsoleConfig::default()
        },
        ..switchboard_e2e::TestConfig::default()
    };
    let app = TestApp::spawn_with(switchboard_e2e::Backend::Sqlite, config)
        .await
        .unwrap();
    agent(&app, "Ada", "ada@example.com", "agent").await;
    let burst = 3;
    for n in 0..burst {
        let (status, _) = sign_in(&app, "ada@example.com", "wrong password!").await;
        assert_eq!(status, 401, "attempt {n}");
    }
    // Even the right password waits now.
    let (status, cookie) = sign_in(&app, "ada@example.com", PASSWORD).await;
    assert_eq!((status, cookie), (429, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sse_stream_resumes_after_last_event_id() {
    let app = TestApp::sqlite().await;
    agent(&app, "Ada", "ada@example.com", "agent").await;
    let (_, session) = sign_in(&app, "ada@example.com", PASSWORD).await;
    let session = session.unwrap();
    let start = app.store.console().last_event_id().await.unwrap();
    let a = app.seed_conversation("s-a", |_| {}).await;
    let b = app.seed_conversation("s-b", |_| {}).await;
    let read = |after: i64| {
        let session = session.clone();
        let url = app.url("/console/events");
        async move {
            let mut res = signed_in(plain().get(url), &session)
                .header("last-event-id", after.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(res.headers()["content-type"], "text/event-stream");
            let mut text = String::new();
            while text.matches("event: change").count() < 1 {
                let chunk = tokio::time::timeout(WAIT, res.chunk())
                    .await
                    .unwrap()
                    .unwrap()
                    .unwrap();
                text.push_str(std::str::from_utf8(&chunk).unwrap());
            }
            text
        }
    };
    let first = read(start).await;
    assert!(
        first.contains(&format!(
            "data: {{\"entity\":\"conversation\",\"id\":{}}}",
            a.id.get()
        )),
        "{first}"
    );
    let id: i64 = first
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap()
        .parse()
        .unwrap();
    let resumed = read(id).await;
    assert!(
        resumed.contains(&format!("\"id\":{}}}", b.id.get())),
        "{resumed}"
    );
    assert!(
        !resumed.contains(&format!("\"id\":{}}}", a.id.get())),
        "{resumed}"
    );
}

// ---- the browser ----

/// A headless Chromium driven through chromedriver; killed on drop.
pub(crate) struct Browser {
    pub(crate) client: Client,
    driver: Child,
    /// Chromium's profile: a new directory for each browser, removed with
    /// it (named by the driver's port, profiles were left behind and a
    /// later run on the same port started from an old one).
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; `None` (with a loud
    /// notice) when chromedriver is missing outside CI.
    pub(crate) async fn start() -> Option<Self> {
        let found = Command::new("chromedriver")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            assert!(
                std::env::var_os("CI").is_none(),
                "chromedriver is missing: install `chromium chromium-driver` (apt)"
            );
            eprintln!(
                "\n!!!!!!!!\n!!! SKIPPED the console's browser tests: chromedriver is not installed.\n!!! Install it with: apt-get install chromium chromium-driver\n!!!!!!!!\n"
            );
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let profile = tempfile::Builder::new()
            .prefix("sb-console-chromium-")
            .tempdir()
            .unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.path().display()),
            ]}),
        );
        let deadline = Instant::now() + WAIT;
        let client = loop {
            let attempt = ClientBuilder::rustls()
                .unwrap()
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await;
            match attempt {
                Ok(c) => break c,
                Err(e) => {
                    assert!(Instant::now() < deadline, "cannot start chromium: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        Some(Self {
            client,
            driver,
            _profile: profile,
        })
    }

    pub(crate) async fn sign_in(&self, app: &TestApp, email: &str, password: &str) {
        self.visit(app, "/console/sign-in").await;
        self.fill("input[name=email]", email).await;
        self.fill("input[name=password]", password).await;
        self.click("#sign-in").await;
    }

    /// Opens the app's page `path`.
    pub(crate) async fn visit(&self, app: &TestApp, path: &str) {
        self.client.goto(&app.url(path)).await.unwrap();
    }

    /// The element `css` (which must be on the page).
    async fn element(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
    }

    /// Clicks `css`.
    pub(crate) async fn click(&self, css: &str) {
        self.element(css).await.click().await.unwrap();
    }

    /// Replaces the value of the input `css` with `text`.
    pub(crate) async fn fill(&self, css: &str, text: &str) {
        let e = self.element(css).await;
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    /// Chooses `value` in the select `css`.
    pub(crate) async fn select(&self, css: &str, value: &str) {
        self.element(css)
            .await
            .select_by_value(value)
            .await
            .unwrap();
    }

    /// Polls until `css`'s text contains `want`, at most `within`.
    pub(crate) async fn wait_text(&self, css: &str, want: &str, within: Duration) -> Duration {
        let start = Instant::now();
        loop {
            if let Ok(e) = self.client.find(Locator::Css(css)).await
                && e.text().await.is_ok_and(|t| t.contains(want))
            {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < within,
                "{css} did not show {want:?} within {within:?}; page: {}",
                self.client.source().await.unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The text of the element `css` (which must be on the page).
    pub(crate) async fn text(&self, css: &str) -> String {
        self.element(css).await.text().await.unwrap()
    }

    /// How many elements `css` finds.
    pub(crate) async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    /// Marks the page with `marker`, which a reload would lose (see
    /// [`Browser::assert_not_reloaded`]).
    pub(crate) async fn mark_page(&self, marker: i64) {
        let script = format!("window.__no_reload = {marker}; return null;");
        self.client.execute(&script, vec![]).await.unwrap();
    }

    /// The page still carries `marker` (see [`Browser::mark_page`]): it was
    /// not reloaded.
    pub(crate) async fn assert_not_reloaded(&self, marker: i64) {
        let found = self
            .client
            .execute("return window.__no_reload || null;", vec![])
            .await
            .unwrap();
        assert_eq!(found, json!(marker), "the page was reloaded");
    }

    /// Saves a screenshot to `docs/` when `SWITCHBOARD_SCREENSHOTS` is set.
    pub(crate) async fn screenshot(&self, name: &str) {
        if std::env::var_os("SWITCHBOARD_SCREENSHOTS").is_none() {
            return;
        }
        let png = self.client.screenshot().await.unwrap();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/");
        std::fs::write(format!("{path}{name}"), png).unwrap();
    }
}

/// Waits until the inbox lists `name`, and only that row.
async fn inbox_shows_only(browser: &Browser, name: &str) {
    browser.wait_text("#inbox", name, WAIT).await;
    assert_eq!(browser.count("#inbox tbody tr").await, 1, "{name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_console_in_a_real_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let Some(app) = TestApp::spawn_with(switchboard_e2e::Backend::Sqlite, webhook_config()).await
    else {
        unreachable!("SQLite is always available");
    };
    let c = &browser.client;
    let me = agent(&app, "Ada Admin", "ada@example.com", "admin").await;
    let support = app
        .store
        .admin()
        .create_department(app.tenant.id, "Support")
        .await
        .unwrap();
    app.store
        .admin()
        .create_attribute(switchboard_domain::CustomAttribute {
            tenant_id: app.tenant.id,
            name: "plan".into(),
            kind: switchboard_domain::AttributeType::String,
            label: "Plan".into(),
        })
        .await
        .unwrap();
    let customer = app
        .seed_customer(|cu| {
            cu.name = Some("Charles Babbage".into());
            cu.email = Some("charles@example.com".into());
            cu.tags = vec![switchboard_domain::Tag {
                name: "vip".into(),
                color: "#e53935".into(),
            }];
            cu.custom_data.insert("plan".into(), json!("enterprise"));
        })
        .await;
    for (key, name, status) in [
        ("s-1", "Vera Visitor", ConversationStatus::New),
        ("s-2", "Otto Opened", ConversationStatus::Opened),
        ("s-3", "Clara Closed", ConversationStatus::Closed),
    ] {
        app.seed_conversation(key, |c| {
            c.visitor = Visitor {
                name: Some(name.into()),
                email: Some(format!("{key}@example.com")),
                ..Visitor::default()
            };
            c.status = status;
            if key == "s-2" {
                c.customer_id = Some(customer.id);
                c.assignee_id = Some(me.id);
                c.agent_ids = vec![me.id];
                c.department_id = Some(support.id);
                c.first_message = Some("Hello, my engine is stuck".into());
            }
        })
        .await;
    }

    // A wrong password: the form again, with an error.
    browser
        .sign_in(&app, "ada@example.com", "not the password")
        .await;
    browser
        .wait_text("#sign-in-error", "Wrong email or password", WAIT)
        .await;
    assert!(
        c.current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/console/sign-in")
    );

    // Signed in: the inbox.
    browser.sign_in(&app, "ada@example.com", PASSWORD).await;
    browser.wait_text("#inbox", "Vera Visitor", WAIT).await;
    assert_eq!(browser.count("#inbox tbody tr").await, 3);
    browser.screenshot("console-inbox.png").await;

    // Filters: status, then "mine", then a search by customer name.
    browser.select("#f-status", "closed").await;
    browser.click("#apply-filters").await;
    inbox_shows_only(&browser, "Clara Closed").await;
    browser.visit(&app, "/console/inbox?assignee=mine").await;
    inbox_shows_only(&browser, "Otto Opened").await;
    browser.visit(&app, "/console/inbox").await;
    browser.fill("#f-q", "Babbage").await;
    browser.click("#apply-filters").await;
    inbox_shows_only(&browser, "Otto Opened").await;
    browser.visit(&app, "/console/inbox?q=s-3%40example").await;
    inbox_shows_only(&browser, "Clara Closed").await;

    // A conversation created through Zoho, open in the console.
    let created = zoho(&app, reqwest::Method::POST, "/conversations")
        .json(&json!({"visitor": {"name": "Zoe Zoho", "email": "zoe@example.com"}, "question": "Pricing?"}))
        .fetch_expecting(200)
        .await;
    let id = created["data"]["id"].as_str().unwrap().to_string();
    browser
        .visit(&app, &format!("/console/conversations/{id}"))
        .await;
    browser.wait_text("#visitor", "Zoe Zoho", WAIT).await;
    browser.wait_text("#live-status", "Live", WAIT).await;
    // A marker that a reload would lose.
    browser.mark_page(42).await;

    // A Zoho PUT of customer_info appears within a second, without a reload.
    zoho(&app, reqwest::Method::PUT, &format!("/conversations/{id}"))
        .json(&json!({"customer_info": {"Plan": "Gold", "Seats": 4}}))
        .fetch_expecting(200)
        .await;
    let took = browser
        .wait_text("#custom-info", "Gold", Duration::from_secs(1))
        .await;
    println!("customer_info appeared after {took:?}");
    browser.assert_not_reloaded(42).await;
    browser.screenshot("console-conversation.png").await;

    // A status change in the console: visible through SuperOffice and
    // delivered as a webhook to a real receiver.
    let receiver = Receiver::start().await;
    app.post("/zapier/v1/hooks")
        .json(&json!({"target_url": receiver.url("/hook"), "event": "conversation_status_changed"}))
        .fetch_expecting(201)
        .await;
    browser.select("#a-status", "closed").await;
    browser.click("#set-status").await;
    browser
        .wait_text("#conversation-status", "closed", WAIT)
        .await;
    browser.wait_text("#history", "via console", WAIT).await;
    let so = app
        .get(&format!("/api/v1/ChatSession/{id}"))
        .fetch_expecting(200)
        .await;
    assert_eq!(so["Status"], "Closed", "{so}");
    let got = receiver.wait_for("/hook", 1, WAIT).await;
    let payload: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert!(payload.to_string().contains("closed"), "{payload}");

    // A cross-site form post (a page on another port of this host: the
    // same site, another origin, so the cookie is sent) is refused.
    let (theirs_id, before) = {
        let conv = app
            .stored_conversation(switchboard_domain::ConversationId::new(id.parse().unwrap()))
            .await;
        (conv.id.get(), conv.status)
    };
    let evil = format!(
        r#"<!doctype html><form id="f" method="post" action="{}/console/conversations/{theirs_id}/status">
           <input name="status" value="opened"><input name="csrf" value="guess"></form>
           <script>document.getElementById('f').submit()</script>"#,
        app.base_url
    );
    receiver.script(
        "/evil",
        [Reply::status(200)
            .header("content-type", "text/html")
            .body(evil)],
    );
    c.goto(&receiver.url("/evil")).await.unwrap();
    let deadline = Instant::now() + WAIT;
    while !c.current_url().await.unwrap().path().contains("/console/") {
        assert!(Instant::now() < deadline, "the form did not post");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    browser
        .wait_text("main", "came from another site", WAIT)
        .await;
    let after = app
        .stored_conversation(switchboard_domain::ConversationId::new(theirs_id))
        .await;
    assert_eq!(after.status, before);

    // Another tenant's conversation URL is a 404.
    let theirs = another_tenants_conversation(&app).await;
    browser
        .visit(&app, &format!("/console/conversations/{}", theirs.id.get()))
        .await;
    browser.wait_text("h1", "Not found", WAIT).await;

    // Phone width: the inbox still renders its list.
    c.set_window_size(390, 844).await.unwrap();
    browser.visit(&app, "/console/inbox").await;
    browser.wait_text("#inbox", "Zoe Zoho", WAIT).await;
    c.set_window_size(1280, 900).await.unwrap();

    // Sign out: back to the form, and the inbox wants a sign-in again.
    browser.click("#sign-out").await;
    browser.wait_text("h1", "Sign in", WAIT).await;
    browser.visit(&app, "/console/inbox").await;
    browser.wait_text("h1", "Sign in", WAIT).await;
    let _ = browser.client.clone().close().await;
    app.stop().await;
}

/// The session cookie's `Set-Cookie` header after signing in from a
/// client that sends `X-Forwarded-Proto: https`.
async fn cookie_behind_proxy(trusted_proxies: &str) -> String {
    let config = switchboard_e2e::TestConfig::with_api(switchboard_api::ApiConfig {
        trusted_proxies: trusted_proxies
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect(),
        ..switchboard_api::ApiConfig::default()
    });
    let app = TestApp::spawn_with(switchboard_e2e::Backend::Sqlite, config)
        .await
        .unwrap();
    agent(&app, "Ada", "ada@example.com", "agent").await;
    let headers = [("x-forwarded-proto", "https")];
    let res = post_sign_in(&app, "ada@example.com", PASSWORD, &headers).await;
    assert_eq!(res.status(), 303);
    set_cookie(&res, "sb_console").unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_secure_only_behind_a_trusted_proxy_that_says_https() {
    let untrusted = cookie_behind_proxy("").await;
    assert!(!untrusted.contains("Secure"), "{untrusted}");
    let trusted = cookie_behind_proxy("127.0.0.0/8").await;
    assert!(trusted.contains("Secure"), "{trusted}");
    assert!(
        trusted.contains("HttpOnly") && trusted.contains("SameSite=Strict"),
        "{trusted}"
    );
}
