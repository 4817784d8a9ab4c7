//! Migrations: up, down and up again; both backends end with the schema of
//! `schema::TABLES`; the two migration trees stay in step. (Unit tests:
//! the schema is private to the crate.)

use std::collections::BTreeMap;
use std::path::Path;

use switchboard_domain::ConversationStatus;
use switchboard_domain::{Actor, Conversation};
use switchboard_testsupport::{RawConnection as Raw, TestDb};

use crate::schema::{SQLITE_ONLY_TABLES, TABLES};
use crate::{Backend, Precondition, Store, StoreConfig, WriteContext};

/// The columns of every table except Diesel's bookkeeping, in column order:
/// `table column nullable`. PostgreSQL's generated columns (index keys
/// computed from the document, never written or read as such) are left out.
fn columns(raw: &mut Raw) -> Vec<String> {
    raw.lines(
        "SELECT m.name || ' ' || p.name || ' ' || \
                CASE WHEN p.\"notnull\" = 0 AND p.pk = 0 THEN 'null' ELSE 'not-null' END AS line \
         FROM sqlite_master m JOIN pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
           AND m.name <> '__diesel_schema_migrations' \
         ORDER BY m.name, p.cid",
        "SELECT table_name || ' ' || column_name || ' ' || \
                CASE WHEN is_nullable = 'YES' THEN 'null' ELSE 'not-null' END AS line \
         FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations' \
           AND is_generated = 'NEVER' \
         ORDER BY table_name, ordinal_position",
    )
}

/// Everything the migrations define, as text: tables, columns with their
/// types and defaults, indexes and constraints.
fn schema_dump(raw: &mut Raw) -> Vec<String> {
    raw.lines(
        "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') AS line \
         FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
        "SELECT line FROM ( \
           SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || \
                  is_nullable || ' ' || COALESCE(column_default, '') || ' ' || is_identity AS line \
           FROM information_schema.columns WHERE table_schema = 'public' \
           UNION ALL \
           SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public' \
           UNION ALL \
           SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) \
           FROM pg_constraint WHERE connamespace = 'public'::regnamespace \
         ) dump ORDER BY line",
    )
}

/// `schema::TABLES` as `table -> columns`, with `schema::SQLITE_ONLY_TABLES`
/// on SQLite.
fn declared(sqlite: bool) -> BTreeMap<String, Vec<String>> {
    let only: &[(&str, &[&str])] = if sqlite { SQLITE_ONLY_TABLES } else { &[] };
    TABLES
        .iter()
        .chain(only)
        .map(|(table, cols)| {
            (
                (*table).to_string(),
                cols.iter().map(|c| (*c).to_string()).collect(),
            )
        })
        .collect()
}

/// The live `table -> columns` (in column order) from [`columns`] lines.
fn live(lines: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in lines {
        let mut parts = line.split(' ');
        let (table, column) = (parts.next().unwrap(), parts.next().unwrap());
        out.entry(table.to_string())
            .or_default()
            .push(column.to_string());
    }
    out
}

/// How many migrations the repository has (the SQLite and PostgreSQL trees
/// carry the same names).
fn migration_count() -> usize {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/sqlite");
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().is_dir()))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn up_down_up_leaves_the_same_schema_on_both_backends() {
    let mut nullability: Vec<(&str, Vec<String>)> = Vec::new();
    for db in TestDb::all() {
        let label = db.label;
        let store = Store::open(&db.url, StoreConfig::for_tests())
            .await
            .unwrap();
        let mut raw = db.raw();
        let before = schema_dump(&mut raw);
        assert_eq!(
            live(&columns(&mut raw)),
            declared(label == "sqlite"),
            "{label}: catalog differs from schema::TABLES"
        );

        let reverted = store.revert_all_migrations().await.unwrap();
        assert_eq!(reverted.len(), migration_count(), "{label}: {reverted:?}");
        assert!(
            columns(&mut raw).is_empty(),
            "{label}: tables left after down: {:?}",
            columns(&mut raw)
        );

        let applied = store.migrate().await.unwrap();
        assert_eq!(applied.len(), migration_count(), "{label}: {applied:?}");
        assert_eq!(
            schema_dump(&mut raw),
            before,
            "{label}: schema differs after up/down/up"
        );
        assert!(
            store.migrate().await.unwrap().is_empty(),
            "{label}: migrations pending after up"
        );

        // The store still works on the recreated tables.
        let tenant = store.admin().create_tenant("acme").await.unwrap();
        let ctx = WriteContext::new(tenant.clone(), Actor::System, "test");
        let conv = store
            .conversations()
            .create(&ctx, Conversation::new(tenant.id, "s-1", store.now()))
            .await
            .unwrap();
        let conv = store
            .conversations()
            .update(&ctx, conv.id, Precondition::NONE, |c| {
                c.status = ConversationStatus::Pending;
            })
            .await
            .unwrap();
        assert_eq!(conv.version, 2, "{label}");

        let shared: Vec<String> = columns(&mut raw)
            .into_iter()
            .filter(|line| {
                !SQLITE_ONLY_TABLES
                    .iter()
                    .any(|(t, _)| line.starts_with(&format!("{t} ")))
            })
            .collect();
        nullability.push((label, shared));
    }
    // Both backends agree on every column's nullability, not just its name.
    if let [(a, left), (b, right)] = nullability.as_slice() {
        assert_eq!(left, right, "{a} and {b} disagree on nullability");
    }
}

