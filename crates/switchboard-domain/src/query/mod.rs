//! Queries: filter, sort and page customers and conversations.
//!
//! One model for every dialect. A dialect translates its own syntax
//! (HelpCrunch's `filter: [{field, operator, value}]`, SuperOffice's OData
//! `$filter`, Zoho's query parameters) into a [`Query`], and storage
//! compiles the query into parameterised SQL. Everything a client sends is
//! checked here, once:
//!
//! - **Fields** are typed enums ([`CustomerField`], [`ConversationField`]);
//!   a custom attribute must be defined for the tenant and carries its type.
//! - **Conditions** ([`Condition::new`]) accept only the operators that fit
//!   the field's [`FieldType`], and only values of its type: a status must
//!   name a [`ConversationStatus`], an id must be a positive integer, an
//!   attribute value must be one the attribute's type accepts.
//! - **Filters** ([`Filter`]) combine conditions with and / or / not,
//!   within [`MAX_DEPTH`] levels and [`MAX_NODES`] nodes.
//! - **Sorting** ([`Sort`]) is on an indexed field, with the id as the
//!   tie-breaker, so an order is total.
//! - **Paging** ([`Page`]) is keyset (an opaque [`Cursor`]: stable under
//!   concurrent writes, constant cost per page) or, for vendors whose
//!   APIs demand it, an offset; a page holds at most [`MAX_LIMIT`] rows.
//!
//! Every bound is refused with a typed [`QueryError`] naming the
//! offending part, which each dialect renders in its own error format.
//!
//! ```
//! use switchboard_domain::query::{
//!     Condition, ConversationField, Filter, Op, Page, Query, Sort, Value,
//! };
//!
//! let status = Condition::new(ConversationField::Status, Op::Eq, vec![Value::Text("on-hold".into())])?;
//! let agent = Condition::new(ConversationField::Assignee, Op::Eq, vec![Value::Int(7)])?;
//! let query = Query::new(
//!     Some(Filter::all(vec![status.into(), agent.into()])),
//!     Sort::new(ConversationField::CreatedAt, true)?,
//!     Page::First,
//!     50,
//! )?;
//! assert_eq!(query.limit(), 50);
//! # Ok::<(), switchboard_domain::query::QueryError>(())
//! ```

mod fields;

pub use fields::{ConversationField, CustomerField, Field, FieldType, UNSET_KEY};

use std::fmt;

use serde_json::Value as Json;

use crate::{AttributeType, ConversationStatus, Timestamp};

/// Deepest nesting of and / or / not groups (a single condition is depth 1).
pub const MAX_DEPTH: usize = 6;
/// Most nodes (conditions and groups) in one filter.
pub const MAX_NODES: usize = 64;
/// Most values in one `in` list.
pub const MAX_IN_VALUES: usize = 100;
/// Longest text value, in characters.
pub const MAX_TEXT_CHARS: usize = 255;
/// Largest page.
pub const MAX_LIMIT: u32 = 1000;
/// Largest offset of an offset-paged query.
pub const MAX_OFFSET: u64 = 10_000_000;

/// A value in a condition, before it is checked against the field's type.
///
/// Dialects give what their syntax carries (a JSON string, an OData
/// literal, a query parameter); [`Condition::new`] turns it into the
/// field's own type or refuses it. Times are already [`Timestamp`]s: each
/// dialect knows its unit (UNIX seconds, epoch milliseconds, ISO 8601).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`: only with `eq` / `ne`, meaning "is null" / "is not null".
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A number with a fraction (finite).
    Float(f64),
    /// Text.
    Text(String),
    /// A point in time.
    Time(Timestamp),
    /// A conversation status.
    Status(ConversationStatus),
}

impl Value {
    fn describe(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Int(_) => "an integer",
            Self::Float(_) => "a number",
            Self::Text(_) => "a string",
            Self::Time(_) => "a time",
            Self::Status(_) => "a status",
        }
    }
}

/// A comparison operator, as a dialect names it before checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Equal (`eq null`: is null).
    Eq,
    /// Not equal (`ne null`: is not null). Null fields are "not equal" to every value.
    Ne,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Equal to one of a list.
    In,
    /// Text containing a substring.
    Contains,
    /// Text starting with a prefix.
    StartsWith,
    /// Unset.
    IsNull,
    /// Set.
    IsNotNull,
}

