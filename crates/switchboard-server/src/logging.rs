//! Structured logging with `tracing`: a filter in `RUST_LOG` syntax and text
//! or JSON lines on standard error (standard output is left to the
//! command's own output, such as a new API key).

use anyhow::Context as _;
use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Installs the process-wide subscriber. `default_filter` applies when
/// `config.filter` is `None` (e.g. `"info"` for the server, `"warn"` for
/// admin commands). Call once, at the start of `main`.
///
/// # Errors
///
/// When the filter is invalid or a subscriber is already installed.
pub fn init(config: &LogConfig, default_filter: &str) -> anyhow::Result<()> {
    let filter_text = config.filter.as_deref().unwrap_or(default_filter);
    let filter = EnvFilter::try_new(filter_text)
        .with_context(|| format!("invalid log filter {filter_text:?}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let installed = match config.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            // The request's span carries its `request_id` into every line.
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}
