//! HelpCrunch's list and search parameters, translated into the domain's
//! [`Query`]: `GET /v1/customers` and `/v1/chats` (`sort`, `order`,
//! `offset`, `limit`), and `POST /v1/customers/search` and
//! `/v1/chats/search` (`filter: [{field, operator, value}]`,
//! `comparison`, `sort`, `order`, `offset`, `limit`).
//!
//! Field names are HelpCrunch's (`customers.email`, `chats.status`, …),
//! operators HelpCrunch's (`=`, `!=`, `>`, `>=`, `<`, `<=`, `~`, `!~`),
//! dates UNIX seconds. What Switchboard cannot express (a vendor field it
//! does not store, an operator a field does not take) is a 400 naming the
//! part the HelpCrunch way: `filter[2].operator`.

use serde::Deserialize;
use serde_json::Value as Json;
use switchboard_domain::query::{
    Condition, ConversationField as Cv, CustomerField as Cu, Field, FieldType, Filter, Op, Page,
    Query, QueryError, Sort, Value,
};
use switchboard_domain::{AttributeSet, Patch, Timestamp};
use utoipa::{IntoParams, ToSchema};

use crate::{ApiError, FieldError};

/// Largest `limit` (the vendor's).
pub const MAX_LIMIT: u32 = 100;
/// `limit` when none is given (the vendor's: "returns only the first 100").
pub const DEFAULT_LIMIT: u32 = 100;

/// The vendor's message for a missing member.
const BLANK: &str = "This value should not be blank.";

/// Query of `GET /v1/customers` and `GET /v1/chats`.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Sort field: `customers.firstSeen`, `customers.lastSeen` (and
    /// `customers.id`, `customers.createdAt`, `customers.updatedAt`);
    /// `chats.createdAt`, `chats.closedAt` (and `chats.id`,
    /// `chats.updatedAt`). Default: by id.
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    pub order: Option<String>,
    /// Rows to skip (default 0).
    pub offset: Option<String>,
    /// Rows to return, 1–100 (default 100).
    pub limit: Option<String>,
}

impl ListParams {
    /// Reads the query string's pairs: each parameter at most once, none
    /// other than these four (a filter the list cannot apply must not be
    /// silently dropped: use the search endpoint).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, ApiError> {
        let mut p = Self::default();
        for (key, value) in pairs {
            let slot = match key.as_str() {
                "sort" => &mut p.sort,
                "order" => &mut p.order,
                "offset" => &mut p.offset,
                "limit" => &mut p.limit,
                other => {
                    return Err(bad(
                        other.chars().take(64).collect::<String>(),
                        "unknown_parameter",
                        "not a parameter of this list; use sort, order, offset and limit",
                    ));
                }
            };
            if slot.replace(value).is_some() {
                return Err(bad(key, "invalid_value", "given more than once"));
            }
        }
        Ok(p)
    }
}

/// One condition of a search.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterItem {
    /// A searchable field, e.g. `customers.email`, `chats.status`.
    #[serde(default)]
    pub field: Option<String>,
    /// `=`, `!=`, `>`, `>=`, `<`, `<=`, `~` (contains), `!~` (does not contain).
    #[serde(default)]
    pub operator: Option<String>,
    /// The value: a string, a number, `null` (with `=` / `!=`), UNIX
    /// seconds for dates, `[{"name": …}]` for `tagsData`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub value: Patch<Json>,
}

/// The body of `POST /v1/customers/search` and `/v1/chats/search`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchInput {
    /// The conditions (none: every row).
    #[serde(default, deserialize_with = "super::wire::objects")]
    pub filter: Vec<FilterItem>,
    /// `AND` (default): every condition holds; `OR`: at least one.
    #[serde(default)]
    pub comparison: Option<String>,
    /// Sort field, as for the list.
    #[serde(default)]
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    #[serde(default)]
    pub order: Option<String>,
    /// Rows to skip (default 0).
    #[serde(default)]
    #[schema(value_type = Option<u64>)]
    pub offset: Option<Json>,
    /// Rows to return, 1–100 (default 100).
    #[serde(default)]
    #[schema(value_type = Option<u32>)]
    pub limit: Option<Json>,
}

