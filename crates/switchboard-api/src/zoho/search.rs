//! The query parameters of SalesIQ's `GET /api/v2/{screen_name}/conversations`,
//! translated into the domain's [`Query`], and its `fields` projection.
//!
//! Every parameter SalesIQ documents for the list is taken (see
//! `docs/dialects/zoho-salesiq.md` for the source and the mapping); a
//! parameter it does not document is a 400 naming it (`json_key`), so a
//! filter Switchboard cannot apply is never silently dropped.

use std::collections::BTreeSet;

use serde_json::Value as Json;
use switchboard_domain::query::{
    Condition, ConversationField as Cv, Filter, Op, Page, Query, QueryError, Sort, Value,
};
use switchboard_domain::{ConversationStatus, Timestamp};
use utoipa::IntoParams;

use super::convert;
use crate::{ApiError, FieldError};

/// Default page size (SalesIQ's).
pub const DEFAULT_LIMIT: u32 = 20;
/// Largest page size (SalesIQ's).
pub const MAX_LIMIT: u32 = 99;
/// Highest page number accepted.
pub const MAX_PAGE: u64 = 100_000;

/// Query of `GET conversations`. Times are epoch milliseconds.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1-based page of `limit` conversations (default 1).
    pub page: Option<String>,
    /// Page size, 1–99 (default 20).
    pub limit: Option<String>,
    /// `open`, `closed` (`chat_status.status_key`), `waiting`, `connected`,
    /// `missed`, `end`/`ended` (`chat_status.state_key`), or a shared status
    /// name (`pending`, `on_hold`, …).
    pub status: Option<String>,
    /// Only conversations of this department.
    pub department_id: Option<String>,
    /// Only conversations attended by this operator.
    pub attender_id: Option<String>,
    /// Comma-separated members to return: `visitor`, `department`,
    /// `question`, `start_time`, `attended_time`, `missed_time`,
    /// `end_time`, `owner`, `attender`, `supervisors`, `participants`,
    /// `status` (`id` is always returned).
    pub fields: Option<String>,
    /// Started after this time.
    pub from_time: Option<String>,
    /// Started before this time.
    pub to_time: Option<String>,
    /// Updated after this time.
    pub updated_from_time: Option<String>,
    /// Updated before this time.
    pub updated_till_time: Option<String>,
    /// Only conversations of these visitor emails (comma-separated).
    pub email: Option<String>,
    /// `lead` (no linked contact) or `contact`.
    pub visitor_type: Option<String>,
    /// `in_time` (default), `end_time` or `updated_time`; newest first.
    pub sort_by: Option<String>,
}

fn bad(part: &str, message: impl Into<String>) -> ApiError {
    ApiError::BadRequest(vec![FieldError::new(part, "invalid_param", message)])
}

fn refused(part: &str, e: &QueryError) -> ApiError {
    bad(part, e.detail())
}

impl ListQuery {
    /// Reads the query string's pairs: each documented parameter at most
    /// once, nothing else.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, ApiError> {
        let mut q = Self::default();
        for (key, value) in pairs {
            let slot = match key.as_str() {
                "page" => &mut q.page,
                "limit" => &mut q.limit,
                "status" => &mut q.status,
                "department_id" => &mut q.department_id,
                "attender_id" => &mut q.attender_id,
                "fields" => &mut q.fields,
                "from_time" => &mut q.from_time,
                "to_time" => &mut q.to_time,
                "updated_from_time" => &mut q.updated_from_time,
                "updated_till_time" => &mut q.updated_till_time,
                "email" => &mut q.email,
                "visitor_type" => &mut q.visitor_type,
                "sort_by" => &mut q.sort_by,
                "app_id" => {
                    return Err(bad(
                        "app_id",
                        "brands are not supported: a portal has one brand",
                    ));
                }
                other => {
                    let name: String = other.chars().take(64).collect();
                    return Err(bad(
                        &name,
                        format!("{name} is not a parameter of this list"),
                    ));
                }
            };
            if slot.replace(value).is_some() {
                return Err(bad(&key, format!("{key} is given more than once")));
            }
        }
        Ok(q)
    }
}

