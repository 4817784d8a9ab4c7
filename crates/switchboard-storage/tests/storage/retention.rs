//! Retention: finished work goes once it is old enough, unfinished work
//! never does, ids are not reused, and the database stops growing under a
//! steady load, on both backends.

use std::time::Duration;

use switchboard_domain::{Actor, Customer, EventType, Timestamp, WebhookSubscription};
use switchboard_storage::{
    AttemptOutcome, AttemptReport, Clock, DueDelivery, NextStep, Precondition, Pruned, Pruner,
    Retention, SqliteSync, Store, StoreConfig, WriteContext, now,
};
use switchboard_testsupport::RawConnection;

use super::harness::{TestDb, claim, config, create_customer, draft, fan_out_next};

const DAY: Duration = Duration::from_secs(24 * 3600);
const LEASE: Duration = Duration::from_secs(60);

async fn clocked(db: &TestDb, sync: SqliteSync) -> (Store, Clock) {
    let clock = Clock::manual(now());
    let store = Store::open(
        &db.url,
        StoreConfig {
            clock: clock.clone(),
            sqlite_synchronous: sync,
            ..config()
        },
    )
    .await
    .unwrap();
    (store, clock)
}

async fn subscribe(store: &Store, ctx: &WriteContext, event: EventType) -> WebhookSubscription {
    store
        .webhooks()
        .create(WebhookSubscription::new(
            ctx.tenant.id,
            format!("https://hooks.example.com/{}", event.as_str()),
            event,
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            store.now(),
        ))
        .await
        .unwrap()
}

/// Fans out every due event, leasing the new deliveries.
async fn fan_out(store: &Store) -> Vec<DueDelivery> {
    fan_out_next(store, "w", 10_000, Duration::ZERO, Some(LEASE))
        .await
        .claimed
}

/// Records one attempt of each delivery: `next` says what follows.
async fn attempt(store: &Store, deliveries: &[DueDelivery], next: NextStep) {
    let reports = deliveries
        .iter()
        .map(|d| AttemptReport {
            delivery_id: d.id,
            started_at: store.now(),
            duration: Duration::from_millis(5),
            status_code: Some(if next == NextStep::Succeeded {
                200
            } else {
                500
            }),
            outcome: if next == NextStep::Succeeded {
                AttemptOutcome::Success
            } else {
                AttemptOutcome::HttpError
            },
            error: None,
            response_excerpt: Some("ok".into()),
            next,
            lease_until: d.lease_until,
        })
        .collect();
    let recorded = store
        .worker()
        .record_attempts("w", reports, 1000 * DAY)
        .await
        .unwrap();
    assert_eq!(recorded.recorded, deliveries.len());
}

/// Sets outbox row `id` aside as the worker does with an event it cannot
/// fan out: unprocessed and quarantined.
fn quarantine(raw: &mut RawConnection, id: i64) {
    raw.execute(&format!(
        "UPDATE outbox SET processed_at = NULL, claimed_by = NULL, fan_out_failures = 3, \
         quarantined_at = created_at WHERE id = {id}"
    ));
}

/// The ids of `table`, ascending.
fn ids(raw: &mut RawConnection, table: &str) -> Vec<i64> {
    let q = format!("SELECT CAST(id AS TEXT) AS line FROM {table} ORDER BY id");
    raw.lines(&q, &q)
        .iter()
        .map(|l| l.parse().unwrap())
        .collect()
}

fn max_id(raw: &mut RawConnection, table: &str) -> i64 {
    ids(raw, table).last().copied().unwrap_or(0)
}

