//! Webhooks end to end: Zapier REST hooks, the delivery worker inside the
//! real server, and a real receiver on loopback, on SQLite and PostgreSQL.
//! The retry schedule is shortened; every wait polls for a condition with a
//! generous deadline.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_domain::Scope;
use switchboard_e2e::{
    Backend, FetchJson, TestApp, TestConfig, for_each_backend, for_each_backend_with, json_of,
};
use switchboard_testsupport::receiver::{Received, Receiver, Reply};
use switchboard_webhook::{TargetPolicy, WebhookConfig};

use crate::e2e::common::{
    WAIT, attempts, create_chatlog, fast_webhooks, unix_now, update_email, wait_attempts,
    wait_idle, webhook_config,
};

/// Subscribes `url` to `event`; returns `(id, secret)`.
async fn subscribe(app: &TestApp, url: &str, event: &str) -> (i64, String) {
    let body = app
        .post("/zapier/v1/hooks")
        .json(&json!({"target_url": url, "event": event}))
        .fetch_expecting(201)
        .await;
    assert_eq!(body["event"], event);
    assert_eq!(body["target_url"], url);
    assert_eq!(body["state"], "active");
    let secret = body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (body["id"].as_i64().unwrap(), secret)
}

/// Checks the Standard Webhooks headers of `r` against `secret`.
fn assert_signed(r: &Received, secret: &str) {
    let id = r.header("webhook-id").expect("webhook-id");
    let ts = r.header("webhook-timestamp").expect("webhook-timestamp");
    let sig = r.header("webhook-signature").expect("webhook-signature");
    assert!(id.starts_with("msg_"), "{id}");
    assert!(sig.starts_with("v1,"), "{sig}");
    assert_eq!(r.header("content-type"), Some("application/json"));
    switchboard_webhook::verify(
        secret,
        id,
        ts,
        sig,
        &r.body,
        unix_now(),
        Duration::from_secs(300),
    )
    .unwrap_or_else(|e| panic!("signature does not verify: {e}; {r:?}"));
}

