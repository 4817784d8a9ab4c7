//! JSON answers written into a buffer sized for them up front.
//!
//! `HttpResponseBuilder::json` writes into an empty buffer that doubles as
//! it fills, copying what it holds each time: a page of rows is copied
//! several times over before it is sent. A page's answer is about its rows
//! times what one row takes, so it can start at that size.

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
    serde_json::to_writer(&mut out, value).map_err(|_| ApiError::Internal)?;
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

    #[test]
    fn a_map_with_keys_that_are_not_strings_is_an_internal_error() {
        let value = std::collections::BTreeMap::from([((1, 2), 3)]);
        assert!(matches!(
            json_sized(HttpResponse::Ok(), &value, 16),
            Err(ApiError::Internal)
        ));
    }
}
