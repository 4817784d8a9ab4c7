CREATE FUNCTION outbox_unmatched() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.processed_at IS NULL AND NOT EXISTS (
        SELECT 1 FROM webhook_subscriptions s
        WHERE s.tenant_id = NEW.tenant_id
          AND s.event = NEW.event_type
          AND s.state = 'active'
    ) THEN
        NEW.processed_at := NEW.created_at;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER outbox_unmatched BEFORE INSERT ON outbox
    FOR EACH ROW EXECUTE FUNCTION outbox_unmatched();

DELETE FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = o.tenant_id);
DELETE FROM change_history h WHERE NOT EXISTS (SELECT 1 FROM tenants t WHERE t.id = h.tenant_id);
ALTER TABLE outbox ADD CONSTRAINT outbox_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE;
ALTER TABLE change_history ADD CONSTRAINT change_history_tenant_id_fkey
    FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE;
