//! Reading `backend.listen`: `":7007"`, `"7007"`, `"host:port"` or
//! `{ host, port }`, with Backstage's defaults (all interfaces, port 7007).

use greenroom_backend_plugin_api::BackendError;
use greenroom_config::Config;
use serde_json::Value;

/// The port used when `backend.listen` does not name one.
pub const DEFAULT_PORT: u16 = 7007;

/// Where the server listens. An empty host means every interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenAddress {
    pub host: String,
    pub port: u16,
}

impl ListenAddress {
    /// Reads `backend.listen`. Errors name the key.
    pub fn from_config(config: &Config) -> Result<Self, BackendError> {
        match config.get_optional_value("backend.listen")? {
            None => Ok(Self {
                host: String::new(),
                port: DEFAULT_PORT,
            }),
            Some(Value::String(text)) => parse_listen_string(text),
            Some(_) => {
                // The object form; any other type fails here with the reader's
                // "wanted object" message, as in Backstage.
                let listen = config.get_config("backend.listen")?;
                let port = match listen.get_optional_number("port")? {
                    None => DEFAULT_PORT,
                    Some(n) => port_from_number(n).ok_or_else(|| {
                        BackendError::config(format!(
                            "Invalid port in config for key 'backend.listen.port': {n}, expected an integer from 0 to 65535"
                        ))
                    })?,
                };
                // An empty host is allowed here: it is the documented default.
                let host = match listen.get_optional_value("host")? {
                    Some(Value::String(h)) => h.clone(),
                    None => String::new(),
                    Some(_) => listen.get_string("host")?,
                };
                Ok(Self { host, port })
            }
        }
    }
}

fn parse_listen_string(text: &str) -> Result<ListenAddress, BackendError> {
    let error = || {
        BackendError::config(format!(
            "Unable to parse listen address {text}, expected <port> or <host>:<port> (config key 'backend.listen')"
        ))
    };
    let parts: Vec<&str> = text.split(':').collect();
    let port_text = parts.last().copied().unwrap_or_default();
    let port = parse_int_prefix(port_text)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(error)?;
    match parts.as_slice() {
        [_] => Ok(ListenAddress {
            host: String::new(),
            port,
        }),
        [host, _] => Ok(ListenAddress {
            host: (*host).to_owned(),
            port,
        }),
        _ => Err(error()),
    }
}

/// JavaScript's `parseInt(text, 10)`: optional leading whitespace and sign,
/// then as many decimal digits as there are; `None` when there are none.
fn parse_int_prefix(text: &str) -> Option<i64> {
    let trimmed = text.trim_start();
    let (negative, rest) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let digits: &str = &rest[..rest.bytes().take_while(u8::is_ascii_digit).count()];
    if digits.is_empty() {
        return None;
    }
    // Longer digit runs than any port are out of range anyway.
    let value: i64 = digits.get(..12).unwrap_or(digits).parse().ok()?;
    Some(if negative { -value } else { value })
}

fn port_from_number(n: f64) -> Option<u16> {
    if n.fract() == 0.0 && (0.0..=65535.0).contains(&n) {
        // The range check above makes the cast exact.
        Some(n as u16)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_prefix_follows_parse_int() {
        assert_eq!(parse_int_prefix("7007abc"), Some(7007));
        assert_eq!(parse_int_prefix(" 12"), Some(12));
        assert_eq!(parse_int_prefix("abc"), None);
        assert_eq!(parse_int_prefix(""), None);
        assert_eq!(parse_int_prefix("-5"), Some(-5));
    }
}
