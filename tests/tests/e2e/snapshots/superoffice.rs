//! The SuperOffice dialect: every ChatSession route in JSON, one entity in
//! XML, the entity-tag headers, and its error envelope
//! (`{"Error", "ErrorType", "ErrorSource"}`).

use reqwest::Method;
use serde_json::json;
use switchboard_e2e::{TestApp, for_each_backend};

use super::{snap, snap_each, snap_headers};

const JSON_PATCH: &str = "application/json-patch+json";
const MERGE_PATCH: &str = "application/merge-patch+json";

/// The headers an entity response carries.
const ENTITY_HEADERS: &[&str] = &["etag", "last-modified", "vary"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn superoffice_chat_sessions() {
    for_each_backend(|app: TestApp| async move {
        let created = snap_headers(
            "superoffice_chatsession_create",
            ENTITY_HEADERS,
            app.post("/api/v1/ChatSession").json(&json!({
                "CustomerName": "Ada", "CustomerEmail": "ada@example.com", "CustomerPhone": "+47 1",
                "FirstMessage": "Hi", "CustomInfo": {"tier": "gold"}, "Rank": 2
            })),
        )
        .await;
        assert_eq!(created.status, 201, "{}", created.text);
        let id = created.json()["ChatSessionId"].as_i64().unwrap();
        let path = format!("/api/v1/ChatSession/{id}");

        snap_headers(
            "superoffice_chatsession_get",
            ENTITY_HEADERS,
            app.get(&path),
        )
        .await;
        snap_headers(
            "superoffice_chatsession_get_xml",
            ENTITY_HEADERS,
            app.get(&path).header("Accept", "application/xml"),
        )
        .await;
        snap_each(vec![
            ("superoffice_chatsession_get_so_timezone", app.get(&path).header("SO-TimeZone", "US-NY, includeTZOffset")),
            ("superoffice_timezone_list", app.get("/api/v1/timezone")),
            ("superoffice_chatsession_get_select", app.get(&format!("{path}?$select=CustomerName,_Links/Self,TableRight/Mask"))),
        ])
        .await;
        snap_headers(
            "superoffice_chatsession_get_304",
            &["etag"],
            app.get(&path).header("If-None-Match", "W/\"1\""),
        )
        .await;
        snap_headers(
            "superoffice_chatsession_patch_merge",
            ENTITY_HEADERS,
            app.patch(&path)
                .header("Content-Type", MERGE_PATCH)
                .body(r#"{"CustomerPhone": null, "CustomInfo": {"seats": 3}, "WhenIdle": "2024-06-01T12:00:00+02:00"}"#),
        )
        .await;
        snap(
            "superoffice_chatsession_patch_json_patch",
            app.patch(&path).header("Content-Type", JSON_PATCH).body(
                r#"[{"op": "test", "path": "/CustomerName", "value": "Ada"},
                    {"op": "replace", "path": "/Status", "value": "Started"},
                    {"op": "remove", "path": "/FirstMessage"}]"#,
            ),
        )
        .await;
        // a GET → edit → PUT round trip
        let mut entity = super::send(app.get(&path)).await.json();
        entity["CustomerName"] = json!("Ada Lovelace");
        snap_headers(
            "superoffice_chatsession_put",
            ENTITY_HEADERS,
            app.put(&path).json(&entity),
        )
        .await;

        // the error envelope
        snap_each(vec![
            ("superoffice_error_400_field", app.patch(&path)
                .header("Content-Type", MERGE_PATCH)
                .body(r#"{"CustomerEmail": "not-an-email"}"#)),
            ("superoffice_error_400_unknown_member", app.patch(&path)
                .header("Content-Type", JSON_PATCH)
                .body(r#"[{"op": "add", "path": "/Bogus", "value": 1}]"#)),
            ("superoffice_error_401", app.anonymous(Method::GET, &path)),
            ("superoffice_error_404", app.get("/api/v1/ChatSession/999999")),
            ("superoffice_error_406", app.get(&path).header("Accept", "text/html")),
            ("superoffice_error_409", app.patch(&path).header("Content-Type", JSON_PATCH).body(
                r#"[{"op": "test", "path": "/CustomerName", "value": "Bob"}]"#,
            )),
            ("superoffice_error_412", app.patch(&path)
                .header("Content-Type", MERGE_PATCH)
                .header("If-Match", "W/\"1\"")
                .body(r#"{"Rank": 9}"#)),
            ("superoffice_error_415", app.patch(&path)
                .header("Content-Type", "text/plain")
                .body(r#"{"Rank": 9}"#)),
            ("superoffice_chatsession_list", app.get("/api/v1/ChatSession?$filter=startswith(CustomerName,'Ad')&$orderBy=WhenRequested desc&$top=1&$select=CustomerName,Status")),
            ("superoffice_chatsession_list_xml", app.get("/api/v1/ChatSession?$top=1&$select=CustomerName&$format=xml")),
            ("superoffice_error_400_filter", app.get("/api/v1/ChatSession?$filter=Rating eq 5")),
            ("superoffice_chatsession_delete", app.delete(&path)),
        ])
        .await;
    })
    .await;
}
