//! The contract: `/openapi.json` and the Swagger UI at `/docs/`.

use switchboard_e2e::TestApp;

/// The Swagger UI makes no request off the machine: its page and scripts
/// name no other host, and the online validator badge is off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swagger_ui_stays_on_the_machine() {
    let app = TestApp::sqlite().await;
    let page = app.get("/docs/").send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    let init = app
        .get("/docs/swagger-initializer.js")
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), 200);
    let init = init.text().await.unwrap();
    let compact: String = init.split_whitespace().collect();
    assert!(compact.contains("\"validatorUrl\":\"none\""), "{init}");
    assert!(compact.contains("\"tryItOutEnabled\":true"), "{init}");
    for text in [&page, &init] {
        for host in [
            "validator.swagger.io",
            "https://",
            "http://",
            "//cdn",
            "unpkg",
        ] {
            assert!(!text.contains(host), "{host} in:\n{text}");
        }
    }
}

/// What Schemathesis found the server accepting although the contract
/// forbids it: each is refused now, in the dialect's format, on both
/// backends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_the_contract_forbids_are_refused() {
    use reqwest::Method;
    use serde_json::json;
    use switchboard_e2e::{FetchJson, for_each_backend};

    use crate::e2e::common::zoho;

    for_each_backend(|app: TestApp| async move {
        let customer = app.seed_customer(|c| c.name = Some("Ada".into())).await;
        app.seed_conversation("s-1", |_| {}).await;
        // `$select` on the list names members, as on one entity.
        let (status, body) = app.get("/api/v1/ChatSession?$select=null").fetch().await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["ErrorSource"], "$select", "{body}");
        // SalesIQ's visitor is an object, not its members in an array.
        let (status, body) = zoho(&app, Method::POST, "/conversations")
            .json(&json!({"question": "hi", "visitor": [null, null]}))
            .fetch()
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["json_key"], "visitor", "{body}");
        // A blank tag name names no tag, when removing as when adding.
        let (status, body) = app
            .request(
                Method::DELETE,
                &format!("/v1/customers/{}/tags", customer.id),
            )
            .json(&json!({"tags": [{"name": "\u{c}"}]}))
            .fetch()
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["errors"][1]["code"], "tags.0.name", "{body}");
    })
    .await;
}

/// The document describes every dialect's error answers with the
/// dialect's own schema, and SalesIQ's `{url, object, data}` envelope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_describes_errors_and_envelopes() {
    use switchboard_e2e::FetchJson;
    let app = TestApp::sqlite().await;
    let (_, doc) = app.get("/openapi.json").fetch().await;
    let schema = |path: &str, method: &str, status: &str| {
        doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
            .clone()
    };
    for (path, method, name) in [
        ("/v1/customers/{id}", "get", "HelpCrunchErrors"),
        (
            "/api/v2/{screen_name}/conversations/{conversation_id}",
            "put",
            "SalesIqError",
        ),
        ("/api/v1/ChatSession/{id}", "patch", "SuperOfficeError"),
        ("/chatbot/v1/chatlog/email", "put", "ChatbotError"),
        ("/zapier/v1/hooks", "post", "ZapierError"),
    ] {
        for status in ["400", "401", "403", "404", "429", "503"] {
            assert_eq!(
                schema(path, method, status)["$ref"],
                format!("#/components/schemas/{name}"),
                "{method} {path} {status}"
            );
        }
    }
    let one = schema(
        "/api/v2/{screen_name}/conversations/{conversation_id}",
        "get",
        "200",
    );
    assert_eq!(
        one["required"],
        serde_json::json!(["url", "object", "data"]),
        "{one}"
    );
    let list = schema("/api/v2/{screen_name}/conversations", "get", "200");
    assert_eq!(
        list["properties"]["object"]["enum"],
        serde_json::json!(["list"]),
        "{list}"
    );
    assert_eq!(
        doc["components"]["schemas"]["CustomerInput"]["properties"]["id"]["readOnly"],
        true
    );
}