#[test]
fn migration_trees_have_identical_names() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let names = |backend: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(root.join(backend))
            .unwrap()
            .map(|entry| entry.unwrap())
            .filter(|entry| entry.file_type().unwrap().is_dir())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let (sqlite, postgres) = (names("sqlite"), names("postgres"));
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
    for backend in ["sqlite", "postgres"] {
        for name in &sqlite {
            for file in ["up.sql", "down.sql"] {
                let path = root.join(backend).join(name).join(file);
                assert!(path.is_file(), "missing {}", path.display());
            }
        }
    }
}

/// The version of the migration that rebuilds SQLite's tables with
/// AUTOINCREMENT, as Diesel records it (the digits of `2026-11-30-000020`).
const IDS_NEVER_REUSED: &str = "20261130000020";

/// A store on `db` that has applied no migration yet.
async fn unmigrated(db: &TestDb) -> Store {
    Store::open(
        &db.url,
        StoreConfig {
            run_migrations: false,
            ..StoreConfig::for_tests()
        },
    )
    .await
    .unwrap()
}

/// The last migration before `version` (as Diesel records versions: the
/// digits of the directory name's date part).
fn migration_before(version: &str) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/sqlite");
    let mut versions: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|name| name.split('_').next().map(|v| v.replace('-', "")))
        .filter(|v| v.as_str() < version)
        .collect();
    versions.sort();
    versions.pop().unwrap()
}

/// Every row of every table, as text, in id order: the tables and columns
/// of [`TABLES`] that the database has at its migration (a later migration
/// adds tables and columns that an earlier schema lacks).
fn rows(raw: &mut Raw) -> Vec<String> {
    let mut out = Vec::new();
    // The running counts are derived from the rows (their migration sums
    // them): after a revert and a re-run they hold the same totals in
    // other rows. The custom attribute values are derived from the
    // documents (and have no id to order them by).
    let derived = [
        "customer_counts",
        "conversation_counts",
        "customer_attribute_values",
        "directory_stamps",
    ];
    for (table, cols) in TABLES.iter().filter(|(t, _)| !derived.contains(t)) {
        let present = raw.lines(
            &format!("SELECT name AS line FROM pragma_table_info('{table}')"),
            &format!(
                "SELECT column_name::text AS line FROM information_schema.columns \
                 WHERE table_schema = 'public' AND table_name = '{table}'"
            ),
        );
        let cols: Vec<&str> = cols
            .iter()
            .copied()
            .filter(|c| present.iter().any(|p| p == c))
            .collect();
        if cols.is_empty() {
            continue;
        }
        let sqlite = format!(
            "SELECT '{table} ' || json_array({}) AS line FROM {table} ORDER BY id",
            cols.join(", ")
        );
        // The listed columns only: a generated column (the customers'
        // contact members) is derived from the document.
        let listed: Vec<String> = cols.iter().map(|c| format!("t.{c}")).collect();
        let postgres = format!(
            "SELECT '{table} ' || (SELECT row_to_json(x) FROM (SELECT {}) x)::text AS line \
             FROM {table} t ORDER BY t.id",
            listed.join(", ")
        );
        out.extend(raw.lines(&sqlite, &postgres));
    }
    out
}

