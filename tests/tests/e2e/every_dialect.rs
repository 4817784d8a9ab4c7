//! What every dialect shares: an unknown path under a dialect's prefix is
//! that dialect's not-found answer, a known path with the wrong method is
//! a 405 with `Allow` in the dialect's format, no answer has an empty
//! body, and no error speaks Rust (`expected i64`, `struct TagInput`,
//! `Query deserialize error`).

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_api::ApiConfig;
use switchboard_e2e::{FetchJson, TestApp, TestConfig, for_each_backend_with};

use crate::e2e::common::zoho_token;

/// Whether `body` is an error of `dialect`'s envelope with the status's meaning.
fn in_dialect(dialect: &str, status: u16, body: &Value) -> bool {
    match (dialect, status) {
        // The vendor's two entries: `invalid_request`, then the reason.
        ("helpcrunch", 404) => {
            body["errors"][0]["code"] == "invalid_request"
                && body["errors"][1]["code"] == "not_found"
        }
        ("helpcrunch", 405) => {
            body["errors"][0]["code"] == "invalid_request"
                && body["errors"][1]["code"] == "method_not_allowed"
        }
        ("zoho", 404) => body["error"]["code"] == 1006,
        ("zoho", 405) => body["error"]["code"] == 1004,
        ("superoffice", 404) => body["ErrorType"] == "SoNotFoundException",
        ("superoffice", 405) => body["ErrorType"] == "MethodNotAllowedException",
        ("chatbot", _) => body["error"].as_str().is_some_and(|m| !m.is_empty()),
        ("zapier" | "operations", 404) => body["code"] == "not_found",
        ("zapier" | "operations", 405) => body["code"] == "method_not_allowed",
        _ => false,
    }
}

