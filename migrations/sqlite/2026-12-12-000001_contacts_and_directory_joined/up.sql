-- Nothing to do on SQLite: its customers keep their contact members as
-- stored generated columns since 2026-12-09-000001 and its directory
-- stamps since 2026-12-11-000001. PostgreSQL's migration of the same name
-- adds both there, so that a chat page is one statement on either backend.
SELECT 1;
