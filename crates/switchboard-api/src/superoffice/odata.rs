//! The OData query options of `GET /api/v1/ChatSession` (`$filter`,
//! `$orderBy`, `$top`, `$skip`), translated into the domain's [`Query`].
//!
//! The `$filter` grammar is the subset SuperOffice documents for its
//! lists: `eq ne gt ge lt le`, `and or not`, parentheses, and the functions
//! `startswith(Member, 'x')`, `contains(Member, 'x')` and
//! `substringof('x', Member)`, on entity members, with string, number,
//! boolean, `null` and ISO 8601 date literals.
//!
//! It is parsed by the small recursive-descent parser below rather than a
//! crate: the OData filter parsers on crates.io (`odata-params` is the one
//! in use) are unmaintained work in progress, put no bound on nesting (a
//! hostile filter would recurse until the stack overflows), pull in a
//! second date/time and decimal stack (chrono, chrono-tz, bigdecimal)
//! beside the `jiff` this workspace uses, and parse all of OData v4, of
//! which a SuperOffice list takes a small part. This one bounds the text
//! ([`MAX_FILTER_CHARS`]) and the nesting ([`MAX_PARSE_DEPTH`]) before the
//! domain checks its own bounds, and names what it cannot read.

use switchboard_domain::Timestamp;
use switchboard_domain::query::{
    Condition, ConversationField as Cv, Field, FieldType, Filter, Op, Page, Query, QueryError,
    Sort, Value,
};

use super::convert;
use crate::ApiError;

/// Longest `$filter`, in characters.
pub const MAX_FILTER_CHARS: usize = 2000;
/// Deepest nesting of parentheses and `not` the parser follows.
pub const MAX_PARSE_DEPTH: usize = 12;
/// Largest `$top` (Switchboard's bound: the vendor documents none).
pub const MAX_TOP: u32 = 1000;
/// `$top` when none is given.
pub const DEFAULT_TOP: u32 = 100;

fn bad(part: &str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(part, "invalid_query", message)
}

fn filter_error(message: impl Into<String>) -> ApiError {
    bad("$filter", message)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A member path or a keyword (`and`, `eq`, `startswith`, …).
    Word(String),
    /// `'text'` (`''` is a quote).
    Str(String),
    /// A number or an unquoted date-time.
    Bare(String),
    Open,
    Close,
    Comma,
}

fn tokens(s: &str) -> Result<Vec<Token>, ApiError> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            ',' => {
                chars.next();
                out.push(Token::Comma);
            }
            '\'' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next() {
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            text.push('\'');
                        }
                        Some('\'') => break,
                        Some(c) => text.push(c),
                        None => return Err(filter_error("a string is not closed with '")),
                    }
                }
                out.push(Token::Str(text));
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' => {
                let mut text = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '+' | '-') {
                        text.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Bare(text));
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut text = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_alphanumeric() || matches!(c, '_' | '/' | '.') {
                        text.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Word(text));
            }
            other => {
                return Err(filter_error(format!("unexpected character {other:?}")));
            }
        }
    }
    Ok(out)
}

/// A literal of the filter, before it meets its member.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Bare(String),
    Bool(bool),
    Null,
    /// `datetime'…'`.
    DateTime(String),
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

fn is(t: Option<&Token>, word: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
}

