//! Integration tests for backend-cache.
