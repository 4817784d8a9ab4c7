//! End-to-end tests of the SuperOffice-style ChatSession family and its
//! consistency with the other families, on SQLite and PostgreSQL.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_domain::{ConversationStatus, Scope};
use switchboard_e2e::{FetchJson, TestApp, for_each_backend, json_of};

const JSON_PATCH: &str = "application/json-patch+json";
const MERGE_PATCH: &str = "application/merge-patch+json";

async fn session(app: &TestApp) -> i64 {
    let body = app.post("/api/v1/ChatSession")
            .json(&json!({"CustomerName": "Ada", "CustomerEmail": "ada@example.com", "FirstMessage": "Hi", "CustomInfo": {"tier": "gold"}}))
        .fetch_expecting(201)
        .await;
    body["ChatSessionId"].as_i64().unwrap()
}

fn patch_req(app: &TestApp, id: i64, content_type: &str, body: &Value) -> reqwest::RequestBuilder {
    app.patch(&format!("/api/v1/ChatSession/{id}"))
        .header("Content-Type", content_type)
        .body(serde_json::to_vec(body).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_shape_and_case_insensitive_routes() {
    for_each_backend(|app| async move {
        let id = session(&app).await;
        for path in [
            format!("/api/v1/ChatSession/{id}"),
            format!("/api/v1/chatsession/{id}"),
            format!("/API/V1/CHATSESSION/{id}"),
        ] {
            let body = app.get(&path).fetch_expecting(200).await;
            assert_eq!(body["ChatSessionId"], id);
        }
        // Case-insensitive in ASCII only: a look-alike letter (U+017F, which
        // Unicode case folding takes for `s`) names no route.
        app.get(&format!("/api/v1/chat%C5%BFession/{id}"))
            .fetch_expecting(404)
            .await;
        let resp = app
            .get(&format!("/api/v1/ChatSession/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["etag"], "W/\"1\"");
        assert!(resp.headers().contains_key("last-modified"));
        let (_, e) = json_of(resp).await;
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        for member in [
            "ChatSessionId",
            "TopicId",
            "User",
            "Person",
            "CustomerAlias",
            "CustomerHost",
            "CustomerName",
            "CustomerEmail",
            "CustomerPhone",
            "CustomerConsented",
            "CustomerCompanyName",
            "Status",
            "FirstMessage",
            "LastMessage",
            "WhenRequested",
            "WhenStarted",
            "WhenEnded",
            "WhenIdle",
            "WhenFetched",
            "SessionKey",
            "InitialQueuePos",
            "AlertLevel",
            "Rank",
            "Flags",
            "Contact",
            "Project",
            "Sale",
            "Ticket",
            "TransferTo",
            "ChatbotIsActive",
            "Rating",
            "TableRight",
            "FieldProperties",
            "_Links",
        ] {
            assert!(keys.contains(&member), "missing {member}");
        }
        assert_eq!(e["Status"], "InQueue");
        assert_eq!(e["User"], Value::Null);
        assert_eq!(
            e["_Links"]["Self"],
            app.url(&format!("/api/v1/ChatSession/{id}"))
        );
        assert!(
            e["WhenRequested"].as_str().unwrap().ends_with("+00:00"),
            "{}",
            e["WhenRequested"]
        );
        assert_eq!(e["CustomInfo"], json!({"tier": "gold"}));
        app.get("/api/v1/ChatSession/999999")
            .fetch_expecting(404)
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_patch_ops_paths_and_refusals() {
    for_each_backend(|app| async move {
        let id = session(&app).await;
        let agent = app.seed_agent("Sam", "sam@example.com", "agent").await;
        let ops = json!([
            {"op": "test", "path": "customername", "value": "Ada"},
            {"op": "replace", "path": "/CUSTOMEREMAIL", "value": "ada@new.example.com"},
            {"op": "add", "path": "CustomerPhone", "value": "+47 1"},
            {"op": "remove", "path": "/FirstMessage"},
            {"op": "replace", "path": "/status", "value": "Started"},
            {"op": "add", "path": "/User", "value": {"AssociateId": agent.id.get()}},
            {"op": "add", "path": "/customInfo/seats", "value": 3}
        ]);
        let e = patch_req(&app, id, JSON_PATCH, &ops)
            .fetch_expecting(200)
            .await;
        assert_eq!(e["CustomerEmail"], "ada@new.example.com");
        assert_eq!(e["CustomerPhone"], "+47 1");
        assert_eq!(e["FirstMessage"], Value::Null);
        assert_eq!(e["Status"], "CustomerLast");
        assert_eq!(e["User"]["Name"], "Sam");
        assert_eq!(e["CustomInfo"], json!({"tier": "gold", "seats": 3}));
        assert!(e["WhenStarted"].is_string());

        // refusals: nothing written, 400 naming the path (409 for test)
        let cases: Vec<(Value, u16, &str)> = vec![
            (json!([{"op": "test", "path": "/CustomerName", "value": "Bob"}, {"op": "replace", "path": "/CustomerName", "value": "X"}]), 409, ""),
            (json!([{"op": "move", "from": "/CustomerName", "path": "/CustomerAlias"}]), 400, "/CustomerAlias"),
            (json!([{"op": "copy", "from": "/CustomerName", "path": "/CustomerAlias"}]), 400, "/CustomerAlias"),
            (json!([{"op": "replace", "path": "/ChatSessionId", "value": 99}]), 400, "/ChatSessionId"),
            (json!([{"op": "replace", "path": "/_Links/Self", "value": "/x"}]), 400, "/_Links"),
            (json!([{"op": "add", "path": "/Bogus", "value": 1}]), 400, "/Bogus"),
            (json!([{"op": "replace", "path": "/CustomerEmail", "value": "not-an-email"}]), 400, "/CustomerEmail"),
            (json!([{"op": "replace", "path": "/Rank", "value": "high"}]), 400, "/Rank"),
            (json!([{"op": "replace", "path": "/Status", "value": "Exploded"}]), 400, "/Status"),
            (json!([{"op": "replace", "path": "/Missing/Deep", "value": 1}]), 400, "/Missing/Deep"),
            (json!([{"op": "replace", "path": "/User", "value": {"AssociateId": 424242}}]), 400, "/User"),
        ];
        for (ops, want, source) in cases {
            let (status, body) = patch_req(&app, id, JSON_PATCH, &ops).fetch().await;
            assert_eq!(status.as_u16(), want, "{ops}: {body}");
            if !source.is_empty() {
                assert_eq!(body["ErrorSource"], source, "{ops}: {body}");
            }
            assert!(body["Error"].is_string());
        }
        let stored = app.stored_conversation(switchboard_domain::ConversationId::new(id)).await;
        assert_eq!(stored.version, 2, "only the first patch was written");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_patch_equals_its_json_patch() {
    for_each_backend(|app| async move {
        let a = session(&app).await;
        let b = session(&app).await;
        let merge = json!({"customerName": "Bea", "CustomerPhone": null, "CustomInfo": {"tier": null, "x": {"y": 1}}, "Rank": 7});
        let via_merge = patch_req(&app, a, MERGE_PATCH, &merge)
            .fetch_expecting(200)
            .await;
        let ops = json!([
            {"op": "replace", "path": "/CustomerName", "value": "Bea"},
            {"op": "replace", "path": "/CustomerPhone", "value": null},
            {"op": "remove", "path": "/CustomInfo/tier"},
            {"op": "add", "path": "/CustomInfo/x", "value": {"y": 1}},
            {"op": "replace", "path": "/Rank", "value": 7}
        ]);
        let via_ops = patch_req(&app, b, JSON_PATCH, &ops)
            .fetch_expecting(200)
            .await;
        let strip = |mut v: Value| {
            for k in ["ChatSessionId", "SessionKey", "_Links", "WhenRequested"] {
                v.as_object_mut().unwrap().remove(k);
            }
            v
        };
        assert_eq!(strip(via_merge.clone()), strip(via_ops));
        assert_eq!(via_merge["CustomInfo"], json!({"x": {"y": 1}}));
        // plain application/json chooses by shape
        let (status, e) = patch_req(&app, a, "application/json", &json!({"Rank": 8})).fetch().await;
        assert_eq!((status.as_u16(), e["Rank"].as_i64()), (200, Some(8)));
        let (status, e) = patch_req(&app, a, "application/json", &json!([{"op": "replace", "path": "Rank", "value": 9}])).fetch().await;
        assert_eq!((status.as_u16(), e["Rank"].as_i64()), (200, Some(9)));
        patch_req(&app, a, "text/plain", &json!({"Rank": 1}))
            .fetch_expecting(415)
            .await;
        patch_req(&app, a, JSON_PATCH, &json!({"Rank": 1}))
            .fetch_expecting(400)
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preconditions_etags_and_304() {
    for_each_backend(|app| async move {
        let id = session(&app).await;
        let path = format!("/api/v1/ChatSession/{id}");
        let resp = app.get(&path).send().await.unwrap();
        let last_modified = resp.headers()["last-modified"]
            .to_str()
            .unwrap()
            .to_string();
        let etag = resp.headers()["etag"].to_str().unwrap().to_string();

        // If-Modified-Since with the Last-Modified value: 304 (second precision)
        // If-None-Match with the ETag: 304; an older date: 200.
        for (header, value, want) in [
            ("If-Modified-Since", last_modified.as_str(), 304),
            ("If-None-Match", etag.as_str(), 304),
            ("If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT", 200),
        ] {
            let resp = app.get(&path).header(header, value).send().await.unwrap();
            assert_eq!(resp.status(), want, "{header}: {value}");
        }

        // If-Unmodified-Since equal to the Last-Modified second passes, even though
        // the row's updatedAt has milliseconds after that second
        let ok = patch_req(&app, id, MERGE_PATCH, &json!({"Rank": 1}))
            .header("If-Unmodified-Since", &last_modified);
        let resp = ok.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let new_etag = resp.headers()["etag"].to_str().unwrap().to_string();
        assert_eq!(new_etag, "W/\"2\"");
        // a date one second before the last change fails with 412 and writes nothing
        let stored = app
            .stored_conversation(switchboard_domain::ConversationId::new(id))
            .await;
        let before = std::time::UNIX_EPOCH
            + Duration::from_secs(u64::try_from(stored.updated_at.as_unix_seconds() - 1).unwrap());
        let stale = actix_web::http::header::HttpDate::from(before).to_string();
        patch_req(&app, id, MERGE_PATCH, &json!({"Rank": 2}))
            .header("If-Unmodified-Since", &stale)
            .fetch_expecting(412)
            .await;
        app.put(&path)
            .json(&json!({"SessionKey": stored.session_key}))
            .header("If-Unmodified-Since", &stale)
            .fetch_expecting(412)
            .await;

        // If-Match: the old tag fails, the current tag (weak or strong) passes
        patch_req(&app, id, MERGE_PATCH, &json!({"Rank": 3}))
            .header("If-Match", &etag)
            .fetch_expecting(412)
            .await;
        app.get(&path)
            .header("If-Match", &etag)
            .fetch_expecting(412)
            .await;
        let (status, e) = patch_req(&app, id, MERGE_PATCH, &json!({"Rank": 4}))
            .header("If-Match", "\"2\"")
            .fetch()
            .await;
        assert_eq!((status.as_u16(), e["Rank"].as_i64()), (200, Some(4)));
        patch_req(&app, id, MERGE_PATCH, &json!({"Rank": 5}))
            .header("If-Match", "W/\"3\"")
            .fetch_expecting(200)
            .await;
        let stored = app
            .stored_conversation(switchboard_domain::ConversationId::new(id))
            .await;
        assert_eq!((stored.version, stored.rank), (4, 5));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_xml_and_time_zone() {
    for_each_backend(|app| async move {
        let id = session(&app).await;
        let e = app
            .get(&format!(
                "/api/v1/ChatSession/{id}?$select=customerName,_links/self,TableRight/Mask"
            ))
            .fetch_expecting(200)
            .await;
        assert_eq!(e["CustomerName"], "Ada");
        assert_eq!(
            e["CustomerEmail"],
            Value::Null,
            "unselected fields are null"
        );
        assert_eq!(e["Status"], Value::Null);
        assert_eq!(
            e["_Links"]["Self"],
            app.url(&format!("/api/v1/ChatSession/{id}"))
        );
        assert_eq!(
            e["TableRight"],
            json!({"Mask": "FullAccess", "Reason": null})
        );
        assert!(
            e.as_object().unwrap().contains_key("WhenStarted"),
            "unselected fields stay present"
        );
        let (status, e) = app
            .patch(&format!("/api/v1/ChatSession/{id}?$select=Rank"))
            .header("Content-Type", MERGE_PATCH)
            .body("{\"Rank\": 2}")
            .fetch()
            .await;
        assert_eq!(
            (
                status.as_u16(),
                e["Rank"].as_i64(),
                e["CustomerName"].is_null()
            ),
            (200, Some(2), true)
        );

        let resp = app
            .get(&format!("/api/v1/ChatSession/{id}"))
            .header("Accept", "application/xml")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/xml")
        );
        let xml = resp.text().await.unwrap();
        assert!(
            xml.contains(&format!("<ChatSessionId>{id}</ChatSessionId>")),
            "{xml}"
        );
        assert!(xml.contains("<CustomerName>Ada</CustomerName>"), "{xml}");
        assert!(xml.contains("<User xsi:nil=\"true\"/>"), "{xml}");
        let resp = app
            .get(&format!("/api/v1/ChatSession/{id}"))
            .header("Accept", "text/xml")
            .send()
            .await
            .unwrap();
        assert!(resp.text().await.unwrap().starts_with("<?xml"));
        let resp = app
            .get(&format!("/api/v1/ChatSession/{id}"))
            .header("Accept", "text/json")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        app.get(&format!("/api/v1/ChatSession/{id}"))
            .header("Accept", "text/html")
            .fetch_expecting(406)
            .await;

        let (_, utc) = app.get(&format!("/api/v1/ChatSession/{id}")).fetch().await;
        let (_, oslo) = app
            .get(&format!("/api/v1/ChatSession/{id}"))
            .header("SO-TimeZone", "Europe/Oslo")
            .fetch()
            .await;
        let (u, o) = (
            utc["WhenRequested"].as_str().unwrap(),
            oslo["WhenRequested"].as_str().unwrap(),
        );
        assert!(u.ends_with("+00:00"));
        assert!(o.ends_with("+01:00") || o.ends_with("+02:00"), "{o}");
        let parse = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
        assert_eq!(parse(u), parse(o), "the same instant in another zone");
        app.get(&format!("/api/v1/ChatSession/{id}"))
            .header("SO-TimeZone", "Mars/Base")
            .fetch_expecting(400)
            .await;
        app.get(&format!("/api/v1/ChatSession/{id}"))
            .header("SO-TimeZone", "UTC")
            .header("Accept-Language", "nb")
            .header("SO-Language", "no")
            .fetch_expecting(200)
            .await;
        // a PATCH with a time in Oslo time is stored as the same instant
        let e = patch_req(
            &app,
            id,
            MERGE_PATCH,
            &json!({"WhenIdle": "2024-06-01T12:00:00+02:00"}),
        )
        .fetch_expecting(200)
        .await;
        assert_eq!(e["WhenIdle"], "2024-06-01T10:00:00+00:00");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_forms_and_tenancy() {
    for_each_backend(|app| async move {
        let id = session(&app).await;
        let path = format!("/api/v1/ChatSession/{id}");
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", app.tenant.name, app.key));
        for auth in [
            format!("Bearer {}", app.key),
            format!("SOTicket {}", app.key),
            format!("Basic {basic}"),
        ] {
            let resp = app
                .anonymous(reqwest::Method::GET, &path)
                .header("Authorization", auth.clone())
                .header("SO-AppToken", "app-123")
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{auth}");
        }
        let wrong_user =
            base64::engine::general_purpose::STANDARD.encode(format!("other:{}", app.key));
        let body = app
            .anonymous(reqwest::Method::GET, &path)
            .header("Authorization", format!("Basic {wrong_user}"))
            .fetch_expecting(401)
            .await;
        assert_eq!(body["ErrorType"], "UnauthorizedAccessException");
        app.anonymous(reqwest::Method::GET, &path)
            .fetch_expecting(401)
            .await;
        // the app token is recorded in the change history
        patch_req(&app, id, MERGE_PATCH, &json!({"Rank": 1}))
            .header("SO-AppToken", "app-123")
            .fetch_expecting(200)
            .await;
        let history = app
            .store
            .conversations()
            .history(
                app.tenant.id,
                switchboard_domain::ConversationId::new(id),
                1,
            )
            .await
            .unwrap();
        assert_eq!(history[0].api, "superoffice app=app-123");
        // scopes and cross-tenant ids
        let read_only = app.create_key(&[Scope::ConversationsRead]).await;
        app.request_with_key(reqwest::Method::PATCH, &path, &read_only)
            .header("Content-Type", MERGE_PATCH)
            .body("{\"Rank\":1}")
            .fetch_expecting(403)
            .await;
        let (_, other) = app.other_tenant("globex").await;
        let foreign = app
            .request_with_key(reqwest::Method::GET, &path, &other)
            .fetch()
            .await;
        let missing = app
            .request_with_key(reqwest::Method::GET, "/api/v1/ChatSession/999999", &other)
            .fetch()
            .await;
        assert_eq!(foreign.0, 404);
        assert_eq!(foreign, missing);
        app.request_with_key(reqwest::Method::PATCH, &path, &other)
            .header("Content-Type", MERGE_PATCH)
            .body("{\"Rank\":9}")
            .fetch_expecting(404)
            .await;
        let resp = app
            .request_with_key(reqwest::Method::DELETE, &path, &other)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
        let resp = app.delete(&path).send().await.unwrap();
        assert_eq!(resp.status(), 204);
        assert_eq!(app.get(&path).send().await.unwrap().status(), 404);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_test_guards_have_exactly_one_winner() {
    for_each_backend(|app| async move {
        let id = session(&app).await;
        let mut handles = Vec::new();
        for i in 0..8 {
            let req = patch_req(
                &app,
                id,
                JSON_PATCH,
                &json!([{"op": "test", "path": "/CustomerName", "value": "Ada"}, {"op": "replace", "path": "/CustomerName", "value": format!("Writer {i}")}]),
            );
            handles.push(tokio::spawn(async move { req.send().await.unwrap().status().as_u16() }));
        }
        let mut statuses = Vec::new();
        for h in handles {
            statuses.push(h.await.unwrap());
        }
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409, 409, 409, 409, 409, 409, 409], "{statuses:?}");
        let stored = app.stored_conversation(switchboard_domain::ConversationId::new(id)).await;
        assert_eq!(stored.version, 2);
        assert!(stored.visitor.name.unwrap().starts_with("Writer "));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_family_consistency() {
    for_each_backend(|app| async move {
        // created through SuperOffice, visible through HelpCrunch
        let id = session(&app).await;
        let chat = app
            .get(&format!("/v1/chats/{id}"))
            .fetch_expecting(200)
            .await;
        assert_eq!(chat["status"], "new");
        assert_eq!(chat["customInfo"], json!({"tier": "gold"}));
        // a status changed through HelpCrunch shows in SuperOffice's Status
        app.put("/v1/chats/status")
            .json(&json!({"id": id, "status": "closed"}))
            .fetch_expecting(200)
            .await;
        let (_, e) = app.get(&format!("/api/v1/ChatSession/{id}")).fetch().await;
        assert_eq!(e["Status"], "Closed");
        assert!(e["WhenEnded"].is_string());
        // an email changed through the chatbot shows as CustomerEmail
        let key = e["SessionKey"].as_str().unwrap().to_string();
        app.put("/chatbot/v1/chatlog/email")
            .json(&json!({"sessionid": key, "email": "bot@example.com"}))
            .fetch_expecting(200)
            .await;
        let (_, e) = app.get(&format!("/api/v1/ChatSession/{id}")).fetch().await;
        assert_eq!(e["CustomerEmail"], "bot@example.com");
        // customer_info set through Zoho is CustomInfo in SuperOffice
        app.put(&format!("/api/v2/{}/conversations/{id}", app.tenant.name))
            .json(&json!({"customer_info": {"Plan": "Pro"}}))
            .fetch_expecting(200)
            .await;
        let (_, e) = app
            .get(&format!("/api/v1/ChatSession/{id}?$select=CustomInfo"))
            .fetch()
            .await;
        assert_eq!(e["CustomInfo"], json!({"tier": "gold", "Plan": "Pro"}));
        // and a SuperOffice status change shows in Zoho
        patch_req(&app, id, MERGE_PATCH, &json!({"Status": "Started"}))
            .fetch_expecting(200)
            .await;
        let (_, z) = app
            .get(&format!("/api/v2/{}/conversations/{id}", app.tenant.name))
            .fetch()
            .await;
        assert_eq!(z["data"]["chat_status"]["state_key"], "connected");
        let stored = app
            .stored_conversation(switchboard_domain::ConversationId::new(id))
            .await;
        assert_eq!(stored.status, ConversationStatus::Opened);
        assert_eq!(stored.closed_at, None, "reopening cleared closedAt");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_replaces_the_whole_entity() {
    for_each_backend(|app| async move {
        let id = session(&app).await;
        let path = format!("/api/v1/ChatSession/{id}");
        let (_, mut e) = app.get(&path).fetch().await;
        // a GET → edit → PUT round trip keeps everything it sends back
        e["CustomerPhone"] = json!("+1 555");
        let put = app.put(&path).json(&e)
            .fetch_expecting(200)
            .await;
        assert_eq!(put["CustomerPhone"], "+1 555");
        assert_eq!(put["CustomerName"], "Ada");
        assert_eq!(put["CustomInfo"], json!({"tier": "gold"}));
        // members left out become null / 0 / false
        let put = app.put(&path).json(&json!({"SessionKey": e["SessionKey"], "customerName": "Only", "Status": "Started"}))
            .fetch_expecting(200)
            .await;
        assert_eq!(put["CustomerName"], "Only");
        assert_eq!(put["CustomerEmail"], Value::Null);
        assert_eq!(put["CustomerPhone"], Value::Null);
        assert_eq!(put["CustomInfo"], json!({}));
        assert_eq!(put["Status"], "CustomerLast");
        assert_eq!(put["Rank"], 0);
        // read-only members must be unchanged; unknown members are refused
        let (status, body) = app.put(&path).json(&json!({"SessionKey": e["SessionKey"], "ChatSessionId": 12345})).fetch().await;
        assert_eq!((status.as_u16(), body["ErrorSource"].as_str()), (400, Some("/ChatSessionId")));
        let (status, body) = app.put(&path).json(&json!({"SessionKey": e["SessionKey"], "Nickname": "x"})).fetch().await;
        assert_eq!((status.as_u16(), body["ErrorSource"].as_str()), (400, Some("/Nickname")));
        let stored = app.stored_conversation(switchboard_domain::ConversationId::new(id)).await;
        assert_eq!(stored.version, 3, "the refused PUTs wrote nothing");
    })
    .await;
}

/// A PATCH applies to the document GET returns, linked rows included: a
/// `test` of a linked name holds, and only a link's id can be written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patches_apply_to_the_entity_get_returns_links_included() {
    for_each_backend(|app| async move {
        let ada = app.seed_agent("Ada Agent", "ada@example.com", "agent").await;
        let bob = app.seed_agent("Bob Agent", "bob@example.com", "agent").await;
        let person = app.seed_customer(|c| c.name = Some("Cleo".into())).await;
        let id = session(&app).await;
        let url = format!("/api/v1/ChatSession/{id}");
        patch_req(&app, id, MERGE_PATCH, &json!({"User": {"AssociateId": ada.id.get()}, "Person": {"PersonId": person.id.get()}}))
            .fetch_expecting(200)
            .await;
        let (_, got) = app.get(&url).fetch().await;
        assert_eq!(got["User"]["Name"], "Ada Agent", "{}", app.backend);
        assert_eq!(got["Person"]["FullName"], "Cleo", "{}", app.backend);

        // `test` sees the linked names, as GET shows them.
        let ops = json!([
            {"op": "test", "path": "/User/Name", "value": "Ada Agent"},
            {"op": "test", "path": "/person/fullname", "value": "Cleo"},
            {"op": "replace", "path": "/User/AssociateId", "value": bob.id.get()}
        ]);
        let body = patch_req(&app, id, JSON_PATCH, &ops)
            .fetch_expecting(200)
            .await;
        assert_eq!(body["User"]["AssociateId"], bob.id.get());
        assert_eq!(body["User"]["Name"], "Bob Agent");
        let stale = json!([{"op": "test", "path": "/User/Name", "value": "Ada Agent"}, {"op": "replace", "path": "/Rank", "value": 9}]);
        patch_req(&app, id, JSON_PATCH, &stale)
            .fetch_expecting(409)
            .await;

        // A linked row's other members are not the session's to change.
        for (content_type, patch) in [
            (JSON_PATCH, json!([{"op": "replace", "path": "/Person/FullName", "value": "Mallory"}])),
            (JSON_PATCH, json!([{"op": "add", "path": "user/email", "value": "x@example.com"}])),
            (MERGE_PATCH, json!({"TransferTo": {"AssociateId": ada.id.get(), "Name": "Eve"}})),
        ] {
            let body = patch_req(&app, id, content_type, &patch)
                .fetch_expecting(400)
                .await;
            assert!(body.to_string().contains("read_only") || body.to_string().contains("read-only"), "{body}");
        }
        let (_, after) = app.get(&url).fetch().await;
        assert_eq!(after["Person"]["FullName"], "Cleo");
        assert_eq!(after["TransferTo"], Value::Null);
        assert_eq!(after["Rank"], got["Rank"], "nothing written by the refused patches");
    })
    .await;
}

/// `DELETE` with `If-Match` checks the version and deletes in one step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_checks_if_match_against_the_row_it_deletes() {
    for_each_backend(|app| async move {
        let id = session(&app).await;
        let url = format!("/api/v1/ChatSession/{id}");
        patch_req(&app, id, MERGE_PATCH, &json!({"Rank": 2}))
            .fetch_expecting(200)
            .await;
        // (If-Match, the DELETE's status, a GET's status after it)
        for (if_match, deleted, after) in [
            ("W/\"1\"", 412, 200),
            ("\"2\", W/\"1\"", 204, 404),
            ("W/\"2\"", 404, 404),
        ] {
            let resp = app
                .delete(&url)
                .header("If-Match", if_match)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), deleted, "{}: {if_match}", app.backend);
            let got = app.get(&url).send().await.unwrap().status();
            assert_eq!(got, after, "{}: GET after {if_match}", app.backend);
        }
    })
    .await;
}

/// Keys inside `CustomInfo` are data: a path or merge-patch key in another
/// letter case names another key, while member names match in any case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_info_keys_are_case_sensitive() {
    for_each_backend(|app| async move {
        let id = session(&app).await; // CustomInfo {"tier": "gold"}
        let url = format!("/api/v1/ChatSession/{id}");
        let ops = json!([
            {"op": "add", "path": "customInfo/Tier", "value": "silver"},
            {"op": "add", "path": "/CUSTOMINFO/TIER", "value": "bronze"}
        ]);
        let body = patch_req(&app, id, JSON_PATCH, &ops)
            .fetch_expecting(200)
            .await;
        assert_eq!(
            body["CustomInfo"],
            json!({"tier": "gold", "Tier": "silver", "TIER": "bronze"})
        );

        // `test` needs the exact key: nothing is written when it names another case.
        for (tested, want) in [("/CustomInfo/TIEr", 400), ("/CustomInfo/Tier", 409)] {
            let guarded = json!([
                {"op": "test", "path": tested, "value": "gold"},
                {"op": "replace", "path": "/CustomInfo/tier", "value": "lost"}
            ]);
            patch_req(&app, id, JSON_PATCH, &guarded)
                .fetch_expecting(want)
                .await;
        }

        // A merge patch picks keys exactly; `null` removes only the exact key.
        let merge = json!({"custominfo": {"TIER": null, "tier": "platinum", "new": 1}});
        patch_req(&app, id, MERGE_PATCH, &merge)
            .fetch_expecting(200)
            .await;
        let (_, now) = app.get(&url).fetch().await;
        assert_eq!(
            now["CustomInfo"],
            json!({"tier": "platinum", "Tier": "silver", "new": 1})
        );
    })
    .await;
}

/// `Status` in SuperOffice's vocabulary, `Flags` as a .NET flags enum,
/// the patch media types in `Accept`, absolute `_Links` (issue #14).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_flags_accept_and_links_speak_superoffice() {
    for_each_backend(|app| async move {
        let id = session(&app).await;
        let path = format!("/api/v1/ChatSession/{id}");
        // every shared status has its own SuperOffice name, and reads back
        for (status, name) in [
            ("CustomerLast", "CustomerLast"),
            ("Active", "CustomerLast"),
            ("UserLast", "UserLast"),
            ("OnHold", "OnHold"),
            ("InQueue", "InQueue"),
            ("ClosedFromQueue", "ClosedFromQueue"),
            ("Closed", "Closed"),
            ("Finished", "Closed"),
        ] {
            let (code, e) = patch_req(&app, id, MERGE_PATCH, &json!({"Status": status}))
                .fetch()
                .await;
            assert_eq!(code, 200, "{status}: {e}");
            assert_eq!(e["Status"], name, "{status}");
        }
        let (_, chat) = app.get(&format!("/v1/chats/{id}")).fetch().await;
        assert_eq!(
            chat["status"], "closed",
            "the seed's Closed is the shared closed"
        );

        // Flags: names, comma-separated; the number of an unnamed bit
        let (_, e) = app.get(&path).fetch().await;
        assert_eq!(e["Flags"], "0");
        for (sent, shown) in [
            (json!("CustomerIsTyping"), "CustomerIsTyping"),
            (
                json!("UserIsTyping, CustomerIsTyping"),
                "CustomerIsTyping, UserIsTyping",
            ),
            (json!(2), "UserIsTyping"),
            (json!("4"), "4"),
        ] {
            let (code, e) = patch_req(&app, id, MERGE_PATCH, &json!({"Flags": sent}))
                .fetch()
                .await;
            assert_eq!(code, 200, "{sent}: {e}");
            assert_eq!(e["Flags"], shown, "{sent}");
        }
        let (code, e) = patch_req(&app, id, MERGE_PATCH, &json!({"Flags": "Sleepy"}))
            .fetch()
            .await;
        assert_eq!(code, 400, "{e}");

        // the patch media types are acceptable answers (JSON)
        for accept in [JSON_PATCH, MERGE_PATCH] {
            let resp = app
                .get(&path)
                .header("Accept", accept)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{accept}");
            let (_, e) = json_of(resp).await;
            assert_eq!(e["ChatSessionId"], id);
        }

        // absolute links, Self and Archive; a GET body sent back is accepted
        let (_, e) = app.get(&path).fetch().await;
        assert_eq!(
            e["_Links"],
            json!({"Self": app.url(&path), "Archive": app.url("/api/v1/ChatSession")})
        );
        let (code, put) = app.put(&path).json(&e).fetch().await;
        assert_eq!(code, 200, "{put}");
    })
    .await;
}

/// Close, reopen, close: `WhenEnded` shows the second close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_ended_is_the_latest_close() {
    for backend in switchboard_e2e::Backend::ALL {
        let clock = switchboard_storage::Clock::manual(switchboard_storage::now());
        let config = switchboard_e2e::TestConfig::with_clock(clock.clone());
        let Some(app) = TestApp::spawn_with(backend, config).await else {
            continue;
        };
        let id = session(&app).await;
        let (_, first) = patch_req(&app, id, MERGE_PATCH, &json!({"Status": "Closed"}))
            .fetch()
            .await;
        clock.advance(Duration::from_secs(60));
        patch_req(&app, id, MERGE_PATCH, &json!({"Status": "CustomerLast"}))
            .fetch()
            .await;
        clock.advance(Duration::from_secs(60));
        let (_, second) = patch_req(
            &app,
            id,
            JSON_PATCH,
            &json!([{"op": "replace", "path": "Status", "value": "Closed"}]),
        )
        .fetch()
        .await;
        assert_ne!(first["WhenEnded"], second["WhenEnded"], "{backend}");
        let ended = second["WhenEnded"].as_str().unwrap();
        let ended: jiff::Timestamp = ended.parse().unwrap();
        assert_eq!(
            ended.as_millisecond(),
            clock.now().as_millis(),
            "{backend}: {second}"
        );
    }
}

/// `SO-TimeZone` takes SuperOffice's codes and ids, with and without
/// `includeTZOffset`, and `GET /api/v1/timezone` lists them (issue #14).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn so_timezone_takes_superoffices_codes() {
    for_each_backend(|app| async move {
        let (code, zones) = app.get("/api/v1/timezone").fetch().await;
        assert_eq!(code, 200, "{zones}");
        let zones = zones.as_array().unwrap();
        assert!(
            zones
                .iter()
                .any(|z| z["id"] == 261 && z["timeZone"] == "NO"),
            "{zones:?}"
        );
        assert!(
            zones
                .iter()
                .any(|z| z["id"] == 460 && z["timeZone"] == "US-NY")
        );
        // Its path too matches in any letter case, as every SuperOffice
        // route does.
        let (code, same) = app.get("/API/V1/TimeZone").fetch().await;
        assert_eq!(code, 200, "{same}");
        assert_eq!(same.as_array(), Some(zones));

        let id = session(&app).await;
        let path = format!("/api/v1/ChatSession/{id}");
        let (_, utc) = app.get(&path).fetch().await;
        let requested: jiff::Timestamp = utc["WhenRequested"].as_str().unwrap().parse().unwrap();
        for (header, tz, offset) in [
            ("NO", "Europe/Oslo", false),
            ("261", "Europe/Oslo", false),
            ("US-NY, includeTZOffset", "America/New_York", true),
            ("us-ny,includetzoffset", "America/New_York", true),
            ("Europe/Oslo", "Europe/Oslo", true),
        ] {
            let (code, e) = app.get(&path).header("SO-TimeZone", header).fetch().await;
            assert_eq!(code, 200, "{header}: {e}");
            let shown = e["WhenRequested"].as_str().unwrap();
            let zoned = requested.to_zoned(jiff::tz::TimeZone::get(tz).unwrap());
            let local = zoned.strftime("%Y-%m-%dT%H:%M:%S").to_string();
            assert!(shown.starts_with(&local), "{header}: {shown} vs {local}");
            assert_eq!(
                shown.contains('+') || shown[10..].contains('-'),
                offset,
                "{header}: {shown}"
            );
            // a GET body sent back in the same zone is the same instant
            let (code, put) = app
                .put(&path)
                .header("SO-TimeZone", header)
                .json(&e)
                .fetch()
                .await;
            assert_eq!(code, 200, "{header}: {put}");
            assert_eq!(put["WhenRequested"], e["WhenRequested"], "{header}");
        }
        let (code, e) = app
            .get(&path)
            .header("SO-TimeZone", "Atlantis")
            .fetch()
            .await;
        assert_eq!(code, 400, "{e}");
        let (code, e) = app
            .get(&path)
            .header("SO-TimeZone", "NO, sideways")
            .fetch()
            .await;
        assert_eq!(code, 400, "{e}");
    })
    .await;
}

/// XML request bodies for POST, PUT and PATCH, and a form for PUT, as
/// SuperOffice's WebAPI takes them (issue #14).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xml_and_form_request_bodies() {
    for_each_backend(|app| async move {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<ChatSessionEntity xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <CustomerName>Ada &amp; Co</CustomerName>
  <CustomerEmail>ada@example.com</CustomerEmail>
  <CustomerConsented>true</CustomerConsented>
  <Rank>3</Rank>
  <Flags>CustomerIsTyping</Flags>
  <User xsi:nil="true" />
  <CustomInfo><tier>gold</tier><Item Key="two words">x</Item></CustomInfo>
</ChatSessionEntity>"#;
        for ct in ["application/xml", "text/xml; charset=utf-8"] {
            let (code, e) = app
                .post("/api/v1/ChatSession")
                .header("Content-Type", ct)
                .body(xml)
                .fetch()
                .await;
            assert_eq!(code, 201, "{ct}: {e}");
            assert_eq!(e["CustomerName"], "Ada & Co");
            assert_eq!(e["CustomerConsented"], true);
            assert_eq!(e["Rank"], 3);
            assert_eq!(e["Flags"], "CustomerIsTyping");
            assert_eq!(e["CustomInfo"], json!({"tier": "gold", "two words": "x"}));
        }
        let id = session(&app).await;
        let path = format!("/api/v1/ChatSession/{id}");
        // a GET in XML sent back as a PUT in XML
        let resp = app
            .get(&path)
            .header("Accept", "application/xml")
            .send()
            .await
            .unwrap();
        let got = resp.text().await.unwrap();
        let (code, e) = app
            .put(&path)
            .header("Content-Type", "application/xml")
            .body(got)
            .fetch()
            .await;
        assert_eq!(code, 200, "{e}");
        assert_eq!(e["CustomerName"], "Ada");
        assert_eq!(e["CustomInfo"], json!({"tier": "gold"}));
        // PATCH in XML is a merge patch
        let (code, e) = app
            .patch(&path)
            .header("Content-Type", "text/xml")
            .body("<ChatSessionEntity><CustomerPhone>+47 2</CustomerPhone></ChatSessionEntity>")
            .fetch()
            .await;
        assert_eq!(code, 200, "{e}");
        assert_eq!(e["CustomerPhone"], "+47 2");
        assert_eq!(e["CustomerName"], "Ada");
        // PUT as a form
        let (_, current) = app.get(&path).fetch().await;
        let form = format!(
            "SessionKey={}&CustomerName=Bea&CustomerConsented=true&Rank=4&Status=UserLast",
            current["SessionKey"].as_str().unwrap()
        );
        let (code, e) = app
            .put(&path)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form)
            .fetch()
            .await;
        assert_eq!(code, 200, "{e}");
        assert_eq!(
            (
                e["CustomerName"].as_str(),
                e["Rank"].as_i64(),
                e["Status"].as_str()
            ),
            (Some("Bea"), Some(4), Some("UserLast"))
        );
        // malformed XML is a 400 that writes nothing
        let (code, e) = app
            .put(&path)
            .header("Content-Type", "application/xml")
            .body("<ChatSessionEntity>")
            .fetch()
            .await;
        assert_eq!(code, 400, "{e}");
        // a form is for PUT only
        let (code, _) = app
            .post("/api/v1/ChatSession")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("CustomerName=X")
            .fetch()
            .await;
        assert_eq!(code, 415);
    })
    .await;
}
