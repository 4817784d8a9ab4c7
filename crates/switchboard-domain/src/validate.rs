//! Validation rules shared by every dialect.
//!
//! Each check is a pure function. Entity validation collects **every**
//! violation at once into [`ValidationErrors`], each with the field path (a
//! JSON Pointer into the canonical JSON) and a stable machine code.
//!
//! ```
//! use switchboard_domain::validate;
//! assert!(validate::email("ada@example.com"));
//! assert!(!validate::email("ada@"));
//! assert!(validate::locale("nb"));
//! assert!(validate::css_color("rebeccapurple"));
//! assert!(validate::css_color("#c377e0"));
//! assert!(!validate::css_color("#c377e"));
//! ```

use std::fmt;

use serde::Serialize;
use validator::{ValidateEmail, ValidateUrl};

use crate::json::{self, LimitKind};

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// JSON Pointer of the field in the canonical JSON (`/email`, `/customData/plan`).
    pub path: String,
    /// Stable machine code (`email`, `locale`, `color`, `url`, `type`, `length`, …).
    pub code: &'static str,
    /// Human explanation.
    pub message: String,
}

/// Every violation found in one value. Never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, thiserror::Error)]
#[serde(transparent)]
pub struct ValidationErrors(Vec<Violation>);

impl ValidationErrors {
    /// An empty collection.
    #[must_use]
    pub const fn new() -> Self {
        Self(Vec::new())
    }

    /// A collection holding one violation.
    #[must_use]
    pub fn single(path: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        let mut v = Self::new();
        v.push(path, code, message);
        v
    }

    /// Records a violation; one already recorded (the same path and code,
    /// found by two checks) is recorded once.
    pub fn push(
        &mut self,
        path: impl Into<String>,
        code: &'static str,
        message: impl Into<String>,
    ) {
        let path = path.into();
        if self.0.iter().any(|v| v.code == code && v.path == path) {
            return;
        }
        self.0.push(Violation {
            path,
            code,
            message: message.into(),
        });
    }

    /// Whether nothing was recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The recorded violations, in the order found.
    #[must_use]
    pub fn violations(&self) -> &[Violation] {
        &self.0
    }

    /// `Ok(())` when empty, otherwise `Err(self)`.
    pub fn into_result(self) -> Result<(), Self> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// Moves every violation of `other` into `self`.
    pub fn extend(&mut self, other: Self) {
        self.0.extend(other.0);
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", v.path, v.message)?;
        }
        Ok(())
    }
}

/// A valid email address (HTML5 rules, as the `validator` crate implements them), at most 254 bytes.
#[must_use]
pub fn email(s: &str) -> bool {
    s.len() <= 254 && s.validate_email()
}

/// An absolute `http` or `https` URL.
#[must_use]
pub fn url(s: &str) -> bool {
    let lower = s.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
    s.len() <= 2048
        && (lower.starts_with("http://") || lower.starts_with("https://"))
        && s.validate_url()
}

/// An ISO 639-1 two-letter language code, optionally with a region
/// (`en`, `nb`, `en-US`, `pt_BR`). Case-insensitive.
#[must_use]
pub fn locale(s: &str) -> bool {
    let (lang, region) = match s.find(['-', '_']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let lang_ok = lang.len() == 2 && {
        let l = lang.to_ascii_lowercase();
        ISO_639_1.binary_search(&l.as_str()).is_ok()
    };
    let region_ok = region.is_none_or(|r| {
        (r.len() == 2 && r.bytes().all(|b| b.is_ascii_alphabetic()))
            || (r.len() == 3 && r.bytes().all(|b| b.is_ascii_digit()))
    });
    lang_ok && region_ok
}

/// Any CSS color: a named color, `transparent`, `currentcolor`, hex
/// (`#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa`) or a functional notation
/// (`rgb()`, `rgba()`, `hsl()`, `hsla()`, `hwb()`, `lab()`, `lch()`, `oklab()`,
/// `oklch()`, `color()`) with balanced parentheses and plain arguments.
#[must_use]
pub fn css_color(s: &str) -> bool {
    if s.chars().count() > MAX_CSS_COLOR_CHARS {
        return false;
    }
    let s = s.trim();
    if s.is_empty() {
        return false;
    }
    if let Some(hex) = s.strip_prefix('#') {
        return matches!(hex.len(), 3 | 4 | 6 | 8) && hex.bytes().all(|b| b.is_ascii_hexdigit());
    }
    let lower = s.to_ascii_lowercase();
    if let Some(open) = lower.find('(') {
        let func = &lower[..open];
        let Some(args) = lower[open + 1..].strip_suffix(')') else {
            return false;
        };
        return CSS_COLOR_FUNCTIONS.contains(&func)
            && !args.trim().is_empty()
            && args
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || CSS_COLOR_ARGUMENT_PUNCTUATION.contains(&b));
    }
    lower == "transparent"
        || lower == "currentcolor"
        || CSS_NAMED_COLORS.binary_search(&lower.as_str()).is_ok()
}

