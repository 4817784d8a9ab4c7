//! Table-driven cases for the JSON document engine: lenient paths, §4.6
//! equality, options, error reporting, limits and projection.

use serde_json::{Value, json};
use switchboard_domain::json::{
    ApplyOptions, LimitKind, Limits, Operation, PatchError, PatchErrorKind, PathMode, Projection,
    ProjectionError, apply, check_document, parse_patch, resolve, values_equal,
};

fn ops(patch: Value) -> Vec<Operation> {
    parse_patch(&patch, &Limits::unlimited()).unwrap()
}

fn lenient() -> ApplyOptions {
    ApplyOptions {
        mode: PathMode::Lenient,
        ..ApplyOptions::default()
    }
}

/// Applies `patch` to `doc` and checks the outcome; on error, also checks
/// that the document is byte-for-byte unchanged.
fn check(doc: Value, patch: Value, opts: &ApplyOptions, expected: Result<Value, &str>) {
    let before = serde_json::to_string(&doc).unwrap();
    let mut actual = doc;
    let outcome = apply(&mut actual, &ops(patch.clone()), opts);
    match (outcome, expected) {
        (Ok(()), Ok(expected)) => assert_eq!(actual, expected, "patch {patch}"),
        (Err(e), Err(kind)) => {
            assert_eq!(kind_name(&e), kind, "patch {patch}: {e}");
            assert_eq!(
                serde_json::to_string(&actual).unwrap(),
                before,
                "patch {patch} changed the doc"
            );
        }
        (outcome, expected) => {
            panic!("patch {patch}: got {outcome:?} / {actual}, expected {expected:?}")
        }
    }
}

fn kind_name(e: &PatchError) -> &'static str {
    match &e.kind {
        PatchErrorKind::TestFailed { .. } => "TestFailed",
        PatchErrorKind::PathNotFound { .. } => "PathNotFound",
        PatchErrorKind::InvalidPointer { .. } => "InvalidPointer",
        PatchErrorKind::InvalidArrayIndex { .. } => "InvalidArrayIndex",
        PatchErrorKind::AmbiguousPath { .. } => "AmbiguousPath",
        PatchErrorKind::Unsupported { .. } => "Unsupported",
        PatchErrorKind::MoveIntoOwnChild { .. } => "MoveIntoOwnChild",
        PatchErrorKind::Malformed { .. } => "Malformed",
        PatchErrorKind::LimitExceeded { .. } => "LimitExceeded",
        _ => "other",
    }
}

#[test]
fn lenient_path_resolution() {
    let doc =
        || json!({"Department": "Sales", "User": {"Name": "Ada", "Tags": ["x"]}, "id": 1, "ID": 2});
    let cases: Vec<(Value, Result<Value, &str>)> = vec![
        // case-insensitive member, with and without the leading slash
        (
            json!([{"op": "replace", "path": "/department", "value": "A"}]),
            Ok(
                json!({"Department": "A", "User": {"Name": "Ada", "Tags": ["x"]}, "id": 1, "ID": 2}),
            ),
        ),
        (
            json!([{"op": "replace", "path": "department", "value": "B"}]),
            Ok(
                json!({"Department": "B", "User": {"Name": "Ada", "Tags": ["x"]}, "id": 1, "ID": 2}),
            ),
        ),
        (
            json!([{"op": "test", "path": "Department", "value": "Sales"}]),
            Ok(doc()),
        ),
        // nested, slashless, array index
        (
            json!([{"op": "replace", "path": "user/tags/0", "value": "y"}]),
            Ok(
                json!({"Department": "Sales", "User": {"Name": "Ada", "Tags": ["y"]}, "id": 1, "ID": 2}),
            ),
        ),
        // exact match wins over case-insensitive ones
        (
            json!([{"op": "replace", "path": "ID", "value": 20}]),
            Ok(
                json!({"Department": "Sales", "User": {"Name": "Ada", "Tags": ["x"]}, "id": 1, "ID": 20}),
            ),
        ),
        (
            json!([{"op": "remove", "path": "/id"}]),
            Ok(json!({"Department": "Sales", "User": {"Name": "Ada", "Tags": ["x"]}, "ID": 2})),
        ),
        // several case-insensitive matches, none exact: ambiguous
        (
            json!([{"op": "replace", "path": "Id", "value": 3}]),
            Err("AmbiguousPath"),
        ),
        (
            json!([{"op": "test", "path": "iD", "value": 1}]),
            Err("AmbiguousPath"),
        ),
        // add onto an existing member with another casing keeps its casing
        (
            json!([{"op": "add", "path": "/user/name", "value": "Bob"}]),
            Ok(
                json!({"Department": "Sales", "User": {"Name": "Bob", "Tags": ["x"]}, "id": 1, "ID": 2}),
            ),
        ),
        // add of a new member uses the path's casing
        (
            json!([{"op": "add", "path": "user/Email", "value": "a@x"}]),
            Ok(
                json!({"Department": "Sales", "User": {"Name": "Ada", "Tags": ["x"], "Email": "a@x"}, "id": 1, "ID": 2}),
            ),
        ),
        // remove and move with other casings
        (
            json!([{"op": "move", "from": "department", "path": "/user/dept"}]),
            Ok(json!({"User": {"Name": "Ada", "Tags": ["x"], "dept": "Sales"}, "id": 1, "ID": 2})),
        ),
        // moving a member onto itself under another casing is a no-op
        (
            json!([{"op": "move", "from": "/department", "path": "/DEPARTMENT"}]),
            Ok(doc()),
        ),
        // the empty path still means the whole document
        (
            json!([{"op": "replace", "path": "", "value": [1]}]),
            Ok(json!([1])),
        ),
        (
            json!([{"op": "remove", "path": "/nope"}]),
            Err("PathNotFound"),
        ),
    ];
    for (patch, expected) in cases {
        check(doc(), patch, &lenient(), expected);
    }
}

