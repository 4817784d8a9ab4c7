-- Outbox events are taken and fanned out in one transaction
-- (`Worker::fan_out_next`); nothing leases an event any more.
ALTER TABLE outbox DROP COLUMN lease_until;