fn body_of(r: &Received) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatbot_email_update_reaches_a_zapier_subscriber_signed() {
    for_each_backend_with(&webhook_config(), |app| async move {
        let receiver = Receiver::start().await;
        create_chatlog(&app, "sess-1").await;
        let url = receiver.url("/zap");
        let (hook, secret) = subscribe(&app, &url, "email_updated").await;

        update_email(&app, "sess-1", "ada@example.com").await;
        let got = receiver.wait_for("/zap", 1, WAIT).await;
        let r = &got[0];
        assert_eq!(r.method, "POST");
        // `id` is the event's id: the same in every delivery of the event
        // and in performList, so Zapier can deduplicate by it.
        let event_id = body_of(r)["id"].as_i64().expect("a delivery carries id");
        assert_eq!(
            body_of(r),
            json!({
                "id": event_id,
                "user_session_id": "sess-1",
                "receiver_email": "ada@example.com",
                "company_username": app.tenant.name,
                "name": "Ada",
                "country": "United Kingdom",
                "status": "email_updated",
            }),
            "{}",
            app.backend
        );
        assert_signed(r, &secret);
        let ts: i64 = r.header("webhook-timestamp").unwrap().parse().unwrap();
        assert!((ts - unix_now()).abs() <= 60, "{ts}");

        // The delivery log shows the attempt, with the same webhook-id.
        let log = wait_attempts(&app, hook, 1).await;
        assert_eq!(log.len(), 1, "{log:?}");
        assert_eq!(log[0]["webhook_id"], r.header("webhook-id").unwrap());
        assert_eq!(log[0]["event"], "email_updated");
        assert_eq!(log[0]["outcome"], "success");
        assert_eq!(log[0]["status_code"], 200);
        assert_eq!(log[0]["attempt"], 1);
        assert_eq!(log[0]["response_excerpt"], "status 200");

        // performList returns the delivered payload, exactly.
        let samples = app
            .get("/zapier/v1/samples/email_updated")
            .fetch_expecting(200)
            .await;
        assert_eq!(samples[0], body_of(r));

        // Metrics count the attempt and the latency.
        wait_idle(&app).await;
        let text = app.metrics().await;
        assert!(
            text.contains("switchboard_webhook_attempts_total{outcome=\"success\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("switchboard_webhook_delivery_latency_seconds_count 1"),
            "{text}"
        );
        assert!(
            text.contains("switchboard_webhook_deliveries_pending 0"),
            "{text}"
        );
        // Exactly one delivery.
        assert_eq!(receiver.requests().len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_subscription_filtering_copies_and_tenants() {
    for_each_backend_with(&webhook_config(), |app| async move {
        let receiver = Receiver::start().await;
        // No subscription: the event is processed, nothing is sent, nothing fails.
        create_chatlog(&app, "s-0").await;
        update_email(&app, "s-0", "first@example.com").await;
        wait_idle(&app).await;
        assert!(receiver.requests().is_empty());

        let (_a, secret_a) = subscribe(&app, &receiver.url("/a"), "email_updated").await;
        let (_b, secret_b) = subscribe(&app, &receiver.url("/b"), "email_updated").await;
        let (_c, secret_c) = subscribe(&app, &receiver.url("/c"), "customer_created").await;
        let (_d, _) = subscribe(&app, &receiver.url("/d"), "conversation_status_changed").await;
        // Another tenant's subscription to the same event sees nothing of ours.
        let (_, other_key) = app.other_tenant("globex").await;
        app.request_with_key(reqwest::Method::POST, "/zapier/v1/hooks", &other_key)
            .json(&json!({"target_url": receiver.url("/other"), "event": "email_updated"}))
            .fetch_expecting(201)
            .await;

        update_email(&app, "s-0", "second@example.com").await;
        let to_a = receiver.wait_for("/a", 1, WAIT).await;
        let to_b = receiver.wait_for("/b", 1, WAIT).await;
        assert_signed(&to_a[0], &secret_a);
        assert_signed(&to_b[0], &secret_b);
        assert_eq!(body_of(&to_a[0]), body_of(&to_b[0]));
        assert_eq!(body_of(&to_a[0])["receiver_email"], "second@example.com");
        assert_ne!(
            to_a[0].header("webhook-id"),
            to_b[0].header("webhook-id"),
            "each subscription's copy is its own delivery"
        );

        app.seed_customer(|c| c.name = Some("Grace".into())).await;
        let to_c = receiver.wait_for("/c", 1, WAIT).await;
        assert_signed(&to_c[0], &secret_c);
        let c = body_of(&to_c[0]);
        assert_eq!(c["event"], "customer_created");
        assert_eq!(c["customer"]["name"], "Grace");

        wait_idle(&app).await;
        let paths: Vec<String> = receiver.requests().iter().map(|r| r.path.clone()).collect();
        assert_eq!(paths.len(), 3, "{paths:?}");
        assert!(receiver.requests_to("/d").is_empty());
        assert!(receiver.requests_to("/other").is_empty());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_500_then_200_and_429_with_retry_after() {
    for_each_backend_with(&webhook_config(), |app| async move {
        let receiver = Receiver::start().await;
        receiver.script("/r", [Reply::status(500).body("oops"), Reply::status(200)]);
        receiver.script(
            "/t",
            [
                Reply::status(429).header("Retry-After", "2"),
                Reply::status(200),
            ],
        );
        create_chatlog(&app, "s-1").await;
        let (r_hook, r_secret) = subscribe(&app, &receiver.url("/r"), "email_updated").await;
        let (t_hook, _) = subscribe(&app, &receiver.url("/t"), "email_updated").await;
        update_email(&app, "s-1", "x@example.com").await;

        // 500 then 200: retried with the same webhook-id, both signed.
        let got = receiver.wait_for("/r", 2, WAIT).await;
        assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
        assert_eq!(got[0].body, got[1].body);
        assert_signed(&got[0], &r_secret);
        assert_signed(&got[1], &r_secret);
        assert!(
            got[1].at.duration_since(got[0].at) >= Duration::from_millis(200),
            "retried too early"
        );
        let log = wait_attempts(&app, r_hook, 2).await;
        assert_eq!(log[0]["attempt"], 2);
        assert_eq!(log[0]["status_code"], 200);
        assert_eq!(log[0]["outcome"], "success");
        assert_eq!(log[1]["attempt"], 1);
        assert_eq!(log[1]["status_code"], 500);
        assert_eq!(log[1]["outcome"], "http_error");
        assert_eq!(log[1]["response_excerpt"], "oops");
        assert!(log[1]["duration_ms"].as_i64().unwrap() >= 0);

        // 429 with Retry-After: 2 waits at least two seconds.
        let got = receiver.wait_for("/t", 2, WAIT).await;
        let gap = got[1].at.duration_since(got[0].at);
        assert!(
            gap >= Duration::from_millis(1900),
            "Retry-After not honoured: {gap:?}"
        );
        let log = wait_attempts(&app, t_hook, 2).await;
        assert_eq!(log[1]["status_code"], 429);
        assert_eq!(log[0]["status_code"], 200);
        wait_idle(&app).await;
        assert_eq!(receiver.requests().len(), 4);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_then_success() {
    for_each_backend_with(&webhook_config(), |app| async move {
        let receiver = Receiver::start().await;
        receiver.script(
            "/slow",
            [
                Reply::status(200).delay(Duration::from_secs(4)),
                Reply::status(200),
            ],
        );
        create_chatlog(&app, "s-2").await;
        let (hook, _) = subscribe(&app, &receiver.url("/slow"), "email_updated").await;
        update_email(&app, "s-2", "y@example.com").await;
        let got = receiver.wait_for("/slow", 2, WAIT).await;
        let gap = got[1].at.duration_since(got[0].at);
        // the 2 s timeout, then at least the 800 ms throttle delay
        assert!(gap >= Duration::from_millis(2500), "{gap:?}");
        let log = wait_attempts(&app, hook, 2).await;
        assert_eq!(log[1]["outcome"], "timeout", "{log:?}");
        assert!(log[1]["status_code"].is_null());
        assert!(log[1]["error"].as_str().unwrap().contains("timeout"));
        assert_eq!(log[0]["outcome"], "success");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_deletes_the_subscription_at_once() {
    for_each_backend_with(&webhook_config(), |app| async move {
        let receiver = Receiver::start().await;
        receiver.set_default("/gone", Reply::status(410));
        create_chatlog(&app, "s-3").await;
        let (hook, _) = subscribe(&app, &receiver.url("/gone"), "email_updated").await;
        let (keep, _) = subscribe(&app, &receiver.url("/keep"), "email_updated").await;
        update_email(&app, "s-3", "z@example.com").await;
        receiver.wait_for("/gone", 1, WAIT).await;
        let deadline = Instant::now() + WAIT;
        loop {
            let (_, hooks) = app.get("/zapier/v1/hooks").fetch().await;
            let ids: Vec<i64> = hooks
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["id"].as_i64().unwrap())
                .collect();
            if !ids.contains(&hook) {
                assert_eq!(ids, vec![keep]);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the 410 subscription is still there"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        app.get(&format!("/zapier/v1/hooks/{hook}/deliveries"))
            .fetch_expecting(404)
            .await;
        // No further attempts: another event goes only to the other hook.
        update_email(&app, "s-3", "zz@example.com").await;
        receiver.wait_for("/keep", 2, WAIT).await;
        wait_idle(&app).await;
        assert_eq!(receiver.requests_to("/gone").len(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continuous_failure_disables_the_subscription() {
    let mut cfg = webhook_config();
    cfg.webhook.disable_after = Duration::from_millis(600);
    for_each_backend_with(&cfg, |app| async move {
        let receiver = Receiver::start().await;
        receiver.set_default("/down", Reply::status(503).body("maintenance"));
        create_chatlog(&app, "s-4").await;
        let (hook, _) = subscribe(&app, &receiver.url("/down"), "email_updated").await;
        update_email(&app, "s-4", "a@example.com").await;
        // Failing for longer than disable_after disables the subscription.
        let deadline = Instant::now() + WAIT;
        loop {
            let (_, hooks) = app.get("/zapier/v1/hooks").fetch().await;
            let h = hooks
                .as_array()
                .unwrap()
                .iter()
                .find(|h| h["id"] == hook)
                .cloned()
                .unwrap();
            if h["state"] == "disabled" {
                assert!(h["failing_since"].is_i64(), "{h}");
                break;
            }
            assert!(Instant::now() < deadline, "never disabled: {h}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        wait_idle(&app).await;
        let n = receiver.requests_to("/down").len();
        assert!((2..=5).contains(&n), "{n} attempts");
        let log = attempts(&app, hook).await;
        assert_eq!(log.len(), n, "every attempt is in the log");
        assert!(log.iter().all(|a| a["status_code"] == 503));
        // A disabled subscription gets nothing new, and cannot be redelivered.
        update_email(&app, "s-4", "b@example.com").await;
        wait_idle(&app).await;
        assert_eq!(receiver.requests_to("/down").len(), n);
        let delivery = log[0]["delivery_id"].as_i64().unwrap();
        let response = app
            .post(&format!(
                "/zapier/v1/hooks/{hook}/deliveries/{delivery}/redeliver"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 409);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivery_and_log_paging() {
    for_each_backend_with(&webhook_config(), |app| async move {
        let receiver = Receiver::start().await;
        create_chatlog(&app, "s-5").await;
        let (hook, secret) = subscribe(&app, &receiver.url("/p"), "email_updated").await;
        update_email(&app, "s-5", "p@example.com").await;
        let first = receiver.wait_for("/p", 1, WAIT).await;
        let log = wait_attempts(&app, hook, 1).await;
        let delivery = log[0]["delivery_id"].as_i64().unwrap();
        let body = app
            .post(&format!(
                "/zapier/v1/hooks/{hook}/deliveries/{delivery}/redeliver"
            ))
            .fetch_expecting(202)
            .await;
        assert_eq!(body["state"], "pending");
        assert_eq!(body["webhook_id"], first[0].header("webhook-id").unwrap());
        let again = receiver.wait_for("/p", 2, WAIT).await;
        assert_eq!(again[1].header("webhook-id"), first[0].header("webhook-id"));
        assert_signed(&again[1], &secret);
        let log = wait_attempts(&app, hook, 2).await;
        assert_eq!(log[0]["attempt"], 2);

        // paging: one per page, newest first
        let (_, page1) = app
            .get(&format!("/zapier/v1/hooks/{hook}/deliveries?limit=1"))
            .fetch()
            .await;
        assert_eq!(page1["data"].as_array().unwrap().len(), 1);
        let cursor = page1["next_before"].as_i64().unwrap();
        let (_, page2) = app
            .get(&format!(
                "/zapier/v1/hooks/{hook}/deliveries?limit=1&before={cursor}"
            ))
            .fetch()
            .await;
        assert_eq!(page2["data"][0]["attempt"], 1);
        assert!(page2["next_before"].is_null());

        // unknown ids
        for path in [
            format!("/zapier/v1/hooks/{hook}/deliveries/999999/redeliver"),
            "/zapier/v1/hooks/999999/deliveries/1/redeliver".to_string(),
            format!("/zapier/v1/hooks/{hook}/deliveries/abc/redeliver"),
        ] {
            assert_eq!(
                app.post(&path).send().await.unwrap().status(),
                404,
                "{path}"
            );
        }
        let body = app
            .get(&format!("/zapier/v1/hooks/{hook}/deliveries?limit=0"))
            .fetch_expecting(400)
            .await;
        assert_eq!(body["field"], "limit");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zapier_auth_scopes_and_validation() {
    let app = TestApp::spawn_with(Backend::Sqlite, webhook_config())
        .await
        .unwrap();
    // auth test
    let me = app.get("/zapier/v1/me").fetch_expecting(200).await;
    assert_eq!(me["company_username"], app.tenant.name);
    assert_eq!(me["key_label"], "e2e");
    let body = app
        .anonymous(reqwest::Method::GET, "/zapier/v1/me")
        .fetch_expecting(401)
        .await;
    assert!(body["error"].as_str().unwrap().contains("Bearer"), "{body}");
    app.request_with_key(
        reqwest::Method::GET,
        "/zapier/v1/me",
        "sbk_000000000000_nope",
    )
    .fetch_expecting(401)
    .await;

    // scopes
    let reader = app.create_key(&[Scope::CustomersRead]).await;
    let body = app
        .request_with_key(reqwest::Method::POST, "/zapier/v1/hooks", &reader)
        .json(&json!({"target_url": "http://127.0.0.1:9/x", "event": "email_updated"}))
        .fetch_expecting(403)
        .await;
    assert!(body["error"].as_str().unwrap().contains("webhooks.CREATE"));
    let creator = app.create_key(&[Scope::WebhooksCreate]).await;
    let hook = app
        .request_with_key(reqwest::Method::POST, "/zapier/v1/hooks", &creator)
        .json(&json!({"target_url": "http://127.0.0.1:9/x", "event": "customer_updated"}))
        .fetch_expecting(201)
        .await;
    let id = hook["id"].as_i64().unwrap();
    let delete = |key: &str| {
        app.request_with_key(
            reqwest::Method::DELETE,
            &format!("/zapier/v1/hooks/{id}"),
            key,
        )
        .send()
    };
    assert_eq!(delete(&creator).await.unwrap().status(), 403);
    let deleter = app.create_key(&[Scope::WebhooksDelete]).await;
    let (status, body) = json_of(delete(&deleter).await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"id": id, "deleted": true}));
    // Zapier retries an unsubscribe: a hook already gone answers the same,
    // and so does one that never existed, revealing nothing.
    let (status, again) = json_of(delete(&deleter).await.unwrap()).await;
    assert_eq!(
        (status.as_u16(), again),
        (200, json!({"id": id, "deleted": true}))
    );
    let (status, never) = json_of(
        app.request_with_key(reqwest::Method::DELETE, "/zapier/v1/hooks/987654", &deleter)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status.as_u16(), never),
        (200, json!({"id": 987_654, "deleted": true}))
    );
    // another tenant cannot see or delete ours
    app.post("/zapier/v1/hooks")
        .json(&json!({"target_url": "http://127.0.0.1:9/y", "event": "email_updated"}))
        .fetch_expecting(201)
        .await;
    let (_, other) = app.other_tenant("initech").await;
    let (_, hooks) = app
        .request_with_key(reqwest::Method::GET, "/zapier/v1/hooks", &other)
        .fetch()
        .await;
    assert_eq!(hooks, json!([]));
    let (_, ours) = app.get("/zapier/v1/hooks").fetch().await;
    assert_eq!(ours.as_array().unwrap().len(), 1);
    assert!(ours[0].get("secret").is_none(), "secrets are shown once");

    // validation
    let cases = [
        (json!({"event": "email_updated"}), "target_url"),
        (json!({"target_url": "http://127.0.0.1:9/x"}), "event"),
        (
            json!({"target_url": "http://127.0.0.1:9/x", "event": "email_deleted"}),
            "event",
        ),
        (
            json!({"target_url": "ftp://example.com/x", "event": "email_updated"}),
            "target_url",
        ),
        (
            json!({"target_url": "not a url", "event": "email_updated"}),
            "target_url",
        ),
        (
            json!({"target_url": 5, "event": "email_updated"}),
            "target_url",
        ),
    ];
    for (input, field) in cases {
        let body = app
            .post("/zapier/v1/hooks")
            .json(&input)
            .fetch_expecting(400)
            .await;
        assert_eq!(body["field"], field, "{input}: {body}");
        assert_eq!(body["code"], "invalid_request");
    }
    app.post("/zapier/v1/hooks")
        .header("content-type", "application/json")
        .body("[1]")
        .fetch_expecting(400)
        .await;

    // samples: one realistic sample per event when there is none yet
    for event in switchboard_domain::EventType::ALL {
        let samples = app
            .get(&format!("/zapier/v1/samples/{event}"))
            .fetch_expecting(200)
            .await;
        assert_eq!(samples.as_array().unwrap().len(), 1, "{event}");
        assert_eq!(samples[0]["company_username"], app.tenant.name);
    }
    let body = app
        .get("/zapier/v1/samples/nope")
        .fetch_expecting(404)
        .await;
    assert!(body["error"].as_str().unwrap().contains("email_updated"));
    let customers_only = app.create_key(&[Scope::CustomersRead]).await;
    let sample = |event: &str| {
        app.request_with_key(
            reqwest::Method::GET,
            &format!("/zapier/v1/samples/{event}"),
            &customers_only,
        )
        .send()
    };
    assert_eq!(sample("customer_created").await.unwrap().status(), 200);
    assert_eq!(sample("email_updated").await.unwrap().status(), 403);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssrf_guard_refuses_private_targets() {
    // The production default: private targets refused.
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        TestConfig {
            webhook: WebhookConfig {
                targets: TargetPolicy::default(),
                ..fast_webhooks()
            },
            ..TestConfig::default()
        },
    )
    .await
    .unwrap();
    let receiver = Receiver::start().await;
    let port = receiver.addr().port();
    for url in [
        receiver.url("/x"),
        receiver.localhost_url("/x"),
        format!("http://[::1]:{port}/x"),
        format!("http://[::ffff:127.0.0.1]:{port}/x"),
        "http://10.0.0.5/x".to_string(),
        "http://192.168.1.1/x".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://0.0.0.0/x".to_string(),
    ] {
        let body = app
            .post("/zapier/v1/hooks")
            .json(&json!({"target_url": url, "event": "email_updated"}))
            .fetch_expecting(400)
            .await;
        assert_eq!(body["field"], "target_url", "{url}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains("not allowed"), "{url}: {body}");
        // The refusal does not say what the host resolved to.
        for leak in [
            "127.0.0.1",
            "::1",
            "10.0.0.5",
            "192.168",
            "169.254",
            "resolves",
        ] {
            assert!(!error.contains(leak), "{url}: {body}");
        }
    }
    // The NAT64 local-use prefix (RFC 8215) is refused like the rest of
    // the IANA special-purpose blocks.
    let body = app
        .post("/zapier/v1/hooks")
        .json(&json!({"target_url": "http://[64:ff9b:1::a00:5]/x", "event": "email_updated"}))
        .fetch_expecting(400)
        .await;
    assert_eq!(body["code"], "invalid_request", "{body}");

    // At delivery time too: a subscription stored directly (bypassing the
    // subscribe check) to a host that resolves to loopback is refused.
    let sub = app
        .store
        .webhooks()
        .create(switchboard_domain::WebhookSubscription::new(
            app.tenant.id,
            receiver.localhost_url("/sneaky"),
            switchboard_domain::EventType::EmailUpdated,
            switchboard_webhook::generate_secret().unwrap(),
            switchboard_storage::now(),
        ))
        .await
        .unwrap();
    let literal = app
        .store
        .webhooks()
        .create(switchboard_domain::WebhookSubscription {
            target_url: receiver.url("/literal"),
            ..sub.clone()
        })
        .await
        .unwrap();
    create_chatlog(&app, "s-6").await;
    update_email(&app, "s-6", "s@example.com").await;
    for id in [sub.id.get(), literal.id.get()] {
        let log = wait_attempts(&app, id, 1).await;
        assert_eq!(log[0]["outcome"], "refused", "{log:?}");
        assert!(log[0]["status_code"].is_null());
        let error = log[0]["error"].as_str().unwrap();
        assert!(error.contains("not allowed"), "{log:?}");
        assert!(!error.contains("127.0.0.1"), "{log:?}");
    }
    assert!(
        receiver.requests().is_empty(),
        "a private target was reached"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_rotation_signs_with_both_secrets() {
    for_each_backend_with(&webhook_config(), |app| async move {
        let receiver = Receiver::start().await;
        create_chatlog(&app, "s-7").await;
        let (hook, old) = subscribe(&app, &receiver.url("/rot"), "email_updated").await;
        let rotated = app
            .post(&format!("/zapier/v1/hooks/{hook}/rotate-secret"))
            .fetch_expecting(200)
            .await;
        let new = rotated["secret"].as_str().unwrap().to_string();
        assert_ne!(new, old);
        let expires = rotated["previous_secret_expires_at"].as_i64().unwrap();
        assert!(expires > switchboard_storage::now().as_millis() + 23 * 3600 * 1000);
        update_email(&app, "s-7", "r@example.com").await;
        let got = receiver.wait_for("/rot", 1, WAIT).await;
        assert_eq!(
            got[0]
                .header("webhook-signature")
                .unwrap()
                .split(' ')
                .count(),
            2
        );
        assert_signed(&got[0], &new);
        assert_signed(&got[0], &old);
        let reader = app.create_key(&[Scope::ConversationsRead]).await;
        let response = app
            .request_with_key(
                reqwest::Method::POST,
                &format!("/zapier/v1/hooks/{hook}/rotate-secret"),
                &reader,
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        let response = app
            .post("/zapier/v1/hooks/999999/rotate-secret")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
    })
    .await;
}

/// Zapier's `triggerHasId` check: every performList item of every event
/// has an `id`, samples and real events alike, and a real event's id is
/// the one its deliveries carry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn performlist_items_have_an_id_for_every_event() {
    for_each_backend(|app| async move {
        for event in switchboard_domain::EventType::ALL {
            let items = app
                .get(&format!("/zapier/v1/samples/{event}"))
                .fetch_expecting(200)
                .await;
            let items = items.as_array().unwrap();
            assert!(!items.is_empty(), "{event}");
            for item in items {
                assert!(item["id"].is_i64(), "{event}: {item}");
            }
        }
        create_chatlog(&app, "sess-id").await;
        update_email(&app, "sess-id", "id@example.com").await;
        let (_, items) = app.get("/zapier/v1/samples/email_updated").fetch().await;
        let events = app
            .store
            .webhooks()
            .recent_payloads(
                app.tenant.id,
                switchboard_domain::EventType::EmailUpdated,
                1,
            )
            .await
            .unwrap();
        assert_eq!(items[0]["id"], events[0]["id"], "{items}");
        assert_eq!(items[0]["receiver_email"], "id@example.com");
    })
    .await;
}
