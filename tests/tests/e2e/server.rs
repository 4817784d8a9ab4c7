//! The server as a whole: operations endpoints, middleware, docs, demo
//! data and graceful stop, over both backends.

use std::collections::BTreeSet;

use switchboard_api::ApiConfig;
use switchboard_domain::{ConversationStatus, Scope};
use switchboard_e2e::{Backend, FetchJson, TestApp, TestConfig, for_each_backend, json_of};
use switchboard_server::demo;

use crate::e2e::common::content_type;

#[tokio::test]
async fn healthz_and_readyz_answer_200() {
    for_each_backend(|app: TestApp| async move {
        for path in ["/healthz", "/readyz"] {
            let response = app
                .anonymous(reqwest::Method::GET, path)
                .send()
                .await
                .unwrap();
            let (status, body) = json_of(response).await;
            assert_eq!(status, 200, "{} {path}: {body}", app.backend);
            assert!(
                body.get("status").is_some(),
                "{} {path}: {body}",
                app.backend
            );
        }
    })
    .await;
}

#[tokio::test]
async fn bound_port_is_the_real_one() {
    let app = TestApp::sqlite().await;
    assert_ne!(app.addr.port(), 0);
    assert_eq!(
        app.base_url,
        format!("http://127.0.0.1:{}", app.addr.port())
    );
}

#[tokio::test]
async fn request_ids_are_generated_and_echoed() {
    let app = TestApp::sqlite().await;
    let response = app.get("/healthz").send().await.unwrap();
    let generated = response
        .headers()
        .get("x-request-id")
        .expect("an x-request-id header");
    assert!(!generated.is_empty());

    let response = app
        .get("/healthz")
        .header("X-Request-Id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers().get("x-request-id").unwrap(),
        "trace-abc-123"
    );
}

#[tokio::test]
async fn metrics_count_requests() {
    let app = TestApp::sqlite().await;
    assert_eq!(app.get("/healthz").send().await.unwrap().status(), 200);
    let response = app.get("/metrics").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = content_type(&response);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.unwrap();
    assert!(text.contains("switchboard_http_requests_total"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("switchboard_http_requests_total") && l.contains("/healthz")),
        "no counter for /healthz in:\n{text}"
    );
}

/// The metrics' `route` of each request: the documented path of the route
/// that served it (SuperOffice's too, which is mounted at a
/// case-insensitive pattern, whatever case the request used), and for a
/// request no route served the pattern its path matches, or `unmatched`.
#[tokio::test]
async fn metrics_name_each_route_by_its_documented_path() {
    let app = TestApp::sqlite().await;
    let customer = app.seed_customer(|c| c.name = Some("Ada".into())).await;
    let chat = app.seed_conversation("route-label", |_| {}).await;
    let id = chat.id.get();
    let calls = [
        (
            reqwest::Method::GET,
            format!("/v1/customers/{}", customer.id.get()),
            200,
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/ChatSession/{id}"),
            200,
        ),
        (
            reqwest::Method::GET,
            format!("/API/V1/chatsession/{id}"),
            200,
        ),
        (
            reqwest::Method::GET,
            "/api/v1/ChatSession/999999".to_string(),
            404,
        ),
        (reqwest::Method::DELETE, "/healthz".to_string(), 405),
        (reqwest::Method::GET, "/no/such/path".to_string(), 404),
    ];
    for (method, path, status) in &calls {
        let response = app.request(method.clone(), path).send().await.unwrap();
        assert_eq!(response.status().as_u16(), *status, "{method} {path}");
    }
    let text = app
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counter = |method: &str, route: &str, status: u16| {
        format!(
            "switchboard_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
        )
    };
    for (line, n) in [
        (counter("GET", "/v1/customers/{id}", 200), 1),
        (counter("GET", "/api/v1/ChatSession/{id}", 200), 2),
        (counter("GET", "/api/v1/ChatSession/{id}", 404), 1),
        (counter("DELETE", "/healthz", 405), 1),
        (counter("GET", "unmatched", 404), 1),
    ] {
        assert!(
            text.lines().any(|l| l == format!("{line} {n}")),
            "no `{line} {n}` in:\n{text}"
        );
    }
    // The pattern SuperOffice's routes are mounted at names none of them.
    assert!(!text.contains("_so_api"), "{text}");
}

#[tokio::test]
async fn openapi_document_is_openapi_3() {
    let app = TestApp::sqlite().await;
    let doc = app.get("/openapi.json").fetch_expecting(200).await;
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3."), "openapi = {:?}", doc["openapi"]);
    assert!(doc["paths"].get("/healthz").is_some(), "{doc}");
}

