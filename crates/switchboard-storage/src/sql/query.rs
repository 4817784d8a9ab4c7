//! Queries of customers and conversations: the domain's [`Query`] compiled
//! to parameterised SQL on either backend.
//!
//! A [`Statement`] is built from `&'static str` pieces and bound values
//! only: the SQL text of every field comes from a `match` on the typed
//! field enum, and everything a client sent (values, custom attribute
//! names, custom info keys) is a bind parameter. Nothing from a request is
//! ever formatted into SQL.
//!
//! Every predicate is two-valued (never SQL `NULL`), so `not` means what
//! it says: a nullable expression is tested as `(e IS NOT NULL AND e = ?)`,
//! and the indexed expressions of nullable ids and times are `COALESCE`d to
//! a key below every real value (`0` for ids, `-1` for times), which also
//! makes `is null` an index lookup and gives every sort a total order.

use std::collections::HashMap;
use std::marker::PhantomData;

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query as DieselQuery, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Double, Integer, Nullable, Text};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, RunQueryDsl};
use serde_json::{Value as Json, json};
use switchboard_domain::entity::Entity;
use switchboard_domain::query::{
    Checked, Condition, ConversationField, CustomerField, Filter, Page, Query, Test,
};
use switchboard_domain::{Agent, Department};

use super::R;
use super::counts::Counts;
use crate::Backend;
use crate::StorageError;
use crate::connection::DbConnection;
use crate::decoded::Decoded;
use crate::json_column::JsonText;
use crate::json_column::JsonValue;
use crate::rows::{AgentRow, CustomerRow, DepartmentRow, PageRow, Paged};
use crate::schema::sql_types::Json as JsonSql;

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
enum Bind {
    Int(i64),
    Float(f64),
    Text(String),
    /// PostgreSQL only (`jsonb`).
    Json(JsonValue),
    /// PostgreSQL only (`bigint[]`).
    Ints(Vec<i64>),
}

#[derive(Debug, Clone)]
enum Piece {
    Sql(&'static str),
    Bind(Bind),
    /// An integer written into the SQL text (a page's limit).
    Int(i64),
}

/// A statement of static SQL pieces and bound values, returning rows of
/// SQL type `ST`.
#[derive(Debug)]
pub(crate) struct Statement<ST> {
    pieces: Vec<Piece>,
    /// Whether Diesel may keep the prepared statement (only for the few
    /// small shapes real clients repeat: a connection's statement cache is
    /// unbounded, and a client chooses its filter's shape).
    cache: bool,
    row: PhantomData<ST>,
}

impl<ST> Statement<ST> {
    fn new(pieces: Vec<Piece>, cache: bool) -> Self {
        Self {
            pieces,
            cache,
            row: PhantomData,
        }
    }
}

impl<ST> QueryId for Statement<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST> DieselQuery for Statement<ST> {
    type SqlType = ST;
}

impl<ST, C: diesel::Connection> RunQueryDsl<C> for Statement<ST> {}

/// How a backend binds [`Bind::Ints`].
trait BindInts: diesel::backend::Backend {
    fn bind_ints<'b>(out: &mut AstPass<'_, 'b, Self>, v: &'b [i64]) -> QueryResult<()>;
}

impl BindInts for Pg {
    fn bind_ints<'b>(out: &mut AstPass<'_, 'b, Self>, v: &'b [i64]) -> QueryResult<()> {
        out.push_bind_param::<diesel::sql_types::Array<BigInt>, _>(v)
    }
}

impl BindInts for Sqlite {
    fn bind_ints<'b>(_: &mut AstPass<'_, 'b, Self>, _: &'b [i64]) -> QueryResult<()> {
        Err(diesel::result::Error::QueryBuilderError(
            "an array is bound on PostgreSQL only".into(),
        ))
    }
}

macro_rules! walk {
    ($backend:ty) => {
        impl<ST> QueryFragment<$backend> for Statement<ST> {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, $backend>) -> QueryResult<()> {
                if !self.cache {
                    out.unsafe_to_cache_prepared();
                }
                for piece in &self.pieces {
                    match piece {
                        Piece::Sql(s) => out.push_sql(s),
                        Piece::Int(v) => out.push_sql(&v.to_string()),
                        Piece::Bind(Bind::Int(v)) => out.push_bind_param::<BigInt, _>(v)?,
                        Piece::Bind(Bind::Float(v)) => out.push_bind_param::<Double, _>(v)?,
                        Piece::Bind(Bind::Text(v)) => out.push_bind_param::<Text, _>(v)?,
                        Piece::Bind(Bind::Json(v)) => out.push_bind_param::<JsonSql, _>(v)?,
                        Piece::Bind(Bind::Ints(v)) => <$backend>::bind_ints(&mut out, v)?,
                    }
                }
                Ok(())
            }
        }
    };
}
walk!(Pg);
walk!(Sqlite);

