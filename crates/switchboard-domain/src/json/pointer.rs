//! RFC 6901 JSON Pointers and the two path resolution modes.
//!
//! # Strict mode (RFC 6901)
//! * `""` is the whole document; every other pointer starts with `/`, and each
//!   `/`-separated token is one step down.
//! * In a token, `~1` stands for `/` and `~0` for `~`; a `~` followed by
//!   anything else makes the pointer invalid.
//! * A token used on an object names a member, compared byte for byte.
//! * A token used on an array must be `0` or a decimal number without leading
//!   zeros (`01`, `1e0`, `+1` and `-1` are invalid). `-` designates the
//!   position past the last element: only `add` accepts it.
//!
//! # Lenient mode (the SuperOffice dialect)
//! Everything above holds, with two relaxations:
//! * the leading `/` is optional: `/department`, `department` and
//!   `Department` all address the same member, and `a/b` means `/a/b`.
//!   The empty string still means the whole document.
//! * member names match ASCII-case-insensitively:
//!   1. a member whose name matches the token exactly (case-sensitively) wins;
//!   2. otherwise, if exactly one member matches case-insensitively, it is used;
//!   3. if several members match case-insensitively and none exactly, the path is
//!      ambiguous ([`PatchErrorKind::AmbiguousPath`]).
//!
//!   `add` and `replace` on a member that exists under another casing write that
//!   existing member: its original casing is kept and no second key is created.
//!   An `add` that matches no member creates it with the casing of the path.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::error::{PatchError, PatchErrorKind};

/// How paths are resolved against a document. See the [module docs](self).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum PathMode {
    /// Exact RFC 6901 resolution.
    #[default]
    Strict,
    /// ASCII-case-insensitive member names and an optional leading `/`.
    Lenient,
    /// As [`Lenient`](Self::Lenient) for a document's own members, but below
    /// the top-level members named here (free-form data such as
    /// SuperOffice's `CustomInfo`, whose keys are data) names match exactly,
    /// as in [`Strict`](Self::Strict) mode. The listed member itself is still
    /// found in any letter case.
    LenientOutside(&'static [&'static str]),
}

impl PathMode {
    /// Whether the leading `/` is optional and names may match in any case.
    #[must_use]
    pub const fn is_lenient(self) -> bool {
        !matches!(self, Self::Strict)
    }

    /// The mode for the tokens below the top-level member `top`.
    #[must_use]
    pub fn below(self, top: &str) -> Self {
        match self {
            Self::LenientOutside(exact) if exact.iter().any(|m| m.eq_ignore_ascii_case(top)) => {
                Self::Strict
            }
            other => other,
        }
    }
}

/// Escapes a member name for use as a pointer token (`~` → `~0`, `/` → `~1`).
///
/// ```
/// use switchboard_domain::json::escape_token;
/// assert_eq!(escape_token("a/b~c"), "a~1b~0c");
/// assert_eq!(escape_token("plain"), "plain");
/// ```
#[must_use]
pub fn escape_token(token: &str) -> Cow<'_, str> {
    if token.contains(['~', '/']) {
        Cow::Owned(token.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(token)
    }
}

/// Appends `/` and the escaped `token` to `pointer`.
pub(crate) fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// Splits `path` into unescaped tokens (`""` gives no tokens).
///
/// # Errors
/// [`PatchErrorKind::InvalidPointer`] if `path` is not a valid pointer in `mode`.
///
/// ```
/// use switchboard_domain::json::{PathMode, parse_pointer};
/// assert_eq!(parse_pointer("/a~1b/0", PathMode::Strict).ok(), Some(vec!["a/b".to_owned(), "0".to_owned()]));
/// assert_eq!(parse_pointer("a/b", PathMode::Lenient).ok(), Some(vec!["a".to_owned(), "b".to_owned()]));
/// assert!(parse_pointer("a/b", PathMode::Strict).is_err());
/// ```
pub fn parse_pointer(path: &str, mode: PathMode) -> Result<Vec<String>, PatchError> {
    let body = body(path, mode).map_err(|f| PatchError::new(f.into_kind(path)))?;
    Ok(match body {
        None => Vec::new(),
        Some(body) => body.split('/').map(|t| unescape(t).into_owned()).collect(),
    })
}

