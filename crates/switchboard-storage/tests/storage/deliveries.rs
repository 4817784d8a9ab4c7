//! Webhook deliveries: fan-out, leased claiming, attempt records and the
//! subscription health rules, on both backends.

use std::collections::BTreeSet;
use std::time::Duration;

use switchboard_domain::{
    ConversationId, EventType, SubscriptionId, SubscriptionState, Timestamp, WebhookSubscription,
};
use switchboard_storage::{
    AttemptOutcome, AttemptReport, DeliveryId, DeliveryState, DueDelivery, NextStep, Precondition,
    Recorded, StorageError, Store, WriteContext, now,
};

use super::harness::{
    TestDb, assert_delivery_backlog, assert_not_found, claim, create_conversation, draft,
    fan_out_next, for_each_backend, for_each_backend_clocked, for_each_tenant, open, subscribe,
    subscribe_to, tenant, two_tenants,
};

const LONG: Duration = Duration::from_secs(60);
const FIVE_DAYS: Duration = Duration::from_secs(5 * 24 * 3600);

/// Creates conversations (one `conversation_created` event each) and
/// fans out every due event as worker `w`.
async fn events_fanned(
    store: &Store,
    ctx: &WriteContext,
    prefix: &str,
    n: usize,
    claim: Option<Duration>,
) -> switchboard_storage::FanOut {
    for i in 0..n {
        create_conversation(store, ctx, &format!("{prefix}-{i}")).await;
    }
    fan_out_next(store, "w", 1000, Duration::ZERO, claim).await
}

/// Two subscriptions of `ctx`'s tenant, `gone` and `flaky`, and the two
/// deliveries of each (two events fanned out and leased to `w`).
async fn gone_and_flaky(
    store: &Store,
    ctx: &WriteContext,
) -> (
    WebhookSubscription,
    Vec<DueDelivery>,
    WebhookSubscription,
    Vec<DueDelivery>,
) {
    let gone = subscribe(store, ctx, "https://gone.example/h").await;
    let flaky = subscribe(store, ctx, "https://flaky.example/h").await;
    let fan = events_fanned(store, ctx, "x", 2, Some(LONG)).await;
    let of = |sub: SubscriptionId| -> Vec<DueDelivery> {
        fan.claimed
            .iter()
            .filter(|d| d.subscription.id == sub)
            .cloned()
            .collect()
    };
    let (gone_d, flaky_d) = (of(gone.id), of(flaky.id));
    (gone, gone_d, flaky, flaky_d)
}

fn report(
    store: &Store,
    d: &DueDelivery,
    outcome: AttemptOutcome,
    status: Option<u16>,
    next: NextStep,
) -> AttemptReport {
    AttemptReport {
        delivery_id: d.id,
        started_at: store.now(),
        duration: Duration::from_millis(12),
        status_code: status,
        outcome,
        error: (outcome != AttemptOutcome::Success).then(|| "boom".to_string()),
        response_excerpt: Some("body".into()),
        next,
        lease_until: d.lease_until,
    }
}

/// A successful attempt of `d` (200).
fn success(store: &Store, d: &DueDelivery) -> AttemptReport {
    report(
        store,
        d,
        AttemptOutcome::Success,
        Some(200),
        NextStep::Succeeded,
    )
}

/// An attempt of `d` answered with the error `status`, then `next`.
fn http_error(store: &Store, d: &DueDelivery, status: u16, next: NextStep) -> AttemptReport {
    report(store, d, AttemptOutcome::HttpError, Some(status), next)
}

/// A retry a minute after the store's now.
fn in_a_minute(store: &Store) -> NextStep {
    NextStep::RetryAt(Timestamp::from_millis(store.now().as_millis() + 60_000))
}

/// Records `reports` as `worker`; a subscription failing for longer than
/// `disable_after` is disabled.
async fn record(
    store: &Store,
    worker: &str,
    reports: Vec<AttemptReport>,
    disable_after: Duration,
) -> Recorded {
    store
        .worker()
        .record_attempts(worker, reports, disable_after)
        .await
        .unwrap()
}

/// Each event of conversation `id`, oldest first, and whether it is done
/// (processed) already.
async fn done_when_written(
    store: &Store,
    ctx: &WriteContext,
    id: ConversationId,
) -> Vec<(EventType, bool)> {
    store
        .conversations()
        .events(ctx.tenant.id, id)
        .await
        .unwrap()
        .iter()
        .map(|e| (e.event.event_type, e.processed_at.is_some()))
        .collect()
}

