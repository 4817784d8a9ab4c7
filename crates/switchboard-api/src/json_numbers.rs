//! Number literals in JSON request bodies, read from the text itself:
//! serde_json reads an integer beyond 64 bits as a double (rounding it
//! silently) and keeps `-0.0`, which PostgreSQL's `numeric` cannot store.
//!
//! Both scans are linear, skip string contents (honouring escapes), and
//! start only when a cheap byte test says a case may be present. They
//! expect text that serde_json has accepted or is about to parse; on
//! malformed text they find nothing harmful, and the parser reports it.

use std::borrow::Cow;

/// Calls `found(start, token)` for every number token outside strings until
/// it returns `false`.
fn each_number<'t>(text: &'t [u8], mut found: impl FnMut(usize, &'t [u8]) -> bool) {
    let mut i = 0;
    let mut in_string = false;
    while let Some(&b) = text.get(i) {
        if in_string {
            match b {
                b'\\' => i += 2,
                b'"' => {
                    in_string = false;
                    i += 1;
                }
                _ => i += 1,
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while text
                    .get(i)
                    .is_some_and(|c| matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                {
                    i += 1;
                }
                if !found(start, &text[start..i]) {
                    return;
                }
            }
            _ => i += 1,
        }
    }
}

/// The first integer literal that does not fit in 64 bits (below
/// `-2^63` or above `2^64 - 1`). Decimal literals (with `.` or an
/// exponent) are doubles by definition and come back as the shortest text
/// of the same double, so they are never reported.
pub(crate) fn inexact_integer(text: &[u8]) -> Option<&str> {
    // The shortest integer that can overflow has 19 digits.
    const SHORTEST_OVERFLOW: usize = 19;
    let mut run = 0usize;
    if !text.iter().any(|b| {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        run >= SHORTEST_OVERFLOW
    }) {
        return None;
    }
    let mut inexact = None;
    each_number(text, |_, token| {
        let token = std::str::from_utf8(token).unwrap_or_default();
        let integer = !token.contains(['.', 'e', 'E']);
        if integer && token.parse::<i64>().is_err() && token.parse::<u64>().is_err() {
            inexact = Some(token);
        }
        inexact.is_none()
    });
    inexact
}

/// `text` with the sign of every negative zero (`-0`, `-0.0`, `-0e5`)
/// blanked out, so that it reads as zero; borrowed when there is none.
pub(crate) fn unsigned_zeros(text: &[u8]) -> Cow<'_, [u8]> {
    if !text.windows(2).any(|w| w == b"-0") {
        return Cow::Borrowed(text);
    }
    let mut signs = Vec::new();
    each_number(text, |start, token| {
        let zero = token.first() == Some(&b'-')
            && token
                .iter()
                .take_while(|c| !matches!(c, b'e' | b'E'))
                .all(|c| matches!(c, b'-' | b'0' | b'.'));
        if zero {
            signs.push(start);
        }
        true
    });
    if signs.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut owned = text.to_vec();
    for at in signs {
        owned[at] = b' ';
    }
    Cow::Owned(owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_integers_beyond_64_bits_are_inexact() {
        let cases: &[(&str, Option<&str>)] = &[
            (r#"{"a": 18446744073709551615}"#, None),
            (r#"{"a": -9223372036854775808}"#, None),
            (
                r#"{"a": 18446744073709551616}"#,
                Some("18446744073709551616"),
            ),
            (
                r#"{"a": -9223372036854775809}"#,
                Some("-9223372036854775809"),
            ),
            (
                r#"[1, 2, 123456789012345678901234567890]"#,
                Some("123456789012345678901234567890"),
            ),
            // decimals are doubles, however many digits they have
            (r#"{"a": 1234567890123456789012345.5}"#, None),
            (r#"{"a": 12345678901234567890123e0}"#, None),
            // digits inside strings, keys and escapes are not numbers
            (
                r#"{"123456789012345678901234": "123456789012345678901234"}"#,
                None,
            ),
            (r#"{"a": "\" 123456789012345678901234 \""}"#, None),
            (
                r#"{"a\\": 99999999999999999999}"#,
                Some("99999999999999999999"),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(inexact_integer(text.as_bytes()), *expected, "{text}");
        }
    }

    #[test]
    fn negative_zeros_lose_their_sign_and_nothing_else_changes() {
        let cases: &[(&str, &str)] = &[
            (
                r#"[-0, -0.0, -0e7, -0.000E-2]"#,
                r#"[ 0,  0.0,  0e7,  0.000E-2]"#,
            ),
            (
                r#"[-0.5, -10, -0.01, 0, -1e-0]"#,
                r#"[-0.5, -10, -0.01, 0, -1e-0]"#,
            ),
            (
                r#"{"-0": "-0", "a": "x\"-0"}"#,
                r#"{"-0": "-0", "a": "x\"-0"}"#,
            ),
        ];
        for (text, expected) in cases {
            let out = unsigned_zeros(text.as_bytes());
            assert_eq!(std::str::from_utf8(&out).unwrap(), *expected, "{text}");
        }
        assert!(matches!(unsigned_zeros(b"[-1.5]"), Cow::Borrowed(_)));
    }
}
