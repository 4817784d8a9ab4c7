//! Tests of `switchboard-domain`'s public API: entities and their updates,
//! events, the JSON document engine (table-driven and property tests) and
//! the RFC 6902 / RFC 7396 conformance suites. `#[cfg(test)]` marks the
//! modules as test code, for the lints.

#[cfg(test)]
mod domain {
    mod conformance;
    mod conversation_update;
    mod entities;
    mod events;
    mod json_cases;
    mod json_props;
    mod query;
    mod support;
}