/// The shared statuses of a SalesIQ `status` value (`end` is `ended`).
fn statuses(s: &str) -> Option<Vec<ConversationStatus>> {
    match s.trim().to_ascii_lowercase().as_str() {
        "end" => Some(vec![ConversationStatus::Closed]),
        other => convert::status_filter(other),
    }
}

fn number(part: &str, v: Option<&str>, default: u64, min: u64, max: u64) -> Result<u64, ApiError> {
    crate::bounded_param(v, default, min, max)
        .ok_or_else(|| bad(part, format!("{part} must be between {min} and {max}")))
}

fn millis(part: &str, v: &str) -> Result<Value, ApiError> {
    let v = v.trim();
    v.parse::<i64>()
        .ok()
        .filter(|ms| (0..=switchboard_domain::MAX_MILLIS).contains(ms) && !v.starts_with('+'))
        .map(|ms| Value::Time(Timestamp::from_millis(ms)))
        .ok_or_else(|| bad(part, format!("{part} must be a time in epoch milliseconds")))
}

fn cond(part: &str, field: Cv, op: Op, values: Vec<Value>) -> Result<Filter<Cv>, ApiError> {
    Condition::new(field, op, values)
        .map(Filter::from)
        .map_err(|e| refused(part, &e))
}

/// The members `fields` may name, and the members of the conversation
/// object each one selects (none: SalesIQ's, but not kept here).
const FIELDS: &[(&str, &[&str])] = &[
    ("visitor", &["visitor"]),
    ("department", &["department"]),
    ("question", &["question"]),
    ("start_time", &["start_time"]),
    ("attended_time", &["attended_time", "pickup_time"]),
    ("missed_time", &[]),
    ("end_time", &["end_time"]),
    ("owner", &["owner"]),
    ("attender", &["attender"]),
    ("supervisors", &[]),
    ("participants", &["participants"]),
    ("status", &["chat_status"]),
];

/// The names `fields` accepts, in SalesIQ's spelling.
pub const FIELD_NAMES: [&str; 12] = [
    "visitor",
    "department",
    "question",
    "start_time",
    "attended_time",
    "missed_time",
    "end_time",
    "owner",
    "attender",
    "supervisors",
    "participants",
    "status",
];

/// The members a `fields` projection keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection(BTreeSet<&'static str>);

impl Projection {
    fn parse(s: &str) -> Result<Self, ApiError> {
        let mut keep = BTreeSet::from(["id"]);
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match FIELDS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                Some((_, members)) => keep.extend(members.iter().copied()),
                None => {
                    let shown: String = name.chars().take(64).collect();
                    return Err(bad("fields", format!("unknown field {shown:?}")));
                }
            }
        }
        Ok(Self(keep))
    }

    /// `item` (a conversation object) with only the kept members.
    #[must_use]
    pub fn apply(&self, item: Json) -> Json {
        match item {
            Json::Object(map) => Json::Object(
                map.into_iter()
                    .filter(|(k, _)| self.0.contains(k.as_str()))
                    .collect(),
            ),
            other => other,
        }
    }
}

