-- Nothing to do on SQLite: every JSON column is TEXT, kept as written (see
-- migrations/postgres of the same name, which makes the outbox's payload
-- and diff and the history's actor and diff `json` instead of `jsonb`).
SELECT 1;
