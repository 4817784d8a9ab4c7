//! The end-to-end tests of Switchboard as one test binary: the real server
//! on a free port of 127.0.0.1, over SQLite and PostgreSQL (see the
//! harness in `switchboard_e2e`). One binary links the server once, and its
//! tests share one throwaway PostgreSQL cluster.
//!
//! The modules live in `tests/e2e/`. A crate root looks for its modules
//! beside itself (`tests/<name>.rs`), where Cargo would take every file for
//! a test binary of its own, hence the `#[path]` attributes.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[path = "e2e/common.rs"]
mod common;
#[path = "e2e/helpcrunch.rs"]
mod helpcrunch;
#[path = "e2e/server.rs"]
mod server;
#[path = "e2e/snapshots.rs"]
mod snapshots;
#[path = "e2e/superoffice.rs"]
mod superoffice;
#[path = "e2e/webhooks.rs"]
mod webhooks;
#[path = "e2e/zoho_chatbot.rs"]
mod zoho_chatbot;
