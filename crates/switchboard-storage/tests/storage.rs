//! Integration tests of `switchboard-storage`.
//!
//! Every test runs against both backends: a fresh SQLite file in a temporary
//! directory and a fresh PostgreSQL database (from `switchboard-testsupport`;
//! skipped with a loud notice when PostgreSQL is unavailable, never in CI).
//! `#[cfg(test)]` marks the modules as test code, for the lints (clippy
//! allows `unwrap`/`expect` there).

#[cfg(test)]
mod storage {
    mod harness;

    mod admin;
    mod attributes;
    mod changes;
    mod concurrency;
    mod console;
    mod decoded;
    mod deliveries;
    mod disk_full;
    mod doc_cache;
    mod engine;
    mod entities;
    mod errors;
    mod fan_out_next;
    mod ids;
    mod import;
    mod isolation;
    mod nodes;
    mod outbox;
    mod poison;
    mod pool;
    mod query;
    mod retention;
    mod secrets;
    mod tenants;
    mod wal;
    mod webhook_admin;
}
