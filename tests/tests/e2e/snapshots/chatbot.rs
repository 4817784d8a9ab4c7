//! The chatbot dialect: every chat-log route, and its error envelope
//! (`{"error": "…"}`).

use reqwest::Method;
use serde_json::json;
use switchboard_e2e::{TestApp, for_each_backend};

use super::snap_each;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatbot_chatlogs() {
    for_each_backend(|app: TestApp| async move {
        snap_each(vec![
            (
                "chatbot_chatlog_create",
                app.post("/chatbot/v1/chatlog")
                    .json(&json!({"sessionid": "sess-1", "name": "Bo", "country": "Norway"})),
            ),
            (
                "chatbot_chatlog_create_generated_sessionid",
                app.post("/chatbot/v1/chatlog")
                    .json(&json!({"name": "Anon", "email": "anon@example.com"})),
            ),
            (
                "chatbot_chatlog_email",
                app.put("/chatbot/v1/chatlog/email")
                    .json(&json!({"sessionid": "sess-1", "email": "bo@example.com"})),
            ),
            ("chatbot_chatlog_get", app.get("/chatbot/v1/chatlog/sess-1")),
            // the error envelope
            (
                "chatbot_error_400_field",
                app.put("/chatbot/v1/chatlog/email")
                    .json(&json!({"sessionid": "sess-1", "email": "not-an-email"})),
            ),
            (
                "chatbot_error_400_body",
                app.put("/chatbot/v1/chatlog/email")
                    .header("Content-Type", "application/json")
                    .body("{\"sessionid\": "),
            ),
            (
                "chatbot_error_401",
                app.anonymous(Method::GET, "/chatbot/v1/chatlog/sess-1"),
            ),
            ("chatbot_error_404", app.get("/chatbot/v1/chatlog/missing")),
            (
                "chatbot_error_409",
                app.post("/chatbot/v1/chatlog")
                    .json(&json!({"sessionid": "sess-1"})),
            ),
        ])
        .await;
    })
    .await;
}