impl Op {
    /// The operator's name in errors.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Lt => "lt",
            Self::Le => "le",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::In => "in",
            Self::Contains => "contains",
            Self::StartsWith => "startswith",
            Self::IsNull => "is null",
            Self::IsNotNull => "is not null",
        }
    }

    /// Whether a field of type `t` accepts this operator.
    #[must_use]
    pub fn fits(self, t: FieldType) -> bool {
        use FieldType as T;
        match self {
            Self::Eq | Self::Ne | Self::In => true,
            Self::Lt | Self::Le | Self::Gt | Self::Ge => {
                matches!(t, T::Id | T::Link | T::Time { .. })
            }
            Self::Contains | Self::StartsWith => matches!(t, T::Text | T::Email),
            Self::IsNull | Self::IsNotNull => t.is_nullable(),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A checked value, of its field's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Checked {
    /// An id or an integer.
    Int(i64),
    /// Text (lower-cased for email fields).
    Text(String),
    /// A time.
    Time(Timestamp),
    /// A status.
    Status(ConversationStatus),
    /// A custom attribute or custom info value: each JSON form a stored
    /// value that equals it may have (a number attribute also matches the
    /// number written as a string, which the attribute's type accepts).
    Json(Vec<Json>),
}

/// What a checked condition tests.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// Equal.
    Eq(Checked),
    /// Not equal, or null.
    Ne(Checked),
    /// Less than (never true of null).
    Lt(Checked),
    /// Less than or equal.
    Le(Checked),
    /// Greater than.
    Gt(Checked),
    /// Greater than or equal.
    Ge(Checked),
    /// Equal to one of these (1 to [`MAX_IN_VALUES`]).
    In(Vec<Checked>),
    /// Contains this text (case-sensitive, except on email fields).
    Contains(String),
    /// Starts with this text (case-sensitive, except on email fields).
    StartsWith(String),
    /// Unset.
    IsNull,
    /// Set.
    IsNotNull,
}

/// One checked condition on one field.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition<F> {
    field: F,
    test: Test,
}

impl<F: Field> Condition<F> {
    /// Checks `op` and `values` against `field`'s type.
    ///
    /// `values` holds one value (for `in`: one or more; for `is null` and
    /// `is not null`: none). `eq null` becomes `is null` and `ne null`
    /// `is not null`.
    ///
    /// ```
    /// use switchboard_domain::query::{Condition, ConversationField, Op, QueryError, Value};
    /// let err = Condition::new(ConversationField::Status, Op::Eq, vec![Value::Text("archived".into())])
    ///     .unwrap_err();
    /// assert!(matches!(err, QueryError::InvalidValue { .. }));
    /// let err = Condition::new(ConversationField::Status, Op::Contains, vec![Value::Text("o".into())])
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), "status: the operator contains does not apply to a conversation status");
    /// ```
    pub fn new(field: F, op: Op, values: Vec<Value>) -> Result<Self, QueryError> {
        let t = field.field_type();
        let name = || field.name();
        let (op, values) = match (op, values.as_slice()) {
            (Op::Eq, [Value::Null]) => (Op::IsNull, Vec::new()),
            (Op::Ne, [Value::Null]) => (Op::IsNotNull, Vec::new()),
            _ => (op, values),
        };
        if !op.fits(t) {
            return Err(QueryError::Operator {
                field: name(),
                op,
                expected: t.describe(),
            });
        }
        let arity = |want: usize| -> Result<(), QueryError> {
            if values.len() == want {
                Ok(())
            } else {
                Err(QueryError::InvalidValue {
                    field: name(),
                    message: match want {
                        0 => format!("{op} takes no value"),
                        _ => format!("{op} takes one value"),
                    },
                })
            }
        };
        let one = |values: Vec<Value>| -> Result<Checked, QueryError> {
            let v = values.into_iter().next().unwrap_or(Value::Null);
            check(&field, t, op, v)
        };
        let test = match op {
            Op::IsNull => {
                arity(0)?;
                Test::IsNull
            }
            Op::IsNotNull => {
                arity(0)?;
                Test::IsNotNull
            }
            Op::In => {
                if values.is_empty() || values.len() > MAX_IN_VALUES {
                    return Err(QueryError::TooManyValues {
                        field: name(),
                        max: MAX_IN_VALUES,
                    });
                }
                Test::In(
                    values
                        .into_iter()
                        .map(|v| check(&field, t, op, v))
                        .collect::<Result<_, _>>()?,
                )
            }
            Op::Contains | Op::StartsWith => {
                arity(1)?;
                let Checked::Text(s) = one(values)? else {
                    return Err(wrong_type(&field, t, "a string"));
                };
                if s.is_empty() {
                    return Err(QueryError::InvalidValue {
                        field: name(),
                        message: format!("{op} needs a non-empty string"),
                    });
                }
                if op == Op::Contains {
                    Test::Contains(s)
                } else {
                    Test::StartsWith(s)
                }
            }
            Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                arity(1)?;
                let v = one(values)?;
                match op {
                    Op::Eq => Test::Eq(v),
                    Op::Ne => Test::Ne(v),
                    Op::Lt => Test::Lt(v),
                    Op::Le => Test::Le(v),
                    Op::Gt => Test::Gt(v),
                    _ => Test::Ge(v),
                }
            }
        };
        Ok(Self { field, test })
    }

    /// The field.
    pub const fn field(&self) -> &F {
        &self.field
    }

    /// What is tested.
    pub const fn test(&self) -> &Test {
        &self.test
    }
}

