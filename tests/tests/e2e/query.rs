//! Listing, searching, filtering and paging in every dialect, against the
//! real server on both backends: filters, sorts, pages, caps, bad filters
//! (a 400 in the dialect's own format naming the part) and tenant scoping.

use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::AttributeType;
use switchboard_e2e::{FetchJson, TestApp, for_each_backend};

use super::common::zoho;

async fn define(app: &TestApp, name: &str, kind: AttributeType) {
    app.define_attribute(name, kind, name).await;
}

/// The values of member `key` of each item of `items`.
fn pluck(items: &Value, key: &str) -> Vec<Value> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"))
        .iter()
        .map(|i| i[key].clone())
        .collect()
}

fn names(body: &Value) -> Vec<String> {
    pluck(&body["data"], "name")
        .into_iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

/// `request` is refused with a 400 whose part at fault (`part_of` the
/// body) is `part`; `what` names the case in a failure.
async fn refused(
    request: reqwest::RequestBuilder,
    part_of: fn(&Value) -> &str,
    part: &str,
    what: String,
) {
    let (status, body) = request.fetch().await;
    assert_eq!(status, 400, "{what}: {body}");
    assert_eq!(part_of(&body), part, "{what}: {body}");
}

/// HelpCrunch's 400: `errors[0]` is `invalid_request`, `errors[1]` names the part.
fn hc_part(body: &Value) -> &str {
    assert_eq!(body["errors"][0]["code"], "invalid_request", "{body}");
    body["errors"][1]["code"].as_str().unwrap_or_default()
}

async fn hc_customers(app: &TestApp) -> Vec<i64> {
    define(app, "plan", AttributeType::String).await;
    define(app, "seats", AttributeType::Number).await;
    let people = [
        json!({"name": "Ada", "email": "ada@example.com", "userId": "u-ada", "lastSeen": "1600000000",
               "tags": [{"name": "vip"}, {"name": "lead"}],
               "customData": [{"property": "plan", "value": "pro"}, {"property": "seats", "value": 5}]}),
        json!({"name": "Bob", "email": "bob@gmail.com", "lastSeen": "1700000000", "tags": [{"name": "lead"}],
               "customData": [{"property": "plan", "value": "free"}, {"property": "seats", "value": "5"}]}),
        json!({"name": "Cyd", "email": "cyd@GMAIL.com", "company": "Engines"}),
        json!({"name": "Dee", "lastSeen": "1500000000", "customData": [{"property": "plan", "value": "pro"}]}),
        json!({"name": "Eve", "company": "engines"}),
    ];
    let mut ids = Vec::new();
    for p in people {
        let (status, body) = app.post("/v1/customers").json(&p).fetch().await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_i64().unwrap());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helpcrunch_lists_and_searches_customers() {
    for_each_backend(|app| async move {
        let b = app.backend;
        let ids = hc_customers(&app).await;

        // The list: offset/limit pages with the total, in id order.
        let mut seen = Vec::new();
        for offset in [0, 2, 4] {
            let (status, body) = app
                .get(&format!("/v1/customers?offset={offset}&limit=2"))
                .fetch()
                .await;
            assert_eq!(status, 200, "{b}: {body}");
            assert_eq!(body["total"], 5, "{b}: {body}");
            seen.extend(pluck(&body["data"], "id").into_iter().map(|v| v.as_i64().unwrap()));
        }
        assert_eq!(seen, ids, "{b}");
        let (_, body) = app.get("/v1/customers").fetch().await;
        assert_eq!(names(&body), ["Ada", "Bob", "Cyd", "Dee", "Eve"], "{b}");
        let (_, body) = app
            .get("/v1/customers?sort=customers.lastSeen&order=desc")
            .fetch()
            .await;
        // Unset last in descending order, ties newest first.
        assert_eq!(names(&body), ["Bob", "Ada", "Dee", "Eve", "Cyd"], "{b}");

        // Searches, as the vendor documents them.
        let cases: Vec<(Value, &[&str], u64)> = vec![
            (
                json!({"filter": [{"field": "customers.email", "operator": "~", "value": "gmail"}]}),
                &["Bob", "Cyd"],
                2,
            ),
            (
                json!({"filter": [{"field": "customers.email", "operator": "=", "value": "ADA@example.com"}]}),
                &["Ada"],
                1,
            ),
            (
                json!({"comparison": "OR", "filter": [
                    {"field": "customers.userId", "operator": "=", "value": "u-ada"},
                    {"field": "customers.company", "operator": "=", "value": "engines"}]}),
                &["Ada", "Eve"],
                2,
            ),
            (
                json!({"filter": [{"field": "customers.lastSeen", "operator": ">=", "value": 1600000000}],
                       "sort": "customers.lastSeen", "order": "DESC"}),
                &["Bob", "Ada"],
                2,
            ),
            (
                json!({"filter": [{"field": "customers.tagsData", "operator": "=", "value": [{"name": "lead"}, {"name": "vip"}]}]}),
                &["Ada"],
                1,
            ),
            (
                json!({"filter": [{"field": "customers.customData.plan", "operator": "=", "value": "pro"}]}),
                &["Ada", "Dee"],
                2,
            ),
            (
                json!({"filter": [{"field": "customers.customData.seats", "operator": "=", "value": 5}]}),
                &["Ada", "Bob"],
                2,
            ),
            (
                json!({"filter": [{"field": "customers.email", "operator": "=", "value": null},
                                  {"field": "customers.name", "operator": "!~", "value": "v"}]}),
                &["Dee"],
                1,
            ),
            (
                json!({"filter": [{"field": "customers.id", "operator": ">", "value": ids[1]}],
                       "offset": 1, "limit": 1}),
                &["Dee"],
                3,
            ),
        ];
        for (search, want, total) in cases {
            let (status, body) = app.post("/v1/customers/search").json(&search).fetch().await;
            assert_eq!(status, 200, "{b}: {search}: {body}");
            assert_eq!(names(&body), want, "{b}: {search}");
            assert_eq!(body["total"], total, "{b}: {search}");
        }

        // Bad searches: a 400 naming the part, in HelpCrunch's envelope.
        let bad: Vec<(Value, &str)> = vec![
            (json!({"filter": [{"operator": "=", "value": 1}]}), "filter[0].field"),
            (
                json!({"filter": [{"field": "customers.id", "operator": "=", "value": 1},
                                  {"field": "customers.email", "operator": ">", "value": "a"}]}),
                "filter[1].operator",
            ),
            (
                json!({"filter": [{"field": "customers.lastSeen", "operator": ">", "value": "18 Jun 2020"}]}),
                "filter[0].value",
            ),
            (
                json!({"filter": [{"field": "customers.city", "operator": "=", "value": "Oslo"}]}),
                "filter[0].field",
            ),
            (
                json!({"filter": [{"field": "customers.customData.nope", "operator": "=", "value": 1}]}),
                "filter[0].field",
            ),
            (json!({"filter": [{"field": 5}]}), "filter[0].field"),
            // A condition is an object, never serde's array form of one.
            (json!({"filter": [["customers.id", "=", 1]]}), "filter[0]"),
            (json!({"limit": 101}), "limit"),
            (json!({"sort": "customers.email"}), "sort"),
            (json!({"comparison": "NOR"}), "comparison"),
            (json!({"filters": []}), "filters"),
        ];
        for (search, part) in bad {
            let request = app.post("/v1/customers/search").json(&search);
            refused(request, hc_part, part, format!("{b}: {search}")).await;
        }
        for (query, part) in [
            ("limit=101", "limit"),
            ("limit=0", "limit"),
            ("offset=-1", "offset"),
            ("order=sideways", "order"),
            ("sort=customers.name", "sort"),
            ("filter=x", "filter"),
        ] {
            let request = app.get(&format!("/v1/customers?{query}"));
            refused(request, hc_part, part, format!("{b}: {query}")).await;
        }

        // Another tenant sees none of it, even searching for our values.
        let (_, key) = app.other_tenant("globex").await;
        let theirs = |m: Method, path: &str| app.request_with_key(m, path, &key);
        let (status, body) = theirs(Method::GET, "/v1/customers").fetch().await;
        assert_eq!((status.as_u16(), body["total"].clone()), (200, json!(0)), "{b}: {body}");
        let (_, body) = theirs(Method::POST, "/v1/customers/search")
            .json(&json!({"filter": [{"field": "customers.id", "operator": "=", "value": ids[0]}]}))
            .fetch()
            .await;
        assert_eq!(body["total"], 0, "{b}: {body}");
        // Our custom attribute is not theirs.
        let (status, body) = theirs(Method::POST, "/v1/customers/search")
            .json(&json!({"filter": [{"field": "customers.customData.plan", "operator": "=", "value": "pro"}]}))
            .fetch()
            .await;
        assert_eq!(status, 400, "{b}: {body}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helpcrunch_lists_and_searches_chats() {
    for_each_backend(|app| async move {
        let b = app.backend;
        let agent = app.seed_agent("Anna", "anna@example.com", "agent").await;
        let mut chats = Vec::new();
        for (name, email) in [("Ada", "ada@example.com"), ("Bob", "bob@example.com"), ("Cyd", "cyd@example.com")] {
            let (_, customer) = app
                .post("/v1/customers")
                .json(&json!({"name": name, "email": email}))
                .fetch()
                .await;
            let (status, chat) = app
                .post("/v1/chats")
                .json(&json!({"customer": customer["id"], "message": "hi"}))
                .fetch()
                .await;
            assert_eq!(status, 201, "{b}: {chat}");
            chats.push(chat["id"].as_i64().unwrap());
        }
        for (id, status) in [(chats[0], "closed"), (chats[1], "pending")] {
            let (s, body) = app
                .put("/v1/chats/status")
                .json(&json!({"id": id, "status": status}))
                .fetch()
                .await;
            assert_eq!(s, 200, "{b}: {body}");
        }
        let (s, body) = app
            .put("/v1/chats/assignee")
            .json(&json!({"id": chats[1], "assignee": agent.id.get()}))
            .fetch()
            .await;
        assert_eq!(s, 200, "{b}: {body}");

        let (status, body) = app.get("/v1/chats?limit=2").fetch().await;
        assert_eq!(status, 200, "{b}: {body}");
        assert_eq!(body["meta"], json!({"total": 3}), "{b}");
        assert_eq!(pluck(&body["data"], "id"), [json!(chats[0]), json!(chats[1])], "{b}");
        // A chat of the list is the chat the vendor shows, links and all.
        assert_eq!(body["data"][0]["customer"]["name"], "Ada", "{b}");
        let (_, body) = app.get("/v1/chats?offset=2&limit=2").fetch().await;
        assert_eq!(pluck(&body["data"], "id"), [json!(chats[2])], "{b}");
        let (_, body) = app.get("/v1/chats?sort=chats.closedAt&order=desc").fetch().await;
        assert_eq!(pluck(&body["data"], "id")[0], json!(chats[0]), "{b}");

        let cases: Vec<(Value, Vec<i64>)> = vec![
            (json!({"filter": [{"field": "chats.status", "operator": "=", "value": "pending"}]}), vec![chats[1]]),
            (
                json!({"filter": [{"field": "chats.status", "operator": "!=", "value": "closed"},
                                  {"field": "chats.assignee", "operator": "=", "value": agent.id.get()}]}),
                vec![chats[1]],
            ),
            (json!({"filter": [{"field": "chats.assignee", "operator": "=", "value": null}]}), vec![chats[0], chats[2]]),
            (json!({"filter": [{"field": "chats.customer.email", "operator": "=", "value": "BOB@example.com"}]}), vec![chats[1]]),
            (json!({"filter": [{"field": "chats.closedAt", "operator": ">", "value": 0}]}), vec![chats[0]]),
            (
                json!({"comparison": "OR", "filter": [{"field": "chats.id", "operator": "=", "value": chats[2]},
                                                      {"field": "chats.status", "operator": "=", "value": "closed"}],
                       "sort": "chats.createdAt", "order": "desc"}),
                vec![chats[2], chats[0]],
            ),
        ];
        for (search, want) in cases {
            let (status, body) = app.post("/v1/chats/search").json(&search).fetch().await;
            assert_eq!(status, 200, "{b}: {search}: {body}");
            assert_eq!(pluck(&body["data"], "id"), want.iter().map(|i| json!(i)).collect::<Vec<_>>(), "{b}: {search}");
            assert_eq!(body["meta"]["total"], want.len(), "{b}: {search}");
        }
        for (search, part) in [
            (json!({"filter": [{"field": "chats.status", "operator": "=", "value": "archived"}]}), "filter[0].value"),
            (json!({"filter": [{"field": "chats.rating", "operator": "=", "value": "great"}]}), "filter[0].field"),
            (json!({"sort": "chats.lastMessageAt"}), "sort"),
            (json!({"limit": "lots"}), "limit"),
        ] {
            let request = app.post("/v1/chats/search").json(&search);
            refused(request, hc_part, part, format!("{b}: {search}")).await;
        }
        let (_, key) = app.other_tenant("globex").await;
        let (_, body) = app.request_with_key(Method::GET, "/v1/chats", &key).fetch().await;
        assert_eq!(body["meta"]["total"], 0, "{b}: {body}");
        // The list needs the read scope.
        let key = app.create_key(&[switchboard_domain::Scope::CustomersRead]).await;
        let (status, _) = app.request_with_key(Method::GET, "/v1/chats", &key).fetch().await;
        assert_eq!(status, 403, "{b}");
    })
    .await;
}

/// SalesIQ's error: `{"error": {"code": 1015, "message", "json_key"}}`.
fn zoho_key(body: &Value) -> &str {
    assert_eq!(body["error"]["code"], 1015, "{body}");
    body["error"]["json_key"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoho_lists_conversations_by_every_documented_parameter() {
    for_each_backend(|app| async move {
        let b = app.backend;
        let t = app.tenant.id;
        let admin = app.store.admin();
        let anna = app.seed_agent("Anna", "anna@example.com", "agent").await;
        let otto = app.seed_agent("Otto", "otto@example.com", "agent").await;
        let sales = admin.create_department(t, "Sales").await.unwrap();
        let contact = app.seed_customer(|c| c.name = Some("Vic".into())).await;
        let before = app.store.now().as_millis();
        let ids: Vec<String> = {
            let mut ids = Vec::new();
            for (key, edit) in [("z-1", 0), ("z-2", 1), ("z-3", 2), ("z-4", 3)] {
                let c = app
                    .seed_conversation(key, |c| match edit {
                        0 => {
                            c.status = switchboard_domain::ConversationStatus::Opened;
                            c.assignee_id = Some(anna.id);
                            c.department_id = Some(sales.id);
                            c.visitor.email = Some("vic@example.com".into());
                            c.customer_id = Some(contact.id);
                        }
                        1 => {
                            c.assignee_id = Some(otto.id);
                            c.visitor.email = Some("ann@example.com".into());
                        }
                        2 => {
                            c.status = switchboard_domain::ConversationStatus::Opened;
                            c.assignee_id = Some(anna.id);
                        }
                        _ => c.department_id = Some(sales.id),
                    })
                    .await;
                ids.push(c.id.to_string());
            }
            ids
        };
        // z-4 ends (SalesIQ's `end`).
        let (status, body) = zoho(
            &app,
            Method::PUT,
            &format!("/conversations/{}/close", ids[3]),
        )
        .fetch()
        .await;
        assert_eq!(status, 200, "{b}: {body}");
        let after = app.store.now().as_millis() + 1;

        let newest_first =
            |v: &[usize]| -> Vec<Value> { v.iter().map(|i| json!(ids[*i])).collect() };
        let cases: Vec<(String, Vec<usize>)> = vec![
            (String::new(), vec![3, 2, 1, 0]),
            ("status=end".into(), vec![3]),
            ("status=closed".into(), vec![3]),
            ("status=connected".into(), vec![2, 0]),
            ("status=waiting".into(), vec![1]),
            ("status=open".into(), vec![2, 1, 0]),
            (format!("attender_id={}", anna.id), vec![2, 0]),
            (format!("attender_id={}&status=connected", otto.id), vec![]),
            (format!("department_id={}", sales.id), vec![3, 0]),
            ("email=VIC@example.com,ann@example.com".into(), vec![1, 0]),
            ("visitor_type=contact".into(), vec![0]),
            ("visitor_type=lead".into(), vec![3, 2, 1]),
            (format!("from_time={}", before - 1), vec![3, 2, 1, 0]),
            (format!("to_time={before}"), vec![]),
            (format!("updated_from_time={}", after - 1), vec![]),
            (
                format!("updated_till_time={after}&sort_by=updated_time&limit=1"),
                vec![3],
            ),
            ("sort_by=end_time&limit=1".into(), vec![3]),
            ("limit=2&page=2".into(), vec![1, 0]),
            ("limit=2&page=3".into(), vec![]),
        ];
        for (query, want) in cases {
            let (status, body) = zoho(&app, Method::GET, &format!("/conversations?{query}"))
                .fetch()
                .await;
            assert_eq!(status, 200, "{b}: {query}: {body}");
            assert_eq!(body["object"], "list", "{b}");
            assert_eq!(
                pluck(&body["data"], "id"),
                newest_first(&want),
                "{b}: {query}"
            );
        }
        // `fields` keeps the named members and the id.
        let (_, body) = zoho(
            &app,
            Method::GET,
            "/conversations?fields=status,attender&limit=1",
        )
        .fetch()
        .await;
        let item = body["data"][0].as_object().unwrap();
        let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["attender", "chat_status", "id"], "{b}: {body}");

        for (query, key) in [
            ("limit=100", "limit"),
            ("page=0", "page"),
            ("status=archived", "status"),
            ("attender_id=anna", "attender_id"),
            ("department_id=0", "department_id"),
            ("from_time=today", "from_time"),
            ("visitor_type=robot", "visitor_type"),
            ("sort_by=rating", "sort_by"),
            ("fields=visitor,password", "fields"),
            ("app_id=5", "app_id"),
            ("search=vic", "search"),
        ] {
            let request = zoho(&app, Method::GET, &format!("/conversations?{query}"));
            refused(request, zoho_key, key, format!("{b}: {query}")).await;
        }

        // Another portal sees none of it, even with our ids.
        let (other, key) = app.other_tenant("globex").await;
        let (status, body) = app
            .anonymous(
                Method::GET,
                &format!(
                    "/api/v2/{}/conversations?attender_id={}",
                    other.name, anna.id
                ),
            )
            .header("Authorization", format!("Zoho-oauthtoken {key}"))
            .fetch()
            .await;
        assert_eq!(status, 200, "{b}: {body}");
        assert_eq!(body["data"], json!([]), "{b}");
    })
    .await;
}

/// SuperOffice's 400: `{"Error", "ErrorType": "SoValidationException", "ErrorSource"}`.
fn so_source(body: &Value) -> &str {
    assert_eq!(body["ErrorType"], "SoValidationException", "{body}");
    body["ErrorSource"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn superoffice_lists_chat_sessions_with_odata() {
    for_each_backend(|app| async move {
        let b = app.backend;
        let agent = app.seed_agent("Anna", "anna@example.com", "agent").await;
        let mut ids = Vec::new();
        for (name, status, user) in [
            ("Ada", "Started", true),
            ("Bob", "Ended", false),
            ("Adam", "Idle", true),
            ("O'Brien", "Requested", false),
        ] {
            let mut entity = json!({"CustomerName": name, "CustomerEmail": format!("{}@example.com", name.to_lowercase().replace('\'', "")),
                                    "Status": status, "CustomInfo": {"Model": format!("X-{name}")}});
            if user {
                entity["User"] = json!({"AssociateId": agent.id.get()});
            }
            let (status, body) = app.post("/api/v1/ChatSession").json(&entity).fetch().await;
            assert_eq!(status, 201, "{b}: {body}");
            ids.push(body["ChatSessionId"].as_i64().unwrap());
        }
        let sessions = |body: &Value| pluck(&body["value"], "ChatSessionId");
        let want = |idx: &[usize]| -> Vec<Value> { idx.iter().map(|i| json!(ids[*i])).collect() };
        let cases: Vec<(String, Vec<usize>)> = vec![
            (String::new(), vec![0, 1, 2, 3]),
            ("$filter=Status eq 'Started'".into(), vec![0]),
            ("$filter=Status ne 'Ended' and User/AssociateId eq {agent}".into(), vec![0, 2]),
            ("$filter=User eq null".into(), vec![1, 3]),
            ("$filter=startswith(CustomerName,'Ad')".into(), vec![0, 2]),
            ("$filter=contains(CustomerName, 'Brien') or CustomerEmail eq 'BOB@example.com'".into(), vec![1, 3]),
            ("$filter=not (startswith(CustomerName,'Ad'))".into(), vec![1, 3]),
            ("$filter=WhenClosed ne null".into(), vec![1]),
            ("$filter=WhenRequested ge 2000-01-01T00:00:00Z and WhenRequested lt '2999-01-01'".into(), vec![0, 1, 2, 3]),
            ("$filter=CustomInfo/Model eq 'X-Adam'".into(), vec![2]),
            (format!("$filter=ChatSessionId gt {}&$orderBy=ChatSessionId desc", ids[1]), vec![3, 2]),
            ("$orderby=WhenClosed desc&$top=1".into(), vec![1]),
            ("$top=2&$skip=2".into(), vec![2, 3]),
        ];
        for (query, expected) in cases {
            let query = query.replace("{agent}", &agent.id.to_string());
            let (status, body) = app.get(&format!("/api/v1/ChatSession?{query}")).fetch().await;
            assert_eq!(status, 200, "{b}: {query}: {body}");
            assert_eq!(sessions(&body), want(&expected), "{b}: {query}");
        }
        // $select nulls what is not selected; the path is case-insensitive.
        let (_, body) = app
            .get("/API/v1/chatsession?$select=CustomerName&$filter=ChatSessionId eq 1000000")
            .fetch()
            .await;
        assert_eq!(body["value"], json!([]), "{b}");
        let (_, body) = app.get("/api/v1/ChatSession?$select=CustomerName&$top=1").fetch().await;
        assert_eq!(body["value"][0]["CustomerName"], "Ada", "{b}");
        assert_eq!(body["value"][0]["CustomerEmail"], Value::Null, "{b}");
        // XML, by Accept or $format.
        for request in [
            app.get("/api/v1/ChatSession?$top=2").header("Accept", "application/xml"),
            app.get("/api/v1/ChatSession?$top=2&$format=xml"),
        ] {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200, "{b}");
            let text = response.text().await.unwrap();
            assert!(text.contains("<ArrayOfChatSessionEntity"), "{b}: {text}");
            assert_eq!(text.matches("<ChatSessionEntity>").count(), 2, "{b}: {text}");
        }

        for (query, source) in [
            ("$filter=Status eq", "$filter"),
            ("$filter=Rating eq 5", "$filter"),
            ("$filter=endswith(CustomerName,'a')", "$filter"),
            ("$filter=Status eq 'Archived'", "$filter"),
            ("$filter=WhenRequested gt 'soon'", "$filter"),
            ("$orderBy=CustomerName", "$orderBy"),
            ("$top=1001", "$top"),
            ("$skip=x", "$skip"),
            ("$format=csv", "$format"),
            ("$mode=full", "$mode"),
            ("name=x", "name"),
        ] {
            let request = app.get(&format!("/api/v1/ChatSession?{query}"));
            refused(request, so_source, source, format!("{b}: {query}")).await;
        }

        let (_, key) = app.other_tenant("globex").await;
        let (status, body) = app
            .request_with_key(Method::GET, &format!("/api/v1/ChatSession?$filter=ChatSessionId eq {}", ids[0]), &key)
            .fetch()
            .await;
        assert_eq!(status, 200, "{b}: {body}");
        assert_eq!(body["value"], json!([]), "{b}");
    })
    .await;
}

/// A HelpCrunch search is a `POST` that changes nothing: unlike a write it
/// tells no other node that a write committed (so their webhook workers
/// and console live pages do not look for events because of it). Another
/// store listening on the same PostgreSQL database stands for the other
/// node: it hears a write, not twenty searches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_is_not_announced_as_a_write() {
    use std::time::Duration;
    use switchboard_storage::{Change, Store};
    use tokio::sync::broadcast::error::TryRecvError;

    let Some(app) = TestApp::spawn(switchboard_e2e::Backend::Postgres).await else {
        return;
    };
    let other = Store::open(
        &app.database_url,
        switchboard_e2e::TestConfig::default().store,
    )
    .await
    .unwrap();
    let _listening = other.listen().unwrap();
    let mut feed = other.changes();
    let heard_a_commit = |feed: &mut tokio::sync::broadcast::Receiver<Change>| loop {
        match feed.try_recv() {
            Ok(Change::Committed) => return true,
            Ok(_) | Err(TryRecvError::Lagged(_)) => {}
            Err(_) => return false,
        }
    };
    let write = || async {
        let (status, body) = app
            .post("/v1/customers")
            .json(&json!({"name": "Ada", "email": "ada@example.com"}))
            .fetch()
            .await;
        assert_eq!(status, 201, "{body}");
    };
    // The listener connects in the background: keep writing until the
    // other node hears one (which also proves that writes are announced).
    let mut heard = false;
    for _ in 0..50 {
        write().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        if heard_a_commit(&mut feed) {
            heard = true;
            break;
        }
    }
    assert!(heard, "the other node never heard of a write");
    // Whatever the last writes still announce arrives within the listener's
    // poll and the announcer's interval (20 ms each).
    tokio::time::sleep(Duration::from_millis(500)).await;
    heard_a_commit(&mut feed);

    for (path, field, value) in [
        ("/v1/customers/search", "customers.email", "ada@example.com"),
        ("/v1/chats/search", "chats.status", "opened"),
    ] {
        let search = json!({"filter": [{"field": field, "operator": "=", "value": value}]});
        for _ in 0..10 {
            let (status, body) = app.post(path).json(&search).fetch().await;
            assert_eq!(status, 200, "{path}: {body}");
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !heard_a_commit(&mut feed),
        "a search was announced as a write"
    );

    write().await;
    let heard = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if heard_a_commit(&mut feed) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(heard.is_ok(), "the write after the searches was not heard");
}
