//! A JSON value serialized as XML with the same element names.

use std::fmt::Write;

use serde_json::Value;

/// Serializes `v` under a root element. Objects become child elements named
/// as their members (names that are not XML names become
/// `<Item Key="…">`), arrays repeat `<Item>`, `null` is `xsi:nil`.
#[must_use]
pub fn to_xml(root: &str, v: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    element(&mut out, root, v, true);
    out
}

/// Serializes a list: `<root>` holding one `<item>` element per value.
#[must_use]
pub fn list_to_xml(root: &str, item: &str, items: &[Value]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    let tag = open(&mut out, root, true);
    out.push('>');
    for v in items {
        element(&mut out, item, v, false);
    }
    let _ = write!(out, "</{tag}>");
    out
}

fn is_xml_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !s.to_ascii_lowercase().starts_with("xml")
}

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                let _ = write!(out, "&#x{:X};", c as u32);
            }
            c => out.push(c),
        }
    }
}

fn open(out: &mut String, name: &str, root: bool) -> String {
    let (tag, attr) = if is_xml_name(name) {
        (name.to_string(), String::new())
    } else {
        let mut key = String::new();
        escape(name, &mut key);
        ("Item".to_string(), format!(" Key=\"{key}\""))
    };
    let ns = if root {
        " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
    } else {
        ""
    };
    let _ = write!(out, "<{tag}{attr}{ns}");
    tag
}

fn element(out: &mut String, name: &str, v: &Value, root: bool) {
    let tag = open(out, name, root);
    match v {
        Value::Null => out.push_str(" xsi:nil=\"true\"/>"),
        Value::Object(map) => {
            out.push('>');
            for (k, child) in map {
                element(out, k, child, false);
            }
            let _ = write!(out, "</{tag}>");
        }
        Value::Array(items) => {
            out.push('>');
            for item in items {
                element(out, "Item", item, false);
            }
            let _ = write!(out, "</{tag}>");
        }
        Value::String(s) => {
            out.push('>');
            escape(s, out);
            let _ = write!(out, "</{tag}>");
        }
        Value::Bool(b) => {
            let _ = write!(out, ">{b}</{tag}>");
        }
        Value::Number(n) => {
            let _ = write!(out, ">{n}</{tag}>");
        }
    }
}

/// Reads an XML request body into the JSON value it stands for — the
/// reverse of [`to_xml`]: the root element's children are the members,
/// an element with children is an object (`<Item Key="k">` a member named
/// `k`), `xsi:nil="true"` is `null`, text is a string (the caller types
/// it, [`super::convert::typed`]). A root named `ArrayOf…` (a JSON Patch
/// as `<ArrayOfPatchOperation>`) is an array of its children.
pub fn from_xml(text: &str) -> Result<Value, String> {
    let doc = roxmltree::Document::parse(text).map_err(|e| format!("not well-formed XML: {e}"))?;
    let root = doc.root_element();
    // The root names what the body is, as SuperOffice's data contracts do:
    // XML has no other way to tell an empty entity from an empty list.
    let name = root.tag_name().name();
    if !ROOTS.contains(&name) {
        return Err(format!(
            "the root element <{name}> is not one of <{}>",
            ROOTS.join(">, <")
        ));
    }
    if name.starts_with("ArrayOf") {
        return Ok(Value::Array(
            root.children()
                .filter(roxmltree::Node::is_element)
                .map(|n| read(n, 1))
                .collect::<Result<_, _>>()?,
        ));
    }
    read(root, 0).map(|v| match v {
        Value::Null => Value::Object(serde_json::Map::new()),
        other => other,
    })
}

/// The root elements a body may have: the entity (its data contract name,
/// or the short one) and, for PATCH, a list of patch operations.
const ROOTS: [&str; 3] = ["ChatSessionEntity", "ChatSession", "ArrayOfPatchOperation"];

/// Nesting deeper than this is refused (an entity nests 3 levels).
const MAX_DEPTH: usize = 32;

fn read(node: roxmltree::Node<'_, '_>, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("XML nested too deeply".into());
    }
    let nil = node
        .attributes()
        .any(|a| a.name() == "nil" && a.value().eq_ignore_ascii_case("true"));
    if nil {
        return Ok(Value::Null);
    }
    let children: Vec<_> = node
        .children()
        .filter(roxmltree::Node::is_element)
        .collect();
    if children.is_empty() {
        let text: String = node.children().filter_map(|c| c.text()).collect();
        if depth == 0 {
            // An entity is its members: `<ChatSession/>` is one without any,
            // but a root holding text (`<data>true</data>`) is no entity.
            if !text.trim().is_empty() {
                return Err(format!(
                    "the root element <{}> holds text; an entity's members are child elements",
                    node.tag_name().name()
                ));
            }
            return Ok(Value::Null);
        }
        return Ok(Value::String(text));
    }
    let list = children
        .iter()
        .all(|c| c.tag_name().name() == "Item" && c.attribute("Key").is_none());
    if list && node.tag_name().name() != "CustomInfo" {
        return children
            .iter()
            .map(|c| read(*c, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    let mut map = serde_json::Map::new();
    for c in children {
        let name = c
            .attribute("Key")
            .map_or_else(|| c.tag_name().name().to_string(), str::to_string);
        map.insert(name, read(c, depth + 1)?);
    }
    Ok(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn a_root_of_text_is_no_entity() {
        for body in [
            "<data>true</data>",
            "<data></data>",
            "<data><Rank>1</Rank></data>",
            "<ChatSession>5</ChatSession>",
            "<x> text </x>",
        ] {
            assert!(super::from_xml(body).is_err(), "{body}");
        }
        assert_eq!(super::from_xml("<ChatSession/>").ok(), Some(json!({})));
        assert_eq!(
            super::from_xml("<ChatSession>  </ChatSession>").ok(),
            Some(json!({}))
        );
    }

    #[test]
    fn serializes_with_json_names() {
        let xml = super::to_xml(
            "ChatSessionEntity",
            &json!({"ChatSessionId": 7, "CustomerName": "A & B", "User": null, "_Links": {"Self": "/x"}, "CustomInfo": {"a b": [1, true]}}),
        );
        assert!(xml.contains("<ChatSessionId>7</ChatSessionId>"), "{xml}");
        assert!(
            xml.contains("<CustomerName>A &amp; B</CustomerName>"),
            "{xml}"
        );
        assert!(xml.contains("<User xsi:nil=\"true\"/>"), "{xml}");
        assert!(xml.contains("<_Links><Self>/x</Self></_Links>"), "{xml}");
        assert!(
            xml.contains("<Item Key=\"a b\"><Item>1</Item><Item>true</Item></Item>"),
            "{xml}"
        );
    }
}
