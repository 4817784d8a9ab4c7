//! Stores on both backends and small builders.

use std::future::Future;

use switchboard_domain::{
    Actor, Agent, AttributeType, Conversation, ConversationId, CustomAttribute, Customer,
    CustomerId, EntityKind, EventType, Tenant, TenantId,
};
use switchboard_storage::{
    Clock, HistoryEntry, OutboxEvent, Precondition, SecretKeySource, StorageError, Store,
    StoreConfig, WriteContext, now,
};
use switchboard_testsupport::SECRET_KEYS;

pub(crate) use switchboard_testsupport::TestDb;

/// The default configuration with the tests' secret key (PostgreSQL has
/// no default key).
pub(crate) fn config() -> StoreConfig {
    StoreConfig {
        secret_keys: SecretKeySource::keys(SECRET_KEYS).unwrap(),
        ..StoreConfig::default()
    }
}

/// Opens (and migrates) a store on `db` with the default configuration.
pub(crate) async fn open(db: &TestDb) -> Store {
    Store::open(&db.url, config()).await.unwrap()
}

/// Runs `test` once per backend on a freshly opened store of an empty database.
pub(crate) async fn for_each_backend<F, Fut>(mut test: F)
where
    F: FnMut(Store, &'static str) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in TestDb::all() {
        let store = open(&db).await;
        test(store, db.label).await;
    }
}

/// Like [`for_each_backend`], with the tenant `acme` created and a write
/// context for it (see [`tenant`]).
pub(crate) async fn for_each_tenant<F, Fut>(mut test: F)
where
    F: FnMut(Store, &'static str, WriteContext) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in TestDb::all() {
        let store = open(&db).await;
        let ctx = tenant(&store, "acme").await;
        test(store, db.label, ctx).await;
    }
}

/// Like [`for_each_backend`], but the store runs on a manual clock (set to
/// the machine's time when the store opens) that the test moves itself.
pub(crate) async fn for_each_backend_clocked<F, Fut>(mut test: F)
where
    F: FnMut(Store, &'static str, Clock) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in TestDb::all() {
        let (store, clock) = open_clocked(&db).await;
        test(store, db.label, clock).await;
    }
}

/// Opens `db` with a manual clock set to the machine's time, which the
/// test moves itself.
pub(crate) async fn open_clocked(db: &TestDb) -> (Store, Clock) {
    let clock = Clock::manual(now());
    let config = StoreConfig {
        clock: clock.clone(),
        ..config()
    };
    (Store::open(&db.url, config).await.unwrap(), clock)
}

/// Creates a tenant and a write context for it: the system, through API `test`.
pub(crate) async fn tenant(store: &Store, name: &str) -> WriteContext {
    let tenant: Tenant = store.admin().create_tenant(name).await.unwrap();
    WriteContext::new(tenant, Actor::System, "test")
}

/// Two tenants, `acme` and `globex`, and a write context for each: for
/// tests that one tenant never sees or touches the other's rows.
pub(crate) async fn two_tenants(store: &Store) -> (WriteContext, WriteContext) {
    (tenant(store, "acme").await, tenant(store, "globex").await)
}

/// Defines the tenant's custom attribute `name` of `kind`, labelled `label`.
pub(crate) async fn define(
    store: &Store,
    tenant: TenantId,
    name: &str,
    kind: AttributeType,
    label: &str,
) {
    store
        .admin()
        .create_attribute(CustomAttribute::new(tenant, name, kind, label))
        .await
        .unwrap();
}