#[test]
fn strict_mode_is_exact() {
    let doc = || json!({"Department": "Sales"});
    let cases: Vec<(Value, Result<Value, &str>)> = vec![
        (
            json!([{"op": "replace", "path": "/department", "value": 1}]),
            Err("PathNotFound"),
        ),
        (
            json!([{"op": "replace", "path": "Department", "value": 1}]),
            Err("InvalidPointer"),
        ),
        (
            json!([{"op": "add", "path": "/department", "value": 1}]),
            Ok(json!({"Department": "Sales", "department": 1})),
        ),
        (json!([{"op": "remove", "path": ""}]), Err("InvalidPointer")),
        (
            json!([{"op": "add", "path": "/x~2", "value": 1}]),
            Err("InvalidPointer"),
        ),
    ];
    for (patch, expected) in cases {
        check(doc(), patch, &ApplyOptions::default(), expected);
    }
    // Pointer resolution helper
    assert_eq!(
        resolve(&json!({"a/b": {"~": 1}}), "/a~1b/~0", PathMode::Strict).ok(),
        Some(&json!(1))
    );
}

#[test]
fn test_number_equality() {
    let cases: Vec<(Value, Value, bool)> = vec![
        (json!(1), json!(1.0), true),
        (json!(1.0), json!(1), true),
        (json!(1), json!(2), false),
        (json!(1), json!(1.5), false),
        (json!(0), json!(-0.0), true),
        (json!(u64::MAX), json!(u64::MAX), true),
        (json!(u64::MAX), json!(u64::MAX - 1), false),
        (
            json!(u64::MAX),
            json!(18_446_744_073_709_551_615.0_f64),
            false,
        ), // f64 is 2^64
        (json!(i64::MIN), json!(i64::MIN), true),
        (json!(i64::MIN), json!(i64::MAX), false),
        (json!(i64::MAX), json!(i64::MAX as u64), true),
        (json!(-1), json!(u64::MAX), false),
        (json!(1e300), json!(1e300), true),
        (json!([1, {"a": 2.0}]), json!([1.0, {"a": 2}]), true),
        (json!({"a": 1, "b": 2}), json!({"b": 2, "a": 1}), true),
        (json!({"a": 1}), json!({"a": 1, "b": null}), false),
        (json!("1"), json!(1), false),
        (json!(null), json!(false), false),
        (json!([1, 2]), json!([2, 1]), false),
    ];
    for (actual, expected, equal) in cases {
        assert_eq!(
            values_equal(&actual, &expected),
            equal,
            "{actual} vs {expected}"
        );
        let patch = json!([{"op": "test", "path": "/v", "value": expected}]);
        let outcome = if equal {
            Ok(json!({"v": actual}))
        } else {
            Err("TestFailed")
        };
        check(
            json!({"v": actual}),
            patch,
            &ApplyOptions::default(),
            outcome,
        );
    }
}