/// Every column (type, nullability, default, key), index (columns,
/// uniqueness, partial) and foreign key (with its ON DELETE and ON UPDATE
/// rules), as text. On SQLite from the catalog pragmas, not from the
/// tables' SQL text, which the rebuild changes (AUTOINCREMENT).
fn constraints(raw: &mut Raw) -> Vec<String> {
    raw.lines(
        "SELECT line FROM ( \
           SELECT 'column ' || m.name || '.' || p.name || ' ' || p.type || ' notnull=' || p.\"notnull\" \
                  || ' default=' || COALESCE(p.dflt_value, '') || ' pk=' || p.pk AS line \
           FROM sqlite_master m JOIN pragma_table_info(m.name) p \
           WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
           UNION ALL \
           SELECT 'index ' || m.name || ' ' || il.name || ' unique=' || il.\"unique\" || ' origin=' || il.origin \
                  || ' partial=' || il.partial || ' (' || ( \
                    SELECT group_concat(name, ',') FROM ( \
                      SELECT COALESCE(ii.name, '<expr>') AS name FROM pragma_index_info(il.name) ii ORDER BY ii.seqno)) \
                  || ') ' || COALESCE((SELECT sql FROM sqlite_master s WHERE s.name = il.name), '') AS line \
           FROM sqlite_master m JOIN pragma_index_list(m.name) il \
           WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
           UNION ALL \
           SELECT 'foreign key ' || m.name || '.' || f.\"from\" || ' -> ' || f.\"table\" || '.' || f.\"to\" \
                  || ' on delete ' || f.on_delete || ' on update ' || f.on_update || ' match ' || f.\"match\" AS line \
           FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f \
           WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
         ) ORDER BY line",
        "SELECT line FROM ( \
           SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || \
                  is_nullable || ' ' || COALESCE(column_default, '') || ' ' || is_identity AS line \
           FROM information_schema.columns WHERE table_schema = 'public' \
           UNION ALL \
           SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public' \
           UNION ALL \
           SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) \
           FROM pg_constraint WHERE connamespace = 'public'::regnamespace \
         ) dump ORDER BY line",
    )
}

/// The tables the rebuild gives AUTOINCREMENT: every table whose ids leave
/// the database.
const NEVER_REUSED: [&str; 9] = [
    "tenants",
    "api_keys",
    "agents",
    "departments",
    "tags",
    "custom_attributes",
    "customers",
    "conversations",
    "webhook_subscriptions",
];

