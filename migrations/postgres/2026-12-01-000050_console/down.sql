DROP TABLE console_sessions;
DROP INDEX agents_email;
ALTER TABLE agents DROP COLUMN password_hash;
