//! Error types: indexing failures, unreadable stored texts and query errors carrying
//! Backstage's exact 400 messages.

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

/// Why a stored entity text could not be read back.
///
/// The index only stores texts it compressed itself, so this means a bug or damaged memory;
/// readers answer it with an error rather than with a wrong or partial text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// The compressed block does not decompress to the recorded length.
    #[error("A stored entity text could not be decompressed: {0}")]
    Corrupt(String),
    /// The decompressed bytes are not UTF-8.
    #[error("A stored entity text is not UTF-8")]
    NotUtf8,
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
