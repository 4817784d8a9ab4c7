//! Resource limits for patch application, and bounded document measurement.
//!
//! Depth is the number of nested containers: a scalar has depth 0, `{}` and
//! `[1]` have depth 1, `{"a": [1]}` has depth 2. Size is the length in bytes
//! of the compact serialization (`serde_json::to_string`), computed by an
//! iterative walk that allocates no string and stops as soon as a limit is
//! exceeded, so hostile deeply nested or huge values cannot blow the stack.

use std::fmt;

use serde_json::{Number, Value};

use super::error::{PatchError, PatchErrorKind};

/// Bounds enforced by [`apply`](super::apply), [`parse_patch`](super::parse_patch)
/// and [`check_document`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Maximum number of operations in one patch (default 100).
    pub max_operations: usize,
    /// Maximum compact serialized size of the document, in bytes (default 1 MiB).
    pub max_document_bytes: usize,
    /// Maximum container nesting depth of the document (default 32).
    pub max_depth: usize,
}

impl Limits {
    /// Default maximum number of operations.
    pub const DEFAULT_MAX_OPERATIONS: usize = 100;
    /// Default maximum document size in bytes (1 MiB).
    pub const DEFAULT_MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
    /// Default maximum nesting depth.
    pub const DEFAULT_MAX_DEPTH: usize = 32;

    /// Limits that never trigger (every bound is `usize::MAX`).
    ///
    /// Only for trusted input: nothing then bounds the work done.
    #[must_use]
    pub const fn unlimited() -> Self {
        Self {
            max_operations: usize::MAX,
            max_document_bytes: usize::MAX,
            max_depth: usize::MAX,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_operations: Self::DEFAULT_MAX_OPERATIONS,
            max_document_bytes: Self::DEFAULT_MAX_DOCUMENT_BYTES,
            max_depth: Self::DEFAULT_MAX_DEPTH,
        }
    }
}

/// Which [`Limits`] bound was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LimitKind {
    /// [`Limits::max_operations`].
    Operations,
    /// [`Limits::max_document_bytes`].
    DocumentBytes,
    /// [`Limits::max_depth`].
    Depth,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Operations => "operation count",
            Self::DocumentBytes => "document size",
            Self::Depth => "nesting depth",
        })
    }
}

impl LimitKind {
    /// The configured maximum for this kind in `limits`.
    #[must_use]
    pub fn max_in(self, limits: &Limits) -> usize {
        match self {
            Self::Operations => limits.max_operations,
            Self::DocumentBytes => limits.max_document_bytes,
            Self::Depth => limits.max_depth,
        }
    }

    pub(crate) fn error(self, limits: &Limits) -> PatchErrorKind {
        PatchErrorKind::LimitExceeded {
            limit: self,
            max: self.max_in(limits),
        }
    }
}

/// The one bound on every free-form JSON value that enters the store: each
/// value of a conversation's custom info (Zoho `customer_info`, SuperOffice
/// `CustomInfo`, HelpCrunch `customInfo`) and of a customer's custom data,
/// whichever dialect writes it.
///
/// A value may nest at most [`MAX_VALUE_DEPTH`] containers deep and take at
/// most [`MAX_VALUE_BYTES`] bytes of compact JSON. The depth is set well
/// below what anything that reads the value back can take, wherever the
/// value sits:
///
/// | where the value is read back | containers around it | the reader's limit |
/// |---|---|---|
/// | SuperOffice `ChatSession` document (`/CustomInfo/k`), which its JSON Patch checks | 2 | 32 ([`Limits::DEFAULT_MAX_DEPTH`]) |
/// | an outbox payload (`conversation.customInfo.k`) | 3 | 128 (serde_json's reader) |
/// | an outbox or history diff (`[{"value": {"customInfo": {"k": …}}}]`) | 4 | 128 |
///
/// so every dialect can read, render and patch a document holding it, and
/// storage can always read its events back.
///
/// ```
/// use serde_json::{Value, json};
/// use switchboard_domain::json::{LimitKind, MAX_VALUE_DEPTH, check_value};
///
/// let nested = |depth: usize| (0..depth).fold(json!(1), |v, _| Value::Array(vec![v]));
/// assert!(check_value(&nested(MAX_VALUE_DEPTH)).is_ok());
/// assert_eq!(check_value(&nested(MAX_VALUE_DEPTH + 1)), Err(LimitKind::Depth));
/// assert_eq!(check_value(&json!("x".repeat(5000))), Err(LimitKind::DocumentBytes));
/// ```
pub const MAX_VALUE_DEPTH: usize = 16;

/// Largest free-form JSON value, in bytes of compact JSON (see [`MAX_VALUE_DEPTH`]).
pub const MAX_VALUE_BYTES: usize = 4096;

/// Checks one free-form value against [`MAX_VALUE_DEPTH`] and
/// [`MAX_VALUE_BYTES`]; iterative, and stops at the first exceeded bound.
///
/// # Errors
/// [`LimitKind::Depth`] or [`LimitKind::DocumentBytes`].
pub fn check_value(v: &Value) -> Result<(), LimitKind> {
    measure(v, MAX_VALUE_DEPTH, MAX_VALUE_BYTES).map(|_| ())
}

/// Checks that `v` is within `limits.max_depth` and `limits.max_document_bytes`.
///
/// The walk is iterative and stops at the first exceeded bound.
///
/// # Errors
/// [`PatchErrorKind::LimitExceeded`] (with `index: None`) naming the bound.
///
/// ```
/// use serde_json::json;
/// use switchboard_domain::json::{Limits, check_document};
///
/// let limits = Limits { max_depth: 2, ..Limits::default() };
/// assert!(check_document(&json!({"a": [1]}), &limits).is_ok());
/// assert!(check_document(&json!({"a": [[1]]}), &limits).is_err());
/// ```
pub fn check_document(v: &Value, limits: &Limits) -> Result<(), PatchError> {
    measure(v, limits.max_depth, limits.max_document_bytes)
        .map(|_| ())
        .map_err(|kind| PatchError::new(kind.error(limits)))
}

