//! CORS from `backend.cors` (§2): origins as case-insensitive glob patterns,
//! plus methods, headers, credentials and max age. Without `backend.cors`
//! no CORS headers are sent at all.

use std::time::Duration;

use axum::http::{HeaderName, Method};
use greenroom_backend_plugin_api::BackendError;
use greenroom_config::Config;
use serde_json::Value;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer, ExposeHeaders};

/// The methods the `cors` package allows when none are configured.
const DEFAULT_METHODS: &[&str] = &["GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"];

/// Builds the CORS layer, or `None` when `backend.cors` is absent.
pub fn cors_layer(config: &Config) -> Result<Option<CorsLayer>, BackendError> {
    let Some(cors) = config.get_optional_config("backend.cors")? else {
        return Ok(None);
    };
    let credentials = cors.get_optional_bool("credentials")?.unwrap_or(false);
    let patterns = string_or_list(&cors, "origin")?.unwrap_or_default();
    let patterns: Vec<String> = patterns.iter().map(|p| p.to_ascii_lowercase()).collect();
    let mut layer = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin
                .to_str()
                .is_ok_and(|o| origin_allowed(&patterns, &o.to_ascii_lowercase()))
        }))
        .allow_credentials(credentials);

    let methods = string_or_list(&cors, "methods")?
        .unwrap_or_else(|| DEFAULT_METHODS.iter().map(|m| (*m).to_owned()).collect());
    let mut parsed = Vec::with_capacity(methods.len());
    for method in methods.iter().flat_map(|m| m.split(',')).map(str::trim) {
        // A literal `*` cannot be combined with credentials; tower-http would
        // refuse the configuration, so it is simply not sent.
        if method.is_empty() || method == "*" {
            continue;
        }
        parsed.push(Method::from_bytes(method.as_bytes()).map_err(|_| {
            BackendError::config(format!(
                "Invalid HTTP method '{method}' in config for key 'backend.cors.methods'"
            ))
        })?);
    }
    layer = layer.allow_methods(AllowMethods::list(parsed));

    layer = match string_or_list(&cors, "allowedHeaders")? {
        None => layer.allow_headers(AllowHeaders::mirror_request()),
        Some(names) => {
            layer.allow_headers(AllowHeaders::list(header_names(&names, "allowedHeaders")?))
        }
    };
    if let Some(names) = string_or_list(&cors, "exposedHeaders")? {
        layer = layer.expose_headers(ExposeHeaders::list(header_names(&names, "exposedHeaders")?));
    }
    if let Some(seconds) = cors.get_optional_number("maxAge")?
        && seconds.is_finite()
        && seconds >= 0.0
    {
        layer = layer.max_age(Duration::from_secs_f64(seconds.min(1e9)));
    }
    Ok(Some(layer))
}

/// A value that may be one string or a list of strings.
fn string_or_list(cors: &Config, key: &str) -> Result<Option<Vec<String>>, BackendError> {
    Ok(match cors.get(key) {
        None => None,
        Some(Value::String(_)) => Some(vec![cors.get_string(key)?]),
        Some(_) => cors.get_optional_string_array(key)?,
    })
}

fn header_names(names: &[String], key: &str) -> Result<Vec<HeaderName>, BackendError> {
    names
        .iter()
        .flat_map(|n| n.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty() && *n != "*")
        .map(|n| {
            HeaderName::from_bytes(n.as_bytes()).map_err(|_| {
                BackendError::config(format!(
                    "Invalid header name '{n}' in config for key 'backend.cors.{key}'"
                ))
            })
        })
        .collect()
}

fn origin_allowed(patterns: &[String], origin: &str) -> bool {
    patterns
        .iter()
        .any(|p| glob_match(p.as_bytes(), origin.as_bytes()))
}

/// Matches `text` against a glob pattern the way minimatch does with
/// `noglobstar`: `*` matches any run of characters other than `/`, `?` one such
/// character, `{a,b}` either alternative; everything else literally.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    // Braces are expanded first; nesting depth is bounded by the pattern size,
    // which comes from configuration.
    if let Some(open) = pattern.iter().position(|&b| b == b'{')
        && let Some(close_rel) = pattern[open..].iter().position(|&b| b == b'}')
    {
        let close = open + close_rel;
        let (head, inner, tail) = (
            &pattern[..open],
            &pattern[open + 1..close],
            &pattern[close + 1..],
        );
        return inner.split(|&b| b == b',').any(|alternative| {
            let mut expanded = Vec::with_capacity(pattern.len());
            expanded.extend_from_slice(head);
            expanded.extend_from_slice(alternative);
            expanded.extend_from_slice(tail);
            glob_match(&expanded, text)
        });
    }
    wildcard_match(pattern, text)
}

/// `*` / `?` matching with backtracking over the last star only, which is
/// linear in practice and never exponential.
fn wildcard_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(b'?') if text[t] != b'/' => {
                p += 1;
                t += 1;
            }
            Some(&c) if c != b'*' && c != b'?' && c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                // A star may not swallow a `/`.
                Some((sp, st)) if text[st] != b'/' => {
                    star = Some((sp, st + 1));
                    p = sp + 1;
                    t = st + 1;
                }
                _ => return false,
            },
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        let rows: &[(&str, &str, bool)] = &[
            ("https://*.example.com", "https://a.example.com", true),
            ("https://*.example.com", "https://evil.com", false),
            ("https://*.example.com", "https://a.b/c.example.com", false),
            (
                "http://localhost:{3000,7007}",
                "http://localhost:7007",
                true,
            ),
            (
                "http://localhost:{3000,7007}",
                "http://localhost:8080",
                false,
            ),
            ("http://h?st", "http://host", true),
            ("exact", "exact", true),
            ("exact", "exactly", false),
        ];
        for (pattern, text, expected) in rows {
            assert_eq!(
                glob_match(pattern.as_bytes(), text.as_bytes()),
                *expected,
                "{pattern} vs {text}"
            );
        }
    }
}
