//! Zoho SalesIQ's wire fidelity (issue #14): `chat_status` in SalesIQ's
//! layout for every status, the conversation object's SalesIQ members, and
//! `end_time` as the latest close.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_domain::{Actor, ConversationStatus};
use switchboard_e2e::{Backend, FetchJson, TestApp, TestConfig, for_each_backend};
use switchboard_storage::{Clock, now};

use crate::e2e::common::zoho;

/// The vendor's own connected chat (`004_dfced89d029ae60a.txt`, and the
/// "Get Details of a Particular Conversation" page).
fn vendor_connected() -> Value {
    json!({"state_key": "connected", "status_code": 0, "state": 2, "id": "20",
           "label": "Connected", "status_key": "open"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_status_has_salesiqs_layout_for_every_status() {
    for_each_backend(|app: TestApp| async move {
        let table = [
            (ConversationStatus::New, json!({"state_key": "waiting", "status_code": 0, "state": 1, "id": "10", "label": "Waiting", "status_key": "open"})),
            (ConversationStatus::Opened, vendor_connected()),
            (ConversationStatus::Pending, json!({"state_key": "connected", "status_code": 1, "state": 2, "id": "21", "label": "Pending", "status_key": "open"})),
            (ConversationStatus::OnHold, json!({"state_key": "connected", "status_code": 2, "state": 2, "id": "22", "label": "On hold", "status_key": "open"})),
            (ConversationStatus::NoCommunication, json!({"state_key": "missed", "status_code": 0, "state": 3, "id": "30", "label": "Missed", "status_key": "closed"})),
            (ConversationStatus::Closed, json!({"state_key": "ended", "status_code": 0, "state": 4, "id": "40", "label": "Ended", "status_key": "closed"})),
        ];
        for (status, want) in &table {
            let c = app
                .seed_conversation(&format!("s-{}", status.as_str().replace(' ', "-")), |c| {
                    c.set_status(*status, Actor::System, now());
                })
                .await;
            let (code, body) = zoho(&app, reqwest::Method::GET, &format!("/conversations/{}", c.id)).fetch().await;
            assert_eq!(code, 200, "{body}");
            assert_eq!(&body["data"]["chat_status"], want, "{}: {status}", app.backend);
        }
        // the list filters by the same keys
        for (filter, n) in [("open", 4), ("closed", 2), ("waiting", 1), ("connected", 3), ("missed", 1), ("end", 1), ("ended", 1), ("on_hold", 1)] {
            let (code, body) = zoho(&app, reqwest::Method::GET, &format!("/conversations?status={filter}")).fetch().await;
            assert_eq!(code, 200, "{body}");
            assert_eq!(body["data"].as_array().unwrap().len(), n, "{}: status={filter}: {body}", app.backend);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conversation_carries_salesiqs_members() {
    for_each_backend(|app: TestApp| async move {
        let agent = app.seed_agent("James Nelson", "james@example.com", "agent").await;
        let customer = app.seed_customer(|c| c.name = Some("Olivya".into())).await;
        let t = now();
        let linked = app
            .seed_conversation("linked-1", |c| {
                c.visitor.name = Some("Olivya".into());
                c.visitor.country = Some("AU".into());
                c.visitor.host = Some("203.0.113.9".into());
                c.customer_id = Some(customer.id);
                c.assignee_id = Some(agent.id);
                c.agent_ids = vec![agent.id];
                c.created_with = Some("widget".into());
                c.first_message = Some("Hey there, I need some help".into());
                c.last_message = Some("Thanks!".into());
                c.last_message_at = Some(t);
                c.set_status(ConversationStatus::Opened, Actor::System, t);
            })
            .await;
        let (code, body) = zoho(&app, reqwest::Method::GET, &format!("/conversations/{}", linked.id)).fetch().await;
        assert_eq!(code, 200, "{body}");
        let d = &body["data"];
        let id = linked.id.to_string();
        assert_eq!(d["reference_id"], id.as_str());
        assert_eq!(d["type"], "chat");
        assert_eq!(d["chat_status"], vendor_connected());
        assert_eq!(d["attended_time"], t.as_millis().to_string());
        assert_eq!(d["reopen"], false);
        assert_eq!(d["unread_chats"], false);
        assert!(d["uvid"].is_null() && d["app_id"].is_null(), "{d}");
        assert_eq!(d["visitor"]["id"], customer.id.to_string());
        assert_eq!(d["visitor"]["type"], "contact");
        assert_eq!(d["visitor"]["country_code"], "au");
        assert_eq!(d["visitor"]["ip"], "203.0.113.9");
        assert_eq!(d["visitor"]["channel_details"], json!({"channel": "website", "source": null}));
        assert_eq!(d["visitor"]["channel_name"], "website");
        for member in ["user_id", "first_name"] {
            assert!(d["visitor"].get(member).is_some_and(Value::is_null), "{member}: {d}");
        }
        let operator = json!({"id": agent.id.to_string(), "name": "James Nelson", "email": "james@example.com",
                              "image_key": null, "aboutme": null, "is_bot": false, "call_enabled": false});
        assert_eq!(d["attender"], operator);
        assert_eq!(d["owner"], operator);
        assert_eq!(d["participants"][0]["is_bot"], false);
        assert_eq!(d["participants"][0]["image_key"], Value::Null);
        assert_eq!(d["last_message_info"]["message"], json!({"text": "Thanks!"}));
        assert_eq!(d["last_message_info"]["time"], t.as_millis().to_string());
        assert_eq!(d["last_message_info"]["type"], "text");

        // a lead whose host is a name: `ip` is never a host name
        let lead = app
            .seed_conversation("lead-1", |c| {
                c.visitor.host = Some("proxy.example.net".into());
                c.visitor.country = Some("Norway".into());
            })
            .await;
        let (_, body) = zoho(&app, reqwest::Method::GET, &format!("/conversations/{}", lead.id)).fetch().await;
        let v = &body["data"]["visitor"];
        assert!(v["ip"].is_null(), "{v}");
        assert!(v["id"].is_null() && v["country_code"].is_null(), "{v}");
        assert_eq!(v["type"], "lead");
        assert!(body["data"]["last_message_info"].is_null());
        assert!(body["data"]["attended_time"].is_null());
        // an IPv6 address is an IP
        let (_, created) = zoho(&app, reqwest::Method::POST, "/conversations")
            .json(&json!({"visitor": {"name": "Vi", "ip": "2001:db8::1"}, "question": "Hi"}))
            .fetch()
            .await;
        assert_eq!(created["data"]["visitor"]["ip"], "2001:db8::1", "{created}");
        // `fields=attended_time` keeps SalesIQ's member
        let (_, list) = zoho(&app, reqwest::Method::GET, "/conversations?fields=attended_time").fetch().await;
        assert!(list["data"][0].get("attended_time").is_some(), "{list}");
    })
    .await;
}

/// Close, reopen, close: `end_time` shows the second close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_time_is_the_latest_close() {
    for backend in Backend::ALL {
        let clock = Clock::manual(now());
        let config = TestConfig::with_clock(clock.clone());
        let Some(app) = TestApp::spawn_with(backend, config).await else {
            continue;
        };
        let (_, created) = zoho(&app, reqwest::Method::POST, "/conversations")
            .json(&json!({"visitor": {"name": "Vi"}, "question": "Hi"}))
            .fetch()
            .await;
        let id = created["data"]["id"].as_str().unwrap().to_string();
        let close_path = format!("/conversations/{id}/close");
        let close = || zoho(&app, reqwest::Method::PUT, &close_path).fetch();
        let (code, first) = close().await;
        assert_eq!(code, 200, "{first}");
        let first_end = first["data"]["end_time"].as_str().unwrap().to_string();
        clock.advance(Duration::from_secs(60));
        let (code, body) = app
            .put("/v1/chats/status")
            .json(&json!({"id": id.parse::<i64>().unwrap(), "status": "opened"}))
            .fetch()
            .await;
        assert_eq!(code, 200, "{body}");
        clock.advance(Duration::from_secs(60));
        let (_, second) = close().await;
        let second_end = second["data"]["end_time"].as_str().unwrap();
        let now_ms = clock.now().as_millis();
        assert_eq!(second_end, now_ms.to_string(), "{backend}: {second}");
        assert_eq!(
            second_end.parse::<i64>().unwrap() - first_end.parse::<i64>().unwrap(),
            120_000,
            "{backend}"
        );
    }
}
