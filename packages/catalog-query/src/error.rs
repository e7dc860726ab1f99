//! Error types: indexing failures and query errors carrying Backstage's exact 400 messages.

/// Why an entity could not be added to the index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// Two search keys differ only in letter case (Backstage rejects such entities).
    #[error("Entity has duplicate keys that vary only in casing, {0}")]
    DuplicateKeys(String),
    /// The entity lacks a string `kind` or `metadata.name`.
    #[error("Entity has no kind or metadata.name")]
    MissingRef,
    /// The entity lacks a string `metadata.uid`.
    #[error("Entity has no metadata.uid")]
    MissingUid,
    /// The index ran out of internal ids.
    #[error("The catalog index is full")]
    Full,
}

/// A bad request parameter; the REST layer answers it as `InputError` (400) with [`QueryError::message`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    message: String,
}

impl QueryError {
    /// An error with exactly this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The Backstage-compatible message.
    pub fn message(&self) -> &str {
        &self.message
    }
}