#[test]
fn move_and_copy_refused_when_disabled() {
    let opts = ApplyOptions {
        allow_move_copy: false,
        ..ApplyOptions::default()
    };
    for (patch, op) in [
        (json!([{"op": "move", "from": "/a", "path": "/b"}]), "move"),
        (json!([{"op": "copy", "from": "/a", "path": "/b"}]), "copy"),
    ] {
        let mut doc = json!({"a": 1});
        let err = apply(&mut doc, &ops(patch), &opts).unwrap_err();
        assert_eq!(err.kind, PatchErrorKind::Unsupported { op });
        assert_eq!(doc, json!({"a": 1}));
    }
    // Other operations still work.
    check(
        json!({"a": 1}),
        json!([{"op": "add", "path": "/b", "value": 2}]),
        &opts,
        Ok(json!({"a": 1, "b": 2})),
    );
}

#[test]
fn move_into_own_child_is_an_error() {
    for (from, path) in [("/a", "/a/b"), ("/a", "/a/b/c"), ("", "/x"), ("/l", "/l/-")] {
        let mut doc = json!({"a": {"b": {}}, "l": []});
        let patch = json!([{"op": "move", "from": from, "path": path}]);
        let err = apply(&mut doc, &ops(patch), &ApplyOptions::default()).unwrap_err();
        assert!(
            matches!(err.kind, PatchErrorKind::MoveIntoOwnChild { .. }),
            "{from} -> {path}: {err}"
        );
    }
    // A sibling with a common name prefix is not a child.
    check(
        json!({"a": 1, "ab": {}}),
        json!([{"op": "move", "from": "/a", "path": "/ab/a"}]),
        &ApplyOptions::default(),
        Ok(json!({"ab": {"a": 1}})),
    );
    // Moving a child up onto its parent is fine.
    check(
        json!({"a": {"b": 1}}),
        json!([{"op": "move", "from": "/a/b", "path": "/a"}]),
        &ApplyOptions::default(),
        Ok(json!({"a": 1})),
    );
}

#[test]
fn errors_report_index_and_kind() {
    let doc = json!({"a": {"b": 1}, "l": [1, 2]});
    let cases: Vec<(Value, usize, &str, Option<&str>, &str)> = vec![
        (
            json!([{"op": "test", "path": "/a/b", "value": 1}, {"op": "add", "path": "/z", "value": 0},
                   {"op": "replace", "path": "/a/c", "value": 2}]),
            2,
            "PathNotFound",
            Some("/a/c"),
            "operation 2 (/a/c): path not found",
        ),
        (
            json!([{"op": "test", "path": "/a/b", "value": 2}]),
            0,
            "TestFailed",
            Some("/a/b"),
            "operation 0 (/a/b): test failed",
        ),
        (
            json!([{"op": "add", "path": "/l/01", "value": 0}]),
            0,
            "InvalidArrayIndex",
            Some("/l/01"),
            "operation 0 (/l/01): invalid array index",
        ),
        (
            json!([{"op": "remove", "path": "/l/0"}, {"op": "add", "path": "/l/5", "value": 0}]),
            1,
            "InvalidArrayIndex",
            Some("/l/5"),
            "operation 1 (/l/5): invalid array index",
        ),
        (
            json!([{"op": "remove", "path": "/l/-"}]),
            0,
            "PathNotFound",
            Some("/l/-"),
            "operation 0 (/l/-): path not found",
        ),
        (
            json!([{"op": "copy", "from": "/nope", "path": "/x"}]),
            0,
            "PathNotFound",
            Some("/nope"),
            "operation 0 (/nope): path not found",
        ),
        (
            json!([{"op": "add", "path": "a", "value": 0}]),
            0,
            "InvalidPointer",
            Some("a"),
            "operation 0 (a): invalid JSON pointer: must be empty or start with '/'",
        ),
    ];
    for (patch, index, kind, path, display) in cases {
        let mut actual = doc.clone();
        let err = apply(&mut actual, &ops(patch.clone()), &ApplyOptions::default()).unwrap_err();
        assert_eq!(err.index, Some(index), "{patch}");
        assert_eq!(kind_name(&err), kind, "{patch}");
        assert_eq!(err.path(), path, "{patch}");
        assert_eq!(err.to_string(), display, "{patch}");
        assert_eq!(err.is_test_failure(), kind == "TestFailed");
        assert_eq!(actual, doc, "{patch}");
    }
}

