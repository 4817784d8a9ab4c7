//! Table-driven tests of the query model: which operators and values each
//! field type accepts, how values are normalised, the bounds of filters,
//! sorts and pages, and the cursor's text form.

use serde_json::json;
use switchboard_domain::query::{
    Checked, Condition, ConversationField as Cv, Cursor, CustomerField as Cu, Field, Filter, Op,
    Page, Query, QueryError, Sort, Test, Value,
};
use switchboard_domain::{
    AttributeSet, Conversation, ConversationStatus, Customer, TenantId, Timestamp,
};

fn attributes() -> AttributeSet {
    super::support::attributes(str::to_string)
}

fn attr(name: &str) -> Cu {
    Cu::attribute(name, &attributes()).unwrap()
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn t(ms: i64) -> Value {
    Value::Time(Timestamp::from_millis(ms))
}

/// `Ok(test)` as `Debug`, or `Err(code)`.
type Outcome = Result<String, &'static str>;

/// A table row: field, operator, values, outcome.
type Case<F> = (F, Op, Vec<Value>, Outcome);

fn outcome<F: Field>(field: F, op: Op, values: Vec<Value>) -> Outcome {
    Condition::new(field, op, values)
        .map(|c| format!("{:?}", c.test()))
        .map_err(|e| e.code())
}

fn ok(test: Test) -> Outcome {
    Ok(format!("{test:?}"))
}

#[test]
fn customer_conditions() {
    use Checked as C;
    let cases: Vec<Case<Cu>> = vec![
        // ids: positive integers, also as digit strings
        (Cu::Id, Op::Eq, vec![Value::Int(5)], ok(Test::Eq(C::Int(5)))),
        (Cu::Id, Op::Gt, vec![text("18")], ok(Test::Gt(C::Int(18)))),
        (Cu::Id, Op::Eq, vec![Value::Int(0)], Err("invalid_value")),
        (Cu::Id, Op::Eq, vec![text("-3")], Err("invalid_value")),
        (
            Cu::Id,
            Op::Eq,
            vec![Value::Float(1.5)],
            Err("invalid_value"),
        ),
        (
            Cu::Id,
            Op::Contains,
            vec![text("1")],
            Err("invalid_operator"),
        ),
        (Cu::Id, Op::IsNull, vec![], Err("invalid_operator")),
        (Cu::Id, Op::Eq, vec![Value::Null], Err("invalid_operator")),
        // email: lower-cased and trimmed, text operators
        (
            Cu::Email,
            Op::Eq,
            vec![text(" Ada@Example.COM ")],
            ok(Test::Eq(C::Text("ada@example.com".into()))),
        ),
        (
            Cu::Email,
            Op::Contains,
            vec![text("GMAIL")],
            ok(Test::Contains("gmail".into())),
        ),
        (Cu::Email, Op::Eq, vec![Value::Null], ok(Test::IsNull)),
        (Cu::Email, Op::Ne, vec![Value::Null], ok(Test::IsNotNull)),
        (Cu::Email, Op::Gt, vec![text("a")], Err("invalid_operator")),
        (Cu::Email, Op::Eq, vec![Value::Int(1)], Err("invalid_value")),
        (
            Cu::Email,
            Op::Contains,
            vec![text("")],
            Err("invalid_value"),
        ),
        (
            Cu::Email,
            Op::Eq,
            vec![text(&"x".repeat(256))],
            Err("too_long"),
        ),
        (Cu::Email, Op::Eq, vec![text("a\0b")], Err("invalid_value")),
        // other text: exact, case kept
        (
            Cu::Name,
            Op::StartsWith,
            vec![text("Ada")],
            ok(Test::StartsWith("Ada".into())),
        ),
        (
            Cu::UserId,
            Op::In,
            vec![text("u1"), text("u2")],
            ok(Test::In(vec![C::Text("u1".into()), C::Text("u2".into())])),
        ),
        (Cu::Company, Op::In, vec![], Err("too_many_values")),
        (
            Cu::Phone,
            Op::In,
            (0..101).map(|i| text(&i.to_string())).collect(),
            Err("too_many_values"),
        ),
        (
            Cu::Name,
            Op::Eq,
            vec![text("a"), text("b")],
            Err("invalid_value"),
        ),
        // times
        (
            Cu::CreatedAt,
            Op::Ge,
            vec![t(1_000)],
            ok(Test::Ge(C::Time(Timestamp::from_millis(1_000)))),
        ),
        (
            Cu::CreatedAt,
            Op::Ge,
            vec![Value::Int(1_000)],
            Err("invalid_value"),
        ),
        (Cu::CreatedAt, Op::Ge, vec![t(-1)], Err("invalid_value")),
        (Cu::CreatedAt, Op::IsNull, vec![], Err("invalid_operator")),
        (Cu::LastSeen, Op::IsNull, vec![], ok(Test::IsNull)),
        (Cu::LastSeen, Op::IsNull, vec![t(1)], Err("invalid_value")),
        (
            Cu::LastSeen,
            Op::Contains,
            vec![text("1")],
            Err("invalid_operator"),
        ),
        // tags: "has the tag"
        (
            Cu::Tags,
            Op::Eq,
            vec![text(" vip ")],
            ok(Test::Eq(C::Text("vip".into()))),
        ),
        (Cu::Tags, Op::Eq, vec![text("  ")], Err("invalid_value")),
        (Cu::Tags, Op::IsNull, vec![], Err("invalid_operator")),
        (Cu::Tags, Op::Lt, vec![text("a")], Err("invalid_operator")),
        // custom attributes: every JSON form of an equal stored value
        (
            attr("plan"),
            Op::Eq,
            vec![text("pro")],
            ok(Test::Eq(C::Json(vec![json!("pro")]))),
        ),
        (
            attr("plan"),
            Op::Eq,
            vec![Value::Int(1)],
            Err("invalid_value"),
        ),
        (
            attr("seats"),
            Op::Eq,
            vec![Value::Int(15)],
            ok(Test::Eq(C::Json(vec![json!("15"), json!(15)]))),
        ),
        (
            attr("seats"),
            Op::Eq,
            vec![text("15")],
            ok(Test::Eq(C::Json(vec![json!("15"), json!(15)]))),
        ),
        (
            attr("seats"),
            Op::Eq,
            vec![Value::Float(2.5)],
            ok(Test::Eq(C::Json(vec![json!("2.5"), json!(2.5)]))),
        ),
        (
            attr("seats"),
            Op::Eq,
            vec![Value::Float(15.0)],
            ok(Test::Eq(C::Json(vec![json!("15"), json!(15)]))),
        ),
        (
            attr("seats"),
            Op::Eq,
            vec![text("15.0")],
            ok(Test::Eq(C::Json(vec![
                json!("15"),
                json!(15),
                json!("15.0"),
            ]))),
        ),
        (
            attr("seats"),
            Op::Eq,
            vec![text(" 15")],
            ok(Test::Eq(C::Json(vec![
                json!("15"),
                json!(15),
                json!(" 15"),
            ]))),
        ),
        (
            attr("seats"),
            Op::Eq,
            vec![text("many")],
            Err("invalid_value"),
        ),
        (
            attr("seats"),
            Op::Gt,
            vec![Value::Int(1)],
            Err("invalid_operator"),
        ),
        (
            attr("trial"),
            Op::Ne,
            vec![Value::Bool(true)],
            ok(Test::Ne(C::Json(vec![json!(true), json!("true")]))),
        ),
        (
            attr("trial"),
            Op::Eq,
            vec![text("yes")],
            Err("invalid_value"),
        ),
        (
            attr("renewal"),
            Op::Eq,
            vec![t(1_570_000_000_000)],
            ok(Test::Eq(C::Json(vec![
                json!("1570000000"),
                json!(1_570_000_000),
            ]))),
        ),
        (
            attr("renewal"),
            Op::Eq,
            vec![text("1570000000")],
            ok(Test::Eq(C::Json(vec![
                json!("1570000000"),
                json!(1_570_000_000),
            ]))),
        ),
        (
            attr("renewal"),
            Op::Eq,
            vec![Value::Int(-5)],
            Err("invalid_value"),
        ),
        (
            attr("homepage"),
            Op::Eq,
            vec![text("not a url")],
            Err("invalid_value"),
        ),
        (attr("plan"), Op::IsNull, vec![], ok(Test::IsNull)),
        (
            attr("plan"),
            Op::Contains,
            vec![text("p")],
            Err("invalid_operator"),
        ),
    ];
    for (field, op, values, want) in cases {
        let label = format!("{} {op} {values:?}", field.name());
        assert_eq!(outcome(field, op, values), want, "{label}");
    }
}

#[test]
fn conversation_conditions() {
    use Checked as C;
    let cases: Vec<Case<Cv>> = vec![
        // statuses through the domain's status type, aliases included
        (
            Cv::Status,
            Op::Eq,
            vec![text("on-hold")],
            ok(Test::Eq(C::Status(ConversationStatus::OnHold))),
        ),
        (
            Cv::Status,
            Op::In,
            vec![Value::Status(ConversationStatus::New), text("open")],
            ok(Test::In(vec![
                C::Status(ConversationStatus::New),
                C::Status(ConversationStatus::Opened),
            ])),
        ),
        (
            Cv::Status,
            Op::Eq,
            vec![text("archived")],
            Err("invalid_value"),
        ),
        (
            Cv::Status,
            Op::Eq,
            vec![Value::Int(3)],
            Err("invalid_value"),
        ),
        (Cv::Status, Op::IsNull, vec![], Err("invalid_operator")),
        (
            Cv::Status,
            Op::Gt,
            vec![text("new")],
            Err("invalid_operator"),
        ),
        // links: ids, nullable
        (
            Cv::Assignee,
            Op::Eq,
            vec![Value::Int(7)],
            ok(Test::Eq(C::Int(7))),
        ),
        (Cv::Assignee, Op::Eq, vec![Value::Null], ok(Test::IsNull)),
        (
            Cv::Department,
            Op::Gt,
            vec![Value::Int(18)],
            ok(Test::Gt(C::Int(18))),
        ),
        (Cv::Customer, Op::IsNotNull, vec![], ok(Test::IsNotNull)),
        (
            Cv::Customer,
            Op::Eq,
            vec![text("abc")],
            Err("invalid_value"),
        ),
        // visitor
        (
            Cv::VisitorEmail,
            Op::Eq,
            vec![text("Bob@X.io")],
            ok(Test::Eq(C::Text("bob@x.io".into()))),
        ),
        (
            Cv::ContactEmail,
            Op::In,
            vec![text(" Bob@X.io"), text("ann@x.io")],
            ok(Test::In(vec![
                C::Text("bob@x.io".into()),
                C::Text("ann@x.io".into()),
            ])),
        ),
        (
            Cv::ContactEmail,
            Op::Lt,
            vec![text("a@x.io")],
            Err("invalid_operator"),
        ),
        (
            Cv::VisitorName,
            Op::Contains,
            vec![text("Bo")],
            ok(Test::Contains("Bo".into())),
        ),
        // times
        (Cv::ClosedAt, Op::IsNull, vec![], ok(Test::IsNull)),
        (
            Cv::UpdatedAt,
            Op::Lt,
            vec![t(5)],
            ok(Test::Lt(C::Time(Timestamp::from_millis(5)))),
        ),
        // custom info: any scalar, exactly
        (
            Cv::info("Model").unwrap(),
            Op::Eq,
            vec![text("X9")],
            ok(Test::Eq(C::Json(vec![json!("X9")]))),
        ),
        (
            Cv::info("Seats").unwrap(),
            Op::Eq,
            vec![Value::Int(3)],
            ok(Test::Eq(C::Json(vec![json!(3)]))),
        ),
        (
            Cv::info("Seats").unwrap(),
            Op::Gt,
            vec![Value::Int(3)],
            Err("invalid_operator"),
        ),
        (
            Cv::info("Seats").unwrap(),
            Op::Eq,
            vec![Value::Float(f64::NAN)],
            Err("invalid_value"),
        ),
    ];
    for (field, op, values, want) in cases {
        let label = format!("{} {op} {values:?}", field.name());
        assert_eq!(outcome(field, op, values), want, "{label}");
    }
}

#[test]
fn field_names() {
    let attrs = attributes();
    for name in [
        "id",
        "userId",
        "email",
        "name",
        "phone",
        "company",
        "createdAt",
        "updatedAt",
        "firstSeen",
        "lastSeen",
        "tags",
        "customData.plan",
    ] {
        assert_eq!(Cu::parse(name, &attrs).unwrap().name(), name);
    }
    for name in [
        "id",
        "status",
        "assigneeId",
        "departmentId",
        "customerId",
        "visitor.name",
        "visitor.email",
        "createdAt",
        "updatedAt",
        "closedAt",
        "customInfo.Model",
    ] {
        assert_eq!(Cv::parse(name).unwrap().name(), name);
    }
    let cases: Vec<(Result<String, QueryError>, &str)> = vec![
        (
            Cu::parse("customData.nope", &attrs).map(|f| f.name()),
            "customData.nope: no custom attribute of this name is defined",
        ),
        (
            Cu::parse("password", &attrs).map(|f| f.name()),
            "password: not a customer field",
        ),
        (
            Cv::parse("customInfo.").map(|f| f.name()),
            "customInfo.: custom info keys are 1-100 characters",
        ),
        (
            Cv::parse(&format!("customInfo.{}", "k".repeat(101))).map(|f| f.name()),
            "customInfo.<100 k>: custom info keys are 1-100 characters",
        ),
    ];
    for (got, want) in cases {
        let want = want.replace("<100 k>", &"k".repeat(100));
        assert_eq!(got.unwrap_err().to_string(), want);
    }
}

fn cond(field: Cv, v: i64) -> Filter<Cv> {
    Condition::new(field, Op::Eq, vec![Value::Int(v)])
        .unwrap()
        .into()
}

/// A filter `depth` levels deep: `not(not(…(assignee = 1)))`.
fn nested(depth: usize) -> Filter<Cv> {
    (1..depth).fold(cond(Cv::Assignee, 1), |f, _| Filter::negate(f))
}

#[test]
fn filter_bounds() {
    let wide = |n: usize| Filter::any((0..n).map(|i| cond(Cv::Assignee, i as i64 + 1)).collect());
    let cases: Vec<(Filter<Cv>, Result<(), &str>)> = vec![
        (cond(Cv::Id, 1), Ok(())),
        (nested(6), Ok(())),
        (nested(7), Err("filter: nests deeper than 6 levels")),
        (wide(63), Ok(())),
        (wide(64), Err("filter: more than 64 conditions and groups")),
        (
            Filter::All(vec![]),
            Err("filter: an and/or group must not be empty"),
        ),
        (
            Filter::negate(Filter::Any(vec![])),
            Err("filter: an and/or group must not be empty"),
        ),
    ];
    for (filter, want) in cases {
        let got = Query::new(Some(filter.clone()), Sort::by_id(false), Page::First, 10)
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(got, want.map_err(str::to_string), "{filter:?}");
    }
    // A single member stands alone; depth and size count every node.
    assert_eq!(Filter::all(vec![cond(Cv::Id, 1)]), cond(Cv::Id, 1));
    let f = Filter::all(vec![cond(Cv::Id, 1), Filter::negate(cond(Cv::Id, 2))]);
    assert_eq!((f.depth(), f.nodes(), f.conditions().count()), (3, 4, 2));
}

#[test]
fn sorts_pages_and_limits() {
    assert!(Sort::new(Cu::LastSeen, true).is_ok());
    assert!(Sort::new(Cv::ClosedAt, false).is_ok());
    for field in [Cu::Email, Cu::Name, Cu::Tags, attr("plan")] {
        let name = field.name();
        assert_eq!(
            Sort::new(field, false).unwrap_err(),
            QueryError::NotSortable { field: name }
        );
    }
    assert_eq!(
        Sort::new(Cv::Status, false).unwrap_err().to_string(),
        "status: results cannot be sorted by this field"
    );
    let q = |page: Page, limit: u32| Query::<Cu>::new(None, Sort::by_id(false), page, limit);
    assert!(q(Page::First, 1).is_ok());
    assert!(q(Page::First, 1000).is_ok());
    assert_eq!(q(Page::First, 0).unwrap_err().code(), "invalid_limit");
    assert_eq!(q(Page::First, 1001).unwrap_err().code(), "invalid_limit");
    assert!(q(Page::Offset(10_000_000), 10).is_ok());
    assert_eq!(
        q(Page::Offset(10_000_001), 10).unwrap_err().to_string(),
        "offset: must be at most 10000000"
    );
}

#[test]
fn sort_keys_and_cursors() {
    let mut c = Customer::new(TenantId::new(1), Timestamp::from_millis(5));
    c.id = switchboard_domain::CustomerId::new(9);
    assert_eq!(Cu::FirstSeen.sort_key(&c), Some(-1));
    c.first_seen = Some(Timestamp::from_millis(70));
    assert_eq!(Cu::FirstSeen.sort_key(&c), Some(70));
    assert_eq!(Cu::CreatedAt.sort_key(&c), Some(5));
    assert_eq!(Cu::Email.sort_key(&c), None);
    assert_eq!(
        Cursor::after(&Cu::FirstSeen, &c),
        Some(Cursor { key: 70, id: 9 })
    );

    let conv = Conversation::new(TenantId::new(1), "s", Timestamp::from_millis(3));
    assert_eq!(Cv::ClosedAt.sort_key(&conv), Some(-1));

    // The next cursor exists only after a full page.
    let q = Query::new(
        None,
        Sort::new(Cu::FirstSeen, true).unwrap(),
        Page::First,
        1,
    )
    .unwrap();
    assert_eq!(
        q.next_cursor(std::slice::from_ref(&c)),
        Some(Cursor { key: 70, id: 9 })
    );
    assert_eq!(q.at(Page::Offset(3)).page(), Page::Offset(3));
    let q2 = Query::<Cu>::new(None, Sort::by_id(true), Page::First, 2).unwrap();
    assert_eq!(q2.next_cursor(std::slice::from_ref(&c)), None);

    for cursor in [
        Cursor { key: 0, id: 1 },
        Cursor {
            key: -1,
            id: i64::MAX,
        },
        Cursor {
            key: i64::MIN,
            id: 3,
        },
    ] {
        assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
    }
    for bad in [
        "",
        "c1",
        "c1.1",
        "c1.1.0",
        "c1.1.2.3",
        "c2.1.2",
        "c1.zz.1",
        "c1.1.8000000000000000",
        "c1.11111111111111111.1",
    ] {
        assert_eq!(
            Cursor::decode(bad),
            Err(QueryError::InvalidCursor),
            "{bad:?}"
        );
    }
}

#[test]
fn errors_name_their_part() {
    let e = Condition::new(Cv::Assignee, Op::Eq, vec![text("x")]).unwrap_err();
    assert_eq!(e.field(), Some("assigneeId"));
    assert_eq!(e.detail(), "expected a positive integer id, got a string");
    assert_eq!(
        QueryError::Limit { max: 99 }.detail(),
        "limit: must be between 1 and 99"
    );
    assert_eq!(QueryError::EmptyGroup.field(), None);
}
