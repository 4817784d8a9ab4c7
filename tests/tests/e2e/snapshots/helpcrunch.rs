//! The HelpCrunch dialect: every customer and chat route, and its error
//! envelope (`{"errors": [{"code", "message"}, …]}`).

use reqwest::Method;
use serde_json::json;
use switchboard_e2e::{TestApp, for_each_backend};

use super::{snap, snap_each};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helpcrunch_customers() {
    for_each_backend(|app: TestApp| async move {
        let created = snap(
            "helpcrunch_customer_create",
            app.post("/v1/customers").json(&json!({
                "userId": "u-1", "name": "Ada Lovelace", "email": "ada@example.com",
                "phone": "+47 123", "company": "Engines", "lastSeen": "1570000000",
                "unsubscribed": false, "blocked": false, "source": "web",
                "referer": "https://example.com/", "lastPage": "https://example.com/pricing",
                "locale": "en", "notes": "first call", "integrationId": "crm-1",
                "tags": [{"name": "vip"}, {"name": "beta", "color": "rebeccapurple"}],
                "location": {"regionCode": "Oslo", "countryCode": "NO", "city": "Oslo"},
                "device": {"ip": "192.0.2.1", "timezone": "Europe/Oslo", "platform": "desktop",
                           "userAgent": "Mozilla/5.0"}
            })),
        )
        .await;
        assert_eq!(created.status, 201, "{}", created.text);
        let id = created.json()["id"].as_i64().unwrap();
        let path = format!("/v1/customers/{id}");

        snap_each(vec![
            ("helpcrunch_customer_get", app.get(&path)),
            ("helpcrunch_customer_patch", app.patch(&path)
                .json(&json!({"company": "Analytical Engines", "phone": null}))),
            ("helpcrunch_customer_put", app.put(&path).json(
                &json!({"userId": "u-1", "name": "Ada", "email": "ada@example.com", "tags": [{"name": "vip"}]}),
            )),
            ("helpcrunch_customer_tags_add", app.put(&format!("{path}/tags"))
                .json(&json!({"tags": [{"name": "new-tag"}, {"name": "red", "color": "#ff0000"}]}))),
            ("helpcrunch_customer_tags_remove", app.delete(&format!("{path}/tags"))
                .json(&json!({"tags": [{"name": "new-tag"}]}))),
        ])
        .await;

        let other = create_customer(&app, json!({"name": "Grace"})).await;
        snap_each(vec![
            ("helpcrunch_customers_batch", app.put("/v1/customers/batch").json(&json!([
                {"customer": id, "notes": "called back"},
                {"customer": other, "unsubscribed": true}
            ]))),
            // the error envelope
            ("helpcrunch_error_400_fields", app.patch(&path)
                .json(&json!({"email": "not-an-email", "locale": "xx"}))),
            // Every item is checked, but an item's values (an email) are checked
            // only once every item has the right shape.
            ("helpcrunch_error_400_batch", app.put("/v1/customers/batch").json(&json!([
                {"customer": id, "email": "not-an-email"},
                {"customer": other, "nickname": "x"},
                {"customer": 0, "notes": "x"}
            ]))),
            ("helpcrunch_error_400_body", app.patch(&path)
                .header("Content-Type", "application/json")
                .body("{\"name\": ")),
            ("helpcrunch_error_401", app.anonymous(Method::GET, &path)),
            ("helpcrunch_error_401_invalid_key", app.request_with_key(Method::GET, &path, "sbk_000000000000_deadbeef")),
            ("helpcrunch_error_409", app.post("/v1/customers").json(&json!({"userId": "u-1"}))),
            ("helpcrunch_customers_list", app.get("/v1/customers?sort=customers.lastSeen&order=desc&limit=1")),
            ("helpcrunch_customers_search", app.post("/v1/customers/search").json(&json!({
                "filter": [{"field": "customers.email", "operator": "~", "value": "example"}],
                "sort": "customers.firstSeen", "order": "desc", "offset": 0, "limit": 1
            }))),
            ("helpcrunch_error_400_search", app.post("/v1/customers/search").json(&json!({
                "filter": [{"operator": "=", "value": "x"}]
            }))),
            ("helpcrunch_customer_delete", app.delete(&path)),
            ("helpcrunch_error_404", app.get(&path)),
        ])
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helpcrunch_chats() {
    for_each_backend(|app: TestApp| async move {
        let customer = create_customer(
            &app,
            json!({"name": "Vis", "email": "vis@example.com", "company": "Visitors Inc"}),
        )
        .await;
        let created = snap(
            "helpcrunch_chat_create",
            app.post("/v1/chats")
                .json(&json!({"customer": customer, "message": "Hello", "status": "opened"})),
        )
        .await;
        assert_eq!(created.status, 201, "{}", created.text);
        let id = created.json()["id"].as_i64().unwrap();

        snap_each(vec![
            ("helpcrunch_chat_get", app.get(&format!("/v1/chats/{id}"))),
            (
                "helpcrunch_chat_status",
                app.put("/v1/chats/status")
                    .json(&json!({"id": id, "status": "closed"})),
            ),
            (
                "helpcrunch_chat_assignee",
                app.put("/v1/chats/assignee")
                    .json(&json!({"id": id, "assignee": null})),
            ),
            (
                "helpcrunch_chat_department",
                app.put("/v1/chats/department")
                    .json(&json!({"id": id, "department": null})),
            ),
            (
                "helpcrunch_chats_list",
                app.get("/v1/chats?offset=0&limit=1"),
            ),
            (
                "helpcrunch_chats_search",
                app.post("/v1/chats/search").json(&json!({
                    "filter": [{"field": "chats.status", "operator": "=", "value": "closed"}],
                    "sort": "chats.closedAt", "order": "desc"
                })),
            ),
            (
                "helpcrunch_chat_error_400",
                app.put("/v1/chats/status")
                    .json(&json!({"id": id, "status": "archived"})),
            ),
            (
                "helpcrunch_chat_error_404",
                app.put("/v1/chats/status")
                    .json(&json!({"id": 424_242, "status": "closed"})),
            ),
        ])
        .await;
    })
    .await;
}

/// Creates a customer (not snapshotted); returns its id.
async fn create_customer(app: &TestApp, body: serde_json::Value) -> i64 {
    let created = super::send(app.post("/v1/customers").json(&body)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.json()["id"].as_i64().unwrap()
}
