//! End-to-end tests of the HelpCrunch-style family against the real server
//! on port 0, on SQLite and on PostgreSQL.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use switchboard_api::ApiConfig;
use switchboard_domain::{AttributeType, ConversationId, ConversationStatus, CustomerId, Scope};
use switchboard_e2e::{
    FetchJson, TestApp, TestConfig, for_each_backend, for_each_backend_with, json_of,
};

use crate::e2e::common::retry_after;

async fn define_attributes(app: &TestApp) {
    for (name, kind) in [
        ("plan", AttributeType::String),
        ("seats", AttributeType::Number),
        ("trial", AttributeType::Boolean),
    ] {
        app.define_attribute(name, kind, name).await;
    }
}

/// Replaces values that differ per run (ids, timestamps) with placeholders.
fn normalize(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        if let Value::Object(map) = v {
            for (k, val) in map.iter_mut() {
                let is_time =
                    k.ends_with("At") || k == "firstSeen" || k == "lastSeen" || k == "snoozedUntil";
                if is_time && val.is_string() {
                    *val = json!("<unix>");
                } else if k == "id" && val.is_number() {
                    *val = json!("<id>");
                } else {
                    walk(val);
                }
            }
        } else if let Value::Array(items) = v {
            items.iter_mut().for_each(walk);
        }
    }
    walk(&mut v);
    v
}

