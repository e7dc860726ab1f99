//! Process-wide logging over `tracing`: readable text by default, JSON lines
//! when `backend.logger.format: json` (a Greenroom key) or `LOG_FORMAT=json`;
//! the level from `LOG_LEVEL`, else `backend.logger.level`, else `info`.

use greenroom_backend_plugin_api::BackendError;
use greenroom_config::Config;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Calling it again keeps the first one, so
/// tests may call it freely. Bad settings are errors naming the key.
pub fn init_logging(config: &Config) -> Result<(), BackendError> {
    let level = match std::env::var("LOG_LEVEL") {
        Ok(level) if !level.trim().is_empty() => level,
        _ => config
            .get_optional_string("backend.logger.level")?
            .unwrap_or_else(|| "info".to_owned()),
    };
    let level = level.trim().to_ascii_lowercase();
    if !matches!(
        level.as_str(),
        "error" | "warn" | "info" | "debug" | "trace"
    ) {
        return Err(BackendError::config(format!(
            "Invalid log level '{level}' in config for key 'backend.logger.level' (or LOG_LEVEL), expected one of error, warn, info, debug, trace"
        )));
    }
    let json = match std::env::var("LOG_FORMAT") {
        Ok(format) if !format.trim().is_empty() => format.trim().eq_ignore_ascii_case("json"),
        _ => match config
            .get_optional_string("backend.logger.format")?
            .as_deref()
        {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => {
                return Err(BackendError::config(format!(
                    "Invalid log format '{other}' in config for key 'backend.logger.format', expected text or json"
                )));
            }
        },
    };
    let filter = EnvFilter::new(&level);
    // Colours only for a terminal: escape codes in a log file or a pipe are noise.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stdout);
    // `try_init` fails only when a subscriber is already installed, which is
    // the idempotence promised above.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
    Ok(())
}