/// The SQL of one field.
pub(crate) enum Expr {
    /// A scalar that is never null.
    Plain(&'static str),
    /// A scalar that may be null.
    Nullable(&'static str),
    /// An integer key that is never null: an unset value is `unset`, below
    /// every real value (the indexed form of a nullable id or time).
    Keyed { expr: &'static str, unset: i64 },
    /// A customer's tag names.
    Tags,
    /// A customer's custom attribute.
    Attribute(String),
    /// A conversation's custom info key.
    Info(String),
    /// A conversation's visitor email or its linked customer's email.
    ContactEmail,
}

/// What a query's entity needs: its table, its columns, its fields' SQL.
pub(crate) trait Target: switchboard_domain::query::Field {
    const TABLE: &'static str;
    /// `SELECT` list, in the order of the row struct.
    const COLUMNS: &'static str;
    /// A page's first columns ([`PageRow`]): the id, the tenant, the
    /// linked customer (null for a customer); [`page_columns`] adds the
    /// rest.
    const PAGE_HEAD: &'static str;
    /// The entity's running counts (migration
    /// `2026-12-03-000001_row_counts`): `+n`/`-n` rows per group.
    const COUNTS: Counts;
    fn expr(&self, b: Backend) -> Expr;
    /// The field's column in [`Self::COUNTS`], when the counts are grouped
    /// by it.
    fn count_expr(&self) -> Option<Expr>;
    /// Whether an equality on the field is a lookup in a btree index led
    /// by the tenant (`(tenant_id, <field>, …)`) of a key with about as
    /// many values as rows (an id, an email): the best plan of such a
    /// lookup does not depend on the value, so PostgreSQL may plan it once
    /// ([`cacheable`]).
    fn keyed_by_tenant(&self) -> bool;
    /// PostgreSQL: whether equalities on exactly `fields` (in any order)
    /// are the key of an index `(tenant_id, <fields>, (id + 0))`. A page of
    /// them in id order is read from that index in `id + 0` order, an order
    /// no other index gives, so the one plan PostgreSQL keeps for every
    /// value is that index's ([`fenced_lookup`]).
    fn fenced_index(_fields: &[&Self]) -> bool {
        false
    }
}

impl Target for CustomerField {
    const TABLE: &'static str = "customers";
    const COLUMNS: &'static str = "id, tenant_id, doc, created_at, updated_at, version";
    const PAGE_HEAD: &'static str = "id, tenant_id, CAST(NULL AS BIGINT)";
    const COUNTS: Counts = Counts::Customers;

    fn keyed_by_tenant(&self) -> bool {
        matches!(self, Self::Id | Self::UserId | Self::Email)
    }

    /// Customers are counted per tenant only.
    fn count_expr(&self) -> Option<Expr> {
        None
    }

    fn expr(&self, b: Backend) -> Expr {
        let pg = b == Backend::Postgres;
        let doc = |sqlite: &'static str, postgres: &'static str| {
            Expr::Nullable(if pg { postgres } else { sqlite })
        };
        match self {
            Self::Id => Expr::Plain("id"),
            Self::UserId => Expr::Nullable("user_id"),
            Self::Email => Expr::Nullable("email"),
            Self::Name => doc("json_extract(doc, '$.name')", "(doc ->> 'name')"),
            Self::Phone => doc("json_extract(doc, '$.phone')", "(doc ->> 'phone')"),
            Self::Company => doc("json_extract(doc, '$.company')", "(doc ->> 'company')"),
            Self::CreatedAt => Expr::Plain("created_at"),
            Self::UpdatedAt => Expr::Plain("updated_at"),
            Self::FirstSeen => Expr::Keyed {
                expr: if pg {
                    "coalesce((doc ->> 'firstSeen')::bigint, -1)"
                } else {
                    "coalesce(json_extract(doc, '$.firstSeen'), -1)"
                },
                unset: -1,
            },
            Self::LastSeen => Expr::Keyed {
                expr: if pg {
                    "coalesce((doc ->> 'lastSeen')::bigint, -1)"
                } else {
                    "coalesce(json_extract(doc, '$.lastSeen'), -1)"
                },
                unset: -1,
            },
            Self::Tags => Expr::Tags,
            Self::Attribute { name, .. } => Expr::Attribute(name.clone()),
        }
    }
}

impl Target for ConversationField {
    const TABLE: &'static str = "conversations";
    const COLUMNS: &'static str =
        "id, tenant_id, customer_id, doc, created_at, updated_at, version";
    const PAGE_HEAD: &'static str = "id, tenant_id, customer_id";
    const COUNTS: Counts = Counts::Conversations;

    fn keyed_by_tenant(&self) -> bool {
        // Not status, assignee or department: few values, each of very
        // different size, so a generic plan (estimated for an average
        // value) may walk the whole of one index in id order looking for
        // a rare pair (an agent with a handful of chats of a common
        // status). Planned for their values, those take the composite
        // index and sort its few matches.
        matches!(self, Self::Id | Self::VisitorEmail)
    }

    /// An agent's chats of a status (migration 2026-12-07-000001).
    fn fenced_index(fields: &[&Self]) -> bool {
        matches!(
            fields,
            [Self::Status, Self::Assignee] | [Self::Assignee, Self::Status]
        )
    }

    /// Conversations are counted per status, assignee and department: a
    /// filter on those alone (the inbox's) is summed, not counted.
    fn count_expr(&self) -> Option<Expr> {
        match self {
            Self::Status => Some(Expr::Plain("status")),
            Self::Assignee => Some(Expr::Keyed {
                expr: "assignee_key",
                unset: 0,
            }),
            Self::Department => Some(Expr::Keyed {
                expr: "department_key",
                unset: 0,
            }),
            _ => None,
        }
    }

    fn expr(&self, b: Backend) -> Expr {
        let pg = b == Backend::Postgres;
        let pick =
            |sqlite: &'static str, postgres: &'static str| if pg { postgres } else { sqlite };
        match self {
            Self::Id => Expr::Plain("id"),
            Self::Status => Expr::Plain("status"),
            // PostgreSQL: stored generated columns of the same expression
            // (migration 2026-12-01-000091), so counts are index-only.
            Self::Assignee => Expr::Keyed {
                expr: pick(
                    "coalesce(json_extract(doc, '$.assigneeId'), 0)",
                    "assignee_key",
                ),
                unset: 0,
            },
            Self::Department => Expr::Keyed {
                expr: pick(
                    "coalesce(json_extract(doc, '$.departmentId'), 0)",
                    "department_key",
                ),
                unset: 0,
            },
            // The column, not the document: deleting the customer clears it.
            Self::Customer => Expr::Nullable("customer_id"),
            Self::VisitorName => Expr::Nullable(pick(
                "json_extract(doc, '$.visitor.name')",
                "(doc -> 'visitor' ->> 'name')",
            )),
            Self::VisitorEmail => Expr::Nullable("visitor_email"),
            Self::ContactEmail => Expr::ContactEmail,
            Self::CreatedAt => Expr::Plain("created_at"),
            Self::UpdatedAt => Expr::Plain("updated_at"),
            Self::ClosedAt => Expr::Keyed {
                expr: pick(
                    "coalesce(json_extract(doc, '$.closedAt'), -1)",
                    "coalesce((doc ->> 'closedAt')::bigint, -1)",
                ),
                unset: -1,
            },
            Self::Info(key) => Expr::Info(key.clone()),
        }
    }
}

/// Builds a statement's pieces.
struct Builder {
    backend: Backend,
    tenant: i64,
    pieces: Vec<Piece>,
    /// Whether the filter is compiled against the counts table
    /// ([`Target::count_expr`]) rather than the entity's.
    on_counts: bool,
    /// PostgreSQL, an [`attribute_lookup`]: containment values are read
    /// through `(SELECT $n)`, so that no plan is estimated for the value.
    hide_values: bool,
}

impl Builder {
    fn new(backend: Backend, tenant: i64) -> Self {
        Self {
            backend,
            tenant,
            pieces: Vec::new(),
            on_counts: false,
            hide_values: false,
        }
    }

    /// `SELECT <what> FROM <counts> WHERE tenant_id = ? AND <filter>` over
    /// `F`'s running counts (with [`Self::on_counts`] set).
    fn select_counts<F: Target>(&mut self, what: &'static str, filter: Option<&Filter<F>>) {
        let tenant = self.tenant;
        self.sql("SELECT ")
            .sql(what)
            .sql(" FROM ")
            .sql(F::COUNTS.table())
            .sql(" WHERE tenant_id = ")
            .int(tenant);
        if let Some(f) = filter {
            self.sql(" AND ");
            self.filter(f);
        }
    }

    fn sql(&mut self, s: &'static str) -> &mut Self {
        self.pieces.push(Piece::Sql(s));
        self
    }

    fn bind(&mut self, b: Bind) -> &mut Self {
        self.pieces.push(Piece::Bind(b));
        self
    }

    fn int(&mut self, v: i64) -> &mut Self {
        self.bind(Bind::Int(v))
    }

    fn text(&mut self, v: &str) -> &mut Self {
        self.bind(Bind::Text(v.to_string()))
    }

    fn pg(&self) -> bool {
        self.backend == Backend::Postgres
    }

    /// `(a, b, c)`: a bound list.
    fn list<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Self, &T)) {
        self.sql("(");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.sql(", ");
            }
            each(self, item);
        }
        self.sql(")");
    }

    fn filter<F: Target>(&mut self, f: &Filter<F>) {
        match f {
            Filter::Cond(c) => self.condition(c),
            Filter::Not(inner) => {
                self.sql("NOT (");
                self.filter(inner);
                self.sql(")");
            }
            Filter::All(parts) | Filter::Any(parts) => {
                let joiner = if matches!(f, Filter::All(_)) {
                    " AND "
                } else {
                    " OR "
                };
                self.sql("(");
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        self.sql(joiner);
                    }
                    self.filter(p);
                }
                self.sql(")");
            }
        }
    }

    fn value(&mut self, v: &Checked) {
        match v {
            Checked::Int(n) => self.int(*n),
            Checked::Text(s) => self.text(s),
            Checked::Time(t) => self.int(t.as_millis()),
            Checked::Status(s) => self.text(s.as_str()),
            // Only attribute and info fields carry JSON; they do not come here.
            Checked::Json(_) => self.text(""),
        };
    }

    fn condition<F: Target>(&mut self, c: &Condition<F>) {
        let on_counts = self.on_counts.then(|| c.field().count_expr()).flatten();
        match on_counts.unwrap_or_else(|| c.field().expr(self.backend)) {
            Expr::Plain(e) => self.plain(e, c.test()),
            Expr::Nullable(e) => self.nullable(e, c.test()),
            Expr::Keyed { expr, unset } => self.keyed(expr, unset, c.test()),
            Expr::Tags => self.tags(c.test()),
            Expr::Attribute(name) => self.attribute(&name, c.test()),
            Expr::Info(key) => self.info(&key, c.test()),
            Expr::ContactEmail => self.contact_email(c.test()),
        }
    }

    /// Either email of the person a conversation is with: the visitor's
    /// or the linked customer's. The ids are the union of two index
    /// lookups: the tenant's conversations by visitor email
    /// (`conversations_tenant_visitor_email`), and those linked to the
    /// tenant's customers of that email (`customers_tenant_email`, then
    /// `conversations_customer`); the outer query fetches them by id, so
    /// neither table is scanned (an `OR` of the two is planned as a walk of
    /// all the tenant's conversations by both backends). `ne` and `is null`
    /// are the negation of `eq` and `is not null`: neither email matches.
    fn contact_email(&mut self, test: &Test) {
        let positive = match test {
            Test::Ne(v) => Some(Test::Eq(v.clone())),
            Test::IsNull => Some(Test::IsNotNull),
            _ => None,
        };
        if positive.is_some() {
            self.sql("NOT ");
        }
        let test = positive.as_ref().unwrap_or(test);
        let tenant = self.tenant;
        self.sql("id IN (SELECT id FROM conversations WHERE tenant_id = ")
            .int(tenant)
            .sql(" AND ");
        self.nullable("visitor_email", test);
        self.sql(
            " UNION ALL SELECT id FROM conversations WHERE customer_id IN \
             (SELECT id FROM customers WHERE tenant_id = ",
        )
        .int(tenant)
        .sql(" AND ");
        self.nullable("email", test);
        self.sql("))");
    }

    /// The comparison of `e` (never null) with a value, or `None` for the
    /// tests handled elsewhere.
    fn compare(&mut self, e: &'static str, test: &Test) -> bool {
        let (op, v) = match test {
            Test::Eq(v) => (" = ", v),
            Test::Ne(v) => (" <> ", v),
            Test::Lt(v) => (" < ", v),
            Test::Le(v) => (" <= ", v),
            Test::Gt(v) => (" > ", v),
            Test::Ge(v) => (" >= ", v),
            Test::In(vs) => {
                self.sql(e).sql(" IN ");
                self.list(vs, Self::value);
                return true;
            }
            Test::Contains(s) => {
                // Exact substring search (no LIKE pattern to escape).
                let f = if self.pg() { "strpos(" } else { "instr(" };
                self.sql(f).sql(e).sql(", ").text(s).sql(") > 0");
                return true;
            }
            Test::StartsWith(s) => {
                if self.pg() {
                    self.sql("starts_with(").sql(e).sql(", ").text(s).sql(")");
                } else {
                    self.sql("instr(").sql(e).sql(", ").text(s).sql(") = 1");
                }
                return true;
            }
            Test::IsNull | Test::IsNotNull => return false,
        };
        self.sql(e).sql(op);
        self.value(v);
        true
    }

    fn plain(&mut self, e: &'static str, test: &Test) {
        // Never null: `is null` never holds (the domain refuses it anyway).
        match test {
            Test::IsNull => {
                self.sql("1 = 0");
            }
            Test::IsNotNull => {
                self.sql("1 = 1");
            }
            _ => {
                self.compare(e, test);
            }
        }
    }

    fn nullable(&mut self, e: &'static str, test: &Test) {
        match test {
            Test::IsNull => {
                self.sql(e).sql(" IS NULL");
            }
            Test::IsNotNull => {
                self.sql(e).sql(" IS NOT NULL");
            }
            // Not equal, or null.
            Test::Ne(v) => {
                self.sql("NOT (");
                self.nullable(e, &Test::Eq(v.clone()));
                self.sql(")");
            }
            _ => {
                self.sql("(").sql(e).sql(" IS NOT NULL AND ");
                self.compare(e, test);
                self.sql(")");
            }
        }
    }

    fn keyed(&mut self, e: &'static str, unset: i64, test: &Test) {
        match test {
            Test::IsNull => {
                self.sql(e).sql(" = ").int(unset);
            }
            Test::IsNotNull => {
                self.sql(e).sql(" > ").int(unset);
            }
            // Unset keys are below every value: keep them out of `<` and `<=`.
            Test::Lt(_) | Test::Le(_) => {
                self.sql("(").sql(e).sql(" > ").int(unset).sql(" AND ");
                self.compare(e, test);
                self.sql(")");
            }
            _ => {
                self.compare(e, test);
            }
        }
    }

    /// Tag names: `eq` is "has the tag", `in` "has one of them".
    fn tags(&mut self, test: &Test) {
        let names: Vec<&str> = match test {
            Test::Eq(Checked::Text(s)) | Test::Ne(Checked::Text(s)) => vec![s.as_str()],
            Test::In(vs) => vs
                .iter()
                .filter_map(|v| match v {
                    Checked::Text(s) => Some(s.as_str()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let negate = matches!(test, Test::Ne(_));
        if names.is_empty() {
            self.sql(if negate { "1 = 1" } else { "1 = 0" });
            return;
        }
        if negate {
            self.sql("NOT ");
        }
        if self.pg() {
            self.sql("(");
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    self.sql(" OR ");
                }
                self.sql("(doc -> 'tags') @> ")
                    .bind(Bind::Json(JsonValue(json!([{ "name": name }]))));
            }
            self.sql(")");
        } else {
            self.sql(
                "EXISTS (SELECT 1 FROM json_each(customers.doc, '$.tags') AS t \
                 WHERE json_extract(t.value, '$.name') IN ",
            );
            self.list(&names, |b, n| {
                b.text(n);
            });
            self.sql(")");
        }
    }

    /// The JSON forms an `eq` / `ne` / `in` test matches, and whether it is negated.
    fn forms(test: &Test) -> Option<(Vec<&Json>, bool)> {
        fn json(v: &Checked) -> Vec<&Json> {
            match v {
                Checked::Json(forms) => forms.iter().collect(),
                _ => Vec::new(),
            }
        }
        match test {
            Test::Eq(v) => Some((json(v), false)),
            Test::Ne(v) => Some((json(v), true)),
            Test::In(vs) => Some((vs.iter().flat_map(json).collect(), false)),
            _ => None,
        }
    }

    /// A custom attribute: an equality (or `in`) looks the value up in
    /// `customer_attribute_values`, which triggers keep in step with the
    /// documents, on both backends (an index-only scan; PostgreSQL's GIN
    /// index over `customData` had to recheck every match against its
    /// document); a presence test reads the document.
    fn attribute(&mut self, name: &str, test: &Test) {
        let Some((forms, negate)) = Self::forms(test) else {
            let exists = matches!(test, Test::IsNotNull);
            if self.pg() {
                self.sql(if exists { "" } else { "NOT " })
                    .sql("jsonb_exists(doc -> 'customData', ")
                    .text(name)
                    .sql(")");
            } else {
                self.sql(if exists { "" } else { "NOT " }).sql(
                    "EXISTS (SELECT 1 FROM customer_attribute_values AS v \
                     WHERE v.customer_id = customers.id AND v.name = ",
                );
                self.text(name).sql(")");
            }
            return;
        };
        if negate {
            self.sql("NOT ");
        }
        self.sql("id IN (");
        self.attribute_values("v.customer_id", name, &forms);
        self.sql(")");
    }

    /// `SELECT <what> FROM customer_attribute_values AS v WHERE …`, the
    /// tenant's rows of attribute `name` holding one of `forms`: one row
    /// per customer that has it, deleted with the customer. PostgreSQL
    /// keeps the JSON value (`jsonb`), SQLite its storage class
    /// ([`side_table_value`]).
    fn attribute_values(&mut self, what: &'static str, name: &str, forms: &[&Json]) {
        let (tenant, pg) = (self.tenant, self.pg());
        self.sql("SELECT ")
            .sql(what)
            .sql(" FROM customer_attribute_values AS v WHERE v.tenant_id = ")
            .int(tenant)
            .sql(" AND v.name = ")
            .text(name)
            .sql(" AND v.value IN ");
        self.list(forms, |b, form| {
            b.bind(if pg {
                Bind::Json(JsonValue((*form).clone()))
            } else {
                side_table_value(form)
            });
        });
    }

    /// PostgreSQL: `(<keyed> @> ? OR <keyed> @> ? …)`, one test for each
    /// form, where `<keyed>` is the [`Member`]'s GIN-indexed expression,
    /// the member keyed by its row's tenant, and each value is
    /// `{"<tenant>": {name: form}}`: one index entry lists the tenant's
    /// rows holding the value. With [`Self::hide_values`] each
    /// value is `(SELECT CAST(? AS jsonb))`.
    fn contains_any(&mut self, member: Member, name: &str, forms: &[&Json]) {
        self.sql("(");
        if forms.is_empty() {
            self.sql("1 = 0");
        }
        for (i, form) in forms.iter().enumerate() {
            if i > 0 {
                self.sql(" OR ");
            }
            let mut one = serde_json::Map::new();
            one.insert(name.to_string(), (*form).clone());
            let mut keyed = serde_json::Map::new();
            keyed.insert(self.tenant.to_string(), Json::Object(one));
            let value = Json::Object(keyed);
            self.sql(member.keyed()).sql(" @> ");
            if self.hide_values {
                self.sql("(SELECT CAST(")
                    .bind(Bind::Json(JsonValue(value)))
                    .sql(" AS jsonb))");
            } else {
                self.bind(Bind::Json(JsonValue(value)));
            }
        }
        self.sql(")");
    }

    /// A custom info key: PostgreSQL tests containment in `customInfo` (a
    /// GIN index); SQLite looks an equality up in `conversation_info_values`
    /// (trigger-kept, like the attribute values) and tests each candidate's
    /// own document for the exact JSON type (custom info is untyped: `true`
    /// and `"true"`, `15` and `15.0` share a row value there); other tests
    /// read the document only.
    fn info(&mut self, key: &str, test: &Test) {
        let Some((forms, negate)) = Self::forms(test) else {
            let exists = matches!(test, Test::IsNotNull);
            if self.pg() {
                self.sql(if exists { "" } else { "NOT " })
                    .sql("jsonb_exists(doc -> 'customInfo', ")
                    .text(key)
                    .sql(")");
            } else {
                self.sql(if exists { "" } else { "NOT " }).sql(
                    "EXISTS (SELECT 1 FROM json_each(conversations.doc, '$.customInfo') AS j \
                     WHERE j.key = ",
                );
                self.text(key).sql(")");
            }
            return;
        };
        if negate {
            self.sql("NOT ");
        }
        if self.pg() {
            self.contains_any(Member::CustomInfo, key, &forms);
            return;
        }
        if !negate {
            let tenant = self.tenant;
            self.sql(
                "(id IN (SELECT v.conversation_id FROM conversation_info_values AS v \
                 WHERE v.tenant_id = ",
            )
            .int(tenant)
            .sql(" AND v.key = ")
            .text(key)
            .sql(" AND v.value IN ");
            self.list(&forms, |b, form| {
                b.bind(side_table_value(form));
            });
            self.sql(") AND ");
        }
        self.sql(
            "EXISTS (SELECT 1 FROM json_each(conversations.doc, '$.customInfo') AS j \
             WHERE j.key = ",
        );
        self.text(key).sql(" AND (");
        if forms.is_empty() {
            self.sql("1 = 0");
        }
        for (i, form) in forms.iter().enumerate() {
            if i > 0 {
                self.sql(" OR ");
            }
            match form {
                Json::Bool(true) => {
                    self.sql("j.type = 'true'");
                }
                Json::Bool(false) => {
                    self.sql("j.type = 'false'");
                }
                Json::Number(n) => {
                    self.sql("(j.type IN ('integer', 'real') AND j.atom = ");
                    self.bind(number(n));
                    self.sql(")");
                }
                Json::String(s) => {
                    self.sql("(j.type = 'text' AND j.atom = ").text(s).sql(")");
                }
                _ => {
                    self.sql("1 = 0");
                }
            }
        }
        self.sql("))");
        if !negate {
            self.sql(")");
        }
    }
}

/// A free-form member of a document that PostgreSQL indexes for equality
/// (migration `2026-12-08-000001_free_form_by_tenant`).
#[derive(Debug, Clone, Copy)]
enum Member {
    /// A conversation's custom info.
    CustomInfo,
}

impl Member {
    /// The GIN-indexed expression (`jsonb_path_ops`): `{"<tenant id>":
    /// <the member>}`, null when the document has no such member.
    /// `jsonb_path_ops` keys each value by its whole path, here the tenant
    /// and the attribute's name, so one index entry lists the tenant's rows
    /// holding a value: the lookup needs no btree index of the tenant, and
    /// its plan does not depend on the tenant ([`attribute_lookup`]).
    /// Written exactly as in the migration: PostgreSQL matches an
    /// expression index by the expression.
    fn keyed(self) -> &'static str {
        match self {
            Self::CustomInfo => "jsonb_set('{}', ARRAY[tenant_id::text], doc -> 'customInfo')",
        }
    }
}