/// Resolves `path` in `doc`.
///
/// # Errors
/// [`PatchErrorKind::PathNotFound`], [`PatchErrorKind::InvalidPointer`],
/// [`PatchErrorKind::InvalidArrayIndex`] or (lenient) [`PatchErrorKind::AmbiguousPath`].
///
/// ```
/// use serde_json::json;
/// use switchboard_domain::json::{PathMode, resolve};
/// let doc = json!({"Department": {"Id": 7}});
/// assert_eq!(resolve(&doc, "department/id", PathMode::Lenient).ok(), Some(&json!(7)));
/// assert!(resolve(&doc, "/department/id", PathMode::Strict).is_err());
/// ```
pub fn resolve<'v>(doc: &'v Value, path: &str, mode: PathMode) -> Result<&'v Value, PatchError> {
    get(doc, path, mode).map_err(|f| PatchError::new(f.into_kind(path)))
}

/// Resolves `path` in `doc` for mutation. Same rules and errors as [`resolve`].
///
/// # Errors
/// As [`resolve`].
pub fn resolve_mut<'v>(
    doc: &'v mut Value,
    path: &str,
    mode: PathMode,
) -> Result<&'v mut Value, PatchError> {
    get_mut(doc, path, mode).map_err(|f| PatchError::new(f.into_kind(path)))
}

/// Internal resolution failure, turned into a [`PatchErrorKind`] once the
/// path to report is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fail {
    NotFound,
    BadIndex,
    Ambiguous,
    BadPointer(&'static str),
}

impl Fail {
    pub(crate) fn into_kind(self, path: &str) -> PatchErrorKind {
        let path = path.to_owned();
        match self {
            Self::NotFound => PatchErrorKind::PathNotFound { path },
            Self::BadIndex => PatchErrorKind::InvalidArrayIndex { path },
            Self::Ambiguous => PatchErrorKind::AmbiguousPath { path },
            Self::BadPointer(reason) => PatchErrorKind::InvalidPointer { path, reason },
        }
    }
}

/// Validates `path` and returns its token part (without the leading `/`),
/// or `None` for the whole document.
pub(crate) fn body(path: &str, mode: PathMode) -> Result<Option<&str>, Fail> {
    if path.is_empty() {
        return Ok(None);
    }
    let body = match (path.strip_prefix('/'), mode) {
        (Some(rest), _) => rest,
        (None, m) if m.is_lenient() => path,
        (None, _) => {
            return Err(Fail::BadPointer("must be empty or start with '/'"));
        }
    };
    let bytes = body.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'~' && !matches!(bytes.get(i + 1), Some(b'0' | b'1')) {
            return Err(Fail::BadPointer("'~' must be followed by '0' or '1'"));
        }
    }
    Ok(Some(body))
}

/// Splits a validated pointer into its parent pointer and its raw (still
/// escaped) last token; `None` for the whole document.
pub(crate) fn split_last(path: &str, mode: PathMode) -> Result<Option<(&str, &str)>, Fail> {
    if body(path, mode)?.is_none() {
        return Ok(None);
    }
    Ok(Some(match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        // Lenient slashless single token.
        None => ("", path),
    }))
}

/// The mode for the last token of a path whose parent pointer is `parent`
/// (see [`PathMode::below`]).
pub(crate) fn child_mode(parent: &str, mode: PathMode) -> PathMode {
    match body(parent, mode) {
        Ok(Some(b)) => mode.below(&unescape(b.split('/').next().unwrap_or_default())),
        _ => mode,
    }
}

/// Number of tokens of a pointer (the depth of the location it designates).
pub(crate) fn token_count(path: &str, mode: PathMode) -> Result<usize, Fail> {
    Ok(body(path, mode)?.map_or(0, |b| b.bytes().filter(|&c| c == b'/').count() + 1))
}

/// Unescapes a token of a validated pointer.
pub(crate) fn unescape(token: &str) -> Cow<'_, str> {
    if token.contains('~') {
        Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(token)
    }
}

/// Parses an array index token: `0` or digits without a leading zero.
pub(crate) fn parse_index(token: &str) -> Option<usize> {
    let bytes = token.as_bytes();
    if bytes.is_empty()
        || !bytes.iter().all(u8::is_ascii_digit)
        || (bytes.len() > 1 && bytes[0] == b'0')
    {
        return None;
    }
    token.parse().ok()
}

/// Finds the member `token` designates in `map`.
pub(crate) fn member<'m>(
    map: &'m Map<String, Value>,
    token: &str,
    mode: PathMode,
) -> Result<Option<&'m Value>, Fail> {
    if let Some(v) = map.get(token) {
        return Ok(Some(v));
    }
    if mode == PathMode::Strict {
        return Ok(None);
    }
    unique_ignoring_case(map.iter(), token)
}

/// Finds the member `token` designates in `map`, for mutation.
pub(crate) fn member_mut<'m>(
    map: &'m mut Map<String, Value>,
    token: &str,
    mode: PathMode,
) -> Result<Option<&'m mut Value>, Fail> {
    if mode == PathMode::Strict || map.contains_key(token) {
        return Ok(map.get_mut(token));
    }
    unique_ignoring_case(map.iter_mut(), token)
}