/// A database as the release before the rebuild left it, filled through the
/// store: every kind of row, and the newest customer and conversation
/// deleted (their ids are the ones SQLite would hand out again).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_rebuild_keeps_rows_ids_and_constraints_and_ids_are_never_reused_after_it() {
    use std::time::Duration;

    use switchboard_domain::{
        AttributeType, CustomAttribute, Customer, EventType, Scope, SubscriptionId, Tag,
        WebhookSubscription,
    };

    let previous = migration_before(IDS_NEVER_REUSED);
    for db in TestDb::all() {
        let label = db.label;
        let store = unmigrated(&db).await;
        let through = previous.clone();
        let applied = store
            .run(move |c| c.run_migrations_through(&through))
            .await
            .unwrap();
        assert_eq!(applied.last(), Some(&previous), "{label}");

        // Fill it.
        let admin = store.admin();
        let tenant = admin.create_tenant("acme").await.unwrap();
        let other = admin.create_tenant("globex").await.unwrap();
        let t = tenant.id;
        admin
            .create_api_key(t, "k", [Scope::ALL[0]].into_iter().collect())
            .await
            .unwrap();
        let agent = admin
            .create_agent(t, "Ada", "ada@example.com", "agent")
            .await
            .unwrap();
        let department = admin.create_department(t, "Sales").await.unwrap();
        admin
            .create_attribute(CustomAttribute::new(
                t,
                "plan",
                AttributeType::String,
                "Plan",
            ))
            .await
            .unwrap();
        let ctx = WriteContext::new(tenant.clone(), Actor::System, "test");
        let mut customers = Vec::new();
        for n in 0..3 {
            let mut draft = Customer::new(t, store.now());
            draft.user_id = Some(format!("u-{n}"));
            draft.email = Some(format!("c{n}@example.com"));
            draft.tags = vec![Tag::new(format!("tag-{n}"))];
            customers.push(store.customers().create(&ctx, draft).await.unwrap());
        }
        let mut conversations = Vec::new();
        for n in 0..3 {
            let mut draft = Conversation::new(t, format!("s-{n}"), store.now());
            draft.customer_id = Some(customers[0].id);
            draft.assignee_id = Some(agent.id);
            draft.department_id = Some(department.id);
            conversations.push(store.conversations().create(&ctx, draft).await.unwrap());
        }
        store
            .conversations()
            .update(&ctx, conversations[0].id, Precondition::NONE, |c| {
                c.status = ConversationStatus::Pending;
            })
            .await
            .unwrap();
        let mut subscriptions = Vec::new();
        for n in 0..2 {
            let sub = WebhookSubscription::new(
                t,
                format!("https://hooks.example.com/{n}"),
                EventType::CustomerUpdated,
                "whsec_c2VjcmV0",
                store.now(),
            );
            subscriptions.push(store.webhooks().create(sub).await.unwrap());
        }
        store
            .customers()
            .update(&ctx, customers[0].id, Precondition::NONE, |c| {
                c.name = Some("Ada".into());
            })
            .await
            .unwrap();
        store
            .worker()
            .fan_out_next("w", 100, Duration::ZERO, Some(Duration::from_secs(60)))
            .await
            .unwrap();
        // The newest customer and conversation are deleted: their ids must
        // never come back. (A subscription deleted before the migration
        // leaves no trace to start its counter above; the newest one is
        // deleted after it, below.)
        let deleted_customer = customers[2].id;
        store
            .customers()
            .delete(&ctx, deleted_customer, Precondition::NONE)
            .await
            .unwrap();
        let deleted_conversation = conversations[2].id;
        store
            .conversations()
            .delete(&ctx, deleted_conversation, Precondition::NONE)
            .await
            .unwrap();

        let mut raw = db.raw();
        let rows_before = rows(&mut raw);
        let constraints_before = constraints(&mut raw);
        assert!(rows_before.len() > 20, "{label}: {rows_before:#?}");

        // Only the rebuild: later migrations add indexes of their own.
        let applied = store
            .run(|c| c.run_migrations_through(IDS_NEVER_REUSED))
            .await
            .unwrap();
        assert_eq!(
            applied.first().map(String::as_str),
            Some(IDS_NEVER_REUSED),
            "{label}"
        );

        assert_eq!(rows(&mut raw), rows_before, "{label}: rows changed");
        assert_eq!(
            constraints(&mut raw),
            constraints_before,
            "{label}: columns, indexes or foreign keys changed"
        );
        if db.is_sqlite() {
            let tables = raw.lines(
                "SELECT name || ' ' || (sql LIKE '%AUTOINCREMENT%') AS line FROM sqlite_master \
                 WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
                "",
            );
            for line in tables {
                let (table, autoincrement) = line.split_once(' ').unwrap();
                assert_eq!(
                    autoincrement == "1",
                    NEVER_REUSED.contains(&table),
                    "{label}: {line}"
                );
            }
        }

        // The store works on the rebuilt tables, foreign keys included.
        let conv = store
            .conversations()
            .get(t, conversations[0].id)
            .await
            .unwrap();
        assert_eq!(conv.customer_id, Some(customers[0].id), "{label}");
        store
            .customers()
            .delete(&ctx, customers[0].id, Precondition::NONE)
            .await
            .unwrap();
        let conv = store
            .conversations()
            .get(t, conversations[0].id)
            .await
            .unwrap();
        assert_eq!(conv.customer_id, None, "{label}: ON DELETE SET NULL");

        // No id comes back, not even those deleted before the migration.
        let next = store
            .customers()
            .create(&ctx, Customer::new(t, store.now()))
            .await
            .unwrap();
        assert!(
            next.id > deleted_customer,
            "{label}: customer {:?} reuses an id (deleted {:?})",
            next.id,
            deleted_customer
        );
        let next = store
            .conversations()
            .create(&ctx, Conversation::new(t, "s-new", store.now()))
            .await
            .unwrap();
        assert!(
            next.id > deleted_conversation,
            "{label}: conversation {:?} reuses an id (deleted {:?})",
            next.id,
            deleted_conversation
        );
        let deleted_subscription = subscriptions[1].id;
        store
            .webhooks()
            .delete(t, deleted_subscription)
            .await
            .unwrap();
        let next = store
            .webhooks()
            .create(WebhookSubscription::new(
                t,
                "https://hooks.example.com/new",
                EventType::CustomerCreated,
                "whsec_c2VjcmV0",
                store.now(),
            ))
            .await
            .unwrap();
        assert!(
            next.id > deleted_subscription,
            "{label}: subscription {:?} reuses an id (deleted {:?})",
            next.id,
            deleted_subscription
        );
        assert_ne!(next.id, SubscriptionId::new(0), "{label}");
        let _ = other;
    }
}

