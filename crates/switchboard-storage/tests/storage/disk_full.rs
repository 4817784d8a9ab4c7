//! A full database: writes fail with `StorageError::DiskFull` (never an
//! internal error), nothing of a failed write remains and nothing of a
//! successful one is lost, the store reports itself not ready, and it
//! recovers by itself once space is freed.
//!
//! SQLite is filled for real: the store's own size cap (`PRAGMA
//! max_page_count`) makes SQLite answer `SQLITE_FULL` exactly as a full
//! disk does. PostgreSQL raises its disk-full error (SQLSTATE 53100, with
//! its own message and hint) from a trigger.

use std::time::Duration;

use switchboard_domain::{Actor, Customer};
use switchboard_storage::{
    Clock, Precondition, StorageError, Store, StoreConfig, UNREADY_AFTER_DISK_FULL, WriteContext,
    now,
};

use switchboard_testsupport::RawConnection;
use switchboard_testsupport::faults::PgDiskFull;

use super::harness::{TestDb, config, create_customer};

/// Notes long enough that storing them takes several new pages (the
/// document, its outbox payload and its history diff each spill).
fn long_notes(n: usize) -> String {
    format!("{n}:{}", "x".repeat(9_000))
}

fn disk_full<T: std::fmt::Debug>(label: &str, what: &str, result: Result<T, StorageError>) {
    assert!(
        matches!(&result, Err(StorageError::DiskFull { .. })),
        "{label}: {what}: expected DiskFull, got {result:?}"
    );
}

/// Fills the disk: SQLite is capped at its current size (the cap is
/// returned), PostgreSQL gets `pg`'s triggers.
async fn fill_disk(
    store: &Store,
    db: &TestDb,
    raw: &mut RawConnection,
    pg: &PgDiskFull,
) -> Option<u64> {
    if db.is_sqlite() {
        store
            .maintenance()
            .set_sqlite_max_pages(Some(1))
            .await
            .unwrap()
    } else {
        raw.execute(&pg.fill());
        None
    }
}

/// Frees the space [`fill_disk`] took.
async fn free_disk(store: &Store, db: &TestDb, raw: &mut RawConnection, pg: &PgDiskFull) {
    if db.is_sqlite() {
        store
            .maintenance()
            .set_sqlite_max_pages(None)
            .await
            .unwrap();
    } else {
        raw.execute(&pg.free());
    }
}