fn request(app: &TestApp, method: Method, path: &str) -> reqwest::RequestBuilder {
    let path = path.replace("{portal}", &app.tenant.name);
    if path.starts_with("/api/v2/") {
        app.anonymous(method, &path)
            .header("Authorization", zoho_token(&app.key))
    } else {
        app.request(method, &path)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_answer_in_their_dialects_format() {
    let app = TestApp::sqlite().await;
    for (dialect, path) in [
        ("helpcrunch", "/v1/nothing"),
        ("helpcrunch", "/v1/customers/1/nothing"),
        ("zoho", "/api/v2/{portal}/nothing"),
        ("zoho", "/api/v2/{portal}/conversations/1/nothing"),
        ("superoffice", "/api/v1/Nothing"),
        ("superoffice", "/api/v1/ChatSession/1/nothing"),
        // Each dialect's routes are mounted in a scope of its prefix, which
        // ends at a segment's end.
        ("superoffice", "/api/v1/ChatSessions/1"),
        ("superoffice", "/API/V1/CHATSESSIONS"),
        ("superoffice", "/api/v1/ChatSession/"),
        ("helpcrunch", "/v1/customers/"),
        ("operations", "/v10/customers"),
        ("operations", "/chatbotv1/chatlog"),
        ("chatbot", "/chatbot/v1/nothing"),
        ("zapier", "/zapier/v1/nothing"),
        ("operations", "/nothing"),
    ] {
        for method in [Method::GET, Method::POST, Method::DELETE] {
            let body = request(&app, method.clone(), path)
                .fetch_expecting(404)
                .await;
            assert!(in_dialect(dialect, 404, &body), "{method} {path}: {body}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_path_with_the_wrong_method_is_405_with_allow() {
    let app = TestApp::sqlite().await;
    for (dialect, method, path, allow) in [
        (
            "helpcrunch",
            Method::POST,
            "/v1/customers/1",
            "GET, PUT, PATCH, DELETE",
        ),
        ("helpcrunch", Method::GET, "/v1/chats/status", "PUT"),
        ("helpcrunch", Method::DELETE, "/v1/customers", "GET, POST"),
        (
            "zoho",
            Method::DELETE,
            "/api/v2/{portal}/conversations/1",
            "GET, PUT",
        ),
        (
            "zoho",
            Method::GET,
            "/api/v2/{portal}/conversations/1/close",
            "PUT",
        ),
        (
            "superoffice",
            Method::POST,
            "/api/v1/ChatSession/1",
            "GET, PUT, PATCH, DELETE",
        ),
        (
            "superoffice",
            Method::POST,
            "/API/V1/CHATSESSION/1",
            "GET, PUT, PATCH, DELETE",
        ),
        ("superoffice", Method::DELETE, "/Api/V1/TimeZone", "GET"),
        ("chatbot", Method::GET, "/chatbot/v1/chatlog/email", "PUT"),
        ("zapier", Method::PUT, "/zapier/v1/hooks", "GET, POST"),
        ("operations", Method::POST, "/healthz", "GET"),
    ] {
        let response = request(&app, method.clone(), path).send().await.unwrap();
        let status = response.status();
        let allowed = response
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_string());
        let text = response.text().await.unwrap();
        assert_eq!(status, 405, "{method} {path}: {text}");
        assert_eq!(allowed.as_deref(), Some(allow), "{method} {path}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert!(in_dialect(dialect, 405, &body), "{method} {path}: {body}");
    }
}

/// Words of Rust or of serde that a client of a JSON API must never read.
const RUST_WORDS: &[&str] = &[
    "i64",
    "u64",
    "i32",
    "u32",
    "u16",
    "u8",
    "usize",
    "f64",
    "struct ",
    "enum ",
    "Option",
    "Vec<",
    "String",
    "deserialize",
    "sequence",
    "a map",
    "invalid type:",
    "TagInput",
    "Input",
    "newtype",
    "unit value",
    "variant",
];

fn speaks_rust(text: &str) -> Option<&'static str> {
    RUST_WORDS.iter().copied().find(|w| text.contains(w))
}

/// Wrong-typed values for every member of a valid body.
fn mutations(valid: &Value) -> Vec<Value> {
    let wrong = [
        json!("x"),
        json!(-1),
        json!(1.5),
        json!(true),
        json!([]),
        json!([1]),
        json!({}),
        json!({"a": [1]}),
        json!(null),
        json!(18_446_744_073_709_551_615_u64),
    ];
    let mut out = vec![json!([]), json!("x"), json!(5), json!({"bogus": 1})];
    match valid {
        Value::Object(map) => {
            for key in map.keys() {
                for w in &wrong {
                    let mut v = valid.clone();
                    v[key] = w.clone();
                    out.push(v);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                for m in mutations(item) {
                    out.push(json!([m]));
                }
            }
        }
        _ => {}
    }
    out
}

/// Every wrong-typed body reaches its handler (no rate limit: the
/// default of 120 a minute answered most of them 429, and which ones
/// depended on the machine's speed), and every error answers in the API's
/// own words. A success is the vendor's data, whose member names are the
/// vendor's (SalesIQ's `sequence_id`), so only errors are read for Rust's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_messages_speak_the_apis_language_not_rusts() {
    let config = TestConfig::with_api(ApiConfig {
        rate_limit_per_minute: 1_000_000,
        ..ApiConfig::default()
    });
    for_each_backend_with(&config, |app: TestApp| async move {
        let customer = app.seed_customer(|c| c.name = Some("Ada".into())).await;
        let chat = app.seed_conversation("s-1", |_| {}).await;
        let (c, k) = (customer.id.get(), chat.id.get());
        let bodies: Vec<(Method, String, Value)> = vec![
            (Method::POST, "/v1/customers".into(), json!({"name": "B", "email": "b@example.com", "userId": "u-b", "tags": [{"name": "vip", "color": "#fff"}], "customData": [{"property": "plan", "value": "x"}]})),
            (Method::PUT, format!("/v1/customers/{c}"), json!({"name": "A", "tags": [{"name": "vip"}], "customData": {"plan": "x"}})),
            (Method::PATCH, format!("/v1/customers/{c}"), json!({"name": "A", "tags": [{"name": "vip"}]})),
            (Method::PUT, format!("/v1/customers/{c}/tags"), json!({"tags": [{"name": "vip"}]})),
            (Method::DELETE, format!("/v1/customers/{c}/tags"), json!({"tags": [{"name": "vip"}]})),
            (Method::PUT, "/v1/customers/batch".into(), json!([{"id": c, "name": "A"}])),
            (Method::POST, "/v1/customers/search".into(), json!({"filter": [{"field": "customers.name", "operator": "=", "value": "A"}], "limit": 10, "offset": 0})),
            (Method::POST, "/v1/chats".into(), json!({"customer": c})),
            (Method::POST, "/v1/chats/search".into(), json!({"filter": [{"field": "chats.status", "operator": "=", "value": "new"}]})),
            (Method::PUT, "/v1/chats/status".into(), json!({"id": k, "status": "closed"})),
            (Method::PUT, "/v1/chats/assignee".into(), json!({"id": k, "assignee": 1})),
            (Method::PUT, "/v1/chats/department".into(), json!({"id": k, "department": 1})),
            (Method::POST, "/api/v2/{portal}/conversations".into(), json!({"visitor": {"user_id": "v", "name": "V", "email": "v@example.com"}, "question": "hi"})),
            (Method::PUT, format!("/api/v2/{{portal}}/conversations/{k}"), json!({"customer_info": {"plan": "gold"}})),
            (Method::POST, "/chatbot/v1/chatlog".into(), json!({"sessionid": "s-2", "name": "N", "email": "n@example.com", "country": "NO"})),
            (Method::PUT, "/chatbot/v1/chatlog/email".into(), json!({"sessionid": "s-1", "email": "n@example.com"})),
            (Method::POST, "/api/v1/ChatSession".into(), json!({"SessionKey": "s-3", "CustomerEmail": "x@example.com", "Status": "Started"})),
            (Method::PUT, format!("/api/v1/ChatSession/{k}"), json!({"SessionKey": "s-1", "CustomerEmail": "x@example.com", "Status": "Started"})),
            (Method::PATCH, format!("/api/v1/ChatSession/{k}"), json!({"CustomerEmail": "x@example.com", "Rating": 3})),
            (Method::PATCH, format!("/api/v1/ChatSession/{k}"), json!([{"op": "replace", "path": "/CustomerEmail", "value": "y@example.com"}])),
            (Method::POST, "/zapier/v1/hooks".into(), json!({"target_url": "http://127.0.0.1:9/x", "event": "email_updated"})),
        ];
        let (mut checked, mut errors) = (0, 0);
        for (method, path, valid) in &bodies {
            for body in mutations(valid) {
                let response = request(&app, method.clone(), path)
                    .header("Content-Type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                let text = response.text().await.unwrap();
                assert!(!text.is_empty(), "{method} {path} {body}: {status} with an empty body");
                assert!(status.as_u16() < 500, "{method} {path} {body}: {status} {text}");
                assert_ne!(status.as_u16(), 429, "{method} {path} {body}: rate limited");
                if let Some(word) = speaks_rust(&text).filter(|_| !status.is_success()) {
                    panic!("{}: {method} {path} {body}: {status} says {word:?}: {text}", app.backend);
                }
                checked += 1;
                errors += usize::from(status.is_client_error());
            }
        }
        // Query strings and path segments no handler can use.
        for path in [
            "/v1/customers?limit=x&offset=-1",
            "/v1/customers?limit=%FF%FE&offset=1e3",
            "/v1/customers/%FF",
            "/v1/chats?sort=%00&order=sideways",
            "/api/v1/ChatSession?$top=x&$skip=-1",
            "/api/v1/ChatSession/%FF?$select=%FF",
            "/api/v2/{portal}/conversations?limit=x&index=%FF",
            "/api/v2/{portal}/conversations/%FF",
            "/chatbot/v1/chatlog/%FF",
            "/zapier/v1/hooks/%FF/deliveries?limit=x&before=%FF&limit=1",
            "/zapier/v1/samples/%FF",
        ] {
            let response = request(&app, Method::GET, path).send().await.unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            assert!(!text.is_empty(), "GET {path}: {status} with an empty body");
            assert!(status.as_u16() < 500, "GET {path}: {status} {text}");
            if let Some(word) = speaks_rust(&text) {
                panic!("GET {path}: {status} says {word:?}: {text}");
            }
            assert!(!text.contains("deserialize error"), "GET {path}: {text}");
        }
        assert!(checked > 300 && errors > 300, "{checked} bodies, {errors} errors");
    })
    .await;
}
