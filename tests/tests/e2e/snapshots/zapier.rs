//! The Zapier REST-hook dialect: every route, its error envelope
//! (`{"error", "code", "field"?}`), and the webhook requests a subscriber
//! receives, as the receiver sees them.

use reqwest::Method;
use serde_json::json;
use switchboard_domain::EventType;
use switchboard_e2e::{TestApp, for_each_backend_with};
use switchboard_testsupport::receiver::{Received, Receiver};

use super::{Json, assert_snapshot, redact, redact_header, send, snap, snap_each};
use crate::e2e::common::{WAIT, create_chatlog, update_email, wait_attempts, webhook_config};

/// A delivered webhook request: method, path, headers (in arrival order)
/// and body, redacted.
fn delivered(r: &Received) -> Json {
    let headers = r
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), Json::String(redact_header(name, value))))
        .collect();
    let mut body = Json::parse(&r.text());
    redact(&mut body);
    Json::object([
        ("method", Json::text(r.method.clone())),
        ("path", Json::text(r.path.clone())),
        ("headers", Json::Object(headers)),
        ("body", body),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zapier_hooks_and_deliveries() {
    for_each_backend_with(&webhook_config(), |app: TestApp| async move {
        let receiver = Receiver::start().await;

        // performList's fallback: one sample per event while there is none
        let mut samples = Vec::new();
        for event in EventType::ALL {
            let r = send(app.get(&format!("/zapier/v1/samples/{event}"))).await;
            samples.push((event.as_str().to_string(), r.wire(&[])));
        }
        assert_snapshot(
            "zapier_samples",
            "GET /zapier/v1/samples/{event} for every event, before any event",
            &Json::Object(samples),
        );

        snap("zapier_me", app.get("/zapier/v1/me")).await;
        let hook = snap(
            "zapier_hook_create",
            app.post("/zapier/v1/hooks")
                .json(&json!({"target_url": receiver.url("/zap"), "event": "email_updated"})),
        )
        .await;
        assert_eq!(hook.status, 201, "{}", hook.text);
        let hook = hook.json()["id"].as_i64().unwrap();
        let created =
            send(app.post("/zapier/v1/hooks").json(
                &json!({"target_url": receiver.url("/customers"), "event": "customer_created"}),
            ))
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        snap("zapier_hook_list", app.get("/zapier/v1/hooks")).await;

        // what a subscriber receives
        create_chatlog(&app, "sess-1").await;
        update_email(&app, "sess-1", "ada@example.com").await;
        let got = receiver.wait_for("/zap", 1, WAIT).await;
        assert_snapshot(
            "webhook_delivery_email_updated",
            "the email_updated request the subscriber receives",
            &delivered(&got[0]),
        );
        let customer = send(app.post("/v1/customers").json(
            &json!({"name": "Grace", "email": "grace@example.com", "tags": [{"name": "vip"}]}),
        ))
        .await;
        assert_eq!(customer.status, 201, "{}", customer.text);
        let got = receiver.wait_for("/customers", 1, WAIT).await;
        assert_snapshot(
            "webhook_delivery_customer_created",
            "the customer_created request the subscriber receives",
            &delivered(&got[0]),
        );

        // the delivery log, redelivery, rotation, unsubscribing
        let log = wait_attempts(&app, hook, 1).await;
        let delivery = log[0]["delivery_id"].as_i64().unwrap();
        snap_each(vec![
            (
                "zapier_deliveries",
                app.get(&format!("/zapier/v1/hooks/{hook}/deliveries")),
            ),
            (
                "zapier_redeliver",
                app.post(&format!(
                    "/zapier/v1/hooks/{hook}/deliveries/{delivery}/redeliver"
                )),
            ),
        ])
        .await;
        receiver.wait_for("/zap", 2, WAIT).await;
        snap_each(vec![
            (
                "zapier_rotate_secret",
                app.post(&format!("/zapier/v1/hooks/{hook}/rotate-secret")),
            ),
            (
                "zapier_hook_delete",
                app.delete(&format!("/zapier/v1/hooks/{hook}")),
            ),
            // the error envelope
            (
                "zapier_error_400_field",
                app.post("/zapier/v1/hooks")
                    .json(&json!({"target_url": "ftp://example.com/x", "event": "email_updated"})),
            ),
            (
                "zapier_error_400_query",
                app.get(&format!("/zapier/v1/hooks/{hook}/deliveries?limit=0")),
            ),
            (
                "zapier_error_401",
                app.anonymous(Method::GET, "/zapier/v1/me"),
            ),
            (
                "zapier_error_404",
                app.get("/zapier/v1/hooks/999999/deliveries"),
            ),
            ("zapier_error_404_event", app.get("/zapier/v1/samples/nope")),
        ])
        .await;
    })
    .await;
}
