//! The running counts of customers and conversations (migration
//! `2026-12-03-000001_row_counts`).
//!
//! Triggers add a `+n`/`-n` row for inserts and deletes (SQLite per row,
//! PostgreSQL per statement) and, for a conversation, for every change of
//! status, assignee or department, so a total is a sum ([`super::query`])
//! and concurrent writers never share a counter row. [`fold`] replaces a
//! tenant's rows by one per group with a count other than zero; the store
//! runs it when a total had to sum more than [`FOLD_ABOVE`] rows, and an
//! import in its own transaction ([`fold_in`]).

use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;

use super::R;
use crate::connection::DbConnection;

/// A total that summed more rows than this folds the tenant's rows.
pub(crate) const FOLD_ABOVE: u64 = 256;

/// Which counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Counts {
    Customers,
    Conversations,
}

impl Counts {
    /// The table of these counts.
    pub(crate) const fn table(self) -> &'static str {
        match self {
            Self::Customers => "customer_counts",
            Self::Conversations => "conversation_counts",
        }
    }

    /// The PostgreSQL fold: the rows deleted are exactly the rows summed
    /// (one statement), whatever commits meanwhile.
    const fn pg(self) -> &'static str {
        match self {
            Self::Customers => {
                "WITH gone AS (DELETE FROM customer_counts WHERE tenant_id = $1 RETURNING n) \
                 INSERT INTO customer_counts (tenant_id, n) \
                 SELECT $1, sum(n)::bigint FROM gone HAVING coalesce(sum(n), 0) <> 0"
            }
            Self::Conversations => {
                "WITH gone AS (DELETE FROM conversation_counts WHERE tenant_id = $1 \
                 RETURNING status, assignee_key, department_key, n) \
                 INSERT INTO conversation_counts (tenant_id, status, assignee_key, department_key, n) \
                 SELECT $1, status, assignee_key, department_key, sum(n)::bigint FROM gone \
                 GROUP BY status, assignee_key, department_key HAVING sum(n) <> 0"
            }
        }
    }

    /// The SQLite fold, in the writer's transaction (SQLite has one
    /// writer): the sums of the rows up to `$2` (the largest id), inserted
    /// after them, then those rows deleted.
    const fn sqlite(self) -> [&'static str; 2] {
        match self {
            Self::Customers => [
                "INSERT INTO customer_counts (tenant_id, n) \
                 SELECT tenant_id, sum(n) FROM customer_counts WHERE tenant_id = ?1 AND id <= ?2 \
                 GROUP BY tenant_id HAVING sum(n) <> 0",
                "DELETE FROM customer_counts WHERE tenant_id = ?1 AND id <= ?2",
            ],
            Self::Conversations => [
                "INSERT INTO conversation_counts \
                 (tenant_id, status, assignee_key, department_key, n) \
                 SELECT tenant_id, status, assignee_key, department_key, sum(n) \
                 FROM conversation_counts WHERE tenant_id = ?1 AND id <= ?2 \
                 GROUP BY status, assignee_key, department_key HAVING sum(n) <> 0",
                "DELETE FROM conversation_counts WHERE tenant_id = ?1 AND id <= ?2",
            ],
        }
    }

    /// The advisory lock that orders folds of `tenant`'s counts.
    const fn lock_key(self, tenant: i64) -> i64 {
        // "SBC" and the kind in the top 32 bits, the tenant below.
        let kind = match self {
            Self::Customers => 1,
            Self::Conversations => 2,
        };
        ((0x5342_4300 | kind) << 32) ^ (tenant & 0xffff_ffff)
    }

    const fn max_id(self) -> &'static str {
        match self {
            Self::Customers => "SELECT coalesce(max(id), 0) AS n FROM customer_counts",
            Self::Conversations => "SELECT coalesce(max(id), 0) AS n FROM conversation_counts",
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Max {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Folds the tenant's rows of `counts` into one per group (none for a
/// group whose count is zero). Totals are the same before and after.
pub(crate) fn fold(c: &mut DbConnection, counts: Counts, tenant: i64) -> R<()> {
    diesel::Connection::transaction(c, |c| fold_in(c, counts, tenant))
}

/// [`fold`] in the caller's transaction.
pub(crate) fn fold_in(c: &mut DbConnection, counts: Counts, tenant: i64) -> R<()> {
    match c {
        DbConnection::Pg(c) => {
            // One fold of a tenant's counts at a time (imports in parallel
            // and the background fold): two deletes of the same rows in
            // different orders could deadlock.
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                .bind::<BigInt, _>(counts.lock_key(tenant))
                .execute(c)?;
            diesel::sql_query(counts.pg())
                .bind::<BigInt, _>(tenant)
                .execute(c)?;
        }
        DbConnection::Sqlite(c) => {
            let max = diesel::sql_query(counts.max_id()).get_result::<Max>(c)?.n;
            for stmt in counts.sqlite() {
                diesel::sql_query(stmt)
                    .bind::<BigInt, _>(tenant)
                    .bind::<BigInt, _>(max)
                    .execute(c)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {

    use switchboard_domain::{Actor, Conversation, ConversationStatus, Customer};
    use switchboard_testsupport::TestDb;

    use super::{Counts, fold};
    use crate::{Store, StoreConfig, WriteContext};

    /// How many count rows the tenant has, and their sum.
    async fn rows(store: &Store, counts: Counts, tenant: i64) -> (i64, i64) {
        #[derive(diesel::QueryableByName)]
        struct Rows {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            rows: i64,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            total: i64,
        }
        let table = counts.table();
        let sql = format!(
            "SELECT count(*) AS rows, CAST(coalesce(sum(n), 0) AS BIGINT) AS total \
             FROM {table} WHERE tenant_id = {tenant}"
        );
        let r: Rows = store
            .run(move |c| {
                Ok::<_, crate::StorageError>(crate::connection::native!(c, c => {
                    diesel::RunQueryDsl::get_result(diesel::sql_query(&sql), c)
                })?)
            })
            .await
            .unwrap();
        (r.rows, r.total)
    }

    /// Folding leaves one row per group whose count is not zero, and the
    /// same totals; another tenant's rows are untouched.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fold_keeps_the_totals_in_one_row_per_group() {
        for db in TestDb::all() {
            let store = Store::open(&db.url, StoreConfig::for_tests())
                .await
                .unwrap();
            let label = store.backend().name();
            let mut ctxs = Vec::new();
            for name in ["acme", "globex"] {
                let tenant = store.admin().create_tenant(name).await.unwrap();
                ctxs.push(WriteContext::new(tenant, Actor::System, "counts"));
            }
            let (acme, globex) = (ctxs[0].tenant.id, ctxs[1].tenant.id);
            for ctx in &ctxs {
                let t = ctx.tenant.id;
                for i in 0..40 {
                    let c = store
                        .customers()
                        .create(ctx, Customer::new(t, store.now()))
                        .await
                        .unwrap();
                    if i % 4 == 0 {
                        store
                            .customers()
                            .delete(ctx, c.id, crate::Precondition::NONE)
                            .await
                            .unwrap();
                    }
                    let mut draft = Conversation::new(t, format!("s-{i}"), store.now());
                    draft.status = [ConversationStatus::Opened, ConversationStatus::New][i % 2];
                    let conv = store.conversations().create(ctx, draft).await.unwrap();
                    if i % 5 == 0 {
                        store
                            .conversations()
                            .delete(ctx, conv.id, crate::Precondition::NONE)
                            .await
                            .unwrap();
                    }
                }
            }
            let before_other = rows(&store, Counts::Conversations, globex.get()).await;
            for (counts, groups, total) in
                [(Counts::Customers, 1, 30), (Counts::Conversations, 2, 32)]
            {
                let (n, sum) = rows(&store, counts, acme.get()).await;
                assert!(n > 40, "{label}: {counts:?}: {n} rows before the fold");
                assert_eq!(sum, total, "{label}: {counts:?}");
                store
                    .write(move |c| fold(c, counts, acme.get()))
                    .await
                    .unwrap();
                assert_eq!(
                    rows(&store, counts, acme.get()).await,
                    (groups, total),
                    "{label}: {counts:?} after the fold"
                );
            }
            assert_eq!(
                rows(&store, Counts::Conversations, globex.get()).await,
                before_other,
                "{label}: another tenant's rows"
            );
            // A bulk import folds in its own transaction: a million
            // imported rows leave no million count rows (nor, once
            // vacuumed, dead ones on PostgreSQL).
            let drafts = (0..50).map(|_| Customer::new(acme, store.now())).collect();
            store.customers().import(&ctxs[0], drafts).await.unwrap();
            assert_eq!(
                rows(&store, Counts::Customers, acme.get()).await,
                (1, 80),
                "{label}: after an import"
            );
        }
    }
}