/// Up and down again on a filled database: the rows and their ids survive
/// the way back too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_rebuild_reverts_with_its_rows() {
    let db = TestDb::sqlite();
    let store = Store::open(&db.url, StoreConfig::for_tests())
        .await
        .unwrap();
    let tenant = store.admin().create_tenant("acme").await.unwrap();
    let ctx = WriteContext::new(tenant.clone(), Actor::System, "test");
    for n in 0..3 {
        store
            .conversations()
            .create(
                &ctx,
                Conversation::new(tenant.id, format!("s-{n}"), store.now()),
            )
            .await
            .unwrap();
    }
    let mut raw = db.raw();
    let before = rows(&mut raw);
    let previous = migration_before(IDS_NEVER_REUSED);
    // Revert down to the migration before the rebuild.
    let keep = previous.clone();
    let reverted = store
        .run(move |c| c.revert_migrations_after(&keep))
        .await
        .unwrap();
    assert_eq!(reverted.last().map(String::as_str), Some(IDS_NEVER_REUSED));
    assert_eq!(rows(&mut raw), before);
    let autoincrement = raw.lines(
        "SELECT name AS line FROM sqlite_master WHERE sql LIKE '%AUTOINCREMENT%'",
        "",
    );
    assert!(autoincrement.is_empty(), "{autoincrement:?}");
    store.migrate().await.unwrap();
    assert_eq!(rows(&mut raw), before);
}

/// The running counts' migration sums the rows already there: on a
/// database that had customers and conversations before it, totals are
/// right at once, on both backends.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_running_counts_start_from_the_rows_already_there() {
    for db in TestDb::all() {
        let store = Store::open(&db.url, StoreConfig::for_tests())
            .await
            .unwrap();
        let label = store.backend().name();
        let tenant = store.admin().create_tenant("acme").await.unwrap();
        let ctx = WriteContext::new(tenant.clone(), Actor::System, "test");
        let keep = migration_before("20261203000001");
        store
            .run(move |c| c.revert_migrations_after(&keep))
            .await
            .unwrap();
        // Rows written by an older version, before the counts existed.
        let mut raw = db.raw();
        for n in 0..5 {
            let status = ["opened", "closed"][n % 2];
            raw.execute(&format!(
                "INSERT INTO conversations (tenant_id, session_key, status, doc, created_at, updated_at, version) \
                 VALUES ({id}, 's-{n}', '{status}', '{{\"assigneeId\": 7}}', 0, 0, 1)",
                id = tenant.id.get()
            ));
        }
        raw.execute(&format!(
            "INSERT INTO customers (tenant_id, doc, created_at, updated_at, version) \
             VALUES ({id}, '{{}}', 0, 0, 1)",
            id = tenant.id.get()
        ));
        store.migrate().await.unwrap();
        let opened = switchboard_domain::query::Filter::from(
            switchboard_domain::query::Condition::new(
                switchboard_domain::query::ConversationField::Status,
                switchboard_domain::query::Op::Eq,
                vec![switchboard_domain::query::Value::Status(
                    ConversationStatus::Opened,
                )],
            )
            .unwrap(),
        );
        let conversations = store.conversations();
        assert_eq!(
            conversations.count(tenant.id, None).await.unwrap(),
            5,
            "{label}"
        );
        assert_eq!(
            conversations.count(tenant.id, Some(&opened)).await.unwrap(),
            3,
            "{label}"
        );
        assert_eq!(
            store.customers().count(tenant.id, None).await.unwrap(),
            1,
            "{label}"
        );
        // And the triggers count what comes after.
        store
            .conversations()
            .create(&ctx, Conversation::new(tenant.id, "s-new", store.now()))
            .await
            .unwrap();
        assert_eq!(
            conversations.count(tenant.id, None).await.unwrap(),
            6,
            "{label}"
        );
    }
}

/// The migration that adds the customers' contact columns (stored
/// generated columns) on `backend`: SQLite's rebuilds the table, and
/// PostgreSQL's, later, adds them with the directory stamps.
fn contact_columns(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "20261209000001",
        Backend::Postgres => "20261212000001",
    }
}

/// The contact columns are filled from the documents already there when
/// they are added (on SQLite by a rebuild of the table, which keeps the
/// rows, their ids, the constraints and the counter of ids ever given),
/// and they revert with the rows kept, on both backends.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_contact_columns_are_filled_from_the_documents_already_there() {
    for db in TestDb::all() {
        contact_columns_filled(&db).await;
    }
}