impl SearchInput {
    /// Whether a condition names a custom attribute (its type must be looked up).
    #[must_use]
    pub fn names_custom_data(&self) -> bool {
        self.filter.iter().any(|f| {
            f.field
                .as_deref()
                .is_some_and(|n| n.starts_with("customers.customData."))
        })
    }
}

fn bad(field: impl Into<String>, code: &str, message: impl Into<String>) -> ApiError {
    ApiError::BadRequest(vec![FieldError::new(field, code, message)])
}

/// A domain error about part `part` of the request.
fn refused(part: &str, e: &QueryError) -> ApiError {
    bad(part, e.code(), e.detail())
}

/// What a HelpCrunch field name stands for.
enum Named<F> {
    Field(F),
    /// `customers.tagsData`: the customer has every one of the tags.
    Tags,
}

/// Why a name is no field: an error code and a message.
type NoField = (&'static str, String);

/// Looks a field up by its HelpCrunch name.
type FieldOf<'a, F> = dyn Fn(&str) -> Result<Named<F>, NoField> + 'a;

/// A customer field by its HelpCrunch name.
fn customer_field(name: &str, attrs: &AttributeSet) -> Result<Named<Cu>, NoField> {
    let bare = name.strip_prefix("customers.").unwrap_or(name);
    Ok(Named::Field(match bare {
        "id" => Cu::Id,
        "name" => Cu::Name,
        "email" => Cu::Email,
        "company" => Cu::Company,
        "phone" => Cu::Phone,
        "userId" => Cu::UserId,
        "createdAt" => Cu::CreatedAt,
        "updatedAt" => Cu::UpdatedAt,
        "firstSeen" => Cu::FirstSeen,
        "lastSeen" => Cu::LastSeen,
        "tagsData" => return Ok(Named::Tags),
        "countryCode" | "city" | "regionCode" | "telegramId" | "facebookId" | "instagramId"
        | "viberId" | "whatsappId" => {
            return Err((
                "unsupported_field",
                format!("{name} is not searchable here"),
            ));
        }
        other => match other.strip_prefix("customData.") {
            Some(prop) => Cu::attribute(prop, attrs).map_err(|e| ("unknown_field", e.detail()))?,
            None => return Err(("unknown_field", format!("{name} is not a searchable field"))),
        },
    }))
}

/// A chat field by its HelpCrunch name.
fn chat_field(name: &str) -> Result<Named<Cv>, NoField> {
    let bare = name.strip_prefix("chats.").unwrap_or(name);
    Ok(Named::Field(match bare {
        "id" => Cv::Id,
        "status" => Cv::Status,
        "assignee" => Cv::Assignee,
        "department" => Cv::Department,
        "customer" => Cv::Customer,
        // The chat's customer's email: the visitor's own or the linked
        // customer's (either matches).
        "customer.email" => Cv::ContactEmail,
        "createdAt" => Cv::CreatedAt,
        "updatedAt" => Cv::UpdatedAt,
        "closedAt" => Cv::ClosedAt,
        "agents" | "rating" | "customer.tagsData" => {
            return Err((
                "unsupported_field",
                format!("{name} is not searchable here"),
            ));
        }
        _ => return Err(("unknown_field", format!("{name} is not a searchable field"))),
    }))
}

fn operator(op: &str) -> Option<(Op, bool)> {
    Some(match op {
        "=" => (Op::Eq, false),
        "!=" => (Op::Ne, false),
        ">" => (Op::Gt, false),
        ">=" => (Op::Ge, false),
        "<" => (Op::Lt, false),
        "<=" => (Op::Le, false),
        "~" => (Op::Contains, false),
        "!~" => (Op::Contains, true),
        _ => return None,
    })
}

/// A JSON value as a domain value for a field of type `t`: dates are UNIX
/// seconds (a number or a numeric string).
fn value(t: FieldType, v: Json) -> Result<Value, String> {
    if let FieldType::Time { .. } = t {
        return match v {
            Json::Null => Ok(Value::Null),
            Json::Number(n) => n
                .as_i64()
                .filter(|s| (0..=switchboard_domain::MAX_MILLIS / 1000).contains(s))
                .map(|s| Value::Time(Timestamp::from_unix_seconds(s)))
                .ok_or_else(|| "must be a UNIX timestamp (seconds)".to_string()),
            Json::String(s) => Timestamp::parse_unix(&s)
                .map(Value::Time)
                .map_err(|_| "must be a UNIX timestamp (seconds)".to_string()),
            _ => Err("must be a UNIX timestamp (seconds)".into()),
        };
    }
    Ok(match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(b),
        Json::String(s) => Value::Text(s),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().ok_or("must be a finite number")?),
        },
        Json::Array(_) | Json::Object(_) => return Err("must be a string or a number".into()),
    })
}

