//! Retention inside the real server: the background task deletes what is
//! old enough, a batch at a time, and counts it in `/metrics`.

use std::time::{Duration, Instant};

use serde_json::json;
use switchboard_domain::CustomerId;
use switchboard_e2e::{Backend, FetchJson, TestApp, TestConfig};
use switchboard_server::retention::RetentionConfig;
use switchboard_storage::{Clock, Retention, now};

use crate::e2e::common::WAIT;

/// The value of the counter line starting with `series` in `/metrics`.
async fn counter(app: &TestApp, series: &str) -> u64 {
    let text = app.metrics().await;
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_prunes_in_the_background_and_counts_it() {
    let hour = Some(Duration::from_secs(3600));
    for backend in Backend::ALL {
        let clock = Clock::manual(now());
        let config = TestConfig {
            retention: RetentionConfig {
                enabled: true,
                keep: Retention {
                    events: hour,
                    deliveries: hour,
                    history: hour,
                },
                interval: Duration::from_millis(20),
                batch_size: 3,
            },
            ..TestConfig::with_clock(clock.clone())
        };
        let Some(app) = TestApp::spawn_with(backend, config).await else {
            continue;
        };
        let mut ids = Vec::new();
        for n in 0..5 {
            let body = app
                .post("/v1/customers")
                .json(&json!({"name": format!("c{n}")}))
                .fetch_expecting(201)
                .await;
            let id = body["id"].as_i64().unwrap();
            app.put(&format!("/v1/customers/{id}"))
                .json(&json!({"company": "Analytical Engines"}))
                .fetch_expecting(200)
                .await;
            ids.push(CustomerId::new(id));
        }
        // The webhook worker processes the events (no subscriber).
        let deadline = Instant::now() + WAIT;
        while app.store.worker().outbox_backlog().await.unwrap() > 0 {
            assert!(Instant::now() < deadline, "{backend}: events not processed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let history = |id| app.store.customers().history(app.tenant.id, id, 100);
        assert_eq!(history(ids[0]).await.unwrap().len(), 2, "{backend}");

        // Nothing is an hour old: the task leaves everything.
        assert_eq!(
            counter(
                &app,
                "switchboard_retention_pruned_rows_total{table=\"change_history\"}"
            )
            .await,
            0,
            "{backend}"
        );

        // Two hours later, the task deletes everything but the newest rows.
        clock.advance(Duration::from_secs(2 * 3600));
        let deadline = Instant::now() + WAIT;
        loop {
            let history_pruned = counter(
                &app,
                "switchboard_retention_pruned_rows_total{table=\"change_history\"}",
            )
            .await;
            let events_pruned = counter(
                &app,
                "switchboard_retention_pruned_rows_total{table=\"outbox\"}",
            )
            .await;
            if history_pruned == 9 && events_pruned == 9 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{backend}: pruned {history_pruned} history rows and {events_pruned} events"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(history(ids[0]).await.unwrap().is_empty(), "{backend}");
        assert_eq!(
            history(ids[4]).await.unwrap().len(),
            1,
            "{backend}: the newest row stays"
        );
        // The customers themselves are not touched.
        for id in &ids {
            app.stored_customer(*id).await;
        }
        app.stop().await;
    }
}