async fn contact_columns_filled(db: &TestDb) {
    use switchboard_domain::{Customer, Location};

    let label = db.label;
    let store = unmigrated(db).await;
    let migration = contact_columns(store.backend());
    let previous = migration_before(migration);
    let through = previous.clone();
    store
        .run(move |c| c.run_migrations_through(&through))
        .await
        .unwrap();

    // Customers written before the columns existed: every member set (a
    // name JSON must escape), none set, and a deleted newest one.
    let tenant = store.admin().create_tenant("acme").await.unwrap();
    let ctx = WriteContext::new(tenant.clone(), Actor::System, "test");
    let mut full = Customer::new(tenant.id, store.now());
    full.user_id = Some("u-1".into());
    full.name = Some("Ada \"Ω\" \\ Lovelace\n".into());
    full.email = Some("Ada@Example.com".into());
    full.phone = Some("+49 30 1".into());
    full.company = Some("Acme".into());
    full.location = Some(Location {
        country_code: Some("DE".into()),
        ..Default::default()
    });
    let customers = store.customers();
    let full = customers.create(&ctx, full).await.unwrap();
    let empty = customers
        .create(&ctx, Customer::new(tenant.id, store.now()))
        .await
        .unwrap();
    let newest = customers
        .create(&ctx, Customer::new(tenant.id, store.now()))
        .await
        .unwrap();
    customers
        .delete(&ctx, newest.id, Precondition::NONE)
        .await
        .unwrap();

    let mut raw = db.raw();
    let rows_before = rows(&mut raw);
    let constraints_before = constraints(&mut raw);
    // Through this migration only: a later one may add tables.
    let applied = store
        .run(move |c| c.run_migrations_through(migration))
        .await
        .unwrap();
    assert_eq!(
        applied.last().map(String::as_str),
        Some(migration),
        "{label}: {applied:?}"
    );
    assert_eq!(rows(&mut raw), rows_before, "{label}");
    if store.backend() == Backend::Sqlite {
        // The rebuilt table's; PostgreSQL's only gains the columns.
        assert_eq!(constraints(&mut raw), constraints_before, "{label}");
    }

    let contacts = |raw: &mut Raw| {
        raw.lines(
            "SELECT json_array(id, contact_name, contact_email, contact_phone, contact_company, \
             contact_country) AS line FROM customers ORDER BY id",
            "SELECT json_build_array(id, contact_name, contact_email, contact_phone, \
             contact_company, contact_country)::text AS line FROM customers ORDER BY id",
        )
    };
    let want = [
        serde_json::json!([
            full.id.get(),
            "Ada \"Ω\" \\ Lovelace\n",
            "Ada@Example.com",
            "+49 30 1",
            "Acme",
            "DE"
        ]),
        serde_json::json!([empty.id.get(), null, null, null, null, null]),
    ];
    let found: Vec<serde_json::Value> = contacts(&mut raw)
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(found, want, "{label}");

    // Ids stay above the deleted newest one, and the triggers rebuilt with
    // the table still run: a new customer is counted.
    let next = customers
        .create(&ctx, Customer::new(tenant.id, store.now()))
        .await
        .unwrap();
    assert!(next.id > newest.id, "{label}: {next:?} after {newest:?}");
    assert_eq!(
        customers.count(tenant.id, None).await.unwrap(),
        3,
        "{label}"
    );

    // Down again: the same rows, without the columns.
    let rows_after = rows(&mut raw);
    let reverted = store
        .run(move |c| c.revert_migrations_after(&previous))
        .await
        .unwrap();
    assert_eq!(
        reverted.last().map(String::as_str),
        Some(migration),
        "{label}: {reverted:?}"
    );
    assert_eq!(rows(&mut raw), rows_after, "{label}");
    let columns = raw.lines(
        "SELECT name AS line FROM pragma_table_xinfo('customers') WHERE name LIKE 'contact_%'",
        "SELECT column_name::text AS line FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name = 'customers' \
         AND column_name LIKE 'contact_%'",
    );
    assert!(columns.is_empty(), "{label}: {columns:?}");
}

/// PostgreSQL's table of custom attribute values.
const ATTRIBUTE_VALUES: &str = "20261210000001";

