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

#[cfg(test)]
mod tests {
    use serde_json::json;

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
