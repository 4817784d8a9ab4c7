DROP INDEX outbox_pending;
CREATE INDEX outbox_due ON outbox (processed_at, available_at, id);
