//! Parsing PostgreSQL connection strings into connection fields.
//!
//! Backstage turns a `connection` string into an object before merging the
//! per-plugin overrides over it, so a URL is split into host, port, user,
//! password, database and the TLS / application-name parameters here.

use crate::settings::{PgFields, PgSsl, PgSslMode};

/// The longest connection string accepted; real ones are far shorter.
const MAX_URL_LEN: usize = 4096;

/// Parses `postgres://user:password@host:port/database?sslmode=…`.
///
/// The error is a sentence meant to follow the key name.
pub(crate) fn parse_pg_url(input: &str) -> Result<PgFields, String> {
    if input.len() > MAX_URL_LEN {
        return Err(format!(
            "the connection string is longer than {MAX_URL_LEN} characters"
        ));
    }
    let url = url::Url::parse(input)
        .map_err(|e| format!("could not parse the connection string as a postgres:// URL ({e})"))?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err(format!(
            "the connection string must start with postgres:// or postgresql://, got scheme \"{}\"",
            url.scheme()
        ));
    }
    let mut fields = PgFields {
        host: url
            .host_str()
            .filter(|h| !h.is_empty())
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned()),
        port: url.port(),
        user: match url.username() {
            "" => None,
            u => Some(percent_decode(u)?),
        },
        password: url.password().map(percent_decode).transpose()?,
        database: match url.path().trim_start_matches('/') {
            "" => None,
            d => Some(percent_decode(d)?),
        },
        ..PgFields::default()
    };
    for (name, value) in url.query_pairs() {
        match name.as_ref() {
            "sslmode" => {
                fields.ssl = Some(PgSsl {
                    mode: parse_ssl_mode(&value)?,
                    ..PgSsl::default()
                });
            }
            "ssl" => {
                let mode = match value.as_ref() {
                    "true" | "1" => PgSslMode::VerifyFull,
                    "false" | "0" => PgSslMode::Disable,
                    other => return Err(format!("invalid ssl parameter \"{other}\"")),
                };
                fields.ssl = Some(PgSsl {
                    mode,
                    ..PgSsl::default()
                });
            }
            "application_name" => fields.application_name = Some(value.into_owned()),
            "host" => fields.host = Some(value.into_owned()),
            // Other libpq parameters have no counterpart here; pg ignores
            // unknown ones as well.
            _ => {}
        }
    }
    Ok(fields)
}

/// Maps a libpq `sslmode` to our TLS mode.
pub(crate) fn parse_ssl_mode(value: &str) -> Result<PgSslMode, String> {
    Ok(match value {
        "disable" => PgSslMode::Disable,
        "allow" | "prefer" => PgSslMode::Prefer,
        "require" | "no-verify" => PgSslMode::Require,
        "verify-ca" => PgSslMode::VerifyCa,
        "verify-full" => PgSslMode::VerifyFull,
        other => {
            return Err(format!(
                "invalid sslmode \"{other}\", expected disable, allow, prefer, require, no-verify, verify-ca or verify-full"
            ));
        }
    })
}

/// Decodes `%XX` escapes (user names and passwords may contain `@` or `:`).
fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| "invalid percent-escape in the connection string".to_owned())?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| "the connection string is not valid UTF-8 once decoded".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_parts_of_a_url() {
        let f = parse_pg_url(
            "postgresql://bs%40x:p%3Aw@db.internal:6543/cat?sslmode=require&application_name=me",
        )
        .unwrap_or_default();
        assert_eq!(f.host.as_deref(), Some("db.internal"));
        assert_eq!(f.port, Some(6543));
        assert_eq!(f.user.as_deref(), Some("bs@x"));
        assert_eq!(f.password.as_deref(), Some("p:w"));
        assert_eq!(f.database.as_deref(), Some("cat"));
        assert_eq!(f.ssl.map(|s| s.mode), Some(PgSslMode::Require));
        assert_eq!(f.application_name.as_deref(), Some("me"));
    }

    #[test]
    fn rejects_bad_strings() {
        for bad in [
            "not a url",
            "mysql://h/db",
            "postgres://h:99999/db",
            "postgres://h/db?sslmode=sometimes",
            "postgres://u%zz@h/db",
        ] {
            assert!(parse_pg_url(bad).is_err(), "{bad} was accepted");
        }
    }
}