/// The query of a list request, and its projection (`fields`).
pub fn list(p: ListQuery) -> Result<(Query<Cv>, Option<Projection>), ApiError> {
    let mut parts = Vec::new();
    if let Some(s) = &p.status {
        let found = statuses(s).ok_or_else(|| {
            bad(
                "status",
                "status must be one of open, closed, waiting, connected, missed, end",
            )
        })?;
        parts.push(cond(
            "status",
            Cv::Status,
            Op::In,
            found.into_iter().map(Value::Status).collect(),
        )?);
    }
    if let Some(d) = &p.department_id {
        parts.push(cond(
            "department_id",
            Cv::Department,
            Op::Eq,
            vec![Value::Text(d.trim().into())],
        )?);
    }
    if let Some(a) = &p.attender_id {
        parts.push(cond(
            "attender_id",
            Cv::Assignee,
            Op::Eq,
            vec![Value::Text(a.trim().into())],
        )?);
    }
    for (part, v, field, op) in [
        ("from_time", &p.from_time, Cv::CreatedAt, Op::Gt),
        ("to_time", &p.to_time, Cv::CreatedAt, Op::Lt),
        (
            "updated_from_time",
            &p.updated_from_time,
            Cv::UpdatedAt,
            Op::Gt,
        ),
        (
            "updated_till_time",
            &p.updated_till_time,
            Cv::UpdatedAt,
            Op::Lt,
        ),
    ] {
        if let Some(v) = v {
            parts.push(cond(part, field, op, vec![millis(part, v)?])?);
        }
    }
    if let Some(e) = &p.email {
        let emails: Vec<Value> = e
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| Value::Text(e.into()))
            .collect();
        parts.push(cond("email", Cv::ContactEmail, Op::In, emails)?);
    }
    if let Some(t) = &p.visitor_type {
        let op = match t.trim().to_ascii_lowercase().as_str() {
            "lead" => Op::IsNull,
            "contact" => Op::IsNotNull,
            _ => return Err(bad("visitor_type", "visitor_type must be lead or contact")),
        };
        parts.push(cond("visitor_type", Cv::Customer, op, vec![])?);
    }
    let sort = match p.sort_by.as_deref().map(str::trim) {
        None | Some("in_time") => Sort::by_id(true),
        Some("end_time") => Sort::new(Cv::ClosedAt, true).map_err(|e| refused("sort_by", &e))?,
        Some("updated_time") => {
            Sort::new(Cv::UpdatedAt, true).map_err(|e| refused("sort_by", &e))?
        }
        Some(_) => {
            return Err(bad(
                "sort_by",
                "sort_by must be in_time, end_time or updated_time",
            ));
        }
    };
    let page = number("page", p.page.as_deref(), 1, 1, MAX_PAGE)?;
    let limit = number(
        "limit",
        p.limit.as_deref(),
        u64::from(DEFAULT_LIMIT),
        1,
        u64::from(MAX_LIMIT),
    )?;
    let offset = (page - 1) * limit;
    let limit = u32::try_from(limit).unwrap_or(DEFAULT_LIMIT);
    let filter = (!parts.is_empty()).then(|| Filter::all(parts));
    let page = if offset == 0 {
        Page::First
    } else {
        Page::Offset(offset)
    };
    let query = Query::new(filter, sort, page, limit).map_err(|e| refused("page", &e))?;
    let projection = p.fields.as_deref().map(Projection::parse).transpose()?;
    Ok((query, projection))
}

