-- The delivery worker claims the oldest unprocessed events in id order.
-- `outbox_due (processed_at, available_at, id)` could not give that order, so
-- every claim read and sorted all pending rows. This partial index holds only
-- pending rows in id order, so a claim stops after `limit` of them.
DROP INDEX outbox_due;
CREATE INDEX outbox_pending ON outbox (id) WHERE processed_at IS NULL;