/// A JSON number as a bind: integers exactly, others as doubles.
fn number(n: &serde_json::Number) -> Bind {
    n.as_i64()
        .map(Bind::Int)
        .or_else(|| n.as_f64().map(Bind::Float))
        .unwrap_or_else(|| Bind::Text(n.to_string()))
}

/// A form as `customer_attribute_values.value` holds it: numbers as
/// numbers, strings as text, booleans as the text `true` / `false`.
fn side_table_value(form: &Json) -> Bind {
    match form {
        Json::Number(n) => number(n),
        Json::String(s) => Bind::Text(s.clone()),
        Json::Bool(b) => Bind::Text(b.to_string()),
        other => Bind::Text(other.to_string()),
    }
}

/// The sort key expression of the query's order.
fn sort_key<F: Target>(q: &Query<F>, b: Backend) -> &'static str {
    match q.sort().field().expr(b) {
        Expr::Plain(e) | Expr::Nullable(e) | Expr::Keyed { expr: e, .. } => e,
        // Not sortable (the domain refuses such a sort).
        Expr::Tags | Expr::Attribute(_) | Expr::Info(_) | Expr::ContactEmail => "id",
    }
}

/// The shapes worth a cached prepared statement: no filter, or a plain
/// conjunction of at most three conditions; on PostgreSQL only those
/// whose every condition is an equality on a btree key led by the tenant
/// ([`Target::keyed_by_tenant`]), the equalities of a fenced index
/// ([`fenced_lookup`]), a custom info lookup ([`attribute_lookup`]) and a
/// custom attribute equality ([`attribute_page`]). PostgreSQL plans a
/// cached statement once for any value after a few runs (a generic plan),
/// and the best plan of other
/// filters depends on their values: a generic plan for a rare custom
/// attribute walked the primary key through a million rows. An uncached
/// statement is parsed and planned for the values it carries, on every
/// run: 0.2–0.3 ms of a status + assignee page whose execution takes
/// 0.04–0.06 ms. An equality on such a key is the same index lookup for
/// any value. `by_id`: whether rows come in id order (or not at all, for
/// a count), which every such index gives after its key (`(tenant_id,
/// key, id)`); another order may be best served by walking that order's
/// index for a common value and by the lookup for a rare one, and is
/// planned for its values.
fn cacheable<F: Target>(b: Backend, filter: Option<&Filter<F>>, by_id: bool) -> bool {
    let plain = |f: &Filter<F>| match f {
        Filter::Cond(c) => {
            b == Backend::Sqlite
                || (by_id && c.field().keyed_by_tenant() && matches!(c.test(), Test::Eq(_)))
        }
        _ => false,
    };
    // A custom attribute equality: the value table's index gives its
    // matches for any tenant and value, so one plan serves all.
    if by_id && (attribute_lookup(b, filter) || attribute_equality(b, filter).is_some()) {
        return true;
    }
    match filter {
        None => true,
        Some(f @ Filter::Cond(_)) => plain(f),
        Some(Filter::All(parts)) => {
            (parts.len() <= 3 && parts.iter().all(plain)) || (by_id && fenced_lookup(b, filter))
        }
        Some(_) => false,
    }
}