fn comparison(word: &str) -> Option<Op> {
    Some(match word.to_ascii_lowercase().as_str() {
        "eq" => Op::Eq,
        "ne" => Op::Ne,
        "gt" => Op::Gt,
        "ge" => Op::Ge,
        "lt" => Op::Lt,
        "le" => Op::Le,
        _ => return None,
    })
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn expect(&mut self, want: &Token, what: &str) -> Result<(), ApiError> {
        match self.next() {
            Some(t) if &t == want => Ok(()),
            _ => Err(filter_error(format!("expected {what}"))),
        }
    }

    fn or(&mut self, depth: usize) -> Result<Filter<Cv>, ApiError> {
        self.joined(depth, "or", Self::and, Filter::any)
    }

    fn and(&mut self, depth: usize) -> Result<Filter<Cv>, ApiError> {
        self.joined(depth, "and", Self::unary, Filter::all)
    }

    /// `operand (word operand)*`, the operands joined by `join`.
    fn joined(
        &mut self,
        depth: usize,
        word: &str,
        operand: fn(&mut Self, usize) -> Result<Filter<Cv>, ApiError>,
        join: fn(Vec<Filter<Cv>>) -> Filter<Cv>,
    ) -> Result<Filter<Cv>, ApiError> {
        let mut parts = vec![operand(self, depth)?];
        while is(self.peek(), word) {
            self.next();
            parts.push(operand(self, depth)?);
        }
        Ok(join(parts))
    }

    fn unary(&mut self, depth: usize) -> Result<Filter<Cv>, ApiError> {
        if depth > MAX_PARSE_DEPTH {
            return Err(filter_error(format!(
                "nests deeper than {MAX_PARSE_DEPTH} levels"
            )));
        }
        if is(self.peek(), "not") {
            self.next();
            return Ok(Filter::negate(self.unary(depth + 1)?));
        }
        if self.peek() == Some(&Token::Open) {
            self.next();
            let inner = self.or(depth + 1)?;
            self.expect(&Token::Close, "')'")?;
            return Ok(inner);
        }
        self.condition()
    }

    fn literal(&mut self) -> Result<Literal, ApiError> {
        match self.next() {
            Some(Token::Str(s)) => Ok(Literal::Str(s)),
            Some(Token::Bare(s)) => Ok(Literal::Bare(s)),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Ok(Literal::Bool(true)),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Ok(Literal::Bool(false)),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Ok(Literal::Null),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("datetime") => match self.next() {
                Some(Token::Str(s)) => Ok(Literal::DateTime(s)),
                _ => Err(filter_error("datetime must be followed by a quoted date")),
            },
            Some(Token::Word(w)) => Err(filter_error(format!("expected a value, found {w:?}"))),
            _ => Err(filter_error("expected a value")),
        }
    }

    fn member(&mut self) -> Result<String, ApiError> {
        match self.next() {
            Some(Token::Word(w)) => Ok(w),
            _ => Err(filter_error("expected a member name")),
        }
    }

    /// `Member op literal`, or a function call (optionally `eq true`).
    fn condition(&mut self) -> Result<Filter<Cv>, ApiError> {
        let word = self.member()?;
        let function = word.to_ascii_lowercase();
        if self.peek() == Some(&Token::Open)
            && matches!(
                function.as_str(),
                "startswith" | "contains" | "substringof" | "endswith"
            )
        {
            self.next();
            let (member, text) = if function == "substringof" {
                let text = self.literal()?;
                self.expect(&Token::Comma, "','")?;
                (self.member()?, text)
            } else {
                let member = self.member()?;
                self.expect(&Token::Comma, "','")?;
                (member, self.literal()?)
            };
            self.expect(&Token::Close, "')'")?;
            if function == "endswith" {
                return Err(filter_error(
                    "endswith is not supported; use startswith or contains",
                ));
            }
            let op = if function == "startswith" {
                Op::StartsWith
            } else {
                Op::Contains
            };
            let cond = build(&member, op, text)?;
            // `startswith(A, 'x') eq true` (OData v3 style).
            if let Some(Token::Word(w)) = self.peek()
                && let Some(cmp @ (Op::Eq | Op::Ne)) = comparison(w)
            {
                self.next();
                return match (cmp, self.literal()?) {
                    (Op::Eq, Literal::Bool(true)) | (Op::Ne, Literal::Bool(false)) => Ok(cond),
                    (Op::Eq, Literal::Bool(false)) | (Op::Ne, Literal::Bool(true)) => {
                        Ok(Filter::negate(cond))
                    }
                    _ => Err(filter_error(format!(
                        "{function}(…) compares only with true or false"
                    ))),
                };
            }
            return Ok(cond);
        }
        let op = match self.next() {
            Some(Token::Word(w)) => comparison(&w).ok_or_else(|| {
                filter_error(format!(
                    "unsupported operator {w:?} after {word}; use eq, ne, gt, ge, lt, le"
                ))
            })?,
            _ => return Err(filter_error(format!("expected an operator after {word}"))),
        };
        let value = self.literal()?;
        build(&word, op, value)
    }
}

