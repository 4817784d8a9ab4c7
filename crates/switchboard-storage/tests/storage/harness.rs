//! Test databases on both backends, raw SQL access, and small builders.

use std::future::Future;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sql_types::Text;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use switchboard_domain::{Actor, Conversation, EntityKind, EventType, Tenant, TenantId};
use switchboard_storage::{OutboxEvent, Store, StoreConfig, WriteContext, now};
use switchboard_testsupport::TestDatabase;
use switchboard_testsupport::tempfile::TempDir;

/// A fresh, empty database of one backend, deleted when dropped.
pub(crate) struct TestDb {
    /// `sqlite` or `postgres`, for assertion messages.
    pub label: &'static str,
    /// The URL to open a [`Store`] on.
    pub url: String,
    _keep: Keep,
}

/// Keeps the database alive: the temporary directory or the PostgreSQL database.
enum Keep {
    Sqlite(#[expect(dead_code, reason = "held for its Drop")] TempDir),
    Postgres(#[expect(dead_code, reason = "held for its Drop")] TestDatabase),
}

impl TestDb {
    /// A new SQLite file in a new temporary directory.
    pub fn sqlite() -> Self {
        let dir = switchboard_testsupport::tempfile::tempdir().unwrap();
        let path = dir.path().join("switchboard.db");
        Self {
            label: "sqlite",
            url: format!("sqlite://{}", path.display()),
            _keep: Keep::Sqlite(dir),
        }
    }

    /// A new PostgreSQL database, or `None` (after a loud notice) when
    /// PostgreSQL is unavailable outside CI.
    pub fn postgres() -> Option<Self> {
        let server = switchboard_testsupport::postgres_or_skip()?;
        let db = server.create_database().unwrap();
        Some(Self {
            label: "postgres",
            url: db.url().to_string(),
            _keep: Keep::Postgres(db),
        })
    }

    /// One fresh database per available backend: SQLite, then PostgreSQL.
    pub fn all() -> Vec<Self> {
        std::iter::once(Self::sqlite())
            .chain(Self::postgres())
            .collect()
    }

    /// Opens (and migrates) a store with the default configuration.
    pub async fn open(&self) -> Store {
        Store::open(&self.url, StoreConfig::default())
            .await
            .unwrap()
    }

    /// A plain Diesel connection to the same database, outside the store.
    pub fn raw(&self) -> Raw {
        match self.url.strip_prefix("sqlite://") {
            Some(path) => Raw::Sqlite(SqliteConnection::establish(path).unwrap()),
            None => Raw::Pg(PgConnection::establish(&self.url).unwrap()),
        }
    }
}

/// Runs `test` once per backend on a freshly opened store of an empty database.
pub(crate) async fn for_each_backend<F, Fut>(mut test: F)
where
    F: FnMut(Store, &'static str) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in TestDb::all() {
        let store = db.open().await;
        test(store, db.label).await;
    }
}

/// A raw connection of either backend, for catalog queries and sabotage.
pub(crate) enum Raw {
    Sqlite(SqliteConnection),
    Pg(PgConnection),
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

impl Raw {
    /// Runs a query returning one text column named `line`: `sqlite` on
    /// SQLite, `postgres` on PostgreSQL.
    pub fn lines(&mut self, sqlite: &str, postgres: &str) -> Vec<String> {
        let rows: Vec<Line> = match self {
            Self::Sqlite(c) => diesel::sql_query(sqlite).load(c).unwrap(),
            Self::Pg(c) => diesel::sql_query(postgres).load(c).unwrap(),
        };
        rows.into_iter().map(|r| r.line).collect()
    }

    /// Runs statements that work on both backends.
    pub fn execute(&mut self, sql: &str) {
        match self {
            Self::Sqlite(c) => c.batch_execute(sql).unwrap(),
            Self::Pg(c) => c.batch_execute(sql).unwrap(),
        }
    }
}

/// Creates a tenant and a write context for it: the system, through API `test`.
pub(crate) async fn tenant(store: &Store, name: &str) -> WriteContext {
    let tenant: Tenant = store.create_tenant(name).await.unwrap();
    WriteContext::new(tenant, Actor::System, "test")
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

/// An entity's outbox events, oldest first.
pub(crate) async fn events(
    store: &Store,
    tenant: TenantId,
    kind: EntityKind,
    id: i64,
) -> Vec<OutboxEvent> {
    store.events_for(tenant, kind, id).await.unwrap()
}