/// The custom attribute values are filled from the documents already
/// there when PostgreSQL's table of them is made (SQLite has kept them
/// since its first query migration, so the same searches hold there): the
/// scalars of each customer's `customData`, of every tenant, and the
/// triggers keep them after. A search by attribute reads only that table
/// and the matches' rows, so a customer left out would never be found.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_attribute_values_are_filled_from_the_documents_already_there() {
    use serde_json::json;
    use switchboard_domain::query::{CustomerField as Cu, Op, Page, Query, Sort, Value};
    use switchboard_domain::{AttributeType, CustomAttribute, Customer, CustomerId};
    use switchboard_testsupport::query::{cond, text};

    for db in TestDb::all() {
        let store = Store::open(&db.url, StoreConfig::for_tests())
            .await
            .unwrap();
        let label = store.backend().name();
        let acme = store.admin().create_tenant("acme").await.unwrap();
        let globex = store.admin().create_tenant("globex").await.unwrap();
        for t in [acme.id, globex.id] {
            for (name, kind) in [
                ("plan", AttributeType::String),
                ("seats", AttributeType::Number),
                ("trial", AttributeType::Boolean),
            ] {
                store
                    .admin()
                    .create_attribute(CustomAttribute::new(t, name, kind, name))
                    .await
                    .unwrap();
            }
        }
        // Customers of both tenants, then the table reverted (on
        // PostgreSQL, dropped) and one value changed by the older schema.
        let docs = [
            (&acme, json!({"plan": "pro", "seats": 5, "trial": true})),
            (&acme, json!({"plan": "free", "seats": 5.0})),
            (&acme, json!({"plan": "free", "seats": "5"})),
            (&acme, json!({})),
            (&globex, json!({"plan": "pro", "seats": 5, "trial": true})),
        ];
        let mut ids = Vec::new();
        for (tenant, data) in docs {
            let ctx = WriteContext::new(tenant.clone(), Actor::System, "test");
            let mut c = Customer::new(tenant.id, store.now());
            if let serde_json::Value::Object(map) = data {
                c.custom_data.extend(map);
            }
            ids.push(store.customers().create(&ctx, c).await.unwrap().id.get());
        }
        let keep = migration_before(ATTRIBUTE_VALUES);
        store
            .run(move |c| c.revert_migrations_after(&keep))
            .await
            .unwrap();
        let ctx = WriteContext::new(acme.clone(), Actor::System, "test");
        store
            .customers()
            .update(&ctx, CustomerId::new(ids[2]), Precondition::NONE, |c| {
                c.custom_data.insert("plan".into(), json!("pro"));
            })
            .await
            .unwrap();
        let applied = store.migrate().await.unwrap();
        assert_eq!(
            applied.first().map(String::as_str),
            Some(ATTRIBUTE_VALUES),
            "{label}: {applied:?}"
        );

        let attrs = store.admin().attributes(acme.id).await.unwrap();
        let search = |name: &'static str, op: Op, values: Vec<Value>| {
            let field = Cu::attribute(name, &attrs).unwrap();
            let q = Query::new(
                Some(cond(field, op, values)),
                Sort::by_id(false),
                Page::First,
                10,
            )
            .unwrap();
            let store = store.clone();
            async move {
                let found = store.customers().query_counted(acme.id, &q).await.unwrap();
                let page: Vec<i64> = found.page.items.iter().map(|c| c.id.get()).collect();
                assert_eq!(found.total, page.len() as u64, "{page:?}");
                page
            }
        };
        assert_eq!(
            search("plan", Op::Eq, vec![text("pro")]).await,
            [ids[0], ids[2]],
            "{label}"
        );
        assert_eq!(
            search("plan", Op::In, vec![text("pro"), text("free")]).await,
            [ids[0], ids[1], ids[2]],
            "{label}"
        );
        // 5 and 5.0 are one number; a number attribute matches "5" too.
        assert_eq!(
            search("seats", Op::Eq, vec![Value::Int(5)]).await,
            [ids[0], ids[1], ids[2]],
            "{label}"
        );
        assert_eq!(
            search("trial", Op::Eq, vec![Value::Bool(true)]).await,
            [ids[0]],
            "{label}"
        );
        assert_eq!(
            search("plan", Op::IsNotNull, vec![]).await,
            [ids[0], ids[1], ids[2]],
            "{label}"
        );

        // After the migration, the triggers: a new customer, a changed
        // value, a removed one.
        let mut fresh = Customer::new(acme.id, store.now());
        fresh.custom_data.insert("plan".into(), json!("pro"));
        let fresh = store.customers().create(&ctx, fresh).await.unwrap();
        store
            .customers()
            .update(&ctx, CustomerId::new(ids[1]), Precondition::NONE, |c| {
                c.custom_data.insert("plan".into(), json!("pro"));
                c.custom_data.remove("seats");
            })
            .await
            .unwrap();
        assert_eq!(
            search("plan", Op::Eq, vec![text("pro")]).await,
            [ids[0], ids[1], ids[2], fresh.id.get()],
            "{label}"
        );
        assert_eq!(
            search("seats", Op::Eq, vec![Value::Int(5)]).await,
            [ids[0], ids[2]],
            "{label}"
        );
    }
}

