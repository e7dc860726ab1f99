//! Integration tests for backend-defaults.
