//! [`PageContext`]: what every page handler knows about the request it renders
//! (theme, path, query) and the frozen registry, as an axum extractor.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::registry::WebRegistry;

/// The cookie that carries the chosen theme.
pub const THEME_COOKIE: &str = "greenroom-theme";

/// The colour theme of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Theme {
    /// Follows the browser's `prefers-color-scheme`.
    Auto,
    Light,
    Dark,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Auto => "auto",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn parse(value: &str) -> Option<Theme> {
        match value {
            "auto" => Some(Theme::Auto),
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        }
    }
}

/// The request a page is rendered for.
#[derive(Debug, Clone)]
pub struct PageContext {
    pub theme: Theme,
    /// The request path, e.g. `/catalog`.
    pub path: String,
    /// The raw query string, without `?` (empty when there is none).
    pub raw_query: String,
    /// The query parameters; a repeated key keeps every value, in order.
    pub query: BTreeMap<String, Vec<String>>,
    pub registry: Arc<WebRegistry>,
}

impl PageContext {
    /// A context for rendering outside a request (tests, benchmarks).
    pub fn detached(path: &str, raw_query: &str, registry: Arc<WebRegistry>) -> PageContext {
        PageContext {
            theme: Theme::Auto,
            path: path.to_owned(),
            raw_query: raw_query.to_owned(),
            query: parse_query(raw_query),
            registry,
        }
    }

    /// The first value of query parameter `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .get(key)
            .and_then(|values| values.first())
            .map(String::as_str)
    }

    /// Every value of query parameter `key`.
    pub fn params(&self, key: &str) -> &[String] {
        self.query.get(key).map(Vec::as_slice).unwrap_or_default()
    }

    /// The current URL (path and query) with `key` set to `value` (or removed
    /// when `None`), keeping every other parameter: filters live in URLs so
    /// that pages can be shared.
    pub fn url_with(&self, key: &str, value: Option<&str>) -> String {
        self.url_with_all(&[(key, value)])
    }

    /// Like [`PageContext::url_with`] for several keys at once.
    pub fn url_with_all(&self, changes: &[(&str, Option<&str>)]) -> String {
        let mut query = self.query.clone();
        for (key, value) in changes {
            match value {
                Some(value) => {
                    query.insert((*key).to_owned(), vec![(*value).to_owned()]);
                }
                None => {
                    query.remove(*key);
                }
            }
        }
        let mut serializer = url::form_urlencoded::Serializer::new(String::new());
        for (key, values) in &query {
            for value in values {
                serializer.append_pair(key, value);
            }
        }
        let encoded = serializer.finish();
        if encoded.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{encoded}", self.path)
        }
    }
}

/// Parses an `application/x-www-form-urlencoded` query.
pub fn parse_query(raw: &str) -> BTreeMap<String, Vec<String>> {
    let mut query: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        query
            .entry(key.into_owned())
            .or_default()
            .push(value.into_owned());
    }
    query
}

/// The theme named by the request's cookie, if any.
fn theme_from_cookies(parts: &Parts) -> Theme {
    parts
        .headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == THEME_COOKIE)
        .and_then(|(_, value)| Theme::parse(value))
        .unwrap_or(Theme::Auto)
}

impl<S: Send + Sync> FromRequestParts<S> for PageContext {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let registry = parts
            .extensions
            .get::<Arc<WebRegistry>>()
            .cloned()
            .unwrap_or_default();
        let raw_query = parts.uri.query().unwrap_or_default().to_owned();
        Ok(PageContext {
            theme: theme_from_cookies(parts),
            path: parts.uri.path().to_owned(),
            query: parse_query(&raw_query),
            raw_query,
            registry,
        })
    }
}