fn error_codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_lifecycle_and_wire_snapshot() {
    for_each_backend(|app| async move {
        define_attributes(&app).await;
        let (status, created) = app.post("/v1/customers")
                .json(&json!({
                    "name": "Ada Lovelace", "email": "ada@example.com", "userId": "u-1",
                    "phone": "+47 123", "company": "Engines", "lastSeen": "1570000000",
                    "locale": "en", "tags": [{"name": "vip"}, {"name": "beta", "color": "rebeccapurple"}],
                    "customData": [{"property": "plan", "value": "pro"}, {"property": "seats", "value": 5}]
                })).fetch().await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(
            normalize(created.clone()),
            json!({
                "id": "<id>", "userId": "u-1", "name": "Ada Lovelace", "email": "ada@example.com",
                "phone": "+47 123", "company": "Engines", "firstSeen": null, "lastSeen": "<unix>",
                "unsubscribed": false, "blocked": false, "source": null, "referer": null, "lastPage": null,
                "locale": "en", "notes": null,
                "tags": [{"name": "vip", "color": "#c377e0"}, {"name": "beta", "color": "rebeccapurple"}],
                "customData": {"plan": "pro", "seats": 5},
                "location": null, "device": null, "createdFrom": "api", "integrationId": null,
                "createdAt": "<unix>", "updatedAt": "<unix>"
            })
        );
        assert_eq!(created["lastSeen"], "1570000000");
        let id = created["id"].as_i64().unwrap();

        // GET returns the same object
        let (status, got) = app.get(&format!("/v1/customers/{id}")).fetch().await;
        assert_eq!(status, 200);
        assert_eq!(got, created);

        // PATCH merges; null clears; customData merges per property
        let (status, patched) = app.patch(&format!("/v1/customers/{id}"))
                .json(&json!({"company": "Analytical Engines", "phone": null,
                              "customData": [{"property": "seats", "value": null}, {"property": "trial", "value": true}]})).fetch().await;
        assert_eq!(status, 200, "{patched}");
        assert_eq!(patched["company"], "Analytical Engines");
        assert_eq!(patched["phone"], Value::Null);
        assert_eq!(patched["name"], "Ada Lovelace");
        assert_eq!(patched["email"], "ada@example.com");
        assert_eq!(patched["customData"], json!({"plan": "pro", "trial": true}));
        assert_eq!(patched["tags"].as_array().unwrap().len(), 2);

        // PUT replaces: absent fields become null / false / empty
        let (status, put) = app.put(&format!("/v1/customers/{id}")).json(&json!({"name": "Ada"})).fetch().await;
        assert_eq!(status, 200, "{put}");
        assert_eq!(put["name"], "Ada");
        for field in ["email", "company", "userId", "lastSeen", "locale"] {
            assert_eq!(put[field], Value::Null, "{field} after PUT");
        }
        assert_eq!(put["tags"], json!([]));
        assert_eq!(put["customData"], json!({}));
        assert_eq!(put["createdFrom"], "api", "read-only fields survive PUT");

        // the store saw every write as its own version, with events
        let stored = app.stored_customer(CustomerId::new(id)).await;
        assert_eq!(stored.version, 3);

        // DELETE, then 404
        let resp = app.delete(&format!("/v1/customers/{id}")).send().await.unwrap();
        assert_eq!(resp.status(), 204);
        let (status, body) = app.get(&format!("/v1/customers/{id}")).fetch().await;
        assert_eq!(status, 404);
        assert_eq!(body, json!({"errors": [{"code": "invalid_request", "message": "Invalid request"}, {"code": "not_found", "message": "Customer not found"}]}));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_created_and_removed() {
    for_each_backend(|app| async move {
        let c = app.seed_customer(|c| c.name = Some("T".into())).await;
        let path = format!("/v1/customers/{}/tags", c.id);
        let (status, body) = app
            .put(&path)
            .json(&json!({"tags": [{"name": "new-tag"}, {"name": "red", "color": "#ff0000"}]}))
            .fetch()
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["tags"],
            json!([{"name": "new-tag", "color": "#c377e0"}, {"name": "red", "color": "#ff0000"}])
        );
        let names: BTreeSet<String> = app
            .store
            .admin()
            .tags(app.tenant.id)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert!(
            names.contains("new-tag") && names.contains("red"),
            "{names:?}"
        );

        let (status, body) = app
            .put(&path)
            .json(&json!({"tags": [{"name": "x", "color": "not-a-color"}]}))
            .fetch()
            .await;
        assert_eq!(status, 400);
        assert_eq!(error_codes(&body), ["invalid_request", "tags.2.color"]);

        let (status, body) = app
            .delete(&path)
            .json(&json!({"tags": [{"name": "new-tag"}]}))
            .fetch()
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["tags"], json!([{"name": "red", "color": "#ff0000"}]));
    })
    .await;
}

/// Tags belong to the account: a tag named without a color takes the
/// color the account already has for it, a new one `#c377e0`, through
/// create, PUT, PATCH and the tags call alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_named_without_a_color_keep_the_accounts_color() {
    for_each_backend(|app| async move {
        let (status, a) = app
            .post("/v1/customers")
            .json(&json!({"name": "A", "tags": [{"name": "vip", "color": "#ff0000"}]}))
            .fetch()
            .await;
        assert_eq!(status, 201, "{a}");
        assert_eq!(a["tags"], json!([{"name": "vip", "color": "#ff0000"}]));

        let (status, b) = app
            .post("/v1/customers")
            .json(&json!({"name": "B", "tags": [{"name": "vip"}]}))
            .fetch()
            .await;
        assert_eq!(status, 201, "{b}");
        assert_eq!(b["tags"], json!([{"name": "vip", "color": "#ff0000"}]));
        let b_path = format!("/v1/customers/{}", b["id"]);
        let (status, read) = app.get(&b_path).fetch().await;
        assert_eq!(status, 200, "{read}");
        assert_eq!(read["tags"], json!([{"name": "vip", "color": "#ff0000"}]));

        let (status, put) = app
            .put(&b_path)
            .json(&json!({"name": "B", "tags": [{"name": "fresh"}, {"name": "vip"}]}))
            .fetch()
            .await;
        assert_eq!(status, 200, "{put}");
        assert_eq!(
            put["tags"],
            json!([{"name": "fresh", "color": "#c377e0"}, {"name": "vip", "color": "#ff0000"}])
        );

        let (status, c) = app
            .post("/v1/customers")
            .json(&json!({"name": "C"}))
            .fetch()
            .await;
        assert_eq!(status, 201, "{c}");
        let (status, tagged) = app
            .put(&format!("/v1/customers/{}/tags", c["id"]))
            .json(&json!({"tags": [{"name": "vip"}, {"name": "other"}]}))
            .fetch()
            .await;
        assert_eq!(status, 200, "{tagged}");
        assert_eq!(
            tagged["tags"],
            json!([{"name": "vip", "color": "#ff0000"}, {"name": "other", "color": "#c377e0"}])
        );
        let (status, patched) = app
            .patch(&format!("/v1/customers/{}", c["id"]))
            .json(&json!({"tags": [{"name": "fresh"}]}))
            .fetch()
            .await;
        assert_eq!(status, 200, "{patched}");
        assert_eq!(
            patched["tags"],
            json!([{"name": "fresh", "color": "#c377e0"}])
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_data_is_checked_against_definitions() {
    for_each_backend(|app| async move {
        define_attributes(&app).await;
        let c = app.seed_customer(|_| {}).await;
        let path = format!("/v1/customers/{}", c.id);
        let cases = [
            (json!([{"property": "plan", "value": "basic"}]), 200, vec![]),
            (
                json!([{"property": "unknown", "value": 1}]),
                400,
                vec!["invalid_request", "customData.unknown"],
            ),
            (
                json!([{"property": "seats", "value": "many"}]),
                400,
                vec!["invalid_request", "customData.seats"],
            ),
            (
                json!([{"property": "trial", "value": "yes"}]),
                400,
                vec!["invalid_request", "customData.trial"],
            ),
            (
                json!([{"property": "seats"}]),
                400,
                vec!["invalid_request", "customData.0"],
            ),
        ];
        for (data, want_status, want_codes) in cases {
            let (status, body) = app
                .patch(&path)
                .json(&json!({"customData": data}))
                .fetch()
                .await;
            assert_eq!(status.as_u16(), want_status, "{data}: {body}");
            if want_status == 400 {
                assert_eq!(error_codes(&body), want_codes, "{data}");
            }
        }
        let stored = app.stored_customer(c.id).await;
        assert_eq!(stored.version, 2, "only the valid PATCH was written");
        assert_eq!(
            stored.custom_data,
            [("plan".to_string(), json!("basic"))].into_iter().collect()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_is_all_or_nothing() {
    for_each_backend(|app| async move {
        let a = app.seed_customer(|c| c.name = Some("A".into())).await;
        let b = app.seed_customer(|c| c.name = Some("B".into())).await;
        let (status, body) = app.put("/v1/customers/batch")
                .json(&json!([{"customer": a.id, "notes": "called"}, {"customer": b.id, "email": "bad"}])).fetch().await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error_codes(&body), ["invalid_request", "1.email"]);
        assert_eq!(app.stored_customer(a.id).await.notes, None, "nothing applied");

        let (status, body) = app.put("/v1/customers/batch")
                .json(&json!([{"customer": a.id, "notes": "called"}, {"customer": 999_999, "notes": "x"}])).fetch().await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error_codes(&body), ["invalid_request", "1.customer"]);
        assert_eq!(app.stored_customer(a.id).await.notes, None, "nothing applied");

        let (status, body) = app.put("/v1/customers/batch")
                .json(&json!([{"customer": a.id, "notes": "called"}, {"customer": b.id, "unsubscribed": true}])).fetch().await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body[0]["customer"], json!(a.id.get()));
        assert_eq!(body[0]["data"]["notes"], "called");
        assert_eq!(body[1]["data"]["unsubscribed"], true);
        assert!(app.stored_customer(b.id).await.unsubscribed);

        let eleven: Vec<Value> = (0..11).map(|_| json!({"customer": a.id, "notes": "x"})).collect();
        let (status, body) = app.put("/v1/customers/batch").json(&eleven).fetch().await;
        assert_eq!(status, 400);
        assert_eq!(error_codes(&body), ["invalid_request", "body"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chats_statuses_assignee_and_department() {
    for_each_backend(|app| async move {
        let customer = app.seed_customer(|c| {
            c.name = Some("Vis".into());
            c.email = Some("vis@example.com".into());
        })
        .await;
        let agent = app.seed_agent("Agent A", "a@example.com", "admin").await;
        let dept = app.store.admin().create_department(app.tenant.id, "Sales").await.unwrap();

        let (status, chat) = app.post("/v1/chats").json(&json!({"customer": customer.id, "message": "Hello"})).fetch().await;
        assert_eq!(status, 201, "{chat}");
        let mut snapshot = normalize(chat.clone());
        snapshot["customer"] = json!("<customer>");
        assert_eq!(
            snapshot,
            json!({
                "id": "<id>", "closedBy": null, "lastCustomerMessageAt": "<unix>", "status": "new",
                "closedAt": null, "rating": null, "createdAt": "<unix>", "lastMessageAt": "<unix>",
                "createdWith": "api", "snoozedUntil": null, "lastMessageText": "Hello", "lastMessageId": null,
                "applicationId": null, "lastCommunicatedAgentId": null, "agents": [], "customer": "<customer>",
                "assignee": null, "department": null, "customInfo": {}
            })
        );
        assert_eq!(chat["customer"]["email"], "vis@example.com");
        let id = chat["id"].as_i64().unwrap();

        for (input, canonical) in [
            ("opened", "opened"), ("open", "opened"), ("pending", "pending"), ("on hold", "on hold"),
            ("on-hold", "on hold"), ("no communication", "no communication"), ("new", "new"), ("closed", "closed"),
        ] {
            let (status, body) = app.put("/v1/chats/status").json(&json!({"id": id, "status": input})).fetch().await;
            assert_eq!(status, 200, "{input}: {body}");
            assert_eq!(body["status"], canonical, "{input}");
            assert_eq!(body["closedAt"].is_string(), canonical == "closed", "{input} closedAt");
        }
        let (status, body) = app.put("/v1/chats/status").json(&json!({"id": id, "status": "archived"})).fetch().await;
        assert_eq!(status, 400);
        assert_eq!(error_codes(&body), ["invalid_request", "status"]);
        let stored = app.stored_conversation(ConversationId::new(id)).await;
        assert_eq!(stored.status, ConversationStatus::Closed, "a refused status writes nothing");

        let (status, body) = app.put("/v1/chats/assignee").json(&json!({"id": id, "assignee": agent.id})).fetch().await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["assignee"], json!({"id": agent.id.get(), "name": "Agent A", "email": "a@example.com", "role": "admin"}));
        assert_eq!(body["agents"].as_array().unwrap().len(), 1);
        let (status, body) = app.put("/v1/chats/assignee").json(&json!({"id": id, "assignee": 987_654})).fetch().await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error_codes(&body), ["invalid_request", "assignee"]);

        let (status, body) = app.put("/v1/chats/department").json(&json!({"id": id, "department": dept.id})).fetch().await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["department"], json!({"id": dept.id.get(), "name": "Sales"}));
        let (status, body) = app.put("/v1/chats/department").json(&json!({"id": id, "department": null})).fetch().await;
        assert_eq!(status, 200);
        assert_eq!(body["department"], Value::Null);

        let (status, got) = app.get(&format!("/v1/chats/{id}")).fetch().await;
        assert_eq!(status, 200);
        assert_eq!(got["assignee"]["id"], json!(agent.id.get()));
        let (status, _) = app.put("/v1/chats/status").json(&json!({"id": 424_242, "status": "closed"})).fetch().await;
        assert_eq!(status, 404);
        let (status, _) = app.post("/v1/chats").json(&json!({"customer": 424_242})).fetch().await;
        assert_eq!(status, 404);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_scopes_and_tenancy() {
    for_each_backend(|app| async move {
        let c = app.seed_customer(|c| c.name = Some("Mine".into())).await;
        let path = format!("/v1/customers/{}", c.id);

        let (status, body) = app.anonymous(reqwest::Method::GET, &path).fetch().await;
        assert_eq!(status, 401);
        assert_eq!(error_codes(&body), ["invalid_request", "unauthorized"]);
        let bad = app.request_with_key(reqwest::Method::GET, &path, "sbk_000000000000_deadbeef");
        assert_eq!(bad.fetch().await.0, 401);
        let basic = app
            .anonymous(reqwest::Method::GET, &path)
            .header("Authorization", format!("Token {}", app.key));
        assert_eq!(basic.fetch().await.0, 401);

        let read_only = app.create_key(&[Scope::CustomersRead]).await;
        assert_eq!(
            app.request_with_key(reqwest::Method::GET, &path, &read_only)
                .fetch()
                .await
                .0,
            200
        );
        let (status, body) = app
            .request_with_key(reqwest::Method::PATCH, &path, &read_only)
            .json(&json!({"name": "x"}))
            .fetch()
            .await;
        assert_eq!(status, 403);
        assert_eq!(error_codes(&body), ["invalid_request", "forbidden"]);

        // another tenant's id looks exactly like a missing id
        let (_, other_key) = app.other_tenant("globex").await;
        let missing = app
            .request_with_key(reqwest::Method::GET, "/v1/customers/999999", &other_key)
            .fetch()
            .await;
        let foreign = app
            .request_with_key(reqwest::Method::GET, &path, &other_key)
            .fetch()
            .await;
        assert_eq!(foreign.0, 404);
        assert_eq!(foreign, missing);
        for method in [reqwest::Method::PATCH, reqwest::Method::PUT] {
            let (status, _) = app
                .request_with_key(method, &path, &other_key)
                .json(&json!({"name": "stolen"}))
                .fetch()
                .await;
            assert_eq!(status, 404);
        }
        assert_eq!(
            app.request_with_key(reqwest::Method::DELETE, &path, &other_key)
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
        let mine = app.stored_customer(c.id).await;
        assert_eq!((mine.name.as_deref(), mine.version), (Some("Mine"), 1));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_4xx_and_writes_nothing() {
    let config = TestConfig::with_api(ApiConfig {
        body_limit: 2048,
        ..ApiConfig::default()
    });
    for_each_backend_with(&config, |app| async move {
        let c = app.seed_customer(|c| c.name = Some("Stable".into())).await;
        let path = format!("/v1/customers/{}", c.id);
        let big = json!({"notes": "x".repeat(4096)});
        let raw = |body: &'static [u8]| {
            app.patch(&path)
                .header("Content-Type", "application/json")
                .body(body)
        };
        // Bodies refused with a 400 naming, after `invalid_request`, the part at fault.
        let refused: [(&str, &'static [u8], &str); 9] = [
            ("malformed", b"{\"name\": ", "body"),
            ("invalid utf-8", b"{\"name\": \"\xff\"}", "body"),
            ("wrong type", b"{\"name\": 5}", "name"),
            ("unknown field", b"{\"nickname\": \"x\"}", "nickname"),
            ("read-only", b"{\"createdAt\": \"1\"}", "createdAt"),
            ("bad email", b"{\"email\": \"nope\"}", "email"),
            (
                "bad timestamp",
                b"{\"lastSeen\": \"yesterday\"}",
                "lastSeen",
            ),
            ("bad locale", b"{\"locale\": \"xx\"}", "locale"),
            ("array body", b"[]", "body"),
        ];
        let mut cases: Vec<(&str, reqwest::RequestBuilder, u16, Vec<&str>)> = refused
            .into_iter()
            .map(|(name, body, part)| (name, raw(body), 400, vec!["invalid_request", part]))
            .collect();
        cases.extend([
            (
                "too large",
                app.patch(&path).json(&big),
                413,
                vec!["invalid_request", "payload_too_large"],
            ),
            (
                "bad id",
                app.patch("/v1/customers/abc").json(&json!({"name": "x"})),
                400,
                vec!["invalid_request", "customer"],
            ),
        ]);
        for (name, request, want, codes) in cases {
            let (status, body) = request.fetch().await;
            assert_eq!(status.as_u16(), want, "{name}: {body}");
            assert_eq!(error_codes(&body), codes, "{name}");
        }
        let stored = app.stored_customer(c.id).await;
        assert_eq!(
            (stored.name.as_deref(), stored.version),
            (Some("Stable"), 1),
            "nothing was written"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_429_with_headers() {
    let config = TestConfig::with_api(ApiConfig {
        rate_limit_per_minute: 3,
        rate_limit_burst: 3,
        ..ApiConfig::default()
    });
    for_each_backend_with(&config, |app| async move {
        let c = app.seed_customer(|_| {}).await;
        let path = format!("/v1/customers/{}", c.id);
        for remaining in (0..3).rev() {
            let resp = app.get(&path).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.headers()["x-ratelimit-limit"], "3");
            assert_eq!(
                resp.headers()["x-ratelimit-remaining"],
                remaining.to_string().as_str()
            );
            assert!(resp.headers().contains_key("x-ratelimit-reset"));
        }
        let resp = app.get(&path).send().await.unwrap();
        assert_eq!(resp.status(), 429);
        let retry = retry_after(&resp);
        assert!((1..=20).contains(&retry), "Retry-After {retry}");
        assert_eq!(resp.headers()["x-ratelimit-remaining"], "0");
        let (_, body) = json_of(resp).await;
        assert_eq!(error_codes(&body), ["invalid_request", "too_many_requests"]);
        // another key has its own bucket
        let other = app.create_key(&[]).await;
        assert_eq!(
            app.request_with_key(reqwest::Method::GET, &path, &other)
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    })
    .await;
}

/// The vendor's error envelope: two entries, the first `invalid_request`,
/// with the vendor's codes (`001_9ac1faa8a0e615a5.txt`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_the_vendors_two_entries() {
    for_each_backend(|app| async move {
        let invalid = json!({"code": "invalid_request", "message": "Invalid request"});
        let (status, body) = app.get("/v1/customers/abc").fetch().await;
        assert_eq!(status, 400);
        assert_eq!(
            body,
            json!({"errors": [invalid, {"code": "customer", "message": "This value should be of type numeric."}]})
        );
        let (status, body) = app.anonymous(reqwest::Method::GET, "/v1/customers/1").fetch().await;
        assert_eq!(status, 401);
        assert_eq!(body, json!({"errors": [invalid, {"code": "unauthorized", "message": "Unauthorized"}]}));
        let (status, body) = app.get("/v1/chats/999999").fetch().await;
        assert_eq!(status, 404);
        assert_eq!(body, json!({"errors": [invalid, {"code": "not_found", "message": "Chat not found"}]}));
        let (status, body) = app.get("/v1/chats/x1").fetch().await;
        assert_eq!(status, 400);
        assert_eq!(body["errors"][1], json!({"code": "chat", "message": "This value should be of type numeric."}));
    })
    .await;
}

/// A GET body sent back as a PUT works: `customData` as an object, the
/// read-only members unchanged, `location` and `device` stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_body_sent_back_as_put_works() {
    for_each_backend(|app| async move {
        define_attributes(&app).await;
        app.define_attribute("paid", AttributeType::Date, "Paid").await;
        let (status, created) = app
            .post("/v1/customers")
            .json(&json!({
                "name": "John Doe", "email": "john@example.com",
                "customData": [{"property": "plan", "value": "pro"}, {"property": "paid", "value": "1603885746"}],
                "location": {"regionCode": "Kyiv Oblast", "countryCode": "UA", "city": "Kyiv"},
                "device": {"ip": "192.0.2.1", "timezone": "Europe/Kiev", "platform": "desktop", "userAgent": "Mozilla/5.0"}
            }))
            .fetch()
            .await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_i64().unwrap();
        // dates come back as UNIX-timestamp numbers, however they were sent
        assert_eq!(created["customData"]["paid"], 1_603_885_746, "{created}");
        assert_eq!(created["location"], json!({"regionCode": "Kyiv Oblast", "countryCode": "UA", "city": "Kyiv"}));
        assert_eq!(created["device"]["ip"], "192.0.2.1");
        assert_eq!(created["device"]["timezone"], "Europe/Kiev");
        assert_eq!(created["device"]["userAgent"], "Mozilla/5.0");
        assert_eq!(created["device"]["id"], id);

        let (_, got) = app.get(&format!("/v1/customers/{id}")).fetch().await;
        let mut back = got.clone();
        back["name"] = json!("Jane Doe");
        let (status, put) = app.put(&format!("/v1/customers/{id}")).json(&back).fetch().await;
        assert_eq!(status, 200, "{put}");
        assert_eq!(put["name"], "Jane Doe");
        assert_eq!(put["customData"], got["customData"]);
        assert_eq!(put["location"], got["location"]);
        assert_eq!(put["device"], got["device"]);

        // a changed read-only member is refused
        for (member, value) in [("id", json!(id + 1)), ("createdAt", json!("1000")), ("createdFrom", json!("widget"))] {
            let mut changed = put.clone();
            changed[member] = value;
            let (status, body) = app.put(&format!("/v1/customers/{id}")).json(&changed).fetch().await;
            assert_eq!(status, 400, "{member}: {body}");
            assert_eq!(body["errors"][1]["code"], member, "{body}");
        }
        // the older top-level location members
        let (status, body) = app
            .patch(&format!("/v1/customers/{id}"))
            .json(&json!({"city": "Lviv", "countryCode": null}))
            .fetch()
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["location"], json!({"regionCode": "Kyiv Oblast", "countryCode": null, "city": "Lviv"}));
        // a date sent as a number stays a number; PATCH with the object form
        let (_, body) = app
            .patch(&format!("/v1/customers/{id}"))
            .json(&json!({"customData": {"paid": "1700000000", "plan": "basic"}}))
            .fetch()
            .await;
        assert_eq!(body["customData"]["paid"], 1_700_000_000, "{body}");
        assert_eq!(body["customData"]["plan"], "basic");
    })
    .await;
}

/// Chat `rating` and `closedBy` use the vendor's strings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_rating_and_closed_by_are_the_vendors_strings() {
    for_each_backend(|app| async move {
        for (rating, word) in [
            (1, "poor"),
            (2, "poor"),
            (3, "average"),
            (4, "great"),
            (5, "great"),
        ] {
            let c = app
                .seed_conversation(&format!("r-{rating}"), |c| {
                    c.rating = Some(rating);
                    c.set_status(
                        ConversationStatus::Closed,
                        switchboard_domain::Actor::Customer,
                        c.created_at,
                    );
                })
                .await;
            let (_, chat) = app.get(&format!("/v1/chats/{}", c.id)).fetch().await;
            assert_eq!(chat["rating"], word, "{chat}");
            assert_eq!(chat["closedBy"], "customer", "{chat}");
        }
        let c = app.seed_conversation("by-key", |_| {}).await;
        let (_, chat) = app
            .put("/v1/chats/status")
            .json(&json!({"id": c.id.get(), "status": "closed"}))
            .fetch()
            .await;
        assert_eq!(chat["closedBy"], "agent", "{chat}");
        assert!(chat["rating"].is_null());
    })
    .await;
}

/// A batch reports every failing item, not only the first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_reports_every_failing_item() {
    for_each_backend(|app| async move {
        let a = app.seed_customer(|c| c.name = Some("A".into())).await;
        let b = app.seed_customer(|c| c.name = Some("B".into())).await;
        let (status, body) = app
            .put("/v1/customers/batch")
            .json(&json!([
                {"customer": 999_999, "name": "X"},
                {"customer": a.id.get(), "email": "not an email"},
                {"customer": b.id.get(), "name": "B2"},
                {"customer": b.id.get() + 1000, "name": "Y"}
            ]))
            .fetch()
            .await;
        assert_eq!(status, 400, "{body}");
        let codes = error_codes(&body);
        assert_eq!(
            codes,
            ["invalid_request", "0.customer", "1.email", "3.customer"],
            "{body}"
        );
        let (_, still) = app.get(&format!("/v1/customers/{}", b.id)).fetch().await;
        assert_eq!(still["name"], "B", "nothing written");
    })
    .await;
}

/// The older API's top-level `city`, `regionCode` and `countryCode` are
/// checked by the same rule as `location`'s members, whichever of the two
/// wins (the top-level one, when both are sent): a bad value of either is
/// a HelpCrunch `400` naming it, and nothing is stored (so is a bad
/// `device.ipAddress` that `device.ip` overrides). A good one shows
/// in `location` and, through a linked chat, in the other dialects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn top_level_location_members_are_checked_like_location() {
    for_each_backend(|app| async move {
        let long = "x".repeat(256);
        let (status, created) = app
            .post("/v1/customers")
            .json(&json!({"name": "Ada", "location": {"regionCode": "Oslo", "countryCode": "NO", "city": "Oslo"}}))
            .fetch()
            .await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_i64().unwrap();
        let path = format!("/v1/customers/{id}");
        let stored = created["location"].clone();
        let count = || async { app.store.customers().count(app.tenant.id, None).await.unwrap() };
        let customers = count().await;

        let bad = [
            // a value the top-level member would overwrite
            (json!({"location": {"city": long.clone()}, "city": "Bergen"}), "location.city"),
            (json!({"location": {"countryCode": "N\u{0}O"}, "countryCode": "SE"}), "location.countryCode"),
            // the top-level members themselves
            (json!({"city": long.clone()}), "city"),
            (json!({"regionCode": long.clone()}), "regionCode"),
            (json!({"countryCode": "N\u{0}O"}), "countryCode"),
            // one that `location` would have overwritten, were it applied last
            (json!({"location": {"city": "Bergen"}, "city": long.clone()}), "city"),
            // `device.ip` wins over `device.ipAddress`, which is still checked
            (json!({"device": {"ip": "192.0.2.1", "ipAddress": long.clone()}}), "device.ipAddress"),
        ];
        for (body, code) in bad {
            for method in [reqwest::Method::PUT, reqwest::Method::PATCH] {
                let (status, got) = app.request(method.clone(), &path).json(&body).fetch().await;
                assert_eq!(status, 400, "{method} {body}: {got}");
                assert_eq!(got["errors"][0]["code"], "invalid_request", "{got}");
                assert_eq!(error_codes(&got)[1..], [code.to_string()], "{method} {body}: {got}");
            }
            let (status, got) = app.post("/v1/customers").json(&body).fetch().await;
            assert_eq!(status, 400, "POST {body}: {got}");
            assert_eq!(error_codes(&got)[1..], [code.to_string()], "POST {body}: {got}");
            let mut item = body.as_object().unwrap().clone();
            item.insert("customer".into(), json!(id));
            let (status, got) = app
                .put("/v1/customers/batch")
                .json(&json!([{"customer": id, "name": "B"}, item]))
                .fetch()
                .await;
            assert_eq!(status, 400, "batch {body}: {got}");
            assert_eq!(error_codes(&got)[1..], [format!("1.{code}")], "batch {body}: {got}");
        }
        let (_, got) = app.get(&path).fetch().await;
        assert_eq!(got["location"], stored, "nothing stored");
        assert_eq!(got["name"], "Ada", "nothing stored");
        assert_eq!(count().await, customers, "nothing created");

        // Both sent: the top-level member wins, the others of `location` stay.
        let (status, got) = app
            .patch(&path)
            .json(&json!({"location": {"regionCode": "Viken", "countryCode": "NO", "city": "Oslo"}, "city": "Drammen"}))
            .fetch()
            .await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(got["location"], json!({"regionCode": "Viken", "countryCode": "NO", "city": "Drammen"}));

        // A good top-level value: in `location` on GET, and in the other
        // dialects' view of a chat linked to the customer (the visitor
        // gave no country).
        let (status, got) = app.patch(&path).json(&json!({"countryCode": "SE", "city": "Malmö"})).fetch().await;
        assert_eq!(status, 200, "{got}");
        let (_, got) = app.get(&path).fetch().await;
        assert_eq!(got["location"], json!({"regionCode": "Viken", "countryCode": "SE", "city": "Malmö"}));
        let (status, chat) = app.post("/v1/chats").json(&json!({"customer": id, "message": "Hej"})).fetch().await;
        assert_eq!(status, 201, "{chat}");
        let chat_id = chat["id"].as_i64().unwrap();
        let (status, zoho) = app
            .get(&format!("/api/v2/{}/conversations/{chat_id}", app.tenant.name))
            .fetch()
            .await;
        assert_eq!(status, 200, "{zoho}");
        assert_eq!(zoho["data"]["visitor"]["country_code"], "se", "{zoho}");
        let (_, so) = app.get(&format!("/api/v1/ChatSession/{chat_id}")).fetch().await;
        let session = so["SessionKey"].as_str().unwrap().to_owned();
        let (status, log) = app.get(&format!("/chatbot/v1/chatlog/{session}")).fetch().await;
        assert_eq!(status, 200, "{log}");
        assert_eq!(log["country"], "SE", "{log}");
    })
    .await;
}

/// The objects of a customer body are objects only, as the request schema
/// says: serde's derive also reads a struct from an array of its members
/// in order, which is a `400` here and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_objects_are_never_read_from_arrays() {
    for_each_backend(|app| async move {
        define_attributes(&app).await;
        let (status, created) = app
            .post("/v1/customers")
            .json(&json!({"name": "Ada"}))
            .fetch()
            .await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_i64().unwrap();
        let path = format!("/v1/customers/{id}");
        for (body, code) in [
            (json!({"location": [null, "SE", "Malmö"]}), "location"),
            (json!({"device": [null, "192.0.2.1"]}), "device"),
            (json!({"tags": [["vip", "#ff0000"]]}), "tags.0"),
            (json!({"customData": [["plan", "pro"]]}), "customData.0"),
        ] {
            let (status, got) = app.patch(&path).json(&body).fetch().await;
            assert_eq!(status, 400, "{body}: {got}");
            assert_eq!(got["errors"][1]["code"], code, "{body}: {got}");
        }
        let (status, got) = app
            .put(&format!("{path}/tags"))
            .json(&json!({"tags": [["vip"]]}))
            .fetch()
            .await;
        assert_eq!(status, 400, "{got}");
        let (_, got) = app.get(&path).fetch().await;
        assert_eq!(got["location"], Value::Null, "{got}");
        assert_eq!(got["tags"], json!([]), "{got}");
        assert_eq!(got["customData"], json!({}), "{got}");
    })
    .await;
}
