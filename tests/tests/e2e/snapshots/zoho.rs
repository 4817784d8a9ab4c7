//! The Zoho SalesIQ dialect: every conversation route, and its error
//! envelope (`{"error": {"code", "message", "json_key"?}}`).

use reqwest::Method;
use serde_json::json;
use switchboard_e2e::{TestApp, for_each_backend};

use super::{snap, snap_each};
use crate::e2e::common::{zoho, zoho_token};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoho_conversations() {
    for_each_backend(|app: TestApp| async move {
        let created = snap(
            "zoho_conversation_create",
            zoho(&app, Method::POST, "/conversations").json(&json!({
                "visitor": {"name": "Vera", "email": "vera@example.com", "phone": "+1 555",
                            "country": "Norway", "ip": "192.0.2.7"},
                "question": "Pricing?",
                "customer_info": {"Plan": "Gold", "Seats": 4}
            })),
        )
        .await;
        assert_eq!(created.status, 200, "{}", created.text);
        let id = created.json()["data"]["id"].as_str().unwrap().to_string();
        let path = format!("/conversations/{id}");
        let second = super::send(
            zoho(&app, Method::POST, "/conversations")
                .json(&json!({"visitor": {"name": "Walt"}, "question": "Billing?"})),
        )
        .await;
        assert_eq!(second.status, 200, "{}", second.text);

        snap_each(vec![
            ("zoho_conversation_get", zoho(&app, Method::GET, &path)),
            (
                "zoho_conversation_list",
                zoho(&app, Method::GET, "/conversations?limit=10&page=1"),
            ),
            (
                "zoho_conversation_update",
                zoho(&app, Method::PUT, &path)
                    .json(&json!({"customer_info": {"Plan": null, "Region": "EMEA"}})),
            ),
            (
                "zoho_conversation_close",
                zoho(&app, Method::PUT, &format!("{path}/close")),
            ),
            // the error envelope
            (
                "zoho_error_400_json_key",
                zoho(&app, Method::PUT, &path).json(&json!({"customer_info": {}})),
            ),
            (
                "zoho_error_400_query",
                zoho(&app, Method::GET, "/conversations?limit=100"),
            ),
            (
                "zoho_error_400_invalid_portal",
                app.anonymous(Method::GET, "/api/v2/nope/conversations")
                    .header("Authorization", zoho_token(&app.key)),
            ),
            (
                "zoho_error_401",
                app.anonymous(
                    Method::GET,
                    &format!("/api/v2/{}/conversations", app.tenant.name),
                ),
            ),
            (
                "zoho_error_404",
                zoho(&app, Method::GET, "/conversations/999999"),
            ),
        ])
        .await;
    })
    .await;
}
