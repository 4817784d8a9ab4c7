//! The error type of this crate.

use std::io;
use std::sync::Arc;

/// Everything that can go wrong while providing a PostgreSQL server or database.
///
/// The error is `Clone` so that the process-wide server (see [`crate::postgres`])
/// can hand the same failure to every test that asks for it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O operation (creating directories, spawning a program, ...) failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being attempted.
        context: String,
        /// The underlying error.
        #[source]
        source: Arc<io::Error>,
    },

    /// An external program (`initdb`, `psql`, ...) exited unsuccessfully.
    #[error("`{command}` failed ({status}):\n{output}")]
    Command {
        /// The command line that was run.
        command: String,
        /// How it exited.
        status: String,
        /// Its combined stdout and stderr.
        output: String,
    },

    /// The throwaway server did not come up.
    #[error("the throwaway PostgreSQL server failed to start: {reason}\n--- server log ---\n{log}")]
    ServerStart {
        /// Why starting was considered failed.
        reason: String,
        /// The contents of the server log file.
        log: String,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source: Arc::new(source),
        }
    }
}
