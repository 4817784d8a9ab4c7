-- SQLite only (it rebuilds its tables with AUTOINCREMENT so that a deleted
-- row's id is never given to a new row). PostgreSQL's identity columns never
-- reuse an id; this keeps the two trees' names equal.
SELECT 1;
