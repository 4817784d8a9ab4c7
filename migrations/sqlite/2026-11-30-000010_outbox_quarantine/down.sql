DROP INDEX outbox_quarantined;
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (id) WHERE processed_at IS NULL;
ALTER TABLE outbox DROP COLUMN quarantined_at;
ALTER TABLE outbox DROP COLUMN last_error;
ALTER TABLE outbox DROP COLUMN fan_out_failures;
