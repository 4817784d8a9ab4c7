//! Nothing poisons the webhook pipeline: an attempt that cannot be stored
//! as reported, or an outbox row that cannot be read or fanned out, is
//! isolated, bounded and set aside, and every other row (of every tenant)
//! goes on, on both backends. Rows are poisoned the way a database could
//! hold them: written directly through a raw connection, or refused by a
//! trigger.

use std::time::Duration;

use serde_json::Value;
use switchboard_domain::{EntityKind, EventId, EventType, WebhookSubscription};
use switchboard_storage::{
    AttemptOutcome, AttemptReport, Delivery, DeliveryAttempt, DeliveryState, DueDelivery, FanOut,
    MAX_EXCERPT_BYTES, NextStep, OUTBOX_MAX_TRIES, Store, WriteContext,
};

use super::harness::{
    TestDb, assert_delivery_backlog, claim, create_conversation, events, fan_out_next,
    open_clocked, subscribe, tenant, two_tenants,
};

const LEASE: Duration = Duration::from_secs(60);

/// Creates a conversation (one `conversation_created` event); returns the event's id.
async fn event(store: &Store, ctx: &WriteContext, key: &str) -> EventId {
    let conv = create_conversation(store, ctx, key).await;
    events(
        store,
        ctx.tenant.id,
        EntityKind::Conversation,
        conv.id.get(),
    )
    .await[0]
        .id
}

/// Fans out as worker `w`: up to 100 events, no delay, claimed for [`LEASE`].
async fn fan_out(store: &Store) -> FanOut {
    fan_out_next(store, "w", 100, Duration::ZERO, Some(LEASE)).await
}

/// Tenants `acme` and `globex` and a subscription of each.
type Subscribed = (
    WriteContext,
    WriteContext,
    WebhookSubscription,
    WebhookSubscription,
);

/// Tenants `acme` and `globex`, each subscribed (to every event): their
/// write contexts and subscriptions.
async fn two_subscribed_tenants(store: &Store) -> Subscribed {
    let (acme, globex) = two_tenants(store).await;
    let a = subscribe(store, &acme, "https://a.example/h").await;
    let g = subscribe(store, &globex, "https://g.example/h").await;
    (acme, globex, a, g)
}

/// [`two_subscribed_tenants`], each with three events.
async fn two_tenants_with_events(store: &Store) -> Subscribed {
    let (acme, globex, a, g) = two_subscribed_tenants(store).await;
    for i in 0..3 {
        event(store, &acme, &format!("a-{i}")).await;
        event(store, &globex, &format!("g-{i}")).await;
    }
    (acme, globex, a, g)
}

/// The attempt log and the deliveries of every subscription in `subs`.
async fn attempts_and_deliveries(
    store: &Store,
    subs: [(&WriteContext, &WebhookSubscription); 2],
) -> (Vec<DeliveryAttempt>, Vec<Delivery>) {
    let (mut attempts, mut deliveries) = (Vec::new(), Vec::new());
    for (ctx, sub) in subs {
        let hooks = store.webhooks();
        attempts.extend(
            hooks
                .attempts(ctx.tenant.id, sub.id, None, 100)
                .await
                .unwrap(),
        );
        deliveries.extend(hooks.deliveries(ctx.tenant.id, sub.id, 100).await.unwrap());
    }
    (attempts, deliveries)
}

/// Damages `event`'s payload in place: valid JSON to the database,
/// unreadable to serde_json.
fn poison_payload(db: &TestDb, event: EventId) {
    db.raw().execute(&format!(
        "UPDATE outbox SET payload = '{}' WHERE id = {}",
        too_deep(200),
        event.get()
    ));
}

fn success(store: &Store, d: &DueDelivery, excerpt: &str) -> AttemptReport {
    AttemptReport {
        delivery_id: d.id,
        started_at: store.now(),
        duration: Duration::from_millis(3),
        status_code: Some(200),
        outcome: AttemptOutcome::Success,
        error: None,
        response_excerpt: Some(excerpt.to_string()),
        next: NextStep::Succeeded,
        lease_until: d.lease_until,
    }
}

/// Makes the database refuse every insert into `table` whose `column` is
/// `id`, as a row it cannot store would.
fn refuse_inserts(db: &TestDb, table: &str, column: &str, id: i64) {
    let mut raw = db.raw();
    if db.is_sqlite() {
        raw.execute(&format!(
            "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} WHEN NEW.{column} = {id} \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
        ));
    } else {
        raw.execute(&format!(
            "CREATE FUNCTION refuse_{table}() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$; \
             CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} FOR EACH ROW \
             WHEN (NEW.{column} = {id}) EXECUTE FUNCTION refuse_{table}();"
        ));
    }
}

