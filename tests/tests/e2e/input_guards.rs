//! Requests that must be refused before anything is written: a body whose
//! `Content-Type` is not JSON (415), a malformed `$select` (400), `Basic`
//! credentials without a user name (401), repeated failed authentications
//! from one address (429), and webhook target URLs shown to keys without a
//! webhooks scope (403). Each answers in its dialect's format.

use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_api::ApiConfig;
use switchboard_domain::Scope;
use switchboard_e2e::{
    Backend, FetchJson, TestApp, TestConfig, for_each_backend, for_each_backend_with,
};

use crate::e2e::common::{fast_webhooks, retry_after, zoho, zoho_token};

/// Subscriptions to a loopback port nothing listens on (allowed here):
/// nothing leaves the machine.
const HOOK: &str = "http://127.0.0.1:9/secret-path";

fn loopback_hooks() -> TestConfig {
    TestConfig {
        webhook: fast_webhooks(),
        ..TestConfig::default()
    }
}

/// One body-carrying endpoint of each dialect, sent with `content_type`
/// (`None`: no header): the status and body.
async fn send(
    app: &TestApp,
    route: &Route,
    content_type: Option<&str>,
) -> (reqwest::StatusCode, Value) {
    let builder = match route.dialect {
        "zoho" => zoho(app, route.method.clone(), &route.path),
        _ => app.request(route.method.clone(), &route.path),
    };
    let builder = match content_type {
        Some(ct) => builder.header("Content-Type", ct),
        None => builder,
    };
    builder.body(route.body.to_string()).fetch().await
}

struct Route {
    dialect: &'static str,
    method: Method,
    path: String,
    body: Value,
    /// The status a JSON body gets.
    ok: u16,
}

fn routes(customer: i64, chat: i64) -> Vec<Route> {
    vec![
        Route {
            dialect: "helpcrunch",
            method: Method::PATCH,
            path: format!("/v1/customers/{customer}"),
            body: json!({"name": "Mallory"}),
            ok: 200,
        },
        Route {
            dialect: "helpcrunch",
            method: Method::PUT,
            path: "/v1/chats/status".into(),
            body: json!({"id": chat, "status": "closed"}),
            ok: 200,
        },
        Route {
            dialect: "zoho",
            method: Method::PUT,
            path: format!("/conversations/{chat}"),
            body: json!({"customer_info": {"plan": "gold"}}),
            ok: 200,
        },
        Route {
            dialect: "chatbot",
            method: Method::PUT,
            path: "/chatbot/v1/chatlog/email".into(),
            body: json!({"sessionid": "s-1", "email": "mallory@example.com"}),
            ok: 200,
        },
        Route {
            dialect: "superoffice",
            method: Method::PUT,
            path: format!("/api/v1/ChatSession/{chat}"),
            body: json!({"SessionKey": "s-1", "Status": "Ended", "CustomerEmail": "mallory@example.com"}),
            ok: 200,
        },
        Route {
            dialect: "superoffice",
            method: Method::PATCH,
            path: format!("/api/v1/ChatSession/{chat}"),
            body: json!({"CustomerEmail": "mallory@example.com"}),
            ok: 200,
        },
        Route {
            dialect: "zapier",
            method: Method::POST,
            path: "/zapier/v1/hooks".into(),
            body: json!({"target_url": HOOK, "event": "email_updated"}),
            ok: 201,
        },
    ]
}

/// Whether `body` is a 415 in the dialect's own envelope.
fn is_415_envelope(dialect: &str, body: &Value) -> bool {
    match dialect {
        "helpcrunch" => body["errors"][1]["code"] == "unsupported_media_type",
        "zoho" => body["error"]["code"] == 1004,
        "chatbot" => body["error"]
            .as_str()
            .is_some_and(|m| m.contains("Content-Type")),
        "superoffice" => body["ErrorType"] == "UnsupportedMediaTypeException",
        "zapier" => body["code"] == "unsupported_media_type",
        _ => false,
    }
}

