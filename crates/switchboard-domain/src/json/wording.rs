//! serde's error messages in the words of a JSON API.
//!
//! serde describes a mismatch in Rust's terms (`invalid type: string "x",
//! expected i64`, `expected struct TagInput`, `unknown variant`); a client
//! of a JSON API knows strings, numbers, objects and arrays. [`plain`]
//! rewrites such a message; a message it does not recognise (a custom one
//! from a `Deserialize` impl, already in plain words) is kept.

/// Rewrites one serde message (without serde_json's ` at line … column …`).
///
/// ```
/// use switchboard_domain::json::wording::plain;
///
/// assert_eq!(plain(r#"invalid type: string "x", expected i64"#), "must be an integer, not a string");
/// assert_eq!(plain("invalid type: sequence, expected struct TagInput"), "must be an object, not an array");
/// assert_eq!(plain("missing field `id`"), "id is required");
/// assert_eq!(plain("unknown variant `x`, expected `a` or `b`"), "must be one of: a, b");
/// ```
#[must_use]
pub fn plain(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        return format!(
            "must be {}, not {}",
            expected_words(expected),
            found_words(found)
        );
    }
    if let Some(rest) = message.strip_prefix("invalid value: ") {
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        return format!(
            "{} is not allowed here; it must be {}",
            found_value(found),
            expected_words(expected)
        );
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return format!("{} is required", unquote(rest));
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let (name, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let name = unquote(name.split(", there are no fields").next().unwrap_or(name));
        return if expected.is_empty() {
            format!("unknown field {name}")
        } else {
            format!("unknown field {name}; known fields: {}", names(expected))
        };
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let (name, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        return if expected.is_empty() {
            format!("{} is not an accepted value", unquote(name))
        } else {
            format!("must be one of: {}", names(expected))
        };
    }
    if let Some(rest) = message.strip_prefix("invalid length ") {
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        return format!(
            "has {found} elements; expected {}",
            expected_words(expected)
        );
    }
    if let Some(rest) = message.strip_prefix("duplicate field ") {
        return format!("{} is given more than once", unquote(rest));
    }
    message.to_string()
}

/// `` `a`, `b` or `c` `` (serde's list of names) as `a, b, c`.
fn names(list: &str) -> String {
    list.replace(" or ", ", ")
        .replace("one of ", "")
        .split(", ")
        .map(|n| unquote(n.trim()))
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

fn unquote(s: &str) -> &str {
    s.trim().trim_matches('`')
}

/// serde's `Unexpected` (`string "x"`, ``integer `5` ``, `map`) as a JSON type.
fn found_words(found: &str) -> &'static str {
    let kind = found.split([' ', '`']).next().unwrap_or_default();
    match kind {
        "string" | "char" => "a string",
        "integer" => "an integer",
        "floating" => "a number with a fraction",
        "boolean" => "a boolean",
        "map" | "struct" | "newtype" => "an object",
        "sequence" | "tuple" => "an array",
        "null" | "unit" | "Option" => "null",
        _ => "of another type",
    }
}

/// A value serde refused (`` integer `-1` ``, `string "x"`) as it was written.
fn found_value(found: &str) -> String {
    match found.split_once(' ') {
        Some((_, value)) if found.starts_with("integer") || found.starts_with("floating") => {
            unquote(value).to_string()
        }
        Some((_, value)) if found.starts_with("string") => value.to_string(),
        _ => found_words(found).to_string(),
    }
}

/// What serde expected, in JSON's words: Rust types and serde's
/// `struct X`, `a sequence`, `a map` become types a JSON client knows; a
/// plain-words expectation from a custom impl is kept.
fn expected_words(expected: &str) -> String {
    let e = expected.trim();
    let word = match e {
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" | "an integer" => "an integer",
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "an integer of 0 or more",
        "f32" | "f64" | "a number" => "a number",
        "a string" | "a borrowed string" | "a char" | "a character" | "string" => "a string",
        "a boolean" | "bool" => "a boolean",
        "a sequence" | "a tuple" | "a list" | "an array" => "an array",
        "a map" | "an object" | "a JSON object" => "an object",
        "unit" | "null" => "null",
        "any valid JSON value" | "any value" => "a JSON value",
        _ if e.starts_with("struct ") || e.starts_with("a map") => "an object",
        _ if e.starts_with("tuple") || e.starts_with("a tuple") || e.starts_with("an array") => {
            "an array"
        }
        _ if e.starts_with("enum ") || e.starts_with("variant ") || e.starts_with("one of ") => {
            "one of the accepted values"
        }
        _ if e.starts_with("an integer")
            || e.starts_with("a number")
            || e.starts_with("a string") =>
        {
            return e.to_string();
        }
        _ if looks_like_rust(e) => "a value of another type",
        _ => return e.to_string(),
    };
    word.to_string()
}

/// Whether an expectation names Rust rather than JSON (`Option<T>`, `Vec`,
/// a CamelCase type name, a path with `::`).
fn looks_like_rust(e: &str) -> bool {
    e.contains("::")
        || e.contains('<')
        || e.split_whitespace().count() == 1 && e.chars().next().is_some_and(char::is_uppercase)
}

#[cfg(test)]
mod tests {
    use super::plain;

    #[test]
    fn rust_words_never_survive() {
        for (input, want) in [
            (
                r#"invalid type: string "x", expected i64"#,
                "must be an integer, not a string",
            ),
            (
                "invalid type: integer `5`, expected a string",
                "must be a string, not an integer",
            ),
            (
                "invalid type: map, expected a sequence",
                "must be an array, not an object",
            ),
            (
                "invalid type: null, expected struct TagInput",
                "must be an object, not null",
            ),
            (
                "invalid type: floating point `1.5`, expected u32",
                "must be an integer of 0 or more, not a number with a fraction",
            ),
            (
                "invalid value: integer `-1`, expected u32",
                "-1 is not allowed here; it must be an integer of 0 or more",
            ),
            ("missing field `sessionid`", "sessionid is required"),
            (
                "unknown field `bogus`, expected `name` or `seats`",
                "unknown field bogus; known fields: name, seats",
            ),
            (
                "unknown field `bogus`, expected one of `a`, `b`, `c`",
                "unknown field bogus; known fields: a, b, c",
            ),
            (
                "unknown field `bogus`, there are no fields",
                "unknown field bogus",
            ),
            (
                "unknown variant `x`, expected one of `new`, `open`",
                "must be one of: new, open",
            ),
            (
                "invalid length 0, expected tuple struct Pair with 2 elements",
                "has 0 elements; expected an array",
            ),
            (
                "invalid type: string \"x\", expected enum Status",
                "must be one of the accepted values, not a string",
            ),
            (
                "must be a valid email address",
                "must be a valid email address",
            ),
        ] {
            assert_eq!(plain(input), want, "{input}");
        }
    }
}
