//! Migrations: up, down and up again; both backends end with the schema of
//! `schema::TABLES`; the two migration trees stay in step. (Unit tests:
//! the schema is private to the crate.)

use std::collections::BTreeMap;
use std::path::Path;

use switchboard_domain::ConversationStatus;
use switchboard_domain::{Actor, Conversation};
use switchboard_testsupport::{RawConnection as Raw, TestDb};

use crate::schema::TABLES;
use crate::{Precondition, Store, StoreConfig, WriteContext};

/// The columns of every table except Diesel's bookkeeping, in column order:
/// `table column nullable`.
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

/// `schema::TABLES` as `table -> columns`.
fn declared() -> BTreeMap<String, Vec<String>> {
    TABLES
        .iter()
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
        let config = StoreConfig {
            secret_keys: crate::SecretKeySource::Keys(
                crate::SecretKeys::parse(switchboard_testsupport::SECRET_KEYS).unwrap(),
            ),
            ..StoreConfig::default()
        };
        let store = Store::open(&db.url, config).await.unwrap();
        let mut raw = db.raw();
        let before = schema_dump(&mut raw);
        assert_eq!(
            live(&columns(&mut raw)),
            declared(),
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

        nullability.push((label, columns(&mut raw)));
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