/// JSON nested `depth` arrays deep: valid JSON that both databases store,
/// but deeper than serde_json reads back (128).
fn too_deep(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_nul_in_an_excerpt_is_stored_sanitised_with_the_rest_of_its_batch() {
    for db in TestDb::all() {
        let label = db.label;
        let (store, _clock) = open_clocked(&db).await;
        let (acme, globex, a, g) = two_tenants_with_events(&store).await;
        let fan = fan_out(&store).await;
        assert_eq!(fan.claimed.len(), 6, "{label}");
        let huge = format!("{}\u{0}{}", "é".repeat(3000), "x".repeat(9000));
        let reports: Vec<AttemptReport> = fan
            .claimed
            .iter()
            .enumerate()
            .map(|(i, d)| match i {
                0 => success(&store, d, "ok\u{0}"),
                1 => success(&store, d, &huge),
                _ => success(&store, d, "ok"),
            })
            .collect();
        let recorded = store
            .worker()
            .record_attempts("w", reports, LEASE)
            .await
            .unwrap_or_else(|e| panic!("{label}: a NUL in one excerpt failed the batch: {e:?}"));
        assert_eq!(recorded.recorded, 6, "{label}: {recorded:?}");
        assert!(recorded.unrecorded.is_empty(), "{label}: {recorded:?}");
        let (attempts, deliveries) =
            attempts_and_deliveries(&store, [(&acme, &a), (&globex, &g)]).await;
        for d in deliveries {
            assert_eq!(d.state, DeliveryState::Succeeded, "{label}: {d:?}");
        }
        let excerpts: Vec<String> = attempts
            .into_iter()
            .map(|a| a.response_excerpt.unwrap())
            .collect();
        assert_eq!(excerpts.len(), 6, "{label}");
        for e in &excerpts {
            assert!(!e.contains('\0'), "{label}: a NUL was stored: {e:?}");
            assert!(e.len() <= MAX_EXCERPT_BYTES, "{label}: {} bytes", e.len());
        }
        assert!(excerpts.contains(&"ok\u{fffd}".to_string()), "{label}");
        assert!(
            excerpts
                .iter()
                .any(|e| e.starts_with("éé") && e.len() > 4000),
            "{label}: the long excerpt is capped, not dropped"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_report_the_database_refuses_never_fails_the_others() {
    for db in TestDb::all() {
        let label = db.label;
        let (store, _clock) = open_clocked(&db).await;
        let (acme, globex, a, g) = two_tenants_with_events(&store).await;
        let fan = fan_out(&store).await;
        let poisoned = fan.claimed[0].id;
        refuse_inserts(&db, "delivery_attempts", "delivery_id", poisoned.get());
        let reports = fan
            .claimed
            .iter()
            .map(|d| success(&store, d, "ok"))
            .collect();
        let recorded = store
            .worker()
            .record_attempts("w", reports, LEASE)
            .await
            .unwrap_or_else(|e| panic!("{label}: one refused row failed the batch: {e:?}"));
        assert_eq!(recorded.recorded, 6, "{label}: {recorded:?}");
        assert_eq!(recorded.degraded, [poisoned], "{label}: {recorded:?}");
        assert!(recorded.unrecorded.is_empty(), "{label}: {recorded:?}");
        let (attempts, deliveries) =
            attempts_and_deliveries(&store, [(&acme, &a), (&globex, &g)]).await;
        for d in deliveries {
            // Even the refused one: its outcome and count were kept.
            assert_eq!(d.state, DeliveryState::Succeeded, "{label}: {d:?}");
            assert_eq!(d.attempt_count, 1, "{label}: {d:?}");
        }
        assert_eq!(
            attempts.len(),
            5,
            "{label}: every other attempt is in the log"
        );
        assert_delivery_backlog(&store, 0, label).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delivery_whose_attempts_cannot_be_recorded_stops_after_its_schedule() {
    const SCHEDULE: u32 = 3;
    for db in TestDb::all() {
        let label = db.label;
        let (store, clock) = open_clocked(&db).await;
        let acme = tenant(&store, "acme").await;
        let a = subscribe(&store, &acme, "https://a.example/h").await;
        event(&store, &acme, "a-0").await;
        let fan = fan_out(&store).await;
        let id = fan.claimed[0].id;
        refuse_inserts(&db, "delivery_attempts", "delivery_id", id.get());

        // A worker: every attempt fails; the schedule allows three.
        let mut due = fan.claimed;
        let mut sent = 0;
        for _ in 0..10 {
            if due.is_empty() {
                break;
            }
            let reports = due
                .iter()
                .map(|d| {
                    sent += 1;
                    let attempts = d.attempt_count + 1;
                    AttemptReport {
                        delivery_id: d.id,
                        started_at: store.now(),
                        duration: Duration::from_millis(3),
                        status_code: Some(500),
                        outcome: AttemptOutcome::HttpError,
                        error: Some("boom".into()),
                        response_excerpt: Some("no".into()),
                        next: if attempts >= SCHEDULE {
                            NextStep::Failed
                        } else {
                            NextStep::RetryAt(store.now())
                        },
                        lease_until: d.lease_until,
                    }
                })
                .collect();
            // Whatever it answers, the worker moves on (as the real one does).
            let _ = store
                .worker()
                .record_attempts("w", reports, Duration::from_secs(3600))
                .await;
            // Past the lease: an unrecorded attempt would be due again.
            clock.advance(LEASE + Duration::from_secs(1));
            due = claim(&store, "w", LEASE, 100).await;
        }
        assert_eq!(sent, SCHEDULE, "{label}: sent {sent} times");
        let d = store
            .webhooks()
            .delivery(acme.tenant.id, a.id, id)
            .await
            .unwrap();
        assert_eq!(
            (d.state, d.attempt_count),
            (DeliveryState::Failed, SCHEDULE),
            "{label}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreadable_outbox_row_is_quarantined_and_later_events_fan_out() {
    for db in TestDb::all() {
        let label = db.label;
        let (store, clock) = open_clocked(&db).await;
        let (acme, globex, _, _) = two_subscribed_tenants(&store).await;
        // Written before the limit existed, or corrupted: valid JSON to the
        // database, unreadable to serde_json.
        let poisoned = event(&store, &acme, "a-0").await;
        poison_payload(&db, poisoned);
        let later = [
            event(&store, &globex, "g-0").await,
            event(&store, &acme, "a-1").await,
        ];

        // The first try: the poisoned row is put back, the others go out.
        let fan = store
            .worker()
            .fan_out_next("w", 100, Duration::ZERO, Some(LEASE))
            .await
            .unwrap_or_else(|e| panic!("{label}: one unreadable row failed the fan-out: {e:?}"));
        let claimed: Vec<EventId> = fan.claimed.iter().map(|d| d.event_id).collect();
        assert_eq!(claimed, later, "{label}");
        assert_eq!(fan.events, 2, "{label}");
        assert_eq!(fan.failed.len(), 1, "{label}: {fan:?}");
        let f = &fan.failed[0];
        assert_eq!(
            (f.event_id, f.tenant_id, f.tries, f.quarantined),
            (poisoned, acme.tenant.id, 1, false),
            "{label}"
        );
        assert!(f.error.contains("payload"), "{label}: {}", f.error);
        assert_eq!(store.worker().outbox_backlog().await.unwrap(), 1, "{label}");

        // Not due again before its delay; then tried until quarantined.
        let again = fan_out(&store).await;
        assert!(again.failed.is_empty() && again.events == 0, "{label}");
        let mut tries = 1;
        while tries < OUTBOX_MAX_TRIES {
            clock.advance(Duration::from_secs(2));
            let fan = fan_out(&store).await;
            tries += 1;
            assert_eq!(fan.failed.len(), 1, "{label}: try {tries}: {fan:?}");
            assert_eq!(fan.failed[0].tries, tries, "{label}");
            assert_eq!(
                fan.failed[0].quarantined,
                tries == OUTBOX_MAX_TRIES,
                "{label}"
            );
        }

        // Set aside: listed for operators, counted, out of the backlog.
        let quarantined = store.worker().quarantined(100).await.unwrap();
        assert_eq!(quarantined.len(), 1, "{label}");
        let q = &quarantined[0];
        assert_eq!(
            (q.id, q.tenant_id, q.event_type.as_str(), q.tries),
            (
                poisoned,
                acme.tenant.id,
                "conversation_created",
                OUTBOX_MAX_TRIES
            ),
            "{label}"
        );
        assert!(
            q.error.as_deref().unwrap_or_default().contains("payload"),
            "{label}: {q:?}"
        );
        let count = store.worker().quarantined_count().await;
        assert_eq!(count.unwrap(), 1, "{label}");
        assert_eq!(store.worker().outbox_backlog().await.unwrap(), 0, "{label}");
        clock.advance(Duration::from_secs(3600));
        let fan = fan_out(&store).await;
        assert!(fan.failed.is_empty() && fan.events == 0, "{label}: {fan:?}");

        // New events of the same tenant fan out as usual.
        let next = event(&store, &acme, "a-2").await;
        let fan = fan_out(&store).await;
        assert_eq!(fan.claimed[0].event_id, next, "{label}");

        // The samples leave it out instead of failing.
        let samples: Vec<Value> = store
            .webhooks()
            .recent_payloads(acme.tenant.id, EventType::ConversationCreated, 10)
            .await
            .unwrap();
        assert_eq!(samples.len(), 2, "{label}");

        // Requeued, it gets fresh tries (and fails again here).
        assert!(store.worker().requeue(poisoned).await.unwrap(), "{label}");
        assert!(!store.worker().requeue(poisoned).await.unwrap(), "{label}");
        let count = store.worker().quarantined_count().await;
        assert_eq!(count.unwrap(), 0, "{label}");
        let fan = fan_out(&store).await;
        assert_eq!(
            fan.failed
                .iter()
                .map(|f| (f.event_id, f.tries))
                .collect::<Vec<_>>(),
            [(poisoned, 1)],
            "{label}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_outbox_row_whose_fan_out_fails_is_isolated_and_quarantined() {
    for db in TestDb::all() {
        let label = db.label;
        let (store, clock) = open_clocked(&db).await;
        let (acme, globex, _, _) = two_subscribed_tenants(&store).await;
        let first = event(&store, &globex, "g-0").await;
        let poisoned = event(&store, &acme, "a-0").await;
        let last = event(&store, &globex, "g-1").await;
        // Readable, but its deliveries cannot be written.
        refuse_inserts(&db, "deliveries", "outbox_id", poisoned.get());

        let mut fanned = Vec::new();
        for tries in 1..=OUTBOX_MAX_TRIES {
            let fan = store
                .worker()
                .fan_out_next("w", 100, Duration::ZERO, Some(LEASE))
                .await
                .unwrap_or_else(|e| panic!("{label}: try {tries}: {e:?}"));
            fanned.extend(fan.claimed.iter().map(|d| d.event_id));
            assert_eq!(fan.failed.len(), 1, "{label}: try {tries}: {fan:?}");
            assert_eq!(
                (
                    fan.failed[0].event_id,
                    fan.failed[0].tries,
                    fan.failed[0].quarantined
                ),
                (poisoned, tries, tries == OUTBOX_MAX_TRIES),
                "{label}"
            );
            clock.advance(Duration::from_secs(2));
        }
        assert_eq!(fanned, [first, last], "{label}");
        assert_eq!(store.worker().outbox_backlog().await.unwrap(), 0, "{label}");
        let q = store.worker().quarantined(10).await.unwrap();
        assert_eq!(q.len(), 1, "{label}");
        assert!(
            q[0].error
                .as_deref()
                .unwrap_or_default()
                .contains("refused by the test"),
            "{label}: {q:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delivery_whose_event_cannot_be_read_never_blocks_claims() {
    for db in TestDb::all() {
        let label = db.label;
        let (store, clock) = open_clocked(&db).await;
        let (acme, globex, a, _) = two_subscribed_tenants(&store).await;
        let poisoned = event(&store, &acme, "a-0").await;
        let other = event(&store, &globex, "g-0").await;
        // Fanned out for later, then the event is damaged.
        fan_out_next(&store, "w", 100, Duration::from_secs(5), None).await;
        poison_payload(&db, poisoned);
        clock.advance(Duration::from_secs(10));
        let due = store
            .worker()
            .claim_deliveries("w", LEASE, 100)
            .await
            .unwrap_or_else(|e| panic!("{label}: one unreadable event failed the claim: {e:?}"));
        assert_eq!(
            due.iter().map(|d| d.event_id).collect::<Vec<_>>(),
            [other],
            "{label}"
        );
        let d = &store
            .webhooks()
            .deliveries(acme.tenant.id, a.id, 10)
            .await
            .unwrap()[0];
        assert_eq!(d.state, DeliveryState::Failed, "{label}: {d:?}");
        let log = store
            .webhooks()
            .attempts(acme.tenant.id, a.id, None, 10)
            .await
            .unwrap();
        assert_eq!(log.len(), 1, "{label}");
        assert_eq!(log[0].outcome, "refused", "{label}");
    }
}
