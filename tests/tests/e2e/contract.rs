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
        let body = app
            .get("/api/v1/ChatSession?$select=null")
            .fetch_expecting(400)
            .await;
        assert_eq!(body["ErrorSource"], "$select", "{body}");
        // SalesIQ's visitor is an object, not its members in an array.
        let body = zoho(&app, Method::POST, "/conversations")
            .json(&json!({"question": "hi", "visitor": [null, null]}))
            .fetch_expecting(400)
            .await;
        assert_eq!(body["error"]["json_key"], "visitor", "{body}");
        // A blank tag name names no tag, when removing as when adding.
        let body = app
            .request(
                Method::DELETE,
                &format!("/v1/customers/{}/tags", customer.id),
            )
            .json(&json!({"tags": [{"name": "\u{c}"}]}))
            .fetch_expecting(400)
            .await;
        assert_eq!(body["errors"][1]["code"], "tags.0.name", "{body}");
        // The rest of a tag's rules hold when removing too: the document
        // has one schema for both (`TagInput`).
        let tags = format!("/v1/customers/{}/tags", customer.id);
        let long_name = "n".repeat(101);
        let padded_color = format!("red{}", " ".repeat(62));
        for (tag, code) in [
            (json!({"name": long_name}), "tags.0.name"),
            (json!({"name": "vip", "color": "bluish"}), "tags.0.color"),
            (
                json!({"name": "vip", "color": padded_color}),
                "tags.0.color",
            ),
        ] {
            let body = app
                .request(Method::DELETE, &tags)
                .json(&json!({"tags": [tag]}))
                .fetch_expecting(400)
                .await;
            assert_eq!(body["errors"][1]["code"], code, "{tag}: {body}");
        }
        // A color is at most 64 characters, spaces around it included.
        let body = app
            .put(&tags)
            .json(&json!({"tags": [{"name": "vip", "color": padded_color}]}))
            .fetch_expecting(400)
            .await;
        assert_eq!(body["errors"][1]["code"], "tags.0.color", "{body}");
    })
    .await;
}

/// The request schemas carry the domain's rules, built from the domain's
/// own lists (so a schema-valid request is accepted, and a request the
/// rules refuse is schema-invalid): formats, patterns, lengths, counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_schemas_carry_the_rules() {
    use switchboard_e2e::FetchJson;
    let app = TestApp::sqlite().await;
    let (_, doc) = app.get("/openapi.json").fetch().await;
    let schemas = &doc["components"]["schemas"];
    let customer = &schemas["CustomerInput"]["properties"];
    assert_eq!(customer["email"]["format"], "email");
    assert_eq!(customer["email"]["maxLength"], 254);
    assert_eq!(customer["userId"]["pattern"], "\\S");
    assert_eq!(customer["name"]["maxLength"], 255);
    assert_eq!(customer["notes"]["maxLength"], 10_000);
    assert_eq!(customer["tags"]["maxItems"], 100);
    let locale = customer["locale"]["pattern"].as_str().unwrap();
    assert!(
        locale.contains("[eE][nN]") && !locale.contains("[zZ][zZ]"),
        "{locale}"
    );
    assert!(
        customer["referer"]["pattern"]
            .as_str()
            .unwrap()
            .starts_with("^[hH][tT][tT][pP]")
    );
    assert_eq!(
        customer["firstSeen"]["oneOf"].as_array().map(Vec::len),
        Some(3),
        "a string of seconds, an integer or null"
    );
    let tag = &schemas["TagInput"]["properties"];
    assert_eq!(tag["name"]["maxLength"], 100);
    assert_eq!(tag["color"]["maxLength"], 64);
    assert!(
        tag["color"]["pattern"]
            .as_str()
            .unwrap()
            .contains("[rR][eE][bB][eE][cC][cC][aA][pP][uU][rR][pP][lL][eE]")
    );
    // A batch is 1 to 10 items, each one object: the customer's members
    // and its id (an `allOf` of a closed object and another could never be
    // satisfied).
    let batch = &doc["paths"]["/v1/customers/batch"]["put"]["requestBody"]["content"]["application/json"]
        ["schema"];
    assert_eq!(
        (batch["minItems"].clone(), batch["maxItems"].clone()),
        (1.into(), 10.into())
    );
    let item = &schemas["BatchItem"];
    assert!(item.get("allOf").is_none(), "{item}");
    assert_eq!(item["properties"]["customer"]["minimum"], 1);
    assert_eq!(item["properties"]["email"]["format"], "email");
    assert_eq!(item["properties"]["id"]["readOnly"], true);
    assert!(
        item["required"]
            .as_array()
            .unwrap()
            .contains(&"customer".into())
    );
    // SalesIQ's conversation id is a positive integer (as a string).
    let op = &doc["paths"]["/api/v2/{screen_name}/conversations/{conversation_id}"]["get"];
    let id = op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "conversation_id")
        .unwrap();
    assert_eq!(id["schema"]["pattern"], "^0{0,18}[1-9][0-9]{0,17}$");
    // An XML ChatSession body is a <ChatSessionEntity>.
    for method in ["put", "patch"] {
        let xml = &doc["paths"]["/api/v1/ChatSession/{id}"][method]["requestBody"]["content"]["application/xml"]
            ["schema"];
        assert_eq!(xml["xml"]["name"], "ChatSessionEntity", "{method}");
    }
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
        ("/admin/v1/agents/{id}", "patch", "AdminError"),
        ("/admin/v1/keys", "post", "AdminError"),
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
