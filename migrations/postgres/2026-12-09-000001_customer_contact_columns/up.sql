-- Nothing to do on PostgreSQL. SQLite's migration of the same name stores a
-- customer's contact members in generated columns; PostgreSQL reads them
-- from the document with one `jsonb_to_record` per contact
-- (`sql::query::links_by_ids`), which fetches the document once. Stored
-- columns here would have saved a little more on large documents (0.10 ms
-- against 0.19 ms for 20 contacts of 4.8 KB) but cost every customer write
-- about 30 µs of database time, and a rewrite of the table
-- (docs/benchmarks.md, "A chat page's contacts without reading each document
-- again").
SELECT 1;