/// Returns the compact serialized size of `v`, failing as soon as its depth
/// exceeds `max_depth` or its size exceeds `max_size`. Iterative; the work
/// done is bounded by the limits.
pub(crate) fn measure(v: &Value, max_depth: usize, max_size: usize) -> Result<usize, LimitKind> {
    let mut size = 0usize;
    let mut stack: Vec<(&Value, usize)> = Vec::new();
    let mut current = Some((v, 1usize));
    while let Some((value, level)) = current {
        match value {
            Value::Array(items) => {
                if level > max_depth {
                    return Err(LimitKind::Depth);
                }
                size = size.saturating_add(2 + items.len().saturating_sub(1));
                for item in items {
                    if is_container(item) {
                        stack.push((item, level + 1));
                    } else {
                        size = size.saturating_add(scalar_len(item));
                    }
                }
            }
            Value::Object(map) => {
                if level > max_depth {
                    return Err(LimitKind::Depth);
                }
                size = size.saturating_add(2 + map.len().saturating_sub(1));
                for (key, item) in map {
                    size = size.saturating_add(string_len(key) + 1);
                    if is_container(item) {
                        stack.push((item, level + 1));
                    } else {
                        size = size.saturating_add(scalar_len(item));
                    }
                }
            }
            scalar => size = size.saturating_add(scalar_len(scalar)),
        }
        if size > max_size {
            return Err(LimitKind::DocumentBytes);
        }
        current = stack.pop();
    }
    Ok(size)
}

fn is_container(v: &Value) -> bool {
    matches!(v, Value::Array(_) | Value::Object(_))
}

/// Serialized length of a scalar (containers report 0; [`measure`] handles them).
fn scalar_len(v: &Value) -> usize {
    match v {
        Value::Null | Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(n) => number_len(n),
        Value::String(s) => string_len(s),
        Value::Array(_) | Value::Object(_) => 0,
    }
}

/// Serialized length of a string including its quotes, with serde_json's escaping.
pub(crate) fn string_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    if !needs_escaping(bytes) {
        return bytes.len() + 2;
    }
    let extra: usize = bytes
        .iter()
        .map(|&b| match b {
            b'"' | b'\\' | 0x08 | 0x0C | b'\n' | b'\r' | b'\t' => 1,
            0x00..=0x1F => 5,
            _ => 0,
        })
        .sum();
    bytes.len() + 2 + extra
}

/// Whether any byte is a control character, `"` or `\\` (checked eight
/// bytes at a time: most strings need no escaping at all).
fn needs_escaping(bytes: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // Exact "some byte is zero" / "some byte is below n (n <= 128)" tests.
    let below = |x: u64, n: u8| x.wrapping_sub(LO * u64::from(n)) & !x & HI != 0;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        if below(x, 0x20)
            || below(x ^ (LO * u64::from(b'"')), 1)
            || below(x ^ (LO * u64::from(b'\\')), 1)
        {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

fn number_len(n: &Number) -> usize {
    if let Some(u) = n.as_u64() {
        digits(u)
    } else if let Some(i) = n.as_i64() {
        1 + digits(i.unsigned_abs())
    } else {
        let mut counter = CountingWriter(0);
        // Writing into a counter cannot fail.
        let _ = fmt::write(&mut counter, format_args!("{n}"));
        counter.0
    }
}

fn digits(mut u: u64) -> usize {
    let mut count = 1;
    while u >= 10 {
        u /= 10;
        count += 1;
    }
    count
}

struct CountingWriter(usize);

impl fmt::Write for CountingWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn size_matches_serde_json() {
        let values = [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(-1),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1.5),
            json!(-0.0),
            json!(1e300),
            json!("a\"b\\c\n\u{1}\u{7f}é"),
            json!({}),
            json!([]),
            json!({"a": [1, {"b": null}], "c~/": "x"}),
        ];
        for v in values {
            let Ok(size) = measure(&v, 64, usize::MAX) else {
                panic!("measure failed for {v}");
            };
            assert_eq!(
                size,
                serde_json::to_string(&v).map(|s| s.len()).unwrap_or(0),
                "{v}"
            );
        }
    }

    #[test]
    fn string_len_matches_serde_json() {
        let alphabet = [
            'a', '"', '\\', '\n', '\u{1}', '\u{1f}', ' ', '\u{7f}', 'é', '€', '/', '~',
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for len in 0..48 {
            for _ in 0..40 {
                let s: String = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        // Mostly plain letters, sometimes a special character.
                        let pick = (seed % 64) as usize;
                        alphabet.get(pick).copied().unwrap_or('x')
                    })
                    .collect();
                let expected = serde_json::to_string(&s).map(|j| j.len()).unwrap_or(0);
                assert_eq!(string_len(&s), expected, "{s:?}");
            }
        }
    }

    #[test]
    fn depth_counts_containers() {
        let depth = |v: Value| (0..10).find(|&d| measure(&v, d, usize::MAX).is_ok());
        assert_eq!(depth(json!(1)), Some(0));
        assert_eq!(depth(json!([])), Some(1));
        assert_eq!(depth(json!({"a": [1, []]})), Some(3));
        assert_eq!(
            measure(&json!([[[]]]), 2, usize::MAX).err(),
            Some(LimitKind::Depth)
        );
    }
}