/// PostgreSQL's own words for SQLSTATE 53100, raised on every insert or
/// update of a customer while the trigger is installed.
fn pg_full() -> PgDiskFull {
    PgDiskFull::new("INSERT OR UPDATE", &["customers"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_database_refuses_writes_then_recovers_by_itself() {
    for db in TestDb::all() {
        let label = db.label;
        let clock = Clock::manual(now());
        let store = Store::open(
            &db.url,
            StoreConfig {
                clock: clock.clone(),
                ..config()
            },
        )
        .await
        .unwrap();
        let tenant = store.admin().create_tenant("acme").await.unwrap();
        let t = tenant.id;
        let ctx = WriteContext::new(tenant.clone(), Actor::System, "test");
        let mut ids = Vec::new();
        for n in 0..24 {
            let mut draft = Customer::new(t, now());
            draft.name = Some(format!("c{n}"));
            ids.push(store.customers().create(&ctx, draft).await.unwrap().id);
        }
        store.ready().await.unwrap();

        // The disk fills up.
        let mut raw = db.raw();
        let cap = fill_disk(&store, &db, &mut raw, &pg_full()).await;
        if db.is_sqlite() {
            assert!(cap.is_some_and(|pages| pages > 1), "{label}: {cap:?}");
        }

        let mut draft = Customer::new(t, now());
        draft.notes = Some(long_notes(0));
        disk_full(label, "create", store.customers().create(&ctx, draft).await);
        let ready = store.ready().await;
        disk_full(label, "ready", ready);

        // Many writes at once (on SQLite, in shared group commits): each
        // answer tells the truth. A write answered as failed left nothing;
        // a write answered as done is there.
        let writes: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(n, id)| {
                let store = store.clone();
                let ctx = ctx.clone();
                let id = *id;
                tokio::spawn(async move {
                    store
                        .customers()
                        .update(&ctx, id, Precondition::NONE, move |c| {
                            // Every third write is small enough to fit.
                            c.notes = Some(if n % 3 == 0 {
                                format!("small {n}")
                            } else {
                                long_notes(n)
                            });
                        })
                        .await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for w in writes {
            outcomes.push(w.await.unwrap());
        }

        // Space is freed.
        free_disk(&store, &db, &mut raw, &pg_full()).await;
        let mut failed = 0;
        for ((n, id), outcome) in ids.iter().enumerate().zip(outcomes) {
            let stored = store.customers().get(t, *id).await.unwrap();
            match outcome {
                Ok(written) => {
                    assert_eq!(
                        stored, written,
                        "{label}: write {n} answered done, not stored"
                    );
                    assert_eq!(stored.version, 2, "{label}: write {n}");
                }
                Err(e) => {
                    failed += 1;
                    assert!(
                        matches!(e, StorageError::DiskFull { .. }),
                        "{label}: write {n}: {e:?}"
                    );
                    assert_eq!(
                        stored.version, 1,
                        "{label}: write {n} failed but was stored"
                    );
                    assert_eq!(stored.notes, None, "{label}: write {n}");
                    let history = store.customers().history(t, *id, 10).await.unwrap();
                    assert_eq!(history.len(), 1, "{label}: write {n}: {history:?}");
                }
            }
        }
        assert!(failed >= 16, "{label}: only {failed} of 24 writes failed");

        // Writes work again at once; readiness follows once no write has
        // failed for a while (no restart, no write needed).
        let mut draft = Customer::new(t, now());
        draft.notes = Some(long_notes(99));
        store.customers().create(&ctx, draft).await.unwrap();
        disk_full(label, "ready right after", store.ready().await);
        clock.advance(UNREADY_AFTER_DISK_FULL + Duration::from_secs(1));
        store.ready().await.unwrap();
        assert_eq!(
            store.customers().list(t, None, 100).await.unwrap().len(),
            25,
            "{label}"
        );
    }
}

/// PostgreSQL's disk-full error on every new delivery and attempt.
fn pg_deliveries_full() -> PgDiskFull {
    PgDiskFull::new("INSERT", &["deliveries", "delivery_attempts"])
}

/// A full disk is the database's trouble, not an event's: the worker's
/// writes fail with `DiskFull` however often they are tried, no event is
/// quarantined and no attempt is recorded without its details; once space
/// is freed, everything is delivered and recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_quarantines_no_event_and_loses_no_attempt() {
    use switchboard_domain::{EventType, WebhookSubscription};
    use switchboard_storage::{AttemptOutcome, AttemptReport, NextStep};

    const HOOKS: usize = 120;
    const LEASE: Duration = Duration::from_secs(600);
    for db in TestDb::all() {
        let label = db.label;
        let store = Store::open(&db.url, config()).await.unwrap();
        let tenant = store.admin().create_tenant("acme").await.unwrap();
        let t = tenant.id;
        let ctx = WriteContext::new(tenant.clone(), Actor::System, "test");
        // Many subscriptions: one event's fan-out writes many rows, more
        // than fit in the pages the database already has.
        for n in 0..HOOKS {
            store
                .webhooks()
                .create(WebhookSubscription::new(
                    t,
                    format!("https://hooks.example.com/{n}"),
                    EventType::CustomerCreated,
                    "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
                    store.now(),
                ))
                .await
                .unwrap();
        }
        let worker = store.worker();
        create_customer(&store, &ctx).await;
        let claimed = worker
            .fan_out_next("w", 10, Duration::ZERO, Some(LEASE))
            .await
            .unwrap()
            .claimed;
        assert_eq!(claimed.len(), HOOKS, "{label}");
        create_customer(&store, &ctx).await;

        let mut raw = db.raw();
        fill_disk(&store, &db, &mut raw, &pg_deliveries_full()).await;
        for _ in 0..5 {
            let fanned = worker
                .fan_out_next("w", 10, Duration::ZERO, Some(LEASE))
                .await;
            disk_full(label, "fan-out", fanned);
        }
        assert!(worker.quarantined(10).await.unwrap().is_empty(), "{label}");
        assert_eq!(worker.outbox_backlog().await.unwrap(), 1, "{label}");

        let reports: Vec<AttemptReport> = claimed
            .iter()
            .map(|d| AttemptReport {
                delivery_id: d.id,
                started_at: store.now(),
                duration: Duration::from_millis(5),
                status_code: Some(200),
                outcome: AttemptOutcome::Success,
                error: None,
                response_excerpt: Some("x".repeat(500)),
                next: NextStep::Succeeded,
                lease_until: d.lease_until,
            })
            .collect();
        let recorded = worker
            .record_attempts("w", reports.clone(), Duration::from_secs(3600))
            .await;
        disk_full(label, "record", recorded);

        // Space is freed: the same event fans out, the same reports record
        // in full.
        free_disk(&store, &db, &mut raw, &pg_deliveries_full()).await;
        let fanned = worker
            .fan_out_next("w", 10, Duration::ZERO, Some(LEASE))
            .await
            .unwrap();
        assert_eq!((fanned.events, fanned.claimed.len()), (1, HOOKS), "{label}");
        assert!(fanned.failed.is_empty(), "{label}: {:?}", fanned.failed);
        let recorded = worker
            .record_attempts("w", reports, Duration::from_secs(3600))
            .await
            .unwrap();
        assert_eq!(recorded.recorded, HOOKS, "{label}");
        assert!(
            recorded.degraded.is_empty() && recorded.unrecorded.is_empty(),
            "{label}"
        );
    }
}
