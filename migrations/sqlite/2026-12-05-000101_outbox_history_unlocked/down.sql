-- Nothing to do on SQLite: its foreign keys take no row locks and its
-- triggers are in-process calls (see migrations/postgres of the same name,
-- which drops the outbox's and the history's keys to `tenants` and the
-- `outbox_unmatched` trigger).
SELECT 1;