/// Creates a conversation with a visitor email for `ctx`, whose tenant
/// subscribes to `conversation_created` only: of the insert's two events,
/// `conversation_created` waits and `email_updated` is done when written.
async fn created_with_an_email_is_decided_row_by_row(
    store: &Store,
    ctx: &WriteContext,
    label: &str,
) {
    let mut with_email = draft(ctx.tenant.id, "with-email");
    with_email.visitor.email = Some("ada@example.com".into());
    let both = store.conversations().create(ctx, with_email).await.unwrap();
    assert_eq!(
        done_when_written(store, ctx, both.id).await,
        [
            (EventType::ConversationCreated, false),
            (EventType::EmailUpdated, true)
        ],
        "{label}"
    );
}

/// An event that no active subscription of its tenant and type matches when
/// it is written is done at once (migration `outbox_unmatched`): the worker
/// never takes it, yet it stays in the outbox for the samples. One that a
/// subscription matches waits for fan-out as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_nobody_subscribed_to_are_done_when_written() {
    for_each_backend(|store, label| async move {
        let (ctx, other) = two_tenants(&store).await;
        let sub = subscribe(&store, &ctx, "https://a.example/h").await;
        // Created: ctx's subscription matches; other's tenant has none.
        let mine = create_conversation(&store, &ctx, "mine").await;
        create_conversation(&store, &other, "theirs").await;
        // Updated: a type nobody subscribed to.
        store
            .conversations()
            .update(&ctx, mine.id, Precondition::NONE, |c| c.rating = Some(4))
            .await
            .unwrap();
        assert_eq!(store.worker().outbox_backlog().await.unwrap(), 1, "{label}");
        assert_eq!(
            done_when_written(&store, &ctx, mine.id).await,
            [
                (EventType::ConversationCreated, false),
                (EventType::ConversationUpdated, true)
            ],
            "{label}"
        );
        for tenant in [ctx.tenant.id, other.tenant.id] {
            let samples = store
                .webhooks()
                .recent_payloads(tenant, EventType::ConversationCreated, 10)
                .await
                .unwrap();
            assert_eq!(samples.len(), 1, "{label}: the rows stay");
        }

        let fan = fan_out_next(&store, "w", 10, Duration::ZERO, Some(LONG)).await;
        assert_eq!((fan.events, fan.deliveries), (1, 1), "{label}");
        assert_eq!(fan.claimed[0].subscription.id, sub.id, "{label}");

        // Unsubscribed: new events wait for nobody.
        store
            .webhooks()
            .delete(ctx.tenant.id, sub.id)
            .await
            .unwrap();
        create_conversation(&store, &ctx, "later").await;
        assert_eq!(store.worker().outbox_backlog().await.unwrap(), 0, "{label}");

        // The events of one write are decided row by row: a created
        // conversation with a visitor email is `conversation_created`
        // (subscribed again) and `email_updated` (not) in one insert.
        subscribe(&store, &ctx, "https://b.example/h").await;
        created_with_an_email_is_decided_row_by_row(&store, &ctx, label).await;
    })
    .await;
}

