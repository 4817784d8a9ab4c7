//! End-to-end tests of the Zoho SalesIQ-style and chatbot families, and of
//! their consistency with the other families, on SQLite and PostgreSQL.

use serde_json::{Value, json};
use switchboard_domain::{ConversationStatus, EventType, Scope};
use switchboard_e2e::{FetchJson, TestApp, for_each_backend};

use crate::e2e::common::{zoho, zoho_token};

async fn email_events(app: &TestApp, id: i64) -> usize {
    app.store
        .conversations()
        .events(app.tenant.id, switchboard_domain::ConversationId::new(id))
        .await
        .unwrap()
        .iter()
        .filter(|e| e.event.event_type == EventType::EmailUpdated)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoho_routes_and_customer_info() {
    for_each_backend(|app| async move {
        let created = zoho(&app, reqwest::Method::POST, "/conversations")
                .json(&json!({"visitor": {"name": "Vera", "email": "vera@example.com", "phone": "+1 555"}, "question": "Pricing?"}))
            .fetch_expecting(200)
            .await;
        let id = created["data"]["id"].as_str().unwrap().to_string();
        assert_eq!(created["object"], "Object");
        assert_eq!(created["url"], format!("/api/v2/{}/conversations/{id}", app.tenant.name));
        let data = &created["data"];
        assert_eq!(data["question"], "Pricing?");
        assert_eq!(data["chat_status"], json!({"state_key": "waiting", "status_code": 0, "state": 1, "id": "10", "label": "Waiting", "status_key": "open"}));
        assert!(data["start_time"].as_str().unwrap().parse::<i64>().unwrap() > 1_600_000_000_000);
        assert!(data["chat_id"].is_string());
        assert_eq!(data["customer_info"], json!({}));

        // merge customer_info; name/email/phone keys do not touch the visitor
        let body = zoho(&app, reqwest::Method::PUT, &format!("/conversations/{id}"))
                .json(&json!({"customer_info": {"Plan": "Gold", "email": "other@example.com", "name": "Other", "phone": "0", "Seats": 4}}))
            .fetch_expecting(200)
            .await;
        assert_eq!(body["data"]["customer_info"], json!({"Plan": "Gold", "email": "other@example.com", "name": "Other", "phone": "0", "Seats": 4}));
        assert_eq!(body["data"]["visitor"]["email"], "vera@example.com");
        assert_eq!(body["data"]["visitor"]["name"], "Vera");
        assert_eq!(body["data"]["visitor"]["phone"], "+1 555");
        // null removes a key, other keys are kept
        let (_, body) = zoho(&app, reqwest::Method::PUT, &format!("/conversations/{id}")).json(&json!({"customer_info": {"Plan": null}})).fetch().await;
        assert_eq!(body["data"]["customer_info"], json!({"email": "other@example.com", "name": "Other", "phone": "0", "Seats": 4}));

        // visible through HelpCrunch as customInfo
        let (_, chat) = app.get(&format!("/v1/chats/{id}")).fetch().await;
        assert_eq!(chat["customInfo"]["Seats"], 4);

        // invalid customer_info, limits
        let long_key = "k".repeat(101);
        let cases = [
            (json!({"customer_info": {}}), "customer_info"),
            (json!({"customer_info": "x"}), "customer_info"),
            (json!({"customer_info": [1]}), "customer_info"),
            (json!({"customer_info": {long_key.clone(): 1}}), "customer_info.kkkk"),
            (json!({"customer_info": {"big": "x".repeat(5000)}}), "customer_info.big"),
            (json!({"other": 1}), "other"),
        ];
        for (bodyv, key) in cases {
            let body = zoho(&app, reqwest::Method::PUT, &format!("/conversations/{id}")).json(&bodyv)
                .fetch_expecting(400)
                .await;
            assert_eq!(body["error"]["code"], 1015, "{body}");
            assert!(body["error"]["json_key"].as_str().unwrap().starts_with(key), "{body}");
        }
        let too_many: serde_json::Map<String, Value> = (0..101).map(|i| (format!("k{i}"), json!(i))).collect();
        zoho(&app, reqwest::Method::PUT, &format!("/conversations/{id}")).json(&json!({"customer_info": too_many}))
            .fetch_expecting(400)
            .await;

        // GET one, list with paging and status filter, close
        let got = zoho(&app, reqwest::Method::GET, &format!("/conversations/{id}"))
            .fetch_expecting(200)
            .await;
        assert_eq!(got["data"]["id"], id.as_str());
        for i in 0..3 {
            app.seed_conversation(&format!("seed-{i}"), |_| {}).await;
        }
        let (_, list) = zoho(&app, reqwest::Method::GET, "/conversations?limit=2&page=1").fetch().await;
        assert_eq!(list["object"], "list");
        assert_eq!(list["data"].as_array().unwrap().len(), 2);
        let (_, page2) = zoho(&app, reqwest::Method::GET, "/conversations?limit=2&page=2").fetch().await;
        assert_eq!(page2["data"].as_array().unwrap().len(), 2);
        let (status, body) = zoho(&app, reqwest::Method::GET, "/conversations?limit=100").fetch().await;
        assert_eq!((status.as_u16(), body["error"]["json_key"].as_str()), (400, Some("limit")));
        let closed = zoho(&app, reqwest::Method::PUT, &format!("/conversations/{id}/close"))
            .fetch_expecting(200)
            .await;
        assert_eq!(closed["data"]["chat_status"]["state_key"], "ended");
        assert!(closed["data"]["end_time"].is_string());
        let (_, ended) = zoho(&app, reqwest::Method::GET, "/conversations?status=ended").fetch().await;
        assert_eq!(ended["data"].as_array().unwrap().len(), 1);
        let (_, waiting) = zoho(&app, reqwest::Method::GET, "/conversations?status=waiting").fetch().await;
        assert_eq!(waiting["data"].as_array().unwrap().len(), 3);
        zoho(&app, reqwest::Method::GET, "/conversations/999999")
            .fetch_expecting(404)
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoho_portal_and_scopes() {
    for_each_backend(|app| async move {
        let c = app.seed_conversation("s-1", |_| {}).await;
        // another screen name is refused as an invalid portal, even a real one
        let (other, other_key) = app.other_tenant("globex").await;
        for screen in [other.name.as_str(), "nope"] {
            let body = app
                .anonymous(
                    reqwest::Method::GET,
                    &format!("/api/v2/{screen}/conversations/{}", c.id),
                )
                .header("Authorization", zoho_token(&app.key))
                .fetch_expecting(400)
                .await;
            assert_eq!(body["error"]["code"], 1005);
        }
        // the other tenant's key on its own portal cannot see our id
        app.anonymous(
            reqwest::Method::GET,
            &format!("/api/v2/{}/conversations/{}", other.name, c.id),
        )
        .header("Authorization", zoho_token(&other_key))
        .fetch_expecting(404)
        .await;
        // Bearer works too; missing header is 1002
        app.get(&format!(
            "/api/v2/{}/conversations/{}",
            app.tenant.name, c.id
        ))
        .fetch_expecting(200)
        .await;
        let (status, body) = app
            .anonymous(
                reqwest::Method::GET,
                &format!("/api/v2/{}/conversations", app.tenant.name),
            )
            .fetch()
            .await;
        assert_eq!(
            (status.as_u16(), body["error"]["code"].as_u64()),
            (401, Some(1002))
        );
        // scope refusal
        let read_only = app.create_key(&[Scope::ConversationsRead]).await;
        let (status, body) = app
            .anonymous(
                reqwest::Method::PUT,
                &format!("/api/v2/{}/conversations/{}", app.tenant.name, c.id),
            )
            .header("Authorization", zoho_token(&read_only))
            .json(&json!({"customer_info": {"a": 1}}))
            .fetch()
            .await;
        assert_eq!(
            (status.as_u16(), body["error"]["code"].as_u64()),
            (403, Some(1007))
        );
        app.anonymous(
            reqwest::Method::PUT,
            &format!("/api/v2/{}/conversations/{}/close", app.tenant.name, c.id),
        )
        .header("Authorization", zoho_token(&read_only))
        .fetch_expecting(403)
        .await;
        let stored = app.stored_conversation(c.id).await;
        assert_eq!(
            (stored.version, stored.status),
            (1, ConversationStatus::New)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatbot_chatlog_and_email() {
    for_each_backend(|app| async move {
        let log = app.post("/chatbot/v1/chatlog").json(&json!({"sessionid": "sess-1", "name": "Bo", "country": "Norway"}))
            .fetch_expecting(201)
            .await;
        assert_eq!(log["sessionid"], "sess-1");
        let id = log["id"].as_i64().unwrap();
        let generated = app.post("/chatbot/v1/chatlog").json(&json!({"name": "Anon"}))
            .fetch_expecting(201)
            .await;
        assert_eq!(generated["sessionid"].as_str().unwrap().len(), 32);
        app.post("/chatbot/v1/chatlog").json(&json!({"sessionid": "sess-1"}))
            .fetch_expecting(409)
            .await;

        let got = app.get("/chatbot/v1/chatlog/sess-1")
            .fetch_expecting(200)
            .await;
        assert_eq!(got["id"], id, "the same numeric id every family uses");
        assert_eq!(email_events(&app, id).await, 0);

        let (status, body) = app.put("/chatbot/v1/chatlog/email").json(&json!({"sessionid": "sess-1", "email": "bo@example.com"})).fetch().await;
        assert_eq!((status.as_u16(), body), (200, json!({"message": "success"})));
        assert_eq!(email_events(&app, id).await, 1);
        // the same email again writes no new version but triggers the
        // event all the same (the seed: fetch, update, then trigger)
        let version = app.stored_conversation(switchboard_domain::ConversationId::new(id)).await.version;
        let (status, body) = app.put("/chatbot/v1/chatlog/email").json(&json!({"sessionid": "sess-1", "email": " bo@example.com "})).fetch().await;
        assert_eq!((status.as_u16(), body), (200, json!({"message": "success"})));
        assert_eq!(email_events(&app, id).await, 2);
        let after = app.stored_conversation(switchboard_domain::ConversationId::new(id)).await;
        assert_eq!(after.version, version, "an unchanged email writes no new version");
        app.put("/chatbot/v1/chatlog/email").json(&json!({"sessionid": "sess-1", "email": "bo2@example.com"}))
            .fetch_expecting(200)
            .await;
        assert_eq!(email_events(&app, id).await, 3);

        // validation follows the seed: the chat log is fetched first
        for b in [
            json!({"sessionid": "missing", "email": "x@example.com"}),
            json!({"sessionid": "missing", "email": "not-an-email"}),
            json!({"sessionid": "missing"}),
        ] {
            let (status, body) = app.put("/chatbot/v1/chatlog/email").json(&b).fetch().await;
            assert_eq!((status.as_u16(), body), (404, json!({"error": "Chatlog not found"})), "{b}");
        }
        let bad = [
            (json!({"sessionid": "sess-1", "email": "not-an-email"}), "email"),
            (json!({"sessionid": "sess-1"}), "email"),
            (json!({"email": "x@example.com"}), "sessionid"),
        ];
        for (b, word) in bad {
            let body = app.put("/chatbot/v1/chatlog/email").json(&b)
                .fetch_expecting(400)
                .await;
            assert!(body["error"].as_str().unwrap().contains(word), "{body}");
        }
        let body = app.put("/chatbot/v1/chatlog/email").header("Content-Type", "application/json").body("{\"sessionid\": ")
            .fetch_expecting(400)
            .await;
        assert!(body["error"].as_str().unwrap().contains("malformed JSON"), "{body}");
        assert_eq!(email_events(&app, id).await, 3, "no event for failures");

        // the email shows everywhere the conversation does
        let (_, chat) = app.get(&format!("/api/v2/{}/conversations/{id}", app.tenant.name)).fetch().await;
        assert_eq!(chat["data"]["visitor"]["email"], "bo2@example.com");
        let stored = app.stored_conversation(switchboard_domain::ConversationId::new(id)).await;
        assert_eq!(stored.visitor.email.as_deref(), Some("bo2@example.com"));

        // the event payload is exactly the Zapier seed shape
        let events = app.store.conversations().events(app.tenant.id, switchboard_domain::ConversationId::new(id)).await.unwrap();
        let email = events.iter().find(|e| e.event.event_type == EventType::EmailUpdated).unwrap();
        assert_eq!(
            email.event.payload,
            json!({"user_session_id": "sess-1", "receiver_email": "bo@example.com", "company_username": app.tenant.name,
                   "name": "Bo", "country": "Norway", "status": "email_updated"})
        );
        let (_, other_key) = app.other_tenant("globex").await;
        app.request_with_key(reqwest::Method::GET, "/chatbot/v1/chatlog/sess-1", &other_key)
            .fetch_expecting(404)
            .await;
        let body = app.anonymous(reqwest::Method::PUT, "/chatbot/v1/chatlog/email").json(&json!({}))
            .fetch_expecting(401)
            .await;
        assert!(body["error"].is_string());
    })
    .await;
}
