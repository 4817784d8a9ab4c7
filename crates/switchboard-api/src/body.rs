//! Bounded body reading and JSON parsing that names the offending field.

use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::ApiError;
use crate::json_numbers;

/// The media type of the request body, lower-cased without parameters
/// (`application/json; charset=utf-8` → `application/json`); `None` when
/// there is no `Content-Type`, an empty string when it is not text.
#[must_use]
pub fn media_type(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(actix_web::http::header::CONTENT_TYPE)?;
    Some(value.to_str().map_or_else(
        |_| String::new(),
        |v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        },
    ))
}

/// Whether `media` is a JSON media type: `application/json`, `text/json`,
/// or a `+json` structured syntax (RFC 6839, e.g. `application/merge-patch+json`).
#[must_use]
pub fn is_json(media: &str) -> bool {
    matches!(media, "application/json" | "text/json")
        || media
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json") && sub.len() > "+json".len())
}

/// Refuses a body that says it is not JSON (`415`): every dialect's bodies
/// are JSON. A missing `Content-Type` is accepted as JSON: no vendor's
/// documentation asks for the header, and the body is still parsed
/// strictly. `text/plain`, `application/xml`, form encodings and the rest
/// are refused before the body is read, so nothing is written.
pub fn require_json(req: &HttpRequest) -> Result<(), ApiError> {
    match media_type(req) {
        None => Ok(()),
        Some(media) if is_json(&media) => Ok(()),
        Some(media) => Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type {} is not supported; send the body as JSON with Content-Type: application/json",
            if media.is_empty() {
                "(unreadable)"
            } else {
                &media
            }
        ))),
    }
}

/// Reads the whole body, refusing more than `limit` bytes (413) without
/// buffering past the limit.
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => ApiError::PayloadTooLarge(limit),
            other => ApiError::bad_request("body", "invalid_body", other.to_string()),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The JSON type a body's top level must have. Checked before parsing,
/// because serde would otherwise accept a struct written as an array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{…}`.
    Object,
    /// `[…]`.
    Array,
}

/// [`read_json`] of a JSON object, within the server's body limit: the
/// body of most writes.
pub async fn read_object<T: DeserializeOwned>(
    state: &crate::AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    read_json(req, payload, state.config().body_limit, Shape::Object).await
}

/// Reads a bounded JSON body (see [`require_json`] and [`read_body`])
/// whose top level must be `shape`, and parses it into `T` (see
/// [`parse_json`]).
pub async fn read_json<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    shape: Shape,
) -> Result<T, ApiError> {
    require_json(req)?;
    let bytes = read_body(payload, limit).await?;
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    match (first, shape) {
        (None, _) | (Some(b'{'), Shape::Object) | (Some(b'['), Shape::Array) => {}
        (Some(_), Shape::Object) => {
            return Err(ApiError::bad_request(
                "body",
                "invalid_json",
                "the body must be a JSON object",
            ));
        }
        (Some(_), Shape::Array) => {
            return Err(ApiError::bad_request(
                "body",
                "invalid_json",
                "the body must be a JSON array",
            ));
        }
    }
    parse_json(&bytes)
}

/// Parses JSON into `T`. Invalid UTF-8, malformed JSON, wrong types and
/// unknown fields become a 400 naming the field (`field_name` renders the
/// serde path, e.g. `customData[0].value`, the dialect's way).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::bad_request(
            "body",
            "invalid_utf8",
            "the body is not valid UTF-8",
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "body",
            "invalid_json",
            "the body is empty; a JSON document is required",
        ));
    }
    // Numbers are put in the form both backends give back (PostgreSQL's
    // numeric has no negative zero and writes `1e2` as `100`).
    let bytes = &*json_numbers::canonical_numbers(bytes);
    // A body that parses is parsed once, without following the parser's
    // path (which costs a step per member and element); only a body that
    // fails is parsed again, along its path, to name where.
    let value = serde_json::from_slice(bytes).map_err(|_| located_error::<T>(bytes))?;
    if let Some(number) = json_numbers::inexact_integer(bytes) {
        let shown: String = number.chars().take(40).collect();
        let ellipsis = if shown.len() < number.len() {
            "…"
        } else {
            ""
        };
        return Err(ApiError::bad_request(
            "body",
            "number_out_of_range",
            format!(
                "the integer {shown}{ellipsis} cannot be stored exactly: integers must lie \
                 between -9223372036854775808 and 18446744073709551615; send larger ones as strings"
            ),
        ));
    }
    Ok(value)
}

