//! Tests of the HTTP layer that need no server: the OpenAPI document.
//! `#[cfg(test)]` marks the modules as test code, for the lints.

#[cfg(test)]
mod api {
    mod openapi;
}
