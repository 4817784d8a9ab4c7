//! The generated OpenAPI document is valid OpenAPI 3 and lists exactly the
//! routes the server mounts.

use std::collections::BTreeSet;

use serde_json::Value;

fn document() -> Value {
    switchboard_api::openapi::document()
}

#[test]
fn document_parses_as_openapi_3() {
    let doc = document();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let text = serde_json::to_string(&doc).unwrap();
    let parsed: oas3::Spec = oas3::from_json(&text).expect("valid OpenAPI 3.1 document");
    assert_eq!(parsed.info.title, "Switchboard");
    // every operation has responses and every $ref resolves
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    for r in refs {
        let path = r.strip_prefix("#/").expect("local ref");
        let mut node = &doc;
        for token in path.split('/') {
            node = &node[token];
        }
        assert!(!node.is_null(), "dangling $ref {r}");
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} has no responses"
            );
        }
    }
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    if let Some(s) = v.as_str() {
                        out.push(s.to_string());
                    }
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_refs(i, out)),
        _ => {}
    }
}

#[test]
fn document_lists_every_mounted_route_and_nothing_else() {
    let doc = document();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(|m| (m.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let mounted: BTreeSet<(String, String)> = switchboard_api::routes()
        .into_iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = mounted.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&mounted).collect();
    assert!(
        missing.is_empty(),
        "mounted but not documented: {missing:?}"
    );
    assert!(extra.is_empty(), "documented but not mounted: {extra:?}");
}

/// The schema names an operation reaches, transitively.
fn reached(doc: &Value, from: &Value, into: &mut BTreeSet<String>) {
    let text = from.to_string();
    for part in text.split("#/components/schemas/").skip(1) {
        let name: String = part
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if into.insert(name.clone()) {
            reached(doc, &doc["components"]["schemas"][&name], into);
        }
    }
}

/// Two dialects never share a schema name: a shared name would mean one
/// dialect's shape silently replaced the other's.
#[test]
fn no_two_dialects_share_a_schema_name() {
    let doc = document();
    let mut owner: std::collections::BTreeMap<String, String> = Default::default();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let family = format!("{:?}", switchboard_api::fallback::Family::of(path));
        let mut names = BTreeSet::new();
        reached(&doc, item, &mut names);
        for name in names {
            let first = owner.entry(name.clone()).or_insert_with(|| family.clone());
            assert_eq!(
                *first, family,
                "{name} is used by {first} and {family} ({path})"
            );
        }
    }
}
