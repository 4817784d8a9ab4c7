//! Switchboard's load benchmark (issue #8), as a library so its pieces are
//! tested on their own; the `switchboard-loadgen` binary wires them up.
//!
//! - [`load`]: closed-loop HTTP/1.1 connections with an HDR histogram.
//! - [`scenario`]: the four workloads (SuperOffice PATCH and GET, HelpCrunch
//!   PATCH, chatbot email PUT with a Zapier subscription).
//! - [`dataset`]: the tenant, key, customers and conversations they use.
//! - [`server`]: the real `switchboard` binary as a child process.
//! - [`ceiling`]: `pgbench` and a bare SQLite connection doing one row
//!   UPDATE plus one outbox INSERT per transaction.
//! - [`system`]: load average, other processes' CPU, peak RSS.
//! - [`bench`](mod@bench): the whole run; [`report`] and [`chart`] turn it into
//!   `docs/benchmarks.md` and an SVG.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use switchboard_loadgen::load::{Plan, drive};
//! use switchboard_loadgen::scenario::SoGet;
//! let addr = "127.0.0.1:8080".parse()?;
//! let workload = Arc::new(SoGet::new(vec![1, 2, 3]));
//! let plan = Plan::new(8, Duration::from_secs(1), Duration::from_secs(5));
//! let outcome = drive(addr, "Bearer sbk_…", workload, &plan).await?;
//! println!("{:.0} req/s, p99 {} µs", outcome.measurement.throughput(),
//!          outcome.measurement.latency.p99_us);
//! # Ok(()) }
//! ```

pub mod bench;
pub mod ceiling;
pub mod chart;
pub mod dataset;
pub mod load;
pub mod model;
pub mod query;
pub mod report;
pub mod scenario;
pub mod server;
pub mod system;