/// PostgreSQL: whether `filter` is equalities on exactly the key of an
/// index `(tenant_id, <key>, (id + 0))` ([`Target::fenced_index`]): an
/// agent's chats of a status. Their page in id order is sorted by `id + 0`,
/// which that index gives and no other does, so every plan that does not
/// sort reads the pair's own rows. Ordered by `id`, PostgreSQL's generic
/// plan (estimated for an average pair) may walk another index in id
/// order testing each row: on a table with two statuses and two agents it
/// walked an agent's chats to find a status the agent has few of
/// (`docs/benchmarks.md`, "An agent's chats of a status, planned once").
fn fenced_lookup<F: Target>(b: Backend, filter: Option<&Filter<F>>) -> bool {
    let (Backend::Postgres, Some(Filter::All(parts))) = (b, filter) else {
        return false;
    };
    let mut fields = Vec::with_capacity(parts.len());
    for p in parts {
        match p {
            Filter::Cond(c) if matches!(c.test(), Test::Eq(_)) => fields.push(c.field()),
            _ => return false,
        }
    }
    F::fenced_index(&fields)
}

/// PostgreSQL: whether `filter` is one custom info equality or `in` (a
/// custom attribute's is an [`attribute_page`]). Its statement is written
/// so that PostgreSQL may plan it once for every tenant and value:
///
/// - the tenant is tested as `tenant_id + 0`, which no btree index serves,
///   so the only index is the GIN of the member keyed by tenant
///   ([`Member::keyed`]), which holds the tenant and the value in one
///   lookup. A generic plan estimated for an average tenant would
///   otherwise read a big tenant's rows one by one from its btree index
///   and test each (with more than about a hundred tenants, an average
///   tenant's rows look fewer than a containment's default estimate);
/// - the value is read through `(SELECT $n)`, so every plan, the first
///   runs' included, is estimated alike: planned for a known value, a
///   rare one is estimated at a few rows and the generic plan's default
///   estimate (1% of the table) never looks as cheap, so PostgreSQL went
///   on planning the statement on every run (about 0.19 ms of a 1 ms
///   search at a million customers);
/// - its rows are sorted after the lookup ([`sort_after_lookup`]).
fn attribute_lookup<F: Target>(b: Backend, filter: Option<&Filter<F>>) -> bool {
    let (Backend::Postgres, Some(Filter::Cond(c))) = (b, filter) else {
        return false;
    };
    matches!(c.field().expr(b), Expr::Info(_)) && matches!(c.test(), Test::Eq(_) | Test::In(_))
}

fn base<F: Target>(
    b: Backend,
    tenant: i64,
    head: &[&'static str],
    filter: Option<&Filter<F>>,
) -> Builder {
    base_with(b, tenant, head, filter, Contacts::Apart)
}

/// Whether a conversation page's statement also reads each row's contact
/// ([`page_counted_contacts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Contacts {
    /// Not by the page statement (a second statement, or not at all).
    Apart,
    /// Conversations: joined in ([`CONTACT_JOIN`], [`CONTACT_JOIN_PG`]).
    Joined,
}

/// SQLite, a conversation page: the linked customer's contact columns
/// joined to each row. They come under names of their own (`ct_…`), from a
/// derived table SQLite flattens into the join (a key lookup per row), so
/// the page's filters and sort keys, which name conversations' columns
/// unqualified, stay unambiguous; subqueries in a filter resolve their
/// names in their own tables first, as before. Only the tenant's customer
/// is joined (the tenant is bound after it).
const CONTACT_JOIN: &str = " LEFT JOIN (SELECT id AS ct_id, tenant_id AS ct_tenant, \
     created_at AS ct_created_at, user_id AS ct_user_id, contact_name AS ct_name, \
     contact_email AS ct_email, contact_phone AS ct_phone, contact_company AS ct_company, \
     contact_country AS ct_country FROM customers) ON ct_id = customer_id AND ct_tenant = ";

/// PostgreSQL, a conversation page: the linked customer's contact joined
/// to each row of the page `p`, under [`CONTACT_JOIN`]'s names, from the
/// customer's stored generated columns (migration `2026-12-12-000001`):
/// read from its document instead (one `jsonb_to_record` a customer), the
/// joined page cost more than the page and a second statement for its
/// links (`docs/benchmarks.md`, "A chat page in one statement"). A
/// `LATERAL` subquery: a primary-key lookup of the row's customer, the
/// tenant's only. `OFFSET 0` keeps the subquery from being merged into the
/// join, which let the planner hash all the tenant's customers. Followed
/// by the tenant, then `OFFSET 0) AS ct ON true`.
const CONTACT_JOIN_PG: &str = " LEFT JOIN LATERAL (SELECT t.id AS ct_id, \
     t.created_at AS ct_created_at, t.user_id AS ct_user_id, t.contact_name AS ct_name, \
     t.contact_email AS ct_email, t.contact_phone AS ct_phone, \
     t.contact_company AS ct_company, t.contact_country AS ct_country FROM customers AS t \
     WHERE t.id = p.customer_id AND t.tenant_id = ";

/// The columns [`CONTACT_JOIN`] adds to a page row, in [`ContactSql`]'s order.
const CONTACT_COLUMNS: &str =
    ", ct_id, ct_created_at, ct_user_id, ct_name, ct_email, ct_phone, ct_company, ct_country";

/// [`CONTACT_COLUMNS`]' types: all null for a row without a contact.
type ContactSql = (
    Nullable<BigInt>,
    Nullable<BigInt>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
);