/// The error of `bytes`, which do not parse as a `T`: parsed again along
/// the serde path, which names the field a wrong value or an unknown
/// member is at, or says what is malformed.
fn located_error<T: DeserializeOwned>(bytes: &[u8]) -> ApiError {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let err = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Err(e) => e,
        Ok(_) => {
            let detail = match de.end() {
                Err(e) => format!("malformed JSON: {e}"),
                Ok(()) => "malformed JSON".to_string(),
            };
            return ApiError::bad_request("body", "invalid_json", detail);
        }
    };
    let path = err.path().to_string();
    let inner = err.into_inner();
    if inner.is_syntax() || inner.is_eof() {
        return ApiError::bad_request("body", "invalid_json", format!("malformed JSON: {inner}"));
    }
    let field = if path == "." {
        "body".to_string()
    } else {
        path
    };
    let raw = strip_position(&inner.to_string());
    let message = switchboard_domain::json::wording::plain(&raw);
    let code = if raw.starts_with("unknown field") {
        "unknown_field"
    } else {
        "invalid_value"
    };
    ApiError::bad_request(field, code, message)
}

/// serde_json appends " at line 1 column 5"; the field name says more.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "only parsing is tested")]
    struct Body {
        name: Option<String>,
        seats: Option<u32>,
    }

    #[test]
    fn numbers_beyond_64_bits_are_refused_and_negative_zero_is_zero() {
        match parse_json::<serde_json::Value>(br#"{"a": [1, 18446744073709551616]}"#) {
            Err(ApiError::BadRequest(errors)) => assert_eq!(errors[0].code, "number_out_of_range"),
            other => panic!("{other:?}"),
        }
        let v: serde_json::Value = parse_json(br#"{"a": [-0.0, -0, -0e3, -0.5, "-0"]}"#).unwrap();
        assert_eq!(v.to_string(), r#"{"a":[0.0,0,0.0,-0.5,"-0"]}"#);
    }

    #[test]
    fn json_media_types() {
        for (media, json) in [
            ("application/json", true),
            ("text/json", true),
            ("application/merge-patch+json", true),
            ("application/json-patch+json", true),
            ("application/+json", false),
            ("text/plain", false),
            ("application/xml", false),
            ("text/xml", false),
            ("application/x-www-form-urlencoded", false),
            ("multipart/form-data", false),
            ("application/jsonp", false),
            ("", false),
        ] {
            assert_eq!(is_json(media), json, "{media}");
        }
    }

    #[test]
    fn parse_errors_speak_json_not_rust() {
        for (input, want) in [
            (
                &b"{\"seats\": \"x\"}"[..],
                "must be an integer of 0 or more, not a string",
            ),
            (b"{\"name\": [1]}", "must be a string, not an array"),
            (
                b"{\"bogus\": 1}",
                "unknown field bogus; known fields: name, seats",
            ),
        ] {
            match parse_json::<Body>(input) {
                Err(ApiError::BadRequest(errors)) => assert_eq!(errors[0].message, want),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn parse_errors_name_the_field() {
        let cases: &[(&[u8], &str, &str)] = &[
            (b"{\"name\": 5}", "name", "invalid_value"),
            (b"{\"seats\": \"x\"}", "seats", "invalid_value"),
            (b"{\"bogus\": 1}", "bogus", "unknown_field"),
            (b"{\"name\": ", "body", "invalid_json"),
            (b"", "body", "invalid_json"),
            (b"{} {}", "body", "invalid_json"),
            (b"{\"name\": \"\xff\"}", "body", "invalid_utf8"),
        ];
        for (input, field, code) in cases {
            match parse_json::<Body>(input) {
                Err(ApiError::BadRequest(errors)) => {
                    assert_eq!(
                        (errors[0].field.as_str(), errors[0].code.as_str()),
                        (*field, *code),
                        "{:?}",
                        String::from_utf8_lossy(input)
                    );
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
