//! The console's customer page, roles, webhooks and settings pages: over
//! HTTP on both backends (roles refused with 403, the domain's refusal of a
//! bad attribute value, tenant scoping), and in a real headless Chromium
//! (editing a custom attribute, a bad value refused with the domain's
//! message, tags added and removed, an agent refused the admin pages,
//! re-enabling a disabled subscription and redelivering, an API key
//! created with its secret shown once and revoked).

use std::time::{Duration, Instant};

use fantoccini::Locator;
use reqwest::Method;
use serde_json::json;
use switchboard_domain::{Actor, AttributeType, Customer, Tag};
use switchboard_e2e::{FetchJson, TestApp, for_each_backend};
use switchboard_testsupport::receiver::{Receiver, Reply};

use crate::e2e::common::{WAIT, webhook_config};
use crate::e2e::console::{
    Browser, PASSWORD, agent, answer, csrf_of, get, plain, sign_in, signed_in,
};

/// `POST path` with the session cookie and this origin.
async fn post(app: &TestApp, session: &str, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    answer(
        signed_in(plain().post(app.url(path)), session)
            .header("origin", app.base_url.as_str())
            .form(form),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_edits_roles_and_admin_pages_over_http() {
    for_each_backend(|app| async move {
        let b = app.backend;
        let admin = agent(&app, "Ada", "ada@example.com", "admin").await;
        agent(&app, "Bob", "bob@example.com", "agent").await;
        app.define_attribute("seats", AttributeType::Number, "Seats")
            .await;
        let cu = app.seed_customer(|c| c.name = Some("Charles".into())).await;
        let (_, admin_session) = sign_in(&app, "ada@example.com", PASSWORD).await;
        let admin_session = admin_session.unwrap();
        let (_, agent_session) = sign_in(&app, "bob@example.com", PASSWORD).await;
        let agent_session = agent_session.unwrap();

        // Roles: the admin pages and actions are 403 for an agent, whose
        // navigation does not offer them.
        let (status, inbox) = get(&app, &agent_session, "/console/inbox").await;
        assert_eq!(status, 200, "{b}");
        assert!(
            !inbox.contains("nav-settings") && !inbox.contains("nav-webhooks"),
            "{b}"
        );
        let agent_csrf = csrf_of(&inbox);
        for path in [
            "/console/settings",
            "/console/webhooks",
            "/console/webhooks/1",
        ] {
            let (status, body) = get(&app, &agent_session, path).await;
            assert_eq!(status, 403, "{b}: {path}");
            assert!(
                body.contains("your role does not allow this"),
                "{b}: {body}"
            );
        }
        let setup = app.store.admin();
        let keys_before = setup.api_keys(app.tenant.id).await.unwrap().len();
        for (path, form) in [
            ("/console/settings/keys", vec![("name", "sneaky")]),
            ("/console/settings/departments", vec![("name", "Sneaky")]),
            (
                "/console/settings/agents",
                vec![
                    ("name", "Eve"),
                    ("email", "eve@example.com"),
                    ("role", "admin"),
                ],
            ),
            ("/console/webhooks/1/enable", vec![]),
            ("/console/webhooks/events/1/requeue", vec![]),
        ] {
            let mut form = form;
            form.push(("csrf", &agent_csrf));
            let (status, _) = post(&app, &agent_session, path, &form).await;
            assert_eq!(status, 403, "{b}: {path}");
        }
        let keys_after = setup.api_keys(app.tenant.id).await.unwrap().len();
        assert_eq!(keys_after, keys_before, "{b}");
        let departments = setup.departments(app.tenant.id).await.unwrap();
        assert!(departments.is_empty(), "{b}");
        let (status, inbox) = get(&app, &admin_session, "/console/inbox").await;
        assert_eq!(status, 200, "{b}");
        assert!(
            inbox.contains("nav-settings") && inbox.contains("nav-webhooks"),
            "{b}"
        );
        let (status, _) = get(&app, &admin_session, "/console/settings").await;
        assert_eq!(status, 200, "{b}");
        let (status, _) = get(&app, &admin_session, "/console/webhooks").await;
        assert_eq!(status, 200, "{b}");

        // The customer page: an agent edits an attribute through the
        // domain's rules; a bad value is a 400 with the domain's message
        // and nothing stored.
        let path = format!("/console/customers/{}", cu.id.get());
        let (status, page) = get(&app, &agent_session, &path).await;
        assert_eq!(status, 200, "{b}");
        assert!(page.contains("Charles"), "{b}");
        let csrf = csrf_of(&page);
        let attrs = format!("{path}/attributes");
        // Posts the attribute form with the page's CSRF token.
        let set_attribute = |name: &'static str, value: &'static str| {
            let form = [("name", name), ("value", value), ("csrf", csrf.as_str())];
            let (app, session, attrs) = (&app, &agent_session, &attrs);
            async move { post(app, session, attrs, &form).await }
        };
        let (status, _) = set_attribute("seats", "12").await;
        assert_eq!(status, 303, "{b}");
        let stored = app.stored_customer(cu.id).await;
        assert_eq!(stored.custom_data["seats"], json!(12), "{b}");
        let (status, body) = set_attribute("seats", "lots").await;
        assert_eq!(status, 400, "{b}");
        assert!(
            body.contains("/customData/seats: must be a number"),
            "{b}: {body}"
        );
        let (status, body) = set_attribute("undefined", "x").await;
        assert_eq!(status, 400, "{b}");
        assert!(body.contains("is not defined"), "{b}: {body}");
        let (status, body) = post(
            &app,
            &agent_session,
            &format!("{path}/fields"),
            &[
                ("name", "Charles"),
                ("email", "not an email"),
                ("csrf", &csrf),
            ],
        )
        .await;
        assert_eq!(status, 400, "{b}");
        assert!(
            body.contains("/email: must be a valid email address"),
            "{b}"
        );
        let unchanged = app.stored_customer(cu.id).await;
        assert_eq!(unchanged.version, stored.version, "{b}: nothing stored");
        // Recorded as the console, by the agent.
        let history = app
            .store
            .customers()
            .history(app.tenant.id, cu.id, 10)
            .await
            .unwrap();
        assert_eq!(history[0].api, "console", "{b}");
        assert!(matches!(history[0].actor, Actor::Agent(_)), "{b}");
        assert_ne!(
            history[0].actor,
            Actor::Agent(admin.id),
            "{b}: the agent, not the admin"
        );
        // A forged post is refused.
        let (status, _) = post(
            &app,
            &agent_session,
            &attrs,
            &[("name", "seats"), ("value", "1"), ("csrf", "0")],
        )
        .await;
        assert_eq!(status, 403, "{b}");

        // Another tenant's customer is a 404, like a missing one.
        let (other, _) = app.other_tenant("globex").await;
        let theirs = app
            .store
            .customers()
            .create(
                &switchboard_storage::WriteContext::new(other.clone(), Actor::System, "e2e"),
                Customer::new(other.id, switchboard_storage::now()),
            )
            .await
            .unwrap();
        for p in [
            format!("/console/customers/{}", theirs.id.get()),
            "/console/customers/999999".to_string(),
            "/console/customers/abc".to_string(),
        ] {
            let (status, _) = get(&app, &agent_session, &p).await;
            assert_eq!(status, 404, "{b}: {p}");
        }
        let (status, _) = post(
            &app,
            &agent_session,
            &format!("/console/customers/{}/tags", theirs.id.get()),
            &[("tag", "x"), ("csrf", &csrf)],
        )
        .await;
        assert_eq!(status, 404, "{b}");
        let theirs = app
            .store
            .customers()
            .get(other.id, theirs.id)
            .await
            .unwrap();
        assert!(theirs.tags.is_empty(), "{b}");

        // The admin pages are scoped to the admin's tenant too: another
        // tenant's subscription, quarantined event and key are 404s.
        let their_sub = app
            .store
            .webhooks()
            .create(switchboard_domain::WebhookSubscription::new(
                other.id,
                "https://hooks.example/x".to_string(),
                switchboard_domain::EventType::CustomerUpdated,
                "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
                app.store.now(),
            ))
            .await
            .unwrap();
        let their_key = app
            .store
            .admin()
            .create_api_key(other.id, "theirs", std::collections::BTreeSet::new())
            .await
            .unwrap();
        let their_event = app
            .store
            .customers()
            .events(other.id, theirs.id)
            .await
            .unwrap()[0]
            .id;
        switchboard_testsupport::RawConnection::open(&app.database_url).execute(&format!(
            "UPDATE outbox SET processed_at = NULL, quarantined_at = created_at, \
             fan_out_failures = 3 WHERE id = {}",
            their_event.get()
        ));
        let (status, _) = get(
            &app,
            &admin_session,
            &format!("/console/webhooks/{}", their_sub.id.get()),
        )
        .await;
        assert_eq!(status, 404, "{b}");
        let (_, settings) = get(&app, &admin_session, "/console/settings").await;
        assert!(!settings.contains("theirs"), "{b}");
        let admin_csrf = csrf_of(&settings);
        let (_, hooks) = get(&app, &admin_session, "/console/webhooks").await;
        assert!(
            !hooks.contains(&format!("data-event=\"{}\"", their_event.get())),
            "{b}"
        );
        for path in [
            format!("/console/webhooks/{}/enable", their_sub.id.get()),
            format!("/console/webhooks/{}/rotate", their_sub.id.get()),
            format!("/console/webhooks/events/{}/requeue", their_event.get()),
            format!("/console/settings/keys/{}/revoke", their_key.key.id.get()),
        ] {
            let (status, _) = post(&app, &admin_session, &path, &[("csrf", &admin_csrf)]).await;
            assert_eq!(status, 404, "{b}: {path}");
        }
        assert_eq!(
            app.store
                .webhooks()
                .quarantined(other.id, 10)
                .await
                .unwrap()
                .len(),
            1,
            "{b}"
        );
        let their_keys = app.store.admin().api_keys(other.id).await.unwrap();
        assert!(their_keys.iter().any(|k| k.id == their_key.key.id), "{b}");
        let still = app
            .store
            .webhooks()
            .get(other.id, their_sub.id)
            .await
            .unwrap();
        assert_eq!(still.secret, their_sub.secret, "{b}");

        // The admin's own quarantined event: listed, linked, requeued.
        let mine = app
            .store
            .customers()
            .events(app.tenant.id, cu.id)
            .await
            .unwrap()[0]
            .id;
        switchboard_testsupport::RawConnection::open(&app.database_url).execute(&format!(
            "UPDATE outbox SET processed_at = NULL, quarantined_at = created_at, \
             fan_out_failures = 3, last_error = 'payload unreadable' WHERE id = {}",
            mine.get()
        ));
        let (_, hooks) = get(&app, &admin_session, "/console/webhooks").await;
        assert!(
            hooks.contains(&format!("data-event=\"{}\"", mine.get())),
            "{b}"
        );
        assert!(hooks.contains("payload unreadable"), "{b}");
        assert!(
            hooks.contains(&format!("href=\"/console/customers/{}\"", cu.id.get())),
            "{b}"
        );
        let (status, _) = post(
            &app,
            &admin_session,
            &format!("/console/webhooks/events/{}/requeue", mine.get()),
            &[("csrf", &admin_csrf)],
        )
        .await;
        assert_eq!(status, 303, "{b}");
        assert!(
            app.store
                .webhooks()
                .quarantined(app.tenant.id, 10)
                .await
                .unwrap()
                .is_empty(),
            "{b}"
        );
    })
    .await;
}

/// Polls `check` until it holds, at most [`WAIT`].
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn customer_page_roles_webhooks_and_settings_in_a_real_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let mut config = webhook_config();
    config.webhook.disable_after = Duration::from_millis(600);
    let Some(app) = TestApp::spawn_with(switchboard_e2e::Backend::Sqlite, config).await else {
        unreachable!("SQLite is always available");
    };
    let c = &browser.client;
    agent(&app, "Ada Admin", "ada@example.com", "admin").await;
    agent(&app, "Bob Agent", "bob@example.com", "agent").await;
    app.define_attribute("seats", AttributeType::Number, "Seats")
        .await;
    app.define_attribute("plan", AttributeType::String, "Plan")
        .await;
    app.define_attribute("renewal", AttributeType::Date, "Renewal")
        .await;
    app.define_attribute("trial", AttributeType::Boolean, "On trial")
        .await;
    // The catalogue: "lead" is teal (another customer brought it).
    app.seed_customer(|cu| {
        cu.tags = vec![Tag {
            name: "lead".into(),
            color: "#00897b".into(),
        }];
    })
    .await;
    let cu = app
        .seed_customer(|cu| {
            cu.name = Some("Charles Babbage".into());
            cu.email = Some("charles@example.com".into());
            cu.tags = vec![Tag {
                name: "vip".into(),
                color: "#e53935".into(),
            }];
            cu.custom_data.insert("plan".into(), json!("enterprise"));
        })
        .await;
    let conv = app
        .seed_conversation("s-1", |c| {
            c.customer_id = Some(cu.id);
            c.visitor.name = Some("Charles".into());
        })
        .await;

    // An agent: no admin navigation, and the admin pages are refused.
    browser.sign_in(&app, "bob@example.com", PASSWORD).await;
    browser.wait_text("h1", "Inbox", WAIT).await;
    assert!(c.find(Locator::Css("#nav-settings")).await.is_err());
    assert!(c.find(Locator::Css("#nav-webhooks")).await.is_err());
    for path in ["/console/settings", "/console/webhooks"] {
        browser.visit(&app, path).await;
        browser.wait_text("h1", "Refused", WAIT).await;
        browser
            .wait_text("main", "your role does not allow this", WAIT)
            .await;
    }

    // The agent works the customer: from the conversation page's card.
    browser
        .visit(&app, &format!("/console/conversations/{}", conv.id.get()))
        .await;
    browser.click("#customer-link").await;
    browser.wait_text("h1", "Charles Babbage", WAIT).await;
    browser.wait_text("#live-status", "Live", WAIT).await;
    browser.wait_text("#customer-tags", "vip", WAIT).await;

    // A custom attribute edited with its typed editor.
    browser.fill("#attr-seats", "12").await;
    browser.click("#save-attr-seats").await;
    browser.wait_text("#history", "via console", WAIT).await;
    eventually("seats stored", || async {
        app.stored_customer(cu.id).await.custom_data.get("seats") == Some(&json!(12))
    })
    .await;
    let shown = c
        .find(Locator::Css("#attr-seats"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(shown.as_deref(), Some("12"));
    browser.select("#attr-trial", "true").await;
    browser.click("#save-attr-trial").await;
    eventually("trial stored", || async {
        app.stored_customer(cu.id).await.custom_data.get("trial") == Some(&json!(true))
    })
    .await;

    // A bad value: the domain's message, nothing stored.
    let before = app.stored_customer(cu.id).await;
    browser.fill("#attr-seats", "lots").await;
    browser.click("#save-attr-seats").await;
    browser
        .wait_text(
            "#customer-error",
            "/customData/seats: must be a number",
            WAIT,
        )
        .await;
    assert_eq!(app.stored_customer(cu.id).await.version, before.version);

    // Tags: add one the catalogue knows (in its colour), remove another.
    browser
        .visit(&app, &format!("/console/customers/{}", cu.id.get()))
        .await;
    browser.fill("#c-tag", "lead").await;
    browser.click("#add-tag").await;
    browser.wait_text("#customer-tags", "lead", WAIT).await;
    let style = c
        .find(Locator::Css("#customer-tags [data-tag=lead]"))
        .await
        .unwrap()
        .attr("style")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(style.contains("#00897b"), "{style}");
    browser.click("button[aria-label='Remove tag vip']").await;
    eventually("vip removed", || async {
        let tags = app.stored_customer(cu.id).await.tags;
        tags.iter().all(|t| t.name != "vip") && tags.iter().any(|t| t.name == "lead")
    })
    .await;
    browser.wait_text("#customer-tags", "lead", WAIT).await;
    let tags_text = browser.text("#customer-tags").await;
    assert!(!tags_text.contains("vip"), "{tags_text}");
    let stored = app.stored_customer(cu.id).await;
    assert_eq!(
        stored
            .tags
            .iter()
            .find(|t| t.name == "lead")
            .map(|t| t.color.as_str()),
        Some("#00897b")
    );

    // Live: a HelpCrunch change shows without a reload.
    browser.mark_page(7).await;
    app.patch(&format!("/v1/customers/{}", cu.id.get()))
        .json(&json!({"company": "Analytical Engines Ltd"}))
        .fetch_expecting(200)
        .await;
    eventually("the company shown live", || async {
        c.source()
            .await
            .unwrap_or_default()
            .contains("Analytical Engines Ltd")
    })
    .await;
    browser.assert_not_reloaded(7).await;
    // One of its conversations closed through SuperOffice shows too.
    app.patch(&format!("/api/v1/ChatSession/{}", conv.id.get()))
        .header("Content-Type", "application/merge-patch+json")
        .body(r#"{"Status": "Closed"}"#)
        .fetch_expecting(200)
        .await;
    browser
        .wait_text(
            &format!(
                "#customer-conversations tr[data-conversation='{}']",
                conv.id.get()
            ),
            "closed",
            WAIT,
        )
        .await;
    browser.assert_not_reloaded(7).await;
    browser.screenshot("console-customer.png").await;

    // Phone width: the customer page still renders its editors.
    c.set_window_size(390, 844).await.unwrap();
    c.refresh().await.unwrap();
    browser
        .wait_text("#customer-attributes", "Seats", WAIT)
        .await;
    c.set_window_size(1280, 900).await.unwrap();

    // The admin: a subscription that failed until it was disabled.
    browser.click("#sign-out").await;
    browser.wait_text("h1", "Sign in", WAIT).await;
    browser.sign_in(&app, "ada@example.com", PASSWORD).await;
    browser.wait_text("h1", "Inbox", WAIT).await;
    let receiver = Receiver::start().await;
    receiver.set_default("/down", Reply::status(503).body("maintenance window"));
    let hook = app
        .post("/zapier/v1/hooks")
        .json(&json!({"target_url": receiver.url("/down"), "event": "customer_updated"}))
        .fetch_expecting(201)
        .await;
    let hook = switchboard_domain::SubscriptionId::new(hook["id"].as_i64().unwrap());
    app.patch(&format!("/v1/customers/{}", cu.id.get()))
        .json(&json!({"company": "Difference Engines"}))
        .fetch_expecting(200)
        .await;
    eventually("the subscription is disabled", || async {
        app.store
            .webhooks()
            .get(app.tenant.id, hook)
            .await
            .unwrap()
            .state
            == switchboard_domain::SubscriptionState::Disabled
    })
    .await;
    let attempts = receiver.requests_to("/down").len();
    browser.click("#nav-webhooks").await;
    browser.wait_text("#subscriptions", "disabled", WAIT).await;
    browser
        .click(&format!("a[href='/console/webhooks/{}']", hook.get()))
        .await;
    browser
        .wait_text("#subscription-state", "disabled", WAIT)
        .await;
    browser
        .wait_text("#deliveries", "maintenance window", WAIT)
        .await;
    browser.wait_text("#deliveries", "HTTP 503", WAIT).await;
    assert!(
        c.find(Locator::Css(".redeliver")).await.is_err(),
        "no redeliver while disabled"
    );

    // Re-enabled, then a delivery sent again, this time answered.
    receiver.set_default("/down", Reply::status(200).body("thanks"));
    browser.click("#enable").await;
    browser
        .wait_text("#subscription-state", "active", WAIT)
        .await;
    browser.click(".redeliver").await;
    let got = receiver.wait_for("/down", attempts + 1, WAIT).await;
    let last: serde_json::Value = serde_json::from_slice(&got[attempts].body).unwrap();
    assert!(last.to_string().contains("Difference Engines"), "{last}");
    eventually("the redelivery is logged", || async {
        c.refresh().await.is_ok() && c.source().await.unwrap_or_default().contains("thanks")
    })
    .await;

    // Rotating the secret shows the new one once.
    browser.click("#rotate-secret").await;
    browser.wait_text("#new-secret", "whsec_", WAIT).await;
    let secret = browser.text("#new-secret").await;
    let stored = app.store.webhooks().get(app.tenant.id, hook).await.unwrap();
    assert_eq!(stored.secret, secret);
    browser
        .visit(&app, &format!("/console/webhooks/{}", hook.get()))
        .await;
    browser
        .wait_text("#subscription-state", "active", WAIT)
        .await;
    assert!(!c.source().await.unwrap().contains(&secret), "shown once");

    // Settings: an API key created (its secret shown once) works on a
    // dialect until it is revoked.
    browser.click("#nav-settings").await;
    browser.wait_text("h1", "Settings", WAIT).await;
    browser.fill("#n-key-name", "crm sync").await;
    browser.click("#create-key").await;
    browser.wait_text("#new-key-secret", "sbk_", WAIT).await;
    let key = browser.text("#new-key-secret").await;
    let hooks = || async {
        app.request_with_key(Method::GET, "/zapier/v1/hooks", &key)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(hooks().await, 200);
    browser.visit(&app, "/console/settings").await;
    browser.wait_text("#keys", "crm sync", WAIT).await;
    assert!(!c.source().await.unwrap().contains(&key), "shown once");
    browser
        .click("button[aria-label='Revoke key crm sync']")
        .await;
    browser.wait_text("h1", "Settings", WAIT).await;
    eventually("the key is refused", || async { hooks().await == 401 }).await;
    let keys_text = browser.text("main").await;
    assert!(!keys_text.contains("crm sync"), "{keys_text}");

    // Departments and attributes are created from the same page.
    browser.fill("#n-department", "Billing").await;
    browser.click("#create-department").await;
    browser.wait_text("#departments", "Billing", WAIT).await;
    browser.fill("#n-attr-name", "nps").await;
    browser.select("#n-attr-kind", "number").await;
    browser.click("#create-attribute").await;
    browser.wait_text("#attributes", "nps", WAIT).await;

    let _ = browser.client.clone().close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_cookies_always_marks_cookies_secure_over_plain_http() {
    let config = switchboard_e2e::TestConfig {
        console: switchboard_console::ConsoleConfig {
            secure_cookies: switchboard_console::SecureCookies::Always,
            ..switchboard_console::ConsoleConfig::default()
        },
        ..switchboard_e2e::TestConfig::default()
    };
    let app = TestApp::spawn_with(switchboard_e2e::Backend::Sqlite, config)
        .await
        .unwrap();
    let res = plain()
        .get(app.url("/console/sign-in"))
        .send()
        .await
        .unwrap();
    let header = res
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("sb_console_sign_in="))
        .unwrap()
        .to_string();
    assert!(header.contains("Secure"), "{header}");
    app.stop().await;
}

/// The inbox's search box: a whole email address is looked up exactly (a
/// visitor's or a customer's, from an index), part of one or a name is
/// looked for inside them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_search_finds_whole_addresses_exactly_and_parts_inside() {
    for_each_backend(|app| async move {
        let b = app.backend;
        agent(&app, "Ada", "ada@example.com", "admin").await;
        let (_, session) = sign_in(&app, "ada@example.com", PASSWORD).await;
        let session = session.unwrap();
        let cu = app
            .seed_customer(|c| c.email = Some("carla@example.org".into()))
            .await;
        app.seed_conversation("s-vera", |c| {
            c.visitor.name = Some("Vera".into());
            c.visitor.email = Some("vera@example.com".into());
        })
        .await;
        app.seed_conversation("s-xvera", |c| {
            c.visitor.name = Some("Xavier".into());
            c.visitor.email = Some("xvera@example.com".into());
        })
        .await;
        app.seed_conversation("s-carla", |c| {
            c.visitor.name = Some("Anonymous".into());
            c.customer_id = Some(cu.id);
        })
        .await;
        let rows = |page: &str| page.matches("<tr").count().saturating_sub(1);
        for (q, wanted, unwanted) in [
            (
                "vera%40example.com",
                &["Vera"][..],
                &["Xavier", "Anonymous"][..],
            ),
            ("vera%40example", &["Vera", "Xavier"], &["Anonymous"]),
            ("carla%40example.org", &["Anonymous"], &["Vera", "Xavier"]),
            ("Xav", &["Xavier"], &["Vera<", "Anonymous"]),
        ] {
            let (status, page) = get(&app, &session, &format!("/console/inbox?q={q}")).await;
            assert_eq!(status, 200, "{b}: {q}: {page}");
            for name in wanted {
                assert!(page.contains(name), "{b}: {q}: {name} missing:\n{page}");
            }
            for name in unwanted {
                assert!(!page.contains(name), "{b}: {q}: {name} found:\n{page}");
            }
            assert_eq!(rows(&page), wanted.len(), "{b}: {q}:\n{page}");
        }
    })
    .await;
}
