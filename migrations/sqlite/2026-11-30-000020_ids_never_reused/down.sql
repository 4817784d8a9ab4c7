-- Back to tables without AUTOINCREMENT (see up.sql), by the same procedure.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE new_tenants (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
INSERT INTO new_tenants (id, name, created_at)
    SELECT id, name, created_at FROM tenants;
DROP TABLE tenants;
ALTER TABLE new_tenants RENAME TO tenants;

CREATE TABLE new_api_keys (
    id INTEGER PRIMARY KEY,
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
    id INTEGER PRIMARY KEY,
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
    id INTEGER PRIMARY KEY,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    UNIQUE (tenant_id, name)
);
INSERT INTO new_departments (id, tenant_id, name)
    SELECT id, tenant_id, name FROM departments;
DROP TABLE departments;
ALTER TABLE new_departments RENAME TO departments;

CREATE TABLE new_tags (
    id INTEGER PRIMARY KEY,
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
    id INTEGER PRIMARY KEY,
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
    id INTEGER PRIMARY KEY,
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
    id INTEGER PRIMARY KEY,
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
    id INTEGER PRIMARY KEY,
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
DELETE FROM sqlite_sequence WHERE name IN ('tenants', 'api_keys', 'agents', 'departments', 'tags', 'custom_attributes', 'customers', 'conversations', 'webhook_subscriptions');

-- Step 10 of the procedure: no foreign key may point nowhere. A violation
-- fails the CHECK below, which rolls the whole migration back.
CREATE TEMP TABLE switchboard_foreign_key_check (
    violations INTEGER NOT NULL CHECK (violations = 0)
);
INSERT INTO switchboard_foreign_key_check SELECT COUNT(*) FROM pragma_foreign_key_check;
DROP TABLE switchboard_foreign_key_check;

COMMIT;
PRAGMA foreign_keys = ON;