/// Runs `tasks` tasks at once, each calling `write(store, ctx, task, i)`
/// for `i` in `0..per_task`, one call after another, and waits for them all.
pub(crate) async fn concurrently<F, Fut>(
    store: &Store,
    ctx: &WriteContext,
    tasks: i64,
    per_task: i64,
    write: F,
) where
    F: Fn(Store, WriteContext, i64, i64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let tasks: Vec<_> = (0..tasks)
        .map(|task| {
            let (store, ctx, write) = (store.clone(), ctx.clone(), write.clone());
            tokio::spawn(async move {
                for i in 0..per_task {
                    write(store.clone(), ctx.clone(), task, i).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// `result` is [`StorageError::NotFound`].
#[track_caller]
pub(crate) fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StorageError>, label: &str) {
    assert!(
        matches!(result, Err(StorageError::NotFound)),
        "{label}: {result:?}"
    );
}

/// Checks that `writes` increments of the custom value `counter` all
/// landed on the entity `kind` `id`, created with it at 0: the counter it
/// holds now, its `version`, and one history row per version. The history,
/// newest first.
pub(crate) async fn assert_all_counted(
    store: &Store,
    tenant: TenantId,
    (kind, id): (EntityKind, i64),
    label: &str,
    writes: i64,
) -> Vec<HistoryEntry> {
    let (counter, version, history) = match kind {
        EntityKind::Customer => {
            let id = CustomerId::new(id);
            let after = load_customer(store, tenant, id).await;
            let history = store.customers().history(tenant, id, 1000).await.unwrap();
            (after.custom_data["counter"].clone(), after.version, history)
        }
        EntityKind::Conversation => {
            let id = ConversationId::new(id);
            let after = load_conversation(store, tenant, id).await;
            let history = store.conversations().history(tenant, id, 1000).await;
            (
                after.custom_info["counter"].clone(),
                after.version,
                history.unwrap(),
            )
        }
    };
    assert_eq!(counter, serde_json::json!(writes), "{label}");
    assert_eq!(version, 1 + writes, "{label}");
    assert_eq!(history.len() as i64, 1 + writes, "{label}");
    history
}

/// A conversation draft for `tenant`.
pub(crate) fn draft(tenant: TenantId, session_key: &str) -> Conversation {
    Conversation::new(tenant, session_key, now())
}

/// The event types of an entity's outbox events, oldest first.
pub(crate) async fn event_types(
    store: &Store,
    tenant: TenantId,
    kind: EntityKind,
    id: i64,
) -> Vec<EventType> {
    events(store, tenant, kind, id)
        .await
        .iter()
        .map(|e| e.event.event_type)
        .collect()
}

/// How many outbox events an entity has.
pub(crate) async fn event_count(
    store: &Store,
    tenant: TenantId,
    kind: EntityKind,
    id: i64,
) -> usize {
    events(store, tenant, kind, id).await.len()
}

/// How many outbox events the conversation `conv` has.
pub(crate) async fn conversation_event_count(store: &Store, conv: &Conversation) -> usize {
    event_count(
        store,
        conv.tenant_id,
        EntityKind::Conversation,
        conv.id.get(),
    )
    .await
}

/// The first `limit` entries of the conversation `conv`'s history, newest first.
pub(crate) async fn conversation_history(
    store: &Store,
    conv: &Conversation,
    limit: u32,
) -> Vec<HistoryEntry> {
    store
        .conversations()
        .history(conv.tenant_id, conv.id, limit)
        .await
        .unwrap()
}

/// An entity's outbox events, oldest first.
pub(crate) async fn events(
    store: &Store,
    tenant: TenantId,
    kind: EntityKind,
    id: i64,
) -> Vec<OutboxEvent> {
    match kind {
        EntityKind::Customer => store
            .customers()
            .events(tenant, CustomerId::new(id))
            .await
            .unwrap(),
        EntityKind::Conversation => store
            .conversations()
            .events(tenant, ConversationId::new(id))
            .await
            .unwrap(),
    }
}

/// The tenant's conversation `id`, which must exist.
pub(crate) async fn load_conversation(
    store: &Store,
    tenant: TenantId,
    id: ConversationId,
) -> Conversation {
    store.conversations().get(tenant, id).await.unwrap()
}

/// The tenant's customer `id`, which must exist.
pub(crate) async fn load_customer(store: &Store, tenant: TenantId, id: CustomerId) -> Customer {
    store.customers().get(tenant, id).await.unwrap()
}

/// A new agent of the tenant named `name`, `<name>@example.com`, role `agent`.
pub(crate) async fn new_agent(store: &Store, tenant: TenantId, name: &str) -> Agent {
    let email = format!("{}@example.com", name.to_lowercase());
    store
        .admin()
        .create_agent(tenant, name, &email, "agent")
        .await
        .unwrap()
}

/// Creates the conversation `session_key` through `ctx`.
pub(crate) async fn create_conversation(
    store: &Store,
    ctx: &WriteContext,
    session_key: &str,
) -> Conversation {
    store
        .conversations()
        .create(ctx, draft(ctx.tenant.id, session_key))
        .await
        .unwrap()
}

/// Creates an empty customer through `ctx`.
pub(crate) async fn create_customer(store: &Store, ctx: &WriteContext) -> Customer {
    store
        .customers()
        .create(ctx, Customer::new(ctx.tenant.id, store.now()))
        .await
        .unwrap()
}

/// Deletes the customer `id` through `ctx`, whatever its version.
pub(crate) async fn delete_customer(
    store: &Store,
    ctx: &WriteContext,
    id: CustomerId,
) -> Result<(), StorageError> {
    store.customers().delete(ctx, id, Precondition::NONE).await
}

/// Subscribes `url` to `conversation.created` for `ctx`'s tenant.
pub(crate) async fn subscribe(
    store: &Store,
    ctx: &WriteContext,
    url: &str,
) -> switchboard_domain::WebhookSubscription {
    subscribe_to(store, ctx, EventType::ConversationCreated, url).await
}

/// Subscribes `url` to `event` for `ctx`'s tenant.
pub(crate) async fn subscribe_to(
    store: &Store,
    ctx: &WriteContext,
    event: EventType,
    url: &str,
) -> switchboard_domain::WebhookSubscription {
    store
        .webhooks()
        .create(switchboard_domain::WebhookSubscription::new(
            ctx.tenant.id,
            url.to_string(),
            event,
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            store.now(),
        ))
        .await
        .unwrap()
}

/// One fan-out step of `worker` (see `Worker::fan_out_next`), which must work.
pub(crate) async fn fan_out_next(
    store: &Store,
    worker: &str,
    limit: u32,
    first_delay: std::time::Duration,
    claim: Option<std::time::Duration>,
) -> switchboard_storage::FanOut {
    store
        .worker()
        .fan_out_next(worker, limit, first_delay, claim)
        .await
        .unwrap()
}

/// The store's delivery backlog (see `Worker::delivery_backlog`) is `want`.
pub(crate) async fn assert_delivery_backlog(store: &Store, want: i64, label: &str) {
    let backlog = store.worker().delivery_backlog().await.unwrap();
    assert_eq!(backlog, want, "{label}: the delivery backlog");
}

/// Deliveries due now, claimed by `worker` for `lease` (see
/// `Worker::claim_deliveries`), which must work.
pub(crate) async fn claim(
    store: &Store,
    worker: &str,
    lease: std::time::Duration,
    limit: u32,
) -> Vec<switchboard_storage::DueDelivery> {
    store
        .worker()
        .claim_deliveries(worker, lease, limit)
        .await
        .unwrap()
}
