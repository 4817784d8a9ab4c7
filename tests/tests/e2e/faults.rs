//! Faults of the machine under the real server: a full database.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_e2e::{Backend, FetchJson, TestApp, TestConfig};
use switchboard_storage::{Clock, UNREADY_AFTER_DISK_FULL, now};
use switchboard_testsupport::RawConnection;
use switchboard_testsupport::faults::PgDiskFull;

use crate::e2e::common::zoho;

/// Everything the process logs, from the first test that asks on (a
/// global subscriber: the server logs on its own threads).
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    Arc::clone(LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logs);
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || Sink(Arc::clone(&sink)))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        logs
    }))
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Several values long enough that storing them takes new pages.
fn bulky() -> Value {
    json!({"a": "a".repeat(4000), "b": "b".repeat(4000), "c": "c".repeat(4000)})
}

/// The tables whose writes a full disk refuses on PostgreSQL.
/// Every insert and update of the entities fails as on a full disk.
fn pg_full() -> PgDiskFull {
    PgDiskFull::new("INSERT OR UPDATE", &["customers", "conversations"])
}

/// SQLite is filled for real (the store caps the database at its current
/// size, so SQLite answers `SQLITE_FULL` as on a full disk); PostgreSQL
/// raises its own disk-full error from a trigger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_database_answers_503_in_each_dialect_and_recovers_without_restart() {
    let logs = captured_logs();
    for backend in Backend::ALL {
        let clock = Clock::manual(now());
        let config = TestConfig::with_clock(clock.clone());
        let Some(app) = TestApp::spawn_with(backend, config).await else {
            continue;
        };
        let customer = app
            .post("/v1/customers")
            .json(&json!({"name": "Ada", "email": "ada@example.com"}))
            .fetch_expecting(201)
            .await;
        let customer_id = customer["id"].as_i64().unwrap();
        let conv = zoho(&app, reqwest::Method::POST, "/conversations")
            .json(
                &json!({"visitor": {"name": "Bea", "email": "bea@example.com"}, "question": "Hi"}),
            )
            .fetch_expecting(200)
            .await;
        let conv_id = conv["data"]["id"].as_str().unwrap().to_string();
        let session = app
            .post("/api/v1/ChatSession")
            .json(&json!({"CustomerName": "Cy", "FirstMessage": "Hello"}))
            .fetch_expecting(201)
            .await;
        let session_id = session["ChatSessionId"].as_i64().unwrap();
        let reads = |app: &TestApp| {
            let requests = [
                app.get(&format!("/v1/customers/{customer_id}")),
                zoho(
                    app,
                    reqwest::Method::GET,
                    &format!("/conversations/{conv_id}"),
                ),
                app.get(&format!("/api/v1/ChatSession/{session_id}")),
                zoho(app, reqwest::Method::GET, "/conversations"),
            ];
            async move {
                let mut out = Vec::new();
                for r in requests {
                    let body = r.fetch_expecting(200).await;
                    out.push(body);
                }
                out
            }
        };
        let before = reads(&app).await;

        // Two large writes, refused while the disk is full and taken after.
        let customer_path = format!("/v1/customers/{customer_id}");
        let customer_write = || {
            app.put(&customer_path)
                .json(&json!({"name": "Ada L.", "notes": "n".repeat(9000)}))
        };
        let conversation_path = format!("/conversations/{conv_id}");
        let conversation_write = || {
            zoho(&app, reqwest::Method::PUT, &conversation_path)
                .json(&json!({"customer_info": bulky()}))
        };

        // The disk fills up.
        let mut raw = RawConnection::open(&app.database_url);
        match backend {
            Backend::Sqlite => {
                app.store
                    .maintenance()
                    .set_sqlite_max_pages(Some(1))
                    .await
                    .unwrap();
            }
            Backend::Postgres => raw.execute(&pg_full().fill()),
        }

        // Writes answer 503, each in its dialect's own error format.
        let body = app
            .post("/v1/customers")
            .json(&json!({"name": "Dee", "notes": "n".repeat(9000)}))
            .fetch_expecting(503)
            .await;
        assert_eq!(
            body,
            json!({"errors": [{"code": "invalid_request", "message": "Invalid request"}, {"code": "service_unavailable", "message": "service temporarily unavailable"}]}),
            "{backend}"
        );
        let body = customer_write().fetch_expecting(503).await;
        assert_eq!(
            body["errors"][1]["code"], "service_unavailable",
            "{backend}"
        );
        let body = conversation_write().fetch_expecting(503).await;
        assert_eq!(
            body,
            json!({"error": {"code": 1000, "message": "service temporarily unavailable"}}),
            "{backend}"
        );
        let body = app
            .patch(&format!("/api/v1/ChatSession/{session_id}"))
            .header("Content-Type", "application/merge-patch+json")
            .body(serde_json::to_vec(&json!({"CustomInfo": bulky()})).unwrap())
            .fetch_expecting(503)
            .await;
        assert_eq!(
            body,
            json!({"Error": "service temporarily unavailable", "ErrorType": "ServiceUnavailableException", "ErrorSource": ""}),
            "{backend}"
        );

        // Readiness turns unready (liveness does not); reads still work and
        // nothing changed.
        let body = app
            .anonymous(reqwest::Method::GET, "/readyz")
            .fetch_expecting(503)
            .await;
        assert_eq!(
            body,
            json!({"status": "unavailable", "reason": "storage_full"})
        );
        app.anonymous(reqwest::Method::GET, "/healthz")
            .fetch_expecting(200)
            .await;
        assert_eq!(reads(&app).await, before, "{backend}: data changed");
        let customers = app.store.customers().list(app.tenant.id, None, 100).await;
        assert_eq!(
            customers.unwrap().len(),
            1,
            "{backend}: a customer was created"
        );

        // The log names the cause.
        let code = match backend {
            Backend::Sqlite => "SQLITE_FULL",
            Backend::Postgres => "SQLSTATE 53100 disk_full",
        };
        let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
        assert!(
            text.lines()
                .any(|l| l.contains("storage full") && l.contains(code)),
            "{backend}: no log line names {code}:\n{text}"
        );

        // Space is freed: writes work at once, without a restart...
        match backend {
            Backend::Sqlite => {
                app.store
                    .maintenance()
                    .set_sqlite_max_pages(None)
                    .await
                    .unwrap();
            }
            Backend::Postgres => raw.execute(&pg_full().free()),
        }
        customer_write().fetch_expecting(200).await;
        conversation_write().fetch_expecting(200).await;
        // ...and readiness comes back by itself once no write has failed
        // for a while.
        app.anonymous(reqwest::Method::GET, "/readyz")
            .fetch_expecting(503)
            .await;
        clock.advance(UNREADY_AFTER_DISK_FULL + Duration::from_secs(1));
        app.anonymous(reqwest::Method::GET, "/readyz")
            .fetch_expecting(200)
            .await;
        app.stop().await;
    }
}
