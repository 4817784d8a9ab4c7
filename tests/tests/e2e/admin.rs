//! The admin API (`/admin/v1/…`, docs/admin-api.md) against the real
//! server on each backend: every endpoint's wire form (snapshots
//! `admin_*`), the scopes it needs, tenant isolation, and bad input
//! answered 4xx in the one error envelope.

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::Scope;
use switchboard_e2e::{TestApp, for_each_backend};

use crate::e2e::snapshots::{send, snap, snap_each};

/// A bad request: method, path, body (`null`: none), and the answer's
/// status, code and field.
type Case = (
    Method,
    String,
    Value,
    u16,
    &'static str,
    Option<&'static str>,
);

/// Sends a create request and returns the new record's id.
async fn created_id(request: reqwest::RequestBuilder) -> i64 {
    send(request).await.json()["id"].as_i64().unwrap()
}

/// The error code and field of an admin error body.
fn error_of(body: &Value) -> (String, Option<String>) {
    let e = &body["error"];
    assert!(e["message"].is_string(), "{body}");
    (
        e["code"].as_str().unwrap_or_default().to_string(),
        e["field"].as_str().map(str::to_string),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_endpoint_on_the_wire() {
    for_each_backend(|app: TestApp| async move {
        // agents
        let ada = snap(
            "admin_agent_create",
            app.post("/admin/v1/agents").json(
                &json!({"name": "Ada Lovelace", "email": "Ada@Example.com", "role": "admin"}),
            ),
        )
        .await;
        assert_eq!(ada.status, 201, "{}", ada.text);
        assert_eq!(ada.json()["email"], "ada@example.com");
        let ada = ada.json()["id"].as_i64().unwrap();
        let bob = send(
            app.post("/admin/v1/agents")
                .json(&json!({"name": "Bob", "email": "bob@example.com"})),
        )
        .await;
        assert_eq!(bob.status, 201, "{}", bob.text);
        assert_eq!(bob.json()["role"], "agent");
        let bob = bob.json()["id"].as_i64().unwrap();
        snap("admin_agents_list", app.get("/admin/v1/agents")).await;
        let page = snap("admin_agents_page", app.get("/admin/v1/agents?limit=1")).await;
        assert_eq!(page.json()["next_after"], ada, "{}", page.text);
        let rest = send(app.get(&format!("/admin/v1/agents?limit=1&after={ada}"))).await;
        assert_eq!(rest.json()["data"][0]["id"], bob, "{}", rest.text);
        assert_eq!(rest.json()["next_after"], Value::Null, "{}", rest.text);
        snap("admin_agent_get", app.get(&format!("/admin/v1/agents/{ada}"))).await;
        let patched = snap(
            "admin_agent_update",
            app.patch(&format!("/admin/v1/agents/{ada}"))
                .json(&json!({"name": "Ada King", "role": "agent"})),
        )
        .await;
        assert_eq!(patched.status, 200, "{}", patched.text);
        assert_eq!(patched.json()["email"], "ada@example.com");

        // departments
        let sales = snap(
            "admin_department_create",
            app.post("/admin/v1/departments")
                .json(&json!({"name": "Sales"})),
        )
        .await;
        assert_eq!(sales.status, 201, "{}", sales.text);
        let sales = sales.json()["id"].as_i64().unwrap();
        snap("admin_departments_list", app.get("/admin/v1/departments")).await;

        // custom attributes
        let plan = snap(
            "admin_attribute_create",
            app.post("/admin/v1/attributes")
                .json(&json!({"name": "plan", "type": "string", "label": "Plan"})),
        )
        .await;
        assert_eq!(plan.status, 201, "{}", plan.text);
        let seats = send(
            app.post("/admin/v1/attributes")
                .json(&json!({"name": "seats", "type": "number"})),
        )
        .await;
        assert_eq!(seats.json()["label"], "seats", "{}", seats.text);
        snap("admin_attributes_list", app.get("/admin/v1/attributes")).await;

        // API keys
        let key = snap(
            "admin_key_create",
            app.post("/admin/v1/keys")
                .json(&json!({"name": "crm", "scopes": ["customers.READ", "admin.read"]})),
        )
        .await;
        assert_eq!(key.status, 201, "{}", key.text);
        let secret = key.json()["secret"].as_str().unwrap().to_string();
        let key_id = key.json()["id"].as_i64().unwrap();
        let listed = snap("admin_keys_list", app.get("/admin/v1/keys")).await;
        assert!(!listed.text.contains(&secret), "no secret is listed");
        assert!(!listed.text.contains("secret"), "{}", listed.text);
        // The new key works, for what its scopes allow.
        let with_new = |method, path: &str| app.request_with_key(method, path, &secret);
        assert_eq!(send(with_new(Method::GET, "/admin/v1/agents")).await.status, 200);
        assert_eq!(send(with_new(Method::GET, "/v1/customers")).await.status, 200);
        let refused = send(
            with_new(Method::POST, "/admin/v1/departments").json(&json!({"name": "X"})),
        )
        .await;
        assert_eq!(refused.status, 403, "{}", refused.text);
        // A key without scopes gets the data scopes only.
        let default = send(app.post("/admin/v1/keys").json(&json!({"name": "plain"}))).await;
        assert_eq!(default.status, 201, "{}", default.text);
        let want: Vec<&str> = Scope::DEFAULT.iter().map(|s| s.as_str()).collect();
        assert_eq!(default.json()["scopes"], json!(want), "{}", default.text);

        // tags, history: a customer made and changed through HelpCrunch
        let customer = send(app.post("/v1/customers").json(
            &json!({"name": "Grace", "email": "grace@example.com", "tags": [{"name": "vip", "color": "#ff0000"}],
                    "customData": [{"property": "plan", "value": "pro"}]}),
        ))
        .await;
        assert_eq!(customer.status, 201, "{}", customer.text);
        let customer = customer.json()["id"].as_i64().unwrap();
        let patched = send(
            app.patch(&format!("/v1/customers/{customer}"))
                .json(&json!({"company": "Navy", "tags": [{"name": "vip"}, {"name": "beta"}]})),
        )
        .await;
        assert_eq!(patched.status, 200, "{}", patched.text);
        snap("admin_tags_list", app.get("/admin/v1/tags")).await;
        let first = snap(
            "admin_customer_history",
            app.get(&format!("/admin/v1/customers/{customer}/history?limit=1")),
        )
        .await;
        assert_eq!(first.json()["data"][0]["api"], "helpcrunch", "{}", first.text);
        let before = first.json()["next_before"].as_i64().unwrap();
        let second = send(app.get(&format!(
            "/admin/v1/customers/{customer}/history?limit=1&before={before}"
        )))
        .await;
        assert_eq!(second.json()["data"][0]["version_before"], Value::Null, "{}", second.text);
        assert_eq!(second.json()["next_before"], Value::Null, "{}", second.text);

        let chat = app
            .seed_conversation("chat-1", |c| c.department_id = Some(switchboard_domain::DepartmentId::new(sales)))
            .await
            .id
            .get();
        let assigned = send(
            app.put("/v1/chats/assignee")
                .json(&json!({"id": chat, "assignee": ada})),
        )
        .await;
        assert_eq!(assigned.status, 200, "{}", assigned.text);
        snap(
            "admin_conversation_history",
            app.get(&format!("/admin/v1/conversations/{chat}/history")),
        )
        .await;
        // A subscription (made through the store: the SSRF guard of the
        // Zapier route would refuse a loopback receiver); its secret is
        // never listed.
        app.store
            .webhooks()
            .create(switchboard_domain::WebhookSubscription::new(
                app.tenant.id,
                "https://hooks.example.com/switchboard",
                switchboard_domain::EventType::CustomerCreated,
                "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0",
                app.store.now(),
            ))
            .await
            .unwrap();
        let subscriptions = snap("admin_subscriptions_list", app.get("/admin/v1/subscriptions")).await;
        assert!(!subscriptions.text.contains("whsec_"), "{}", subscriptions.text);
        // Disabled after failing too long (as the worker does), then
        // re-enabled: active again, its failing period forgotten.
        let sub = subscriptions.json()[0]["id"].as_i64().unwrap();
        switchboard_testsupport::RawConnection::open(&app.database_url).execute(&format!(
            "UPDATE webhook_subscriptions SET state = 'disabled', failing_since = 1000 WHERE id = {sub}"
        ));
        let listed = send(app.get("/admin/v1/subscriptions")).await.json();
        assert_eq!(listed[0]["state"], "disabled", "{listed}");
        let enabled = snap(
            "admin_subscription_enable",
            app.post(&format!("/admin/v1/subscriptions/{sub}/enable")),
        )
        .await;
        assert_eq!(enabled.status, 200, "{}", enabled.text);
        assert_eq!(enabled.json()["state"], "active");
        assert_eq!(enabled.json()["failing_since"], Value::Null);
        let listed = send(app.get("/admin/v1/subscriptions")).await.json();
        assert_eq!(listed[0]["state"], "active", "{listed}");
        let missing = send(app.post(&format!("/admin/v1/subscriptions/{}/enable", sub + 1000))).await;
        assert_eq!(missing.status, 404, "{}", missing.text);
        let read_only = app.create_key(&[Scope::AdminRead]).await;
        let refused = send(app.request_with_key(
            Method::POST,
            &format!("/admin/v1/subscriptions/{sub}/enable"),
            &read_only,
        ))
        .await;
        assert_eq!(refused.status, 403, "{}", refused.text);

        // deletes: refused while in use, then done
        snap_each(vec![
            ("admin_agent_delete_assigned", app.delete(&format!("/admin/v1/agents/{ada}"))),
            ("admin_department_delete_in_use", app.delete(&format!("/admin/v1/departments/{sales}"))),
            ("admin_attribute_delete_in_use", app.delete("/admin/v1/attributes/plan")),
        ])
        .await;
        let gone = snap("admin_agent_delete", app.delete(&format!("/admin/v1/agents/{bob}"))).await;
        assert_eq!(gone.status, 204, "{}", gone.text);
        assert_eq!(send(app.get(&format!("/admin/v1/agents/{bob}"))).await.status, 404);
        let unassigned = send(
            app.put("/v1/chats/assignee")
                .json(&json!({"id": chat, "assignee": null})),
        )
        .await;
        assert_eq!(unassigned.status, 200, "{}", unassigned.text);
        let moved = send(
            app.put("/v1/chats/department")
                .json(&json!({"id": chat, "department": null})),
        )
        .await;
        assert!(moved.status == 200, "{}", moved.text);
        assert_eq!(send(app.delete(&format!("/admin/v1/agents/{ada}"))).await.status, 204);
        let gone = snap(
            "admin_department_delete",
            app.delete(&format!("/admin/v1/departments/{sales}")),
        )
        .await;
        assert_eq!(gone.status, 204, "{}", gone.text);
        let gone = snap("admin_attribute_delete", app.delete("/admin/v1/attributes/seats")).await;
        assert_eq!(gone.status, 204, "{}", gone.text);
        let revoked = snap("admin_key_revoke", app.delete(&format!("/admin/v1/keys/{key_id}"))).await;
        assert_eq!(revoked.status, 204, "{}", revoked.text);
        // This server forgets the key at once.
        assert_eq!(send(with_new(Method::GET, "/admin/v1/agents")).await.status, 401);

        // the error envelope
        snap_each(vec![
            ("admin_error_400", app.post("/admin/v1/agents")
                .json(&json!({"name": "X", "email": "x@example.com", "password": "hunter2hunter2"}))),
            ("admin_error_401", app.anonymous(Method::GET, "/admin/v1/agents")),
        ])
        .await;
        let plain = app.create_key(&[]).await;
        snap_each(vec![
            ("admin_error_403", app.request_with_key(Method::GET, "/admin/v1/agents", &plain)),
            ("admin_error_404", app.get("/admin/v1/agents/999999")),
        ])
        .await;
        let support = send(app.post("/admin/v1/departments").json(&json!({"name": "Support"}))).await;
        assert_eq!(support.status, 201, "{}", support.text);
        snap_each(vec![
            ("admin_error_409", app.post("/admin/v1/departments").json(&json!({"name": "Support"}))),
            ("admin_error_405", app.put("/admin/v1/agents")),
        ])
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_scopes_are_enforced() {
    for_each_backend(|app: TestApp| async move {
        let plain = app.create_key(&[]).await;
        let read = app.create_key(&[Scope::AdminRead]).await;
        let write = app.create_key(&[Scope::AdminWrite]).await;
        let agent = created_id(
            app.post("/admin/v1/agents")
                .json(&json!({"name": "Ada", "email": "ada@example.com"})),
        )
        .await;
        let reads = [
            "/admin/v1/agents".to_string(),
            format!("/admin/v1/agents/{agent}"),
            "/admin/v1/departments".into(),
            "/admin/v1/attributes".into(),
            "/admin/v1/keys".into(),
            "/admin/v1/tags".into(),
            "/admin/v1/subscriptions".into(),
        ];
        for path in &reads {
            for (key, want) in [(&plain, 403), (&write, 403), (&read, 200)] {
                let r = send(app.request_with_key(Method::GET, path, key)).await;
                assert_eq!(r.status, want, "{}: GET {path}: {}", app.backend, r.text);
                if want == 403 {
                    let (code, _) = error_of(&r.json());
                    assert_eq!(code, "forbidden");
                    assert!(r.text.contains("admin.READ"), "{}", r.text);
                }
            }
        }
        let writes: [(Method, String, Value); 6] = [
            (
                Method::POST,
                "/admin/v1/agents".into(),
                json!({"name": "B", "email": "b@example.com"}),
            ),
            (
                Method::PATCH,
                format!("/admin/v1/agents/{agent}"),
                json!({"name": "Ada K"}),
            ),
            (
                Method::POST,
                "/admin/v1/departments".into(),
                json!({"name": "Sales"}),
            ),
            (
                Method::POST,
                "/admin/v1/attributes".into(),
                json!({"name": "plan", "type": "string"}),
            ),
            (Method::POST, "/admin/v1/keys".into(), json!({"name": "k"})),
            (
                Method::DELETE,
                format!("/admin/v1/agents/{agent}"),
                Value::Null,
            ),
        ];
        for (method, path, body) in &writes {
            for key in [&plain, &read] {
                let mut request = app.request_with_key(method.clone(), path, key);
                if !body.is_null() {
                    request = request.json(body);
                }
                let r = send(request).await;
                assert_eq!(
                    r.status, 403,
                    "{}: {method} {path}: {}",
                    app.backend, r.text
                );
                assert!(r.text.contains("admin.WRITE"), "{}", r.text);
            }
            let mut request = app.request_with_key(method.clone(), path, &write);
            if !body.is_null() {
                request = request.json(body);
            }
            let r = send(request).await;
            assert!(
                (200..300).contains(&r.status),
                "{}: {method} {path}: {} {}",
                app.backend,
                r.status,
                r.text
            );
        }
        // Nothing was changed by the refused requests.
        let agents = send(app.get("/admin/v1/agents")).await.json();
        assert_eq!(agents["data"].as_array().unwrap().len(), 1, "{agents}");
        assert_eq!(agents["data"][0]["email"], "b@example.com", "{agents}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_setup_is_not_found() {
    for_each_backend(|app: TestApp| async move {
        let (other, other_key) = app.other_tenant("globex").await;
        let theirs = |method, path: &str| app.request_with_key(method, path, &other_key);
        let agent = created_id(
            theirs(Method::POST, "/admin/v1/agents")
                .json(&json!({"name": "Eve", "email": "eve@example.com"})),
        )
        .await;
        let department =
            created_id(theirs(Method::POST, "/admin/v1/departments").json(&json!({"name": "Ops"})))
                .await;
        send(
            theirs(Method::POST, "/admin/v1/attributes")
                .json(&json!({"name": "tier", "type": "string"})),
        )
        .await;
        let key =
            created_id(theirs(Method::POST, "/admin/v1/keys").json(&json!({"name": "k"}))).await;
        let customer = created_id(
            theirs(Method::POST, "/v1/customers").json(&json!({"name": "Their customer"})),
        )
        .await;
        let missing = app.get("/admin/v1/agents/999999");
        let missing = send(missing).await;
        for (method, path, body) in [
            (
                Method::GET,
                format!("/admin/v1/agents/{agent}"),
                Value::Null,
            ),
            (
                Method::PATCH,
                format!("/admin/v1/agents/{agent}"),
                json!({"name": "Mallory"}),
            ),
            (
                Method::DELETE,
                format!("/admin/v1/agents/{agent}"),
                Value::Null,
            ),
            (
                Method::DELETE,
                format!("/admin/v1/departments/{department}"),
                Value::Null,
            ),
            (
                Method::DELETE,
                "/admin/v1/attributes/tier".to_string(),
                Value::Null,
            ),
            (Method::DELETE, format!("/admin/v1/keys/{key}"), Value::Null),
            (
                Method::GET,
                format!("/admin/v1/customers/{customer}/history"),
                Value::Null,
            ),
        ] {
            let mut request = app.request(method.clone(), &path);
            if !body.is_null() {
                request = request.json(&body);
            }
            let r = send(request).await;
            assert_eq!(
                r.status, 404,
                "{}: {method} {path}: {}",
                app.backend, r.text
            );
            assert_eq!(error_of(&r.json()).0, "not_found");
        }
        // Ours lists nothing of theirs.
        for path in ["/admin/v1/agents", "/admin/v1/departments"] {
            let r = send(app.get(path)).await;
            assert_eq!(r.json()["data"], json!([]), "{path}: {}", r.text);
        }
        assert_eq!(
            send(app.get("/admin/v1/attributes")).await.json(),
            json!([])
        );
        // And theirs is intact.
        let r = send(theirs(Method::GET, &format!("/admin/v1/agents/{agent}"))).await;
        assert_eq!(r.json()["name"], "Eve", "{}", r.text);
        assert_eq!(missing.status, 404);
        assert_eq!(other.name, "globex");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_admin_input_is_a_4xx_naming_the_field() {
    for_each_backend(|app: TestApp| async move {
        let ada = created_id(
            app.post("/admin/v1/agents")
                .json(&json!({"name": "Ada", "email": "ada@example.com"})),
        )
        .await;
        let (own, _) = app.authenticate(&app.key).await;
        let own = own.id.get();
        let cases: Vec<Case> = vec![
            (
                Method::POST,
                "/admin/v1/agents".into(),
                json!({"name": "", "email": "b@example.com"}),
                400,
                "invalid_request",
                Some("name"),
            ),
            (
                Method::POST,
                "/admin/v1/agents".into(),
                json!({"name": "B", "email": "nope"}),
                400,
                "invalid_request",
                Some("email"),
            ),
            (
                Method::POST,
                "/admin/v1/agents".into(),
                json!({"name": "B", "email": "b@example.com", "role": "root"}),
                400,
                "invalid_request",
                Some("role"),
            ),
            (
                Method::POST,
                "/admin/v1/agents".into(),
                json!({"email": "b@example.com"}),
                400,
                "invalid_request",
                None,
            ),
            (
                Method::POST,
                "/admin/v1/agents".into(),
                json!({"name": "B", "email": "ADA@example.com"}),
                409,
                "conflict",
                None,
            ),
            (
                Method::POST,
                "/admin/v1/agents".into(),
                json!(["not", "an", "object"]),
                400,
                "invalid_request",
                Some("body"),
            ),
            (
                Method::PATCH,
                format!("/admin/v1/agents/{ada}"),
                json!({"password": "correct horse battery"}),
                400,
                "invalid_request",
                Some("password"),
            ),
            (
                Method::PATCH,
                format!("/admin/v1/agents/{ada}"),
                json!({"name": 5}),
                400,
                "invalid_request",
                Some("name"),
            ),
            (
                Method::PATCH,
                "/admin/v1/agents/abc".into(),
                json!({"name": "x"}),
                404,
                "not_found",
                None,
            ),
            (
                Method::POST,
                "/admin/v1/attributes".into(),
                json!({"name": "c", "type": "color"}),
                400,
                "invalid_request",
                Some("type"),
            ),
            (
                Method::POST,
                "/admin/v1/keys".into(),
                json!({"name": "k", "scopes": ["root"]}),
                400,
                "invalid_request",
                Some("scopes.0"),
            ),
            (
                Method::POST,
                "/admin/v1/departments".into(),
                json!({"name": "x".repeat(201)}),
                400,
                "invalid_request",
                Some("name"),
            ),
            (
                Method::GET,
                "/admin/v1/agents?limit=0".into(),
                Value::Null,
                400,
                "invalid_request",
                Some("limit"),
            ),
            (
                Method::GET,
                "/admin/v1/agents?after=x".into(),
                Value::Null,
                400,
                "invalid_request",
                Some("after"),
            ),
            (
                Method::GET,
                "/admin/v1/conversations/1/history?limit=501".into(),
                Value::Null,
                400,
                "invalid_request",
                Some("limit"),
            ),
            (
                Method::GET,
                "/admin/v1/customers/1/history?before=-1".into(),
                Value::Null,
                400,
                "invalid_request",
                Some("before"),
            ),
            (
                Method::GET,
                "/admin/v1/customers/0/history".into(),
                Value::Null,
                404,
                "not_found",
                None,
            ),
            (
                Method::DELETE,
                format!("/admin/v1/keys/{own}"),
                Value::Null,
                409,
                "conflict",
                None,
            ),
            (
                Method::GET,
                "/admin/v1/nothing".into(),
                Value::Null,
                404,
                "not_found",
                None,
            ),
        ];
        for (method, path, body, status, code, field) in cases {
            let mut request = app.request(method.clone(), &path);
            if !body.is_null() {
                request = request.json(&body);
            }
            let r = send(request).await;
            assert_eq!(
                r.status, status,
                "{}: {method} {path} {body}: {}",
                app.backend, r.text
            );
            let (got_code, got_field) = error_of(&r.json());
            assert_eq!(got_code, code, "{method} {path}: {}", r.text);
            if let Some(field) = field {
                assert_eq!(
                    got_field.as_deref(),
                    Some(field),
                    "{method} {path}: {}",
                    r.text
                );
            }
        }
        // Not JSON, and too large.
        let r = send(
            app.post("/admin/v1/departments")
                .header("content-type", "text/plain")
                .body("name=x"),
        )
        .await;
        assert_eq!(r.status, 415, "{}", r.text);
        let r = send(
            app.post("/admin/v1/departments")
                .json(&json!({"name": "x".repeat(20_000)})),
        )
        .await;
        assert_eq!(r.status, 413, "{}", r.text);
        assert_eq!(error_of(&r.json()).0, "payload_too_large");
        // The agent is as it was.
        let r = send(app.get(&format!("/admin/v1/agents/{ada}"))).await;
        assert_eq!(r.json()["name"], "Ada", "{}", r.text);
    })
    .await;
}