#[cfg(test)]
mod tests {
    #[test]
    fn field_names_are_the_projections_names() {
        let names: Vec<&str> = super::FIELDS.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, super::FIELD_NAMES);
    }

    use switchboard_domain::query::Field;

    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    /// The filter, sort and page as text, or the named parameter.
    fn outcome(q: &str) -> Result<String, String> {
        let parsed = ListQuery::from_pairs(pairs(q)).and_then(list);
        match parsed {
            Ok((q, proj)) => Ok(format!(
                "{} | {}{} | {:?} {}{}",
                q.filter().map_or("-".to_string(), |f| format!("{f:?}")
                    .replace("Condition { field: ", "")
                    .replace(", test: ", " ")
                    .replace(" }", "")),
                q.sort().field().name(),
                if q.sort().descending() { " desc" } else { "" },
                q.page(),
                q.limit(),
                proj.map(|p| format!(" | {:?}", p.0)).unwrap_or_default(),
            )),
            Err(ApiError::BadRequest(f)) => Err(f[0].field.clone()),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn list_parameters() {
        let cases: Vec<(&str, Result<&str, &str>)> = vec![
            ("", Ok("- | id desc | First 20")),
            ("page=3&limit=10", Ok("- | id desc | Offset(20) 10")),
            ("limit=99", Ok("- | id desc | First 99")),
            (
                "status=end",
                Ok("Cond(Status In([Status(Closed)])) | id desc | First 20"),
            ),
            (
                "status=open",
                Ok(
                    "Cond(Status In([Status(New), Status(Opened), Status(Pending), Status(OnHold)])) | id desc | First 20",
                ),
            ),
            (
                "status=missed",
                Ok("Cond(Status In([Status(NoCommunication)])) | id desc | First 20"),
            ),
            (
                "status=connected",
                Ok(
                    "Cond(Status In([Status(Opened), Status(Pending), Status(OnHold)])) | id desc | First 20",
                ),
            ),
            (
                "status=ended",
                Ok("Cond(Status In([Status(Closed)])) | id desc | First 20"),
            ),
            (
                "status=on_hold",
                Ok("Cond(Status In([Status(OnHold)])) | id desc | First 20"),
            ),
            (
                "department_id=7&attender_id=9",
                Ok(
                    "All([Cond(Department Eq(Int(7))), Cond(Assignee Eq(Int(9)))]) | id desc | First 20",
                ),
            ),
            (
                "from_time=1000&to_time=2000",
                Ok(
                    "All([Cond(CreatedAt Gt(Time(Timestamp(1000)))), Cond(CreatedAt Lt(Time(Timestamp(2000))))]) | id desc | First 20",
                ),
            ),
            (
                "updated_from_time=5&sort_by=updated_time",
                Ok("Cond(UpdatedAt Gt(Time(Timestamp(5)))) | updatedAt desc | First 20"),
            ),
            (
                "updated_till_time=5",
                Ok("Cond(UpdatedAt Lt(Time(Timestamp(5)))) | id desc | First 20"),
            ),
            (
                "email=A@x.io,b@x.io",
                Ok(
                    "Cond(ContactEmail In([Text(\"a@x.io\"), Text(\"b@x.io\")])) | id desc | First 20",
                ),
            ),
            (
                "visitor_type=lead",
                Ok("Cond(Customer IsNull) | id desc | First 20"),
            ),
            (
                "visitor_type=contact",
                Ok("Cond(Customer IsNotNull) | id desc | First 20"),
            ),
            ("sort_by=end_time", Ok("- | closedAt desc | First 20")),
            (
                "fields=visitor,status,attended_time,supervisors",
                Ok(
                    "- | id desc | First 20 | {\"attended_time\", \"chat_status\", \"id\", \"pickup_time\", \"visitor\"}",
                ),
            ),
            ("limit=100", Err("limit")),
            ("limit=0", Err("limit")),
            ("page=0", Err("page")),
            ("page=x", Err("page")),
            ("status=archived", Err("status")),
            ("department_id=sales", Err("department_id")),
            ("attender_id=-4", Err("attender_id")),
            ("from_time=yesterday", Err("from_time")),
            ("to_time=-1", Err("to_time")),
            ("email=", Err("email")),
            (
                "email=not-an-email-but-",
                Ok("Cond(ContactEmail In([Text(\"not-an-email-but-\")])) | id desc | First 20"),
            ),
            ("visitor_type=bot", Err("visitor_type")),
            ("sort_by=name", Err("sort_by")),
            ("fields=visitor,secret", Err("fields")),
            ("app_id=1", Err("app_id")),
            ("q=ada", Err("q")),
            ("limit=5&limit=6", Err("limit")),
        ];
        for (query, want) in cases {
            assert_eq!(
                outcome(query),
                want.map(str::to_string).map_err(str::to_string),
                "{query}"
            );
        }
    }

    #[test]
    fn projection_keeps_the_named_members_and_the_id() {
        let p = Projection::parse("question, STATUS").unwrap();
        let item = serde_json::json!({"id": "1", "chat_id": "x", "question": "q", "chat_status": {}, "visitor": {}});
        assert_eq!(
            p.apply(item),
            serde_json::json!({"id": "1", "question": "q", "chat_status": {}})
        );
    }
}
