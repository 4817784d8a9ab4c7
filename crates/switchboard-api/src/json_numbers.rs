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

/// `text` with every number literal put in the form that both backends
/// give back: the sign of a negative zero (`-0`, `-0.0`, `-0e5`) blanked
/// out, so that it reads as zero (PostgreSQL's `numeric` has no negative
/// zero); and a decimal of magnitude `1e16` or more that fits in 64 bits
/// (`2.9017842853720090e17`, `12345678901234567.5`) written out as the
/// integer of its shortest double text (`290178428537200900`,
/// `12345678901234568`). Such a double is stored as `2.9…e17`, which
/// PostgreSQL's `jsonb` writes out as that integer; doing it on the way in
/// makes every backend answer alike. Borrowed when nothing changes.
pub(crate) fn canonical_numbers(text: &[u8]) -> Cow<'_, [u8]> {
    let negative_zero = text.windows(2).any(|w| w == b"-0");
    let exponent = text.iter().any(|b| matches!(b, b'e' | b'E'));
    if !negative_zero && !exponent {
        return Cow::Borrowed(text);
    }
    let mut edits: Vec<(usize, usize, Vec<u8>)> = Vec::new();
    each_number(text, |start, token| {
        if is_negative_zero(token) {
            edits.push((start, start + 1, b" ".to_vec()));
        } else if let Some(integer) = large_decimal(token) {
            edits.push((start, start + token.len(), integer.into_bytes()));
        }
        true
    });
    if edits.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut owned = Vec::with_capacity(text.len());
    let mut at = 0;
    for (start, end, with) in edits {
        owned.extend_from_slice(&text[at..start]);
        owned.extend_from_slice(&with);
        at = end;
    }
    owned.extend_from_slice(&text[at..]);
    Cow::Owned(owned)
}

fn is_negative_zero(token: &[u8]) -> bool {
    token.first() == Some(&b'-')
        && token
            .iter()
            .take_while(|c| !matches!(c, b'e' | b'E'))
            .all(|c| matches!(c, b'-' | b'0' | b'.'))
}

/// For a decimal literal (with `.` or an exponent) whose double is `1e16`
/// or more in magnitude, the integer of the double's shortest text, when
/// that fits in 64 bits.
fn large_decimal(token: &[u8]) -> Option<String> {
    if !token.iter().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        return None;
    }
    let double: f64 = std::str::from_utf8(token).ok()?.parse().ok()?;
    if !double.is_finite() || double.abs() < 1e16 {
        return None;
    }
    whole_exponent(&format!("{double:e}"))
}

/// The integer a literal with an exponent names, written out, when it is a
/// whole number that fits in 64 bits.
pub(crate) fn whole_exponent(token: &str) -> Option<String> {
    let (mantissa, exponent) = token.split_once(['e', 'E'])?;
    let exponent: i32 = exponent.parse().ok().filter(|e: &i32| e.abs() <= 40)?;
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    // The decimal point sits after `point` digits.
    let point = i32::try_from(whole.len()).ok()? + exponent;
    let point = usize::try_from(point).ok()?;
    let integer = if point >= digits.len() {
        format!("{digits}{}", "0".repeat(point - digits.len()))
    } else if digits[point..].bytes().all(|b| b == b'0') {
        digits[..point].to_string()
    } else {
        return None;
    };
    let integer = integer.trim_start_matches('0');
    let integer = if integer.is_empty() { "0" } else { integer };
    let text = if negative {
        format!("-{integer}")
    } else {
        integer.to_string()
    };
    (text.parse::<i64>().is_ok() || text.parse::<u64>().is_ok()).then_some(text)
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
    fn large_decimals_are_written_out_as_integers() {
        let cases: &[(&str, &str)] = &[
            (
                r#"[2.9017842853720090e17, -2.5e+16, 12345678901234567.5, 1E16]"#,
                r#"[290178428537200900, -25000000000000000, 12345678901234568, 10000000000000000]"#,
            ),
            // below 1e16, beyond 64 bits, integers, or in strings: unchanged
            (
                r#"[1e2, 1.5e-3, 9.9e15, 1e20, 12345678901234567, "1e17"]"#,
                r#"[1e2, 1.5e-3, 9.9e15, 1e20, 12345678901234567, "1e17"]"#,
            ),
        ];
        for (text, expected) in cases {
            let out = canonical_numbers(text.as_bytes());
            assert_eq!(std::str::from_utf8(&out).unwrap(), *expected, "{text}");
        }
        assert!(matches!(
            canonical_numbers(br#"{"true": true}"#),
            Cow::Borrowed(_)
        ));
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
            let out = canonical_numbers(text.as_bytes());
            assert_eq!(std::str::from_utf8(&out).unwrap(), *expected, "{text}");
        }
        assert!(matches!(canonical_numbers(b"[-1.5]"), Cow::Borrowed(_)));
    }
}