/// The actual key of the member `token` designates in `map`.
pub(crate) fn member_key<'m>(
    map: &'m Map<String, Value>,
    token: &str,
    mode: PathMode,
) -> Result<Option<&'m String>, Fail> {
    if let Some((k, _)) = map.get_key_value(token) {
        return Ok(Some(k));
    }
    if mode == PathMode::Strict {
        return Ok(None);
    }
    unique_ignoring_case(map.keys().map(|k| (k, k)), token)
}

/// The item of the one key equal to `token` but for ASCII case;
/// [`Fail::Ambiguous`] when several keys are.
fn unique_ignoring_case<'m, T>(
    items: impl Iterator<Item = (&'m String, T)>,
    token: &str,
) -> Result<Option<T>, Fail> {
    let mut found = None;
    for (k, item) in items {
        if k.eq_ignore_ascii_case(token) {
            if found.is_some() {
                return Err(Fail::Ambiguous);
            }
            found = Some(item);
        }
    }
    Ok(found)
}

/// One step down from `value` following `token` (already unescaped).
pub(crate) fn child<'v>(value: &'v Value, token: &str, mode: PathMode) -> Result<&'v Value, Fail> {
    match value {
        Value::Object(map) => member(map, token, mode)?.ok_or(Fail::NotFound),
        Value::Array(items) => items
            .get(array_index(token, items.len())?)
            .ok_or(Fail::NotFound),
        _ => Err(Fail::NotFound),
    }
}

/// Index of an existing element designated by `token` (not `-`).
pub(crate) fn array_index(token: &str, len: usize) -> Result<usize, Fail> {
    if token == "-" {
        return Err(Fail::NotFound);
    }
    let index = parse_index(token).ok_or(Fail::BadIndex)?;
    if index < len {
        Ok(index)
    } else {
        Err(Fail::NotFound)
    }
}

/// One step down from `value` following `token`, for writing (see [`child`]).
fn child_mut<'v>(value: &'v mut Value, token: &str, mode: PathMode) -> Result<&'v mut Value, Fail> {
    match value {
        Value::Object(map) => member_mut(map, token, mode)?.ok_or(Fail::NotFound),
        Value::Array(items) => {
            let index = array_index(token, items.len())?;
            items.get_mut(index).ok_or(Fail::NotFound)
        }
        _ => Err(Fail::NotFound),
    }
}

/// The tokens of `path` (unescaped), each with the mode it is looked up in:
/// `mode` for the first, what the first token makes of it below (see
/// [`PathMode::below`]). The root path has none.
fn steps(
    path: &str,
    mode: PathMode,
) -> Result<impl Iterator<Item = (Cow<'_, str>, PathMode)>, Fail> {
    let mut m = mode;
    let tokens = body(path, mode)?.into_iter().flat_map(|b| b.split('/'));
    Ok(tokens.enumerate().map(move |(i, raw)| {
        let token = unescape(raw);
        let this = m;
        if i == 0 {
            m = mode.below(&token);
        }
        (token, this)
    }))
}

pub(crate) fn get<'v>(doc: &'v Value, path: &str, mode: PathMode) -> Result<&'v Value, Fail> {
    steps(path, mode)?.try_fold(doc, |current, (token, m)| child(current, &token, m))
}

pub(crate) fn get_mut<'v>(
    doc: &'v mut Value,
    path: &str,
    mode: PathMode,
) -> Result<&'v mut Value, Fail> {
    steps(path, mode)?.try_fold(doc, |current, (token, m)| child_mut(current, &token, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_rules() {
        assert_eq!(parse_index("0"), Some(0));
        assert_eq!(parse_index("10"), Some(10));
        for bad in [
            "",
            "01",
            "00",
            "1e0",
            "-1",
            "+1",
            " 1",
            "-",
            "99999999999999999999999",
        ] {
            assert_eq!(parse_index(bad), None, "{bad}");
        }
    }

    #[test]
    fn split() {
        let s = |p| split_last(p, PathMode::Lenient);
        assert_eq!(s(""), Ok(None));
        assert_eq!(s("/a"), Ok(Some(("", "a"))));
        assert_eq!(s("a"), Ok(Some(("", "a"))));
        assert_eq!(s("a/b"), Ok(Some(("a", "b"))));
        assert_eq!(s("/"), Ok(Some(("", ""))));
        assert!(split_last("a", PathMode::Strict).is_err());
        assert!(split_last("/a~2", PathMode::Strict).is_err());
        assert!(split_last("/a~", PathMode::Strict).is_err());
    }
}
