-- Custom info equality (HelpCrunch and SalesIQ searches on a conversation's
-- custom info). SQLite cannot index a document's keys (an expression index
-- holds one entry per row, and custom info keys are data), so each scalar
-- customInfo value is also a row here, kept in step with the document by
-- triggers, as customer_attribute_values is for custom attributes.
-- PostgreSQL indexes the document itself (GIN, conversations_custom_info)
-- and has no such table. `value` has no declared type: it keeps the JSON
-- value's storage class (integer, real or text; booleans as the text
-- 'true'/'false'). Custom info is untyped, so a lookup here only narrows
-- the candidates: the query still tests each one's document for the exact
-- JSON type, as PostgreSQL rechecks its GIN matches.
CREATE TABLE conversation_info_values (
    tenant_id BIGINT NOT NULL,
    conversation_id BIGINT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value NOT NULL
);
CREATE INDEX conversation_info_values_lookup
    ON conversation_info_values (tenant_id, key, value, conversation_id);
CREATE INDEX conversation_info_values_conversation
    ON conversation_info_values (conversation_id);

INSERT INTO conversation_info_values (tenant_id, conversation_id, key, value)
SELECT c.tenant_id, c.id, j.key,
       CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE j.atom END
FROM conversations AS c, json_each(c.doc, '$.customInfo') AS j
WHERE j.type IN ('text', 'integer', 'real', 'true', 'false');

CREATE TRIGGER conversation_info_values_insert AFTER INSERT ON conversations
BEGIN
    INSERT INTO conversation_info_values (tenant_id, conversation_id, key, value)
    SELECT NEW.tenant_id, NEW.id, j.key,
           CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE j.atom END
    FROM json_each(NEW.doc, '$.customInfo') AS j
    WHERE j.type IN ('text', 'integer', 'real', 'true', 'false');
END;

CREATE TRIGGER conversation_info_values_update AFTER UPDATE OF doc ON conversations
WHEN json_extract(OLD.doc, '$.customInfo') IS NOT json_extract(NEW.doc, '$.customInfo')
BEGIN
    DELETE FROM conversation_info_values WHERE conversation_id = OLD.id;
    INSERT INTO conversation_info_values (tenant_id, conversation_id, key, value)
    SELECT NEW.tenant_id, NEW.id, j.key,
           CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE j.atom END
    FROM json_each(NEW.doc, '$.customInfo') AS j
    WHERE j.type IN ('text', 'integer', 'real', 'true', 'false');
END;