/// A row of [`ContactSql`].
type ContactCols = (
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// [`base`], with the contacts joined in when `contacts` says so.
fn base_with<F: Target>(
    b: Backend,
    tenant: i64,
    head: &[&'static str],
    filter: Option<&Filter<F>>,
    contacts: Contacts,
) -> Builder {
    let mut q = Builder::new(b, tenant);
    for s in head {
        q.sql(s);
    }
    let lookup = attribute_lookup(b, filter);
    q.hide_values = lookup;
    q.sql(" FROM ").sql(F::TABLE);
    if contacts == Contacts::Joined {
        q.sql(CONTACT_JOIN).int(tenant);
    }
    q.sql(if lookup {
        " WHERE tenant_id + 0 = "
    } else {
        " WHERE tenant_id = "
    })
    .int(tenant);
    if let Some(f) = filter {
        q.sql(" AND ");
        q.filter(f);
    }
    q
}

/// PostgreSQL: whether a page of `filter` must be sorted after its rows
/// are found, rather than read in the sort's order from an index.
///
/// A custom info equality is looked up in a GIN index whose estimates
/// cannot know where the matches lie: for a value it thinks common, the
/// planner walks the primary key (or the sort's index) and tests each
/// document until the page is full, which reads every row of the tenant
/// when the matches sit at the far end (ids in the order of an import:
/// 100 ms at 100,000 customers, one search in ten of the benchmark).
/// Sorting after the lookup costs in proportion to the matches instead,
/// as the total beside a page (a count of the same matches) and SQLite's
/// lookup in its value tables already do. A custom attribute equality
/// among other conditions (alone it is an [`attribute_page`]) is treated
/// alike: its matches, from the value table, are as unplaced. Holds when
/// every branch of the filter has such an equality (an `OR` with another
/// test, or a negation, may match most rows, and is left to the planner).
fn sort_after_lookup<F: Target>(b: Backend, filter: Option<&Filter<F>>) -> bool {
    fn selective<F: Target>(b: Backend, f: &Filter<F>) -> bool {
        match f {
            Filter::Cond(c) => {
                matches!(c.field().expr(b), Expr::Attribute(_) | Expr::Info(_))
                    && matches!(c.test(), Test::Eq(_) | Test::In(_))
            }
            Filter::All(parts) => parts.iter().any(|p| selective(b, p)),
            Filter::Any(parts) => parts.iter().all(|p| selective(b, p)),
            Filter::Not(_) => false,
        }
    }
    b == Backend::Postgres && filter.is_some_and(|f| selective(b, f))
}

/// The largest page limit given in the statement's text rather than
/// bound (HelpCrunch's and Zoho's largest pages): on SQLite, and on
/// PostgreSQL in every statement it keeps ([`cacheable`]). SQLite plans a
/// bound `LIMIT ?` for its value, so a kept statement with one is prepared
/// again on every run (`sqlite3ExprIsInteger` marks the parameter).
/// PostgreSQL's generic plan estimates a bound limit as a tenth of the
/// matches, which costs it above the plans made for the values, so it
/// went on planning the statement on every run: a customer list without
/// a filter was planned on every request (0.24 ms of planning against
/// 0.16 ms of execution). A limit in the text is planned once, for a
/// statement per limit clients use (at most this many per shape and
/// connection).
const MAX_LIMIT_IN_TEXT: i64 = 100;

/// `SELECT … WHERE … ORDER BY … LIMIT …` for a page of `q`.
fn select<F: Target>(b: Backend, tenant: i64, q: &Query<F>, head: &[&'static str]) -> Builder {
    select_with(b, tenant, q, head, Contacts::Apart)
}

/// [`select`], with the contacts joined in when `contacts` says so (never
/// on a page of one custom attribute, a customers' page).
fn select_with<F: Target>(
    b: Backend,
    tenant: i64,
    q: &Query<F>,
    head: &[&'static str],
    contacts: Contacts,
) -> Builder {
    let key = sort_key(q, b);
    if key == "id"
        && contacts == Contacts::Apart
        && let Some((name, forms)) = attribute_equality(b, q.filter())
    {
        return attribute_page::<F>(b, tenant, q, head, &name, &forms);
    }
    let mut s = base_with(b, tenant, head, q.filter(), contacts);
    let desc = q.sort().descending();
    let by_id = key == "id";
    let fenced = by_id && fenced_lookup(b, q.filter());
    let kept = cacheable(b, q.filter(), by_id);
    if let Page::After(cursor) = q.page() {
        let cmp = if desc { " < " } else { " > " };
        if by_id {
            s.sql(if fenced { " AND id + 0" } else { " AND id" })
                .sql(cmp)
                .int(cursor.id);
        } else {
            // The key's own bound first: SQLite takes a row value as an
            // index range only on plain columns, not on an expression.
            let bound = if desc { " <= " } else { " >= " };
            s.sql(" AND ").sql(key).sql(bound).int(cursor.key);
            s.sql(" AND (").sql(key).sql(", id)").sql(cmp).sql("(");
            s.int(cursor.key).sql(", ").int(cursor.id).sql(")");
        }
    }
    let dir = if desc { " DESC" } else { " ASC" };
    // `+ 0`: an order no index gives, so the rows are found first; or
    // one only the fenced index gives.
    let fence = if fenced || sort_after_lookup(b, q.filter()) {
        " + 0"
    } else {
        ""
    };
    s.sql(" ORDER BY ");
    if !by_id {
        s.sql(key).sql(fence).sql(dir).sql(", ");
    }
    s.sql("id").sql(fence).sql(dir);
    limit_offset(&mut s, q, b == Backend::Sqlite || kept);
    s
}

/// A page in id order of a filter that is one custom attribute equality
/// (or `in`, [`attribute_equality`]): the page's ids are read from
/// `customer_attribute_values` alone, whose index `(tenant_id, name,
/// value, customer_id)` holds one value's customers in id order, and only
/// the page's customers are then read, by primary key:
///
/// ```sql
/// SELECT <head> FROM customers WHERE tenant_id [+ 0] = $t AND id IN (
///   SELECT v.customer_id FROM customer_attribute_values AS v
///   WHERE v.tenant_id = $t AND v.name = $n AND v.value IN ($v, …)
///   [AND v.customer_id > $cursor] ORDER BY v.customer_id LIMIT 21 [OFFSET $o])
/// ORDER BY id
/// ```
///
/// Testing `id IN (<all the value's customers>)` and sorting read every
/// match's row for a page of 20 (310 buffers against 58 for a value 100
/// customers hold, on PostgreSQL). The customers are read as
/// [`by_ids_in_order`] reads them.
fn attribute_page<F: Target>(
    b: Backend,
    tenant: i64,
    q: &Query<F>,
    head: &[&'static str],
    name: &str,
    forms: &[&Json],
) -> Builder {
    let mut s = Builder::new(b, tenant);
    for piece in head {
        s.sql(piece);
    }
    by_ids_in_order(
        &mut s,
        F::TABLE,
        q,
        |s| s.attribute_values("v.customer_id", name, forms),
        [" AND v.customer_id > ", " AND v.customer_id < "],
        " ORDER BY v.customer_id",
    );
    s
}

/// ` FROM <table> WHERE tenant_id = $t AND id IN (<ids> [<after> $cursor]
/// ORDER BY <key> LIMIT … [OFFSET …]) ORDER BY id`: a page of `q` in id
/// order whose ids `ids` selects (a `SELECT` of one id column, which
/// `after[0]` / `after[1]` bound from the cursor ascending / descending,
/// and `order` sorts), read by primary key. PostgreSQL reads the ids as an
/// array (`id = ANY(ARRAY(…))`, an index scan of the primary key) and tests
/// the tenant as `tenant_id + 0`, so that no generic plan reads the
/// tenant's rows from its index instead (`ids` tests the tenant itself).
/// The limit is in the text: every such page is kept (`cacheable`).
fn by_ids_in_order<F: Target>(
    s: &mut Builder,
    table: &'static str,
    q: &Query<F>,
    ids: impl FnOnce(&mut Builder),
    after: [&'static str; 2],
    order: &'static str,
) {
    let (pg, tenant) = (s.pg(), s.tenant);
    let desc = q.sort().descending();
    let dir = if desc { " DESC" } else { " ASC" };
    s.sql(" FROM ").sql(table);
    s.sql(if pg {
        " WHERE tenant_id + 0 = "
    } else {
        " WHERE tenant_id = "
    })
    .int(tenant);
    s.sql(if pg {
        " AND id = ANY(ARRAY("
    } else {
        " AND id IN ("
    });
    ids(s);
    if let Page::After(cursor) = q.page() {
        s.sql(after[usize::from(desc)]).int(cursor.id);
    }
    s.sql(order).sql(dir);
    limit_offset(s, q, true);
    s.sql(if pg { "))" } else { ")" });
    s.sql(" ORDER BY id").sql(dir);
}

/// ` LIMIT … [OFFSET …]` of a page of `q`: the limit in the text when
/// `in_text` and at most [`MAX_LIMIT_IN_TEXT`], else bound; the offset
/// always bound.
fn limit_offset<F: Target>(s: &mut Builder, q: &Query<F>, in_text: bool) {
    s.sql(" LIMIT ");
    let limit = i64::from(q.limit());
    if in_text && limit <= MAX_LIMIT_IN_TEXT {
        s.pieces.push(Piece::Int(limit));
    } else {
        s.int(limit);
    }
    if let Page::Offset(n) = q.page() {
        s.sql(" OFFSET ").int(i64::try_from(n).unwrap_or(i64::MAX));
    }
}

type CustomerSql = (BigInt, BigInt, JsonSql, BigInt, BigInt, BigInt);

/// A page's row ([`PageRow`]).
type PageSql = (
    BigInt,
    BigInt,
    Nullable<BigInt>,
    BigInt,
    Nullable<JsonSql>,
    BigInt,
    BigInt,
    BigInt,
);

/// Whether a page statement reads its rows' documents, or only their row
/// versions (PostgreSQL; see `decoded`, "pages without their documents").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Docs {
    With,
    Versions,
}

/// A page's columns after [`Target::PAGE_HEAD`], in [`PageRow`]'s order:
/// the row version's `xmin` (PostgreSQL; 0 on SQLite), and the document
/// or a null in its place.
fn page_columns<F: Target>(b: Backend, docs: Docs) -> [&'static str; 3] {
    let xmin = match b {
        Backend::Postgres => ", xmin::text::bigint",
        Backend::Sqlite => ", CAST(0 AS BIGINT)",
    };
    let rest = match docs {
        Docs::With => ", doc, created_at, updated_at, version",
        Docs::Versions => ", CAST(NULL AS jsonb), created_at, updated_at, version",
    };
    [F::PAGE_HEAD, xmin, rest]
}

/// How a page of `q` is read: without its documents on PostgreSQL when
/// the memo held most rows of recent such pages
/// ([`Decoded::worth_proving`]).
fn docs_for<F: Target>(b: Backend, memo: &Decoded, q: &Query<F>) -> Docs
where
    F::Entity: Paged,
{
    let continued = matches!(q.page(), Page::After(_));
    if b == Backend::Postgres && memo.worth_proving(<F::Entity as Entity>::KIND, continued) {
        Docs::Versions
    } else {
        Docs::With
    }
}

fn backend(c: &DbConnection) -> Backend {
    match c {
        DbConnection::Pg(_) => Backend::Postgres,
        DbConnection::Sqlite(_) => Backend::Sqlite,
    }
}

/// A page of the tenant's rows of `F` (customers or conversations)
/// matching `q` ([`read_page`]).
pub(crate) fn page<F: Target>(
    c: &mut DbConnection,
    memo: &Decoded,
    tenant: i64,
    q: &Query<F>,
) -> R<Vec<F::Entity>>
where
    F::Entity: Paged,
{
    read_page(c, memo, tenant, q, |c, docs| {
        Ok((page_rows(c, tenant, q, docs)?, ()))
    })
    .map(|(items, ())| items)
}

/// The entities of a page of `q` whose rows `read` reads as it is told
/// (with what else its statement returned): as [`docs_for`] says, then
/// again with the documents when a row changed between the two statements
/// of a page read without them ([`entities`]).
fn read_page<F: Target, X>(
    c: &mut DbConnection,
    memo: &Decoded,
    tenant: i64,
    q: &Query<F>,
    mut read: impl FnMut(&mut DbConnection, Docs) -> R<(Vec<PageRow>, X)>,
) -> R<(Vec<F::Entity>, X)>
where
    F::Entity: Paged,
{
    let docs = docs_for(backend(c), memo, q);
    let (rows, also) = read(c, docs)?;
    if let Some(items) = entities(c, memo, tenant, q, rows, docs)? {
        return Ok((items, also));
    }
    let (rows, also) = read(c, Docs::With)?;
    let items = entities(c, memo, tenant, q, rows, Docs::With)?
        .ok_or_else(|| StorageError::internal("a page read with its documents lacked one"))?;
    Ok((items, also))
}

/// The rows of a page of `q`, read as `docs` says.
fn page_rows<F: Target>(
    c: &mut DbConnection,
    tenant: i64,
    q: &Query<F>,
    docs: Docs,
) -> R<Vec<PageRow>> {
    let b = backend(c);
    let [head, xmin, rest] = page_columns::<F>(b, docs);
    let stmt: Statement<PageSql> = Statement::new(
        select(b, tenant, q, &["SELECT ", head, xmin, rest]).pieces,
        cacheable(b, q.filter(), sort_key(q, b) == "id"),
    );
    Ok(crate::connection::native!(c, c => stmt.load(c))?)
}

/// The entities of a page's `rows`, read as `docs` says. Without the
/// documents (PostgreSQL), a row the memo holds at the row version read is
/// a copy, and the others' documents are read by a second statement; when
/// one of those rows changed or went in between, the page is `None`: the
/// two statements saw different rows, and the caller reads it again with
/// its documents. The memo's share of held rows is noted either way.
fn entities<F: Target>(
    c: &mut DbConnection,
    memo: &Decoded,
    tenant: i64,
    q: &Query<F>,
    rows: Vec<PageRow>,
    docs: Docs,
) -> R<Option<Vec<F::Entity>>>
where
    F::Entity: Paged,
{
    let pg = backend(c) == Backend::Postgres;
    let kind = <F::Entity as Entity>::KIND;
    let continued = matches!(q.page(), Page::After(_));
    let n = rows.len();
    if docs == Docs::With {
        let mut held = 0;
        // Pushed into a vector of the page's size: collected through a
        // `Result`, it grew by doubling, moving every entity each time.
        let mut items = Vec::with_capacity(n);
        for r in rows {
            let (e, copied) = r.decode(memo, None, pg)?;
            held += usize::from(copied);
            items.push(e);
        }
        if pg {
            memo.note_page(kind, continued, held, n);
        }
        return Ok(Some(items));
    }
    let mut items: Vec<Option<F::Entity>> = rows.iter().map(|r| r.held(memo)).collect();
    let missing: Vec<i64> = rows
        .iter()
        .zip(&items)
        .filter(|(_, e)| e.is_none())
        .map(|(r, _)| r.id)
        .collect();
    memo.note_page(kind, continued, n - missing.len(), n);
    if !missing.is_empty() {
        let mut fetched = documents::<F>(c, tenant, &missing)?;
        for (row, slot) in rows.into_iter().zip(items.iter_mut()) {
            if slot.is_some() {
                continue;
            }
            match fetched.remove(&row.id) {
                Some((xmin, doc)) if xmin == row.xmin => {
                    *slot = Some(row.decode(memo, Some(doc), true)?.0);
                }
                _ => return Ok(None),
            }
        }
    }
    Ok(Some(items.into_iter().flatten().collect()))
}

/// PostgreSQL: the documents of the tenant's rows of `F` among `ids`
/// (distinct), each with its row version's `xmin`, by id.
fn documents<F: Target>(
    c: &mut DbConnection,
    tenant: i64,
    ids: &[i64],
) -> R<HashMap<i64, (i64, JsonText)>> {
    let mut s = Builder::new(backend(c), tenant);
    s.sql("SELECT t.id, t.xmin::text::bigint, t.doc");
    from_among(&mut s, F::TABLE, ids)?;
    let stmt: Statement<(BigInt, BigInt, JsonSql)> = Statement::new(s.pieces, true);
    let rows: Vec<(i64, i64, JsonText)> = crate::connection::native!(c, c => stmt.load(c))?;
    Ok(rows
        .into_iter()
        .map(|(id, xmin, doc)| (id, (xmin, doc)))
        .collect())
}

/// SQLite: the tenant's customers among `ids`, in id order, by one
/// statement for any number of ids (a JSON array read by `json_each`),
/// kept prepared: Diesel's `IN` list is a new statement for each length,
/// and its SQL literals are never kept.
pub(crate) fn sqlite_customers_by_ids(
    c: &mut diesel::SqliteConnection,
    tenant: i64,
    ids: &[i64],
) -> R<Vec<CustomerRow>> {
    let mut s = Builder::new(Backend::Sqlite, tenant);
    s.sql("SELECT ")
        .sql(<CustomerField as Target>::COLUMNS)
        .sql(" FROM customers WHERE tenant_id = ")
        .int(tenant)
        .sql(" AND id IN (SELECT value FROM json_each(")
        .bind(Bind::Text(serde_json::to_string(ids)?))
        .sql(")) ORDER BY id");
    let stmt: Statement<CustomerSql> = Statement::new(s.pieces, true);
    Ok(stmt.load(c)?)
}

/// A row of [`links_by_ids`]: its kind (0 a customer's contact, 1 an
/// agent, 2 a department), id, tenant and creation time (0 but for a
/// customer), then up to six texts: a customer's user id, name, email,
/// phone, company and country code, drawn from its document by the
/// database (so the rest of it is neither sent nor decoded); an agent's
/// name, email and role; a department's name.
type LinkSql = (
    Integer,
    BigInt,
    BigInt,
    BigInt,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
    Nullable<Text>,
);

type LinkRow = (
    i32,
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// What the conversations of a page (or one conversation) link to when
/// they show only their customers' contacts: the contact members of the
/// tenant's customers among `customers`
/// ([`crate::rows::CustomerContactRow`]), its agents among `agents` and
/// its departments among `departments`, each in id order, by **one**
/// statement (`UNION ALL`) for any number of each (none included), kept
/// prepared: one round trip where there were three. Each list holds
/// distinct ids ([`from_among`]).
pub(crate) fn links_by_ids(
    c: &mut DbConnection,
    tenant: i64,
    customers: &[i64],
    agents: &[i64],
    departments: &[i64],
) -> R<(
    Vec<crate::rows::CustomerContactRow>,
    Vec<Agent>,
    Vec<Department>,
)> {
    let b = backend(c);
    let mut s = Builder::new(b, tenant);
    // The contact's members without decoding the document: both backends
    // keep them in stored generated columns (migrations `2026-12-09-000001`
    // and `2026-12-12-000001`).
    s.sql(
        "SELECT 0, t.id, t.tenant_id, t.created_at, t.user_id, t.contact_name, \
         t.contact_email, t.contact_phone, t.contact_company, t.contact_country",
    );
    from_among(&mut s, "customers", customers)?;
    s.sql(" UNION ALL SELECT 1, t.id, t.tenant_id, 0, t.name, t.email, t.role, NULL, NULL, NULL");
    from_among(&mut s, "agents", agents)?;
    s.sql(" UNION ALL SELECT 2, t.id, t.tenant_id, 0, t.name, NULL, NULL, NULL, NULL, NULL");
    from_among(&mut s, "departments", departments)?;
    let stmt: Statement<LinkSql> = Statement::new(s.pieces, true);
    let rows: Vec<LinkRow> = crate::connection::native!(c, c => stmt.load(c))?;
    let (mut contacts, mut found_agents, mut found_departments) =
        (Vec::new(), Vec::new(), Vec::new());
    for (kind, id, tenant_id, created_at, t1, t2, t3, t4, t5, t6) in rows {
        match kind {
            0 => contacts.push(crate::rows::CustomerContactRow {
                id,
                tenant_id,
                created_at,
                user_id: t1,
                name: t2,
                email: t3,
                phone: t4,
                company: t5,
                country_code: t6,
            }),
            1 => found_agents.push(Agent::from(AgentRow {
                id,
                tenant_id,
                name: t1.unwrap_or_default(),
                email: t2.unwrap_or_default(),
                role: t3.unwrap_or_default(),
            })),
            _ => found_departments.push(Department::from(DepartmentRow {
                id,
                tenant_id,
                name: t1.unwrap_or_default(),
            })),
        }
    }
    // In id order, each kind: sorted here rather than by the statement.
    contacts.sort_unstable_by_key(|c| c.id);
    found_agents.sort_unstable_by_key(|a| a.id);
    found_departments.sort_unstable_by_key(|d| d.id);
    Ok((contacts, found_agents, found_departments))
}

/// ` FROM <table> AS t WHERE …`: the tenant's rows of `table` among
/// `ids` (distinct: a repeated id repeats its row), one bound value for
/// any number of them, so the statement is the same text, and stays
/// prepared, for any count. SQLite joins the table to the ids' JSON array,
/// read first: a key lookup per id and no temporary b-tree (an `IN
/// (SELECT … json_each)` list built one on every run: `docs/benchmarks.md`,
/// "The links without temporary b-trees"). PostgreSQL tests `= ANY` of an
/// array. The rows come in no particular order.
fn from_among(s: &mut Builder, table: &'static str, ids: &[i64]) -> R<()> {
    let tenant = s.tenant;
    match s.backend {
        Backend::Sqlite => s
            .sql(" FROM json_each(")
            .bind(Bind::Text(serde_json::to_string(ids)?))
            .sql(") AS j CROSS JOIN ")
            .sql(table)
            .sql(" AS t ON t.id = j.value WHERE t.tenant_id = ")
            .int(tenant),
        Backend::Postgres => s
            .sql(" FROM ")
            .sql(table)
            .sql(" AS t WHERE t.tenant_id = ")
            .int(tenant)
            .sql(" AND t.id = ANY(")
            .bind(Bind::Ints(ids.to_vec()))
            .sql(")"),
    };
    Ok(())
}

/// A row of [`directory_by_ids`]: 0 for an agent, 1 for a department
/// (whose email and role are empty), then the row's columns.
type DirectorySql = (Integer, BigInt, BigInt, Text, Text, Text);

/// The tenant's agents among `agents` and departments among
/// `departments` (distinct ids, [`from_among`]), each in id order, by
/// **one** statement (`UNION ALL`) for any number of either, kept
/// prepared: what the conversations of a page
/// (or one conversation) link to besides their customers, in one round
/// trip rather than two.
pub(crate) fn directory_by_ids(
    c: &mut DbConnection,
    tenant: i64,
    agents: &[i64],
    departments: &[i64],
) -> R<(Vec<Agent>, Vec<Department>)> {
    let mut s = Builder::new(backend(c), tenant);
    s.sql("SELECT 0, t.id, t.tenant_id, t.name, t.email, t.role");
    from_among(&mut s, "agents", agents)?;
    s.sql(" UNION ALL SELECT 1, t.id, t.tenant_id, t.name, '', ''");
    from_among(&mut s, "departments", departments)?;
    let stmt: Statement<DirectorySql> = Statement::new(s.pieces, true);
    let rows: Vec<(i32, i64, i64, String, String, String)> =
        crate::connection::native!(c, c => stmt.load(c))?;
    let (mut found_agents, mut found_departments) = (Vec::new(), Vec::new());
    for (kind, id, tenant_id, name, email, role) in rows {
        if kind == 0 {
            found_agents.push(Agent::from(AgentRow {
                id,
                tenant_id,
                name,
                email,
                role,
            }));
        } else {
            found_departments.push(Department::from(DepartmentRow {
                id,
                tenant_id,
                name,
            }));
        }
    }
    // In id order, each kind: sorted here rather than by the statement.
    found_agents.sort_unstable_by_key(|a| a.id);
    found_departments.sort_unstable_by_key(|d| d.id);
    Ok((found_agents, found_departments))
}

/// Whether the total of `filter` is a sum of the counts table: no filter,
/// or one on the counts' groups alone.
fn summable<F: Target>(filter: Option<&Filter<F>>) -> bool {
    filter.is_none_or(|f| f.conditions().all(|c| c.field().count_expr().is_some()))
}

/// The attribute and the values a filter that is one custom
/// attribute equality (or `in`) tests, whose total is counted from
/// `customer_attribute_values` alone (6.8 µs where counting the customers
/// among its matches took 32.8, for a value 100 customers hold:
/// `docs/benchmarks.md`, "Where a chat page's CPU goes").
fn attribute_equality<F: Target>(
    b: Backend,
    filter: Option<&Filter<F>>,
) -> Option<(String, Vec<&Json>)> {
    let c = match filter? {
        Filter::Cond(c) => c,
        Filter::All(parts) | Filter::Any(parts) => match parts.as_slice() {
            [Filter::Cond(c)] => c,
            _ => return None,
        },
        Filter::Not(_) => return None,
    };
    let Expr::Attribute(name) = c.field().expr(b) else {
        return None;
    };
    match Builder::forms(c.test())? {
        (forms, false) => Some((name, forms)),
        (_, true) => None,
    }
}

/// The two scalar subqueries `(SELECT <total>), (SELECT <summed>)` of
/// the tenant's rows matching `filter`: the total is the sum of the counts
/// table when [`summable`], else `count(*)` of the rows; `summed` is how
/// many count rows that sum read (0 for `count(*)`), which tells when they
/// are due to be folded ([`super::counts::fold`]). Scalar subqueries, not a
/// join, so that the page beside them keeps its index order.
fn totals<F: Target>(b: Backend, tenant: i64, filter: Option<&Filter<F>>) -> Builder {
    let mut s = Builder::new(b, tenant);
    s.sql("SELECT (");
    if let Some((name, forms)) = attribute_equality(b, filter) {
        // The value table has one row per customer holding the value, so
        // its rows are the count; the customers need not be read.
        s.attribute_values("count(*)", &name, &forms);
        s.sql("), (SELECT CAST(0 AS BIGINT)");
    } else if summable(filter) {
        s.on_counts = true;
        s.select_counts::<F>("CAST(coalesce(sum(n), 0) AS BIGINT)", filter);
        s.sql("), (");
        s.select_counts::<F>("count(*)", filter);
        s.on_counts = false;
    } else {
        s.pieces
            .extend(base(b, tenant, &["SELECT count(*)"], filter).pieces);
        s.sql("), (SELECT CAST(0 AS BIGINT)");
    }
    s.sql(")");
    s
}

/// `SELECT (<total>), (<summed>), <columns> FROM <table> WHERE … LIMIT …`:
/// a page of `q` and how many rows match its filter in all, in one
/// statement (one snapshot, one round trip). An empty page carries no
/// total.
fn select_counted<F: Target>(b: Backend, tenant: i64, q: &Query<F>, docs: Docs) -> Builder {
    if attribute_lookup(b, q.filter()) && sort_key(q, b) == "id" {
        return lookup_counted(b, tenant, q, docs);
    }
    let mut s = totals(b, tenant, q.filter());
    s.sql(", ");
    s.pieces
        .extend(select(b, tenant, q, &page_columns::<F>(b, docs)).pieces);
    s
}

/// Whether a page of `q` can read its contacts in its own statement
/// ([`page_counted_contacts`]): always on SQLite; on PostgreSQL unless its
/// filter is a custom info lookup in id order, read by [`lookup_counted`].
pub(crate) fn joins_contacts(c: &DbConnection, q: &Query<ConversationField>) -> bool {
    let b = backend(c);
    !(b == Backend::Postgres && attribute_lookup(b, q.filter()) && sort_key(q, b) == "id")
}

/// [`select_counted`] of a conversation page with the tenant's directory
/// stamp ([`directory_stamp`]) and each row's contact.
///
/// On SQLite the contacts are joined to the page's rows where they are
/// found ([`CONTACT_JOIN`]): SQLite flattens the join into a key lookup
/// per row. On PostgreSQL the page is read first, as [`select`] reads it,
/// and only its rows are joined ([`CONTACT_JOIN_PG`]):
///
/// ```sql
/// SELECT (<total>), (<summed>), (<stamp>), p.*, ct_id, … FROM (
///   SELECT <columns> FROM conversations WHERE … ORDER BY … LIMIT 21) AS p
/// LEFT JOIN LATERAL (SELECT … FROM customers AS t … WHERE t.id = p.customer_id
///   AND t.tenant_id = $t OFFSET 0) AS ct ON true
/// ```
///
/// Joined where the rows are found, PostgreSQL looked up the customer of
/// every match before a sort, not only of the page's rows. The rows come
/// in the page's order (a nested loop keeps its outer order; the caller
/// checks it, [`in_page_order`]).
fn select_counted_contacts(
    b: Backend,
    tenant: i64,
    q: &Query<ConversationField>,
    docs: Docs,
) -> Builder {
    let mut s = totals(b, tenant, q.filter());
    directory_stamp(&mut s);
    let [head, xmin, rest] = page_columns::<ConversationField>(b, docs);
    match b {
        Backend::Sqlite => {
            s.sql(", ");
            s.pieces.extend(
                select_with(
                    b,
                    tenant,
                    q,
                    &[head, xmin, rest, CONTACT_COLUMNS],
                    Contacts::Joined,
                )
                .pieces,
            );
        }
        Backend::Postgres => {
            s.sql(", p.*").sql(CONTACT_COLUMNS).sql(" FROM (");
            s.pieces
                .extend(select(b, tenant, q, &["SELECT ", head, xmin, rest]).pieces);
            s.sql(") AS p")
                .sql(CONTACT_JOIN_PG)
                .int(tenant)
                .sql(" OFFSET 0) AS ct ON true");
        }
    }
    s
}

/// `items` with `contacts` beside them, in `q`'s order: as read, unless a
/// plan gave them otherwise (then sorted by their sort keys, which every
/// conversation of a page has).
fn in_page_order<T>(
    q: &Query<ConversationField>,
    items: Vec<switchboard_domain::Conversation>,
    contacts: Vec<T>,
) -> (Vec<switchboard_domain::Conversation>, Vec<T>) {
    use switchboard_domain::query::Cursor;
    let field = q.sort().field();
    let desc = q.sort().descending();
    let order = |a: &(i64, i64), b: &(i64, i64)| if desc { b.cmp(a) } else { a.cmp(b) };
    let keys: Option<Vec<(i64, i64)>> = items
        .iter()
        .map(|e| Cursor::after(field, e).map(|c| (c.key, c.id)))
        .collect();
    let Some(keys) = keys else {
        return (items, contacts);
    };
    if keys.is_sorted_by(|a, b| order(a, b).is_le()) {
        return (items, contacts);
    }
    let mut rows: Vec<_> = keys
        .into_iter()
        .zip(items.into_iter().zip(contacts))
        .collect();
    rows.sort_by(|a, b| order(&a.0, &b.0));
    rows.into_iter().map(|(_, row)| row).unzip()
}

/// A page of conversations read with its contacts
/// ([`page_counted_contacts`]).
pub(crate) struct ContactPage {
    pub items: Vec<switchboard_domain::Conversation>,
    pub total: Total,
    /// Each row's contact, in the page's order.
    pub contacts: Vec<Option<crate::rows::CustomerContactRow>>,
    /// The tenant's directory stamp in the page's snapshot; none for a
    /// page without rows.
    pub directory_stamp: Option<i64>,
}

/// [`page_counted`] of conversations, each row with its contact (the
/// linked customer's, when it is the tenant's), read by the page statement
/// itself: a page and its contacts in one statement, where
/// [`links_by_ids`] would take a second (see `docs/benchmarks.md`, "A lead,
/// measured by hand"). The statement also selects the tenant's directory
/// stamp, which tells whether the node's copy of its agents and
/// departments is the one the page saw (`crate::directory`). On
/// PostgreSQL the contacts are joined from their stored columns
/// ([`CONTACT_JOIN_PG`]): from the documents, the joined page measured
/// slower than the page and its links apart (`docs/benchmarks.md`,
/// "Contacts as columns on PostgreSQL").
pub(crate) fn page_counted_contacts(
    c: &mut DbConnection,
    memo: &Decoded,
    tenant: i64,
    q: &Query<ConversationField>,
) -> R<ContactPage> {
    let b = backend(c);
    if !joins_contacts(c, q) {
        return Err(StorageError::internal(
            "a custom info lookup's page is not joined to its contacts",
        ));
    }
    let (items, (total, stamp, contacts)) = read_page(c, memo, tenant, q, |c, docs| {
        let stmt: Statement<(BigInt, BigInt, BigInt, PageSql, ContactSql)> = Statement::new(
            select_counted_contacts(b, tenant, q, docs).pieces,
            cacheable(b, q.filter(), sort_key(q, b) == "id"),
        );
        // Each row straight into its place, in vectors of the page's size
        // (a collected `Vec` of whole rows grew by doubling, moving them).
        let room = usize::try_from(q.limit()).unwrap_or(0).saturating_add(1);
        let (mut rows, mut contacts) = (Vec::with_capacity(room), Vec::with_capacity(room));
        let (mut total, mut stamp) = (None, None);
        crate::connection::native!(c, c => {
            for row in stmt.load_iter::<(i64, i64, i64, PageRow, ContactCols), diesel::connection::DefaultLoadingMode>(c)? {
                let (n, summed, at, row, ct) = row?;
                total.get_or_insert(Total::of(n, summed));
                stamp.get_or_insert(at);
                rows.push(row);
                contacts.push(contact(tenant, ct));
            }
        });
        Ok((rows, (total, stamp, contacts)))
    })?;
    if contacts.len() != items.len() {
        return Err(StorageError::internal(
            "a page's contacts did not match its rows",
        ));
    }
    let total = total_or_count(c, tenant, q, total)?;
    // SQLite's statement ends with the page's `ORDER BY`; PostgreSQL's
    // joins the ordered page, which SQL does not promise to keep in order.
    let (items, contacts) = match b {
        Backend::Sqlite => (items, contacts),
        Backend::Postgres => in_page_order(q, items, contacts),
    };
    Ok(ContactPage {
        items,
        total,
        contacts,
        directory_stamp: stamp,
    })
}

/// `, <stamp>`, the tenant's directory stamp (0 before its first agent or
/// department), a column of the statement `s` builds. A scalar subquery
/// on nothing of the statement's rows: run once a statement (a
/// primary-key lookup; PostgreSQL's InitPlan), in the statement's
/// snapshot.
fn directory_stamp(s: &mut Builder) {
    let tenant = s.tenant;
    s.sql(", CAST(coalesce((SELECT stamp FROM directory_stamps WHERE tenant_id = ")
        .int(tenant)
        .sql("), 0) AS BIGINT)");
}

/// At most this many agents and departments together are read by
/// [`whole_directory`]: a tenant with more is not copied.
pub(crate) const WHOLE_DIRECTORY_MAX: usize = 1_000;

// The statement's limits, in its text, are one over it.
const _: () = assert!(WHOLE_DIRECTORY_MAX == 1_000);

/// The tenant's directory as [`whole_directory`] read it.
pub(crate) struct WholeDirectory {
    /// Its stamp, in the snapshot the rows were read in.
    pub stamp: i64,
    /// Its agents and departments in id order; none when there are more
    /// than [`WHOLE_DIRECTORY_MAX`] of them together.
    pub rows: Option<(Vec<Agent>, Vec<Department>)>,
}

/// A row of [`whole_directory`]: -1 for the stamp (in the id's place), 0
/// for an agent, 1 for a department (whose email and role are empty).
type WholeSql = (Integer, BigInt, Text, Text, Text);

/// The tenant's whole directory and its stamp, in one statement
/// (one snapshot: the rows are the directory the stamp stands for), kept
/// prepared:
///
/// ```sql
/// SELECT -1, coalesce((SELECT stamp …), 0), '', '', ''
/// UNION ALL SELECT * FROM (SELECT 0, id, name, email, role FROM agents WHERE tenant_id = $t LIMIT 1001)
/// UNION ALL SELECT * FROM (SELECT 1, id, name, '', '' FROM departments WHERE tenant_id = $t LIMIT 1001)
/// ```
pub(crate) fn whole_directory(c: &mut DbConnection, tenant: i64) -> R<WholeDirectory> {
    let mut s = Builder::new(backend(c), tenant);
    s.sql("SELECT -1");
    directory_stamp(&mut s);
    s.sql(", '', '', ''");
    // Each side bounded on its own: a limit in the text (kept prepared),
    // one over the most a copy holds.
    s.sql(
        " UNION ALL SELECT * FROM (SELECT 0, id, name, email, role FROM agents \
         WHERE tenant_id = ",
    )
    .int(tenant)
    .sql(" LIMIT 1001) AS a UNION ALL SELECT * FROM (SELECT 1, id, name, '', '' FROM departments WHERE tenant_id = ")
    .int(tenant)
    .sql(" LIMIT 1001) AS d");
    let stmt: Statement<WholeSql> = Statement::new(s.pieces, true);
    let rows: Vec<(i32, i64, String, String, String)> =
        crate::connection::native!(c, c => stmt.load(c))?;
    let mut stamp = None;
    let (mut agents, mut departments) = (Vec::new(), Vec::new());
    for (kind, id, name, email, role) in rows {
        match kind {
            -1 => stamp = Some(id),
            0 => agents.push(Agent::from(AgentRow {
                id,
                tenant_id: tenant,
                name,
                email,
                role,
            })),
            _ => departments.push(Department::from(DepartmentRow {
                id,
                tenant_id: tenant,
                name,
            })),
        }
    }
    let stamp =
        stamp.ok_or_else(|| StorageError::internal("the directory came without its stamp"))?;
    if agents.len() + departments.len() > WHOLE_DIRECTORY_MAX {
        return Ok(WholeDirectory { stamp, rows: None });
    }
    agents.sort_unstable_by_key(|a| a.id);
    departments.sort_unstable_by_key(|d| d.id);
    Ok(WholeDirectory {
        stamp,
        rows: Some((agents, departments)),
    })
}

/// The contact of a [`ContactSql`] row: none when no customer was joined.
fn contact(tenant: i64, ct: ContactCols) -> Option<crate::rows::CustomerContactRow> {
    let (id, created_at, user_id, name, email, phone, company, country_code) = ct;
    Some(crate::rows::CustomerContactRow {
        id: id?,
        tenant_id: tenant,
        created_at: created_at?,
        user_id,
        name,
        email,
        phone,
        company,
        country_code,
    })
}

/// PostgreSQL: [`select_counted`] of a page in id order whose filter is
/// one custom info lookup ([`attribute_lookup`]):
/// the lookup runs once, for the total and the page.
///
/// ```sql
/// WITH m AS MATERIALIZED (SELECT id FROM <table> WHERE tenant_id + 0 = $t AND <lookup>)
/// SELECT (SELECT count(*) FROM m), 0, <columns> FROM <table>
/// WHERE tenant_id + 0 = $t AND id = ANY(ARRAY(
///   SELECT id FROM m [WHERE id < $cursor] ORDER BY id + 0 DESC LIMIT 20 [OFFSET $n]))
/// ORDER BY id DESC
/// ```
///
/// The GIN index's matches must each be checked against the document
/// (`jsonb_path_ops` keeps hashes), and the two scalar subqueries of
/// [`totals`] and the page each looked them up and checked them again:
/// twice the work for the same rows. Here the matches' ids are found once;
/// the page's rows are then read by primary key.
fn lookup_counted<F: Target>(b: Backend, tenant: i64, q: &Query<F>, docs: Docs) -> Builder {
    let mut s = Builder::new(b, tenant);
    s.sql("WITH m AS MATERIALIZED (");
    s.pieces
        .extend(base(b, tenant, &["SELECT id"], q.filter()).pieces);
    s.sql(") SELECT (SELECT count(*) FROM m), CAST(0 AS BIGINT), ");
    for piece in page_columns::<F>(b, docs) {
        s.sql(piece);
    }
    by_ids_in_order(
        &mut s,
        F::TABLE,
        q,
        |s| {
            s.sql("SELECT id FROM m");
        },
        [" WHERE id > ", " WHERE id < "],
        " ORDER BY id + 0",
    );
    s
}

/// How many rows match a filter, and how many rows of the counts table
/// were summed to tell it (0 when the rows were counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Total {
    pub(crate) n: u64,
    pub(crate) summed: u64,
}

impl Total {
    fn of(n: i64, summed: i64) -> Self {
        Self {
            n: u64::try_from(n).unwrap_or(0),
            summed: u64::try_from(summed).unwrap_or(0),
        }
    }
}

/// A page of the tenant's rows of `F` matching `q` ([`page`]), and how
/// many match ([`select_counted`]). A page that came back empty carries no
/// total: it is counted on its own (0 without reading when `q` is a first
/// page).
pub(crate) fn page_counted<F: Target>(
    c: &mut DbConnection,
    memo: &Decoded,
    tenant: i64,
    q: &Query<F>,
) -> R<(Vec<F::Entity>, Total)>
where
    F::Entity: Paged,
{
    let b = backend(c);
    let (items, total) = read_page(c, memo, tenant, q, |c, docs| {
        let stmt: Statement<(BigInt, BigInt, PageSql)> = Statement::new(
            select_counted(b, tenant, q, docs).pieces,
            cacheable(b, q.filter(), sort_key(q, b) == "id"),
        );
        let rows: Vec<(i64, i64, PageRow)> = crate::connection::native!(c, c => stmt.load(c))?;
        let total = rows.first().map(|(n, summed, _)| Total::of(*n, *summed));
        Ok((rows.into_iter().map(|(_, _, row)| row).collect(), total))
    })?;
    Ok((items, total_or_count(c, tenant, q, total)?))
}

/// A page's total as its statement `read` it, which a page without rows
/// cannot: none for an empty first page, else counted.
fn total_or_count<F: Target>(
    c: &mut DbConnection,
    tenant: i64,
    q: &Query<F>,
    read: Option<Total>,
) -> R<Total> {
    Ok(match read {
        Some(total) => total,
        None if matches!(q.page(), Page::First) => Total::default(),
        None => count(c, tenant, q.filter())?,
    })
}

/// How many of the tenant's rows match `filter` (see [`totals`]).
pub(crate) fn count<F: Target>(
    c: &mut DbConnection,
    tenant: i64,
    filter: Option<&Filter<F>>,
) -> R<Total> {
    let s = totals(backend(c), tenant, filter);
    let stmt: Statement<(BigInt, BigInt)> =
        Statement::new(s.pieces, cacheable(s.backend, filter, true));
    let (n, summed): (i64, i64) = crate::connection::native!(c, c => stmt.get_result(c))?;
    Ok(Total::of(n, summed))
}

#[cfg(test)]
mod page_read_tests;

/// The database's plan for a page of `q`, one line per step
/// (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on PostgreSQL); `counted`:
/// of the page with its total ([`page_counted`]); `generic`: on
/// PostgreSQL, the plan it keeps for a kept statement, made for no values
/// (`plan_cache_mode = force_generic_plan`; SQLite has no other).
#[cfg(test)]
pub(crate) fn explain<F: Target>(
    c: &mut DbConnection,
    tenant: i64,
    q: &Query<F>,
    counted: bool,
    generic: bool,
) -> R<Vec<String>> {
    let b = backend(c);
    let pieces = if counted {
        select_counted(b, tenant, q, Docs::With).pieces
    } else {
        select(b, tenant, q, &["SELECT id"]).pieces
    };
    plan_of(c, pieces, generic)
}

/// The plan of [`page_counted_contacts`]' statement for `q`, one line per
/// step, as [`explain`] gives it (`generic`: PostgreSQL's plan for no
/// values).
#[cfg(test)]
pub(crate) fn explain_contacts(
    c: &mut DbConnection,
    tenant: i64,
    q: &Query<ConversationField>,
    generic: bool,
) -> R<Vec<String>> {
    let pieces = select_counted_contacts(backend(c), tenant, q, Docs::With).pieces;
    plan_of(c, pieces, generic)
}

/// The plan of the statement `pieces` make, one line per step: SQLite's
/// `EXPLAIN QUERY PLAN` details, PostgreSQL's `EXPLAIN` (`generic`: its
/// plan for no values, [`generic_plan`]).
#[cfg(test)]
fn plan_of(c: &mut DbConnection, pieces: Vec<Piece>, generic: bool) -> R<Vec<String>> {
    use diesel::sql_types::Integer;
    Ok(match c {
        DbConnection::Sqlite(c) => {
            let mut all = vec![Piece::Sql("EXPLAIN QUERY PLAN ")];
            all.extend(pieces);
            let stmt: Statement<(Integer, Integer, Integer, Text)> = Statement::new(all, false);
            stmt.load::<(i32, i32, i32, String)>(c)?
                .into_iter()
                .map(|(_, _, _, detail)| detail)
                .collect()
        }
        DbConnection::Pg(c) if generic => generic_plan(c, pieces)?,
        DbConnection::Pg(c) => {
            let mut all = vec![Piece::Sql("EXPLAIN ")];
            all.extend(pieces);
            let stmt: Statement<Text> = Statement::new(all, false);
            stmt.load::<String>(c)?
        }
    })
}

/// PostgreSQL's generic plan of the statement `pieces` make: prepared by
/// name (its parameters' types taken from where they stand), explained
/// with every value unknown.
#[cfg(test)]
fn generic_plan(c: &mut diesel::PgConnection, pieces: Vec<Piece>) -> R<Vec<String>> {
    use diesel::connection::SimpleConnection as _;

    #[derive(diesel::QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }
    let params = pieces
        .iter()
        .filter(|p| matches!(p, Piece::Bind(_)))
        .count();
    let stmt: Statement<Text> = Statement::new(pieces, false);
    let text = diesel::debug_query::<diesel::pg::Pg, _>(&stmt).to_string();
    let sql = text.split(" -- binds: ").next().unwrap_or_default();
    c.batch_execute(&format!(
        "PREPARE sb_generic AS {sql}; SET plan_cache_mode = force_generic_plan"
    ))?;
    let plan = diesel::sql_query(format!(
        "EXPLAIN EXECUTE sb_generic({})",
        vec!["NULL"; params].join(", ")
    ))
    .load::<Line>(c);
    c.batch_execute("DEALLOCATE sb_generic; RESET plan_cache_mode")?;
    Ok(plan?.into_iter().map(|l| l.line).collect())
}

/// Whether PostgreSQL is meant to plan a page of `q` once, for every
/// value: the statement is kept ([`cacheable`]), with its limit in the
/// text, so that a plan made for no values in particular (a generic
/// plan) is estimated as cheaply as the plans made for them.
#[cfg(test)]
pub(crate) fn planned_once<F: Target>(q: &Query<F>) -> bool {
    let b = Backend::Postgres;
    cacheable(b, q.filter(), sort_key(q, b) == "id")
}
