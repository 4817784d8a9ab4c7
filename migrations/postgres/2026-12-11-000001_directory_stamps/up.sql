-- Nothing to do on PostgreSQL. SQLite's migration of the same name keeps a
-- trigger-counted stamp of each tenant's directory (agents and
-- departments), which a chat page's statement reads to check the node's
-- copy of it (`crate::directory`). PostgreSQL's chat pages read their
-- agents and departments with their contacts, by a second statement:
-- joining the contacts into the page's statement, which the copy needs to
-- save that statement, measured slower there (docs/benchmarks.md, "A chat
-- page in one statement").
SELECT 1;
