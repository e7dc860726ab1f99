//! Backstage's error vocabulary: every error a plugin returns has one of these names,
//! which decides its HTTP status and the `error.name` of the response body.

use std::fmt;

/// The error names Backstage's HTTP error handler knows, with their status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorName {
    NotModifiedError,
    InputError,
    AuthenticationError,
    NotAllowedError,
    NotFoundError,
    ConflictError,
    NotImplementedError,
    ServiceUnavailableError,
    /// Anything else: answered as 500 without echoing the internal message.
    Error,
}

impl ErrorName {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotModifiedError => "NotModifiedError",
            Self::InputError => "InputError",
            Self::AuthenticationError => "AuthenticationError",
            Self::NotAllowedError => "NotAllowedError",
            Self::NotFoundError => "NotFoundError",
            Self::ConflictError => "ConflictError",
            Self::NotImplementedError => "NotImplementedError",
            Self::ServiceUnavailableError => "ServiceUnavailableError",
            Self::Error => "Error",
        }
    }

    /// The HTTP status Backstage answers with for this name.
    pub fn status(self) -> u16 {
        match self {
            Self::NotModifiedError => 304,
            Self::InputError => 400,
            Self::AuthenticationError => 401,
            Self::NotAllowedError => 403,
            Self::NotFoundError => 404,
            Self::ConflictError => 409,
            Self::NotImplementedError => 501,
            Self::ServiceUnavailableError => 503,
            Self::Error => 500,
        }
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from a service, a plugin's init or a request handler.
///
/// It carries a Backstage error name and a message meant for the caller. Internal
/// errors (`ErrorName::Error`) keep their message for the log only: the HTTP layer
/// answers them with `An internal error occurred logId=<id>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct BackendError {
    pub name: ErrorName,
    pub message: String,
}

impl BackendError {
    pub fn new(name: ErrorName, message: impl Into<String>) -> Self {
        Self {
            name,
            message: message.into(),
        }
    }

    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorName::InputError, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorName::NotFoundError, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorName::ConflictError, message)
    }

    pub fn not_allowed(message: impl Into<String>) -> Self {
        Self::new(ErrorName::NotAllowedError, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorName::ServiceUnavailableError, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorName::Error, message)
    }

    /// A configuration problem found at start-up; the message names the key.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorName::InputError, message)
    }
}

impl From<greenroom_config::ConfigError> for BackendError {
    fn from(e: greenroom_config::ConfigError) -> Self {
        Self::config(e.to_string())
    }
}

impl From<sqlx::Error> for BackendError {
    fn from(e: sqlx::Error) -> Self {
        Self::internal(format!("database error: {e}"))
    }
}
