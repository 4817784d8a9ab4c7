//! The chatbot dialect: every chat-log route, and its error envelope
//! (`{"error": "…"}`).

use reqwest::Method;
use serde_json::json;
use switchboard_e2e::{TestApp, for_each_backend};

use super::snap;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatbot_chatlogs() {
    for_each_backend(|app: TestApp| async move {
        snap(
            "chatbot_chatlog_create",
            app.post("/chatbot/v1/chatlog")
                .json(&json!({"sessionid": "sess-1", "name": "Bo", "country": "Norway"})),
        )
        .await;
        snap(
            "chatbot_chatlog_create_generated_sessionid",
            app.post("/chatbot/v1/chatlog")
                .json(&json!({"name": "Anon", "email": "anon@example.com"})),
        )
        .await;
        snap(
            "chatbot_chatlog_email",
            app.put("/chatbot/v1/chatlog/email")
                .json(&json!({"sessionid": "sess-1", "email": "bo@example.com"})),
        )
        .await;
        snap("chatbot_chatlog_get", app.get("/chatbot/v1/chatlog/sess-1")).await;

        // the error envelope
        snap(
            "chatbot_error_400_field",
            app.put("/chatbot/v1/chatlog/email")
                .json(&json!({"sessionid": "sess-1", "email": "not-an-email"})),
        )
        .await;
        snap(
            "chatbot_error_400_body",
            app.put("/chatbot/v1/chatlog/email")
                .header("Content-Type", "application/json")
                .body("{\"sessionid\": "),
        )
        .await;
        snap(
            "chatbot_error_401",
            app.anonymous(Method::GET, "/chatbot/v1/chatlog/sess-1"),
        )
        .await;
        snap("chatbot_error_404", app.get("/chatbot/v1/chatlog/missing")).await;
        snap(
            "chatbot_error_409",
            app.post("/chatbot/v1/chatlog")
                .json(&json!({"sessionid": "sess-1"})),
        )
        .await;
    })
    .await;
}
