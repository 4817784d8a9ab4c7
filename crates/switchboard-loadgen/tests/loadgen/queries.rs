//! The query benchmark's dataset and workloads against the real server on
//! both backends: every search runs without an error and finds what the
//! dataset's rules say it must, and a page walk covers its window exactly.

use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use serde_json::{Value, json};
use switchboard_loadgen::load::{Plan, Rng, Workload, call_once, drive, fetch};
use switchboard_loadgen::model::Backend;
use switchboard_loadgen::query::{
    AGENTS, PAGE, PageWalk, QueryData, QueryKind, QueryOptions, SEGMENT_SIZE, Search,
    console_sign_in, seed, warm,
};

const CUSTOMERS: usize = 400;
const CONVERSATIONS: usize = 600;

async fn post(addr: std::net::SocketAddr, data: &QueryData, path: &str, body: &Value) -> Value {
    let (status, answer) = call_once(
        addr,
        Some(&data.authorization),
        Method::POST,
        path,
        Some(body),
    )
    .await
    .unwrap();
    assert_eq!(
        status,
        200,
        "{path} {body}: {}",
        String::from_utf8_lossy(&answer)
    );
    serde_json::from_slice(&answer).unwrap()
}

async fn exercise(expected: Backend, url: String) {
    let (mut data, build, backend) = seed(&url, CUSTOMERS, CONVERSATIONS).await.unwrap();
    assert_eq!(backend, expected);
    assert_eq!(
        (build.customers, build.conversations),
        (CUSTOMERS, CONVERSATIONS)
    );
    assert!(build.bytes > 0 && build.seconds > 0.0, "{build:?}");
    assert_eq!(data.customers.len(), CUSTOMERS);
    assert!(data.customers.iter().all(|&id| id > 0), "every id filled");
    let server = super::harness::server(url).await;
    let addr = server.addr;
    data.console_cookie = Some(console_sign_in(addr).await.unwrap());

    // The console workloads see the agent's inbox: a search by a visitor's
    // email finds that visitor's conversation.
    let search = Search::new(QueryKind::ConsoleSearch, Arc::new(data.clone()));
    let call = search.next(&mut Rng::new(5), 0, 0);
    let email = call.path.split("q=").nth(1).unwrap().replace("%40", "@");
    let (status, _, page) = fetch(
        addr,
        Method::GET,
        &call.path,
        &[(
            hyper::header::COOKIE,
            hyper::header::HeaderValue::from_str(data.console_cookie.as_deref().unwrap()).unwrap(),
        )],
        None,
    )
    .await
    .unwrap();
    let page = String::from_utf8_lossy(&page);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&email), "{email} not in the inbox:\n{page}");

    // The searches find what the dataset's rules put there.
    let by_email = post(addr, &data, "/v1/customers/search",
        &json!({"filter": [{"field": "customers.email", "operator": "=", "value": "customer17@bench.example.com"}]})).await;
    assert_eq!(by_email["total"], 1, "{by_email}");
    assert_eq!(by_email["data"][0]["id"], data.customers[17]);
    let by_segment = post(addr, &data, "/v1/customers/search",
        &json!({"filter": [{"field": "customers.customData.segment", "operator": "=", "value": "s2"}], "limit": 100})).await;
    assert_eq!(by_segment["total"], SEGMENT_SIZE, "{by_segment}");
    // Status and assignee: conversation j has STATUSES[j % 4] and agent
    // j % AGENTS; count the pair the search asks for by that rule.
    let search = Search::new(QueryKind::StatusAssignee, Arc::new(data.clone()));
    let call = search.next(&mut Rng::new(3), 0, 0);
    let body: Value = serde_json::from_slice(&call.body).unwrap();
    let answer = post(addr, &data, "/v1/chats/search", &body).await;
    let agent = body["filter"][1]["value"].as_i64().unwrap();
    let index = data.agents.iter().position(|&a| a == agent).unwrap();
    let statuses = ["new", "opened", "pending", "closed"];
    let status = body["filter"][0]["value"].as_str().unwrap();
    let expected_total = (0..CONVERSATIONS)
        .filter(|j| j % AGENTS == index && statuses[j % 4] == status)
        .count();
    assert!(expected_total > 0);
    assert_eq!(answer["meta"]["total"], expected_total, "{answer}");
    // The pair of an agent and a status the agent has none of.
    let none = Search::new(QueryKind::StatusAssigneeNone, Arc::new(data.clone()));
    for seed in 0..4 {
        let call = none.next(&mut Rng::new(seed), 0, 0);
        let body: Value = serde_json::from_slice(&call.body).unwrap();
        let answer = post(addr, &data, "/v1/chats/search", &body).await;
        assert_eq!(answer["meta"]["total"], 0, "{body}: {answer}");
        assert_eq!(answer["data"], json!([]), "{body}: {answer}");
    }

    // A page walk covers its window: PAGE rows a page, in creation order,
    // none twice, and exactly the window's rows.
    let walk = PageWalk::new(Arc::new(data.clone()), 300);
    let mut seen = Vec::new();
    for seq in 0..walk.pages() as u64 {
        let call = walk.next(&mut Rng::new(1), 0, seq);
        let body: Value = serde_json::from_slice(&call.body).unwrap();
        let page = post(addr, &data, "/v1/chats/search", &body).await;
        let rows = page["data"].as_array().unwrap();
        assert_eq!(rows.len(), PAGE, "page {seq}: {page}");
        assert_eq!(page["meta"]["total"], 300, "the window holds 300 rows");
        seen.extend(rows.iter().map(|r| r["id"].as_i64().unwrap()));
    }
    let distinct: std::collections::BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!(distinct.len(), 300, "every row of the window once");

    // Every workload runs clean under load.
    let plan = Plan::new(4, Duration::from_millis(100), Duration::from_millis(500));
    let data = Arc::new(data);
    let mut loads: Vec<(String, Arc<dyn Workload>)> = QueryKind::ALL
        .into_iter()
        .map(|k| {
            (
                k.label().to_string(),
                Arc::new(Search::new(k, Arc::clone(&data))) as Arc<dyn Workload>,
            )
        })
        .collect();
    loads.push((
        "page walk".into(),
        Arc::new(PageWalk::new(Arc::clone(&data), 300)),
    ));
    for (name, work) in loads {
        let outcome = drive(addr, &data.authorization, work, &plan).await.unwrap();
        assert_eq!(
            outcome.measurement.errors, 0,
            "{name} on {backend}: {:?}",
            outcome.failures
        );
        assert!(
            outcome.measurement.ok > 0,
            "{name} on {backend}: nothing succeeded"
        );
        if name == "page walk" {
            assert!(!outcome.buckets.is_empty(), "pages are bucketed");
        }
    }

    // The warm pass runs every workload clean, and fails, rather than
    // passing for a warm-up, when its requests fail.
    let options = |warm_ms| QueryOptions {
        server_binary: "switchboard".into(),
        backends: vec![backend],
        concurrency: vec![1, 4],
        warmup: Duration::ZERO,
        duration: Duration::from_secs(1),
        warm: Duration::from_millis(warm_ms),
        customers: CUSTOMERS,
        conversations: CONVERSATIONS,
        walk_rows: 300,
        work_dir: std::env::temp_dir(),
        command: String::new(),
    };
    warm(addr, &data, &options(200)).await.unwrap();
    warm(addr, &data, &options(0)).await.unwrap();
    let mut stranger = (*data).clone();
    stranger.authorization = "Bearer sbk_not_a_key".into();
    let refused = warm(addr, &Arc::new(stranger), &options(200))
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("failed"), "{refused}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_query_workloads_find_what_the_dataset_holds_on_sqlite() {
    super::harness::on_backend(Backend::Sqlite, exercise).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_query_workloads_find_what_the_dataset_holds_on_postgres() {
    super::harness::on_backend(Backend::Postgres, exercise).await;
}