#[test]
fn parse_errors_report_index() {
    let cases: Vec<(Value, Option<usize>, &str)> = vec![
        (json!({"op": "add"}), None, "Malformed"),
        (
            json!([{"op": "add", "path": "/a", "value": 1}, {"op": "add", "path": "/b"}]),
            Some(1),
            "Malformed",
        ),
        (json!([{"op": "spam", "path": "/a"}]), Some(0), "Malformed"),
        (json!([{"path": "/a"}]), Some(0), "Malformed"),
        (json!([1]), Some(0), "Malformed"),
        (json!([{"op": "move", "path": "/a"}]), Some(0), "Malformed"),
        (json!([{"op": "remove", "path": 3}]), Some(0), "Malformed"),
    ];
    for (patch, index, kind) in cases {
        let err = parse_patch(&patch, &Limits::default()).unwrap_err();
        assert_eq!(
            (err.index, kind_name(&err)),
            (index, kind),
            "{patch}: {err}"
        );
    }
    // `value: null` is a value; extra members are ignored.
    let parsed = parse_patch(
        &json!([{"op": "add", "path": "/a", "value": null, "extra": 1}]),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        parsed,
        vec![Operation::Add {
            path: "/a".into(),
            value: Value::Null
        }]
    );
    // The serde wire shape round-trips.
    let wire = json!([
        {"op": "add", "path": "/a", "value": null},
        {"op": "remove", "path": "/a"},
        {"op": "replace", "path": "/a", "value": 1},
        {"op": "move", "from": "/a", "path": "/b"},
        {"op": "copy", "from": "/a", "path": "/b"},
        {"op": "test", "path": "/a", "value": [1]}
    ]);
    let parsed = parse_patch(&wire, &Limits::default()).unwrap();
    assert_eq!(serde_json::to_value(&parsed).unwrap(), wire);
    let via_serde: Vec<Operation> = serde_json::from_value(wire).unwrap();
    assert_eq!(via_serde, parsed);
}

