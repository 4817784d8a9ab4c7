-- Console sign-in: an agent's Argon2id password hash (PHC string; NULL:
-- the agent cannot sign in) and server-side console sessions, stored as
-- the SHA-256 of their token.
ALTER TABLE agents ADD COLUMN password_hash TEXT;
CREATE INDEX agents_email ON agents (email);

CREATE TABLE console_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    agent_id BIGINT NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX console_sessions_agent ON console_sessions (agent_id);