fn wrong_type<F: Field>(field: &F, t: FieldType, got: &str) -> QueryError {
    QueryError::InvalidValue {
        field: field.name(),
        message: format!("expected {}, got {got}", t.describe()),
    }
}

/// Checks one value against a field of type `t`.
fn check<F: Field>(field: &F, t: FieldType, op: Op, v: Value) -> Result<Checked, QueryError> {
    let bad = |got: &Value| wrong_type(field, t, got.describe());
    let text = |s: String| -> Result<String, QueryError> {
        if s.chars().count() > MAX_TEXT_CHARS {
            return Err(QueryError::TooLong {
                field: field.name(),
                max: MAX_TEXT_CHARS,
            });
        }
        if s.contains('\0') {
            return Err(QueryError::InvalidValue {
                field: field.name(),
                message: "text must not contain NUL".into(),
            });
        }
        Ok(s)
    };
    if v == Value::Null {
        return Err(QueryError::InvalidValue {
            field: field.name(),
            message: format!("null is only allowed with eq and ne, not with {op}"),
        });
    }
    match t {
        FieldType::Id | FieldType::Link => match v {
            Value::Int(n) if n > 0 => Ok(Checked::Int(n)),
            Value::Text(ref s) => s
                .parse::<crate::CustomerId>()
                .map(|id| Checked::Int(id.get()))
                .map_err(|_| bad(&v)),
            other => Err(bad(&other)),
        },
        FieldType::Text => match v {
            Value::Text(s) => text(s).map(Checked::Text),
            other => Err(bad(&other)),
        },
        FieldType::Email => match v {
            Value::Text(s) => text(s.trim().to_lowercase()).map(Checked::Text),
            other => Err(bad(&other)),
        },
        FieldType::Time { .. } => match v {
            Value::Time(ts) if (0..=crate::MAX_MILLIS).contains(&ts.as_millis()) => {
                Ok(Checked::Time(ts))
            }
            Value::Time(_) => Err(QueryError::InvalidValue {
                field: field.name(),
                message: "must be between 1970 and 9999".into(),
            }),
            other => Err(bad(&other)),
        },
        FieldType::Status => match v {
            Value::Status(s) => Ok(Checked::Status(s)),
            Value::Text(s) => s
                .parse::<ConversationStatus>()
                .map(Checked::Status)
                .map_err(|e| QueryError::InvalidValue {
                    field: field.name(),
                    message: e.to_string(),
                }),
            other => Err(bad(&other)),
        },
        FieldType::Tags => match v {
            Value::Text(s) if !s.trim().is_empty() => text(s.trim().to_string()).map(Checked::Text),
            other => Err(bad(&other)),
        },
        FieldType::Attribute(kind) => attribute_forms(kind, v, &bad)
            .and_then(|forms| {
                for f in &forms {
                    if let Json::String(s) = f {
                        text(s.clone())?;
                    }
                }
                Ok(forms)
            })
            .map(Checked::Json),
        FieldType::Info => match v {
            Value::Text(s) => text(s).map(|s| Checked::Json(vec![Json::String(s)])),
            Value::Int(n) => Ok(Checked::Json(vec![Json::from(n)])),
            Value::Float(x) => finite(x)
                .map(|n| Checked::Json(vec![Json::Number(n)]))
                .ok_or_else(|| bad(&v)),
            Value::Bool(b) => Ok(Checked::Json(vec![Json::Bool(b)])),
            other => Err(bad(&other)),
        },
    }
}