/// A tenant name: 1–63 characters of lowercase ASCII letters, digits, `-`
/// and `_`, starting with a letter or digit. It appears in URLs (Zoho's
/// `screen_name`), so it is kept URL-safe.
#[must_use]
pub fn tenant_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Checks a string's length in characters against `max`, recording a
/// `length` violation at `path`.
pub fn max_chars(errors: &mut ValidationErrors, path: &str, value: &str, max: usize) {
    if value.chars().count() > max {
        errors.push(path, "length", format!("must be at most {max} characters"));
    }
}

/// Checks one free-form JSON value (a custom info or custom data value)
/// against the store's one limit, [`json::MAX_VALUE_DEPTH`] and
/// [`json::MAX_VALUE_BYTES`], recording a `depth` or `size` violation at
/// `path`. The walk is iterative and bounded by the limits.
///
/// ```
/// use serde_json::{Value, json};
/// use switchboard_domain::validate::{ValidationErrors, free_form_value};
///
/// let mut e = ValidationErrors::new();
/// free_form_value(&mut e, "/customInfo/ok", &json!({"a": [1, 2]}));
/// assert!(e.is_empty());
/// let deep = (0..40).fold(json!(1), |v, _| Value::Array(vec![v]));
/// free_form_value(&mut e, "/customInfo/deep", &deep);
/// assert_eq!(e.violations()[0].code, "depth");
/// ```
pub fn free_form_value(errors: &mut ValidationErrors, path: &str, value: &serde_json::Value) {
    match json::check_value(value) {
        Ok(()) => {}
        Err(LimitKind::Depth) => errors.push(
            path,
            "depth",
            format!(
                "values may nest at most {} levels deep",
                json::MAX_VALUE_DEPTH
            ),
        ),
        Err(_) => errors.push(
            path,
            "size",
            format!(
                "values must be at most {} bytes of JSON",
                json::MAX_VALUE_BYTES
            ),
        ),
    }
}

/// Records a `containers` violation at `path` when the free-form `members`
/// hold more than [`json::MAX_FREE_FORM_CONTAINERS`] JSON objects and
/// arrays, all values together ([`json::containers`]).
pub fn free_form_containers(
    errors: &mut ValidationErrors,
    path: &str,
    members: &std::collections::BTreeMap<String, serde_json::Value>,
) {
    let count = json::containers(members.values());
    if count > json::MAX_FREE_FORM_CONTAINERS {
        errors.push(
            path,
            "containers",
            format!(
                "the values may hold at most {} JSON objects and arrays together ({count} here)",
                json::MAX_FREE_FORM_CONTAINERS
            ),
        );
    }
}

/// Records a `nul` violation for every string (member names included) in
/// `doc` that contains U+0000. PostgreSQL cannot store it in text or
/// `jsonb`, so it is refused everywhere for both backends to behave alike.
pub fn no_nul(errors: &mut ValidationErrors, doc: &serde_json::Value) {
    let mut stack: Vec<(String, &serde_json::Value)> = vec![(String::new(), doc)];
    while let Some((path, v)) = stack.pop() {
        match v {
            serde_json::Value::String(s) if s.contains('\0') => {
                errors.push(path, "nul", "must not contain the NUL character");
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    stack.push((format!("{path}/{i}"), item));
                }
            }
            serde_json::Value::Object(map) => {
                for (k, item) in map {
                    let child = format!("{path}/{}", pointer_token(k));
                    if k.contains('\0') {
                        errors.push(
                            child.clone(),
                            "nul",
                            "member names must not contain the NUL character",
                        );
                    }
                    stack.push((child, item));
                }
            }
            _ => {}
        }
    }
}

