-- An event that no subscription matches when it is committed is done at
-- once (issue #18). Fan-out delivers an event to the tenant's active
-- subscriptions of its type created no later than the event; when there is
-- none at insert, nothing can ever match it, yet the worker used to take it
-- in a write transaction of its own (a commit, an fsync) only to mark it
-- processed. The row stays: it is the Zapier samples' and the console's
-- record. SQLite triggers cannot change the row being inserted, so this
-- one marks it right after, in the same statement. Keep in step with
-- migrations/postgres.
CREATE TRIGGER outbox_unmatched AFTER INSERT ON outbox
WHEN NEW.processed_at IS NULL AND NOT EXISTS (
    SELECT 1 FROM webhook_subscriptions s
    WHERE s.tenant_id = NEW.tenant_id
      AND s.event = NEW.event_type
      AND s.state = 'active'
)
BEGIN
    UPDATE outbox SET processed_at = NEW.created_at WHERE id = NEW.id;
END;