fn finite(x: f64) -> Option<serde_json::Number> {
    serde_json::Number::from_f64(x)
}

/// The JSON forms a stored custom attribute value equal to `v` may have:
/// each type stores what [`AttributeType::accepts`] accepts, so a number
/// may be stored as `15` or `"15"`, a boolean as `true` or `"true"`, a
/// date as `1570000000` or `"1570000000"` (UNIX seconds).
fn attribute_forms(
    kind: AttributeType,
    v: Value,
    bad: &dyn Fn(&Value) -> QueryError,
) -> Result<Vec<Json>, QueryError> {
    // A number in its canonical form (an integral value as an integer),
    // as text, and as the client wrote it when that differs.
    let number = |x: f64, sent: Option<&str>| -> Option<Vec<Json>> {
        let n: serde_json::Number = if x.fract() == 0.0 && x.abs() < 9.0e15 {
            #[expect(clippy::cast_possible_truncation, reason = "integral and in range")]
            serde_json::Number::from(x as i64)
        } else {
            finite(x)?
        };
        let mut forms = vec![Json::String(n.to_string()), Json::Number(n)];
        if let Some(s) = sent
            && forms[0] != Json::String(s.to_string())
        {
            forms.push(Json::String(s.to_string()));
        }
        Some(forms)
    };
    let int = |n: i64| vec![Json::String(n.to_string()), Json::Number(n.into())];
    let forms = match (kind, &v) {
        (AttributeType::String | AttributeType::Url, Value::Text(s)) => {
            vec![Json::String(s.clone())]
        }
        (AttributeType::Number, Value::Int(n)) => int(*n),
        (AttributeType::Number, Value::Float(x)) => number(*x, None).ok_or_else(|| bad(&v))?,
        (AttributeType::Number, Value::Text(s)) => {
            let t = s.trim();
            match t.parse::<i64>() {
                Ok(n) if t == n.to_string() => {
                    let mut forms = int(n);
                    if s != t {
                        forms.push(Json::String(s.clone()));
                    }
                    forms
                }
                _ => t
                    .parse::<f64>()
                    .ok()
                    .filter(|x| s.len() <= 64 && x.is_finite())
                    .and_then(|x| number(x, Some(s)))
                    .ok_or_else(|| bad(&v))?,
            }
        }
        (AttributeType::Boolean, Value::Bool(b)) => {
            vec![Json::Bool(*b), Json::String(b.to_string())]
        }
        (AttributeType::Boolean, Value::Text(s)) if s == "true" || s == "false" => {
            vec![Json::Bool(s == "true"), Json::String(s.clone())]
        }
        (AttributeType::Date, Value::Time(t)) if t.as_millis() >= 0 => int(t.as_unix_seconds()),
        (AttributeType::Date, Value::Int(n)) => int(*n),
        (AttributeType::Date, Value::Text(s)) => {
            let t = Timestamp::parse_unix(s).map_err(|_| bad(&v))?;
            int(t.as_unix_seconds())
        }
        _ => return Err(bad(&v)),
    };
    // The form the client sent must itself be a value of the type.
    if let Some(first) = forms.first()
        && !kind.accepts(first)
    {
        return Err(bad(&v));
    }
    Ok(forms)
}