async fn prune(store: &Store, retention: Retention) -> Pruned {
    // A small batch, so that a round takes several steps.
    let mut pruner = Pruner::new(retention, 2);
    store.maintenance().prune_all(&mut pruner).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn finished_work_goes_when_old_enough_and_unfinished_work_stays() {
    for db in TestDb::all() {
        let label = db.label;
        let (store, clock) = clocked(&db, SqliteSync::Full).await;
        let mut raw = db.raw();
        let tenant = store.admin().create_tenant("acme").await.unwrap();
        let t = tenant.id;
        let ctx = WriteContext::new(tenant.clone(), Actor::System, "test");
        let created_hook = subscribe(&store, &ctx, EventType::CustomerCreated).await;
        let updated_hook = subscribe(&store, &ctx, EventType::CustomerUpdated).await;

        // e1 customer_created -> d1 (delivered), e2 customer_updated -> d2
        // (failing, retried later), e3..e5 conversation_created without a
        // subscriber; e4 is then quarantined (left unprocessed, as the
        // worker leaves an event it cannot fan out).
        let customer = create_customer(&store, &ctx).await;
        store
            .customers()
            .update(&ctx, customer.id, Precondition::NONE, |c| {
                c.name = Some("Ada".into());
            })
            .await
            .unwrap();
        for n in 3..=5 {
            store
                .conversations()
                .create(&ctx, draft(t, &format!("s-{n}")))
                .await
                .unwrap();
        }
        let claimed = fan_out(&store).await;
        assert_eq!(claimed.len(), 2, "{label}");
        let (d1, d2) = (&claimed[0], &claimed[1]);
        attempt(&store, std::slice::from_ref(d1), NextStep::Succeeded).await;
        attempt(
            &store,
            std::slice::from_ref(d2),
            NextStep::RetryAt(Timestamp::from_millis(store.now().as_millis() + 3_600_000)),
        )
        .await;
        let events = ids(&mut raw, "outbox");
        assert_eq!(events.len(), 5, "{label}");
        let (e1, e2, e3, e4, e5) = (events[0], events[1], events[2], events[3], events[4]);
        quarantine(&mut raw, e4);
        let history_before = ids(&mut raw, "change_history");
        let max_attempt = max_id(&mut raw, "delivery_attempts");

        // Nothing is old enough yet.
        clock.advance(29 * DAY);
        assert_eq!(
            prune(&store, Retention::default()).await,
            Pruned::default(),
            "{label}"
        );

        // 31 days: the delivered delivery goes with its attempt, and the
        // events without deliveries left; the pending delivery and its
        // event, the quarantined event and the newest event stay. History
        // is kept for 90 days.
        clock.advance(2 * DAY);
        let pruned = prune(&store, Retention::default()).await;
        assert_eq!(
            pruned,
            Pruned {
                events: 2,
                deliveries: 1,
                attempts: 1,
                history: 0
            },
            "{label}"
        );
        assert_eq!(ids(&mut raw, "outbox"), [e2, e4, e5], "{label}: {e1} {e3}");
        assert_eq!(ids(&mut raw, "deliveries"), [d2.id.get()], "{label}");
        let log = store.webhooks().deliveries(t, created_hook.id, 100).await;
        assert!(log.unwrap().is_empty(), "{label}");
        assert_eq!(
            store
                .webhooks()
                .attempts(t, updated_hook.id, None, 100)
                .await
                .unwrap()
                .len(),
            1,
            "{label}"
        );
        assert_eq!(ids(&mut raw, "change_history"), history_before, "{label}");
        // A second round finds nothing more.
        assert_eq!(
            prune(&store, Retention::default()).await,
            Pruned::default(),
            "{label}"
        );

        // The pending delivery succeeds later; a newer delivery follows.
        let due = claim(&store, "w", LEASE, 10).await;
        assert_eq!(due.len(), 1, "{label}");
        attempt(&store, &due, NextStep::Succeeded).await;
        store
            .customers()
            .update(&ctx, customer.id, Precondition::NONE, |c| {
                c.name = Some("Ada L.".into());
            })
            .await
            .unwrap();
        let newer = fan_out(&store).await;
        attempt(&store, &newer, NextStep::Succeeded).await;

        // 31 days after that, d2 and its event go, and e5 (no longer the
        // newest event); the newest delivery (and its event) stays, so
        // that no id is reused.
        clock.advance(31 * DAY);
        let pruned = prune(&store, Retention::default()).await;
        assert_eq!(
            (pruned.deliveries, pruned.attempts, pruned.events),
            (1, 2, 2),
            "{label}: {pruned:?}"
        );
        assert_eq!(ids(&mut raw, "deliveries"), [newer[0].id.get()], "{label}");
        assert!(!ids(&mut raw, "outbox").contains(&e2), "{label}");
        assert!(
            ids(&mut raw, "outbox").contains(&e4),
            "{label}: quarantined, never pruned"
        );

        // 90 days: history goes too, but for its newest row.
        clock.advance(60 * DAY);
        let pruned = prune(&store, Retention::default()).await;
        let history = ids(&mut raw, "change_history");
        assert_eq!(history.len(), 1, "{label}: {history:?}");
        assert_eq!(
            pruned.history as usize,
            history_before.len() + 1 - 1,
            "{label}"
        );

        // Keep-forever keeps everything.
        clock.advance(1000 * DAY);
        assert_eq!(
            prune(&store, Retention::FOREVER).await,
            Pruned::default(),
            "{label}"
        );

        // No id comes back.
        let (max_event, max_delivery) =
            (max_id(&mut raw, "outbox"), max_id(&mut raw, "deliveries"));
        let max_history = max_id(&mut raw, "change_history");
        store
            .customers()
            .update(&ctx, customer.id, Precondition::NONE, |c| {
                c.name = Some("Ada Lovelace".into());
            })
            .await
            .unwrap();
        let last = fan_out(&store).await;
        attempt(&store, &last, NextStep::Succeeded).await;
        assert_eq!(last.len(), 1, "{label}");
        assert!(last[0].id.get() > max_delivery, "{label}");
        assert!(last[0].event_id.get() > max_event, "{label}");
        assert!(max_id(&mut raw, "change_history") > max_history, "{label}");
        assert!(
            max_id(&mut raw, "delivery_attempts") > max_attempt + 2,
            "{label}"
        );
    }
}

/// One hour of a steady load: `updates` customer updates (each with a
/// kilobyte of notes), every event delivered, then an hour passes.
async fn an_hour(
    store: &Store,
    clock: &Clock,
    ctx: &WriteContext,
    customers: &[Customer],
    hour: usize,
) {
    for (n, customer) in customers.iter().enumerate() {
        store
            .customers()
            .update(ctx, customer.id, Precondition::NONE, move |c| {
                c.notes = Some(format!("{hour}-{n}-{}", "x".repeat(1000)));
            })
            .await
            .unwrap();
    }
    let claimed = fan_out(store).await;
    assert_eq!(claimed.len(), customers.len());
    attempt(store, &claimed, NextStep::Succeeded).await;
    clock.advance(Duration::from_secs(3600));
}

/// The store's size after `retention` was applied (and, on PostgreSQL,
/// after the vacuum its autovacuum would run, which a test cannot wait for).
async fn size_after_pruning(store: &Store, raw: &mut RawConnection, retention: Retention) -> u64 {
    let mut pruner = Pruner::new(retention, 100);
    store.maintenance().prune_all(&mut pruner).await.unwrap();
    while store.maintenance().reclaim_space(1000).await.unwrap() > 0 {}
    if let RawConnection::Pg(_) = raw {
        raw.execute("VACUUM outbox, deliveries, delivery_attempts, change_history, customers");
    }
    store.maintenance().database_size().await.unwrap()
}

/// A soak test: the same steady load on two stores, one keeping six hours
/// of finished work, one keeping everything. The first levels off; the
/// second keeps growing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_a_steady_load_the_database_levels_off() {
    const HOURS: usize = 30;
    const PER_HOUR: usize = 30;
    let six_hours = Some(Duration::from_secs(6 * 3600));
    let short = Retention {
        events: six_hours,
        deliveries: six_hours,
        history: six_hours,
    };
    let started = std::time::Instant::now();
    for (db, control) in TestDb::all().into_iter().map(|db| {
        let control = if db.is_sqlite() {
            Some(TestDb::sqlite())
        } else {
            TestDb::postgres()
        };
        (db, control.unwrap())
    }) {
        let label = db.label;
        let mut sizes = Vec::new();
        let mut control_size = 0;
        for (db, retention) in [(&db, short), (&control, Retention::FOREVER)] {
            let (store, clock) = clocked(db, SqliteSync::Normal).await;
            let mut raw = db.raw();
            let tenant = store.admin().create_tenant("acme").await.unwrap();
            let ctx = WriteContext::new(tenant.clone(), Actor::System, "test");
            subscribe(&store, &ctx, EventType::CustomerUpdated).await;
            let mut customers = Vec::new();
            for _ in 0..PER_HOUR {
                let c = create_customer(&store, &ctx).await;
                customers.push(c);
            }
            fan_out(&store).await;
            for hour in 0..HOURS {
                an_hour(&store, &clock, &ctx, &customers, hour).await;
                let size = size_after_pruning(&store, &mut raw, retention).await;
                if retention == short {
                    sizes.push(size);
                } else {
                    control_size = size;
                }
            }
            if retention == short {
                // About six hours of rows remain.
                let events = ids(&mut raw, "outbox").len();
                assert!(events <= 8 * PER_HOUR, "{label}: {events} events kept");
                assert!(
                    ids(&mut raw, "change_history").len() <= 8 * PER_HOUR,
                    "{label}"
                );
                assert!(
                    ids(&mut raw, "delivery_attempts").len() <= 8 * PER_HOUR,
                    "{label}"
                );
            }
        }
        // Levelled off: from the 12th hour on, the size stays within 15%
        // of what it was then, while the load writes as much every hour.
        let settled = sizes[11];
        let most = sizes[11..].iter().copied().max().unwrap();
        assert!(
            most * 100 <= settled * 115,
            "{label}: still growing: {sizes:?}"
        );
        // Without retention, the same load keeps growing.
        assert!(
            control_size > 2 * sizes[HOURS - 1],
            "{label}: {control_size} kept forever vs {sizes:?}"
        );
        eprintln!(
            "{label}: sizes {sizes:?}; kept forever: {control_size} ({:?})",
            started.elapsed()
        );
    }
}