#[test]
fn limits() {
    let small = ApplyOptions {
        limits: Limits {
            max_operations: 3,
            max_document_bytes: 64,
            max_depth: 3,
        },
        ..ApplyOptions::default()
    };
    let doc = || json!({"a": {"b": 1}, "l": [1]});
    let add = |path: &str, value: Value| json!({"op": "add", "path": path, "value": value});
    let cases: Vec<(Value, Result<Value, &str>, Option<LimitKind>)> = vec![
        // too many operations
        (
            json!([
                add("/x", json!(1)),
                add("/y", json!(1)),
                add("/z", json!(1)),
                add("/w", json!(1))
            ]),
            Err("LimitExceeded"),
            Some(LimitKind::Operations),
        ),
        // too deep a value: at /a/c the value [[1]] reaches depth 4
        (
            json!([add("/a/c", json!([[1]]))]),
            Err("LimitExceeded"),
            Some(LimitKind::Depth),
        ),
        (
            json!([add("/a/c", json!([1]))]),
            Ok(json!({"a": {"b": 1, "c": [1]}, "l": [1]})),
            None,
        ),
        // moving a nested value deeper
        (
            json!([add("/a/c", json!({})), {"op": "move", "from": "/l", "path": "/a/c/l"}]),
            Err("LimitExceeded"),
            Some(LimitKind::Depth),
        ),
        // too big a document (after earlier successful operations)
        (
            json!([add("/x", json!(1)), add("/s", json!("x".repeat(60)))]),
            Err("LimitExceeded"),
            Some(LimitKind::DocumentBytes),
        ),
        // a copy that grows the document too much
        (
            json!([add("/s", json!("x".repeat(20))), {"op": "copy", "from": "/s", "path": "/t"}]),
            Err("LimitExceeded"),
            Some(LimitKind::DocumentBytes),
        ),
        // shrinking is fine
        (
            json!([{"op": "remove", "path": "/a"}]),
            Ok(json!({"l": [1]})),
            None,
        ),
    ];
    for (patch, expected, limit) in cases {
        if let Some(limit) = limit {
            let mut d = doc();
            let err = apply(&mut d, &ops(patch.clone()), &small).unwrap_err();
            assert!(
                matches!(err.kind, PatchErrorKind::LimitExceeded { limit: l, .. } if l == limit),
                "{patch}: {err}"
            );
        }
        check(doc(), patch, &small, expected);
    }
    // parse_patch checks the operation count and value depth too.
    let many = Value::Array(vec![json!({"op": "remove", "path": "/a"}); 101]);
    let err = parse_patch(&many, &Limits::default()).unwrap_err();
    assert_eq!(
        err.kind,
        PatchErrorKind::LimitExceeded {
            limit: LimitKind::Operations,
            max: 100
        }
    );
    assert_eq!(err.index, None);

    // A document already beyond the limits is refused as a whole.
    let mut deep = json!(1);
    for _ in 0..40 {
        deep = json!([deep]);
    }
    let err = apply(&mut deep.clone(), &[], &ApplyOptions::default()).unwrap_err();
    assert_eq!(
        err.kind,
        PatchErrorKind::LimitExceeded {
            limit: LimitKind::Depth,
            max: 32
        }
    );
    assert!(check_document(&deep, &Limits::default()).is_err());
    assert!(
        check_document(
            &deep,
            &Limits {
                max_depth: 40,
                ..Limits::default()
            }
        )
        .is_ok()
    );

    // Hostile nesting is rejected without recursion.
    let mut hostile = json!(null);
    for _ in 0..100_000 {
        hostile = Value::Array(vec![hostile]);
    }
    assert!(check_document(&hostile, &Limits::default()).is_err());
    // (not `json!`: it would serialize `hostile` recursively)
    let mut op = serde_json::Map::new();
    op.insert("op".into(), json!("add"));
    op.insert("path".into(), json!("/a"));
    op.insert("value".into(), hostile);
    let patch = Value::Array(vec![Value::Object(op)]);
    let err = parse_patch(&patch, &Limits::default()).unwrap_err();
    assert_eq!((err.index, kind_name(&err)), (Some(0), "LimitExceeded"));
    // serde_json drops nested arrays recursively; dismantle iteratively instead.
    let mut hostile = match patch {
        Value::Array(mut ops) => match ops.pop() {
            Some(Value::Object(mut op)) => op.remove("value").unwrap_or_default(),
            _ => Value::Null,
        },
        _ => Value::Null,
    };
    while let Value::Array(mut items) = hostile {
        hostile = items.pop().unwrap_or_default();
    }
}

#[test]
fn projection() {
    let doc = json!({
        "Name": "Ada",
        "Email": "ada@example.com",
        "Department": "Sales",
        "Category": {"Id": 3, "Label": "VIP", "Sub": {"x": 1}},
        "Owner": null,
        "Tags": ["a", "b"]
    });
    let cases: Vec<(&str, Value)> = vec![
        (
            "Name",
            json!({"Name": "Ada", "Email": null, "Department": null, "Category": null, "Owner": null, "Tags": null}),
        ),
        (
            "name, department",
            json!({"Name": "Ada", "Email": null, "Department": "Sales", "Category": null, "Owner": null, "Tags": null}),
        ),
        (
            "category/id",
            json!({"Name": null, "Email": null, "Department": null, "Category": {"Id": 3, "Label": null, "Sub": null}, "Owner": null, "Tags": null}),
        ),
        (
            "CATEGORY",
            json!({"Name": null, "Email": null, "Department": null, "Category": {"Id": 3, "Label": "VIP", "Sub": {"x": 1}}, "Owner": null, "Tags": null}),
        ),
        (
            "category/id,category",
            json!({"Name": null, "Email": null, "Department": null, "Category": {"Id": 3, "Label": "VIP", "Sub": {"x": 1}}, "Owner": null, "Tags": null}),
        ),
        (
            "category, category/id",
            json!({"Name": null, "Email": null, "Department": null, "Category": {"Id": 3, "Label": "VIP", "Sub": {"x": 1}}, "Owner": null, "Tags": null}),
        ),
        (
            " category / sub / X ,",
            json!({"Name": null, "Email": null, "Department": null, "Category": {"Id": null, "Label": null, "Sub": {"x": 1}}, "Owner": null, "Tags": null}),
        ),
        (
            "nothere, name,,",
            json!({"Name": "Ada", "Email": null, "Department": null, "Category": null, "Owner": null, "Tags": null}),
        ),
        (
            "owner/id, tags",
            json!({"Name": null, "Email": null, "Department": null, "Category": null, "Owner": null, "Tags": ["a", "b"]}),
        ),
        (
            "",
            json!({"Name": null, "Email": null, "Department": null, "Category": null, "Owner": null, "Tags": null}),
        ),
    ];
    for (select, expected) in cases {
        let projection = Projection::parse(select).unwrap();
        assert_eq!(projection.apply(&doc), expected, "$select={select}");
    }
    // Non-objects are returned unchanged.
    let p = Projection::parse("a").unwrap();
    for v in [json!([{"a": 1, "b": 2}]), json!("s"), json!(null)] {
        assert_eq!(p.apply(&v), v);
    }
    // Bounds and errors.
    let hundred: Vec<String> = (0..100).map(|i| format!("f{i}")).collect();
    assert_eq!(
        Projection::parse(&hundred.join(",")).map(|p| p.len()),
        Ok(100)
    );
    let hundred_one = format!("{},extra", hundred.join(","));
    assert_eq!(
        Projection::parse(&hundred_one),
        Err(ProjectionError::TooManyFields { max: 100 })
    );
    assert!(Projection::parse("a/b/c/d/e/f/g/h").is_ok());
    assert!(matches!(
        Projection::parse("a/b/c/d/e/f/g/h/i"),
        Err(ProjectionError::TooDeep { .. })
    ));
    assert!(matches!(
        Projection::parse("a//b"),
        Err(ProjectionError::EmptySegment { .. })
    ));
    assert!(matches!(
        Projection::parse("category/"),
        Err(ProjectionError::EmptySegment { .. })
    ));
}

