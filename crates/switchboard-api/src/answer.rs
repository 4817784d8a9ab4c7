//! JSON answers written into a buffer sized for them up front.
//!
//! `HttpResponseBuilder::json` writes into an empty buffer that doubles as
//! it fills, copying what it holds each time: a page of rows is copied
//! several times over before it is sent. A page's answer is about its rows
//! times what one row takes, so it can start at that size.
//!
//! The JSON is written by `sonic_rs` (through the same `Serialize`
//! implementations), whose string escaping scans with SIMD: 4.3% fewer
//! instructions a HelpCrunch chat page than `serde_json` on the million-row
//! benchmark file (`docs/benchmarks.md`, "A SIMD JSON writer for pages").
//! Its bytes are serde_json's; a test holds it to that on numbers at their
//! edges and on strings JSON must escape.

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, HttpResponseBuilder};
use serde::Serialize;

use crate::ApiError;

/// The largest buffer an answer starts with, whatever its hint.
const MAX_START: usize = 1 << 20;

/// An answer whose body is `value` as JSON (`application/json`), written
/// into a buffer of `size_hint` bytes to start with (at most 1 MiB).
///
/// # Errors
/// [`ApiError::Internal`] if `value` cannot be written as JSON (a map
/// with keys that are not strings; no answer of ours has one).
pub fn json_sized<T: Serialize>(
    mut builder: HttpResponseBuilder,
    value: &T,
    size_hint: usize,
) -> Result<HttpResponse, ApiError> {
    let mut out = Vec::with_capacity(size_hint.min(MAX_START));
    sonic_rs::to_writer(&mut out, value).map_err(|_| ApiError::Internal)?;
    Ok(builder.content_type(ContentType::json()).body(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    #[test]
    fn writes_the_same_json_as_the_builder_whatever_the_hint() {
        let value =
            serde_json::json!({"data": [{"id": 1, "name": "Zoë \"Q\""}], "meta": {"total": 1}});
        for hint in [0, 3, 10_000, usize::MAX] {
            let answer = json_sized(HttpResponse::Ok(), &value, hint).expect("answer");
            assert_eq!(
                answer.headers().get("content-type").map(|v| v.as_bytes()),
                Some(&b"application/json"[..])
            );
            let body = answer.into_body().try_into_bytes().expect("bytes");
            assert_eq!(body, serde_json::to_vec(&value).expect("json"));
        }
    }

    /// The writer gives serde_json's bytes, value for value: numbers at
    /// their edges, strings JSON must escape, and what it need not.
    #[test]
    fn sonic_writes_serde_jsons_bytes() {
        let strings = [
            "",
            "plain",
            "quote \" and backslash \\",
            "/slash",
            "\u{0}\u{1}\u{1f}\u{7f}",
            "\n\r\t\u{8}\u{c}",
            "Zoë Ω 東京 🦀",
            "\u{2028}\u{2029}",
            "<script>&amp;</script>",
            "a very long string that is longer than any SIMD register used for the scan, \
             with an escape \" near its end and more after it to cross a lane",
        ];
        let floats = [
            0.0,
            -0.0,
            0.1,
            1.5,
            -2.25,
            1e20,
            1e21,
            1e-7,
            5e-324,
            1.7976931348623157e308,
            123456789.125,
            f64::EPSILON,
            960_349.694_985_164_1,
            2.901_784_285_372_009e17,
        ];
        let mut values: Vec<serde_json::Value> = Vec::new();
        values.extend(strings.iter().map(|s| serde_json::json!(s)));
        values.extend(strings.iter().map(|s| serde_json::json!({ *s: 1 })));
        values.extend(floats.iter().map(|f| serde_json::json!(f)));
        values.extend(
            [i64::MIN, -1, 0, 1, 290_178_428_537_200_900, i64::MAX]
                .iter()
                .map(|n| serde_json::json!(n)),
        );
        values.push(serde_json::json!(u64::MAX));
        values.push(serde_json::json!({"a": [null, true, false, {}, [], {"b": [1.0, -0.5]}]}));
        values.push(serde_json::Value::Array(values.clone()));
        for value in &values {
            let answer = json_sized(HttpResponse::Ok(), value, 0).expect("answer");
            let body = answer.into_body().try_into_bytes().expect("bytes");
            let want = serde_json::to_vec(value).expect("json");
            assert_eq!(
                String::from_utf8_lossy(&body),
                String::from_utf8_lossy(&want),
                "{value:?}"
            );
        }
    }

    #[test]
    fn a_map_with_keys_that_are_not_strings_is_an_internal_error() {
        let value = std::collections::BTreeMap::from([((1, 2), 3)]);
        assert!(matches!(
            json_sized(HttpResponse::Ok(), &value, 16),
            Err(ApiError::Internal)
        ));
    }
}
