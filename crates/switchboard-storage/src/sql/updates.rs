//! The `UPDATE` of a modify, written out: one per entity kind.
//!
//! `diesel::update(table.filter(…)).set(changes)` would build the same
//! statement, but Diesel walks a statement's tree three times on every
//! execution (its SQL text, the cache key of its prepared statement, its
//! values), and a tree of typed columns and filters costs several times
//! what a flat list of fragments does: each column name is quoted and
//! copied, every filter a node of its own. These are the writes of every
//! modify, so they are written out like the outbox insert
//! (`record::OutboxInsert`). Both are cached by their SQL text: one
//! prepared statement per set of changed columns (a changeset's `None`
//! leaves its column out) and, for a conversation, per check of its
//! customer link.

use diesel::QueryResult;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Nullable, Text};

use crate::json_column::JsonText;
use crate::rows::{ConversationChanges, CustomerChanges};
use crate::schema::sql_types::Json;

/// `UPDATE conversations SET <changes> WHERE tenant_id = ? AND id = ? AND
/// version = ? AND <the customer link>`, where the link is the one the
/// change was planned with: `linked` is `None` for no customer
/// (`customer_id IS NULL`), else the customer's id and, when the change saw
/// the customer, its version, which must still be current
/// (`EXISTS (SELECT 1 FROM customers WHERE … AND version = ?)`); see
/// `sql::conversations::update`.
#[derive(Debug)]
pub(crate) struct ConversationUpdate<'a> {
    pub tenant: i64,
    pub id: i64,
    pub version: i64,
    pub linked: Option<(i64, Option<i64>)>,
    pub changes: &'a ConversationChanges<'a>,
}

/// `UPDATE customers SET <changes> WHERE tenant_id = ? AND id = ? AND
/// version = ?`.
#[derive(Debug)]
pub(crate) struct CustomerUpdate<'a> {
    pub tenant: i64,
    pub id: i64,
    pub version: i64,
    pub changes: &'a CustomerChanges<'a>,
}

/// Not a static query id: the statement cache keys them by SQL text.
impl QueryId for ConversationUpdate<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// See [`ConversationUpdate`]'s.
impl QueryId for CustomerUpdate<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

for_each_backend! {
    /// `<column> = ?, ` when the change sets `column` (`Some`); nothing
    /// when it leaves it as it is.
    fn set_if_changed<'b, ST, T>(
        out: &mut AstPass<'_, 'b, DB>,
        column: &str,
        value: Option<&'b T>,
    ) -> QueryResult<()>
    where
        DB: diesel::sql_types::HasSqlType<ST>,
        T: diesel::serialize::ToSql<ST, DB>,
    {
        if let Some(v) = value {
            out.push_sql(column);
            out.push_sql(" = ");
            out.push_bind_param::<ST, _>(v)?;
            out.push_sql(", ");
        }
        Ok(())
    }

    /// `doc = ?, updated_at = ?, version = ? WHERE tenant_id = ? AND id = ?
    /// AND version = ?`: how every update of a document ends, after the
    /// columns it sets only when they change.
    fn document_of_row<'b>(
        out: &mut AstPass<'_, 'b, DB>,
        (doc, updated_at, version): (&'b JsonText, &'b i64, &'b i64),
        (tenant, id, expected): (&'b i64, &'b i64, &'b i64),
    ) -> QueryResult<()> {
        out.push_sql("doc = ");
        out.push_bind_param::<Json, _>(doc)?;
        out.push_sql(", updated_at = ");
        out.push_bind_param::<BigInt, _>(updated_at)?;
        out.push_sql(", version = ");
        out.push_bind_param::<BigInt, _>(version)?;
        out.push_sql(" WHERE tenant_id = ");
        out.push_bind_param::<BigInt, _>(tenant)?;
        out.push_sql(" AND id = ");
        out.push_bind_param::<BigInt, _>(id)?;
        out.push_sql(" AND version = ");
        out.push_bind_param::<BigInt, _>(expected)
    }

    impl QueryFragment<DB> for ConversationUpdate<'_> {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
            // Every member, so that a new one breaks the build here.
            let ConversationChanges {
                session_key,
                status,
                customer_id,
                visitor_email,
                doc,
                updated_at,
                version,
            } = self.changes;
            out.push_sql("UPDATE conversations SET ");
            set_if_changed::<Text, _>(&mut out, "session_key", session_key.as_ref())?;
            set_if_changed::<Text, _>(&mut out, "status", status.as_ref())?;
            set_if_changed::<Nullable<BigInt>, _>(&mut out, "customer_id", customer_id.as_ref())?;
            set_if_changed::<Nullable<Text>, _>(&mut out, "visitor_email", visitor_email.as_ref())?;
            document_of_row(
                &mut out,
                (doc, updated_at, version),
                (&self.tenant, &self.id, &self.version),
            )?;
            match &self.linked {
                None => out.push_sql(" AND customer_id IS NULL"),
                Some((customer, seen)) => {
                    out.push_sql(" AND customer_id = ");
                    out.push_bind_param::<BigInt, _>(customer)?;
                    if let Some(seen) = seen {
                        out.push_sql(" AND EXISTS (SELECT 1 FROM customers WHERE tenant_id = ");
                        out.push_bind_param::<BigInt, _>(&self.tenant)?;
                        out.push_sql(" AND id = ");
                        out.push_bind_param::<BigInt, _>(customer)?;
                        out.push_sql(" AND version = ");
                        out.push_bind_param::<BigInt, _>(seen)?;
                        out.push_sql(")");
                    }
                }
            }
            Ok(())
        }
    }

    impl QueryFragment<DB> for CustomerUpdate<'_> {
        fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
            // Every member, so that a new one breaks the build here.
            let CustomerChanges {
                user_id,
                email,
                doc,
                updated_at,
                version,
            } = self.changes;
            out.push_sql("UPDATE customers SET ");
            set_if_changed::<Nullable<Text>, _>(&mut out, "user_id", user_id.as_ref())?;
            set_if_changed::<Nullable<Text>, _>(&mut out, "email", email.as_ref())?;
            document_of_row(
                &mut out,
                (doc, updated_at, version),
                (&self.tenant, &self.id, &self.version),
            )
        }
    }
}
