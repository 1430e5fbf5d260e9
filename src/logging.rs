//! Where tracing goes: with `RUST_LOG` set, to stderr with that filter; otherwise to `ledgerlink.log` in the
//! data dir at `info`, so the console shows the progress lines and the summary, not log noise.

use std::fs::OpenOptions;
use std::path::Path;

use tracing_subscriber::EnvFilter;

/// The log file's name inside the data dir.
pub const LOG_FILE: &str = "ledgerlink.log";

/// Installs the global subscriber. Returns where the logs go, for the start-up banner.
pub fn init(data_dir: &Path) -> std::io::Result<String> {
    if let Ok(filter) = std::env::var("RUST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .try_init();
        return Ok("stderr (RUST_LOG)".to_owned());
    }
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join(LOG_FILE);
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("info"))
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
    Ok(path.display().to_string())
}
