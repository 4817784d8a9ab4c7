-- Custom attribute and custom info equality, planned once (issue #15).
-- A search by one custom attribute (HelpCrunch's customers by
-- customData) was planned on every request: for a known value PostgreSQL
-- estimates a rare one at a few rows, and its generic plan (a containment
-- estimated at 1% of the table) never looked as cheap. Reading the value
-- through (SELECT $n) makes every plan alike, but a plan made for no
-- tenant in particular could then read a big tenant's rows one by one
-- from a btree index led by tenant_id, testing each document.
--
-- These GIN indexes hold the member keyed by its row's tenant,
-- {"<tenant id>": <member>}. jsonb_path_ops makes one index entry of each
-- value and its whole path, here the tenant and the attribute, so one
-- entry lists the tenant's rows holding a value, for a tenant of any size
-- (a key of its own for the tenant would be a second entry, listing all
-- of the tenant's rows, to intersect with). The search tests the tenant
-- as tenant_id + 0, which no btree index serves, so every plan takes this
-- index (crates/switchboard-storage, sql/query.rs, attribute_lookup).
-- jsonb_set is immutable, as an index expression must be
-- (jsonb_build_object is not). The query must write the expression
-- exactly as here (Member::keyed).
--
-- The old indexes go: every search, compound or not, now tests the keyed
-- member. Nodes of an older version still test the bare member, which no
-- index serves any more: upgrade every node (docs/scaling.md).
-- Keep in step with migrations/sqlite (same name).
CREATE INDEX customers_custom_data_by_tenant ON customers USING gin
    ((jsonb_set('{}', ARRAY[tenant_id::text], doc -> 'customData')) jsonb_path_ops);
DROP INDEX customers_custom_data;
CREATE INDEX conversations_custom_info_by_tenant ON conversations USING gin
    ((jsonb_set('{}', ARRAY[tenant_id::text], doc -> 'customInfo')) jsonb_path_ops);
DROP INDEX conversations_custom_info;
