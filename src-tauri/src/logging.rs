//! Logging for the tray binary: a log file in `<config>/logs/pim-tray.log` (appended) plus
//! stderr, filtered by `RUST_LOG` (default `info`). Tokens are never logged (they only exist
//! inside pim-auth's `Secret`).

use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

/// Installs the subscriber. Failing to open the file falls back to stderr only.
pub fn init(config_dir: &Path) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let dir = config_dir.join("logs");
    let file = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("pim-tray.log"))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false);
    let result = match file {
        Ok(f) => builder
            .with_writer(Mutex::new(f).and(std::io::stderr))
            .try_init(),
        Err(_) => builder.with_writer(std::io::stderr).try_init(),
    };
    let _ = result;
}
