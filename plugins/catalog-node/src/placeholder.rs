//! Placeholder resolvers that modules add to the catalog (Backstage's
//! `CatalogProcessingExtensionPoint.addPlaceholderResolver`): a resolver named
//! `upper` handles `{ $upper: ... }` objects in entities; one named `text`,
//! `json` or `yaml` replaces the built-in resolver of that name.

use async_trait::async_trait;
use greenroom_catalog_model::location_ref::LocationRef;
use serde_json::Value;

/// Reads a placeholder target for a resolver, as the built-in `$text` does.
#[async_trait]
pub trait PlaceholderTargetReader: Send + Sync {
    /// Resolves `value` against the entity's location (an absolute URL, or a
    /// path relative to the entity's file that may not leave its location's
    /// root), reads it as text, and records it as a refresh key of the entity.
    /// The error is the cause, fit to follow "could not read ...".
    async fn read(&self, value: &str) -> Result<String, String>;
}

/// What a resolver receives for one placeholder.
pub struct PlaceholderResolverParams<'a> {
    /// The resolver name, without the `$`.
    pub key: &'a str,
    /// The placeholder's parameter, e.g. `./README.md` (not always a string).
    pub value: &'a Value,
    /// The entity's `backstage.io/managed-by-location`.
    pub base: &'a LocationRef,
    /// Reads targets relative to `base`, with the catalog's reading rules.
    pub reader: &'a dyn PlaceholderTargetReader,
}

impl std::fmt::Debug for PlaceholderResolverParams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlaceholderResolverParams")
            .field("key", &self.key)
            .field("value", &self.value)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Turns one placeholder into the value that replaces it.
#[async_trait]
pub trait PlaceholderResolver: Send + Sync {
    /// The replacement value; an error is the whole message reported for the
    /// entity (processing fails and the last good version stays served).
    async fn resolve(&self, params: PlaceholderResolverParams<'_>) -> Result<Value, String>;
}
