-- Every write appends an outbox row and a history row (issue #18), and two
-- things made those appends cost more than the rows themselves on
-- PostgreSQL (docs/benchmarks.md, "The write's fixed costs"):
--
-- * Their foreign keys to `tenants`: each insert locked the tenant's row
--   FOR KEY SHARE, so every write of a tenant took two row locks on the
--   same row, which with concurrent writers means a new MultiXact, a WAL
--   record and a dirtied page each time. The keys go; a deleted tenant's
--   outbox and history rows are deleted with it explicitly
--   (`sql::tenants::delete_tenant`, after the tenant's row, whose cascade
--   waits for any write in flight on the tenant's rows). Both tables are
--   written only by entity writes, which still meet the tenant's foreign
--   keys (or its cascade) on the entity's own row.
-- * The `outbox_unmatched` trigger: a PL/pgSQL call per row. Its rule, an
--   event that no active subscription of its tenant and type matches when
--   it is inserted is done at once, is now part of the insert itself
--   (`processed_at` is `CASE WHEN EXISTS (…) THEN NULL ELSE created_at
--   END`, `sql::record`), with the same snapshot as the trigger had.
--
-- SQLite keeps both (its foreign keys take no locks, its triggers are
-- in-process calls): see migrations/sqlite of the same name.
ALTER TABLE outbox DROP CONSTRAINT outbox_tenant_id_fkey;
ALTER TABLE change_history DROP CONSTRAINT change_history_tenant_id_fkey;
DROP TRIGGER outbox_unmatched ON outbox;
DROP FUNCTION outbox_unmatched();
