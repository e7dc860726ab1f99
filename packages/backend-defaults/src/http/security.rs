//! Security headers (§3.6): helmet's defaults as Backstage configures them,
//! with the Content-Security-Policy built from `backend.csp`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use greenroom_backend_plugin_api::BackendError;
use greenroom_config::Config;
use serde_json::Value;

/// The headers added to every response that does not set them itself.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    headers: Arc<Vec<(HeaderName, HeaderValue)>>,
}

/// helmet's default CSP directives, in helmet's order.
fn default_directives() -> Vec<(String, Vec<String>)> {
    let d = |name: &str, values: &[&str]| {
        (
            name.to_owned(),
            values.iter().map(|v| (*v).to_owned()).collect(),
        )
    };
    vec![
        d("default-src", &["'self'"]),
        d("base-uri", &["'self'"]),
        d("font-src", &["'self'", "https:", "data:"]),
        d("form-action", &["'self'"]),
        d("frame-ancestors", &["'self'"]),
        d("img-src", &["'self'", "data:"]),
        d("object-src", &["'none'"]),
        d("script-src", &["'self'"]),
        d("script-src-attr", &["'none'"]),
        d("style-src", &["'self'", "https:", "'unsafe-inline'"]),
        d("upgrade-insecure-requests", &[]),
    ]
}

/// `scriptSrc` → `script-src`.
fn kebab_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('-');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The Content-Security-Policy value for this configuration.
pub fn content_security_policy(config: &Config) -> Result<String, BackendError> {
    let mut directives = default_directives();
    let set = |directives: &mut Vec<(String, Vec<String>)>, name: &str, values: Vec<String>| {
        match directives.iter_mut().find(|(n, _)| n == name) {
            Some((_, existing)) => *existing = values,
            None => directives.push((name.to_owned(), values)),
        }
    };
    set(
        &mut directives,
        "script-src",
        vec!["'self'".to_owned(), "'unsafe-eval'".to_owned()],
    );
    directives.retain(|(name, _)| name != "form-action");
    if let Some(csp) = config.get_optional_config("backend.csp")? {
        for key in csp.keys() {
            let name = kebab_case(&key);
            match csp.get(&key) {
                Some(Value::Bool(false)) => directives.retain(|(n, _)| *n != name),
                _ => {
                    let values = csp.get_optional_string_array(&key)?.unwrap_or_default();
                    set(&mut directives, &name, values);
                }
            }
        }
    }
    Ok(directives
        .iter()
        .map(|(name, values)| {
            if values.is_empty() {
                name.clone()
            } else {
                format!("{name} {}", values.join(" "))
            }
        })
        .collect::<Vec<_>>()
        .join(";"))
}

impl SecurityHeaders {
    /// helmet's defaults minus the cross-origin policies and origin-agent-cluster.
    pub fn from_config(config: &Config) -> Result<Self, BackendError> {
        let csp = content_security_policy(config)?;
        let csp = HeaderValue::from_str(&csp).map_err(|_| {
            BackendError::config(
                "Invalid value in config for key 'backend.csp': the policy is not a valid header value",
            )
        })?;
        let fixed = |name: &'static str, value: &'static str| {
            (
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            )
        };
        let headers = vec![
            (HeaderName::from_static("content-security-policy"), csp),
            fixed("referrer-policy", "no-referrer"),
            fixed(
                "strict-transport-security",
                "max-age=31536000; includeSubDomains",
            ),
            fixed("x-content-type-options", "nosniff"),
            fixed("x-dns-prefetch-control", "off"),
            fixed("x-download-options", "noopen"),
            fixed("x-frame-options", "SAMEORIGIN"),
            fixed("x-permitted-cross-domain-policies", "none"),
            fixed("x-xss-protection", "0"),
        ];
        Ok(Self {
            headers: Arc::new(headers),
        })
    }
}

/// Middleware: adds the security headers a response does not already carry.
pub async fn add_security_headers(
    State(headers): State<SecurityHeaders>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    for (name, value) in headers.headers.iter() {
        if !response.headers().contains_key(name) {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    response
}