/// The tag names of a `tagsData` value: `[{"name": "Lead"}, …]`.
fn tag_names(v: Json) -> Option<Vec<String>> {
    let Json::Array(items) = v else { return None };
    if items.is_empty() {
        return None;
    }
    items
        .into_iter()
        .map(|item| match item {
            Json::Object(mut m) => match m.remove("name") {
                Some(Json::String(s)) => Some(s),
                _ => None,
            },
            Json::String(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// One `filter[i]` item as a domain filter.
fn condition<F: Field>(
    i: usize,
    item: FilterItem,
    field_of: &FieldOf<'_, F>,
    tags: Option<F>,
) -> Result<Filter<F>, ApiError> {
    let part = |m: &str| format!("filter[{i}].{m}");
    let name = item
        .field
        .filter(|f| !f.trim().is_empty())
        .ok_or_else(|| bad(part("field"), "required", BLANK))?;
    let op = item
        .operator
        .filter(|o| !o.trim().is_empty())
        .ok_or_else(|| bad(part("operator"), "required", BLANK))?;
    let (op, negate) = operator(op.trim()).ok_or_else(|| {
        bad(
            part("operator"),
            "invalid_operator",
            "must be one of =, !=, >, >=, <, <=, ~, !~",
        )
    })?;
    let raw = match item.value {
        Patch::Absent => return Err(bad(part("value"), "required", BLANK)),
        Patch::Null => Json::Null,
        Patch::Value(v) => v,
    };
    let named = field_of(&name).map_err(|(code, m)| bad(part("field"), code, m))?;
    let wrap = |f: Filter<F>| if negate { Filter::negate(f) } else { f };
    let field = match named {
        Named::Field(f) => f,
        Named::Tags => {
            let Some(tags) = tags else {
                return Err(bad(
                    part("field"),
                    "unknown_field",
                    "not a searchable field",
                ));
            };
            if op != Op::Eq || negate {
                return Err(bad(
                    part("operator"),
                    "invalid_operator",
                    "tagsData takes only =",
                ));
            }
            let names = tag_names(raw).ok_or_else(|| {
                bad(
                    part("value"),
                    "invalid_value",
                    "must be a non-empty array of {\"name\": …}",
                )
            })?;
            let each = names
                .into_iter()
                .map(|n| {
                    Condition::new(tags.clone(), Op::Eq, vec![Value::Text(n)]).map(Filter::from)
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| refused(&part("value"), &e))?;
            return Ok(Filter::all(each));
        }
    };
    let v = value(field.field_type(), raw).map_err(|m| bad(part("value"), "invalid_value", m))?;
    let c = Condition::new(field, op, vec![v]).map_err(|e| {
        let at = match e {
            QueryError::Operator { .. } => "operator",
            _ => "value",
        };
        refused(&part(at), &e)
    })?;
    Ok(wrap(c.into()))
}

fn sort_of<F: Field>(
    sort: Option<&str>,
    order: Option<&str>,
    field_of: &FieldOf<'_, F>,
) -> Result<Sort<F>, ApiError> {
    let desc = match order.map(str::to_ascii_lowercase).as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(bad("order", "invalid_value", "must be asc or desc")),
    };
    let Some(name) = sort.filter(|s| !s.is_empty()) else {
        return Ok(Sort::by_id(desc));
    };
    match field_of(name) {
        Ok(Named::Field(f)) => Sort::new(f, desc).map_err(|e| refused("sort", &e)),
        Ok(Named::Tags) | Err(_) => Err(bad(
            "sort",
            "not_sortable",
            format!("cannot sort by {name}"),
        )),
    }
}

/// `offset` and `limit` as a JSON number or a numeric string.
fn number(part: &str, v: Option<Json>, default: u64, max: u64) -> Result<u64, ApiError> {
    let n = match v {
        None | Some(Json::Null) => return Ok(default),
        Some(Json::Number(n)) => n.as_u64(),
        Some(Json::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    n.filter(|n| *n <= max).ok_or_else(|| {
        bad(
            part,
            "invalid_value",
            format!("must be an integer from 0 to {max}"),
        )
    })
}

fn page<F: Field>(
    filter: Option<Filter<F>>,
    sort: Sort<F>,
    offset: Option<Json>,
    limit: Option<Json>,
) -> Result<Query<F>, ApiError> {
    let offset = number("offset", offset, 0, switchboard_domain::query::MAX_OFFSET)?;
    let limit = number(
        "limit",
        limit,
        u64::from(DEFAULT_LIMIT),
        u64::from(MAX_LIMIT),
    )?;
    let limit = u32::try_from(limit)
        .ok()
        .filter(|l| *l >= 1)
        .ok_or_else(|| {
            bad(
                "limit",
                "invalid_value",
                format!("must be between 1 and {MAX_LIMIT}"),
            )
        })?;
    let page = if offset == 0 {
        Page::First
    } else {
        Page::Offset(offset)
    };
    Query::new(filter, sort, page, limit).map_err(|e| match e {
        QueryError::TooDeep { .. } | QueryError::TooManyNodes { .. } => refused("filter", &e),
        other => refused("body", &other),
    })
}

fn search<F: Field>(
    input: SearchInput,
    field_of: &FieldOf<'_, F>,
    tags: Option<F>,
) -> Result<Query<F>, ApiError> {
    let any = match input
        .comparison
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("AND") => false,
        Some("OR") => true,
        Some(_) => return Err(bad("comparison", "invalid_value", "must be AND or OR")),
    };
    if input.filter.len() > switchboard_domain::query::MAX_NODES / 2 {
        return Err(bad(
            "filter",
            "too_complex",
            format!(
                "at most {} conditions",
                switchboard_domain::query::MAX_NODES / 2
            ),
        ));
    }
    let parts = input
        .filter
        .into_iter()
        .enumerate()
        .map(|(i, item)| condition(i, item, field_of, tags.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let filter = match (parts.is_empty(), any) {
        (true, _) => None,
        (false, false) => Some(Filter::all(parts)),
        (false, true) => Some(Filter::any(parts)),
    };
    let sort = sort_of(input.sort.as_deref(), input.order.as_deref(), field_of)?;
    page(filter, sort, input.offset, input.limit)
}

/// `POST /v1/customers/search` as a query; `attrs` are the tenant's
/// custom attributes (`customers.customData.<property>` fields).
pub fn customer_search(input: SearchInput, attrs: &AttributeSet) -> Result<Query<Cu>, ApiError> {
    search(input, &|n| customer_field(n, attrs), Some(Cu::Tags))
}

/// `POST /v1/chats/search` as a query.
pub fn chat_search(input: SearchInput) -> Result<Query<Cv>, ApiError> {
    search(input, &chat_field, None)
}

fn list<F: Field>(p: ListParams, field_of: &FieldOf<'_, F>) -> Result<Query<F>, ApiError> {
    let sort = sort_of(p.sort.as_deref(), p.order.as_deref(), field_of)?;
    page(
        None,
        sort,
        p.offset.map(Json::String),
        p.limit.map(Json::String),
    )
}

/// `GET /v1/customers` as a query.
pub fn customer_list(p: ListParams) -> Result<Query<Cu>, ApiError> {
    let none = AttributeSet::new();
    list(p, &|n| customer_field(n, &none))
}

/// `GET /v1/chats` as a query.
pub fn chat_list(p: ListParams) -> Result<Query<Cv>, ApiError> {
    list(p, &chat_field)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use switchboard_domain::{AttributeType, CustomAttribute, TenantId};

    use super::*;

    fn attrs() -> AttributeSet {
        let a = CustomAttribute {
            tenant_id: TenantId::new(1),
            name: "plan".into(),
            kind: AttributeType::String,
            label: "Plan".into(),
        };
        AttributeSet::from([("plan".to_string(), a)])
    }

    fn input(body: Json) -> SearchInput {
        serde_json::from_value(body).unwrap()
    }

    /// The query's filter, sort and page as text, or the error's field and code.
    fn outcome<F: Field>(r: Result<Query<F>, ApiError>) -> Outcome {
        match r {
            Ok(q) => Ok(format!(
                "{} | {}{} | {:?} {}",
                q.filter().map_or("-".to_string(), ToString::to_string),
                q.sort().field().name(),
                if q.sort().descending() { " desc" } else { "" },
                q.page(),
                q.limit()
            )),
            Err(ApiError::BadRequest(f)) => Err((f[0].field.clone(), f[0].code.clone())),
            Err(other) => panic!("{other:?}"),
        }
    }

    /// A case's outcome: the query as text, or the error's part and code.
    type Outcome = Result<String, (String, String)>;

    fn err(field: &str, code: &str) -> Outcome {
        Err((field.into(), code.into()))
    }

    #[test]
    fn customer_searches() {
        let cases: Vec<(Json, Outcome)> = vec![
            (json!({}), Ok("- | id | First 100".into())),
            (
                json!({"filter": [{"field": "customers.email", "operator": "~", "value": "GMAIL"}],
                       "limit": 5, "offset": 0, "sort": "customers.firstSeen", "order": "DESC"}),
                Ok("email Contains(\"gmail\") | firstSeen desc | First 5".into()),
            ),
            (
                json!({"comparison": "OR", "filter": [
                    {"field": "customers.name", "operator": "=", "value": "John"},
                    {"field": "customers.id", "operator": ">", "value": 18},
                    {"field": "customers.lastSeen", "operator": ">=", "value": 1603885746},
                    {"field": "customers.tagsData", "operator": "=", "value": [{"name": "Lead"}, {"name": "Paid"}]}
                ], "sort": "customers.lastSeen", "order": "asc", "offset": 20, "limit": 100}),
                Ok("or(name Eq(Text(\"John\")), id Gt(Int(18)), lastSeen Ge(Time(Timestamp(1603885746000))), and(tags Eq(Text(\"Lead\")), tags Eq(Text(\"Paid\")))) | lastSeen | Offset(20) 100".into()),
            ),
            (
                json!({"filter": [{"field": "customers.email", "operator": "!~", "value": "spam"},
                                  {"field": "customers.customData.plan", "operator": "!=", "value": "pro"},
                                  {"field": "customers.phone", "operator": "=", "value": null}]}),
                Ok("and(not(email Contains(\"spam\")), customData.plan Ne(Json([String(\"pro\")])), phone IsNull) | id | First 100".into()),
            ),
            (
                json!({"filter": [{"field": "customers.lastSeen", "operator": "<", "value": "1603885746"}]}),
                Ok("lastSeen Lt(Time(Timestamp(1603885746000))) | id | First 100".into()),
            ),
            // What the vendor's own 400 example names.
            (json!({"filter": [{"operator": "=", "value": 1}]}), err("filter[0].field", "required")),
            (json!({"filter": [{"field": "", "operator": "=", "value": 1}]}), err("filter[0].field", "required")),
            (json!({"filter": [{"field": "customers.id", "value": 1}]}), err("filter[0].operator", "required")),
            (json!({"filter": [{"field": "customers.id", "operator": "="}]}), err("filter[0].value", "required")),
            (json!({"filter": [{"field": "customers.id", "operator": "like", "value": 1}]}), err("filter[0].operator", "invalid_operator")),
            (json!({"filter": [{"field": "customers.id", "operator": "~", "value": "1"}]}), err("filter[0].operator", "invalid_operator")),
            (json!({"filter": [{"field": "customers.id", "operator": "=", "value": "abc"}]}), err("filter[0].value", "invalid_value")),
            (json!({"filter": [{"field": "customers.lastSeen", "operator": ">", "value": "18 Jun 2020"}]}), err("filter[0].value", "invalid_value")),
            (json!({"filter": [{"field": "customers.city", "operator": "=", "value": "Oslo"}]}), err("filter[0].field", "unsupported_field")),
            (json!({"filter": [{"field": "customers.password", "operator": "=", "value": "x"}]}), err("filter[0].field", "unknown_field")),
            (json!({"filter": [{"field": "customers.customData.nope", "operator": "=", "value": "x"}]}), err("filter[0].field", "unknown_field")),
            (json!({"filter": [{"field": "customers.tagsData", "operator": "!=", "value": [{"name": "a"}]}]}), err("filter[0].operator", "invalid_operator")),
            (json!({"filter": [{"field": "customers.tagsData", "operator": "=", "value": "a"}]}), err("filter[0].value", "invalid_value")),
            (json!({"filter": [{"field": "customers.name", "operator": "=", "value": [1]}]}), err("filter[0].value", "invalid_value")),
            (json!({"filter": [{"field": "customers.name", "operator": "=", "value": "x".repeat(256)}]}), err("filter[0].value", "too_long")),
            (json!({"comparison": "XOR"}), err("comparison", "invalid_value")),
            (json!({"sort": "customers.email"}), err("sort", "not_sortable")),
            (json!({"sort": "customers.nope"}), err("sort", "not_sortable")),
            (json!({"order": "up"}), err("order", "invalid_value")),
            (json!({"limit": 101}), err("limit", "invalid_value")),
            (json!({"limit": 0}), err("limit", "invalid_value")),
            (json!({"limit": -1}), err("limit", "invalid_value")),
            (json!({"offset": "x"}), err("offset", "invalid_value")),
            (json!({"filter": (0..33).map(|i| json!({"field": "customers.id", "operator": "=", "value": i + 1})).collect::<Vec<_>>()}), err("filter", "too_complex")),
        ];
        for (body, want) in cases {
            let got = outcome(customer_search(input(body.clone()), &attrs()));
            assert_eq!(got, want, "{body}");
        }
    }

    #[test]
    fn chat_searches_and_lists() {
        let cases: Vec<(Json, Outcome)> = vec![
            (
                json!({"filter": [{"field": "chats.status", "operator": "=", "value": "on hold"},
                                  {"field": "chats.assignee", "operator": ">", "value": 18},
                                  {"field": "chats.customer.email", "operator": "=", "value": "A@B.io"}],
                       "sort": "chats.createdAt", "order": "desc"}),
                Ok("and(status Eq(Status(OnHold)), assigneeId Gt(Int(18)), contact.email Eq(Text(\"a@b.io\"))) | createdAt desc | First 100".into()),
            ),
            (
                json!({"filter": [{"field": "chats.department", "operator": "=", "value": null},
                                  {"field": "chats.closedAt", "operator": "<=", "value": 1603885746}],
                       "sort": "closedAt"}),
                Ok("and(departmentId IsNull, closedAt Le(Time(Timestamp(1603885746000)))) | closedAt | First 100".into()),
            ),
            (json!({"filter": [{"field": "chats.status", "operator": "=", "value": "3"}]}), err("filter[0].value", "invalid_value")),
            (json!({"filter": [{"field": "chats.status", "operator": ">", "value": "new"}]}), err("filter[0].operator", "invalid_operator")),
            (json!({"filter": [{"field": "chats.rating", "operator": "=", "value": "great"}]}), err("filter[0].field", "unsupported_field")),
            (json!({"filter": [{"field": "chats.customer.tagsData", "operator": "=", "value": [{"name": "a"}]}]}), err("filter[0].field", "unsupported_field")),
            (json!({"filter": [{"field": "customers.email", "operator": "=", "value": "a"}]}), err("filter[0].field", "unknown_field")),
            (json!({"sort": "chats.lastMessageAt"}), err("sort", "not_sortable")),
        ];
        for (body, want) in cases {
            let got = outcome(chat_search(input(body.clone())));
            assert_eq!(got, want, "{body}");
        }
        let p = |sort: Option<&str>,
                 order: Option<&str>,
                 offset: Option<&str>,
                 limit: Option<&str>| ListParams {
            sort: sort.map(Into::into),
            order: order.map(Into::into),
            offset: offset.map(Into::into),
            limit: limit.map(Into::into),
        };
        assert_eq!(
            outcome(chat_list(p(None, None, None, None))),
            Ok("- | id | First 100".into())
        );
        assert_eq!(
            outcome(chat_list(p(
                Some("chats.closedAt"),
                Some("asc"),
                Some("200"),
                Some("50")
            ))),
            Ok("- | closedAt | Offset(200) 50".into())
        );
        assert_eq!(
            outcome(customer_list(p(
                Some("customers.lastSeen"),
                Some("desc"),
                None,
                None
            ))),
            Ok("- | lastSeen desc | First 100".into())
        );
        assert_eq!(
            outcome(customer_list(p(None, None, None, Some("500")))),
            err("limit", "invalid_value")
        );
        assert_eq!(
            outcome(customer_list(p(None, None, Some("-3"), None))),
            err("offset", "invalid_value")
        );
        assert_eq!(
            outcome(chat_list(p(Some("chats.rating"), None, None, None))),
            err("sort", "not_sortable")
        );
    }
}