/// A migration that an older node cannot run beside
/// (`connection::STOP_EVERY_NODE`) is refused while a node of the database
/// runs (sends heartbeats), applying nothing, and applied once no node
/// does: after the running one left, with another silent for longer
/// (killed, say) still listed. A node seen within `connection::STOPPED_FOR`
/// that sends no more heartbeats (killed a moment ago) is waited for:
/// refused if it sends one meanwhile, applied once it counts as stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_migration_that_needs_every_node_stopped_waits_until_none_runs() {
    use std::time::{Duration, Instant};

    use crate::StorageError;
    use crate::connection::STOPPED_FOR;

    const RECORDS_AS_WRITTEN: &str = "20261213000001";
    let Some(db) = TestDb::postgres() else { return };
    let store = unmigrated(&db).await;
    let previous = migration_before(RECORDS_AS_WRITTEN);
    store
        .run(move |c| c.run_migrations_through(&previous))
        .await
        .unwrap();
    let mut raw = db.raw();
    let payload_type = |raw: &mut Raw| {
        raw.lines(
            "SELECT 'unused' AS line",
            "SELECT data_type AS line FROM information_schema.columns \
             WHERE table_name = 'outbox' AND column_name = 'payload'",
        )
    };
    assert_eq!(payload_type(&mut raw), ["jsonb"]);

    // A node that runs: a heartbeat every second, as a server sends.
    let heartbeats = |node: &'static str, first_after: Duration| {
        let store = store.clone();
        tokio::spawn(async move {
            tokio::time::sleep(first_after).await;
            loop {
                store.heartbeat(node, Duration::from_secs(3)).await.unwrap();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    };
    let older = heartbeats("an-older-node", Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = store.migrate().await;
    assert!(
        matches!(
            &refused,
            Err(StorageError::NodesRunning { migration, live: 1, .. }) if migration == RECORDS_AS_WRITTEN
        ),
        "{refused:?}"
    );
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("stop them, then migrate"),
        "the message says what to do"
    );
    assert_eq!(payload_type(&mut raw), ["jsonb"], "nothing was applied");
    older.abort();
    let _ = older.await;
    store.leave("an-older-node").await.unwrap();

    let silent_since =
        store.now().as_millis() - i64::try_from(STOPPED_FOR.as_millis()).unwrap() - 1_000;
    raw.execute(&format!(
        "INSERT INTO nodes (id, seen_at) VALUES ('a-killed-node', {silent_since})"
    ));

    // Silent for a second, then heartbeats again while the migration
    // watches: it runs after all (a pause, not a crash).
    let a_second_ago = |store: &Store| store.now().as_millis() - 1_000;
    raw.execute(&format!(
        "INSERT INTO nodes (id, seen_at) VALUES ('a-paused-node', {})",
        a_second_ago(&store)
    ));
    let paused = heartbeats("a-paused-node", Duration::from_secs(2));
    let refused = store.migrate().await;
    paused.abort();
    let _ = paused.await;
    assert!(
        matches!(&refused, Err(StorageError::NodesRunning { live: 1, .. })),
        "{refused:?}"
    );
    assert_eq!(payload_type(&mut raw), ["jsonb"], "nothing was applied");

    // Silent for a second and nothing since (killed): applied once it
    // counts as stopped, without a second attempt by the caller.
    raw.execute(&format!(
        "UPDATE nodes SET seen_at = {} WHERE id = 'a-paused-node'",
        a_second_ago(&store)
    ));
    let asked = Instant::now();
    let applied = store.migrate().await.unwrap();
    assert!(
        applied.iter().any(|v| v == RECORDS_AS_WRITTEN),
        "{applied:?}"
    );
    assert!(
        asked.elapsed() >= STOPPED_FOR - Duration::from_millis(1_500),
        "it waited until the node counted as stopped: {:?}",
        asked.elapsed()
    );
    assert_eq!(payload_type(&mut raw), ["json"]);
}
