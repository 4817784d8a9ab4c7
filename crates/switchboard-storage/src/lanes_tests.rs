//! Reads on a thread's own asynchronous PostgreSQL connections (`lanes`):
//! which calls take them, that they give what the pool gives, and that a
//! lost or orphaned lane connection costs no call. PostgreSQL only: SQLite
//! has no lanes.

use switchboard_domain::{Actor, Conversation, Customer, TenantId};
use switchboard_testsupport::{RawConnection, TestDb};

use crate::{Store, StoreConfig, WriteContext};

/// A PostgreSQL database for the test; `None` (the test is skipped with
/// a notice) only outside CI, as [`TestDb::postgres`].
fn postgres() -> Option<TestDb> {
    TestDb::postgres()
}

/// The tests' configuration with lanes on.
fn lanes_on() -> StoreConfig {
    StoreConfig {
        lanes: true,
        ..StoreConfig::for_tests()
    }
}

/// A runtime like an actix worker's: one thread.
fn worker_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A tenant with one customer and one conversation linked to it.
async fn seed(store: &Store) -> (TenantId, Customer, Conversation) {
    let tenant = store.admin().create_tenant("acme").await.unwrap();
    let ctx = WriteContext::new(tenant.clone(), Actor::System, "test");
    let customer = store
        .customers()
        .create(&ctx, Customer::new(tenant.id, store.now()))
        .await
        .unwrap();
    let mut draft = Conversation::new(tenant.id, "s-1", store.now());
    draft.customer_id = Some(customer.id);
    let conversation = store.conversations().create(&ctx, draft).await.unwrap();
    (tenant.id, customer, conversation)
}

/// Reads `conversation` back and checks it is as written.
async fn reads_back(store: &Store, tenant: TenantId, conversation: &Conversation) {
    let read = store.conversations().get(tenant, conversation.id).await;
    assert_eq!(read.as_ref().ok(), Some(conversation), "{read:?}");
}

/// How many lane connections the server sees open to the database.
fn lane_backends(raw: &mut RawConnection) -> usize {
    let sql = format!(
        "SELECT pid::text AS line FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = '{}'",
        crate::lanes::APPLICATION_NAME
    );
    raw.lines("SELECT 'not PostgreSQL' AS line", &sql).len()
}

#[test]
fn reads_on_a_single_threaded_runtime_take_one_lane_connection_and_keep_it() {
    let Some(db) = postgres() else { return };
    worker_runtime().block_on(async {
        let store = Store::open(&db.url, lanes_on()).await.unwrap();
        let (tenant, customer, conversation) = seed(&store).await;
        for _ in 0..3 {
            reads_back(&store, tenant, &conversation).await;
            assert_eq!(
                store.customers().get(tenant, customer.id).await.unwrap(),
                customer
            );
        }
        assert_eq!(store.lanes_open(), Some(1));
        assert_eq!(lane_backends(&mut db.raw()), 1);
        let stats = store.lane_stats();
        assert_eq!((stats.served, stats.retried), (6, 0));
        // Another tenant's id looks exactly like a missing one, as on the pool.
        let other = store.admin().create_tenant("other").await.unwrap().id;
        assert!(matches!(
            store.conversations().get(other, conversation.id).await,
            Err(crate::StorageError::NotFound)
        ));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_on_a_multi_threaded_runtime_use_the_pool() {
    let Some(db) = tokio::task::spawn_blocking(postgres).await.unwrap() else {
        return;
    };
    let store = Store::open(&db.url, lanes_on()).await.unwrap();
    let (tenant, _, conversation) = seed(&store).await;
    reads_back(&store, tenant, &conversation).await;
    assert_eq!(store.lanes_open(), Some(0));
}

#[test]
fn lanes_off_by_default_leave_every_read_on_the_pool() {
    let Some(db) = postgres() else { return };
    worker_runtime().block_on(async {
        assert!(!StoreConfig::default().lanes);
        let store = Store::open(&db.url, StoreConfig::for_tests())
            .await
            .unwrap();
        let (tenant, _, conversation) = seed(&store).await;
        reads_back(&store, tenant, &conversation).await;
        assert_eq!(store.lanes_open(), None);
        assert_eq!(store.lane_stats(), crate::LaneStats::default());
        assert_eq!(lane_backends(&mut db.raw()), 0);
    });
}

/// A lane connection whose runtime ended (its socket's task went with it)
/// is dropped when next taken, and a new one opened on the new runtime.
#[test]
fn a_lane_connection_whose_runtime_ended_is_replaced() {
    let Some(db) = postgres() else { return };
    let (store, tenant, conversation) = worker_runtime().block_on(async {
        let store = Store::open(&db.url, lanes_on()).await.unwrap();
        let (tenant, _, conversation) = seed(&store).await;
        reads_back(&store, tenant, &conversation).await;
        assert_eq!(store.lanes_open(), Some(1));
        (store, tenant, conversation)
    });
    worker_runtime().block_on(async {
        reads_back(&store, tenant, &conversation).await;
        assert_eq!(store.lanes_open(), Some(1));
    });
}

/// The server ends a lane connection between two reads (a restart, an
/// administrator): the next read still answers, and later reads run on a
/// new lane connection.
#[test]
fn a_lane_connection_the_server_ended_costs_no_read() {
    let Some(db) = postgres() else { return };
    worker_runtime().block_on(async {
        let store = Store::open(&db.url, lanes_on()).await.unwrap();
        let (tenant, _, conversation) = seed(&store).await;
        reads_back(&store, tenant, &conversation).await;
        let mut raw = db.raw();
        raw.execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = '{}'",
            crate::lanes::APPLICATION_NAME
        ));
        reads_back(&store, tenant, &conversation).await;
        reads_back(&store, tenant, &conversation).await;
        assert_eq!(store.lanes_open(), Some(1));
        assert_eq!(lane_backends(&mut raw), 1);
        let stats = store.lane_stats();
        assert_eq!((stats.served, stats.retried), (2, 1));
    });
}
