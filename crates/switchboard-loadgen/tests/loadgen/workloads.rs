//! Every workload against the real server (in-process, port 0) on SQLite and
//! PostgreSQL: each must run without a single error, and scenario 3 must see
//! every acknowledged email update delivered to its Zapier subscription.

use std::time::Duration;

use switchboard_loadgen::bench::{Endpoint, run_scenario};
use switchboard_loadgen::dataset::{self, Size};
use switchboard_loadgen::load::Plan;
use switchboard_loadgen::model::{Backend, Scenario, Subject};
use switchboard_testsupport::receiver::Receiver;

const SIZE: Size = Size {
    customers: 40,
    conversations: 40,
};

async fn exercise(backend: Backend, url: String) {
    let data = dataset::seed(&url, SIZE).await.unwrap();
    assert_eq!(data.customers.len(), 40);
    assert_eq!(data.conversations.len(), 40);

    let server = super::harness::server(url).await;
    let endpoint = Endpoint {
        backend,
        addr: server.addr,
        pid: None,
        postmaster: None,
    };
    let receiver = Receiver::start().await;
    let plan = Plan::new(4, Duration::from_millis(100), Duration::from_millis(700));
    for scenario in Scenario::ALL {
        let run = run_scenario(
            endpoint,
            &data,
            &receiver,
            scenario,
            &plan,
            1,
            Duration::from_secs(30),
        )
        .await
        .unwrap();
        assert_eq!(run.backend, backend);
        assert_eq!(run.subject, Subject::Scenario(scenario));
        assert_eq!(run.measurement.errors, 0, "{scenario} on {backend}");
        assert!(
            run.measurement.ok > 0,
            "{scenario} on {backend}: nothing succeeded"
        );
        assert!(run.measurement.latency.p50_us > 0);
        assert!(run.measurement.latency.p99_us >= run.measurement.latency.p50_us);
        if scenario == Scenario::ChatbotEmail {
            let d = run.delivery.unwrap();
            assert!(d.acknowledged >= run.measurement.ok, "{d:?}");
            assert_eq!(d.lost, 0, "{d:?}");
            assert_eq!(d.delivered, d.acknowledged, "{d:?}");
        } else {
            assert!(run.delivery.is_none());
        }
    }
    // The subscription was removed again: the server has none left.
    let (status, body) = switchboard_loadgen::load::call_once(
        endpoint.addr,
        Some(&data.authorization),
        hyper::Method::GET,
        "/zapier/v1/hooks",
        None,
    )
    .await
    .unwrap();
    assert_eq!(status, 200);
    let hooks: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(hooks.as_array().map(Vec::len), Some(0), "{hooks}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_runs_clean_on_sqlite() {
    super::harness::on_backend(Backend::Sqlite, exercise).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_runs_clean_on_postgres() {
    super::harness::on_backend(Backend::Postgres, exercise).await;
}