/// A tree of conditions.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter<F> {
    /// Every one of these holds.
    All(Vec<Filter<F>>),
    /// At least one of these holds.
    Any(Vec<Filter<F>>),
    /// This does not hold.
    Not(Box<Filter<F>>),
    /// One condition.
    Cond(Condition<F>),
}

/// A compact rendering for logs and tests: `field Test` for a condition,
/// `not(…)`, `and(…, …)`, `or(…, …)`.
///
/// ```
/// use switchboard_domain::query::{Condition, ConversationField, Filter, Op, Value};
/// let open = Filter::Cond(Condition::new(ConversationField::Status, Op::Eq, vec![Value::Text("opened".into())]).unwrap());
/// assert_eq!(Filter::Not(Box::new(open)).to_string(), "not(status Eq(Status(Opened)))");
/// ```
impl<F: Field> fmt::Display for Filter<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (word, parts) = match self {
            Self::Cond(c) => return write!(f, "{} {:?}", c.field().name(), c.test()),
            Self::Not(inner) => return write!(f, "not({inner})"),
            Self::All(parts) => ("and", parts),
            Self::Any(parts) => ("or", parts),
        };
        write!(f, "{word}(")?;
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{p}")?;
        }
        f.write_str(")")
    }
}

impl<F> Filter<F> {
    /// `and` of `parts`; a single part stands alone.
    #[must_use]
    pub fn all(parts: Vec<Self>) -> Self {
        Self::joined(parts, Self::All)
    }

    /// `or` of `parts`; a single part stands alone.
    #[must_use]
    pub fn any(parts: Vec<Self>) -> Self {
        Self::joined(parts, Self::Any)
    }

    /// `parts` joined by `join`; a single part stands alone.
    fn joined(mut parts: Vec<Self>, join: fn(Vec<Self>) -> Self) -> Self {
        if parts.len() == 1
            && let Some(one) = parts.pop()
        {
            return one;
        }
        join(parts)
    }

    /// `not` of `inner`.
    #[must_use]
    pub fn negate(inner: Self) -> Self {
        Self::Not(Box::new(inner))
    }

    /// How deep the tree is (a condition is 1).
    #[must_use]
    pub fn depth(&self) -> usize {
        match self {
            Self::Cond(_) => 1,
            Self::Not(inner) => 1 + inner.depth(),
            Self::All(parts) | Self::Any(parts) => {
                1 + parts.iter().map(Self::depth).max().unwrap_or(0)
            }
        }
    }

    /// How many nodes (conditions and groups) the tree has.
    #[must_use]
    pub fn nodes(&self) -> usize {
        match self {
            Self::Cond(_) => 1,
            Self::Not(inner) => 1 + inner.nodes(),
            Self::All(parts) | Self::Any(parts) => 1 + parts.iter().map(Self::nodes).sum::<usize>(),
        }
    }

    /// Every condition, depth first.
    pub fn conditions(&self) -> Box<dyn Iterator<Item = &Condition<F>> + '_> {
        match self {
            Self::Cond(c) => Box::new(std::iter::once(c)),
            Self::Not(inner) => inner.conditions(),
            Self::All(parts) | Self::Any(parts) => {
                Box::new(parts.iter().flat_map(|p| p.conditions()))
            }
        }
    }

    /// Checks the bounds: depth, size, no empty group.
    pub fn check(&self) -> Result<(), QueryError> {
        if self.depth() > MAX_DEPTH {
            return Err(QueryError::TooDeep { max: MAX_DEPTH });
        }
        if self.nodes() > MAX_NODES {
            return Err(QueryError::TooManyNodes { max: MAX_NODES });
        }
        self.check_groups()
    }

    fn check_groups(&self) -> Result<(), QueryError> {
        match self {
            Self::Cond(_) => Ok(()),
            Self::Not(inner) => inner.check_groups(),
            Self::All(parts) | Self::Any(parts) if parts.is_empty() => Err(QueryError::EmptyGroup),
            Self::All(parts) | Self::Any(parts) => parts.iter().try_for_each(Self::check_groups),
        }
    }
}

