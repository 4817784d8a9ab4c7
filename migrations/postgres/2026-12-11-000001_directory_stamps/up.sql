-- A per-tenant stamp of the directory (agents and departments), kept by
-- triggers: every insert, delete, or change of a column a conversation's
-- links show (not an agent's console password) counts it up, in the
-- writing transaction. A node keeps a copy of each tenant's directory with
-- the stamp it was read at; a chat page's statement selects the stamp
-- itself (one primary-key lookup, an InitPlan run once a statement), and
-- the copy serves the page's agents and departments only while the two
-- are equal (`crate::directory`): no NOTIFY is needed, every node checks
-- against the database. Directory writes of one tenant queue on its stamp
-- row until they commit; they are rare administrative writes.
-- Rows are never deleted (not even with their tenant, whose id is never
-- reused), so a stamp never goes back to a value a copy may hold.
CREATE TABLE directory_stamps (
    tenant_id BIGINT PRIMARY KEY,
    stamp BIGINT NOT NULL
);

INSERT INTO directory_stamps (tenant_id, stamp)
SELECT tenant_id, 1 FROM agents UNION SELECT tenant_id, 1 FROM departments;

CREATE FUNCTION directory_stamp_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO directory_stamps AS s (tenant_id, stamp) VALUES (OLD.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET stamp = s.stamp + 1;
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.tenant_id <> OLD.tenant_id) THEN
        INSERT INTO directory_stamps AS s (tenant_id, stamp) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET stamp = s.stamp + 1;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER directory_stamps_agents
AFTER INSERT OR DELETE OR UPDATE OF tenant_id, name, email, role ON agents
FOR EACH ROW EXECUTE FUNCTION directory_stamp_bump();

CREATE TRIGGER directory_stamps_departments
AFTER INSERT OR DELETE OR UPDATE OF tenant_id, name ON departments
FOR EACH ROW EXECUTE FUNCTION directory_stamp_bump();
