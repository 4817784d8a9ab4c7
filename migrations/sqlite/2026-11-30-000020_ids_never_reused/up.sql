-- Ids are never reused. Without AUTOINCREMENT, SQLite gives a new row the
-- highest id in the table plus one, so deleting the newest customer,
-- conversation or webhook subscription handed its id to the next one: a stale
-- id (a late Zapier unsubscribe, an integration's cached customer id) then
-- acted on someone else. AUTOINCREMENT keeps the highest id ever used in
-- sqlite_sequence and never goes below it. PostgreSQL's identity columns never
-- reuse an id (its migration of the same name does nothing).
--
-- Every table whose ids leave the database (through the APIs, the CLI or
-- webhooks) is rebuilt with SQLite's documented procedure
-- (https://www.sqlite.org/lang_altertable.html#otheralter): foreign keys off
-- (outside a transaction; see metadata.toml), then in one transaction: create
-- the new table, copy the rows with their ids, drop the old table, rename the
-- new one, recreate its indexes; check the foreign keys; commit. Columns,
-- constraints, foreign keys with their ON DELETE rules, and indexes are the
-- same as before. The outbox, deliveries, delivery attempts and the change
-- history are not rebuilt here: they are the largest tables, and retention
-- never deletes the newest row of any of them. (Deleting a subscription
-- still deletes its deliveries and attempts, the newest possibly among
-- them, whose ids SQLite can then give again.)
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE new_tenants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
INSERT INTO new_tenants (id, name, created_at)
    SELECT id, name, created_at FROM tenants;
DROP TABLE tenants;
ALTER TABLE new_tenants RENAME TO tenants;

CREATE TABLE new_api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO new_api_keys (id, tenant_id, name, prefix, secret_hash, scopes, created_at)
    SELECT id, tenant_id, name, prefix, secret_hash, scopes, created_at FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE new_api_keys RENAME TO api_keys;
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE new_agents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    UNIQUE (tenant_id, email)
);
INSERT INTO new_agents (id, tenant_id, name, email, role)
    SELECT id, tenant_id, name, email, role FROM agents;
DROP TABLE agents;
ALTER TABLE new_agents RENAME TO agents;

CREATE TABLE new_departments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    UNIQUE (tenant_id, name)
);
INSERT INTO new_departments (id, tenant_id, name)
    SELECT id, tenant_id, name FROM departments;
DROP TABLE departments;
ALTER TABLE new_departments RENAME TO departments;

CREATE TABLE new_tags (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    color TEXT NOT NULL,
    UNIQUE (tenant_id, name)
);
INSERT INTO new_tags (id, tenant_id, name, color)
    SELECT id, tenant_id, name, color FROM tags;
DROP TABLE tags;
ALTER TABLE new_tags RENAME TO tags;

CREATE TABLE new_custom_attributes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    UNIQUE (tenant_id, name)
);
INSERT INTO new_custom_attributes (id, tenant_id, name, kind, label)
    SELECT id, tenant_id, name, kind, label FROM custom_attributes;
DROP TABLE custom_attributes;
ALTER TABLE new_custom_attributes RENAME TO custom_attributes;

CREATE TABLE new_customers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id TEXT,
    email TEXT,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    UNIQUE (tenant_id, user_id)
);
INSERT INTO new_customers (id, tenant_id, user_id, email, doc, created_at, updated_at, version)
    SELECT id, tenant_id, user_id, email, doc, created_at, updated_at, version FROM customers;
DROP TABLE customers;
ALTER TABLE new_customers RENAME TO customers;
CREATE INDEX customers_tenant_email ON customers (tenant_id, email);

CREATE TABLE new_conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    session_key TEXT NOT NULL,
    status TEXT NOT NULL,
    customer_id BIGINT REFERENCES customers(id) ON DELETE SET NULL,
    visitor_email TEXT,
    doc TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    UNIQUE (tenant_id, session_key)
);
INSERT INTO new_conversations (id, tenant_id, session_key, status, customer_id, visitor_email, doc, created_at, updated_at, version)
    SELECT id, tenant_id, session_key, status, customer_id, visitor_email, doc, created_at, updated_at, version FROM conversations;
DROP TABLE conversations;
ALTER TABLE new_conversations RENAME TO conversations;
CREATE INDEX conversations_tenant_status ON conversations (tenant_id, status, id);
CREATE INDEX conversations_customer ON conversations (customer_id);

CREATE TABLE new_webhook_subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    target_url TEXT NOT NULL,
    event TEXT NOT NULL,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_expires_at BIGINT,
    state TEXT NOT NULL,
    failing_since BIGINT,
    created_at BIGINT NOT NULL
);
INSERT INTO new_webhook_subscriptions (id, tenant_id, target_url, event, secret, previous_secret, previous_secret_expires_at, state, failing_since, created_at)
    SELECT id, tenant_id, target_url, event, secret, previous_secret, previous_secret_expires_at, state, failing_since, created_at FROM webhook_subscriptions;
DROP TABLE webhook_subscriptions;
ALTER TABLE new_webhook_subscriptions RENAME TO webhook_subscriptions;
CREATE INDEX webhook_subscriptions_tenant_event ON webhook_subscriptions (tenant_id, event);
-- A customer or conversation deleted before this migration may have been the
-- newest: its id is not in the table any more, but its events and history
-- rows are. Start the counters above those too. (A webhook subscription
-- deleted before this migration leaves no trace; if it was the newest, its
-- id can be given once more. Nothing else could be deleted before.)
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'customers', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'customers');
UPDATE sqlite_sequence SET seq = MAX(
    seq,
    (SELECT COALESCE(MAX(entity_id), 0) FROM outbox WHERE entity_kind = 'customer'),
    (SELECT COALESCE(MAX(entity_id), 0) FROM change_history WHERE entity_kind = 'customer')
) WHERE name = 'customers';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'conversations', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'conversations');
UPDATE sqlite_sequence SET seq = MAX(
    seq,
    (SELECT COALESCE(MAX(entity_id), 0) FROM outbox WHERE entity_kind = 'conversation'),
    (SELECT COALESCE(MAX(entity_id), 0) FROM change_history WHERE entity_kind = 'conversation')
) WHERE name = 'conversations';

-- Step 10 of the procedure: no foreign key may point nowhere. A violation
-- fails the CHECK below, which rolls the whole migration back.
CREATE TEMP TABLE switchboard_foreign_key_check (
    violations INTEGER NOT NULL CHECK (violations = 0)
);
INSERT INTO switchboard_foreign_key_check SELECT COUNT(*) FROM pragma_foreign_key_check;
DROP TABLE switchboard_foreign_key_check;

COMMIT;
PRAGMA foreign_keys = ON;