/// [`no_nul`] for a serializable document, cheaply when it has no NUL.
///
/// Serializes `doc` once into nothing, only watching for a U+0000 (in a
/// string or a member name; the serializer escapes it as a control
/// character): no text is kept and no number formatted. Only when one is
/// seen does it build the `Value` and walk it with [`no_nul`] for the
/// paths. A document that does not serialize is left alone.
pub fn no_nul_in<T: Serialize + ?Sized>(errors: &mut ValidationErrors, doc: &T) {
    let mut seen = false;
    let serialized = doc.serialize(&mut serde_json::Serializer::with_formatter(
        std::io::sink(),
        NulWatch(&mut seen),
    ));
    if serialized.is_err() || !seen {
        return;
    }
    if let Ok(value) = serde_json::to_value(doc) {
        no_nul(errors, &value);
    }
}

/// The JSON formatter of [`no_nul_in`]: writes nothing (into a sink) and
/// records whether a string or member name held U+0000.
struct NulWatch<'a>(&'a mut bool);

/// Numbers are of no interest to [`NulWatch`]: not formatted at all.
macro_rules! skip_numbers {
    ($($name:ident: $t:ty),* $(,)?) => {
        $(
            #[inline]
            fn $name<W: ?Sized + std::io::Write>(&mut self, _: &mut W, _: $t) -> std::io::Result<()> {
                Ok(())
            }
        )*
    };
}

impl serde_json::ser::Formatter for NulWatch<'_> {
    skip_numbers!(
        write_i8: i8, write_i16: i16, write_i32: i32, write_i64: i64, write_i128: i128,
        write_u8: u8, write_u16: u16, write_u32: u32, write_u64: u64, write_u128: u128,
        write_f32: f32, write_f64: f64,
    );

    #[inline]
    fn write_char_escape<W: ?Sized + std::io::Write>(
        &mut self,
        _: &mut W,
        escape: serde_json::ser::CharEscape,
    ) -> std::io::Result<()> {
        if matches!(escape, serde_json::ser::CharEscape::AsciiControl(0)) {
            *self.0 = true;
        }
        Ok(())
    }
}