impl<F> From<Condition<F>> for Filter<F> {
    fn from(c: Condition<F>) -> Self {
        Self::Cond(c)
    }
}

/// The order of results: one indexed field, then the id, both in the
/// same direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort<F> {
    field: F,
    descending: bool,
}

impl<F: Field> Sort<F> {
    /// Orders by `field` (which must be sortable), then by id.
    pub fn new(field: F, descending: bool) -> Result<Self, QueryError> {
        if !field.is_sortable() {
            return Err(QueryError::NotSortable {
                field: field.name(),
            });
        }
        Ok(Self { field, descending })
    }

    /// By id.
    #[must_use]
    pub fn by_id(descending: bool) -> Self {
        Self {
            field: F::ID,
            descending,
        }
    }

    /// The field.
    pub const fn field(&self) -> &F {
        &self.field
    }

    /// Whether the order is descending.
    pub const fn descending(&self) -> bool {
        self.descending
    }
}

/// Where a page starts: after a position (keyset; stable under concurrent
/// writes) or after skipping a number of rows (for vendors that demand
/// offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// The first page.
    First,
    /// The rows after this position.
    After(Cursor),
    /// The rows after skipping this many.
    Offset(u64),
}

/// A position in a sorted result: the sort key and the id of the last row
/// of a page. Clients see it only as an opaque string ([`Cursor::encode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor {
    /// The sort key of the last row ([`Field::sort_key`]).
    pub key: i64,
    /// The id of the last row.
    pub id: i64,
}

impl Cursor {
    /// The position just after `entity` in an order by `field`.
    pub fn after<F: Field>(field: &F, entity: &F::Entity) -> Option<Self> {
        Some(Self {
            key: field.sort_key(entity)?,
            id: F::id_of(entity),
        })
    }

    /// The opaque text form.
    ///
    /// ```
    /// use switchboard_domain::query::Cursor;
    /// let c = Cursor { key: -1, id: 42 };
    /// assert_eq!(Cursor::decode(&c.encode()), Ok(c));
    /// assert!(Cursor::decode("42").is_err());
    /// ```
    #[must_use]
    pub fn encode(self) -> String {
        format!("c1.{:x}.{:x}", self.key.cast_unsigned(), self.id)
    }

    /// Reads [`Cursor::encode`]'s form.
    pub fn decode(s: &str) -> Result<Self, QueryError> {
        let mut parts = s.split('.');
        let (Some("c1"), Some(key), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(QueryError::InvalidCursor);
        };
        let hex = |p: &str| {
            (!p.is_empty() && p.len() <= 16)
                .then(|| u64::from_str_radix(p, 16).ok())
                .flatten()
        };
        match (hex(key), hex(id)) {
            (Some(key), Some(id)) if id > 0 && i64::try_from(id).is_ok() => Ok(Self {
                key: key.cast_signed(),
                id: id.cast_signed(),
            }),
            _ => Err(QueryError::InvalidCursor),
        }
    }
}

/// A checked query: what to match, in which order, which page.
#[derive(Debug, Clone, PartialEq)]
pub struct Query<F> {
    filter: Option<Filter<F>>,
    sort: Sort<F>,
    page: Page,
    limit: u32,
}

impl<F: Field> Query<F> {
    /// Checks the filter's bounds, the page size (1 to [`MAX_LIMIT`]) and
    /// the offset (at most [`MAX_OFFSET`]).
    pub fn new(
        filter: Option<Filter<F>>,
        sort: Sort<F>,
        page: Page,
        limit: u32,
    ) -> Result<Self, QueryError> {
        if let Some(f) = &filter {
            f.check()?;
        }
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(QueryError::Limit { max: MAX_LIMIT });
        }
        if let Page::Offset(n) = page
            && n > MAX_OFFSET
        {
            return Err(QueryError::Offset { max: MAX_OFFSET });
        }
        Ok(Self {
            filter,
            sort,
            page,
            limit,
        })
    }

    /// The filter (`None`: every row of the tenant).
    pub const fn filter(&self) -> Option<&Filter<F>> {
        self.filter.as_ref()
    }

    /// The order.
    pub const fn sort(&self) -> &Sort<F> {
        &self.sort
    }

    /// The page.
    pub const fn page(&self) -> Page {
        self.page
    }

    /// The page size.
    pub const fn limit(&self) -> u32 {
        self.limit
    }

    /// The same query at another page.
    #[must_use]
    pub fn at(&self, page: Page) -> Self {
        Self {
            page,
            ..self.clone()
        }
    }

    /// The position after the last of `items` if the page is full (there
    /// may be more), else `None`.
    pub fn next_cursor(&self, items: &[F::Entity]) -> Option<Cursor> {
        if items.len() < self.limit as usize {
            return None;
        }
        items
            .last()
            .and_then(|e| Cursor::after(&self.sort.field, e))
    }
}

