ALTER TABLE outbox RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_insert_scale_factor);
DROP INDEX outbox_pending;
CREATE INDEX outbox_due ON outbox (processed_at, available_at, id);
