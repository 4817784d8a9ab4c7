//! Tests of the `switchboard` binary as a process: its CLI, and webhook
//! delivery across processes that are killed and restarted. `#[cfg(test)]`
//! marks the modules as test code, for the lints.

#[cfg(test)]
mod server {
    mod cli;
    mod common;
    mod scaleout;
    mod webhook_processes;
}