/// On SQLite too the outbox insert decides by itself; the trigger
/// `outbox_unmatched`, which marked an unmatched row in a second step, is
/// only kept for rows inserted otherwise. With it dropped, an event nobody
/// subscribed to is still done when written, one a subscription matches
/// still waits, and the rows of one insert are still decided row by row.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_outbox_inserts_decide_without_the_trigger() {
    let db = TestDb::sqlite();
    let store = open(&db).await;
    db.raw().execute("DROP TRIGGER outbox_unmatched");
    let (ctx, other) = two_tenants(&store).await;
    subscribe(&store, &ctx, "https://a.example/h").await;
    let mine = create_conversation(&store, &ctx, "mine").await;
    let theirs = create_conversation(&store, &other, "theirs").await;
    assert_eq!(
        done_when_written(&store, &ctx, mine.id).await,
        [(EventType::ConversationCreated, false)]
    );
    assert_eq!(
        done_when_written(&store, &other, theirs.id).await,
        [(EventType::ConversationCreated, true)]
    );
    created_with_an_email_is_decided_row_by_row(&store, &ctx, "sqlite").await;
    assert_eq!(store.worker().outbox_backlog().await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fan_out_matches_tenant_event_and_subscription_age() {
    for_each_backend_clocked(|store, label, clock| async move {
        let (ctx, other) = two_tenants(&store).await;
        // No subscription: the events are done when written; fan-out has
        // nothing to take.
        let fan = events_fanned(&store, &ctx, "none", 2, Some(LONG)).await;
        assert_eq!((fan.events, fan.deliveries), (0, 0), "{label}");
        assert_eq!(store.worker().outbox_backlog().await.unwrap(), 0, "{label}");

        let a = subscribe(&store, &ctx, "https://a.example/h").await;
        let b = subscribe(&store, &ctx, "https://b.example/h").await;
        let _wrong_event = subscribe_to(
            &store,
            &ctx,
            EventType::CustomerCreated,
            "https://c.example/h",
        )
        .await;
        let _other_tenant = subscribe(&store, &other, "https://d.example/h").await;
        let _e = subscribe(&store, &ctx, "https://e.example/h").await;

        let fan = events_fanned(&store, &ctx, "x", 3, Some(LONG)).await;
        assert_eq!(fan.events, 3, "{label}");
        // 3 events x 3 active matching subscriptions (a, b, e)
        assert_eq!(fan.deliveries, 9, "{label}");
        assert_eq!(fan.claimed.len(), 9, "{label}");
        let subs: BTreeSet<i64> = fan
            .claimed
            .iter()
            .map(|d| d.subscription.id.get())
            .collect();
        assert!(
            subs.contains(&a.id.get()) && subs.contains(&b.id.get()),
            "{label}"
        );
        let ids: BTreeSet<String> = fan.claimed.iter().map(|d| d.message_id.clone()).collect();
        assert_eq!(ids.len(), 9, "{label}: message ids are unique");
        for d in &fan.claimed {
            assert!(d.message_id.starts_with("msg_"), "{label}");
            assert_eq!(d.event_type, EventType::ConversationCreated, "{label}");
            assert_eq!(d.payload["event"], "conversation_created", "{label}");
            assert_eq!(d.attempt_count, 0, "{label}");
            assert!(
                d.lease_until.as_millis() > store.now().as_millis() + 50_000,
                "{label}"
            );
        }
        // Leased to the fan-out worker: nobody else can claim them.
        assert!(
            claim(&store, "other", LONG, 100).await.is_empty(),
            "{label}"
        );
        assert_delivery_backlog(&store, 9, label).await;

        // Fanning out again creates nothing (the events are processed).
        let again = fan_out_next(&store, "w", 10, Duration::ZERO, Some(LONG)).await;
        assert_eq!((again.events, again.deliveries), (0, 0), "{label}");

        // A first delay: created pending but not claimed, due later.
        create_conversation(&store, &ctx, "y-0").await;
        let delayed = fan_out_next(&store, "w1", 10, Duration::from_secs(30), Some(LONG)).await;
        assert_eq!(
            (delayed.events, delayed.deliveries, delayed.claimed.len()),
            (1, 3, 0),
            "{label}"
        );
        assert!(
            claim(&store, "other", LONG, 100).await.is_empty(),
            "{label}"
        );

        // A subscription created after an event does not receive it.
        create_conversation(&store, &ctx, "z-0").await;
        clock.advance(Duration::from_millis(5));
        let late = subscribe(&store, &ctx, "https://late.example/h").await;
        let fan = fan_out_next(&store, "w", 10, Duration::ZERO, Some(LONG)).await;
        assert_eq!(fan.events, 1, "{label}");
        assert!(
            fan.claimed.iter().all(|d| d.subscription.id != late.id),
            "{label}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attempts_retry_complete_fail_and_release() {
    for_each_tenant(|store, label, ctx| async move {
        let sub = subscribe(&store, &ctx, "https://a.example/h").await;
        let fan = events_fanned(&store, &ctx, "x", 4, Some(LONG)).await;
        let [d1, d2, d3, d4] = <[DueDelivery; 4]>::try_from(fan.claimed).unwrap();

        // d1: 500 -> retry at once; d2: success; d3: failed for good; d4: released.
        let recorded = record(
            &store,
            "w",
            vec![
                http_error(&store, &d1, 500, NextStep::RetryAt(store.now())),
                success(&store, &d2),
                report(&store, &d3, AttemptOutcome::Timeout, None, NextStep::Failed),
            ],
            FIVE_DAYS,
        )
        .await;
        assert_eq!(recorded.recorded, 3, "{label}");
        assert!(
            recorded.disabled.is_empty() && recorded.deleted.is_empty(),
            "{label}"
        );
        // Only the lease holder releases it.
        for (worker, released) in [("someone-else", 0), ("w", 1)] {
            let n = store.worker().release_deliveries(worker, &[d4.id]).await;
            assert_eq!(n.unwrap(), released, "{label}");
        }

        // d1 and d4 are due again; the retry carries the attempt count.
        let due = claim(&store, "w2", LONG, 100).await;
        let mut got: Vec<(DeliveryId, u32)> = due.iter().map(|d| (d.id, d.attempt_count)).collect();
        got.sort();
        assert_eq!(got, vec![(d1.id, 1), (d4.id, 0)], "{label}");
        assert_eq!(
            due[0].message_id,
            if due[0].id == d1.id {
                d1.message_id.clone()
            } else {
                d4.message_id.clone()
            },
            "{label}"
        );
        assert!(claim(&store, "w3", LONG, 100).await.is_empty(), "{label}");

        let states: Vec<(DeliveryId, DeliveryState, u32, Option<u16>)> = store
            .webhooks()
            .deliveries(ctx.tenant.id, sub.id, 100)
            .await
            .unwrap()
            .iter()
            .map(|d| (d.id, d.state, d.attempt_count, d.last_status_code))
            .collect();
        assert!(
            states.contains(&(d2.id, DeliveryState::Succeeded, 1, Some(200))),
            "{label}: {states:?}"
        );
        assert!(
            states.contains(&(d3.id, DeliveryState::Failed, 1, None)),
            "{label}: {states:?}"
        );
        assert!(
            states.contains(&(d1.id, DeliveryState::Pending, 1, Some(500))),
            "{label}: {states:?}"
        );
        assert_delivery_backlog(&store, 2, label).await;

        // A retry scheduled in the future is not due.
        let d1 = due.iter().find(|d| d.id == d1.id).unwrap().clone();
        let later = Timestamp::from_millis(store.now().as_millis() + 60_000);
        record(
            &store,
            "w2",
            vec![report(
                &store,
                &d1,
                AttemptOutcome::NetworkError,
                None,
                NextStep::RetryAt(later),
            )],
            FIVE_DAYS,
        )
        .await;
        assert!(
            claim(&store, "w4", LONG, 100)
                .await
                .iter()
                .all(|d| d.id != d1.id),
            "{label}"
        );

        // The log: newest first, with attempt numbers, paged by id.
        let log = store
            .webhooks()
            .attempts(ctx.tenant.id, sub.id, None, 100)
            .await
            .unwrap();
        assert_eq!(log.len(), 4, "{label}");
        assert!(log.windows(2).all(|w| w[0].id > w[1].id), "{label}");
        assert_eq!(
            (
                log[0].delivery_id,
                log[0].attempt_no,
                log[0].outcome.as_str()
            ),
            (d1.id, 2, "network_error"),
            "{label}"
        );
        assert_eq!(log[0].message_id, d1.message_id, "{label}");
        assert_eq!(log[0].event_type, "conversation_created", "{label}");
        assert_eq!(log[0].duration_ms, 12, "{label}");
        let page = store
            .webhooks()
            .attempts(ctx.tenant.id, sub.id, Some(log[1].id), 100)
            .await
            .unwrap();
        assert_eq!(page.len(), 2, "{label}");
        // Another tenant sees nothing.
        let other = tenant(&store, "globex").await;
        assert!(
            store
                .webhooks()
                .attempts(other.tenant.id, sub.id, None, 100)
                .await
                .unwrap()
                .is_empty(),
            "{label}"
        );

        // Redelivery: due now again, same message id; a finished one too.
        let again = store
            .webhooks()
            .redeliver(ctx.tenant.id, sub.id, d2.id)
            .await
            .unwrap();
        assert_eq!(
            (again.state, again.message_id.clone()),
            (DeliveryState::Pending, d2.message_id.clone()),
            "{label}"
        );
        let due = claim(&store, "w5", LONG, 100).await;
        assert!(
            due.iter().any(|d| d.id == d2.id && d.attempt_count == 1),
            "{label}"
        );
        assert_not_found(
            store
                .webhooks()
                .redeliver(other.tenant.id, sub.id, d2.id)
                .await,
            label,
        );
        assert_not_found(
            store
                .webhooks()
                .redeliver(ctx.tenant.id, sub.id, DeliveryId::new(999_999))
                .await,
            label,
        );

        // Cancelling stops every pending delivery of the subscription.
        assert!(
            store
                .webhooks()
                .cancel_deliveries(ctx.tenant.id, sub.id)
                .await
                .unwrap()
                >= 1,
            "{label}"
        );
        assert_delivery_backlog(&store, 0, label).await;
        assert_not_found(
            store
                .webhooks()
                .cancel_deliveries(other.tenant.id, sub.id)
                .await,
            label,
        );
    })
    .await;
}

/// One batch of reports reads its deliveries and subscriptions once and
/// writes its attempt rows at the end, yet each report still sees what
/// the reports before it in the batch did: a failure then a success of one
/// subscription leaves it healthy, a report of a delivery whose
/// subscription an earlier 410 deleted is stale, and a second report of
/// one delivery is stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_of_reports_sees_its_own_changes() {
    for_each_backend(|store, label| async move {
        let ctx = tenant(&store, "acme").await;
        let (gone, gone_d, flaky, flaky_d) = gone_and_flaky(&store, &ctx).await;
        let retry = in_a_minute(&store);
        let recorded = record(
            &store,
            "w",
            vec![
                http_error(&store, &flaky_d[0], 500, retry),
                success(&store, &flaky_d[1]),
                http_error(&store, &gone_d[0], 410, NextStep::Gone),
                http_error(&store, &gone_d[1], 500, retry),
                http_error(&store, &flaky_d[0], 500, retry),
            ],
            FIVE_DAYS,
        )
        .await;
        assert_eq!(
            (recorded.recorded, recorded.stale, recorded.deleted.clone()),
            (3, 2, vec![gone.id]),
            "{label}"
        );
        let s = store.webhooks().get(ctx.tenant.id, flaky.id).await.unwrap();
        assert_eq!(s.failing_since, None, "{label}: the success ended it");
        let attempts = store
            .webhooks()
            .attempts(ctx.tenant.id, flaky.id, None, 100)
            .await
            .unwrap();
        let mut got: Vec<(DeliveryId, u32, Option<u16>)> = attempts
            .iter()
            .map(|a| (a.delivery_id, a.attempt_no, a.status_code))
            .collect();
        got.sort();
        let mut want = vec![(flaky_d[0].id, 1, Some(500)), (flaky_d[1].id, 1, Some(200))];
        want.sort();
        assert_eq!(got, want, "{label}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gone_deletes_and_continuous_failure_disables() {
    for_each_backend_clocked(|store, label, clock| async move {
        let ctx = tenant(&store, "acme").await;
        let (gone, gone_d, flaky, flaky_d) = gone_and_flaky(&store, &ctx).await;

        // 410 deletes the subscription and its deliveries at once.
        let recorded = record(
            &store,
            "w",
            vec![http_error(&store, &gone_d[0], 410, NextStep::Gone)],
            FIVE_DAYS,
        )
        .await;
        assert_eq!(recorded.deleted, vec![gone.id], "{label}");
        assert_not_found(store.webhooks().get(ctx.tenant.id, gone.id).await, label);
        // An attempt of a delivery that went with it is skipped, not an error.
        let recorded = record(
            &store,
            "w",
            vec![http_error(
                &store,
                &gone_d[1],
                500,
                NextStep::RetryAt(store.now()),
            )],
            FIVE_DAYS,
        )
        .await;
        assert_eq!(recorded.recorded, 0, "{label}");

        // A failure starts the failing period; a success ends it.
        let retry = in_a_minute(&store);
        record(
            &store,
            "w",
            vec![http_error(&store, &flaky_d[0], 500, retry)],
            FIVE_DAYS,
        )
        .await;
        let s = store.webhooks().get(ctx.tenant.id, flaky.id).await.unwrap();
        assert!(s.failing_since.is_some(), "{label}");
        record(&store, "w", vec![success(&store, &flaky_d[1])], FIVE_DAYS).await;
        let s = store.webhooks().get(ctx.tenant.id, flaky.id).await.unwrap();
        assert_eq!(
            (s.failing_since, s.state),
            (None, SubscriptionState::Active),
            "{label}"
        );

        // Failing for longer than the period disables it and cancels its
        // pending deliveries. Each attempt is a new claim of the retried
        // delivery, once its retry is due.
        let claim_retry = || async {
            clock.advance(Duration::from_secs(61));
            let due = claim(&store, "w", LONG, 10).await;
            due.into_iter()
                .find(|d| d.id == flaky_d[0].id)
                .unwrap_or_else(|| panic!("{label}: the retry is due"))
        };
        let again = claim_retry().await;
        let retry = in_a_minute(&store);
        let recorded = record(
            &store,
            "w",
            vec![http_error(&store, &again, 500, retry)],
            Duration::from_millis(20),
        )
        .await;
        assert!(
            recorded.disabled.is_empty(),
            "{label}: the failing period just began"
        );
        let again = claim_retry().await;
        let retry = in_a_minute(&store);
        let recorded = record(
            &store,
            "w",
            vec![report(&store, &again, AttemptOutcome::Timeout, None, retry)],
            Duration::from_millis(20),
        )
        .await;
        assert_eq!(recorded.disabled, vec![flaky.id], "{label}");
        let s = store.webhooks().get(ctx.tenant.id, flaky.id).await.unwrap();
        assert_eq!(s.state, SubscriptionState::Disabled, "{label}");
        assert_delivery_backlog(&store, 0, label).await;
        let states: Vec<DeliveryState> = store
            .webhooks()
            .deliveries(ctx.tenant.id, flaky.id, 10)
            .await
            .unwrap()
            .iter()
            .map(|d| d.state)
            .collect();
        assert!(
            states.contains(&DeliveryState::Cancelled),
            "{label}: {states:?}"
        );
        assert!(
            matches!(
                store
                    .webhooks()
                    .redeliver(ctx.tenant.id, flaky.id, flaky_d[0].id)
                    .await,
                Err(StorageError::Conflict(_))
            ),
            "{label}"
        );
        // A disabled subscription gets no new deliveries.
        let fan = events_fanned(&store, &ctx, "y", 1, Some(LONG)).await;
        assert_eq!(fan.deliveries, 0, "{label}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_delivery_leases_are_due_again_and_claimers_never_share() {
    for_each_backend_clocked(|store, label, clock| async move {
        let ctx = tenant(&store, "acme").await;
        let sub = subscribe(&store, &ctx, "https://a.example/h").await;
        // Short leases at fan-out: the "crashed" worker never reports.
        let fan = events_fanned(&store, &ctx, "x", 3, Some(Duration::from_millis(50))).await;
        assert_eq!(fan.claimed.len(), 3, "{label}");
        assert!(
            claim(&store, "w2", LONG, 100).await.is_empty(),
            "{label}: leased"
        );
        clock.advance(Duration::from_millis(120));
        let taken = claim(&store, "w2", LONG, 100).await;
        assert_eq!(taken.len(), 3, "{label}: expired leases are due again");

        // The "crashed" worker reports late: the delivery is another
        // worker's now, so the report changes nothing, before or after the
        // new claimer's outcome.
        let first = &fan.claimed[0];
        let late = || vec![http_error(&store, first, 500, NextStep::Failed)];
        let recorded = record(&store, "w", late(), FIVE_DAYS).await;
        assert_eq!((recorded.recorded, recorded.stale), (0, 1), "{label}");
        let current = taken.iter().find(|d| d.id == first.id).unwrap();
        let recorded = record(&store, "w2", vec![success(&store, current)], FIVE_DAYS).await;
        assert_eq!((recorded.recorded, recorded.stale), (1, 0), "{label}");
        let recorded = record(&store, "w", late(), FIVE_DAYS).await;
        assert_eq!((recorded.recorded, recorded.stale), (0, 1), "{label}");
        let d = store
            .webhooks()
            .delivery(ctx.tenant.id, sub.id, first.id)
            .await
            .unwrap();
        assert_eq!(
            (d.state, d.attempt_count, d.last_status_code),
            (DeliveryState::Succeeded, 1, Some(200)),
            "{label}: the newer outcome stands"
        );

        // Many deliveries, two concurrent claimers: disjoint, complete.
        let fan = events_fanned(&store, &ctx, "y", 150, None).await;
        assert_eq!(fan.deliveries, 150, "{label}");
        let claimers: Vec<_> = (0..2)
            .map(|n| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    loop {
                        let batch = claim(&store, &format!("c{n}"), LONG, 7).await;
                        if batch.is_empty() {
                            return got;
                        }
                        got.extend(batch.into_iter().map(|d| d.id));
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        for c in claimers {
            all.extend(c.await.unwrap());
        }
        let set: BTreeSet<DeliveryId> = all.iter().copied().collect();
        assert_eq!(
            set.len(),
            all.len(),
            "{label}: a delivery was claimed twice"
        );
        assert_eq!(set.len(), 150, "{label}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn samples_and_secret_rotation() {
    for_each_backend(|store, label| async move {
        let (ctx, other) = two_tenants(&store).await;
        for i in 0..5 {
            create_conversation(&store, &ctx, &format!("s-{i}")).await;
        }
        let recent = store
            .webhooks()
            .recent_payloads(ctx.tenant.id, EventType::ConversationCreated, 3)
            .await
            .unwrap();
        let keys: Vec<&str> = recent
            .iter()
            .map(|p| p["conversation"]["sessionKey"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(keys, ["s-4", "s-3", "s-2"], "{label}: newest first");
        // None of another tenant's, none of another event type.
        for (tenant, event) in [
            (other.tenant.id, EventType::ConversationCreated),
            (ctx.tenant.id, EventType::CustomerDeleted),
        ] {
            let none = store.webhooks().recent_payloads(tenant, event, 3).await;
            assert!(none.unwrap().is_empty(), "{label}");
        }

        let sub = subscribe_to(&store, &ctx, EventType::EmailUpdated, "https://a.example/h").await;
        let rotated = store
            .webhooks()
            .rotate_secret(
                ctx.tenant.id,
                sub.id,
                "whsec_bmV3LXNlY3JldC1uZXctc2VjcmV0",
                Duration::from_secs(3600),
            )
            .await
            .unwrap();
        assert_eq!(
            rotated.secret, "whsec_bmV3LXNlY3JldC1uZXctc2VjcmV0",
            "{label}"
        );
        assert_eq!(
            rotated.previous_secret.as_deref(),
            Some(sub.secret.as_str()),
            "{label}"
        );
        assert!(
            rotated.previous_secret_expires_at.unwrap().as_millis() > now().as_millis() + 3_500_000,
            "{label}"
        );
        assert_not_found(
            store
                .webhooks()
                .rotate_secret(other.tenant.id, sub.id, "whsec_x", Duration::ZERO)
                .await,
            label,
        );
    })
    .await;
}

/// Deleting a subscription while the worker records attempts of its
/// deliveries must not deadlock (found by the load benchmark: the delete's
/// cascade and a record batch locked delivery rows in opposite orders, and
/// PostgreSQL aborted the delete after a second).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unsubscribing_while_attempts_are_recorded_does_not_deadlock() {
    for_each_tenant(|store, label, ctx| async move {
        for round in 0..6 {
            let sub = subscribe(&store, &ctx, "https://a.example/h").await;
            let fan = events_fanned(&store, &ctx, &format!("r{round}"), 120, Some(LONG)).await;
            assert_eq!(fan.claimed.len(), 120, "{label}");
            // Record in batches whose order runs against the table's.
            let mut claimed = fan.claimed;
            claimed.reverse();
            let recorder = {
                let store = store.clone();
                tokio::spawn(async move {
                    for batch in claimed.chunks(15) {
                        let reports = batch.iter().map(|d| success(&store, d)).collect();
                        store
                            .worker()
                            .record_attempts("w", reports, FIVE_DAYS)
                            .await?;
                    }
                    Ok::<_, StorageError>(())
                })
            };
            tokio::time::sleep(Duration::from_millis(round * 3)).await;
            store
                .webhooks()
                .delete(ctx.tenant.id, sub.id)
                .await
                .unwrap_or_else(|e| panic!("{label} round {round}: delete failed: {e:?}"));
            recorder
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("{label} round {round}: recording failed: {e:?}"));
            assert!(
                matches!(
                    store.webhooks().get(ctx.tenant.id, sub.id).await,
                    Err(StorageError::NotFound)
                ),
                "{label}: the subscription is gone"
            );
        }
    })
    .await;
}