#[tokio::test]
async fn docs_page_is_html() {
    let app = TestApp::sqlite().await;
    let response = app.get("/docs/").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = content_type(&response);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let body = response.text().await.unwrap();
    assert!(body.to_ascii_lowercase().contains("<html"), "{body}");
}

#[tokio::test]
async fn demo_seed_is_idempotent() {
    for_each_backend(|app: TestApp| async move {
        let first = demo::seed(&app.store).await.unwrap();
        assert!(first.created > 0);
        let second = demo::seed(&app.store).await.unwrap();
        assert_eq!(
            second.created, 0,
            "{}: the second seed created records",
            app.backend
        );

        let tenant = first.tenant.id;
        assert_eq!(app.store.admin().agents(tenant).await.unwrap().len(), 3);
        assert_eq!(
            app.store.admin().departments(tenant).await.unwrap().len(),
            2
        );
        assert_eq!(app.store.admin().attributes(tenant).await.unwrap().len(), 5);
        assert_eq!(
            app.store
                .customers()
                .list(tenant, None, 100)
                .await
                .unwrap()
                .len(),
            5
        );
        let conversations = app
            .store
            .conversations()
            .list(tenant, &[], 0, 100)
            .await
            .unwrap();
        assert_eq!(conversations.len(), 6);
        let statuses: BTreeSet<ConversationStatus> =
            conversations.iter().map(|c| c.status).collect();
        for status in [
            ConversationStatus::New,
            ConversationStatus::Opened,
            ConversationStatus::Pending,
            ConversationStatus::OnHold,
            ConversationStatus::Closed,
        ] {
            assert!(
                statuses.contains(&status),
                "{}: no {status} conversation",
                app.backend
            );
        }
        assert_eq!(
            first.customers.iter().map(|c| c.id).collect::<Vec<_>>(),
            second.customers.iter().map(|c| c.id).collect::<Vec<_>>()
        );

        let key = demo::create_key(&app.store, &second).await.unwrap();
        let (api_key, key_tenant) = app.authenticate(&key.secret).await;
        assert_eq!(key_tenant.name, demo::TENANT);
        assert_eq!(api_key.scopes, Scope::ALL.into_iter().collect());

        let text = demo::instructions(&app.base_url, &key.secret, &second);
        let customer = second.customers[0].id.get();
        assert!(text.contains(&format!("API key: {}", key.secret)), "{text}");
        assert!(
            text.contains(&format!("{}/v1/customers/{customer}", app.base_url)),
            "{text}"
        );
        assert!(text.contains("/v1/chats/status"), "{text}");
    })
    .await;
}

#[tokio::test]
async fn harness_keys_and_tenants() {
    let app = TestApp::sqlite().await;
    let (key, tenant) = app.authenticate(&app.key).await;
    assert_eq!(tenant.id, app.tenant.id);
    assert_eq!(key.scopes.len(), Scope::ALL.len());

    let read_only = app.create_key(&[Scope::CustomersRead]).await;
    let (key, _) = app.authenticate(&read_only).await;
    assert_eq!(key.scopes, [Scope::CustomersRead].into_iter().collect());

    let (other, other_key) = app.other_tenant("globex").await;
    let (_, tenant) = app.authenticate(&other_key).await;
    assert_eq!(tenant.id, other.id);
    assert_ne!(other.id, app.tenant.id);

    let customer = app.seed_customer(|c| c.name = Some("Ada".into())).await;
    assert_eq!(
        app.stored_customer(customer.id).await.name.as_deref(),
        Some("Ada")
    );
    let chat = app
        .seed_conversation("s-1", |c| c.customer_id = Some(customer.id))
        .await;
    assert_eq!(chat.customer_id, Some(customer.id));
}

#[tokio::test]
async fn graceful_stop_closes_the_port() {
    for backend in Backend::ALL {
        let Some(app) = TestApp::spawn(backend).await else {
            continue;
        };
        let addr = app.addr;
        assert_eq!(
            app.get("/readyz").send().await.unwrap().status(),
            200,
            "{backend}"
        );
        app.stop().await;
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "{backend}: {addr} still accepts connections after stop"
        );
    }
}

#[tokio::test]
async fn custom_api_config_reaches_the_server() {
    let config = TestConfig::with_api(ApiConfig {
        rate_limit_per_minute: 2,
        rate_limit_burst: 2,
        ..ApiConfig::default()
    });
    let app = TestApp::spawn_with(Backend::Sqlite, config).await.unwrap();
    let customer = app.seed_customer(|c| c.name = Some("Ada".into())).await;
    let path = format!("/v1/customers/{}", customer.id.get());
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(app.get(&path).send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429]);
}