/// Escapes one member name for use in a JSON Pointer (RFC 6901: `~` → `~0`, `/` → `~1`).
///
/// ```
/// assert_eq!(switchboard_domain::validate::pointer_token("a/b~c"), "a~1b~0c");
/// ```
#[must_use]
pub fn pointer_token(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains(['~', '/']) {
        std::borrow::Cow::Owned(s.replace('~', "~0").replace('/', "~1"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Longest color [`css_color`] accepts, in characters, spaces around it
/// included.
pub const MAX_CSS_COLOR_CHARS: usize = 64;

/// The CSS color functions [`css_color`] accepts.
pub const CSS_COLOR_FUNCTIONS: [&str; 10] = [
    "rgb", "rgba", "hsl", "hsla", "hwb", "lab", "lch", "oklab", "oklch", "color",
];

/// Besides ASCII letters and digits, the characters a CSS color function's
/// arguments may have in [`css_color`].
pub const CSS_COLOR_ARGUMENT_PUNCTUATION: &[u8] = b" .,%/+-";

/// ISO 639-1 codes, sorted (what [`locale`] accepts as the language).
pub const ISO_639_1: [&str; 184] = [
    "aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be", "bg", "bh",
    "bi", "bm", "bn", "bo", "br", "bs", "ca", "ce", "ch", "co", "cr", "cs", "cu", "cv", "cy", "da",
    "de", "dv", "dz", "ee", "el", "en", "eo", "es", "et", "eu", "fa", "ff", "fi", "fj", "fo", "fr",
    "fy", "ga", "gd", "gl", "gn", "gu", "gv", "ha", "he", "hi", "ho", "hr", "ht", "hu", "hy", "hz",
    "ia", "id", "ie", "ig", "ii", "ik", "io", "is", "it", "iu", "ja", "jv", "ka", "kg", "ki", "kj",
    "kk", "kl", "km", "kn", "ko", "kr", "ks", "ku", "kv", "kw", "ky", "la", "lb", "lg", "li", "ln",
    "lo", "lt", "lu", "lv", "mg", "mh", "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "na", "nb",
    "nd", "ne", "ng", "nl", "nn", "no", "nr", "nv", "ny", "oc", "oj", "om", "or", "os", "pa", "pi",
    "pl", "ps", "pt", "qu", "rm", "rn", "ro", "ru", "rw", "sa", "sc", "sd", "se", "sg", "si", "sk",
    "sl", "sm", "sn", "so", "sq", "sr", "ss", "st", "su", "sv", "sw", "ta", "te", "tg", "th", "ti",
    "tk", "tl", "tn", "to", "tr", "ts", "tt", "tw", "ty", "ug", "uk", "ur", "uz", "ve", "vi", "vo",
    "wa", "wo", "xh", "yi", "yo", "za", "zh", "zu",
];

/// The 148 CSS named colors (CSS Color Module Level 4), sorted (what
/// [`css_color`] accepts by name).
pub const CSS_NAMED_COLORS: [&str; 148] = [
    "aliceblue",
    "antiquewhite",
    "aqua",
    "aquamarine",
    "azure",
    "beige",
    "bisque",
    "black",
    "blanchedalmond",
    "blue",
    "blueviolet",
    "brown",
    "burlywood",
    "cadetblue",
    "chartreuse",
    "chocolate",
    "coral",
    "cornflowerblue",
    "cornsilk",
    "crimson",
    "cyan",
    "darkblue",
    "darkcyan",
    "darkgoldenrod",
    "darkgray",
    "darkgreen",
    "darkgrey",
    "darkkhaki",
    "darkmagenta",
    "darkolivegreen",
    "darkorange",
    "darkorchid",
    "darkred",
    "darksalmon",
    "darkseagreen",
    "darkslateblue",
    "darkslategray",
    "darkslategrey",
    "darkturquoise",
    "darkviolet",
    "deeppink",
    "deepskyblue",
    "dimgray",
    "dimgrey",
    "dodgerblue",
    "firebrick",
    "floralwhite",
    "forestgreen",
    "fuchsia",
    "gainsboro",
    "ghostwhite",
    "gold",
    "goldenrod",
    "gray",
    "green",
    "greenyellow",
    "grey",
    "honeydew",
    "hotpink",
    "indianred",
    "indigo",
    "ivory",
    "khaki",
    "lavender",
    "lavenderblush",
    "lawngreen",
    "lemonchiffon",
    "lightblue",
    "lightcoral",
    "lightcyan",
    "lightgoldenrodyellow",
    "lightgray",
    "lightgreen",
    "lightgrey",
    "lightpink",
    "lightsalmon",
    "lightseagreen",
    "lightskyblue",
    "lightslategray",
    "lightslategrey",
    "lightsteelblue",
    "lightyellow",
    "lime",
    "limegreen",
    "linen",
    "magenta",
    "maroon",
    "mediumaquamarine",
    "mediumblue",
    "mediumorchid",
    "mediumpurple",
    "mediumseagreen",
    "mediumslateblue",
    "mediumspringgreen",
    "mediumturquoise",
    "mediumvioletred",
    "midnightblue",
    "mintcream",
    "mistyrose",
    "moccasin",
    "navajowhite",
    "navy",
    "oldlace",
    "olive",
    "olivedrab",
    "orange",
    "orangered",
    "orchid",
    "palegoldenrod",
    "palegreen",
    "paleturquoise",
    "palevioletred",
    "papayawhip",
    "peachpuff",
    "peru",
    "pink",
    "plum",
    "powderblue",
    "purple",
    "rebeccapurple",
    "red",
    "rosybrown",
    "royalblue",
    "saddlebrown",
    "salmon",
    "sandybrown",
    "seagreen",
    "seashell",
    "sienna",
    "silver",
    "skyblue",
    "slateblue",
    "slategray",
    "slategrey",
    "snow",
    "springgreen",
    "steelblue",
    "tan",
    "teal",
    "thistle",
    "tomato",
    "turquoise",
    "violet",
    "wheat",
    "white",
    "whitesmoke",
    "yellow",
    "yellowgreen",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_found_with_its_path_and_only_then() {
        use serde_json::json;
        let cases = [
            (json!({"a": "x", "b": [1, "y"]}), vec![]),
            (json!({"a": {"b": ["ok", "x\u{0}"]}}), vec!["/a/b/1"]),
            (json!({"k\u{0}": 1}), vec!["/k\u{0}"]),
            (json!({"a/b": "\u{0}"}), vec!["/a~1b"]),
            // Numbers are skipped by the watch, not mistaken for text.
            (
                json!({"n": -1.5e300, "m": [2, u64::MAX, "z\u{0}"]}),
                vec!["/m/2"],
            ),
            // A literal backslash-u0000 is text, not a NUL.
            (json!({"a": "\\u0000"}), vec![]),
        ];
        for (doc, want) in cases {
            let mut fast = ValidationErrors::new();
            no_nul_in(&mut fast, &doc);
            let mut full = ValidationErrors::new();
            no_nul(&mut full, &doc);
            let paths = |e: &ValidationErrors| -> Vec<String> {
                e.violations().iter().map(|v| v.path.clone()).collect()
            };
            assert_eq!(paths(&fast), want, "{doc}");
            assert_eq!(paths(&fast), paths(&full), "{doc}");
        }
    }

    #[test]
    fn tables_are_sorted_for_binary_search() {
        assert!(ISO_639_1.windows(2).all(|w| w[0] < w[1]));
        assert!(CSS_NAMED_COLORS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn rules() {
        type Rule = fn(&str) -> bool;
        let cases: &[(&str, Rule, &str, bool)] = &[
            ("email", email, "ada@example.com", true),
            ("email", email, "a.b+c@sub.example.org", true),
            ("email", email, "ada@", false),
            ("email", email, "ada example.com", false),
            ("email", email, "", false),
            ("email", email, "@example.com", false),
            ("url", url, "https://example.com/x?y=1", true),
            ("url", url, "http://localhost:8080", true),
            ("url", url, "ftp://example.com", false),
            ("url", url, "example.com", false),
            ("url", url, "https://", false),
            ("locale", locale, "en", true),
            ("locale", locale, "NB", true),
            ("locale", locale, "en-US", true),
            ("locale", locale, "pt_BR", true),
            ("locale", locale, "es-419", true),
            ("locale", locale, "xx", false),
            ("locale", locale, "eng", false),
            ("locale", locale, "en-", false),
            ("locale", locale, "", false),
            ("color", css_color, "#c377e0", true),
            ("color", css_color, "#FFF", true),
            ("color", css_color, "#ffff", true),
            ("color", css_color, "#11223344", true),
            ("color", css_color, "red", true),
            ("color", css_color, "RebeccaPurple", true),
            ("color", css_color, "transparent", true),
            ("color", css_color, "rgb(1, 2, 3)", true),
            ("color", css_color, "rgba(1 2 3 / 50%)", true),
            ("color", css_color, "hsl(120deg 50% 50%)", true),
            ("color", css_color, "#12345", false),
            ("color", css_color, "#ggg", false),
            ("color", css_color, "reddish", false),
            ("color", css_color, "rgb(1,2,3", false),
            ("color", css_color, "url(x)", false),
            ("color", css_color, "rgb()", false),
            ("color", css_color, "", false),
            ("tenant", tenant_name, "demo", true),
            ("tenant", tenant_name, "acme-2_eu", true),
            ("tenant", tenant_name, "Demo", false),
            ("tenant", tenant_name, "-demo", false),
            ("tenant", tenant_name, "de mo", false),
            ("tenant", tenant_name, "", false),
        ];
        for (rule, f, input, want) in cases {
            assert_eq!(f(input), *want, "{rule}({input:?})");
        }
    }
}