/// Keys below a free-form member are data: case-sensitive, while the
/// document's own members (including the free-form member itself) still
/// match in any case.
#[test]
fn free_form_members_are_case_sensitive() {
    const FREE: &[&str] = &["CustomInfo"];
    let opts = ApplyOptions {
        mode: PathMode::LenientOutside(FREE),
        ..ApplyOptions::default()
    };
    let doc = || json!({"Topic": "t", "CustomInfo": {"k": 1, "Key": 2}, "User": {"Name": "Ada"}});
    let cases: Vec<(Value, Result<Value, &str>)> = vec![
        // add of another casing creates a second key instead of overwriting
        (
            json!([{"op": "add", "path": "/customInfo/K", "value": 9}]),
            Ok(
                json!({"Topic": "t", "CustomInfo": {"k": 1, "Key": 2, "K": 9}, "User": {"Name": "Ada"}}),
            ),
        ),
        (
            json!([{"op": "add", "path": "CustomInfo/k", "value": 9}]),
            Ok(json!({"Topic": "t", "CustomInfo": {"k": 9, "Key": 2}, "User": {"Name": "Ada"}})),
        ),
        // test, replace and remove need the exact key
        (
            json!([{"op": "test", "path": "/CustomInfo/KEY", "value": 2}]),
            Err("PathNotFound"),
        ),
        (
            json!([{"op": "test", "path": "/custominfo/Key", "value": 2}]),
            Ok(doc()),
        ),
        (
            json!([{"op": "replace", "path": "/CustomInfo/K", "value": 3}]),
            Err("PathNotFound"),
        ),
        (
            json!([{"op": "remove", "path": "/CustomInfo/key"}]),
            Err("PathNotFound"),
        ),
        (
            json!([{"op": "remove", "path": "/CUSTOMINFO/Key"}]),
            Ok(json!({"Topic": "t", "CustomInfo": {"k": 1}, "User": {"Name": "Ada"}})),
        ),
        // the entity's own members stay case-insensitive at every level
        (
            json!([{"op": "replace", "path": "user/name", "value": "Bob"}]),
            Ok(json!({"Topic": "t", "CustomInfo": {"k": 1, "Key": 2}, "User": {"Name": "Bob"}})),
        ),
        (
            json!([{"op": "replace", "path": "topic", "value": "u"}]),
            Ok(json!({"Topic": "u", "CustomInfo": {"k": 1, "Key": 2}, "User": {"Name": "Ada"}})),
        ),
        // a failed test after an add rolls the add back (undo uses the same rule)
        (
            json!([
                {"op": "add", "path": "/CustomInfo/KEY", "value": 5},
                {"op": "test", "path": "/CustomInfo/Key", "value": 5}
            ]),
            Err("TestFailed"),
        ),
    ];
    for (patch, expected) in cases {
        check(doc(), patch, &opts, expected);
    }
}