/// A query refused: each variant names the offending part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// No such field (or no such custom attribute).
    #[error("{field}: {message}")]
    UnknownField {
        /// The name as given (truncated).
        field: String,
        /// Why.
        message: String,
    },
    /// The operator does not apply to the field's type.
    #[error("{field}: the operator {op} does not apply to {expected}")]
    Operator {
        /// The field.
        field: String,
        /// The operator.
        op: Op,
        /// What the field holds.
        expected: &'static str,
    },
    /// A value is not of the field's type, or not valid for it.
    #[error("{field}: {message}")]
    InvalidValue {
        /// The field.
        field: String,
        /// Why.
        message: String,
    },
    /// A text value is too long.
    #[error("{field}: values are at most {max} characters")]
    TooLong {
        /// The field.
        field: String,
        /// The bound.
        max: usize,
    },
    /// An `in` list is empty or too long.
    #[error("{field}: in takes 1 to {max} values")]
    TooManyValues {
        /// The field.
        field: String,
        /// The bound.
        max: usize,
    },
    /// The field is not indexed for sorting.
    #[error("{field}: results cannot be sorted by this field")]
    NotSortable {
        /// The field.
        field: String,
    },
    /// The filter nests too deeply.
    #[error("filter: nests deeper than {max} levels")]
    TooDeep {
        /// The bound.
        max: usize,
    },
    /// The filter has too many parts.
    #[error("filter: more than {max} conditions and groups")]
    TooManyNodes {
        /// The bound.
        max: usize,
    },
    /// An and / or group without members.
    #[error("filter: an and/or group must not be empty")]
    EmptyGroup,
    /// The page size is out of range.
    #[error("limit: must be between 1 and {max}")]
    Limit {
        /// The bound.
        max: u32,
    },
    /// The offset is too large.
    #[error("offset: must be at most {max}")]
    Offset {
        /// The bound.
        max: u64,
    },
    /// A cursor that [`Cursor::encode`] did not produce.
    #[error("cursor: not a valid cursor")]
    InvalidCursor,
}

impl QueryError {
    /// The field the error is about, if it is about one.
    #[must_use]
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::UnknownField { field, .. }
            | Self::Operator { field, .. }
            | Self::InvalidValue { field, .. }
            | Self::TooLong { field, .. }
            | Self::TooManyValues { field, .. }
            | Self::NotSortable { field } => Some(field),
            _ => None,
        }
    }

    /// The message without the field name.
    #[must_use]
    pub fn detail(&self) -> String {
        let full = self.to_string();
        match self.field() {
            Some(f) => full
                .strip_prefix(f)
                .and_then(|r| r.strip_prefix(": "))
                .map_or_else(|| full.clone(), str::to_string),
            None => full,
        }
    }

    /// A stable machine code for the kind of error.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::UnknownField { .. } => "unknown_field",
            Self::Operator { .. } => "invalid_operator",
            Self::InvalidValue { .. } => "invalid_value",
            Self::TooLong { .. } => "too_long",
            Self::TooManyValues { .. } => "too_many_values",
            Self::NotSortable { .. } => "not_sortable",
            Self::TooDeep { .. } => "too_deep",
            Self::TooManyNodes { .. } => "too_complex",
            Self::EmptyGroup => "empty_group",
            Self::Limit { .. } => "invalid_limit",
            Self::Offset { .. } => "invalid_offset",
            Self::InvalidCursor => "invalid_cursor",
        }
    }
}
