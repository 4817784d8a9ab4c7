-- A per-tenant stamp of the directory (agents and departments), kept by
-- triggers: every insert, delete, or change of a column a conversation's
-- links show (not an agent's console password), by any process on the
-- file and whatever statement makes it, counts it up. A process keeps a
-- copy of each tenant's directory with the stamp it was read at; a chat page's
-- statement selects the stamp itself (one primary-key lookup, evaluated
-- once a statement), and the copy serves the page's agents and
-- departments only while the two are equal (`crate::directory`).
-- Rows are never deleted (not even with their tenant, whose id is never
-- reused), so a stamp never goes back to a value a copy may hold.
CREATE TABLE directory_stamps (
    tenant_id INTEGER PRIMARY KEY,
    stamp BIGINT NOT NULL
);

INSERT INTO directory_stamps (tenant_id, stamp)
SELECT tenant_id, 1 FROM agents UNION SELECT tenant_id, 1 FROM departments;

CREATE TRIGGER directory_stamps_agent_insert AFTER INSERT ON agents
BEGIN
    INSERT INTO directory_stamps (tenant_id, stamp) VALUES (NEW.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET stamp = stamp + 1;
END;

CREATE TRIGGER directory_stamps_agent_update
AFTER UPDATE OF tenant_id, name, email, role ON agents
BEGIN
    INSERT INTO directory_stamps (tenant_id, stamp) VALUES (OLD.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET stamp = stamp + 1;
    -- The new tenant too, when the row moved to another (counted once
    -- otherwise).
    INSERT INTO directory_stamps (tenant_id, stamp)
    SELECT NEW.tenant_id, 1 WHERE NEW.tenant_id <> OLD.tenant_id
    ON CONFLICT (tenant_id) DO UPDATE SET stamp = stamp + 1;
END;

CREATE TRIGGER directory_stamps_agent_delete AFTER DELETE ON agents
BEGIN
    INSERT INTO directory_stamps (tenant_id, stamp) VALUES (OLD.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET stamp = stamp + 1;
END;

CREATE TRIGGER directory_stamps_department_insert AFTER INSERT ON departments
BEGIN
    INSERT INTO directory_stamps (tenant_id, stamp) VALUES (NEW.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET stamp = stamp + 1;
END;

CREATE TRIGGER directory_stamps_department_update
AFTER UPDATE OF tenant_id, name ON departments
BEGIN
    INSERT INTO directory_stamps (tenant_id, stamp) VALUES (OLD.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET stamp = stamp + 1;
    -- The new tenant too, when the row moved to another (counted once
    -- otherwise).
    INSERT INTO directory_stamps (tenant_id, stamp)
    SELECT NEW.tenant_id, 1 WHERE NEW.tenant_id <> OLD.tenant_id
    ON CONFLICT (tenant_id) DO UPDATE SET stamp = stamp + 1;
END;

CREATE TRIGGER directory_stamps_department_delete AFTER DELETE ON departments
BEGIN
    INSERT INTO directory_stamps (tenant_id, stamp) VALUES (OLD.tenant_id, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET stamp = stamp + 1;
END;
