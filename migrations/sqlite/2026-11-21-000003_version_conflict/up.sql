-- PostgreSQL only (a function its update-and-record statement raises on a
-- version conflict). SQLite writes those rows in separate statements inside
-- BEGIN IMMEDIATE and needs nothing; this keeps the two trees' names equal.
SELECT 1;
