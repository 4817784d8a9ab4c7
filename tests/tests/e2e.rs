//! The end-to-end tests of Switchboard as one test binary: the real server
//! on a free port of 127.0.0.1, over SQLite and PostgreSQL (see the
//! harness in `switchboard_e2e`). One binary links the server once, and its
//! tests share one throwaway PostgreSQL cluster.
//!
//! The modules live in `tests/e2e/`, inside the inline `e2e` module (a
//! crate root would look for them beside itself, where Cargo takes every
//! file for a test binary of its own). `#[cfg(test)]` marks all of it as
//! test code, for the lints (clippy allows `unwrap`/`expect` there).

#[cfg(test)]
mod e2e {
    mod admin;
    mod common;
    mod console;
    mod console_views;
    mod contact;
    mod contract;
    mod every_dialect;
    mod faults;
    mod helpcrunch;
    mod input_guards;
    mod numbers;
    mod pipeline;
    mod query;
    mod retention;
    mod server;
    mod snapshots;
    mod superoffice;
    mod webhooks;
    mod zapier_sdk;
    mod zoho;
    mod zoho_chatbot;
}
