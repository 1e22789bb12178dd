//! Tracing set-up. In Lambda, logs are JSON lines (CloudWatch and the template's JSON log format
//! expect that) without ANSI colours or timestamps of our own (Lambda adds them). Locally, the
//! human format is used. Log lines never carry secrets, tokens or evidence bodies: handlers log ids
//! and codes only.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber for a Lambda process (`RUST_LOG` sets the level, default `info`).
pub fn init_lambda() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(true)
        .without_time()
        .with_ansi(false)
        .try_init();
}

/// Installs the human-readable subscriber for the local platform and the CLI.
pub fn init_local(default_level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
}
