//! Nothing poisons the webhook pipeline, end to end on SQLite and
//! PostgreSQL: a receiver whose answer cannot be stored as sent, a JSON
//! value nested deeper than every reader can take, and an outbox row that
//! cannot be read back each stay with their own tenant, while every other
//! tenant's events are delivered exactly once.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_domain::ConversationId;
use switchboard_domain::json::MAX_VALUE_DEPTH;
use switchboard_e2e::{FetchJson, TestApp, for_each_backend_with};
use switchboard_testsupport::RawConnection;
use switchboard_testsupport::receiver::{Receiver, Reply};

use crate::e2e::common::{WAIT, wait_idle, webhook_config, zoho};

const JSON_PATCH: &str = "application/json-patch+json";

/// Subscribes `url` to `event` with `key` (the app's own key or another
/// tenant's); returns the hook's id.
async fn subscribe(app: &TestApp, key: &str, url: &str, event: &str) -> i64 {
    let body = app
        .request_with_key(reqwest::Method::POST, "/zapier/v1/hooks", key)
        .json(&json!({"target_url": url, "event": event}))
        .fetch_expecting(201)
        .await;
    body["id"].as_i64().unwrap()
}

/// Creates a chat log with `key` (one `conversation_created` event).
async fn chatlog(app: &TestApp, key: &str, session: &str) {
    app.request_with_key(reqwest::Method::POST, "/chatbot/v1/chatlog", key)
        .json(&json!({"sessionid": session, "name": "Ada"}))
        .fetch_expecting(201)
        .await;
}

/// The delivery log of hook `id`, read with `key`, newest first.
async fn attempts(app: &TestApp, key: &str, id: i64) -> Vec<Value> {
    let body = app
        .request_with_key(
            reqwest::Method::GET,
            &format!("/zapier/v1/hooks/{id}/deliveries?limit=100"),
            key,
        )
        .fetch_expecting(200)
        .await;
    body["data"].as_array().unwrap().clone()
}