/// The conversation field of a ChatSession member (case-insensitive; a
/// `CustomInfo/<key>` key matches exactly).
fn member_field(name: &str) -> Result<Cv, ApiError> {
    if let Some((head, key)) = name.split_once('/')
        && head.eq_ignore_ascii_case("CustomInfo")
    {
        return Cv::info(key).map_err(|e| filter_error(e.to_string()));
    }
    Ok(match name.to_ascii_lowercase().as_str() {
        "chatsessionid" => Cv::Id,
        "status" => Cv::Status,
        "user" | "user/associateid" => Cv::Assignee,
        "person" | "person/personid" => Cv::Customer,
        "customername" => Cv::VisitorName,
        "customeremail" => Cv::VisitorEmail,
        "whenrequested" => Cv::CreatedAt,
        "whenclosed" => Cv::ClosedAt,
        "topicid"
        | "customeralias"
        | "customerhost"
        | "customerphone"
        | "customerconsented"
        | "customercompanyname"
        | "firstmessage"
        | "lastmessage"
        | "whenstarted"
        | "whenended"
        | "whenidle"
        | "whenfetched"
        | "sessionkey"
        | "initialqueuepos"
        | "alertlevel"
        | "rank"
        | "flags"
        | "transferto"
        | "chatbotisactive"
        | "rating"
        | "whenlastmessage" => {
            return Err(filter_error(format!("{name} cannot be filtered on")));
        }
        _ => {
            return Err(filter_error(format!(
                "{name} is not a member of ChatSession"
            )));
        }
    })
}

/// A date literal: ISO 8601 with an offset, a date-time without one (UTC),
/// or a date (midnight UTC).
fn date(s: &str) -> Option<Timestamp> {
    if let Some(t) = super::time::parse(s) {
        return Some(t);
    }
    let utc = |dt: jiff::civil::DateTime| {
        dt.to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| Timestamp::from_millis(z.timestamp().as_millisecond()))
    };
    if let Ok(dt) = s.trim().parse::<jiff::civil::DateTime>() {
        return utc(dt);
    }
    s.trim()
        .parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| utc(d.to_datetime(jiff::civil::Time::midnight())))
}

fn value(member: &str, t: FieldType, lit: Literal) -> Result<Value, ApiError> {
    let wrong = |what: &str| filter_error(format!("{member}: {what}"));
    if lit == Literal::Null {
        return Ok(Value::Null);
    }
    if let FieldType::Time { .. } = t {
        return match lit {
            Literal::Str(s) | Literal::Bare(s) | Literal::DateTime(s) => date(&s)
                .map(Value::Time)
                .ok_or_else(|| wrong("expected an ISO 8601 date or date-time")),
            _ => Err(wrong("expected an ISO 8601 date or date-time")),
        };
    }
    if t == FieldType::Status
        && let Literal::Str(s) = &lit
    {
        return convert::parse_status(s).map(Value::Status).ok_or_else(|| {
            wrong("not a ChatSession status (InQueue, CustomerLast, UserLast, OnHold, ClosedFromQueue, Closed)")
        });
    }
    Ok(match lit {
        Literal::Str(s) => Value::Text(s),
        Literal::Bool(b) => Value::Bool(b),
        Literal::Bare(s) => match s.parse::<i64>() {
            Ok(n) => Value::Int(n),
            Err(_) => Value::Float(
                s.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| wrong(&format!("{s:?} is not a number")))?,
            ),
        },
        Literal::DateTime(_) => return Err(wrong("a date is not a value of this member")),
        Literal::Null => Value::Null,
    })
}

fn build(member: &str, op: Op, lit: Literal) -> Result<Filter<Cv>, ApiError> {
    let field = member_field(member)?;
    let v = value(member, field.field_type(), lit)?;
    Condition::new(field, op, vec![v])
        .map(Filter::from)
        .map_err(|e| filter_error(format!("{member}: {}", e.detail())))
}

/// Parses a `$filter`.
pub fn filter(s: &str) -> Result<Filter<Cv>, ApiError> {
    if s.chars().count() > MAX_FILTER_CHARS {
        return Err(filter_error(format!(
            "at most {MAX_FILTER_CHARS} characters"
        )));
    }
    let tokens = tokens(s)?;
    if tokens.is_empty() {
        return Err(filter_error("empty filter"));
    }
    let mut p = Parser { tokens, at: 0 };
    let f = p.or(0)?;
    if let Some(t) = p.peek() {
        return Err(filter_error(format!(
            "unexpected {t:?} after the expression"
        )));
    }
    Ok(f)
}