/// SQLite gives the space of pruned rows back to the file system: a new
/// database uses incremental vacuum. A database created before keeps its
/// mode; its free pages are reused, and nothing is given back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_gives_the_space_of_pruned_rows_back() {
    let fresh = TestDb::sqlite();
    let old = TestDb::sqlite();
    // A database from before: created without incremental vacuum.
    old.raw()
        .execute("PRAGMA journal_mode = WAL; CREATE TABLE legacy (a INTEGER);");
    for (db, vacuums) in [(&fresh, true), (&old, false)] {
        let (store, clock) = clocked(db, SqliteSync::Normal).await;
        let mut raw = db.raw();
        let mode = raw.lines(
            "SELECT CAST(auto_vacuum AS TEXT) AS line FROM pragma_auto_vacuum",
            "",
        );
        assert_eq!(mode, [if vacuums { "2" } else { "0" }]);
        let tenant = store.admin().create_tenant("acme").await.unwrap();
        let ctx = WriteContext::new(tenant.clone(), Actor::System, "test");
        for n in 0..200 {
            let mut c = Customer::new(tenant.id, store.now());
            c.notes = Some(format!("{n}-{}", "x".repeat(5000)));
            store.customers().create(&ctx, c).await.unwrap();
        }
        fan_out(&store).await;
        let full = store.maintenance().database_size().await.unwrap();

        clock.advance(100 * DAY);
        let pruned = prune(&store, Retention::default()).await;
        assert_eq!((pruned.events, pruned.history), (199, 199), "{pruned:?}");
        let mut given_back = 0;
        loop {
            let n = store.maintenance().reclaim_space(100).await.unwrap();
            if n == 0 {
                break;
            }
            given_back += n;
        }
        let after = store.maintenance().database_size().await.unwrap();
        if vacuums {
            assert!(given_back > 100, "{given_back} pages");
            assert!(after * 2 < full, "{after} bytes of {full}");
        } else {
            assert_eq!(given_back, 0);
            assert_eq!(after, full);
            // The free pages are reused: the same load again does not grow it.
            for n in 0..150 {
                let mut c = Customer::new(tenant.id, store.now());
                c.notes = Some(format!("again {n}-{}", "x".repeat(5000)));
                store.customers().create(&ctx, c).await.unwrap();
            }
            let again = store.maintenance().database_size().await.unwrap();
            assert!(again <= full + full / 10, "{again} bytes, was {full}");
        }
    }
}