/// `depth` arrays around a number.
fn nested(depth: usize) -> Value {
    (0..depth).fold(json!(1), |v, _| Value::Array(vec![v]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_answering_a_nul_gets_each_event_once_and_other_tenants_theirs() {
    const EVENTS: usize = 5;
    for_each_backend_with(&webhook_config(), |app| async move {
        let receiver = Receiver::start().await;
        receiver.set_default("/nul", Reply::status(200).body("ok\0"));
        receiver.set_default("/healthy", Reply::status(200).body("fine"));
        let (_, other_key) = app.other_tenant("globex").await;
        let nul_hook = subscribe(
            &app,
            &app.key,
            &receiver.url("/nul"),
            "conversation_created",
        )
        .await;
        let healthy_hook = subscribe(
            &app,
            &other_key,
            &receiver.url("/healthy"),
            "conversation_created",
        )
        .await;
        // Interleaved, so that both tenants' attempts share recording batches.
        for i in 0..EVENTS {
            chatlog(&app, &app.key, &format!("nul-{i}")).await;
            chatlog(&app, &other_key, &format!("ok-{i}")).await;
        }
        receiver.wait_for("/nul", EVENTS, WAIT).await;
        receiver.wait_for("/healthy", EVENTS, WAIT).await;
        // Every attempt recorded: no delivery left to be sent again.
        wait_idle(&app).await;

        for (path, key, hook, excerpt) in [
            ("/nul", &app.key, nul_hook, "ok\u{fffd}"),
            ("/healthy", &other_key, healthy_hook, "fine"),
        ] {
            let got = receiver.requests_to(path);
            let ids: BTreeSet<&str> = got.iter().filter_map(|r| r.header("webhook-id")).collect();
            assert_eq!(
                (got.len(), ids.len()),
                (EVENTS, EVENTS),
                "{}: {path} got each event exactly once",
                app.backend
            );
            let log = attempts(&app, key, hook).await;
            assert_eq!(log.len(), EVENTS, "{}: {path}: {log:?}", app.backend);
            for a in &log {
                assert_eq!(a["outcome"], "success", "{}: {a}", app.backend);
                assert_eq!(a["response_excerpt"], excerpt, "{}: {a}", app.backend);
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_custom_info_is_refused_everywhere_and_changes_nothing() {
    for_each_backend_with(&webhook_config(), |app| async move {
        let receiver = Receiver::start().await;
        subscribe(&app, &app.key, &receiver.url("/info"), "conversation_custom_info_updated").await;
        let created = zoho(&app, reqwest::Method::POST, "/conversations")
            .json(&json!({"visitor": {"name": "Vera"}, "question": "Pricing?"}))
            .fetch_expecting(200)
            .await;
        let id = created["data"]["id"].as_str().unwrap().to_string();
        let conv = ConversationId::new(id.parse().unwrap());
        let events = || async { app.store.conversations().events(app.tenant.id, conv).await.unwrap().len() };
        let before = events().await;
        let so_path = format!("/api/v1/ChatSession/{id}");

        for depth in [125, 31, MAX_VALUE_DEPTH + 1] {
            let body = json!({"customer_info": {"deep": nested(depth)}});
            if depth == 125 {
                assert!(serde_json::to_vec(&body).unwrap().len() <= 300);
            }
            // Zoho: update and create, in SalesIQ's error format.
            let err = zoho(&app, reqwest::Method::PUT, &format!("/conversations/{id}"))
                .json(&body)
                .fetch_expecting(400)
                .await;
            assert_eq!(err["error"]["code"], 1015, "{err}");
            assert_eq!(err["error"]["json_key"], "customer_info.deep", "{err}");
            assert!(
                err["error"]["message"].as_str().unwrap().contains(&MAX_VALUE_DEPTH.to_string()),
                "{err}"
            );
            let (status, err) = zoho(&app, reqwest::Method::POST, "/conversations")
                .json(&json!({"visitor": {"name": "Vera"}, "question": "Hi", "customer_info": {"deep": nested(depth)}}))
                .fetch()
                .await;
            assert_eq!((status.as_u16(), &err["error"]["code"]), (400, &json!(1015)), "{err}");

            // SuperOffice: JSON Patch and merge patch, in its error format.
            for (content_type, patch) in [
                (JSON_PATCH, json!([{"op": "add", "path": "/CustomInfo/deep", "value": nested(depth)}])),
                ("application/merge-patch+json", json!({"CustomInfo": {"deep": nested(depth)}})),
            ] {
                let err = app
                    .patch(&so_path)
                    .header("Content-Type", content_type)
                    .body(serde_json::to_vec(&patch).unwrap())
                    .fetch_expecting(400)
                    .await;
                assert_eq!(err["ErrorType"], "SoValidationException", "{err}");
                // Deeper than SuperOffice's own JSON Patch limit (32), its
                // patch parser refuses it first; below that, the domain does.
                if depth == MAX_VALUE_DEPTH + 1 {
                    assert_eq!(err["ErrorSource"], "/CustomInfo/deep", "{err}");
                }
            }
        }
        // Nothing changed, and nothing was committed to the outbox.
        let (_, got) = zoho(&app, reqwest::Method::GET, &format!("/conversations/{id}")).fetch().await;
        assert_eq!(got["data"]["customer_info"], json!({}), "{got}");
        assert_eq!(events().await, before, "{}", app.backend);

        // A value at the limit goes in through Zoho, stays patchable through
        // SuperOffice, and is delivered and shown in the samples.
        zoho(&app, reqwest::Method::PUT, &format!("/conversations/{id}"))
            .json(&json!({"customer_info": {"deep": nested(MAX_VALUE_DEPTH)}}))
            .fetch_expecting(200)
            .await;
        let entity = app
            .patch(&so_path)
            .header("Content-Type", JSON_PATCH)
            .body(serde_json::to_vec(&json!([
                {"op": "replace", "path": "/CustomerName", "value": "Vera B"},
                {"op": "add", "path": "/CustomInfo/also", "value": nested(MAX_VALUE_DEPTH)}
            ])).unwrap())
            .fetch_expecting(200)
            .await;
        assert_eq!(entity["CustomInfo"]["deep"], nested(MAX_VALUE_DEPTH));
        // Two events, delivered in either order: the later one carries `also`.
        let got = receiver.wait_for("/info", 2, WAIT).await;
        let bodies: Vec<Value> = got
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect();
        assert!(
            bodies
                .iter()
                .any(|b| b["custom_info"]["also"] == nested(MAX_VALUE_DEPTH)),
            "{bodies:?}"
        );
        let samples = app
            .get("/zapier/v1/samples/conversation_custom_info_updated")
            .fetch_expecting(200)
            .await;
        assert_eq!(samples[0]["custom_info"]["deep"], nested(MAX_VALUE_DEPTH));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_outbox_row_is_quarantined_and_the_others_are_delivered() {
    for_each_backend_with(&webhook_config(), |app| async move {
        let receiver = Receiver::start().await;
        receiver.set_default_all(Reply::status(200));
        let (_, other_key) = app.other_tenant("globex").await;
        subscribe(&app, &app.key, &receiver.url("/acme"), "conversation_created").await;
        subscribe(&app, &other_key, &receiver.url("/globex"), "conversation_created").await;

        // A row written before the limit existed: valid JSON to the
        // database, deeper than anything reads back.
        let now = app.store.now().as_millis();
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let url = app.database_url.clone();
        let tenant = app.tenant.id.get();
        tokio::task::spawn_blocking(move || {
            RawConnection::open(&url).execute(&format!(
                "INSERT INTO outbox (tenant_id, event_type, entity_kind, entity_id, payload, diff, created_at, available_at) \
                 VALUES ({tenant}, 'conversation_created', 'conversation', 424242, '{deep}', '[]', {now}, {now})"
            ));
        })
        .await
        .unwrap();
        // Events after it, of both tenants.
        for i in 0..3 {
            chatlog(&app, &other_key, &format!("g-{i}")).await;
            chatlog(&app, &app.key, &format!("a-{i}")).await;
        }
        receiver.wait_for("/globex", 3, WAIT).await;
        receiver.wait_for("/acme", 3, WAIT).await;

        // Tried a few times, then set aside: counted and listed.
        let deadline = Instant::now() + WAIT;
        loop {
            let text = app.metrics().await;
            if text.contains("switchboard_outbox_quarantined 1") {
                assert!(
                    text.contains("switchboard_webhook_outbox_quarantined_total 1"),
                    "{text}"
                );
                assert!(text.contains("switchboard_outbox_backlog 0"), "{text}");
                break;
            }
            assert!(Instant::now() < deadline, "{}: not quarantined: {text}", app.backend);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let quarantined = app.store.worker().quarantined(10).await.unwrap();
        assert_eq!(quarantined.len(), 1, "{}", app.backend);
        assert_eq!(quarantined[0].tenant_id, app.tenant.id);
        wait_idle(&app).await;
        assert_eq!(receiver.requests_to("/globex").len(), 3, "{}", app.backend);
        assert_eq!(receiver.requests_to("/acme").len(), 3, "{}", app.backend);

        // Later events still flow, and the samples answer.
        chatlog(&app, &other_key, "g-late").await;
        receiver.wait_for("/globex", 4, WAIT).await;
        for key in [&app.key, &other_key] {
            app
                .request_with_key(reqwest::Method::GET, "/zapier/v1/samples/conversation_created", key)
                .fetch_expecting(200)
                .await;
        }
    })
    .await;
}