/// Everything the routes above could change, as JSON.
async fn state_of(app: &TestApp) -> Value {
    let customers = app
        .store
        .customers()
        .list(app.tenant.id, None, 100)
        .await
        .unwrap();
    let chats = app
        .store
        .conversations()
        .list(app.tenant.id, &[], 0, 100)
        .await
        .unwrap();
    let hooks = app.store.webhooks().list(app.tenant.id).await.unwrap();
    json!({
        "customers": customers.iter().map(|c| (c.name.clone(), c.version)).collect::<Vec<_>>(),
        "chats": chats.iter().map(|c| (c.status.to_string(), c.visitor.email.clone(), c.custom_info.clone(), c.version)).collect::<Vec<_>>(),
        "hooks": hooks.len(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_json_is_415_and_writes_nothing() {
    for_each_backend_with(&loopback_hooks(), |app: TestApp| async move {
        let customer = app.seed_customer(|c| c.name = Some("Ada".into())).await;
        let chat = app.seed_conversation("s-1", |_| {}).await;
        let before = state_of(&app).await;
        for route in routes(customer.id.get(), chat.id.get()) {
            for ct in [
                "text/plain",
                "application/xml",
                "text/xml",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
            ] {
                // SuperOffice takes XML bodies, and a form for PUT, as its
                // WebAPI does: the JSON bytes sent here are then a 400
                let so_reads = route.dialect == "superoffice"
                    && (ct.ends_with("/xml")
                        || (ct == "application/x-www-form-urlencoded" && route.method == "PUT"));
                let (status, body) = send(&app, &route, Some(ct)).await;
                if so_reads {
                    assert_eq!(status, 400, "{} {} {ct}: {body}", route.method, route.path);
                    continue;
                }
                assert_eq!(
                    status, 415,
                    "{} {} {} {ct}: {body}",
                    app.backend, route.method, route.path
                );
                assert!(
                    is_415_envelope(route.dialect, &body),
                    "{} {} {ct}: {body}",
                    route.dialect,
                    route.path
                );
            }
        }
        assert_eq!(
            state_of(&app).await,
            before,
            "{}: a refused body was written",
            app.backend
        );

        // JSON with parameters, and no Content-Type at all (no vendor's
        // documentation asks for the header), are accepted.
        for route in routes(customer.id.get(), chat.id.get()) {
            let (status, body) = send(&app, &route, Some("application/json; charset=utf-8")).await;
            assert_eq!(
                status.as_u16(),
                route.ok,
                "{} {}: {body}",
                route.dialect,
                route.path
            );
        }
        let (status, body) = send(&app, &routes(customer.id.get(), chat.id.get())[0], None).await;
        assert_eq!(status, 200, "no Content-Type: {body}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_select_is_400_and_writes_nothing() {
    for_each_backend(|app: TestApp| async move {
        let chat = app.seed_conversation("s-1", |_| {}).await;
        let path = format!("/api/v1/ChatSession/{}", chat.id.get());
        for select in ["", "%20,%20", "Nmae", "Status,Bogus/Id", "CustomerEmail/"] {
            let body = app
                .get(&format!("{path}?$select={select}"))
                .fetch_expecting(400)
                .await;
            assert_eq!(body["ErrorType"], "SoValidationException", "{body}");
            assert_eq!(body["ErrorSource"], "$select", "{body}");
            app.patch(&format!("{path}?$select={select}"))
                .json(&json!({"CustomerEmail": "mallory@example.com"}))
                .fetch_expecting(400)
                .await;
        }
        let after = app.stored_conversation(chat.id).await;
        assert_eq!(
            after.version, chat.version,
            "{}: a PATCH was written",
            app.backend
        );
        // Known members, any case, nested below a member, still work.
        let body = app
            .get(&format!("{path}?$select=status,customInfo/plan,User/Name"))
            .fetch_expecting(200)
            .await;
        assert_eq!(body["Status"], "InQueue", "{body}");
        assert!(body["CustomerEmail"].is_null(), "{body}");
    })
    .await;
}

#[tokio::test]
async fn basic_credentials_need_a_user_name() {
    let app = TestApp::sqlite().await;
    let chat = app.seed_conversation("s-1", |_| {}).await;
    let path = format!("/api/v1/ChatSession/{}", chat.id.get());
    let basic = |user: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", app.key))
        )
    };
    let body = app
        .anonymous(Method::GET, &path)
        .header("Authorization", basic(""))
        .fetch_expecting(401)
        .await;
    assert_eq!(body["ErrorType"], "UnauthorizedAccessException", "{body}");
    assert!(
        body["Error"].as_str().unwrap().contains("user name"),
        "{body}"
    );
    app.anonymous(Method::GET, &path)
        .header("Authorization", basic(&app.tenant.name))
        .fetch_expecting(200)
        .await;
}

/// A server that allows 5 failed authentications at once per address.
async fn throttled_app(trusted_proxies: &str) -> TestApp {
    let config = TestConfig::with_api(ApiConfig {
        auth_failures_per_minute: 6,
        auth_failure_burst: 5,
        trusted_proxies: trusted_proxies
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect(),
        ..ApiConfig::default()
    });
    TestApp::spawn_with(Backend::Sqlite, config).await.unwrap()
}

#[tokio::test]
async fn failed_authentications_are_limited_per_address() {
    let app = throttled_app("").await;
    let chat = app.seed_conversation("s-1", |_| {}).await;
    let chat_path = format!("/v1/chats/{}", chat.id.get());
    // The right key, verified once (now in the key cache).
    assert_eq!(app.get(&chat_path).send().await.unwrap().status(), 200);
    let wrong = "sbk_0123456789ab_0000000000000000000000000000000000000000";
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let response = app
            .request_with_key(Method::GET, &chat_path, wrong)
            // Not believed: no trusted proxy is configured.
            .header("X-Forwarded-For", format!("198.51.100.{}", statuses.len()))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            let retry = retry_after(&response);
            assert!((1..=60).contains(&retry), "{retry}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["errors"][1]["code"], "too_many_requests", "{body}");
        }
    }
    assert_eq!(statuses[..5], [401; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // Every dialect answers in its own format, without a header too.
    let path = format!("/api/v1/ChatSession/{}", chat.id.get());
    let body = app.anonymous(Method::GET, &path).fetch_expecting(429).await;
    assert_eq!(body["ErrorType"], "TooManyRequestsException", "{body}");
    let body = app
        .anonymous(
            Method::GET,
            &format!("/api/v2/{}/conversations", app.tenant.name),
        )
        .header("Authorization", zoho_token(wrong))
        .fetch_expecting(429)
        .await;
    assert_eq!(body["error"]["code"], 1029, "{body}");
    // The key verified before still works from the throttled address.
    assert_eq!(app.get(&chat_path).send().await.unwrap().status(), 200);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("switchboard_auth_failures_throttled_total"),
        "{metrics}"
    );
}

#[tokio::test]
async fn forwarded_for_counts_only_behind_a_trusted_proxy() {
    let app = throttled_app("127.0.0.1/32").await;
    let wrong = "sbk_0123456789ab_0000000000000000000000000000000000000000";
    let attempt = |client: &'static str| {
        app.request_with_key(Method::GET, "/v1/chats/1", wrong)
            .header("X-Forwarded-For", client)
            .send()
    };
    for _ in 0..5 {
        assert_eq!(attempt("198.51.100.1").await.unwrap().status(), 401);
    }
    assert_eq!(attempt("198.51.100.1").await.unwrap().status(), 429);
    // Another client behind the same proxy has its own bucket.
    assert_eq!(attempt("198.51.100.2").await.unwrap().status(), 401);
}

#[tokio::test]
async fn webhook_targets_need_a_webhooks_scope() {
    for_each_backend_with(&loopback_hooks(), |app: TestApp| async move {
        let hook = app
            .post("/zapier/v1/hooks")
            .json(&json!({"target_url": HOOK, "event": "email_updated"}))
            .fetch_expecting(201)
            .await;
        let id = hook["id"].as_i64().unwrap();
        let readers = app
            .create_key(&[Scope::CustomersRead, Scope::ConversationsRead])
            .await;
        for path in [
            "/zapier/v1/hooks".to_string(),
            format!("/zapier/v1/hooks/{id}/deliveries"),
        ] {
            let body = app
                .request_with_key(Method::GET, &path, &readers)
                .fetch_expecting(403)
                .await;
            assert_eq!(body["code"], "forbidden", "{body}");
            assert!(!body.to_string().contains("secret-path"), "{body}");
        }
        for scope in [Scope::WebhooksCreate, Scope::WebhooksDelete] {
            let key = app.create_key(&[scope]).await;
            let body = app
                .request_with_key(Method::GET, "/zapier/v1/hooks", &key)
                .fetch_expecting(200)
                .await;
            assert_eq!(body[0]["target_url"], HOOK);
        }
        // The key `serve --demo` prints (every scope) still lists them.
        app.get("/zapier/v1/hooks").fetch_expecting(200).await;
    })
    .await;
}

/// A NUL (U+0000) can never be stored (PostgreSQL refuses it even as a
/// query parameter), so a lookup by a key holding one finds nothing and a
/// value holding one is refused: never a 500, on either backend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_in_a_key_or_a_tag_name_is_a_4xx() {
    for_each_backend(|app: TestApp| async move {
        let b = app.backend;
        app.seed_conversation("s-1", |_| {}).await;
        app.put("/chatbot/v1/chatlog/email")
            .json(&json!({"sessionid": "s-\u{0}1", "email": "a@example.com"}))
            .fetch_expecting(404)
            .await;

        let customer = app.seed_customer(|_| {}).await;
        app.put(&format!("/v1/customers/{}/tags", customer.id.get()))
            .json(
                &json!({"tags": [{"name": "v\u{0}ip"}, {"name": "new\u{0}", "color": "#ff0000"}]}),
            )
            .fetch_expecting(400)
            .await;
        let after = app.stored_customer(customer.id).await;
        assert!(after.tags.is_empty(), "{b}: {:?}", after.tags);
    })
    .await;
}

/// Custom info whose values hold more JSON objects and arrays together
/// than a conversation may (each value within its own size and depth) is
/// refused in each dialect's format before anything is written; at the
/// bound it goes in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_info_of_too_many_small_objects_is_400_and_writes_nothing() {
    for_each_backend(|app: TestApp| async move {
        let b = app.backend;
        let chat = app.seed_conversation("s-1", |_| {}).await;
        let id = chat.id.get();
        // `n` one-member objects in an array: `n + 1` containers, ~8 n bytes.
        let small = |n: usize| Value::Array((0..n).map(|i| json!({"k": i % 10})).collect());
        let over = json!({"a": small(128), "b": small(128)});
        let before = state_of(&app).await;

        let (status, err) = zoho(&app, Method::PUT, &format!("/conversations/{id}"))
            .json(&json!({"customer_info": over}))
            .fetch()
            .await;
        assert_eq!(status.as_u16(), 400, "{b}: {err}");
        assert_eq!(err["error"]["code"], 1015, "{b}: {err}");
        assert_eq!(err["error"]["json_key"], "customer_info", "{b}: {err}");
        assert!(
            err["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("256"),
            "{b}: {err}"
        );
        let so_path = format!("/api/v1/ChatSession/{id}");
        for (content_type, patch) in [
            (
                "application/json-patch+json",
                json!([{"op": "add", "path": "/CustomInfo/a", "value": small(128)},
                       {"op": "add", "path": "/CustomInfo/b", "value": small(128)}]),
            ),
            ("application/merge-patch+json", json!({"CustomInfo": over})),
        ] {
            let (status, err) = app
                .patch(&so_path)
                .header("Content-Type", content_type)
                .body(serde_json::to_vec(&patch).unwrap())
                .fetch()
                .await;
            assert_eq!(status.as_u16(), 400, "{b}: {content_type}: {err}");
            assert_eq!(err["ErrorType"], "SoValidationException", "{b}: {err}");
            assert_eq!(err["ErrorSource"], "/CustomInfo", "{b}: {err}");
        }
        assert_eq!(state_of(&app).await, before, "{b}: nothing was written");

        // 256 containers: accepted, and stored as sent.
        let at = json!({"a": small(127), "b": small(127)});
        zoho(&app, Method::PUT, &format!("/conversations/{id}"))
            .json(&json!({"customer_info": at}))
            .fetch_expecting(200)
            .await;
        let stored = app.stored_conversation(chat.id).await;
        assert_eq!(json!(stored.custom_info), at, "{b}");
    })
    .await;
}
