//! JSON Schemas for request members whose rule is the domain's and is more
//! than a type: built from the domain's own lists (`switchboard_domain::
//! validate`), so `/openapi.json` accepts exactly what the rule accepts and
//! the two cannot drift apart.

use switchboard_domain::validate::{
    CSS_COLOR_ARGUMENT_PUNCTUATION, CSS_COLOR_FUNCTIONS, CSS_NAMED_COLORS, ISO_639_1,
    MAX_CSS_COLOR_CHARS,
};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, SchemaType, Type};
use utoipa::openapi::{RefOr, Schema};

/// `word` matched in any letter case, as a regular expression without
/// flags (`en` → `[eE][nN]`).
fn any_case(word: &str) -> String {
    word.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
            } else {
                regex_escape(c)
            }
        })
        .collect()
}

fn regex_escape(c: char) -> String {
    if r"\^$.|?*+()[]{}/-".contains(c) {
        format!("\\{c}")
    } else {
        c.to_string()
    }
}

/// One of `words`, in any letter case.
fn one_of_any_case<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    let alternatives: Vec<String> = words.into_iter().map(any_case).collect();
    format!("(?:{})", alternatives.join("|"))
}

/// A nullable string with `pattern`, `maxLength` and a description.
fn nullable_text(pattern: String, max_length: usize, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .pattern(Some(pattern))
        .max_length(Some(max_length))
        .description(Some(description))
        .into()
}

/// `validate::locale`: an ISO 639-1 language code, optionally with a
/// region (`en`, `nb`, `en-US`, `pt_BR`), in any letter case.
#[must_use]
pub fn locale_pattern() -> String {
    format!(
        "^{}(?:[-_](?:[A-Za-z]{{2}}|[0-9]{{3}}))?$",
        one_of_any_case(ISO_639_1)
    )
}

/// A nullable locale (`validate::locale`).
pub fn locale() -> RefOr<Schema> {
    nullable_text(
        locale_pattern(),
        6,
        "ISO 639-1 language code, optionally with a region (`en`, `en-US`, `pt_BR`).",
    )
}

/// `validate::css_color`, or the empty string (no color: the account's
/// color for the tag, else the default).
#[must_use]
pub fn css_color_pattern() -> String {
    let punctuation: String = CSS_COLOR_ARGUMENT_PUNCTUATION
        .iter()
        .map(|b| regex_escape(char::from(*b)))
        .collect();
    let arg = format!("[A-Za-z0-9{punctuation}]");
    let arg_not_space = format!("[A-Za-z0-9{}]", punctuation.replace(' ', ""));
    let hex = "#(?:[0-9A-Fa-f]{3,4}|[0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})";
    let function = format!(
        "{}\\({arg}*{arg_not_space}{arg}*\\)",
        one_of_any_case(CSS_COLOR_FUNCTIONS)
    );
    let named = one_of_any_case(
        CSS_NAMED_COLORS
            .iter()
            .copied()
            .chain(["transparent", "currentcolor"]),
    );
    format!("^(?:\\s*(?:{hex}|{function}|{named})\\s*)?$")
}

/// A nullable tag color (`validate::css_color`, or empty for none).
pub fn css_color() -> RefOr<Schema> {
    nullable_text(
        css_color_pattern(),
        MAX_CSS_COLOR_CHARS,
        "Any CSS color (named, hex, or a color function such as `rgb()`); empty or absent: \
         the account's color for the tag, else `#c377e0`.",
    )
}

/// A UNIX time in seconds as HelpCrunch's requests send it: a string of
/// seconds (or of 13 digits of milliseconds), with an optional fraction,
/// or a whole number of seconds; `null` clears.
pub fn unix_seconds() -> RefOr<Schema> {
    let max_seconds = switchboard_domain::MAX_MILLIS / 1000;
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(
                    "^(?:[0-9]{1,11}|[0-9]{13})(?:\\.[0-9]{1,9})?$".to_owned(),
                ))
                .examples(["1570000000"]),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(max_seconds)),
        )
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some(
            "UNIX time in seconds, e.g. \"1570000000\"; `null` clears.",
        ))
        .into()
}

#[cfg(test)]
mod tests {
    use switchboard_domain::validate;

    use super::*;

    /// The patterns agree with the domain's rules on a table of inputs
    /// (the regex crate stands in for a JSON Schema validator here).
    #[test]
    fn patterns_accept_what_the_rules_accept() {
        let locale = regex::Regex::new(&locale_pattern()).unwrap();
        for s in [
            "en", "EN", "nb", "en-US", "pt_BR", "es-419", "zz", "e", "en-", "en-USA", "", "english",
        ] {
            assert_eq!(locale.is_match(s), validate::locale(s), "locale {s:?}");
        }
        let color = regex::Regex::new(&css_color_pattern()).unwrap();
        for s in [
            "#fff",
            "#FFFF",
            "#c377e0",
            "#c377e0ff",
            "#12345",
            "red",
            "RebeccaPurple",
            "transparent",
            "rgb(1, 2, 3)",
            "HSL(1 2% 3%)",
            "rgb()",
            "rgb( )",
            "rgb(1;2)",
            "bluish",
            " red ",
            "oklch(0.5 0.1 20 / 50%)",
            "url(x)",
        ] {
            assert_eq!(color.is_match(s), validate::css_color(s), "color {s:?}");
        }
        assert!(color.is_match(""), "empty: no color");
    }
}