/// Parses an `$orderBy`: one sortable member, `asc` (default) or `desc`.
pub fn order_by(s: &str) -> Result<Sort<Cv>, ApiError> {
    let part = "$orderBy";
    let items: Vec<&str> = s
        .split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .collect();
    let [item] = items.as_slice() else {
        return Err(bad(part, "order by exactly one member"));
    };
    let mut words = item.split_whitespace();
    let member = words.next().unwrap_or_default();
    let desc = match words.next().map(str::to_ascii_lowercase).as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => return Err(bad(part, format!("{other:?} is not asc or desc"))),
    };
    if words.next().is_some() {
        return Err(bad(part, "expected: Member [asc|desc]"));
    }
    let field =
        member_field(member).map_err(|_| bad(part, format!("{member} cannot be sorted by")))?;
    Sort::new(field, desc).map_err(|_| bad(part, format!("{member} cannot be sorted by")))
}

/// `$top` and `$skip`.
fn count(part: &str, v: Option<&str>, default: u64, min: u64, max: u64) -> Result<u64, ApiError> {
    crate::bounded_param(v, default, min, max)
        .ok_or_else(|| bad(part, format!("must be an integer from {min} to {max}")))
}

/// The list's query from its options.
pub fn query(
    filter_text: Option<&str>,
    order: Option<&str>,
    top: Option<&str>,
    skip: Option<&str>,
) -> Result<Query<Cv>, ApiError> {
    let filter = filter_text.map(filter).transpose()?;
    let sort = order
        .map(order_by)
        .transpose()?
        .unwrap_or_else(|| Sort::by_id(false));
    let top = count("$top", top, u64::from(DEFAULT_TOP), 1, u64::from(MAX_TOP))?;
    let skip = count("$skip", skip, 0, 0, switchboard_domain::query::MAX_OFFSET)?;
    let page = if skip == 0 {
        Page::First
    } else {
        Page::Offset(skip)
    };
    let limit = u32::try_from(top).unwrap_or(DEFAULT_TOP);
    Query::new(filter, sort, page, limit).map_err(|e: QueryError| bad("$filter", e.detail()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(s: &str) -> Result<String, String> {
        match filter(s) {
            Ok(f) => Ok(f.to_string()),
            Err(ApiError::BadRequest(e)) => Err(e[0].message.clone()),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn filters() {
        let ok: Vec<(&str, &str)> = vec![
            ("ChatSessionId eq 5", "id Eq(Int(5))"),
            ("chatsessionid GT 5", "id Gt(Int(5))"),
            ("Status eq 'Ended'", "status Eq(Status(Closed))"),
            ("Status ne 'started'", "status Ne(Status(Opened))"),
            ("Status eq 'on hold'", "status Eq(Status(OnHold))"),
            (
                "User/AssociateId eq 7 and Status eq 'Idle'",
                "and(assigneeId Eq(Int(7)), status Eq(Status(Pending)))",
            ),
            ("User eq null", "assigneeId IsNull"),
            ("Person/PersonId ne null", "customerId IsNotNull"),
            (
                "CustomerEmail eq 'Ada@Example.com'",
                "visitor.email Eq(Text(\"ada@example.com\"))",
            ),
            (
                "startswith(CustomerName, 'Ad')",
                "visitor.name StartsWith(\"Ad\")",
            ),
            (
                "contains(CustomerName,'O''Brien')",
                "visitor.name Contains(\"O'Brien\")",
            ),
            (
                "substringof('da', CustomerName)",
                "visitor.name Contains(\"da\")",
            ),
            (
                "startswith(CustomerName, 'Ad') eq false",
                "not(visitor.name StartsWith(\"Ad\"))",
            ),
            (
                "not contains(CustomerEmail, 'spam')",
                "not(visitor.email Contains(\"spam\"))",
            ),
            (
                "WhenRequested ge 2024-01-02T03:04:05Z and WhenRequested lt '2024-02-01'",
                "and(createdAt Ge(Time(Timestamp(1704164645000))), createdAt Lt(Time(Timestamp(1706745600000))))",
            ),
            (
                "WhenRequested gt datetime'2024-01-01T00:00:00'",
                "createdAt Gt(Time(Timestamp(1704067200000)))",
            ),
            (
                "WhenRequested gt 2024-01-01T01:00:00+01:00",
                "createdAt Gt(Time(Timestamp(1704067200000)))",
            ),
            ("WhenClosed eq null", "closedAt IsNull"),
            (
                "CustomInfo/Model eq 'X9'",
                "customInfo.Model Eq(Json([String(\"X9\")]))",
            ),
            (
                "CustomInfo/Seats eq 3.5",
                "customInfo.Seats Eq(Json([Number(3.5)]))",
            ),
            (
                "(Status eq 'Ended' or Status eq 'Missed') and not (User eq 3)",
                "and(or(status Eq(Status(Closed)), status Eq(Status(NoCommunication))), not(assigneeId Eq(Int(3))))",
            ),
        ];
        for (input, want) in ok {
            assert_eq!(parsed(input), Ok(want.to_string()), "{input}");
        }
        let bad: Vec<(&str, &str)> = vec![
            ("", "empty filter"),
            ("Status eq", "expected a value"),
            ("Status eq 'Ended", "a string is not closed with '"),
            (
                "Status like 'x'",
                "unsupported operator \"like\" after Status; use eq, ne, gt, ge, lt, le",
            ),
            (
                "Status eq 'Archived'",
                "Status: not a ChatSession status (InQueue, CustomerLast, UserLast, OnHold, ClosedFromQueue, Closed)",
            ),
            (
                "Status gt 'Ended'",
                "Status: the operator gt does not apply to a conversation status",
            ),
            ("Rating eq 5", "Rating cannot be filtered on"),
            ("Nope eq 1", "Nope is not a member of ChatSession"),
            (
                "endswith(CustomerName, 'a')",
                "endswith is not supported; use startswith or contains",
            ),
            (
                "WhenRequested gt 'yesterday'",
                "WhenRequested: expected an ISO 8601 date or date-time",
            ),
            (
                "ChatSessionId eq 'x'",
                "ChatSessionId: expected a positive integer id, got a string",
            ),
            (
                "ChatSessionId eq 1 ChatSessionId eq 2",
                "unexpected Word(\"ChatSessionId\") after the expression",
            ),
            ("(ChatSessionId eq 1", "expected ')'"),
            ("ChatSessionId eq 1 & 2", "unexpected character '&'"),
            (
                "startswith(CustomerName, 'a') eq 5",
                "startswith(…) compares only with true or false",
            ),
        ];
        for (input, want) in bad {
            assert_eq!(parsed(input), Err(want.to_string()), "{input}");
        }
        let deep = format!("{}ChatSessionId eq 1{}", "(".repeat(13), ")".repeat(13));
        assert_eq!(parsed(&deep), Err("nests deeper than 12 levels".into()));
        let long = vec!["ChatSessionId eq 1"; 120].join(" or ");
        assert_eq!(parsed(&long), Err("at most 2000 characters".into()));
        // Within the text bound but beyond the domain's size bound.
        let wide = vec!["User eq 1"; 70].join(" or ");
        assert!(matches!(
            query(Some(&wide), None, None, None),
            Err(ApiError::BadRequest(_))
        ));
    }

    #[test]
    fn order_top_and_skip() {
        let q = |o: Option<&str>, t: Option<&str>, s: Option<&str>| match query(None, o, t, s) {
            Ok(q) => Ok(format!(
                "{}{} {:?} {}",
                q.sort().field().name(),
                if q.sort().descending() { " desc" } else { "" },
                q.page(),
                q.limit()
            )),
            Err(ApiError::BadRequest(e)) => Err(e[0].field.clone()),
            Err(other) => panic!("{other:?}"),
        };
        assert_eq!(q(None, None, None), Ok("id First 100".into()));
        assert_eq!(
            q(Some("WhenRequested desc"), Some("10"), Some("20")),
            Ok("createdAt desc Offset(20) 10".into())
        );
        assert_eq!(
            q(Some("whenclosed"), Some("1000"), None),
            Ok("closedAt First 1000".into())
        );
        assert_eq!(q(Some("CustomerName"), None, None), Err("$orderBy".into()));
        assert_eq!(
            q(Some("ChatSessionId, WhenRequested"), None, None),
            Err("$orderBy".into())
        );
        assert_eq!(
            q(Some("ChatSessionId up"), None, None),
            Err("$orderBy".into())
        );
        assert_eq!(q(None, Some("1001"), None), Err("$top".into()));
        assert_eq!(q(None, Some("0"), None), Err("$top".into()));
        assert_eq!(q(None, None, Some("-1")), Err("$skip".into()));
    }
}
